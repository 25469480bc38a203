"""The candidate moments of a 2D map, ranked (REFERENCE.md 5.7, steps 1-2).

The cells i <= j of `joint_prob = sigmoid(logits) * mask` (B, N, N) are the K = N (N + 1) / 2
proposals, with times `[i, j + 1] / N * duration` computed in float32 (the reference's
`sorted_indexs.float() / target_size * duration`), ranked by score, descending.

Ties: the reference ranks with `np.argsort(flat)[::-1]`, numpy's default sort, whose order
among equal scores depends on numpy's version and SIMD dispatch (AVX2 and AVX-512 differ). Where
scores are distinct every sort gives the reference's order. Among ties `tf.argsort` here puts
the larger row-major index first (`np.argsort(kind="stable")[::-1]`), the same on every
machine; a caller that must reproduce a particular numpy tie order (the evaluation, against the
parity fixtures) passes that order in.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def upper_cells(num_clips: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end clip of the K = N (N + 1) / 2 cells i <= j, in row-major order."""
    start, end = np.triu_indices(num_clips)
    return start.astype(np.int32), end.astype(np.int32)


def ranking(joint_prob, num_clips: int) -> tf.Tensor:
    """Row-major cell indices (B, N * N), best first; ties to the larger index."""
    flat = tf.reshape(joint_prob, [-1, num_clips * num_clips])
    # tf.argsort descending keeps the lower index first among equals: sort the reversed row
    # stably, then map the positions back.
    return num_clips * num_clips - 1 - tf.argsort(flat[:, ::-1], axis=1,
                                                  direction="DESCENDING", stable=True)


def ranked_proposals(joint_prob, duration, num_clips: int, order=None):
    """All proposals of each query, best first.

    Args:
        joint_prob: (B, N, N) float `sigmoid(logits) * mask`.
        duration: (B,) seconds.
        num_clips: N.
        order: optional (B, N * N) int ranking of the row-major cells, best first (default
            `ranking(joint_prob)`); cells with i > j are dropped from it.

    Returns:
        times: (B, K, 2) float32 [start, end] seconds.
        scores: (B, K) the joint probabilities, dtype of `joint_prob`.
    """
    joint_prob = tf.convert_to_tensor(joint_prob)
    flat = tf.reshape(joint_prob, [-1, num_clips * num_clips])  # (B, N*N)
    order = ranking(joint_prob, num_clips) if order is None else tf.cast(order, tf.int32)
    start, end = order // num_clips, order % num_clips
    upper = start <= end
    count = num_clips * (num_clips + 1) // 2
    # Exactly K cells per row are upper; a stable partition keeps their rank order.
    keep = tf.reshape(tf.where(upper)[:, 1], [-1, count])  # (B, K) positions in `order`
    order = tf.gather(order, tf.cast(keep, tf.int32), batch_dims=1)
    scores = tf.gather(flat, order, batch_dims=1)
    cells = tf.cast(tf.stack([order // num_clips, order % num_clips + 1], axis=-1), tf.float32)
    duration = tf.cast(duration, tf.float32)
    # float32(idx) / float32(N) * float32(duration), the reference's arithmetic.
    times = cells / np.float32(num_clips) * duration[:, None, None]
    return times, scores
