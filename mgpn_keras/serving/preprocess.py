"""In-graph video preprocessing for serving: per-clip L2 normalisation and fixed-length averaging.

The graph twins of `mgpn_keras.datasets.features.l2_normalize` and
`average_to_fixed_length` (REFERENCE.md 5.8), batched, for any number of raw clips. Only core
TensorFlow ops, so a SavedModel that uses them loads in `tensorflow_model_server`.

Exactness: the averaging reproduces the reference bit for bit. Its window boundaries are
computed in float32 and rounded half to even (`tf.round`, like `np.round`), and each window
is summed row after row in clip order, as NumPy's axis-0 reduction does, then divided by its
length. The L2 norm is a sum over the feature width, which NumPy adds pairwise and TensorFlow
in another order, so normalised features differ from the NumPy ones by about one float32 ulp.
"""

from __future__ import annotations

import tensorflow as tf


def l2_normalize(features: tf.Tensor) -> tf.Tensor:
    """Per-clip L2 normalisation, `x / max(||x||, 1e-12)` over the last axis.

    Args:
        features: (batch, clips, width) float32.

    Returns:
        (batch, clips, width) float32; an all-zero clip stays zero.
    """
    norm = tf.sqrt(tf.reduce_sum(tf.square(features), axis=-1, keepdims=True))  # (B, T, 1)
    return features / tf.maximum(norm, tf.constant(1e-12, features.dtype))


def sample_indices(num_clips: tf.Tensor, num_sample_clips: int) -> tf.Tensor:
    """Window boundaries of `average_to_fixed_length`: num_sample_clips + 1 int32.

    `round(arange(S + 1) / S * n)` in float32, halves to even, clamped to n - 1; the graph
    twin of `mgpn_keras.datasets.features.sample_indices`.

    Args:
        num_clips: scalar int32 tensor n, the raw clip count (n >= 1).
        num_sample_clips: S, a Python int.
    """
    s = tf.constant(float(num_sample_clips), tf.float32)
    idxs = tf.range(num_sample_clips + 1, dtype=tf.float32) / s
    idxs = tf.round(idxs * tf.cast(num_clips, tf.float32))  # half to even, like np.round
    return tf.minimum(tf.cast(idxs, tf.int32), num_clips - 1)


def average_to_fixed_length(features: tf.Tensor, num_sample_clips: int) -> tf.Tensor:
    """The reference's resampling to `num_sample_clips` clips, for a batch.

    Output clip k is the mean of raw clips [idxs[k], idxs[k + 1]), or raw clip idxs[k] when
    that range is empty (see `mgpn_keras.datasets.features.average_to_fixed_length`). All
    videos of the batch have the same raw clip count.

    Args:
        features: (batch, clips, width) float32, clips >= 1.
        num_sample_clips: S.

    Returns:
        (batch, S, width) float32.
    """
    num_clips = tf.shape(features)[1]
    idxs = sample_indices(num_clips, num_sample_clips)
    starts = idxs[:-1]  # (S,)
    # An empty window stands for the single clip at its start.
    lengths = tf.maximum(idxs[1:] - starts, 1)  # (S,)
    longest = tf.reduce_max(lengths)

    def add_row(t, total):
        rows = tf.minimum(starts + t, num_clips - 1)  # (S,)
        row = tf.gather(features, rows, axis=1)  # (B, S, D)
        inside = (t < lengths)[None, :, None]  # (1, S, 1)
        # x + 0 == x exactly, so windows shorter than `longest` are unchanged by the padding.
        return t + 1, total + tf.where(inside, row, tf.zeros_like(row))

    batch, width = tf.shape(features)[0], tf.shape(features)[2]
    total = tf.zeros(tf.stack([batch, num_sample_clips, width]), features.dtype)
    _, total = tf.while_loop(lambda t, _: t < longest, add_row, (tf.constant(0), total))
    return total / tf.cast(lengths, features.dtype)[None, :, None]  # (B, S, D)


def preprocess_video(features: tf.Tensor, num_sample_clips: int, normalize: bool) -> tf.Tensor:
    """Raw clip features (batch, clips, width) -> the model's (batch, S, width) input."""
    if normalize:
        features = l2_normalize(features)
    return average_to_fixed_length(features, num_sample_clips)
