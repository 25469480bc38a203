"""The reference's own LayerNorm (REFERENCE.md 5.3)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mgpn_keras")
class ReferenceLayerNorm(keras.layers.Layer):
    """gain * (x - mean) / (std + eps) + bias over the last axis.

    Differs from `keras.layers.LayerNormalization`: std is the unbiased (n - 1)
    estimate and eps is added to the std, not to the variance. Kept so that reference
    checkpoints convert exactly.

    Input and output: `(..., C)`.
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        width = int(input_shape[-1])
        self.gain = self.add_weight(name="gain", shape=(width,), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(width,), initializer="zeros")

    def call(self, x):
        width = ops.shape(x)[-1]
        mean = ops.mean(x, axis=-1, keepdims=True)
        centred = x - mean
        variance = ops.sum(ops.square(centred), axis=-1, keepdims=True) / ops.cast(width - 1, x.dtype)
        std = ops.sqrt(variance)
        return ops.cast(self.gain, x.dtype) * centred / (std + self.epsilon) + ops.cast(self.bias, x.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config
