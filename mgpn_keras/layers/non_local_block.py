"""A non-local block (Wang et al., CVPR 2018) over a set of positions (paper Sec. 4.5.4, Fig. 5 "NL")."""

import keras
from keras import ops

from mgpn_keras.layers import initializers


@keras.saving.register_keras_serializable(package="mgpn_keras")
class NonLocalBlock(keras.layers.Layer):
    """Embedded-Gaussian non-local block with a zero-initialised residual branch.

    As the reference's `NONLocalBlock2D(bn_layer=True)`:
    theta, phi, g = 1x1 projections C -> C/2;
    y = softmax_j(theta_i . phi_j) g_j;  z = BatchNorm(W_{C/2 -> C} y) + x,
    with the BatchNorm scale and offset initialised to 0, so the block starts as the
    identity. The positions are a flat set (for the comparison module: the valid cells of
    the 2D map), so every position attends to every other and to nothing else; the
    reference's 2x2 max-pool subsampling of phi and g is not used.

    Args:
        channels: C.
        inter_channels: width of theta, phi and g (default C // 2, at least 1).
        synchronized_batch_norm: all-reduce BatchNorm statistics across replicas.

    Input: `(batch, positions, C)`.
    Output: `(batch, positions, C)`.

    Example:
    >>> block = NonLocalBlock(16)
    >>> tuple(block(ops.ones((2, 10, 16))).shape)
    (2, 10, 16)
    """

    def __init__(self, channels, inter_channels=None, synchronized_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.inter_channels = int(inter_channels) if inter_channels else max(self.channels // 2, 1)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)

    def build(self, input_shape):
        c, d = self.channels, self.inter_channels
        if int(input_shape[-1]) != c:
            raise ValueError(f"NonLocalBlock {self.name}: input width {input_shape[-1]}, "
                             f"expected channels = {c}")
        self.theta = initializers.dense(d, c, name="theta", dtype=self.dtype_policy)
        self.phi = initializers.dense(d, c, name="phi", dtype=self.dtype_policy)
        self.g = initializers.dense(d, c, name="g", dtype=self.dtype_policy)
        for layer in (self.theta, self.phi, self.g):
            layer.build(input_shape)
        self.out = initializers.dense(c, d, name="out", dtype=self.dtype_policy)
        self.out.build(tuple(input_shape[:-1]) + (d,))
        self.norm = keras.layers.BatchNormalization(
            epsilon=1e-5, momentum=0.9, gamma_initializer="zeros", beta_initializer="zeros",
            synchronized=self.synchronized_batch_norm, name="norm", dtype=self.dtype_policy)
        self.norm.build(input_shape)

    def call(self, x, training=None):
        theta, phi, g = self.theta(x), self.phi(x), self.g(x)  # (B, P, C/2)
        affinity = ops.matmul(theta, ops.transpose(phi, (0, 2, 1)))  # (B, P, P)
        y = ops.matmul(ops.softmax(affinity, axis=-1), g)  # (B, P, C/2)
        return self.norm(self.out(y), training=training) + x  # (B, P, C)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, inter_channels=self.inter_channels,
                      synchronized_batch_norm=self.synchronized_batch_norm)
        return config
