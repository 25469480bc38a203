"""Window presence: does this window hold the query's moment at all? (long videos)

MGPN's map gives the probability of each candidate *given that the moment is in the video*
(paper Sec. 3.8-3.9: every training video holds its query's moment). Windowed retrieval of a
long video compares candidates across windows, most of which hold no such moment, so it needs
the probability that the window holds it: this head gives it, from the co-attended clip and
query features (paper Sec. 3.3, `CoAttention`'s outputs), before the 2D stage, so that a coarse
pass can rank every window of a long video without building any map.
"""

import keras
from keras import ops

from mgpn_keras.layers import initializers


@keras.saving.register_keras_serializable(package="mgpn_keras")
class WindowPresenceHead(keras.layers.Layer):
    """Logit that a window holds the query's moment.

    q = the mean of the query's tokens (padding masked out); each clip i scores
    s_i = w2 . ReLU(W1 [v_i ; v_i * q]); the window's logit is the soft maximum over clips,
    logsumexp_i(s_i) - log N (a moment anywhere in the window raises it, and every clip gets a
    gradient).

    Args:
        hidden_size: width of the per-clip layer.

    Call arguments:
        inputs: `[clips (batch, N, C), tokens (batch, L, C), query_mask (batch, L)]`, the
            co-attended features (`vis_fused`, `txt_fused`) and the query's token mask.

    Output: `(batch,)` logits, float32 under any dtype policy (sigmoid gives the probability).
    """

    def __init__(self, hidden_size, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)

    def build(self, input_shape):
        clip_shape = tuple(input_shape[0])
        width = int(clip_shape[-1])
        self.inner = initializers.dense(self.hidden_size, 2 * width, name="inner",
                                        dtype=self.dtype_policy)
        self.inner.build(clip_shape[:-1] + (2 * width,))
        self.outer = initializers.dense(1, self.hidden_size, name="outer", dtype=self.dtype_policy)
        self.outer.build(clip_shape[:-1] + (self.hidden_size,))

    def call(self, inputs):
        clips, tokens, query_mask = inputs
        mask = ops.cast(query_mask, tokens.dtype)[..., None]  # (B, L, 1)
        query = ops.sum(tokens * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)  # (B, C)
        joint = ops.concatenate([clips, clips * query[:, None, :]], axis=-1)  # (B, N, 2C)
        scores = ops.cast(self.outer(ops.relu(self.inner(joint)))[..., 0], "float32")  # (B, N)
        count = ops.cast(ops.shape(scores)[1], "float32")
        return ops.logsumexp(scores, axis=-1) - ops.log(count)  # (B,)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size)
        return config
