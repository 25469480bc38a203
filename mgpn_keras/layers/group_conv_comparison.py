"""Choice comparison: grouped convolutions over the 2D map of candidates (Sec. 3.7)."""

import keras
from keras import ops

from mgpn_keras.layers import initializers
from mgpn_keras.layers.group_conv2d import GroupConv2D
from mgpn_keras.layers.masking import map_mask_constant


@keras.saving.register_keras_serializable(package="mgpn_keras")
class GroupConvComparison(keras.layers.Layer):
    """Compare each candidate with its neighbours in the 2D map (the reference's `ConvModule`).

    z = [fused, boundary, content] * mask
    x = (ReLU(Conv1x1_{4C -> 2C}(z)) + fused) * mask
    then four blocks x = ReLU(BatchNorm(GroupConv_kxk(x))) * mask with channels
    2C -> 2C -> C -> C -> C.

    BatchNorm statistics in training cover every map cell, the invalid ones included,
    as in the reference (the mask is applied after BN and ReLU).

    Args:
        hidden_size: C.
        num_clips, num_scale_layers: the map's geometry.
        groups: groups of each convolution (32 in the reference).
        kernel_size: side of each convolution (7 in the reference).
        synchronized_batch_norm: all-reduce BatchNorm statistics across replicas.

    Input: `[fused (batch, N, N, 2C), boundary (batch, N, N, C), content (batch, N, N, C)]`.
    Output: `(batch, N, N, C)`.
    """

    def __init__(self, hidden_size, num_clips, num_scale_layers, groups=32, kernel_size=7,
                 synchronized_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
        self.groups = int(groups)
        self.kernel_size = int(kernel_size)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self._mask = map_mask_constant(self.num_clips, self.num_scale_layers)

    def build(self, input_shape):
        c = self.hidden_size
        n = self.num_clips
        self.mix = initializers.dense(2 * c, 4 * c, name="mix")
        self.mix.build((None, n, n, 4 * c))
        self.convs, self.norms = [], []
        widths = [2 * c, 2 * c, c, c, c]
        for k in range(4):
            conv = GroupConv2D(widths[k + 1], self.kernel_size, self.groups, name=f"conv_{k + 1}")
            conv.build((None, n, n, widths[k]))
            norm = keras.layers.BatchNormalization(
                epsilon=1e-5, momentum=0.9, synchronized=self.synchronized_batch_norm,
                name=f"norm_{k + 1}")
            norm.build((None, n, n, widths[k + 1]))
            self.convs.append(conv)
            self.norms.append(norm)

    def call(self, inputs, training=None):
        fused, boundary, content = inputs
        mask = ops.cast(self._mask, fused.dtype)
        z = ops.concatenate([fused, boundary, content], axis=-1) * mask  # (B, N, N, 4C)
        x = (ops.relu(self.mix(z)) + fused) * mask  # (B, N, N, 2C)
        for conv, norm in zip(self.convs, self.norms):
            x = ops.relu(norm(conv(x), training=training)) * mask
        return x  # (B, N, N, C)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_clips=self.num_clips,
                      num_scale_layers=self.num_scale_layers, groups=self.groups,
                      kernel_size=self.kernel_size,
                      synchronized_batch_norm=self.synchronized_batch_norm)
        return config
