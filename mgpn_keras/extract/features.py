"""One video -> its (clips, width) features: decode, sample, normalise, run the backbone."""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np

from mgpn_keras.datasets.errors import DataError
from mgpn_keras.extract.backbone import Backbone
from mgpn_keras.extract.clips import cut_clips, resample
from mgpn_keras.extract.decoding import VideoReader
from mgpn_keras.extract.pixels import normalize_pixels
from mgpn_keras.extract.specs import FeatureSpec

DEFAULT_BATCH_SIZE = 16


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
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    reader = VideoReader(path, spec.frame_size, spec.resize, spec.short_side)
    duration = lambda: reader.duration  # noqa: E731  (known once the frames are read)
    frames = iter(reader)
    if spec.fps is not None:
        frames = resample(frames, spec.fps, duration)
    chunks, batch = [], []

    def run_batch():
        out = backbone(normalize_pixels(np.stack(batch), spec))
        _check(out, spec, backbone, path, sum(len(c) for c in chunks))
        chunks.append(out)
        if on_batch is not None:
            on_batch(len(batch))
        batch.clear()

    for clip in cut_clips(frames, spec, duration):
        batch.append(clip)
        if len(batch) == batch_size:
            run_batch()
    if batch:
        run_batch()
    features = np.concatenate(chunks, axis=0)
    return VideoFeatures(features, float(reader.duration), reader.num_frames, reader.native_fps)


def _check(out: np.ndarray, spec: FeatureSpec, backbone: Backbone, path, first_clip: int):
    if spec.feature_width is not None and out.shape[1] != spec.feature_width:
        raise DataError(f"backbone {backbone.name}: returns features of width {out.shape[1]}, "
                        f"spec {spec.name!r} expects {spec.feature_width}")
    finite = np.isfinite(out)
    if not finite.all():
        clip = first_clip + int(np.argwhere(~finite)[0][0])
        raise DataError(f"backbone {backbone.name}: a NaN or infinite feature for video "
                        f"{str(path)!r} (clip {clip})")
