"""Geometry of the sparse 2D moment map (paper Sec. 3.4, REFERENCE.md 5.5).

Cell (i, j) of the N x N map is the moment that starts at clip i and ends after clip j.
Only the cells listed by `valid_cells` are candidates; all others are zero in every map.
`cell_positions` is the one table from map cells to positions in that list.
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


@functools.lru_cache(maxsize=None)
def _cell_positions(num_clips: int, num_scale_layers: tuple[int, ...]) -> np.ndarray:
    start, end = _valid_cells(num_clips, num_scale_layers)
    position = np.full((num_clips, num_clips), len(start), np.int32)
    position[start, end] = np.arange(len(start), dtype=np.int32)
    position.setflags(write=False)
    return position


def cell_positions(num_clips: int, num_scale_layers) -> np.ndarray:
    """Each map cell's position in the `valid_cells` list, or V where it is not a candidate.

    Returns:
        a read-only int32 array `(N, N)`.
    """
    return _cell_positions(int(num_clips), tuple(int(c) for c in num_scale_layers))


def range_max_tables(num_clips: int, num_scale_layers):
    """Index tables for the max over clips [i, j] of every valid cell via a sparse table.

    Level k of the table holds max(x[t : t + 2**k]). The range [i, j] of length n is
    covered by the two windows of level k = floor(log2(n)) that start at i and at
    j - 2**k + 1, so content = max(level_k[i], level_k[j - 2**k + 1]): exact, no loop over
    cells.

    Returns:
        (levels, left, right): the number of levels and, per valid cell, the flat index
        `k * N + position` of its two windows.
    """
    start, end = valid_cells(num_clips, num_scale_layers)
    length = end - start + 1
    level = np.floor(np.log2(length)).astype(np.int32)
    width = (1 << level).astype(np.int32)
    levels = int(level.max()) + 1
    left = level * num_clips + start
    right = level * num_clips + (end - width + 1)
    return levels, left.astype(np.int32), right.astype(np.int32)


def valid_mask(num_clips: int, num_scale_layers) -> np.ndarray:
    """The (N, N) float32 mask: 1 on candidate cells, 0 elsewhere."""
    positions = cell_positions(num_clips, num_scale_layers)
    return (positions < len(valid_cells(num_clips, num_scale_layers)[0])).astype(np.float32)


def cell_times(num_clips: int, duration) -> tuple[np.ndarray, np.ndarray]:
    """Start and end seconds of every cell: s_i = i * d / N, e_j = (j + 1) * d / N."""
    idx = np.arange(num_clips, dtype=np.float64)
    duration = np.asarray(duration, np.float64)[..., None]
    return idx * duration / num_clips, (idx + 1) * duration / num_clips
