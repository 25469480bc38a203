"""The 2D moment map: boundary and content features of every candidate (Sec. 3.4)."""

import keras
from keras import ops

from mgpn_keras.valid_cells.geometry import range_max_tables, valid_cells
from mgpn_keras.valid_cells.layout import check_layout
from mgpn_keras.valid_cells.scatter import scatter_to_map


@keras.saving.register_keras_serializable(package="mgpn_keras")
class MomentMap2D(keras.layers.Layer):
    """Boundary and content features of the candidate moments (the reference's
    `SparseBoundaryContent`).

    For a valid cell (i, j): boundary = (x_i + x_j) / 2 (x_i on the diagonal) and
    content = max over clips t in [i, j] of x_t, per channel. Both are exactly zero on
    every other cell. Computed with gathers only (see `valid_cells.geometry.range_max_tables`).

    Args:
        num_clips: N.
        num_scale_layers: the reference's NUM_SCALE_LAYERS, which set the valid cells.
        layout: "dense" for `(batch, N, N, C)` maps, "valid_cells" for the `(batch, V, C)`
            values at the V valid cells (see `mgpn_keras.valid_cells.layout`).

    Input: clip features `(batch, N, C)`.
    Output: `[boundary, content]`, each `(batch, N, N, C)` (or `(batch, V, C)`).
    """

    def __init__(self, num_clips, num_scale_layers, layout="dense", **kwargs):
        super().__init__(**kwargs)
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
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
