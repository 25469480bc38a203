"""Pixel normalisation: uint8 RGB clips -> the float32 input a backbone was trained on."""

from __future__ import annotations

import numpy as np

from mgpn_keras.extract.specs import FeatureSpec

_RANGES = {"0_255": (1.0, 0.0), "0_1": (1.0 / 255.0, 0.0), "-1_1": (2.0 / 255.0, -1.0)}


def normalize_pixels(clips: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """(..., 3) uint8 RGB -> float32 in the spec's channel order, range, mean and std."""
    x = clips[..., ::-1] if spec.channel_order == "bgr" else clips
    scale, offset = _RANGES[spec.pixel_range]
    x = x.astype(np.float32) * np.float32(scale) + np.float32(offset)
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)
    return (x - mean) / std
