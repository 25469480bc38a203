"""From timed frames to clips: resampling to the spec's frame rate and cutting clips.

Both steps stream: memory holds one clip's frames (frames_per_clip of them, or the stride),
however long the video, and a frame is resized (`Frame.image()`) only if a clip takes it. Times follow the frame that is on screen: at time t that is the last
frame whose timestamp is <= t, which is what a player shows and what keeps a variable-frame-rate
file's timing.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Iterator

import numpy as np

from mgpn_keras.extract.decoding import Frame
from mgpn_keras.extract.specs import FeatureSpec

# Timestamps are rationals turned into floats: a frame at 1/3 s must count as at 1/3 s.
_EPS = 1e-6


def resample(frames: Iterable[tuple[float, Frame]], fps: float,
             duration: Callable[[], float]) -> Iterator[tuple[float, Frame]]:
    """The frame on screen at each k / fps, k = 0 .. ceil(duration * fps) - 1.

    Args:
        frames: (time_s, frame) in increasing time, the first at 0.
        fps: the rate to sample at.
        duration: called after `frames` is exhausted; the video's length in seconds.
    """
    k, shown = 0, None
    for t, frame in frames:
        while shown is not None and k / fps < t - _EPS:
            yield k / fps, shown
            k += 1
        shown = frame
    if shown is None:
        return
    end = duration()
    while k / fps < end - _EPS:
        yield k / fps, shown
        k += 1


def cut_clips(frames: Iterable[tuple[float, Frame]], spec: FeatureSpec,
              duration: Callable[[], float]) -> Iterator[np.ndarray]:
    """Clips of `spec.frames_per_clip` frames, one per stride position inside the video.

    With `stride_frames` s, clips start at frames 0, s, 2s, ...; with `stride_seconds` S, at the
    frames on screen at 0, S, 2S, ... < duration. A clip running past the last frame repeats it.

    Yields:
        uint8 (frames_per_clip, height, width, 3) arrays, in start order.
    """
    size = spec.frames_per_clip
    pending: list[list[np.ndarray]] = []  # clips started and not yet full, oldest first
    starts = 0

    def step(frame, index: int, next_time: float) -> Iterator[np.ndarray]:
        nonlocal starts
        if spec.stride_frames is not None:
            new = 1 if index % spec.stride_frames == 0 else 0
        else:  # clips whose start time falls while this frame is on screen
            new = 0
            while (starts + new) * spec.stride_seconds < next_time - _EPS:
                new += 1
        starts += new
        pending.extend([] for _ in range(new))
        if pending:
            image = frame.image()
            for clip in pending:
                clip.append(image)
        while pending and len(pending[0]) == size:
            yield np.stack(pending.pop(0))

    previous, index = None, -1
    for t, frame in frames:
        if previous is not None:
            yield from step(previous, index, t)
        previous, index = frame, index + 1
    if previous is None:
        return
    yield from step(previous, index, duration())
    for clip in pending:  # past the end: repeat the last frame
        clip.extend([previous.image()] * (size - len(clip)))
        yield np.stack(clip)


def expected_clip_count(spec: FeatureSpec, duration: float, num_frames: int | None = None) -> int:
    """How many clips `cut_clips` gives for a video (num_frames: decoded, when fps is None)."""
    if spec.stride_seconds is not None:
        return max(1, math.ceil(duration / spec.stride_seconds - _EPS))
    frames = math.ceil(duration * spec.fps - _EPS) if spec.fps is not None else num_frames
    return max(1, math.ceil(frames / spec.stride_frames))
