"""Shards store each clip's L2 norm, computed once at prepare; the pipeline divides by it."""

import json

import numpy as np
import pytest
import tensorflow as tf
from data_layouts import small_config, write_layout

from mgpn_keras.datasets import DataError, make_dataset
from mgpn_keras.datasets.prepare import STATE_NAME, prepare
from oracles import model_clips


def _prepare(tmp_path, dtype=np.float32):
    data = tmp_path / "data"
    written = write_layout(data, "activitynet_npy", splits=("test",), width=500,
                           lengths=(40, 97))
    for video, x in written["features"].items():
        x = x.astype(dtype)
        x[3] = 0  # an all-zero clip: norm 0, divided by the 1e-12 floor, stays zero
        written["features"][video] = x
        np.save(data / "c3d_features" / f"{video}.npy", x)
    path = prepare(small_config("activitynet_npy", 500), data, tmp_path / "shards",
                   progress=False)
    return data, written["features"], path


def _records(shard):
    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(shard))]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_records_hold_each_clips_norm_bit_equal_to_numpy(tmp_path, dtype):
    _, features, path = _prepare(tmp_path, dtype)
    seen = 0
    for shard in sorted(path.parent.glob("*.tfrecord")):
        for example in _records(shard):
            f = example.features.feature
            video = f["video_id"].bytes_list.value[0].decode()
            stored = np.frombuffer(f["clip_norms"].bytes_list.value[0], "<f4")
            x = features[video].astype(np.float32)
            expected = np.sqrt(np.sum(np.square(x), axis=1))  # NumPy's pairwise order
            np.testing.assert_array_equal(stored, expected)
            assert stored[3] == 0
            seen += 1
    assert seen == 2


def test_the_pipeline_divides_by_the_stored_norms(tmp_path):
    """Norms doubled in the record: the batches are exactly half of the oracle's (dividing by a
    power of two is exact), so the map uses the stored norms and does not recompute them."""
    _, features, path = _prepare(tmp_path)
    for shard in path.parent.glob("*.tfrecord"):
        examples = _records(shard)
        with tf.io.TFRecordWriter(str(shard)) as writer:
            for example in examples:
                norms = example.features.feature["clip_norms"].bytes_list
                doubled = np.frombuffer(norms.value[0], "<f4") * np.float32(2)
                norms.value[0] = doubled.astype("<f4").tobytes()
                writer.write(example.SerializeToString())
    seen = 0
    for batch, _, meta in make_dataset(path, "test", 4, training=False, with_meta=True):
        for b in range(batch["clip_features"].shape[0]):
            video = meta["video_id"][b].numpy().decode()
            np.testing.assert_array_equal(batch["clip_features"][b],
                                          model_clips(features[video], 16, True) / 2)
            seen += 1
    assert seen == 6


def test_a_folder_of_shards_without_norms_is_not_resumed(tmp_path):
    """Shards written before records held norms (their state has no "record" setting) are
    refused with the changed setting named, rather than mixed into a resumed folder."""
    data, _, path = _prepare(tmp_path)
    state_path = path.parent / STATE_NAME
    state = json.loads(state_path.read_text())
    del state["settings"]["record"]
    state_path.write_text(json.dumps(state))
    with pytest.raises(DataError, match=r"record: None -> 'video-with-clip-norms'.*--overwrite"):
        prepare(small_config("activitynet_npy", 500), data, path.parent, progress=False)
