"""Every record `prepare` reads is kept or dropped for a named reason, in each annotation layout:
counts + dropped = read, a summary line per split even with --no-progress, --strict errors."""

import csv
import json

import numpy as np
import pytest
from data_layouts import TACOS_FPS, small_config, write_layout

from mgpn_keras import cli
from mgpn_keras.datasets import load_manifest
from mgpn_keras.datasets.annotations import DROP_REASONS
from mgpn_keras.datasets.prepare import prepare

# (layout, the preset's --data-dir layout in data_layouts, a video of the test split)
LAYOUTS = {"charades_sta": ("charades_i3d", "TE0X"), "tacos": ("tacos", "ste-d0.avi"),
           "activitynet": ("activitynet_npy", "v_test0")}
TINY = ["--set", "model.input_size=12", "--set", "model.word_dim=50", "--set",
        "model.num_sample_clips=16", "--set", "model.pool_stride=2", "--set", "model.num_clips=8",
        "--set", "model.num_scale_layers=[3, 2]"]


def _add_one_record_per_reason(data, dataset, video):
    """Beside write_layout's one start >= end pair per video, one pair of every other reason:
    a moment past the video's end (10 s), an empty sentence, words without vectors and a video
    the feature store does not hold."""
    extra = [(video, 12.0, 15.0, "a person opens the door"), (video, 1.0, 2.0, ""),
             (video, 1.0, 2.0, "Qzxv blorpt"), ("nofeat", 1.0, 2.0, "a person opens the door")]
    if dataset == "charades_sta":
        with open(data / "Charades_v1_test.csv", "a", newline="") as f:
            csv.writer(f).writerow(["nofeat", "S", "Kitchen", "10.00"])
        with open(data / "charades_sta_test.txt", "a") as f:
            f.writelines(f"{v} {s} {e}##{text}\n" for v, s, e, text in extra)
        return
    anno = json.loads((data / "test.json").read_text())
    scale = TACOS_FPS if dataset == "tacos" else 1.0
    first = anno[video]
    anno["nofeat"] = {k: (v if k not in ("timestamps", "sentences") else []) for k, v in first.items()}
    for v, s, e, text in extra:
        anno[v]["timestamps"].append([round(s * scale), round(e * scale)] if scale != 1.0 else [s, e])
        anno[v]["sentences"].append(text)
    (data / "test.json").write_text(json.dumps(anno))


@pytest.mark.parametrize("dataset", list(LAYOUTS))
def test_every_record_is_kept_or_counted_by_reason(tmp_path, capsys, dataset):
    layout, video = LAYOUTS[dataset]
    data = tmp_path / "data"
    write_layout(data, layout, splits=("test",))
    _add_one_record_per_reason(data, dataset, video)
    out = tmp_path / "shards"
    assert cli.main(["prepare", "--preset", small_config(layout).name, "--data-dir", str(data),
                     "--out", str(out), "--no-progress", *TINY]) == 0
    manifest = load_manifest(out)
    expected = dict.fromkeys(DROP_REASONS, 1)
    expected["start_not_before_end"] = 3  # one per video of write_layout
    assert manifest.dropped_by_reason == {"test": expected}
    assert manifest.read == {"test": 16} and manifest.counts == {"test": 9}
    assert manifest.counts["test"] + manifest.dropped["test"] == manifest.read["test"]
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines == ["  test: 9 queries kept of 16 records read (1 shard); 7 dropped: 3 start "
                     ">= end, 1 moment outside the video, 1 empty sentence, 1 no word with a "
                     "vector, 1 video without features"]


@pytest.mark.parametrize("dataset", list(LAYOUTS))
def test_strict_makes_the_first_drop_an_error_naming_file_and_line(tmp_path, dataset):
    layout, video = LAYOUTS[dataset]
    data = tmp_path / "data"
    write_layout(data, layout, splits=("test",))
    where = ("charades_sta_test.txt:3" if dataset == "charades_sta"
             else rf"test.json: video '{video}' sentences\[2\]")
    with pytest.raises(SystemExit, match=rf"^mgpn prepare: error: \S+{where}: dropped, start >= end: "
                                         rf"start \S+ >= end \S+ \(--strict makes every dropped "
                                         rf"record an error; 2 more dropped\)$"):
        cli.main(["prepare", "--preset", small_config(layout).name, "--data-dir", str(data),
                  "--out", str(tmp_path / "shards"), "--no-progress", "--strict", *TINY])
    assert not (tmp_path / "shards").exists()  # nothing written


def test_strict_names_a_video_without_features(tmp_path):
    data = tmp_path / "data"
    write_layout(data, "activitynet_npy", splits=("test",))
    anno = json.loads((data / "test.json").read_text())
    for video in anno.values():  # only the dropped pairs of interest remain
        video["timestamps"], video["sentences"] = video["timestamps"][:2], video["sentences"][:2]
    (data / "c3d_features" / "v_test1.npy").unlink()
    (data / "test.json").write_text(json.dumps(anno))
    cfg = small_config("activitynet_npy")
    with pytest.raises(ValueError, match=r"test.json: video 'v_test1' sentences\[0\]: dropped, "
                                         r"video without features: video 'v_test1' is not in "
                                         r"\S+c3d_features \(--strict .*; 1 more dropped\)"):
        prepare(cfg, data, tmp_path / "shards", progress=False, strict=True)
    manifest = load_manifest(prepare(cfg, data, tmp_path / "shards", progress=False))
    assert manifest.dropped_by_reason["test"]["video_without_features"] == 2
    assert manifest.counts == {"test": 4}
    assert np.isfinite(manifest.vectors).all()
