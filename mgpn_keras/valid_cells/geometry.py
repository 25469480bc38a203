"""Geometry of the sparse 2D moment map (paper Sec. 3.4, REFERENCE.md 5.5).

Cell (i, j) of the N x N map is the moment that starts at clip i and ends after clip j.
Only the cells listed by `valid_cells` are candidates; all others are zero in every map.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=None)
def _valid_cells(num_clips: int, num_scale_layers: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    starts, ends = [np.arange(num_clips)], [np.arange(num_clips)]  # the diagonal
    stride, offset = 1, 0
    for count in num_scale_layers:
        for _ in range(count):
            offset += stride
            i = np.arange(0, num_clips - offset, stride)
            starts.append(i)
            ends.append(i + offset)
        stride *= 2
    start, end = np.concatenate(starts), np.concatenate(ends)
    order = np.lexsort((end, start))  # row-major order of the flat index i * N + j
    start, end = start[order].astype(np.int32), end[order].astype(np.int32)
    start.setflags(write=False)
    end.setflags(write=False)
    return start, end


def valid_cells(num_clips: int, num_scale_layers) -> tuple[np.ndarray, np.ndarray]:
    """Start and end clip indices of the candidate cells, in row-major order.

    Returns:
        (start, end): two read-only int32 arrays of length V (428 for Charades I3D).
    """
    return _valid_cells(int(num_clips), tuple(int(c) for c in num_scale_layers))


def valid_mask(num_clips: int, num_scale_layers) -> np.ndarray:
    """The (N, N) float32 mask: 1 on candidate cells, 0 elsewhere."""
    start, end = valid_cells(num_clips, num_scale_layers)
    mask = np.zeros((num_clips, num_clips), np.float32)
    mask[start, end] = 1.0
    return mask


def cell_times(num_clips: int, duration) -> tuple[np.ndarray, np.ndarray]:
    """Start and end seconds of every cell: s_i = i * d / N, e_j = (j + 1) * d / N."""
    idx = np.arange(num_clips, dtype=np.float64)
    duration = np.asarray(duration, np.float64)[..., None]
    return idx * duration / num_clips, (idx + 1) * duration / num_clips
