"""Choice ranking on the valid cells only, for sparse inference (Sec. 3.8)."""

import keras
from keras import ops

from mgpn_keras.layers.choice_ranker import ChoiceRanker
from mgpn_keras.layers.moment_map import dense_scatter_index


@keras.saving.register_keras_serializable(package="mgpn_keras")
class SparseChoiceRanker(ChoiceRanker):
    """`ChoiceRanker` on the `(batch, V, C)` values of the V valid cells.

    One logit per valid cell, scattered into the `(batch, N, N)` map with exact zeros on
    every other cell, as the dense layer returns. Same arguments and weights as
    `ChoiceRanker`.

    Input: `(batch, V, C)`, the valid cells in `mgpn_keras.geometry.valid_cells` order.
    Output: logits `(batch, N, N)`.
    """

    def __init__(self, num_clips, num_scale_layers, **kwargs):
        super().__init__(num_clips, num_scale_layers, **kwargs)
        self._scatter = dense_scatter_index(self.num_clips, self.num_scale_layers)  # (N * N,)

    def call(self, x):
        logits = self.score(x)[..., 0]  # (B, V)
        padded = ops.pad(logits, [[0, 0], [0, 1]])  # index V: a zero for the invalid cells
        dense = ops.take(padded, self._scatter, axis=1)  # (B, N * N)
        return ops.reshape(dense, (-1, self.num_clips, self.num_clips))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_clips, self.num_clips)
