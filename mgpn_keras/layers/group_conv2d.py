"""A grouped 2D convolution that runs TensorFlow's native grouped kernels."""

import keras
import tensorflow as tf

from mgpn_keras.grouped_convolution import grouped_conv2d
from mgpn_keras.layers import initializers


@keras.saving.register_keras_serializable(package="mgpn_keras")
class GroupConv2D(keras.layers.Layer):
    """`same`-padded, stride-1 grouped convolution with bias.

    Why not `keras.layers.Conv2D(groups=...)`: on the TensorFlow backend Keras sends
    every grouped convolution through XLA, whose CPU gradient is about 100x slower than
    TensorFlow's own grouped kernels (oneDNN on CPU, cuDNN on GPU), which `tf.nn.conv2d`
    uses when the kernel's input depth is a fraction of the input's. Where neither runs (a CPU
    with oneDNN off), one convolution per group. Same weight layout
    as Keras: kernel `(k, k, C_in / groups, C_out)`, groups contiguous as in PyTorch.

    Args:
        filters: C_out.
        kernel_size: k.
        groups: channel groups; C_in and C_out must divide by it.

    Input: `(batch, H, W, C_in)`. Output: `(batch, H, W, C_out)`.
    """

    def __init__(self, filters, kernel_size, groups=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.groups = int(groups)

    def build(self, input_shape):
        width = int(input_shape[-1])
        if width % self.groups or self.filters % self.groups:
            raise ValueError(f"GroupConv2D {self.name}: input width {width} and filters {self.filters} "
                             f"must both divide by groups = {self.groups}")
        fan_in = width // self.groups * self.kernel_size ** 2
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size, self.kernel_size, width // self.groups, self.filters),
            initializer=initializers.torch_kernel())
        self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                    initializer=initializers.torch_bias(fan_in))

    def call(self, x):
        kernel = tf.cast(self.kernel, x.dtype)
        y = grouped_conv2d(x, kernel, self.groups, "SAME")
        return tf.nn.bias_add(y, tf.cast(self.bias, x.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, groups=self.groups)
        return config
