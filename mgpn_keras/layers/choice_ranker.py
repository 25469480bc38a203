"""Choice ranking: one logit per candidate moment (paper Sec. 3.8)."""

import keras
from keras import ops

from mgpn_keras.layers import initializers
from mgpn_keras.layers.masking import map_mask_constant


@keras.saving.register_keras_serializable(package="mgpn_keras")
class ChoiceRanker(keras.layers.Layer):
    """A 1x1 convolution to one logit per cell, zero on invalid cells.

    Args:
        num_clips, num_scale_layers: the map's geometry.

    Input: `(batch, N, N, C)`.
    Output: logits `(batch, N, N)`; exactly 0.0 on invalid cells, as in the reference.
    """

    def __init__(self, num_clips, num_scale_layers, **kwargs):
        super().__init__(**kwargs)
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
        self._mask = map_mask_constant(self.num_clips, self.num_scale_layers)[:, :, 0]

    def build(self, input_shape):
        self.score = initializers.dense(1, int(input_shape[-1]), name="score")
        self.score.build(input_shape)

    def call(self, x):
        logits = self.score(x)[..., 0]
        return logits * ops.cast(self._mask, logits.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update(num_clips=self.num_clips, num_scale_layers=self.num_scale_layers)
        return config
