"""A pre-norm Transformer encoder block, the coarse-encoder alternative of paper Table 4."""

import keras
import numpy as np
from keras import ops

from mgpn_keras.layers import initializers


def sinusoidal_positions(length, width, dtype):
    position = ops.cast(ops.arange(length), "float32")[:, None]
    div = ops.exp(ops.cast(ops.arange(0, width, 2), "float32") * (-np.log(10000.0) / width))
    angles = position * div[None, :]
    table = ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (length, width))
    return ops.cast(table, dtype)


@keras.saving.register_keras_serializable(package="mgpn_keras")
class TransformerBlock(keras.layers.Layer):
    """Masked multi-head self-attention and a feed-forward net, each pre-norm and residual.

    Args:
        hidden_size: C.
        num_heads: attention heads (C must divide by it).
        dropout: dropout on the two residual branches.

    Input: `(batch, length, C)`, optional boolean mask `(batch, length)`.
    Output: `(batch, length, C)`.
    """

    def __init__(self, hidden_size, num_heads=4, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.supports_masking = True  # takes the mask as an argument; emits none
        if self.hidden_size % self.num_heads:
            raise ValueError(f"TransformerBlock hidden_size {hidden_size} must divide by "
                             f"num_heads {num_heads}")

    def build(self, input_shape):
        c = self.hidden_size
        self.attention = keras.layers.MultiHeadAttention(self.num_heads, c // self.num_heads, name="attention", dtype=self.dtype_policy)
        self.attention.build(input_shape, input_shape)
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1", dtype=self.dtype_policy)
        self.norm1.build(input_shape)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2", dtype=self.dtype_policy)
        self.norm2.build(input_shape)
        self.ffn1 = initializers.dense(4 * c, c, name="ffn1", activation="gelu", dtype=self.dtype_policy)
        self.ffn1.build(input_shape)
        self.ffn2 = initializers.dense(c, 4 * c, name="ffn2", dtype=self.dtype_policy)
        self.ffn2.build(tuple(input_shape[:-1]) + (4 * c,))
        self.drop = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def call(self, x, mask=None, training=None):
        attention_mask = None
        if mask is not None:
            attention_mask = ops.logical_and(mask[:, :, None], mask[:, None, :])
        h = self.norm1(x)
        h = self.attention(h, h, attention_mask=attention_mask, training=training)
        x = x + self.drop(h, training=training)
        h = self.ffn2(self.ffn1(self.norm2(x)))
        return x + self.drop(h, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_heads=self.num_heads, dropout=self.dropout)
        return config
