"""Greedy non-maximum suppression of ranked moments, and the top moments of a map.

The reference's `core.eval.nms` (REFERENCE.md 5.7, step 3): keep the best remaining proposal,
drop every one whose overlap `inter / (len_a + len_b - inter)` with it (float64, as in the
reference) is above the threshold (one equal to it survives, a NaN overlap does not); stop after
`top_k`. Batched; the loop runs exactly `top_k` steps. Only core TensorFlow ops, so it runs in
SavedModels, and in a model or `tf.data` alike.
"""

from __future__ import annotations

import tensorflow as tf

from mgpn_keras.protocol.proposals import ranked_proposals

# Score of a padding row, where a query has fewer than top_k proposals after NMS (a joint
# probability is never negative).
NO_MOMENT_SCORE = -1.0


def nms_keep(times, threshold: float, top_k: int) -> tf.Tensor:
    """Greedy NMS of proposals in score order, batched.

    Args:
        times: (B, K, 2) [start, end] seconds, best first (e.g. sorted by score; for merging
            candidates from several windows, concatenate them and sort by score first).
        threshold: a proposal survives while its overlap with each kept one is <= threshold.
        top_k: the most proposals to keep (a Python int).

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
    return tf.reshape(tf.transpose(kept.stack()), [-1, top_k])  # (B, top_k)


def nms_by_score(times, scores, threshold: float, top_k: int) -> tf.Tensor:
    """Greedy NMS of proposals in any order: rank by score, then `nms_keep`.

    For candidates gathered from several sources (e.g. the windows of a long video): pass them
    concatenated; ties in score keep their input order.

    Args:
        times: (B, K, 2) [start, end] seconds.
        scores: (B, K) scores, higher is better.
        threshold, top_k: as `nms_keep`.

    Returns:
        (B, top_k) int32 indices into the input's K, best first, -1 where a query has fewer
        survivors.
    """
    order = tf.argsort(scores, axis=-1, direction="DESCENDING", stable=True)  # (B, K)
    keep = nms_keep(tf.gather(times, order, batch_dims=1), threshold, top_k)
    picked = tf.gather(order, tf.maximum(keep, 0), batch_dims=1)
    return tf.where(keep >= 0, picked, -1)


def top_moments(joint_prob, duration, num_clips: int, nms_threshold: float, top_k: int,
                order=None) -> dict[str, tf.Tensor]:
    """The NMS-kept best moments of each query.

    Args:
        joint_prob: (B, N, N) float32 `sigmoid(logits) * mask`.
        duration: (B,) float32 seconds.
        num_clips: N.
        nms_threshold: the preset's `eval.nms_threshold`.
        top_k: moments per query.
        order: optional ranking of the cells (see `proposals.ranked_proposals`).

    Returns:
        {"start": (B, top_k), "end": (B, top_k), "score": (B, top_k)} float32, best first;
        rows past a query's last surviving proposal have start = end = 0 and
        score = NO_MOMENT_SCORE.
    """
    times, scores = ranked_proposals(joint_prob, duration, num_clips, order)
    keep = nms_keep(times, nms_threshold, top_k)  # (B, top_k)
    found = keep >= 0
    index = tf.maximum(keep, 0)
    kept_times = tf.gather(times, index, batch_dims=1)  # (B, top_k, 2)
    kept_scores = tf.cast(tf.gather(scores, index, batch_dims=1), tf.float32)  # (B, top_k)
    zero = tf.zeros_like(kept_scores)
    return {
        "start": tf.where(found, kept_times[..., 0], zero),
        "end": tf.where(found, kept_times[..., 1], zero),
        "score": tf.where(found, kept_scores, tf.fill(tf.shape(kept_scores), NO_MOMENT_SCORE)),
    }
