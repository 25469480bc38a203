"""Bad inputs a user may bring, each a one-line error naming the file and what was expected:
a GloVe file with a ragged or non-numeric line, an HDF5 feature file with a mis-shaped
dataset or a group without one, a TACoS json whose fps is 0, a manifest of another format
version, a --config YAML that is not a mapping."""

import json

import h5py
import numpy as np
import pytest
from data_layouts import small_config, write_layout

from mgpn_keras import cli
from mgpn_keras.datasets import DataError, load_manifest, read_annotations
from mgpn_keras.datasets import manifest as manifest_lib
from mgpn_keras.datasets.prepare import prepare
from mgpn_keras.cli import train as train_command

TINY = ["--set", "model.input_size=12", "--set", "model.num_sample_clips=16",
        "--set", "model.pool_stride=2", "--set", "model.num_clips=8",
        "--set", "model.num_scale_layers=[3, 2]"]


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize("bad_line, expected", [
    ("door 0.1 0.2", r"glove.tiny.4d.txt:2: word 'door': expected 4 values, got 2"),
    ("door 0.1 x 0.3 0.4", r"glove.tiny.4d.txt:2: word 'door': expected 4 numbers, got "),
])
def test_glove_file_with_a_ragged_or_non_numeric_line(tmp_path, bad_line, expected, monkeypatch):
    monkeypatch.setenv("MGPN_KERAS_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    write_layout(data, "tacos", splits=("test",))
    glove = tmp_path / "glove.tiny.4d.txt"
    glove.write_text(f"person 1 2 3 4\n{bad_line}\n")
    with pytest.raises(SystemExit, match=rf"^mgpn prepare: error: \S+{expected}") as err:
        cli.main(["prepare", "--preset", "tacos", "--data-dir", str(data), "--out",
                  str(tmp_path / "shards"), "--glove", str(glove), "--no-progress",
                  "--set", "model.word_dim=4", *TINY])
    _one_line(err)


@pytest.mark.parametrize("shape, expected", [
    ((40,), r"features have shape \(40,\), expected \(clips, 12\)"),
    ((40, 12, 1), r"features have shape \(40, 12, 1\), expected \(clips, 12\)"),
])
def test_hdf5_dataset_of_the_wrong_shape(tmp_path, shape, expected):
    data = tmp_path / "data"
    write_layout(data, "tacos", splits=("test",))
    with h5py.File(data / "tall_c3d_features.hdf5", "a") as f:
        del f["ste-d1"]
        f["ste-d1"] = np.ones(shape, np.float32)
    with pytest.raises(SystemExit, match=rf"^mgpn prepare: error: video 'ste-d1.avi' in \S+"
                                         rf"tall_c3d_features.hdf5: {expected}$") as err:
        cli.main(["prepare", "--preset", "tacos", "--data-dir", str(data), "--out",
                  str(tmp_path / "shards"), "--no-progress", "--set", "model.word_dim=50", *TINY])
    _one_line(err)


def test_hdf5_group_without_its_dataset(tmp_path):
    data = tmp_path / "data"
    write_layout(data, "activitynet_hdf5", splits=("test",))
    with h5py.File(data / "sub_activitynet_v1-3.c3d.hdf5", "a") as f:
        del f["v_test1"]["c3d_features"]
        f["v_test1"]["a"], f["v_test1"]["b"] = np.ones((4, 12)), np.ones((4, 12))
    with pytest.raises(DataError, match=r"^feature file \S+sub_activitynet_v1-3.c3d.hdf5: video "
                                        r"'v_test1' \(key 'v_test1'\): expected a dataset or a "
                                        r"group holding 'c3d_features', got a group with "
                                        r"\['a', 'b'\]$") as err:
        prepare(small_config("activitynet_hdf5"), data, tmp_path / "shards", progress=False)
    _one_line(err)


def test_hdf5_file_missing_a_video_is_counted(tmp_path):
    data = tmp_path / "data"
    write_layout(data, "tacos", splits=("test",))
    with h5py.File(data / "tall_c3d_features.hdf5", "a") as f:
        del f["ste-d2"]
    manifest = load_manifest(prepare(small_config("tacos"), data, tmp_path / "s", progress=False))
    assert manifest.dropped_by_reason["test"]["video_without_features"] == 3
    assert manifest.counts["test"] + manifest.dropped["test"] == manifest.read["test"] == 12


@pytest.mark.parametrize("fps", [0, -29.4])
def test_tacos_json_whose_fps_is_not_positive(tmp_path, fps):
    data = tmp_path / "data"
    write_layout(data, "tacos", splits=("test",))
    anno = json.loads((data / "test.json").read_text())
    anno["ste-d1.avi"]["fps"] = fps
    (data / "test.json").write_text(json.dumps(anno))
    with pytest.raises(DataError, match=rf"^\S+test.json: video 'ste-d1.avi': expected 'fps' > 0,"
                                        rf" got {float(fps)}$") as err:
        read_annotations("tacos", data, "test")
    _one_line(err)


def test_manifest_of_another_format_version(tmp_path):
    data = tmp_path / "data"
    write_layout(data, "tacos", splits=("test",))
    path = prepare(small_config("tacos"), data, tmp_path / "shards", progress=False)
    content = json.loads(path.read_text())
    name, version = manifest_lib.FORMAT.rsplit("/", 1)
    content["format"] = f"{name}/{int(version) - 1}"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=rf"^manifest \S+manifest.json: expected format "
                                        rf"'{manifest_lib.FORMAT}', got '{content['format']}' "
                                        rf"\(written by another version of mgpn_keras; prepare "
                                        rf"the shards again with `mgpn prepare`\)$") as err:
        load_manifest(path)
    _one_line(err)


@pytest.mark.parametrize("text, got", [("- model\n- train\n", "a list"),
                                       ("just a string\n", "a str"), ("", "nothing")])
def test_config_yaml_that_is_not_a_mapping(tmp_path, text, got):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit, match=rf"^train.py: error: config file '{path}': expected a mapping of "
                                         rf"'name' and the sections \[.*\], got {got}$") as err:
        train_command.main(["--config", str(path), "--epochs", "1"])
    _one_line(err)
