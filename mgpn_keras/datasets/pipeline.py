"""`make_dataset`: prepared shards -> batches of (features, iou_map[, meta]) with tf.data."""

from __future__ import annotations

import os

import tensorflow as tf

from mgpn_keras.datasets import examples
from mgpn_keras.datasets.manifest import Manifest, load_manifest
from mgpn_keras.protocol.iou_map import iou_map

# Shards, and videos, read at once while training (more in flight mix videos better).
CYCLE_LENGTH = 16


def make_dataset(manifest: Manifest | str | os.PathLike, split: str, batch_size: int,
                 training: bool, *, with_meta: bool = False, shuffle_seed: int | None = None,
                 drop_remainder: bool = False, num_clips: int | None = None,
                 absent: dict | None = None,
                 shard: tuple[int, int] | None = None) -> tf.data.Dataset:
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
        absent: with `training`, {"share", "window_seconds", "presence"}: mix that share of
            negatives in (`absent_moments`: windows without the query's moment, all-zero
            target maps), `absent_moments.epoch_queries` elements in all; with "presence" the
            target is {"score_map": iou_map, "window_presence": 1 or 0}.
        shard: (count, index), evaluation only: the videos at record positions index,
            index + count, ... (one worker's part of a split; `meta["index"]` still numbers
            the queries of the whole split).

    Returns:
        A tf.data.Dataset of `(features, iou_map)` or `(features, iou_map, meta)`:
        features["word_vectors"] float32 (B, L, word_dim), zero for padding and unknown words,
        L the longest query in the batch; features["query_mask"] float32 (B, L), 1 for tokens;
        features["clip_features"] float32 (B, num_sample_clips, input_size): each video's stored
        clips, L2-normalised per clip (config.data.normalize) and averaged to num_sample_clips
        in the map, by `mgpn_keras.protocol` (bit-equal to the same steps in NumPy);
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

    normalize = bool(m.config.data.normalize)

    def decode(serialized):  # one video record -> its model-ready features and queries
        return examples.decode(serialized, num_sample_clips, width, normalize)

    if shard is not None and (training or not 0 <= shard[1] < shard[0]):
        raise ValueError(f"shard {shard}: expected (count, index) with 0 <= index < count, and "
                         f"only for an evaluation (training=False) data set")
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        # Shards in random order, read 16 at a time; the queries of 16 videos interleaved; then
        # a query buffer. Queries of one video share its feature tensor, so the buffer costs
        # memory per video, not per query.
        ds = ds.shuffle(len(files), seed=shuffle_seed, reshuffle_each_iteration=True)
        ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), CYCLE_LENGTH),
                           block_length=1, num_parallel_calls=autotune, deterministic=ordered)
        ds = ds.map(decode, num_parallel_calls=autotune, deterministic=ordered)
        ds = ds.interleave(examples.queries, cycle_length=CYCLE_LENGTH, block_length=1,
                           num_parallel_calls=autotune, deterministic=ordered)
        buffer = min(m.config.train.shuffle_buffer, m.counts[split])
        ds = ds.shuffle(max(buffer, 1), seed=shuffle_seed, reshuffle_each_iteration=True)
        if absent and absent["share"] > 0:
            from mgpn_keras.datasets import absent_moments

            stream = absent_moments.negatives(
                files, window_seconds=absent["window_seconds"], feature_width=width,
                num_sample_clips=num_sample_clips, normalize=normalize,
                seed=0 if shuffle_seed is None else shuffle_seed)
            ds = absent_moments.mix(ds, m.counts[split], absent["share"], stream)
    else:
        # Whole shards are read in parallel, each as one element, and kept in file order, and
        # records are decoded (normalised, averaged) in parallel in order, so the queries come
        # in record order.
        ds = ds.interleave(lambda f: tf.data.TFRecordDataset(f).batch(1 << 30),
                           cycle_length=min(len(files), 4), block_length=1,
                           num_parallel_calls=autotune, deterministic=True)
        ds = ds.unbatch()
        if shard is not None:
            ds = ds.shard(*shard)
        ds = ds.map(decode, num_parallel_calls=autotune, deterministic=True)
        ds = ds.flat_map(examples.queries)

    def target(item):
        item["iou_map"] = iou_map(item["times"], item["duration"], num_clips)
        if "absent" in item:  # a window without the moment: no cell overlaps it
            item["iou_map"] = item["iou_map"] * (1.0 - item["absent"])
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
        target = item["iou_map"]
        if absent and absent.get("presence"):
            present = 1.0 - item["absent"] if "absent" in item else tf.ones_like(item["duration"])
            target = {"score_map": target, "window_presence": present}
        if not with_meta:
            return features, target
        meta = {k: item[k] for k in ("duration", "times", "video_id", "sentence", "index")}
        return features, target, meta

    return ds.map(finish, num_parallel_calls=autotune, deterministic=ordered).prefetch(autotune)
