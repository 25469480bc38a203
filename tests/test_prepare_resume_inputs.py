"""prepare's resume notices changed inputs: a rewritten feature file or an edited annotation
rebuilds the shards that used it (and says so), other shards are kept, changed settings stop."""

import json
import os

import numpy as np
import pytest
from data_layouts import small_config, write_layout

from mgpn_keras.datasets import DataError, load_manifest, make_dataset
from mgpn_keras.datasets.features import average_to_fixed_length, l2_normalize
from mgpn_keras.datasets.prepare import prepare


def _stamps(out):
    return {p.name: p.stat().st_mtime_ns for p in out.glob("*.tfrecord")}


def _features_of(manifest, video):
    for features, _, meta in make_dataset(manifest, "test", 1, training=False, with_meta=True):
        if meta["video_id"].numpy()[0].decode() == video:
            return features["clip_features"].numpy()[0]
    raise AssertionError(video)


def test_changed_feature_file_and_annotation_rebuild_only_their_shards(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "shards"
    written = write_layout(data, "activitynet_npy", splits=("test",))
    cfg = small_config("activitynet_npy")
    prepare(cfg, data, out, shard_size=3, progress=False)  # one shard per video
    before = _stamps(out)
    assert len(before) == 3

    new = written["features"]["v_test1"][::-1].copy()
    np.save(data / "c3d_features" / "v_test1.npy", new)
    os.utime(data / "c3d_features" / "v_test1.npy", ns=(1, 1))  # a new mtime whatever the clock
    capsys.readouterr()
    manifest = load_manifest(prepare(cfg, data, out, shard_size=3, progress=False))
    said = capsys.readouterr().out
    assert f"rebuilding {out / 'test-00001-of-00003.tfrecord'}: feature file " \
           f"{(data / 'c3d_features' / 'v_test1.npy').resolve()} changed" in said
    after = _stamps(out)
    assert {n for n in before if before[n] != after[n]} == {"test-00001-of-00003.tfrecord"}
    assert manifest.info["shards_rebuilt"] == 1 and manifest.info["shards_reused"] == 2
    np.testing.assert_array_equal(_features_of(manifest, "v_test1"),
                                  average_to_fixed_length(l2_normalize(new), 16))

    anno = json.loads((data / "test.json").read_text())
    # words all in the vocabulary already: the ids of the other shards stay as they were
    anno["v_test2"]["sentences"][0] = "A person opens the cup."
    (data / "test.json").write_text(json.dumps(anno))
    manifest = load_manifest(prepare(cfg, data, out, shard_size=3, progress=False))
    said = capsys.readouterr().out
    assert "test-00002-of-00003.tfrecord: its queries changed" in said
    assert {n for n in after if after[n] != _stamps(out)[n]} == {"test-00002-of-00003.tfrecord"}
    sentences = [m["sentence"].numpy()[0].decode() for _, _, m in
                 make_dataset(manifest, "test", 1, training=False, with_meta=True)]
    assert sentences[6] == "A person opens the cup."


def test_changed_settings_stop_and_name_the_setting(tmp_path):
    data, out = tmp_path / "data", tmp_path / "shards"
    write_layout(data, "tacos", splits=("test",))
    cfg = small_config("tacos")
    prepare(cfg, data, out, shard_size=3, progress=False)
    with pytest.raises(DataError, match=r"holds shards prepared from other inputs or settings "
                                        r"\(\S+prepare_state.json: shard_size: 3 -> 5\); choose "
                                        r"another --out or pass --overwrite"):
        prepare(cfg, data, out, shard_size=5, progress=False)
