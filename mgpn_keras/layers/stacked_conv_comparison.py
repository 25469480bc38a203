"""Choice comparison with 2D-TAN's stacked full convolutions (paper Sec. 4.5.4, Fig. 5 "SC")."""

import keras
from keras import ops

from mgpn_keras.layers.comparison_prologue import build_mix, enhance
from mgpn_keras.layers.group_conv2d import GroupConv2D
from mgpn_keras.layers.masking import map_mask_constant


@keras.saving.register_keras_serializable(package="mgpn_keras")
class StackedConvComparison(keras.layers.Layer):
    """Compare each candidate with its neighbours through stacked k x k convolutions.

    The "SC" alternative of the paper's Fig. 5: the enhanced fused map of Sec. 3.7 goes
    through the stacked convolution layers of 2D-TAN (Zhang et al., AAAI 2020) instead of
    MGPN's grouped conv blocks:

    z = [fused, boundary, content] * mask
    x = (ReLU(Conv1x1_{4C -> 2C}(z)) + fused) * mask          (as in MGPN, Sec. 3.7)
    then `num_layers` times x = ReLU(Conv_kxk(x)) * mask, channels 2C -> C -> ... -> C.

    Full (ungrouped) convolutions, no normalisation. 2D-TAN pads the map once by 16 and
    then runs unpadded convolutions, scaling each output by 1 / (valid cells in its
    window); here every convolution is `same`-padded and followed by the valid-cell mask,
    so that invalid cells never carry features into the next layer. 2D-TAN's settings are
    8 layers of 5 x 5 on Charades-STA and TACoS, 4 layers of 9 x 9 on ActivityNet.

    Args:
        hidden_size: C.
        num_clips, num_scale_layers: the map's geometry.
        num_layers: stacked convolutions.
        kernel_size: k, odd.

    Input: `[fused (batch, N, N, 2C), boundary (batch, N, N, C), content (batch, N, N, C)]`.
    Output: `(batch, N, N, C)`, zero on invalid cells.

    Example:
    >>> layer = StackedConvComparison(16, 8, [3, 2], num_layers=2, kernel_size=3)
    >>> y = layer([ops.ones((2, 8, 8, 32)), ops.ones((2, 8, 8, 16)), ops.ones((2, 8, 8, 16))])
    >>> tuple(y.shape)
    (2, 8, 8, 16)
    """

    def __init__(self, hidden_size, num_clips, num_scale_layers, num_layers=8, kernel_size=5, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
        self.num_layers = int(num_layers)
        self.kernel_size = int(kernel_size)
        if self.num_layers < 1:
            raise ValueError(f"StackedConvComparison num_layers = {num_layers}; expected >= 1")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"StackedConvComparison kernel_size = {kernel_size}; expected an odd "
                             "positive integer")
        self._mask = map_mask_constant(self.num_clips, self.num_scale_layers)

    def build(self, input_shape):
        c, n = self.hidden_size, self.num_clips
        self.mix = build_mix(self, c, n)
        self.convs = []
        width = 2 * c
        for k in range(self.num_layers):
            conv = GroupConv2D(c, self.kernel_size, groups=1, name=f"conv_{k + 1}", dtype=self.dtype_policy)
            conv.build((None, n, n, width))
            self.convs.append(conv)
            width = c

    def call(self, inputs):
        mask = ops.cast(self._mask, inputs[0].dtype)
        x = enhance(self.mix, inputs, mask)  # (B, N, N, 2C)
        for conv in self.convs:
            x = ops.relu(conv(x)) * mask  # (B, N, N, C)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_clips=self.num_clips,
                      num_scale_layers=self.num_scale_layers, num_layers=self.num_layers,
                      kernel_size=self.kernel_size)
        return config
