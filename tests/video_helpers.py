"""Small video files and backbones made in the tests (no weights or videos are shipped)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def level(index: int) -> int:
    """The grey level of frame `index`'s top half: tells which frame a sample came from."""
    return 16 + (index * 10) % 224


def pattern(index: int, height: int, width: int) -> np.ndarray:
    """Frame `index` of a moving pattern: a uniform grey top half at `level(index)` over a
    colour gradient with a white bar sweeping right."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)),
                      np.full_like(x, 128)], axis=-1).astype(np.uint8)
    left = (index * 3) % width
    frame[:, left:left + max(width // 8, 1)] = 255
    frame[: height // 2] = level(index)
    return frame


def write_video(path: str | Path, fps: float | Fraction, num_frames: int,
                size: tuple[int, int] = (48, 64), times: list[float] | None = None,
                codec: str = "mpeg4") -> Path:
    """Encode `num_frames` frames of `pattern` at `fps` (height, width = size) with PyAV.

    `times` (seconds, increasing) gives each frame its own timestamp: a variable-frame-rate
    file, written with a millisecond time base (mkv keeps the timestamps as given).
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
    height, width = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if times is not None:  # frame timestamps in milliseconds, in the encoder and the file
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(pattern(i, height, width), format="rgb24")
            if times is not None:
                frame.pts = int(round(times[i] * 1000))
                frame.time_base = stream.time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def clip_backbone(frames: int, size: tuple[int, int], width: int = 12, seed: int = 0):
    """A tiny Keras backbone: (batch, frames, h, w, 3) -> (batch, width), deterministic."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((frames, *size, 3))
    x = keras.layers.Conv3D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling3D()(x)
    return keras.Model(inputs, keras.layers.Dense(width)(x))


def frame_backbone(size: tuple[int, int], width: int = 12, seed: int = 0):
    """A tiny per-frame Keras backbone: (batch, h, w, 3) -> (batch, width)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((*size, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(width)(x))


def write_spec(path: str | Path, **values) -> Path:
    """A user's spec file (JSON)."""
    import json

    path = Path(path)
    path.write_text(json.dumps(values))
    return path
