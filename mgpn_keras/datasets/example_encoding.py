"""One video and its queries -> the serialised record `prepare` writes (format 2, fields in
`examples.py`), without TensorFlow.

The shard writer runs on every `mgpn prepare` Beam worker, which then needs no TensorFlow
(3.5-4 s of each worker's start-up here, measured): the message is `example_proto.Example`,
the same bytes as `tf.train.Example` (tested), and each clip's L2 norm is NumPy's
`sqrt(sum(square(x)))` over the clip, float32, summed in NumPy's pairwise order, which is the
order the protocol's `l2_norm` reproduces in TensorFlow for the pipeline and the served model
(`protocol/l2_normalize.py`; tests check the stored norms against this expression bit for bit).
"""

from __future__ import annotations

import numpy as np

from mgpn_keras.datasets.example_proto import Example

STORED_DTYPES = ("float32", "float16")


def clip_norms(clip_features: np.ndarray) -> np.ndarray:
    """(num_clips, width) float16/32 -> (num_clips,) float32: each clip's L2 norm of its
    float32 features, as the protocol's `l2_norm` computes it."""
    x = np.ascontiguousarray(clip_features, dtype=np.float32)
    return np.sqrt(np.sum(np.square(x), axis=1))


def encode(video_id: str, duration: float, clip_features: np.ndarray, queries) -> bytes:
    """Serialise one video with its queries.

    Args:
        video_id, duration: the video.
        clip_features: (num_clips, feature_width) float32 or float16, the checked source.
        queries: sequence of (token_ids, start, end, sentence, index).
    """
    dtype = np.dtype(clip_features.dtype).name
    if dtype not in STORED_DTYPES:
        raise ValueError(f"clip features of {video_id!r} have dtype {dtype}, expected one of "
                         f"{STORED_DTYPES}")
    raw = np.ascontiguousarray(clip_features, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    norms = clip_norms(clip_features).astype("<f4").tobytes()

    example = Example()
    feature = example.features.feature
    feature["clip_features"].bytes_list.value.append(raw)
    feature["clip_norms"].bytes_list.value.append(norms)
    feature["num_clips"].int64_list.value.append(clip_features.shape[0])
    feature["dtype"].bytes_list.value.append(dtype.encode("ascii"))
    feature["video_id"].bytes_list.value.append(video_id.encode("utf-8"))
    feature["duration"].float_list.value.append(duration)
    # SetInParent: a list that stays empty (no query has a token) is still present, as
    # tf.train.Feature(int64_list=tf.train.Int64List(value=[])) is.
    for name, values in (
            ("token_ids", [i for q in queries for i in q[0]]),
            ("num_tokens", [len(q[0]) for q in queries]),
            ("index", [q[4] for q in queries])):
        feature[name].int64_list.SetInParent()
        feature[name].int64_list.value.extend(values)
    feature["times"].float_list.SetInParent()
    feature["times"].float_list.value.extend([t for q in queries for t in (q[1], q[2])])
    feature["sentence"].bytes_list.SetInParent()
    feature["sentence"].bytes_list.value.extend(q[3].encode("utf-8") for q in queries)
    # Map entries in key order: otherwise their order follows the process's string hashing, and
    # the same record has other bytes on another worker (or run) of a Beam pipeline.
    return example.SerializeToString(deterministic=True)
