"""`make_dataset`: prepared shards -> batches of (features, iou_map[, meta]) with tf.data."""

from __future__ import annotations

import os

import tensorflow as tf

from mgpn_keras.datasets import examples
from mgpn_keras.datasets.manifest import Manifest, load_manifest

# Shards, and videos, read at once while training (more in flight mix videos better).
CYCLE_LENGTH = 16


def iou_map(times, duration, num_clips: int) -> tf.Tensor:
    """The target of REFERENCE.md 5.7: IoU of cell (i, j) with the ground truth.

    Cell (i, j) spans [i * d / N, (j + 1) * d / N]; the cell times are float32 as in the
    reference, the IoU is computed in float64 (the reference's numpy) and returned as float32.
    Cells with i > j are 0.

    Args:
        times: (..., 2) float32 [start, end] seconds.
        duration: (...) float32 seconds.
        num_clips: N.
    Returns:
        (..., N, N) float32.
    """
    times = tf.convert_to_tensor(times, tf.float32)
    duration = tf.convert_to_tensor(duration, tf.float32)[..., None]
    idx = tf.range(num_clips, dtype=tf.float32)
    starts = tf.cast(idx * duration / num_clips, tf.float64)[..., :, None]  # (..., N, 1)
    ends = tf.cast((idx + 1.0) * duration / num_clips, tf.float64)[..., None, :]  # (..., 1, N)
    gt = tf.cast(times, tf.float64)
    gt_start, gt_end = gt[..., 0, None, None], gt[..., 1, None, None]
    zero = tf.constant(0.0, tf.float64)
    inter = tf.maximum(zero, tf.minimum(ends, gt_end) - tf.maximum(starts, gt_start))
    union = tf.maximum(zero, tf.maximum(ends, gt_end) - tf.minimum(starts, gt_start))
    overlap = tf.math.divide_no_nan(inter, union)
    upper = tf.linalg.band_part(tf.ones([num_clips, num_clips], tf.float64), 0, -1)
    return tf.cast(overlap * upper, tf.float32)


def make_dataset(manifest: Manifest | str | os.PathLike, split: str, batch_size: int,
                 training: bool, *, with_meta: bool = False, shuffle_seed: int | None = None,
                 drop_remainder: bool = False, num_clips: int | None = None) -> tf.data.Dataset:
    """Batches of one split of a prepared data set.

    Args:
        manifest: a `Manifest`, or the path of a manifest JSON (or of its folder).
        split: a split of the manifest ("train", "val", "test").
        batch_size: queries per batch.
        training: shuffle (shard order, interleaved reads of 16 shards and of the queries of
            16 videos, then a buffer of min(config.train.shuffle_buffer, the split) queries);
            otherwise the queries come in record order, deterministically.
        with_meta: add a third element, the meta dict.
        shuffle_seed: seed of the training shuffles (None: not reproducible).
        drop_remainder: drop a last, smaller batch.
        num_clips: N of the target map; default manifest.config.model.num_clips. The shards do
            not depend on N, so one prepared data set serves configs with other N.

    Returns:
        A tf.data.Dataset of `(features, iou_map)` or `(features, iou_map, meta)`:
        features["word_vectors"] float32 (B, L, word_dim), zero for padding and unknown words,
        L the longest query in the batch; features["query_mask"] float32 (B, L), 1 for tokens;
        features["clip_features"] float32 (B, num_sample_clips, input_size);
        iou_map float32 (B, N, N) (REFERENCE.md 5.7);
        meta["duration"] float32 (B,), meta["times"] float32 (B, 2) seconds,
        meta["video_id"], meta["sentence"] tf.string (B,), meta["index"] int64 (B,), the
        query's position in the split.
    """
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    if split not in m.shards:
        raise ValueError(f"manifest {m.path} has no split {split!r}; it has {sorted(m.shards)}")
    if not m.shards[split]:
        raise ValueError(f"manifest {m.path}: split {split!r} has no queries")
    files = [str(path) for path, _ in m.shards[split]]
    num_sample_clips, width = m.num_sample_clips, m.feature_width
    num_clips = int(num_clips or m.config.model.num_clips)
    autotune = tf.data.AUTOTUNE
    ordered = not training or shuffle_seed is not None

    def expand(serialized):  # one video record -> its queries
        return examples.queries(serialized, num_sample_clips, width)

    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        # Shards in random order, read 16 at a time; the queries of 16 videos interleaved; then
        # a query buffer. Queries of one video share its feature tensor, so the buffer costs
        # memory per video, not per query.
        ds = ds.shuffle(len(files), seed=shuffle_seed, reshuffle_each_iteration=True)
        ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), CYCLE_LENGTH),
                           block_length=1, num_parallel_calls=autotune, deterministic=ordered)
        ds = ds.interleave(expand, cycle_length=CYCLE_LENGTH, block_length=1,
                           num_parallel_calls=autotune, deterministic=ordered)
        buffer = min(m.config.train.shuffle_buffer, m.counts[split])
        ds = ds.shuffle(max(buffer, 1), seed=shuffle_seed, reshuffle_each_iteration=True)
    else:
        # Whole shards are read in parallel, each as one element, and kept in file order, so
        # the queries come in record order.
        ds = ds.interleave(lambda f: tf.data.TFRecordDataset(f).batch(1 << 30),
                           cycle_length=min(len(files), 4), block_length=1,
                           num_parallel_calls=autotune, deterministic=True)
        ds = ds.unbatch().flat_map(expand)

    def target(item):
        item["iou_map"] = iou_map(item["times"], item["duration"], num_clips)
        return item

    ds = ds.map(target, num_parallel_calls=autotune, deterministic=ordered)
    ds = ds.padded_batch(batch_size, drop_remainder=drop_remainder)  # token_ids padded with 0
    vectors = tf.constant(m.vectors, tf.float32)  # (V, word_dim)

    def finish(item):
        ids = item["token_ids"]  # (B, L) int64
        features = {
            "word_vectors": tf.gather(vectors, ids),  # (B, L, word_dim)
            "query_mask": tf.cast(ids != 0, tf.float32),  # (B, L)
            "clip_features": item["clip_features"],  # (B, S, input_size)
        }
        if not with_meta:
            return features, item["iou_map"]
        meta = {k: item[k] for k in ("duration", "times", "video_id", "sentence", "index")}
        return features, item["iou_map"], meta

    return ds.map(finish, num_parallel_calls=autotune, deterministic=ordered).prefetch(autotune)
