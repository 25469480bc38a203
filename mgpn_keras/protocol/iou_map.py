"""The training target (Sec. 3.9, REFERENCE.md 5.7): IoU of every 2D-map cell with the truth.

As the reference's data sets compute `map_gt`: cell (i, j) spans [i * d / N, (j + 1) * d / N]
with the cell times in float32 (`torch.arange(...).float() * duration / num_clips`), the ground
truth rounded to float32, the IoU (`interval_iou`, inter / hull) in float64, stored as float32.
Cells with i > j are 0.
"""

from __future__ import annotations

import tensorflow as tf

from mgpn_keras.protocol.interval_iou import interval_iou


def iou_map(times, duration, num_clips: int) -> tf.Tensor:
    """IoU of cell (i, j) with the ground truth, for one query or a batch.

    Args:
        times: (..., 2) [start, end] seconds.
        duration: (...) video duration in seconds.
        num_clips: N, the side of the map.

    Returns:
        (..., N, N) float32; row i is the start clip, column j the end clip; 0 where i > j.
    """
    times = tf.cast(times, tf.float32)
    duration = tf.cast(duration, tf.float32)
    known = times.shape.is_fully_defined() and duration.shape.is_fully_defined()
    if times.shape[-1] != 2 or (known and duration.shape.rank > 0
                                and times.shape[:-1] != duration.shape):
        raise ValueError(f"iou_map: times have shape {times.shape}, expected (..., 2) [start, "
                         f"end] seconds; duration has shape {duration.shape}, expected a "
                         f"scalar or {times.shape[:-1]} (one per query)")
    duration = tf.broadcast_to(duration, tf.shape(times)[:-1])[..., None, None]  # (..., 1, 1)
    idx = tf.range(num_clips, dtype=tf.float32)
    starts = idx[:, None] * duration / num_clips  # (..., N, 1)
    ends = (idx + 1.0)[None, :] * duration / num_clips  # (..., 1, N)
    cells = tf.stack([starts + tf.zeros_like(ends), ends + tf.zeros_like(starts)], axis=-1)
    overlap = interval_iou(cells, times[..., None, None, :])  # (..., N, N)
    upper = tf.linalg.band_part(tf.ones([num_clips, num_clips], tf.float64), 0, -1)
    return tf.cast(overlap * upper, tf.float32)
