"""A grouped 2D convolution that runs TensorFlow's native grouped kernels."""

import contextlib

import keras
import tensorflow as tf

from mgpn_keras.layers import initializers


def _native_grouped_kernels():
    """Whether `tf.nn.conv2d` runs a grouped convolution here (forward and gradient).

    On a GPU cuDNN does. On a CPU only oneDNN's kernels do: TensorFlow's Eigen kernels reject
    a grouped convolution ("Fused conv implementation does not support grouped convolutions",
    "Gradients for grouped convolutions are not supported on CPU"), and TensorFlow turns
    oneDNN off by default on CPUs without AVX512-VNNI (AMD EPYC Zen 2/3 among them) unless
    `TF_ENABLE_ONEDNN_OPTS=1`, which `import mgpn_keras` sets when it is unset.
    """
    if tf.config.list_logical_devices("GPU"):
        return True
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # a TensorFlow without the probe: take the path that runs everywhere
        return False
    return bool(_pywrap_util_port.IsMklEnabled())


# Depth of `per_group_kernels()` contexts: while positive, every grouped convolution traces as
# one convolution per group (serving.portable sets it while a SavedModel is traced, since an
# exported graph must run on every TensorFlow build, oneDNN or not).
_per_group_depth = 0


@contextlib.contextmanager
def per_group_kernels():
    """While active, `grouped_conv2d` traces one convolution per group on every machine."""
    global _per_group_depth
    _per_group_depth += 1
    try:
        yield
    finally:
        _per_group_depth -= 1


def grouped_conv2d(x, kernel, groups, padding):
    """Stride-1 grouped convolution, no bias: `tf.nn.conv2d` where its grouped kernels run,
    else one convolution per group side by side (the same sums, in kernels every CPU build
    has, forward and gradient).

    x `(B, H, W, C_in)`, kernel `(k, k, C_in / groups, C_out)`, groups contiguous.
    """
    if groups == 1 or (_per_group_depth == 0 and _native_grouped_kernels()):
        return tf.nn.conv2d(x, kernel, strides=1, padding=padding)
    parts = zip(tf.split(x, groups, axis=-1), tf.split(kernel, groups, axis=-1))
    return tf.concat([tf.nn.conv2d(xg, kg, strides=1, padding=padding) for xg, kg in parts], -1)


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
