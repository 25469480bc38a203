"""GroupConv2D runs where TensorFlow's CPU kernels cannot run a grouped convolution.

With oneDNN off (TensorFlow's default on CPUs without AVX512-VNNI), `tf.nn.conv2d` with a
grouped kernel fails in a graph, forward and gradient; the layer then runs one convolution
per group. Both paths must give the same outputs and gradients.
"""

import os
import subprocess
import sys

import numpy as np

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
import mgpn_keras  # noqa: F401  (registers the layer; TensorFlow is already imported)
from mgpn_keras.layers.group_conv2d import GroupConv2D

assert not _pywrap_util_port.IsMklEnabled(), "oneDNN should be off in this process"
layer = GroupConv2D(8, 3, groups=4)
x = tf.constant(np.random.default_rng(0).normal(size=(2, 5, 5, 8)).astype("float32"))
layer(x)
weights = [np.asarray(w) for w in layer.get_weights()]

@tf.function
def step(x):
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_sum(tf.nn.relu(y) ** 2)
    return y, tape.gradient(loss, layer.trainable_variables)

y, grads = step(x)
np.savez(sys.argv[1], x=x.numpy(), y=y.numpy(), kernel=weights[0], bias=weights[1],
         **{f"grad_{i}": g.numpy() for i, g in enumerate(grads)})
"""


def test_grouped_convolution_runs_with_onednn_off_and_matches_the_native_kernel(tmp_path):
    out = tmp_path / "off.npz"
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", "import tensorflow\n" + SCRIPT, str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    off = np.load(out)

    import tensorflow as tf

    from mgpn_keras.grouped_convolution import _native_grouped_kernels
    from mgpn_keras.layers.group_conv2d import GroupConv2D

    # `import mgpn_keras` (conftest) turned oneDNN on before TensorFlow loaded: this side runs
    # the native grouped kernel.
    assert _native_grouped_kernels()
    layer = GroupConv2D(8, 3, groups=4)
    layer(off["x"])
    layer.set_weights([off["kernel"], off["bias"]])

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(tf.nn.relu(y) ** 2)
        return y, tape.gradient(loss, layer.trainable_variables)

    y, grads = step(tf.constant(off["x"]))
    np.testing.assert_allclose(y.numpy(), off["y"], rtol=1e-5, atol=1e-5)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g.numpy(), off[f"grad_{i}"], rtol=1e-5, atol=1e-5)
    # The reference: each group convolved on its own, in NumPy.
    x, k = off["x"], off["kernel"]
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    expected = np.zeros_like(off["y"])
    for g in range(4):
        xs, ks = pad[..., 2 * g:2 * g + 2], k[..., 2 * g:2 * g + 2]
        for i in range(5):
            for j in range(5):
                expected[:, i, j, 2 * g:2 * g + 2] = np.einsum("bhwc,hwco->bo", xs[:, i:i + 3, j:j + 3], ks)
    np.testing.assert_allclose(off["y"], expected + off["bias"], rtol=1e-4, atol=1e-4)
