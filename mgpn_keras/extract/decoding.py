"""Decoding a video file with PyAV into timed, resized RGB frames.

PyAV's wheels carry FFmpeg, so no system package is needed. Frames come out in presentation
order with their time in seconds from the first frame (`pts * time_base`, which keeps a
variable-frame-rate file's real timing) as `Frame`s that FFmpeg's scaler resizes to what the spec
asks for only when a clip uses them (resampling 30 fps to 8 skips most). The duration is known
once the last frame is decoded: the last frame's time plus how long it is shown.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from mgpn_keras.datasets.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv",
                  ".wmv", ".3gp", ".ts", ".ogv")


class VideoError(DataError):
    """A video file that cannot be used: unreadable, empty, no video stream, zero duration."""


def video_id(path: str | os.PathLike) -> str:
    """The id a video's features are stored under: its file name without the extension."""
    return Path(path).stem


class Frame:
    """A decoded frame, resized and converted to RGB once, when `image()` is first called."""

    __slots__ = ("_decoded", "_reader", "_image")

    def __init__(self, decoded, reader: "VideoReader"):
        self._decoded, self._reader, self._image = decoded, reader, None

    def image(self) -> np.ndarray:
        """uint8 (height, width, 3) RGB at the reader's frame size."""
        if self._image is None:
            self._image = self._reader.convert(self._decoded)
            self._decoded = None  # the decoder's buffer is no longer needed
        return self._image


class VideoReader:
    """Iterate over a video's frames as (time_s, `Frame`).

    After the iteration `duration` holds the video's length in seconds and `num_frames` the
    frames decoded.

    Args:
        path: the video file.
        frame_size: (height, width) of the frames produced.
        resize: "stretch" or "short_side_center_crop" (see `FeatureSpec`).
        short_side: the short side before the centre crop.
    """

    def __init__(self, path: str | os.PathLike, frame_size: tuple[int, int],
                 resize: str = "stretch", short_side: int | None = None,
                 decode_threads: int = 0):
        self.path = Path(path)
        self.decode_threads = decode_threads  # 0: FFmpeg's choice (a thread per core)
        self.frame_size = tuple(frame_size)
        self.resize = resize
        self.short_side = short_side
        self.duration: float | None = None
        self.num_frames = 0
        self.native_fps: float | None = None

    def _fail(self, what: str) -> VideoError:
        return VideoError(f"video {str(self.path)!r}: {what}")

    def _open(self):
        try:
            import av
        except ImportError:
            raise ImportError("decoding videos needs PyAV: pip install av") from None
        if not self.path.is_file():
            raise FileNotFoundError(f"video {str(self.path)!r} does not exist")
        if self.path.stat().st_size == 0:
            raise self._fail("the file is empty (0 bytes), expected a video")
        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, UnicodeDecodeError) as exc:
            raise self._fail(f"cannot be read as a video ({_first_line(exc)})") from None
        if not container.streams.video:
            container.close()
            raise self._fail("has no video stream")
        return av, container

    def _target_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) to scale to before any crop."""
        out_h, out_w = self.frame_size
        if self.resize == "stretch":
            return out_w, out_h
        scale = self.short_side / min(width, height)
        return max(out_w, round(width * scale)), max(out_h, round(height * scale))

    def convert(self, frame) -> np.ndarray:
        """A decoded PyAV frame -> uint8 (height, width, 3) RGB at `frame_size`."""
        w, h = self._target_size(frame.width, frame.height)
        # threads=1: PyAV's default (0) lets swscale start a thread pool for every frame; on
        # a 48x64 -> 27x20 conversion that took 7x the time of one thread (1.5 s against
        # 0.21 s for a 120 s video, 14 context switches a frame), with the same pixels.
        image = frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="BILINEAR",
                                 threads=1)
        return _center_crop(image, self.frame_size)

    def __iter__(self) -> Iterator[tuple[float, "Frame"]]:
        av, container = self._open()
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame-threaded decoding: same frames, faster
            if self.decode_threads:
                # A process that shares the cores with others (a local Beam worker) keeps to
                # its share: FFmpeg's default starts a thread per core in every process.
                stream.thread_count = self.decode_threads
            base = stream.time_base
            rate = stream.average_rate or stream.guessed_rate
            self.native_fps = float(rate) if rate else None
            first = last = None
            last_shown = None
            try:
                for index, frame in enumerate(container.decode(stream)):
                    if frame.pts is not None and base is not None:
                        t = float(frame.pts * base)
                    else:  # no timestamps: assume the nominal rate
                        t = index / (self.native_fps or 25.0)
                    if first is None:
                        first = t
                    t -= first
                    if last is not None and t <= last:
                        continue  # a repeated or out-of-order timestamp: keep the first frame
                    shown = float(frame.duration * base) if frame.duration and base else None
                    last, last_shown = t, shown
                    self.num_frames += 1
                    yield t, Frame(frame, self)
            except av.FFmpegError as exc:
                raise self._fail(f"cannot be decoded after {self.num_frames} frames "
                                 f"({_first_line(exc)})") from None
            if self.num_frames == 0:
                raise self._fail("has no video frames (zero duration)")
            if last_shown is None:
                last_shown = 1.0 / self.native_fps if self.native_fps else 0.0
            self.duration = last + last_shown
            if not self.duration > 0:
                raise self._fail(f"has zero duration ({self.num_frames} frame at time 0 and "
                                 f"no frame rate)")


def _center_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    if top == 0 and left == 0 and image.shape[:2] == (h, w):
        return image
    return np.ascontiguousarray(image[top:top + h, left:left + w])


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def find_videos(folder: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """Video files directly in `folder` (by suffix, sorted) and the other files there.

    Raises:
        FileNotFoundError: the folder does not exist.
        DataError: two videos would write the same `<video>.npy` (e.g. a.mp4 and a.avi).
    """
    folder = Path(folder)
    if folder.is_file():
        return [folder], []
    if not folder.is_dir():
        raise FileNotFoundError(f"videos folder {str(folder)!r} does not exist")
    videos, others = [], []
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            (videos if path.suffix.lower() in VIDEO_SUFFIXES else others).append(path)
    seen: dict[str, Path] = {}
    for path in videos:
        if video_id(path) in seen:
            raise DataError(f"videos {seen[video_id(path)].name!r} and {path.name!r} in {folder} "
                            f"would both be written as {video_id(path)}.npy; rename one")
        seen[video_id(path)] = path
    return videos, others
