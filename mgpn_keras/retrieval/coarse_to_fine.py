"""Coarse pass, then fine: which windows of a long video go through the 2D stage.

A long video has hundreds of windows (two hours of 0.5 s clips, 38 s windows every 19 s: 378)
and the 2D stage (the moment map, its comparison and ranker; paper Sec. 3.4-3.8) is most of
the model's cost. A model with a window-presence head (`layers.window_presence_head`) says,
from the cheap part of the model (clip encoder, sequence encoders, co-attention), how likely
each window is to hold the query's moment; only the `top_m` most likely windows are then
scored in full (the coarse-to-fine retrieval of CONE, Hou et al. 2022).
"""

from __future__ import annotations

import tensorflow as tf


def top_windows(score_presence, video: tf.Tensor, starts: tf.Tensor, window_clips: tf.Tensor,
                window_batch: int, top_m: int) -> tf.Tensor:
    """The first clips of the `top_m` windows of highest presence, in ascending order.

    Args:
        score_presence: `f(clips (C, n, D)) -> (C,)` presence probabilities.
        video: (T, D) the video's raw clip features.
        starts: (m,) int32 first clip of each window, ascending (`windowing.window_layout`).
        window_clips: scalar int32 n, clips per window.
        window_batch: windows per `score_presence` call.
        top_m: windows kept (all of them when top_m >= m).

    Returns:
        (min(top_m, m),) int32, a subsequence of `starts`. Ties keep the earlier window.
    """
    count = tf.shape(starts)[0]
    chunks = (count + window_batch - 1) // window_batch
    scores = tf.TensorArray(tf.float32, size=chunks, infer_shape=False)

    def chunk(c, scores):
        first = starts[c * window_batch:(c + 1) * window_batch]  # (C,)
        rows = first[:, None] + tf.range(window_clips)[None, :]  # (C, n)
        return c + 1, scores.write(c, tf.reshape(score_presence(tf.gather(video, rows)), [-1]))

    _, scores = tf.while_loop(lambda c, _: c < chunks, chunk, (tf.constant(0), scores))
    presence = tf.reshape(scores.concat(), [-1])  # (m,)
    keep = tf.minimum(count, top_m)
    order = tf.argsort(presence, direction="DESCENDING", stable=True)[:keep]
    return tf.ensure_shape(tf.gather(starts, tf.sort(order)), [None])
