"""Conditioned interaction: query- and video-conditioned gates on the candidates (Sec. 3.6)."""

import keras
from keras import ops

from mgpn_keras.layers import initializers
from mgpn_keras.layers.masking import expand_query_mask, map_mask_constant, masked_max
from mgpn_keras.valid_cells.layout import check_layout


@keras.saving.register_keras_serializable(package="mgpn_keras")
class ConditionedGate(keras.layers.Layer):
    """Gate each candidate's content by its boundary, conditioned on query and video.

    The reference's `SecondFuse`:
    g_q = W_q max_l(t_l), g_v = W_v mean_n(v_n);
    out = [sigmoid(boundary * g_q) * content, sigmoid(boundary * g_v) * content] * mask.
    The token max is masked (a fix over the reference, where padded positions of the
    fine-grained query take part in the max).

    Args:
        hidden_size: C.
        num_clips, num_scale_layers: the 2D map's geometry (for the valid-cell mask).
        layout: "dense" or "valid_cells" (see `mgpn_keras.valid_cells.layout`). The gate is
            elementwise per cell, so the valid-cell layout computes the dense values at the
            valid cells.

    Input: `[boundary, content, fine_video (batch, N, C), fine_query (batch, L, C),
             query_mask (batch, L)]`, boundary and content `(batch, N, N, C)` dense or
             `(batch, V, C)` at the valid cells.
    Output: `(batch, N, N, 2C)` dense or `(batch, V, 2C)`, channels ordered
        [query-gated, video-gated].
    """

    def __init__(self, hidden_size, num_clips, num_scale_layers, layout="dense", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
        self.layout = check_layout(layout)
        self._mask = map_mask_constant(self.num_clips, self.num_scale_layers)

    def build(self, input_shape):
        video_shape, query_shape = input_shape[2], input_shape[3]
        self.query_gate = initializers.dense(self.hidden_size, int(query_shape[-1]), name="query_gate", dtype=self.dtype_policy)
        self.query_gate.build((query_shape[0], query_shape[-1]))
        self.video_gate = initializers.dense(self.hidden_size, int(video_shape[-1]), name="video_gate", dtype=self.dtype_policy)
        self.video_gate.build((video_shape[0], video_shape[-1]))

    def call(self, inputs):
        boundary, content, fine_video, fine_query, query_mask = inputs
        mask = expand_query_mask(query_mask, fine_query.dtype)
        g_query = self.query_gate(masked_max(fine_query, mask, axis=1))  # (B, C)
        g_video = self.video_gate(ops.mean(fine_video, axis=1))
        if self.layout == "valid_cells":  # (B, 1, C) against (B, V, C)
            g_query, g_video = g_query[:, None, :], g_video[:, None, :]
        else:  # (B, 1, 1, C) against (B, N, N, C)
            g_query, g_video = g_query[:, None, None, :], g_video[:, None, None, :]
        fused = ops.concatenate(
            [ops.sigmoid(boundary * g_query) * content, ops.sigmoid(boundary * g_video) * content],
            axis=-1,
        )
        if self.layout == "valid_cells":
            return fused  # every cell valid
        return fused * ops.cast(self._mask, fused.dtype)

    def compute_output_shape(self, input_shape):
        b = input_shape[0]
        return tuple(b[:-1]) + (2 * self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_clips=self.num_clips,
                      num_scale_layers=self.num_scale_layers, layout=self.layout)
        return config
