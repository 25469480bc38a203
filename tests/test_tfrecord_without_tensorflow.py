"""prepare's shard writer without TensorFlow: the same bytes as tf.train.Example written by
tf.io.TFRecordWriter, and a process that writes a shard never imports TensorFlow."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from mgpn_keras.datasets.example_encoding import encode
from mgpn_keras.datasets.examples import decode
from mgpn_keras.datasets.tfrecord_file import TFRecordWriter


def tensorflow_encode(video_id, duration, clip_features, queries) -> bytes:
    """The record as tf.train.Example builds it (the writer's former implementation)."""
    feature = tf.train.Feature
    dtype = np.dtype(clip_features.dtype).name
    x = clip_features.astype(np.float32)
    norms = np.sqrt(np.sum(np.square(x), axis=1)).astype("<f4")

    def ints(values):
        return feature(int64_list=tf.train.Int64List(value=list(values)))

    def strings(values):
        return feature(bytes_list=tf.train.BytesList(value=list(values)))

    example = tf.train.Example(features=tf.train.Features(feature={
        "clip_features": strings([clip_features.astype(np.dtype(dtype).newbyteorder("<"))
                                  .tobytes()]),
        "clip_norms": strings([norms.tobytes()]),
        "num_clips": ints([clip_features.shape[0]]),
        "dtype": strings([dtype.encode("ascii")]),
        "video_id": strings([video_id.encode("utf-8")]),
        "duration": feature(float_list=tf.train.FloatList(value=[duration])),
        "token_ids": ints(i for q in queries for i in q[0]),
        "num_tokens": ints(len(q[0]) for q in queries),
        "times": feature(float_list=tf.train.FloatList(
            value=[t for q in queries for t in (q[1], q[2])])),
        "sentence": strings(q[3].encode("utf-8") for q in queries),
        "index": ints(q[4] for q in queries),
    }))
    return example.SerializeToString(deterministic=True)


def _video(seed, dtype, clips=7, width=5):
    rng = np.random.default_rng(seed)
    features = (rng.normal(size=(clips, width)) * 3).astype(dtype)
    features[2] = 0  # a zero clip: norm 0
    queries = [([4, 1, 2**33], 0.5, 3.25, "a person opens the door.", 0),
               ([], 1.0, 2.0, "", 7),  # no ids (empty lists stay present)
               ([9], 0.0, 30.5, "café «quoted»", 12)]
    return features, queries


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_records_are_the_bytes_of_tf_train_example(dtype):
    features, queries = _video(0, dtype)
    for qs in (queries, queries[:1], []):
        mine = encode("vid_ü", 30.5, features, qs)
        assert mine == tensorflow_encode("vid_ü", 30.5, features, qs)


def test_the_pipeline_reads_what_the_writer_wrote(tmp_path):
    features, queries = _video(1, np.float32, clips=20, width=6)
    path = tmp_path / "shard.tfrecord"
    with TFRecordWriter(path) as writer:
        writer.write(encode("v1", 12.0, features, queries))
    (record,) = list(tf.data.TFRecordDataset(str(path)))
    video = decode(record, 4, 6, True)
    assert video["video_id"].numpy() == b"v1"
    assert video["token_ids"].to_list() == [q[0] for q in queries]
    np.testing.assert_array_equal(video["times"].numpy(), [[q[1], q[2]] for q in queries])
    assert video["clip_features"].shape == (4, 6)


def test_files_are_the_bytes_of_tf_io_tfrecordwriter(tmp_path):
    records = [b"", b"x", bytes(range(256)) * 41, encode("v", 3.0, *_video(2, np.float16))]
    ours, theirs = tmp_path / "ours.tfrecord", tmp_path / "theirs.tfrecord"
    with TFRecordWriter(ours) as writer:
        for record in records:
            writer.write(record)
    with tf.io.TFRecordWriter(str(theirs)) as writer:
        for record in records:
            writer.write(record)
    assert ours.read_bytes() == theirs.read_bytes()
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(ours))] == records


def test_writing_a_shard_imports_no_tensorflow(tmp_path):
    """What a `mgpn prepare` Beam worker runs to write a shard: the store, the plan's runs
    and `build_shard`, in a fresh process; TensorFlow stays out of sys.modules."""
    feature_dir = tmp_path / "features"
    feature_dir.mkdir()
    np.save(feature_dir / "v0.npy", np.ones((8, 4), np.float32))
    script = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        from mgpn_keras.config import preset
        from mgpn_keras.datasets import annotations as anno, features as feats
        from mgpn_keras.datasets import prepare as prep
        cfg = preset("synthetic")
        cfg.model.input_size = 4
        record = anno.Record("v0", 1.0, 3.0, 8.0, "a door", "ann.json:1")
        with feats.open_feature_store({str(feature_dir)!r}) as store:
            inputs, how = prep.build_shard(Path({str(tmp_path)!r}), "test-00000-of-00001.tfrecord",
                                           [[(0, record, [2, 3])]], cfg, store, None)
        print(json.dumps([how, "tensorflow" in sys.modules]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["written", False]
    (record,) = list(tf.data.TFRecordDataset(str(tmp_path / "test-00000-of-00001.tfrecord")))
    assert decode(record, 2, 4, False)["video_id"].numpy() == b"v0"
