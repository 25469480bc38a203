"""The tf.train.Example of one video and its queries, as `prepare` writes it.

A video's clip features are stored once, with all the consecutive queries (in record order) on
that video: for TACoS, about 130 queries share one (256, 4096) feature block, so per-query
records would take 100 times the disk. `make_dataset` expands the record into one element per
query; those elements share the feature tensor in memory.

Fields:
    clip_features  bytes, (num_sample_clips, feature_width) float32, little-endian, row-major
    video_id       bytes
    duration       float, the video's duration in seconds
    token_ids      int64 list, the queries' vocabulary ids one after the other (1 = unknown word)
    num_tokens     int64 list (K,), the number of ids of each query
    times          float list (2K,), each query's ground-truth [start, end] in seconds
    sentence       bytes list (K,), each query's sentence as annotated
    index          int64 list (K,), each query's position in its split
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def encode(video_id: str, duration: float, clip_features: np.ndarray, queries) -> bytes:
    """Serialise one video with its queries.

    Args:
        video_id, duration: the video.
        clip_features: (num_sample_clips, feature_width) float32.
        queries: sequence of (token_ids, start, end, sentence, index).
    """
    feature = tf.train.Feature
    raw = np.ascontiguousarray(clip_features, dtype="<f4").tobytes()

    def ints(values):
        return feature(int64_list=tf.train.Int64List(value=list(values)))

    example = tf.train.Example(features=tf.train.Features(feature={
        "clip_features": feature(bytes_list=tf.train.BytesList(value=[raw])),
        "video_id": feature(bytes_list=tf.train.BytesList(value=[video_id.encode("utf-8")])),
        "duration": feature(float_list=tf.train.FloatList(value=[duration])),
        "token_ids": ints(i for q in queries for i in q[0]),
        "num_tokens": ints(len(q[0]) for q in queries),
        "times": feature(float_list=tf.train.FloatList(
            value=[t for q in queries for t in (q[1], q[2])])),
        "sentence": feature(bytes_list=tf.train.BytesList(
            value=[q[3].encode("utf-8") for q in queries])),
        "index": ints(q[4] for q in queries),
    }))
    return example.SerializeToString()


_SPEC = {
    "clip_features": tf.io.FixedLenFeature([], tf.string),
    "video_id": tf.io.FixedLenFeature([], tf.string),
    "duration": tf.io.FixedLenFeature([], tf.float32),
    "token_ids": tf.io.RaggedFeature(tf.int64),
    "num_tokens": tf.io.RaggedFeature(tf.int64),
    "times": tf.io.RaggedFeature(tf.float32),
    "sentence": tf.io.RaggedFeature(tf.string),
    "index": tf.io.RaggedFeature(tf.int64),
}


def queries(serialized, num_sample_clips: int, feature_width: int) -> tf.data.Dataset:
    """The queries of one serialised video record, one element each (graph-safe).

    Elements: {"token_ids" int64 (L,), "times" float32 (2,), "sentence", "index" int64,
    "clip_features" float32 (S, width) (the same tensor for every query of the video),
    "duration" float32, "video_id"}.
    """
    parsed = tf.io.parse_single_example(serialized, _SPEC)
    clips = tf.io.decode_raw(parsed["clip_features"], tf.float32, little_endian=True)
    video = {"clip_features": tf.reshape(clips, [num_sample_clips, feature_width]),
             "duration": parsed["duration"], "video_id": parsed["video_id"]}
    per_query = tf.data.Dataset.from_tensor_slices({
        "token_ids": tf.RaggedTensor.from_row_lengths(parsed["token_ids"], parsed["num_tokens"]),
        "times": tf.reshape(parsed["times"], [-1, 2]),
        "sentence": parsed["sentence"],
        "index": parsed["index"],
    })
    shared = tf.data.Dataset.from_tensors(video).repeat()
    return tf.data.Dataset.zip(per_query, shared).map(lambda q, v: {**q, **v})
