"""Scaled-IoU binary cross-entropy, the training loss of MGPN (Sec. 3.9).

The reference's `bce_rescale_loss` (REFERENCE.md 5.7): the IoU target of every cell is rescaled
to `clip((iou - min_iou) / (max_iou - min_iou), 0, 1)` and the loss is the binary cross-entropy
with logits, averaged over the valid cells of the sparse map of all queries in the batch.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mgpn_keras.valid_cells.geometry import valid_mask


def _check_range(min_iou: float, max_iou: float) -> None:
    if not 0.0 <= min_iou < max_iou <= 1.0:
        raise ValueError(f"min_iou = {min_iou}, max_iou = {max_iou}: expected "
                         f"0 <= min_iou < max_iou <= 1")


def scaled_iou_bce(scores, iou_map, mask, min_iou: float, max_iou: float):
    """The reference's `bce_rescale_loss` in plain TensorFlow.

    Args:
        scores: (B, N, N) logits `score_map` (any shape that `iou_map` and `mask` broadcast to).
        iou_map: (B, N, N) IoU of each cell with the ground truth (`map_gt`).
        mask: (N, N) or (B, N, N), bool or 0/1: the valid cells.
        min_iou, max_iou: the target is `clip((iou - min_iou) / (max_iou - min_iou), 0, 1)`.

    Returns:
        Scalar: the mean BCE-with-logits over all valid cells of all queries.
    """
    _check_range(min_iou, max_iou)
    scores = tf.convert_to_tensor(scores)
    if not scores.dtype.is_floating:
        scores = tf.cast(scores, tf.float32)
    iou_map = tf.cast(iou_map, scores.dtype)
    valid = tf.broadcast_to(tf.cast(mask, tf.bool), tf.shape(scores))
    target = tf.clip_by_value((iou_map - min_iou) / (max_iou - min_iou), 0.0, 1.0)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=scores)
    total = tf.reduce_sum(tf.where(valid, bce, tf.zeros_like(bce)))
    return total / tf.reduce_sum(tf.cast(valid, scores.dtype))


@keras.saving.register_keras_serializable(package="mgpn_keras")
class ScaledIoUBCE(keras.losses.Loss):
    """Scaled-IoU BCE over the valid cells of the sparse 2D map (Sec. 3.9).

    Per query: the mean, over the V valid cells (`mgpn_keras.valid_cells.geometry.valid_mask`), of
    `BCE_with_logits(score, clip((iou - min_iou) / (max_iou - min_iou), 0, 1))`. Every query
    has the same V cells, so the default reduction (`"sum_over_batch_size"`, the mean over
    queries) equals the reference's mean over all valid cells of all queries.

    Args:
        num_clips: N, the side of the map.
        num_scale_layers: the preset's `model.num_scale_layers` (which cells are valid).
        min_iou, max_iou: target rescaling bounds (the preset's `loss` section).
        name, reduction: as for `keras.losses.Loss`.

    Call arguments:
        y_true: (B, N, N) or (B, N, N, 1) IoU map (`mgpn_keras.protocol.iou_map`).
        y_pred: (B, N, N) or (B, N, N, 1) logits (the model's `score_map`).
        sample_weight: optional (B,) per-query weights.

    `call` returns the (B,) per-query losses; `__call__` reduces them to a scalar.

    Example:
        loss = ScaledIoUBCE.for_config(preset("charades_i3d"))
        model.compile(optimizer="adam", loss=loss)
    """

    def __init__(self, num_clips: int, num_scale_layers, min_iou: float = 0.5,
                 max_iou: float = 1.0, name: str = "scaled_iou_bce",
                 reduction: str = "sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        _check_range(float(min_iou), float(max_iou))
        self.num_clips = int(num_clips)
        self.num_scale_layers = [int(c) for c in num_scale_layers]
        self.min_iou = float(min_iou)
        self.max_iou = float(max_iou)
        self._flat_mask = valid_mask(self.num_clips, self.num_scale_layers).reshape(-1)  # (N*N,)

    @classmethod
    def for_config(cls, cfg) -> "ScaledIoUBCE":
        """The loss of a `mgpn_keras.config.Config` (its model and loss sections)."""
        return cls(cfg.model.num_clips, cfg.model.num_scale_layers, cfg.loss.min_iou,
                   cfg.loss.max_iou)

    def _flatten(self, x, what: str):
        cells = self.num_clips * self.num_clips
        static = tuple(x.shape[1:])
        if None not in static and int(np.prod(static)) != cells:
            raise ValueError(f"ScaledIoUBCE: {what} has shape {tuple(x.shape)}, expected "
                             f"(batch, {self.num_clips}, {self.num_clips}) or (batch, "
                             f"{self.num_clips}, {self.num_clips}, 1) for num_clips = "
                             f"{self.num_clips}")
        return ops.reshape(x, (-1, cells))  # (B, N*N)

    def call(self, y_true, y_pred):
        logits = self._flatten(y_pred, "y_pred (logits)")
        iou_map = ops.cast(self._flatten(y_true, "y_true (IoU map)"), logits.dtype)
        target = ops.clip((iou_map - self.min_iou) / (self.max_iou - self.min_iou), 0.0, 1.0)
        bce = ops.binary_crossentropy(target, logits, from_logits=True)  # (B, N*N)
        mask = ops.convert_to_tensor(self._flat_mask, dtype=logits.dtype)
        per_cell = ops.where(mask > 0, bce, ops.zeros_like(bce))
        return ops.sum(per_cell, axis=-1) / ops.sum(mask)  # (B,)

    def get_config(self):
        config = super().get_config()
        config.update(num_clips=self.num_clips, num_scale_layers=list(self.num_scale_layers),
                      min_iou=self.min_iou, max_iou=self.max_iou)
        return config
