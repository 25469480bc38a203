"""One video -> its (clips, width) features: decode, sample, normalise, run the backbone."""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Iterator

import numpy as np

from mgpn_keras.datasets.errors import DataError
from mgpn_keras.extract.backbone import Backbone
from mgpn_keras.extract.clips import cut_clips, resample
from mgpn_keras.extract.decoding import VideoReader
from mgpn_keras.extract.pixels import normalize_pixels
from mgpn_keras.extract.specs import DEFAULT_BATCH_SIZE, FeatureSpec



@dataclasses.dataclass
class VideoFeatures:
    """A video's features and what was read to make them."""

    features: np.ndarray  # (clips, width) float32
    duration: float  # seconds
    num_frames: int  # frames decoded
    native_fps: float | None  # the file's nominal frame rate


def video_features(path: str | os.PathLike, spec: FeatureSpec, backbone: Backbone, *,
                   batch_size: int = DEFAULT_BATCH_SIZE,
                   on_batch: Callable[[int], None] | None = None) -> VideoFeatures:
    """Extract one video's features.

    Args:
        path: the video file.
        spec: how frames are sampled and prepared (`load_spec`).
        backbone: `load_backbone(...)`.
        batch_size: clips per backbone call.
        on_batch: called with the number of clips after each backbone call (progress).

    Raises:
        VideoError: the file is unreadable, empty, has no video stream or zero duration.
        DataError: the backbone's output has the wrong shape or width, or is not finite.
    """
    [(_, result)] = videos_features([path], spec, backbone, batch_size=batch_size,
                                    on_batch=on_batch)
    if isinstance(result, Exception):
        raise result
    return result


class _Video:
    """A video on its way through `videos_features`: its reader and the features so far."""

    def __init__(self, path):
        self.path, self.reader, self.chunks = path, None, []
        self.clips = 0  # clips sent to the backbone
        self.error: Exception | None = None

    def result(self) -> VideoFeatures | Exception:
        if self.error is not None:
            return self.error
        reader = self.reader
        return VideoFeatures(np.concatenate(self.chunks, axis=0), float(reader.duration),
                             reader.num_frames, reader.native_fps)


def videos_features(paths, spec: FeatureSpec, backbone: Backbone, *,
                    batch_size: int = DEFAULT_BATCH_SIZE,
                    on_batch: Callable[[int], None] | None = None, decode_threads: int = 0
                    ) -> Iterator[tuple[str | os.PathLike, VideoFeatures | Exception]]:
    """Extract several videos' features, `batch_size` clips per backbone call whichever videos
    they come from: a video's last clips share a call with the next video's first, so short
    videos do not each pay a part-empty call.

    Videos are decoded one after the other (memory holds one batch of clips and the finished
    features of the videos in it). Yields, in the order of `paths`, (path, VideoFeatures) as
    soon as a video's last clip is through the backbone, or (path, the exception) for a video
    that cannot be used (`video_features`'s errors, or any other), and goes on with the next.
    A call that fails for a batch holding several videos is run again per video, so that only
    the video it fails for gets the error. `decode_threads`: the decoder's threads per video
    (0: FFmpeg's choice, a thread per core).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    batch: list[tuple[_Video, np.ndarray]] = []
    waiting: list[_Video] = []  # read to the end; some of their clips may be in `batch`

    def run_batch() -> None:
        videos = list(dict.fromkeys(video for video, _ in batch))  # in order, once each
        parts = [[clip for v, clip in batch if v is video] for video in videos]
        try:
            outs = _split(backbone(normalize_pixels(np.stack([c for _, c in batch]), spec)),
                          [len(part) for part in parts])
        except Exception as exc:
            if len(videos) == 1:
                outs = [exc]
            else:  # which video the call fails for
                outs = []
                for part in parts:
                    try:
                        outs.append(backbone(normalize_pixels(np.stack(part), spec)))
                    except Exception as one:
                        outs.append(one)
        for video, out in zip(videos, outs):
            if video.error is not None:
                continue
            try:
                if isinstance(out, Exception):
                    raise out
                _check(out, spec, backbone, video.path, video.clips)
            except Exception as exc:
                video.error, video.chunks = exc, []
                continue
            video.chunks.append(out)
            video.clips += len(out)
        if on_batch is not None:
            on_batch(len(batch))
        batch.clear()

    def finished() -> Iterator[tuple]:
        while waiting and not any(v is waiting[0] for v, _ in batch):
            video = waiting.pop(0)
            yield video.path, video.result()

    for path in paths:
        video = _Video(path)
        try:
            video.reader = reader = VideoReader(path, spec.frame_size, spec.resize,
                                                spec.short_side, decode_threads)
            duration = lambda: reader.duration  # noqa: E731  (known once the frames are read)
            frames = iter(reader)
            if spec.fps is not None:
                frames = resample(frames, spec.fps, duration)
            for clip in cut_clips(frames, spec, duration):
                if video.error is not None:
                    break  # the backbone failed for this video: read no further
                batch.append((video, clip))
                if len(batch) == batch_size:
                    run_batch()
                    yield from finished()
        except Exception as exc:  # this video only; the clips of earlier ones go on
            batch[:] = [(v, clip) for v, clip in batch if v is not video]
            if batch:
                run_batch()
            yield from finished()
            video.error = exc
        waiting.append(video)
        yield from finished()
    if batch:
        run_batch()
    yield from finished()


def _split(out: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """A batch's features cut back into its videos' parts."""
    return np.split(out, np.cumsum(sizes)[:-1])


def _check(out: np.ndarray, spec: FeatureSpec, backbone: Backbone, path, first_clip: int):
    if spec.feature_width is not None and out.shape[1] != spec.feature_width:
        raise DataError(f"backbone {backbone.name}: returns features of width {out.shape[1]}, "
                        f"spec {spec.name!r} expects {spec.feature_width}")
    finite = np.isfinite(out)
    if not finite.all():
        clip = first_clip + int(np.argwhere(~finite)[0][0])
        raise DataError(f"backbone {backbone.name}: a NaN or infinite feature for video "
                        f"{str(path)!r} (clip {clip})")
