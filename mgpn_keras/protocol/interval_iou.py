"""IoU of temporal intervals, the reference's `core.eval.iou`: intersection over the hull."""

from __future__ import annotations

import tensorflow as tf


def interval_iou(a, b) -> tf.Tensor:
    """IoU of [start, end] intervals, broadcasting, in float64.

    The package's one interval IoU (the evaluation, `mgpn predict`'s table and the tests use
    it). The union is the hull `max(ends) - min(starts)`, so disjoint intervals give 0.
    NaN rule: two zero-length intervals at the same point give NaN (0 / 0), as in the
    reference; it is kept, not replaced by 0, so that `NaN > t` counts no hit and a mean
    over such a query shows it.

    Args:
        a: (..., 2) [start, end] intervals.
        b: (..., 2) intervals, broadcastable against `a`; for all pairs of (K, 2) and (M, 2)
            pass a[:, None] and b[None].

    Returns:
        (...) float64 IoU.
    """
    a = tf.cast(a, tf.float64)
    b = tf.cast(b, tf.float64)
    if a.shape[-1] != 2 or b.shape[-1] != 2:
        raise ValueError(f"interval_iou expects intervals of shape (..., 2), got {a.shape} and "
                         f"{b.shape}")
    zero = tf.constant(0.0, tf.float64)
    inter = tf.maximum(zero, tf.minimum(a[..., 1], b[..., 1]) - tf.maximum(a[..., 0], b[..., 0]))
    union = tf.maximum(zero, tf.maximum(a[..., 1], b[..., 1]) - tf.minimum(a[..., 0], b[..., 0]))
    return inter / union
