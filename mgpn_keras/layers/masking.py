"""Small tensor helpers shared by the layers: the 2D valid-cell mask and masked reductions."""

import numpy as np
from keras import ops

from mgpn_keras.valid_cells.geometry import valid_mask


def map_mask_constant(num_clips: int, num_scale_layers) -> np.ndarray:
    """(N, N, 1) float32 mask, broadcastable over (batch, N, N, channels) maps."""
    return valid_mask(num_clips, num_scale_layers)[:, :, None]


def l2_normalize(x, axis):
    """x / max(||x||_2, 1e-12) along `axis`, as torch.nn.functional.normalize: the protocol's
    `l2_normalize` with TensorFlow's own summation order (hidden features reproduce no stored
    data, and the pairwise order would cost the model time); float32 arithmetic for
    half-precision input."""
    from mgpn_keras.protocol.l2_normalize import l2_normalize as protocol_l2_normalize

    return protocol_l2_normalize(x, axis, numpy_order=False)


def masked_softmax(logits, mask, axis):
    """Softmax along `axis` where mask == 0 gets no weight.

    With an all-ones mask this is exactly the plain softmax.
    """
    if mask is None:
        return ops.softmax(logits, axis=axis)
    mask = ops.cast(mask, logits.dtype)
    very_negative = ops.cast(-1e9 if logits.dtype == "float32" else -3e4, logits.dtype)
    logits = ops.where(mask > 0, logits, very_negative)
    return ops.softmax(logits, axis=axis)


def masked_max(x, mask, axis):
    """Max along `axis` over positions where mask > 0; mask broadcasts against x."""
    if mask is None:
        return ops.max(x, axis=axis)
    mask = ops.cast(mask, x.dtype)
    lowest = ops.cast(np.finfo(np.float16).min if x.dtype == "float16" else -3.0e38, x.dtype)
    return ops.max(ops.where(mask > 0, x, lowest), axis=axis)


def expand_query_mask(query_mask, dtype):
    """(B, L) -> (B, L, 1) mask of `dtype`."""
    return ops.expand_dims(ops.cast(query_mask, dtype), -1)
