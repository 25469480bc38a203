"""`mgpn prepare --workers 2` (Beam, DirectRunner multi_processing) writes the local path's
shards and manifest; a shard that fails mid-pipeline is written once by the re-run."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf
from data_layouts import small_config, write_layout
from test_data_accounting import TINY, _add_one_record_per_reason

from mgpn_keras import cli
from mgpn_keras.datasets import load_manifest

pytest.importorskip("apache_beam")
pytestmark = pytest.mark.slow

COUNTS = ("counts", "dropped", "read", "dropped_by_reason", "shards", "vocabulary")


def _records(out):
    return {p.name: [r.numpy() for r in tf.data.TFRecordDataset(str(p))]
            for p in sorted(out.glob("*.tfrecord"))}


def _manifest(out):
    return {k: v for k, v in json.loads((out / "manifest.json").read_text()).items()
            if k in COUNTS}


def _prepare(data, out, *flags):
    return cli.main(["prepare", "--preset", small_config("activitynet_npy").name,
                     "--data-dir", str(data), "--out", str(out), "--no-progress",
                     "--shard-size", "3", *TINY, *flags])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepare_beam")
    write_layout(root / "data", "activitynet_npy", splits=("train", "test"))
    _add_one_record_per_reason(root / "data", "activitynet", "v_test0")
    assert _prepare(root / "data", root / "local") == 0
    return root


def test_two_workers_write_the_local_shards_and_counts(data, capsys):
    out = data / "beam2"
    capsys.readouterr()
    assert _prepare(data / "data", out, "--workers", "2") == 0
    said = capsys.readouterr().out
    assert _records(out) == _records(data / "local")
    assert len(_records(out)) > 2  # several shards, spread over the workers
    assert _manifest(out) == _manifest(data / "local")
    manifest = load_manifest(out)
    assert manifest.counts["test"] + manifest.dropped["test"] == manifest.read["test"]
    assert "test: 9 queries kept of 16 records read" in said
    work, run = map(float, re.search(r"DirectRunner x2: the workers worked (\S+) s of the run's "
                                     r"(\S+) s", said).groups())
    assert 0 < work < run
    assert load_manifest(out).info["pipeline"] == {"runner": "DirectRunner", "workers": 2,
                                                   "work_seconds": pytest.approx(work, abs=0.05)}
    np.testing.assert_array_equal(np.load(out / "vectors.npy"), np.load(data / "local" / "vectors.npy"))
    state = json.loads((out / "prepare_state.json").read_text())
    assert state == json.loads((data / "local" / "prepare_state.json").read_text())


def test_a_failing_shard_is_written_once_by_the_rerun(data, tmp_path):
    src = data / "data" / "c3d_features" / "v_train1.npy"
    features = tmp_path / "features"
    features.mkdir()
    for p in src.parent.glob("*.npy"):
        (features / p.name).write_bytes(p.read_bytes())
    (features / "v_train1.npy").write_bytes(b"not an npy file")  # this video's shard fails
    out = tmp_path / "beam"
    flags = ("--runner", "DirectRunner", "--features", str(features))
    with pytest.raises(BaseException, match="v_train1"):
        _prepare(data / "data", out, *flags)
    assert not (out / "manifest.json").exists()
    written = {p.name for p in out.glob("*.tfrecord")}
    assert "train-00001-of-00003.tfrecord" not in written  # no partial shard
    (features / "v_train1.npy").write_bytes(src.read_bytes())
    assert _prepare(data / "data", out, *flags) == 0
    assert _records(out) == _records(data / "local")
    assert not list(out.glob(".*tmp*"))
    assert _manifest(out)["counts"] == _manifest(data / "local")["counts"]


def test_strict_writes_no_shard_when_a_worker_drops_a_record(tmp_path):
    data = tmp_path / "data"
    write_layout(data, "activitynet_npy", splits=("test",))
    anno = json.loads((data / "test.json").read_text())
    for video in anno.values():  # no record the reader drops: the workers' classify must
        video["timestamps"], video["sentences"] = video["timestamps"][:2], video["sentences"][:2]
    (data / "test.json").write_text(json.dumps(anno))
    (data / "c3d_features" / "v_test1.npy").unlink()
    with pytest.raises(SystemExit, match=r"test.json: video 'v_test1' sentences\[0\]: dropped, "
                                         r"video without features: .*\(--strict .*; 1 more "
                                         r"dropped\)$"):
        _prepare(data, tmp_path / "shards", "--strict", "--runner", "DirectRunner")
    assert not list((tmp_path / "shards").glob("*.tfrecord"))
