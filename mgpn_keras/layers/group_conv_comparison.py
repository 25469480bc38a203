"""Choice comparison: grouped convolutions over the 2D map of candidates (Sec. 3.7)."""

import keras
from keras import ops

from mgpn_keras.layers.comparison_prologue import build_mix, enhance
from mgpn_keras.layers.group_conv2d import GroupConv2D
from mgpn_keras.layers.masking import map_mask_constant
from mgpn_keras.valid_cells.convolution import (cells_from_tile_layout, fold_batch_norm,
                                                tile_layout_from_cells, valid_cell_conv_relu)
from mgpn_keras.valid_cells.layout import check_layout
from mgpn_keras.valid_cells.plan import DEFAULT_TILE_ROWS, valid_cell_plan


@keras.saving.register_keras_serializable(package="mgpn_keras")
class GroupConvComparison(keras.layers.Layer):
    """Compare each candidate with its neighbours in the 2D map (the reference's `ConvModule`).

    z = [fused, boundary, content] * mask
    x = (ReLU(Conv1x1_{4C -> 2C}(z)) + fused) * mask
    then four blocks x = ReLU(BatchNorm(GroupConv_kxk(x))) * mask with channels
    2C -> 2C -> C -> C -> C.

    BatchNorm statistics in training cover every map cell, the invalid ones included,
    as in the reference (the mask is applied after BN and ReLU).

    In the "valid_cells" layout (inference only) the same weights are applied at the V
    valid cells: BatchNorm on its moving statistics is folded into each convolution; each
    k x k grouped convolution runs the direct grouped kernel on rectangles that cover the
    band of short moments, and a gather and matmul per group at the coarse cells
    (`mgpn_keras.valid_cells.convolution`). Its outputs equal the dense layout's at the valid cells;
    calling it with `training=True` raises.

    Args:
        hidden_size: C.
        num_clips, num_scale_layers: the map's geometry.
        groups: groups of each convolution (32 in the reference).
        kernel_size: side of each convolution (7 in the reference).
        synchronized_batch_norm: all-reduce BatchNorm statistics across replicas.
        layout: "dense" or "valid_cells" (see `mgpn_keras.valid_cells.layout`).
        tile_rows: valid-cell layout: rows of band cells per rectangle
            (`valid_cells.plan.DEFAULT_TILE_ROWS`, measured fastest).

    Input: `[fused, boundary, content]`, `(batch, N, N, 2C / C / C)` dense or
        `(batch, V, 2C / C / C)` at the valid cells.
    Output: `(batch, N, N, C)` dense, `(batch, V, C)` at the valid cells.
    """

    def __init__(self, hidden_size, num_clips, num_scale_layers, groups=32, kernel_size=7,
                 synchronized_batch_norm=False, layout="dense", tile_rows=DEFAULT_TILE_ROWS,
                 **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
        self.groups = int(groups)
        self.kernel_size = int(kernel_size)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self.layout = check_layout(layout)
        self.tile_rows = int(tile_rows)
        if self.tile_rows < 1:
            raise ValueError(f"GroupConvComparison {self.name}: tile_rows = {tile_rows}; "
                             "expected a positive number of rows")
        self._mask = map_mask_constant(self.num_clips, self.num_scale_layers)
        if self.layout == "valid_cells":
            self._plan = valid_cell_plan(self.num_clips, self.num_scale_layers, self.kernel_size,
                                         self.tile_rows)

    def build(self, input_shape):
        # Weights are built for the dense map in both layouts: the same shapes and names.
        c = self.hidden_size
        n = self.num_clips
        self.mix = build_mix(self, c, n)
        self.convs, self.norms = [], []
        widths = [2 * c, 2 * c, c, c, c]
        for k in range(4):
            conv = GroupConv2D(widths[k + 1], self.kernel_size, self.groups, name=f"conv_{k + 1}",
                               dtype=self.dtype_policy)
            conv.build((None, n, n, widths[k]))
            norm = keras.layers.BatchNormalization(
                epsilon=1e-5, momentum=0.9, synchronized=self.synchronized_batch_norm,
                name=f"norm_{k + 1}", dtype=self.dtype_policy)
            norm.build((None, n, n, widths[k + 1]))
            self.convs.append(conv)
            self.norms.append(norm)

    def call(self, inputs, training=None):
        if self.layout == "valid_cells":
            return self._call_valid_cells(inputs, training)
        mask = ops.cast(self._mask, inputs[0].dtype)
        x = enhance(self.mix, inputs, mask)  # (B, N, N, 2C)
        for conv, norm in zip(self.convs, self.norms):
            x = ops.relu(norm(conv(x), training=training)) * mask
        return x  # (B, N, N, C)

    def _call_valid_cells(self, inputs, training):
        if training:
            raise ValueError(f"{type(self).__name__} {self.name}: the 'valid_cells' layout computes "
                             "inference only (BatchNorm on moving statistics); train the 'dense' "
                             "layout of mgpn_keras.model.build_mgpn")
        x = enhance(self.mix, inputs)  # (B, V, 2C): every cell valid, no mask
        x = tile_layout_from_cells(x, self._plan)  # (B, tile layout rows, 2C)
        for conv, norm in zip(self.convs, self.norms):
            kernel, shift = fold_batch_norm(conv, norm, x.dtype)
            x = valid_cell_conv_relu(x, kernel, shift, self._plan, self.groups)
        return cells_from_tile_layout(x, self._plan)  # (B, V, C)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_clips=self.num_clips,
                      num_scale_layers=self.num_scale_layers, groups=self.groups,
                      kernel_size=self.kernel_size,
                      synchronized_batch_norm=self.synchronized_batch_norm,
                      layout=self.layout, tile_rows=self.tile_rows)
        return config
