"""Grouped 2D convolutions in kernels that exist wherever the model runs.

`tf.nn.conv2d` runs a grouped convolution (kernel depth a fraction of the input's) on GPU
(cuDNN) and on CPU only with oneDNN; `grouped_conv2d` falls back to one convolution per group
elsewhere. Used by `layers.GroupConv2D` and the valid-cell convolution.
"""

import contextlib
import functools

import tensorflow as tf


@functools.cache  # fixed once TensorFlow has started; asked on every grouped call
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
# one convolution per group (retrieval.portable sets it while a SavedModel is traced, since an
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
