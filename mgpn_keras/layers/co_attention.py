"""Co-attention between the coarse video and query encodings (paper Sec. 3.3)."""

import keras
from keras import ops

from mgpn_keras.layers import initializers
from mgpn_keras.layers.masking import expand_query_mask, l2_normalize, masked_softmax


@keras.saving.register_keras_serializable(package="mgpn_keras")
class CoAttention(keras.layers.Layer):
    """Each modality is modulated by an attention-pooled summary of the other.

    The reference's `FirstFuse`:
    - query summary q = sum_l softmax_l(w_q . t_l) t_l; video_fused = L2-normalise(q * v_n)
      over channels;
    - video summary u = sum_n softmax_n(w_v . v_n) v_n; query_fused = L2-normalise(u * t_l)
      over **tokens** (the reference normalises the (B, L, C) tensor along dim 1: for each
      channel, the vector over tokens has unit norm; kept because it produced the
      published numbers).
    The token softmax is masked (a fix over the reference, which lets padding take
    attention mass); padded tokens of the query encoding are zero, so they add nothing to
    the token-axis norm.

    Input: `[video (batch, N, C), query (batch, L, C), query_mask (batch, L)]`.
    Output: `[video_fused (batch, N, C), query_fused (batch, L, C)]`.
    """

    def build(self, input_shape):
        video_shape, query_shape = input_shape[0], input_shape[1]
        self.query_score = initializers.dense(1, int(query_shape[-1]), name="query_score", dtype=self.dtype_policy)
        self.query_score.build(query_shape)
        self.video_score = initializers.dense(1, int(video_shape[-1]), name="video_score", dtype=self.dtype_policy)
        self.video_score.build(video_shape)

    def call(self, inputs):
        video, query, query_mask = inputs
        mask = expand_query_mask(query_mask, query.dtype)  # (B, L, 1)
        query_attention = masked_softmax(self.query_score(query), mask, axis=1)  # (B, L, 1)
        query_summary = ops.sum(query_attention * query, axis=1, keepdims=True)  # (B, 1, C)
        video_fused = l2_normalize(query_summary * video, axis=-1)  # (B, N, C)
        video_attention = ops.softmax(self.video_score(video), axis=1)  # (B, N, 1)
        video_summary = ops.sum(video_attention * video, axis=1, keepdims=True)  # (B, 1, C)
        query_fused = l2_normalize(video_summary * query * mask, axis=1)  # (B, L, C)
        return video_fused, query_fused

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0]), tuple(input_shape[1])
