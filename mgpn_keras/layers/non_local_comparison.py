"""Choice comparison with non-local blocks over the valid candidates (paper Sec. 4.5.4, Fig. 5 "NL")."""

import keras
from keras import ops

from mgpn_keras.layers import initializers
from mgpn_keras.layers.comparison_prologue import build_mix, enhance
from mgpn_keras.layers.masking import map_mask_constant
from mgpn_keras.layers.non_local_block import NonLocalBlock
from mgpn_keras.valid_cells.geometry import valid_cells
from mgpn_keras.valid_cells.scatter import gather_valid, scatter_to_map


@keras.saving.register_keras_serializable(package="mgpn_keras")
class NonLocalComparison(keras.layers.Layer):
    """Relate every candidate moment to every other through non-local blocks.

    The "NL" alternative of the paper's Fig. 5 (the reference's `NoNLocalModule`):

    z = [fused, boundary, content] * mask
    x = (ReLU(Conv1x1_{4C -> 2C}(z)) + fused) * mask          (as in MGPN, Sec. 3.7)
    x = Conv1x1_{2C -> C}(x) * mask
    then `num_blocks` NonLocalBlocks over the V valid cells.

    Unlike the reference, whose blocks attend over all N x N cells (invalid ones
    included, after a 2 x 2 max-pool), the blocks here see only the valid cells: they are
    gathered into a `(batch, V, C)` set, so an invalid cell takes no attention and adds
    nothing to the BatchNorm statistics, and the result is scattered back to the map.
    Memory grows as V^2 per query (V = 136 on the synthetic preset, about 2,800 on TACoS).

    Args:
        hidden_size: C.
        num_clips, num_scale_layers: the map's geometry.
        num_blocks: non-local blocks (2 in the reference's configs).
        synchronized_batch_norm: all-reduce BatchNorm statistics across replicas.

    Input: `[fused (batch, N, N, 2C), boundary (batch, N, N, C), content (batch, N, N, C)]`.
    Output: `(batch, N, N, C)`, zero on invalid cells.

    Example:
    >>> layer = NonLocalComparison(16, 8, [3, 2], num_blocks=1)
    >>> y = layer([ops.ones((2, 8, 8, 32)), ops.ones((2, 8, 8, 16)), ops.ones((2, 8, 8, 16))])
    >>> tuple(y.shape)
    (2, 8, 8, 16)
    """

    def __init__(self, hidden_size, num_clips, num_scale_layers, num_blocks=2,
                 synchronized_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
        self.num_blocks = int(num_blocks)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        if self.num_blocks < 1:
            raise ValueError(f"NonLocalComparison num_blocks = {num_blocks}; expected >= 1")
        self._mask = map_mask_constant(self.num_clips, self.num_scale_layers)
        self._num_valid = len(valid_cells(self.num_clips, self.num_scale_layers)[0])

    def build(self, input_shape):
        c, n = self.hidden_size, self.num_clips
        self.mix = build_mix(self, c, n)
        self.reduce = initializers.dense(c, 2 * c, name="reduce", dtype=self.dtype_policy)
        self.reduce.build((None, n, n, 2 * c))
        self.blocks = []
        for k in range(self.num_blocks):
            block = NonLocalBlock(c, synchronized_batch_norm=self.synchronized_batch_norm,
                                  name=f"block_{k + 1}", dtype=self.dtype_policy)
            block.build((None, self._num_valid, c))
            self.blocks.append(block)

    def call(self, inputs, training=None):
        x = enhance(self.mix, inputs, self._mask)  # (B, N, N, 2C)
        x = self.reduce(x)  # (B, N, N, C); the invalid cells are dropped by the gather
        x = gather_valid(x, self.num_clips, self.num_scale_layers)  # (B, V, C)
        for block in self.blocks:
            x = block(x, training=training)
        return scatter_to_map(x, self.num_clips, self.num_scale_layers)  # (B, N, N, C)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_clips=self.num_clips,
                      num_scale_layers=self.num_scale_layers, num_blocks=self.num_blocks,
                      synchronized_batch_norm=self.synchronized_batch_norm)
        return config
