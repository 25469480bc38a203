"""Averaging a video's clip features to a fixed clip count (REFERENCE.md 5.8).

The reference's `average_to_fixed_length`: output clip k is the mean of raw clips
[idxs[k], idxs[k + 1]), or raw clip idxs[k] when that range is empty, with
`idxs = round(arange(S + 1) / S * n)` in float32 (halves to even), clamped to n - 1. As in the
reference, the last raw clip is left out whenever the final output clip averages a non-empty
range.

Exactness: each window is summed row after row in clip order (as NumPy's axis-0 mean does),
inside a `tf.while_loop` that graph rewrites do not reorder, then divided by its length, so the
result is bit-equal to the reference's NumPy. Only core TensorFlow ops.
"""

from __future__ import annotations

import tensorflow as tf

from mgpn_keras.protocol.l2_normalize import divide_by_norm, l2_normalize


def sample_indices(num_clips, num_sample_clips: int) -> tf.Tensor:
    """Window boundaries: num_sample_clips + 1 int32.

    Args:
        num_clips: scalar int tensor n, the raw clip count (n >= 1).
        num_sample_clips: S, a Python int.
    """
    num_clips = tf.cast(num_clips, tf.int32)
    s = tf.constant(float(num_sample_clips), tf.float32)
    idxs = tf.range(num_sample_clips + 1, dtype=tf.float32) / s
    idxs = tf.round(idxs * tf.cast(num_clips, tf.float32))  # half to even, like np.round
    return tf.minimum(tf.cast(idxs, tf.int32), num_clips - 1)


def average_to_fixed_length(features, num_sample_clips: int) -> tf.Tensor:
    """The reference's resampling to `num_sample_clips` clips, for a batch.

    Args:
        features: (batch, clips, width) float32, clips >= 1; all videos of the batch have the
            same raw clip count (one video: pass features[None]).
        num_sample_clips: S.

    Returns:
        (batch, S, width) float32.
    """
    features = tf.convert_to_tensor(features)
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

    # Every window holds its first row (lengths >= 1): start from those, as NumPy's sum does,
    # and add the others (one pass less than adding them all to zeros).
    first = tf.gather(features, starts, axis=1)  # (B, S, D)
    _, total = tf.while_loop(lambda t, _: t < longest, add_row, (tf.constant(1), first))
    return total / tf.cast(lengths, features.dtype)[None, :, None]  # (B, S, D)


def model_clips(features, num_sample_clips: int, normalize: bool, clip_norms=None) -> tf.Tensor:
    """Raw clip features (batch, clips, width), any float dtype -> the model's (batch, S, width)
    float32 input: cast, per-clip L2 normalisation when `normalize`, averaging to S clips.

    `clip_norms` (batch, clips, 1) float32, when given, are the clips' `l2_norm`s (as shards
    store them); normalisation then only divides, with the same bits as computing them here.
    """
    features = tf.cast(features, tf.float32)
    if normalize:
        features = (l2_normalize(features, axis=-1) if clip_norms is None
                    else divide_by_norm(features, clip_norms))
    return average_to_fixed_length(features, num_sample_clips)
