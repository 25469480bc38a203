"""The 2D moment map: boundary and content features of every candidate (Sec. 3.4)."""

import keras
import numpy as np
from keras import ops

from mgpn_keras.geometry import valid_cells
from mgpn_keras.layout import check_layout


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


def dense_scatter_index(num_clips: int, num_scale_layers) -> np.ndarray:
    """For each of the N * N cells, its position in the valid-cell list, or V if invalid."""
    start, end = valid_cells(num_clips, num_scale_layers)
    index = np.full(num_clips * num_clips, len(start), np.int32)
    index[start * num_clips + end] = np.arange(len(start), dtype=np.int32)
    return index


def scatter_to_map(values, num_clips: int, num_scale_layers):
    """(B, V, C) values at the valid cells -> (B, N, N, C) map, zero elsewhere."""
    index = dense_scatter_index(num_clips, num_scale_layers)
    padded = ops.pad(values, [[0, 0], [0, 1], [0, 0]])  # a zero row for the invalid cells
    dense = ops.take(padded, index, axis=1)
    return ops.reshape(dense, (-1, num_clips, num_clips, ops.shape(values)[-1]))


def gather_valid(moment_map, num_clips: int, num_scale_layers):
    """(B, N, N, C) map -> (B, V, C) values at the valid cells."""
    start, end = valid_cells(num_clips, num_scale_layers)
    flat = ops.reshape(moment_map, (-1, num_clips * num_clips, ops.shape(moment_map)[-1]))
    return ops.take(flat, start * num_clips + end, axis=1)


@keras.saving.register_keras_serializable(package="mgpn_keras")
class MomentMap2D(keras.layers.Layer):
    """Boundary and content features of the candidate moments (the reference's
    `SparseBoundaryContent`).

    For a valid cell (i, j): boundary = (x_i + x_j) / 2 (x_i on the diagonal) and
    content = max over clips t in [i, j] of x_t, per channel. Both are exactly zero on
    every other cell. Computed with gathers only (see `range_max_tables`).

    Args:
        num_clips: N.
        num_scale_layers: the reference's NUM_SCALE_LAYERS, which set the valid cells.
        layout: "dense" for `(batch, N, N, C)` maps, "valid_cells" for the `(batch, V, C)`
            values at the V valid cells (see `mgpn_keras.layout`).
        sparse: deprecated; `sparse=True` is `layout="valid_cells"`.

    Input: clip features `(batch, N, C)`.
    Output: `[boundary, content]`, each `(batch, N, N, C)` (or `(batch, V, C)`).
    """

    def __init__(self, num_clips, num_scale_layers, layout="dense", sparse=None, **kwargs):
        super().__init__(**kwargs)
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
        if sparse:  # configs saved before the layouts had names
            layout = "valid_cells"
        self.layout = check_layout(layout)
        self._levels, self._left, self._right = range_max_tables(self.num_clips, self.num_scale_layers)
        self._start, self._end = valid_cells(self.num_clips, self.num_scale_layers)

    def call(self, x):
        # Sparse table: level k = max over windows of 2**k clips (shorter at the end,
        # where no valid cell reads them).
        levels = [x]
        for k in range(1, self._levels):
            previous = levels[-1]
            shift = 1 << (k - 1)
            shifted = ops.concatenate([previous[:, shift:], previous[:, -shift:]], axis=1)
            levels.append(ops.maximum(previous, shifted))
        table = ops.concatenate(levels, axis=1)  # (B, levels * N, C)
        content = ops.maximum(ops.take(table, self._left, axis=1), ops.take(table, self._right, axis=1))
        boundary = (ops.take(x, self._start, axis=1) + ops.take(x, self._end, axis=1)) / 2.0
        if self.layout == "valid_cells":
            return boundary, content  # (B, V, C) each
        return (
            scatter_to_map(boundary, self.num_clips, self.num_scale_layers),
            scatter_to_map(content, self.num_clips, self.num_scale_layers),
        )

    def compute_output_shape(self, input_shape):
        if self.layout == "valid_cells":
            shape = (input_shape[0], len(self._start), input_shape[-1])
        else:
            shape = (input_shape[0], self.num_clips, self.num_clips, input_shape[-1])
        return shape, shape

    def get_config(self):
        config = super().get_config()
        config.update(num_clips=self.num_clips, num_scale_layers=self.num_scale_layers, layout=self.layout)
        return config
