"""The tf.train.Example of one video and its queries, as `prepare` writes it (format 2).

A video's clip features are stored once, as the source holds them (its own clip count, float16
or float32), with all the consecutive queries (in record order) on that video: for TACoS about
130 queries share one feature block. The reference's per-clip L2 normalisation and averaging to
`num_sample_clips` happen when the record is read (`queries`, in the `tf.data` map), so a shard
is no larger than the features it comes from, and one prepared set serves any clip count.

Each clip's L2 norm is computed once, when the record is written (`example_encoding.clip_norms`:
NumPy's pairwise order, which the protocol's `l2_norm` reproduces), and stored beside the
features (4 bytes a clip: 0.1% of 4096-d float16 clips, 0.2% of 500-d float32 ones). Reading
then only divides by it, which gives the bits of normalising in the map, without paying the
ordered sum of squares every epoch for every video.

Fields:
    clip_features  bytes, (num_clips, feature_width) little-endian, row-major, of `dtype`
    clip_norms     bytes, (num_clips,) little-endian float32, each clip's `l2_norm` of its
                   float32 features
    num_clips      int64, the video's raw clip count
    dtype          bytes, "float32" or "float16"
    video_id       bytes
    duration       float, the video's duration in seconds
    token_ids      int64 list, the queries' vocabulary ids one after the other (1 = unknown word)
    num_tokens     int64 list (K,), the number of ids of each query
    times          float list (2K,), each query's ground-truth [start, end] in seconds
    sentence       bytes list (K,), each query's sentence as annotated
    index          int64 list (K,), each query's position in its split
"""

from __future__ import annotations

import tensorflow as tf

# The writer's half, without TensorFlow (a Beam worker of `mgpn prepare` imports only it).
from mgpn_keras.datasets.example_encoding import STORED_DTYPES, clip_norms, encode  # noqa: F401
from mgpn_keras.protocol.clip_averaging import model_clips

_SPEC = {
    "clip_features": tf.io.FixedLenFeature([], tf.string),
    "clip_norms": tf.io.FixedLenFeature([], tf.string),
    "num_clips": tf.io.FixedLenFeature([], tf.int64),
    "dtype": tf.io.FixedLenFeature([], tf.string),
    "video_id": tf.io.FixedLenFeature([], tf.string),
    "duration": tf.io.FixedLenFeature([], tf.float32),
    "token_ids": tf.io.RaggedFeature(tf.int64),
    "num_tokens": tf.io.RaggedFeature(tf.int64),
    "times": tf.io.RaggedFeature(tf.float32),
    "sentence": tf.io.RaggedFeature(tf.string),
    "index": tf.io.RaggedFeature(tf.int64),
}


def raw_clips(parsed, feature_width: int) -> tf.Tensor:
    """The stored (num_clips, width) features of a parsed record, as float32 (exact)."""
    data = parsed["clip_features"]
    clips = tf.cond(
        tf.equal(parsed["dtype"], "float16"),
        lambda: tf.cast(tf.io.decode_raw(data, tf.float16, little_endian=True), tf.float32),
        lambda: tf.io.decode_raw(data, tf.float32, little_endian=True))
    return tf.reshape(clips, tf.stack([tf.cast(parsed["num_clips"], tf.int32), feature_width]))


def stored_norms(parsed) -> tf.Tensor:
    """The stored (num_clips, 1) float32 clip norms of a parsed record."""
    norms = tf.io.decode_raw(parsed["clip_norms"], tf.float32, little_endian=True)
    return tf.reshape(norms, tf.stack([tf.cast(parsed["num_clips"], tf.int32), 1]))


def decode(serialized, num_sample_clips: int, feature_width: int, normalize: bool) -> dict:
    """One serialised video record -> its model-ready features and its queries (graph-safe).

    The video's features are L2-normalised per clip (when `normalize`, dividing by the stored
    norms) and averaged to `num_sample_clips` once per record, by the protocol operations.

    Returns:
        {"clip_features" float32 (S, width), "duration" float32, "video_id", and per query:
        "token_ids" int64 ragged (K, None), "times" float32 (K, 2), "sentence" (K,),
        "index" int64 (K,)}.
    """
    parsed = tf.io.parse_single_example(serialized, _SPEC)
    clips = model_clips(raw_clips(parsed, feature_width)[None], num_sample_clips, normalize,
                        clip_norms=stored_norms(parsed)[None])[0]
    return {
        "clip_features": tf.ensure_shape(clips, [num_sample_clips, feature_width]),
        "duration": parsed["duration"], "video_id": parsed["video_id"],
        "token_ids": tf.RaggedTensor.from_row_lengths(parsed["token_ids"], parsed["num_tokens"]),
        "times": tf.reshape(parsed["times"], [-1, 2]),
        "sentence": parsed["sentence"],
        "index": parsed["index"],
    }


PER_QUERY = ("token_ids", "times", "sentence", "index")


def queries(video: dict) -> tf.data.Dataset:
    """The queries of one `decode`d video, one element each (graph-safe).

    Elements: {"token_ids" int64 (L,), "times" float32 (2,), "sentence", "index" int64,
    "clip_features" float32 (S, width) (the same tensor for every query of the video),
    "duration" float32, "video_id"}.
    """
    per_query = tf.data.Dataset.from_tensor_slices({k: video[k] for k in PER_QUERY})
    shared = tf.data.Dataset.from_tensors(
        {k: v for k, v in video.items() if k not in PER_QUERY}).repeat()
    return tf.data.Dataset.zip(per_query, shared).map(lambda q, v: {**q, **v})
