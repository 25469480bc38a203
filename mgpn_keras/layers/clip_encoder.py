"""Clip encoder: projection and pooling of the clip features (paper Sec. 3.2)."""

import keras
from keras import ops

from mgpn_keras.layers import initializers


@keras.saving.register_keras_serializable(package="mgpn_keras")
class ClipEncoder(keras.layers.Layer):
    """1x1 projection, ReLU, average pooling to N clips, optional position embedding.

    The reference's `FrameAvgPool`: ReLU comes before the pooling, and ActivityNet adds
    a learned position embedding (initialised U(0, 1)) followed by dropout.

    Args:
        hidden_size: C, the output width.
        pool_stride: K; the pooling kernel equals its stride.
        num_clips: N, the pooled length (the position table's size).
        use_position: add the learned position embedding.
        dropout: dropout after the position embedding (training only).

    Input: clip features `(batch, T, D)` with T = N * K.
    Output: `(batch, N, C)`.
    """

    def __init__(self, hidden_size, pool_stride, num_clips, use_position=False, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.pool_stride = int(pool_stride)
        self.num_clips = int(num_clips)
        self.use_position = bool(use_position)
        self.dropout = float(dropout)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        width = int(input_shape[-1])
        self.projection = initializers.dense(self.hidden_size, width, name="projection", dtype=self.dtype_policy)
        self.projection.build(input_shape)
        if self.use_position:
            self.position_embedding = self.add_weight(
                name="position_embedding",
                shape=(self.num_clips, self.hidden_size),
                initializer=keras.initializers.RandomUniform(0.0, 1.0),
            )

    def call(self, clip_features, training=None):
        x = ops.relu(self.projection(clip_features))  # (B, T, C)
        x = ops.average_pool(x, pool_size=self.pool_stride, strides=self.pool_stride, padding="valid")
        if self.use_position:
            x = x + ops.cast(self.position_embedding, x.dtype)[None]
            x = self.dropout_layer(x, training=training)
        return x  # (B, N, C)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_clips, self.hidden_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            pool_stride=self.pool_stride,
            num_clips=self.num_clips,
            use_position=self.use_position,
            dropout=self.dropout,
        )
        return config
