"""Fine-grained video encoder: a pre-norm residual feed-forward block (paper Sec. 3.5)."""

import keras
from keras import ops

from mgpn_keras.layers import initializers
from mgpn_keras.layers.reference_layer_norm import ReferenceLayerNorm


@keras.saving.register_keras_serializable(package="mgpn_keras")
class ResidualFeedForward(keras.layers.Layer):
    """x + Dropout(W2(Dropout(ReLU(W1(LayerNorm(x)))))).

    The reference's `SublayerConnection(FeedForwardNet)` on the fused clip features,
    with its own LayerNorm (`ReferenceLayerNorm`).

    Args:
        hidden_size: width of the inner layer.
        dropout: rate of both dropouts (training only).

    Input and output: `(batch, N, C)`.
    """

    def __init__(self, hidden_size, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.dropout = float(dropout)

    def build(self, input_shape):
        width = int(input_shape[-1])
        self.norm = ReferenceLayerNorm(name="norm", dtype=self.dtype_policy)
        self.norm.build(input_shape)
        self.inner = initializers.dense(self.hidden_size, width, name="inner", dtype=self.dtype_policy)
        self.inner.build(input_shape)
        self.outer = initializers.dense(width, self.hidden_size, name="outer", dtype=self.dtype_policy)
        self.outer.build(tuple(input_shape[:-1]) + (self.hidden_size,))
        self.inner_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.output_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def call(self, x, training=None):
        h = ops.relu(self.inner(self.norm(x)))
        h = self.outer(self.inner_dropout(h, training=training))
        return x + self.output_dropout(h, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, dropout=self.dropout)
        return config
