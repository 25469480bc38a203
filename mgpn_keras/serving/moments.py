"""In-graph proposal ranking and greedy NMS for serving (the reference protocol).

The graph twin of `mgpn_keras.metrics.top_moments` (REFERENCE.md 5.7), for a batch at once:

1. The cells i <= j of `joint_prob = sigmoid(logits) * mask` (B, N, N) are the K = N (N + 1) / 2
   proposals, with times `[i, j + 1] / N * duration` computed in float32.
2. They are ranked by score, descending. Ties (in practice only the 0.0 of cells outside the
   sparse map) go to the larger row-major index first, i.e. `np.argsort(kind="stable")[::-1]`;
   the reference's default NumPy sort leaves tied cells in a platform-dependent order.
3. Greedy NMS: keep the best remaining proposal, drop every one whose overlap
   `inter / (len_a + len_b - inter)` with it (float64, as in the reference) is above the
   threshold; stop after `top_k`. The loop runs exactly `top_k` steps over the whole batch.

Only core TensorFlow ops.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# Score of a padding row, where a query has fewer than top_k proposals after NMS (a joint
# probability is never negative).
NO_MOMENT_SCORE = -1.0


def upper_cells(num_clips: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end clip of the K = N (N + 1) / 2 cells i <= j, in row-major order."""
    start, end = np.triu_indices(num_clips)
    return start.astype(np.int32), end.astype(np.int32)


def ranked_proposals(joint_prob: tf.Tensor, duration: tf.Tensor, num_clips: int):
    """All proposals of each query, best first.

    Args:
        joint_prob: (B, N, N) float32 `sigmoid(logits) * mask`.
        duration: (B,) float32 seconds.
        num_clips: N.

    Returns:
        times: (B, K, 2) float32 [start, end] seconds.
        scores: (B, K) float32.
    """
    start, end = upper_cells(num_clips)
    count = len(start)
    flat = tf.reshape(joint_prob, [-1, num_clips * num_clips])  # (B, N*N)
    scores = tf.gather(flat, start * num_clips + end, axis=1)  # (B, K), row-major
    # Descending; ties to the larger index: sort the reversed row stably (tf.argsort
    # descending keeps the lower index first among equals), then map back.
    order = count - 1 - tf.argsort(scores[:, ::-1], axis=1, direction="DESCENDING", stable=True)
    scores = tf.gather(scores, order, batch_dims=1)
    cells = tf.constant(np.stack([start, end + 1], axis=-1).astype(np.float32))  # (K, 2)
    # float32(idx) / float32(N) * float32(duration), the reference's arithmetic.
    times = tf.gather(cells, order) / np.float32(num_clips) * duration[:, None, None]
    return times, scores


def nms_keep(times: tf.Tensor, threshold: float, top_k: int) -> tf.Tensor:
    """Greedy NMS of proposals in score order, batched; the graph twin of `metrics.nms_indices`.

    Args:
        times: (B, K, 2) [start, end] seconds, best first.
        threshold: a proposal survives while its overlap with each kept one is <= threshold.
        top_k: the most proposals to keep.

    Returns:
        (B, top_k) int32 indices into K in keep order, -1 where a query has fewer survivors.
    """
    times = tf.cast(times, tf.float64)
    x1, x2 = times[..., 0], times[..., 1]  # (B, K)
    lengths = x2 - x1
    alive = tf.ones_like(x1, tf.bool)
    kept = tf.TensorArray(tf.int32, size=top_k)

    def step(k, alive, kept):
        has = tf.reduce_any(alive, axis=1)  # (B,)
        first = tf.argmax(tf.cast(alive, tf.int32), axis=1, output_type=tf.int32)  # best alive
        kept = kept.write(k, tf.where(has, first, -1))
        pick = lambda x: tf.gather(x, first, batch_dims=1)[:, None]  # noqa: E731  (B, 1)
        inter = tf.maximum(tf.constant(0.0, tf.float64),
                           tf.minimum(pick(x2), x2) - tf.maximum(pick(x1), x1))
        overlap = inter / (pick(lengths) + lengths - inter)  # NaN for 0/0: dropped
        alive = alive & (overlap <= threshold)
        alive = alive & tf.logical_not(tf.one_hot(first, tf.shape(x1)[1], on_value=True,
                                                  off_value=False))
        return k + 1, alive, kept

    _, _, kept = tf.while_loop(lambda k, *_: k < top_k, step, (tf.constant(0), alive, kept))
    return tf.transpose(kept.stack())  # (B, top_k)


def top_moments(joint_prob: tf.Tensor, duration: tf.Tensor, num_clips: int,
                nms_threshold: float, top_k: int) -> dict[str, tf.Tensor]:
    """The NMS-kept best moments of each query.

    Args:
        joint_prob: (B, N, N) float32 `sigmoid(logits) * mask`.
        duration: (B,) float32 seconds.
        num_clips: N.
        nms_threshold: the preset's `eval.nms_threshold`.
        top_k: moments per query.

    Returns:
        {"start": (B, top_k), "end": (B, top_k), "score": (B, top_k)} float32, best first;
        rows past a query's last surviving proposal have start = end = 0 and
        score = NO_MOMENT_SCORE.
    """
    times, scores = ranked_proposals(joint_prob, duration, num_clips)
    keep = nms_keep(times, nms_threshold, top_k)  # (B, top_k)
    found = keep >= 0
    index = tf.maximum(keep, 0)
    kept_times = tf.gather(times, index, batch_dims=1)  # (B, top_k, 2)
    kept_scores = tf.gather(scores, index, batch_dims=1)  # (B, top_k)
    zero = tf.zeros_like(kept_scores)
    return {
        "start": tf.where(found, kept_times[..., 0], zero),
        "end": tf.where(found, kept_times[..., 1], zero),
        "score": tf.where(found, kept_scores, tf.fill(tf.shape(kept_scores), NO_MOMENT_SCORE)),
    }
