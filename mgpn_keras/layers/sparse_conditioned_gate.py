"""Conditioned interaction on the valid cells only, for sparse inference (Sec. 3.6)."""

import keras
from keras import ops

from mgpn_keras.layers.conditioned_gate import ConditionedGate
from mgpn_keras.layers.masking import expand_query_mask, masked_max


@keras.saving.register_keras_serializable(package="mgpn_keras")
class SparseConditionedGate(ConditionedGate):
    """`ConditionedGate` on the `(batch, V, C)` values of the V valid cells.

    The gate is elementwise per cell, so the values at the valid cells equal the dense
    layer's there; the dense layer's zeros elsewhere are simply not computed. Same
    arguments, weights and sublayer names as `ConditionedGate`, so weights copy across.

    Input: `[boundary (batch, V, C), content (batch, V, C), fine_video (batch, N, C),
             fine_query (batch, L, C), query_mask (batch, L)]`.
    Output: `(batch, V, 2C)`, channels ordered [query-gated, video-gated].
    """

    def call(self, inputs):
        boundary, content, fine_video, fine_query, query_mask = inputs
        mask = expand_query_mask(query_mask, fine_query.dtype)
        g_query = self.query_gate(masked_max(fine_query, mask, axis=1))[:, None, :]  # (B, 1, C)
        g_video = self.video_gate(ops.mean(fine_video, axis=1))[:, None, :]
        return ops.concatenate(
            [ops.sigmoid(boundary * g_query) * content, ops.sigmoid(boundary * g_video) * content],
            axis=-1,
        )  # (B, V, 2C)
