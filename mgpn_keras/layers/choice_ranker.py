"""Choice ranking: one logit per candidate moment (paper Sec. 3.8)."""

import keras
from keras import ops

from mgpn_keras.layers import initializers
from mgpn_keras.layers.masking import map_mask_constant
from mgpn_keras.valid_cells.layout import check_layout
from mgpn_keras.valid_cells.scatter import scatter_to_map


@keras.saving.register_keras_serializable(package="mgpn_keras")
class ChoiceRanker(keras.layers.Layer):
    """A 1x1 convolution to one logit per cell, zero on invalid cells.

    In the "valid_cells" layout it scores the V valid cells and scatters the logits into
    the `(batch, N, N)` map, so both layouts return the same map. The model builds it with
    `dtype="float32"`, and its inner Dense takes that policy, so the logits (and the
    ranking before NMS) keep float32 resolution under a mixed-precision policy.

    Args:
        num_clips, num_scale_layers: the map's geometry.
        layout: "dense" or "valid_cells" (see `mgpn_keras.valid_cells.layout`).

    Input: `(batch, N, N, C)` dense or `(batch, V, C)` at the valid cells.
    Output: logits `(batch, N, N)`; exactly 0.0 on invalid cells, as in the reference.
    """

    def __init__(self, num_clips, num_scale_layers, layout="dense", **kwargs):
        super().__init__(**kwargs)
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
        self.layout = check_layout(layout)
        self._mask = map_mask_constant(self.num_clips, self.num_scale_layers)[:, :, 0]

    def build(self, input_shape):
        self.score = initializers.dense(1, int(input_shape[-1]), name="score", dtype=self.dtype_policy)
        self.score.build(input_shape)

    def call(self, x):
        logits = self.score(x)[..., 0]
        if self.layout == "valid_cells":  # (B, V) -> (B, N, N), zero off the valid cells
            return scatter_to_map(logits, self.num_clips, self.num_scale_layers)
        return logits * ops.cast(self._mask, logits.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_clips, self.num_clips)

    def get_config(self):
        config = super().get_config()
        config.update(num_clips=self.num_clips, num_scale_layers=self.num_scale_layers,
                      layout=self.layout)
        return config
