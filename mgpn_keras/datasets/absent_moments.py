"""Absent moments: training queries paired with a window that does not hold their moment.

Every training video holds its query's moment, so a model trained on them alone offers a
confident moment in every window of a long video, and windowed retrieval cannot tell the
window that holds the moment from the others. With `train.absent_share` > 0 that share of the
training stream are negatives: a window of `eval.window_seconds` (the retrieval window) cut
at a random place from a training video, paired with

- a query of the same video whose moment lies wholly outside the window ("another part of a
  longer video"), when the video has one and a coin says so; else
- a query of another video whose sentence the window's video does not have.

A negative's target map is all zero and its `absent` flag 1 (the window-presence label 0).
The negatives are inserted between the queries (`epoch_queries` of them in all), so every
batch holds about that share and an epoch's length is known in advance.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from mgpn_keras.datasets import examples
from mgpn_keras.protocol.clip_averaging import model_clips

OWN_VIDEO_SHARE = 0.5  # of the negatives, taken from the query's own video where it can be


def negatives_per_query(share: float) -> float:
    """Negatives inserted per query so that `share` of the stream is negatives."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"absent share {share!r}: expected a share of the batch in [0, 1)")
    return share / (1.0 - share)


def epoch_queries(queries: int, share: float) -> int:
    """Elements of an epoch of `queries` training queries with `share` negatives."""
    return int(queries) + int(math.floor(queries * negatives_per_query(share)))


def window_clips(num_clips, duration, window_seconds: float):
    """Raw clips in a window of `window_seconds` of a video (at least 1, at most all)."""
    rate = tf.cast(num_clips, tf.float32) / duration
    n = tf.cast(tf.round(np.float32(window_seconds) * rate), tf.int32)
    return tf.clip_by_value(n, 1, tf.cast(num_clips, tf.int32))


def outside(times, window):
    """(K,) bool: which moments `times` (K, 2) lie wholly outside `window` (2,) [start, end]."""
    return tf.logical_or(times[:, 1] <= window[0], times[:, 0] >= window[1])


def random_window(parsed, feature_width: int, num_sample_clips: int, normalize: bool,
                  window_seconds: float, seed):
    """A random window of a parsed video record: (clip_features (S, D), window (2,) seconds).

    `seed` is a stateless seed (2,) int64."""
    clips = examples.raw_clips(parsed, feature_width)  # (T, D)
    norms = examples.stored_norms(parsed)  # (T, 1)
    total = tf.shape(clips)[0]
    n = window_clips(total, parsed["duration"], window_seconds)
    start = tf.random.stateless_uniform([], seed, 0, total - n + 1, dtype=tf.int32)
    features = model_clips(clips[start:start + n][None], num_sample_clips, normalize,
                           clip_norms=norms[start:start + n][None])[0]
    clip = parsed["duration"] / tf.cast(total, tf.float32)
    window = tf.stack([tf.cast(start, tf.float32) * clip, tf.cast(start + n, tf.float32) * clip])
    return tf.ensure_shape(features, [num_sample_clips, feature_width]), window


def _random_true(flags, count, seed):
    """The index of a random True of `flags` (K,) with `count` Trues; 0 when there is none."""
    where = tf.concat([tf.where(flags)[:, 0], tf.zeros([1], tf.int64)], axis=0)
    pick = tf.random.stateless_uniform([], seed, 0, tf.maximum(count, 1), dtype=tf.int32)
    return where[pick]


def negative(window_record, query_record, window_seconds: float, feature_width: int,
             num_sample_clips: int, normalize: bool, seed) -> dict:
    """One negative element (the keys of `examples.queries`' elements, plus "absent" and
    "ok"): a window of `window_record`'s video and a query that it does not hold.

    `ok` is False when neither kind of query exists (the element is then dropped)."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    w = tf.io.parse_single_example(window_record, examples._SPEC)
    q = tf.io.parse_single_example(query_record, examples._SPEC)
    features, window = random_window(w, feature_width, num_sample_clips, normalize,
                                     window_seconds, seeds[0])
    w_tokens = tf.RaggedTensor.from_row_lengths(w["token_ids"], w["num_tokens"])
    q_tokens = tf.RaggedTensor.from_row_lengths(q["token_ids"], q["num_tokens"])
    w_times, q_times = tf.reshape(w["times"], [-1, 2]), tf.reshape(q["times"], [-1, 2])
    # Own video: a query whose moment lies wholly outside the window.
    own = outside(w_times, window)
    own_count = tf.reduce_sum(tf.cast(own, tf.int32))
    own_index = _random_true(own, own_count, seeds[1])
    # Another video: one of its queries whose sentence the window's video does not have.
    other = tf.logical_and(
        tf.not_equal(q["video_id"], w["video_id"]),
        tf.logical_not(tf.reduce_any(tf.equal(q["sentence"][:, None], w["sentence"][None, :]),
                                     axis=1)))
    other_count = tf.reduce_sum(tf.cast(other, tf.int32))
    other_index = _random_true(other, other_count, seeds[2])
    coin = tf.random.stateless_uniform([], seeds[3]) < OWN_VIDEO_SHARE
    use_own = tf.logical_and(own_count > 0, tf.logical_or(coin, other_count == 0))
    ok = tf.logical_or(own_count > 0, other_count > 0)
    pick = lambda own_value, other_value: tf.cond(use_own, lambda: own_value,  # noqa: E731
                                                  lambda: other_value)
    return {
        "token_ids": pick(w_tokens[own_index], q_tokens[other_index]),
        "times": pick(tf.gather(w_times, own_index), tf.gather(q_times, other_index)),
        "sentence": pick(tf.gather(w["sentence"], own_index), tf.gather(q["sentence"], other_index)),
        "index": tf.constant(-1, tf.int64),
        "clip_features": features,
        "duration": window[1] - window[0],
        "video_id": w["video_id"],
        "window": window,  # seconds of the window's video
        "absent": tf.constant(1.0, tf.float32),
        "ok": ok,
    }


def negatives(files, *, window_seconds: float, feature_width: int, num_sample_clips: int,
              normalize: bool, seed: int, with_window: bool = False) -> tf.data.Dataset:
    """An endless stream of negatives from the video records in `files` (see `negative`);
    `with_window` keeps each one's "window" (seconds of its video) and the query's "times"."""
    def records(offset):
        ds = tf.data.Dataset.from_tensor_slices(list(files)).repeat()
        ds = ds.shuffle(len(files), seed=seed + offset).flat_map(tf.data.TFRecordDataset)
        return ds.shuffle(256, seed=seed + offset + 1)

    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    pairs = tf.data.Dataset.zip(records(0), records(7), seeds)
    ds = pairs.map(lambda w, q, s: negative(w, q, window_seconds, feature_width,
                                             num_sample_clips, normalize, s),
                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.filter(lambda item: item["ok"]).map(
        lambda item: {k: v for k, v in item.items()
                      if k != "ok" and (with_window or k != "window")})


def mix(queries: tf.data.Dataset, count: int, share: float, negative_stream: tf.data.Dataset):
    """`queries` (their `count` elements) with `floor(count * share / (1 - share))` negatives
    spread evenly between them; every element gets an "absent" flag."""
    rate = negatives_per_query(share)
    positives = queries.map(lambda item: {**item, "absent": tf.constant(0.0, tf.float32)})
    # After the j-th query come floor((j + 1) r) - floor(j r) negatives.
    after = np.floor(np.arange(1, count + 1) * rate) - np.floor(np.arange(count) * rate)
    choice = np.concatenate([[0] + [1] * int(a) for a in after]).astype(np.int64)
    return tf.data.Dataset.choose_from_datasets(
        [positives, negative_stream], tf.data.Dataset.from_tensor_slices(choice))
