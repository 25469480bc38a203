"""The training target: IoU of every cell of the 2D map with the ground truth (Sec. 3.9).

NumPy, as the reference's data sets compute it (`lib/datasets/charades.py`, REFERENCE.md 5.7):
cell (i, j) spans `[s_i, e_j]` with `s_i = i * duration / N` and `e_j = (j + 1) * duration / N`
computed in float32 (the reference's `torch.arange(...).float() * duration / num_clips`), the
ground truth is rounded to float32 too (`torch.tensor([gt_s, gt_e])`), and the IoU itself
(`mgpn_keras.metrics.iou`, inter / hull) is taken in float64, then stored as float32 (the
reference's batch collation). Cells with i > j are 0.
"""

from __future__ import annotations

import numpy as np

from mgpn_keras.metrics import iou


def iou_map_numpy(times, duration, num_clips: int) -> np.ndarray:
    """IoU of every cell with the ground-truth moment, the reference's `map_gt`.

    Args:
        times: (2,) [start, end] seconds of one query, or (B, 2) for a batch.
        duration: the video duration in seconds: a scalar, or (B,) with batched `times`.
        num_clips: N, the side of the map.

    Returns:
        (N, N) float32 map for one query, or (B, N, N) for a batch; row i is the start clip,
        column j the end clip; 0 where i > j.
    """
    gt = np.asarray(times, np.float64)
    if gt.shape[-1:] != (2,) or gt.ndim > 2:
        raise ValueError(f"times have shape {gt.shape}, expected (2,) or (batch, 2) "
                         f"[start, end] seconds")
    dur = np.asarray(duration, np.float64)
    if dur.ndim > 1 or (dur.ndim == 1 and (gt.ndim != 2 or dur.shape[0] != gt.shape[0])):
        raise ValueError(f"duration has shape {dur.shape}, expected a scalar or "
                         f"({gt.shape[0] if gt.ndim == 2 else 1},) matching times {gt.shape}")
    dur32 = np.broadcast_to(dur.astype(np.float32), gt.shape[:-1])[..., None]  # (..., 1)
    n32 = np.float32(num_clips)
    starts = np.arange(num_clips, dtype=np.float32) * dur32 / n32  # (..., N), float32 as torch
    ends = np.arange(1, num_clips + 1, dtype=np.float32) * dur32 / n32
    cells = np.stack(np.broadcast_arrays(starts[..., :, None], ends[..., None, :]), axis=-1)
    gt32 = gt.astype(np.float32).astype(np.float64)[..., None, None, :]  # (..., 1, 1, 2)
    overlap = iou(cells.astype(np.float64), gt32)  # (..., N, N)
    upper = np.triu(np.ones((num_clips, num_clips), bool))
    return np.where(upper, overlap, 0.0).astype(np.float32)
