"""Annotation readers: the real files of the three benchmarks, small files in each layout, and
lines that do not parse."""

import json
from pathlib import Path

import pytest
from data_layouts import DATASET, LAYOUTS, write_layout

from mgpn_keras.datasets import DataError, read_annotations
from mgpn_keras.datasets.annotations import available_splits

SHARED = Path(__file__).resolve().parents[2] / "shared"
ANNOTATIONS = SHARED / "data" / "annotations"
REAL_COUNTS = [
    ("charades_sta", "Charades-STA", "train", 12404),
    ("charades_sta", "Charades-STA", "test", 3720),
    ("tacos", "TACoS", "train", 9790), ("tacos", "TACoS", "val", 4436),
    ("tacos", "TACoS", "test", 4001),
    ("activitynet", "ActivityNet", "train", 37417), ("activitynet", "ActivityNet", "val", 17505),
    ("activitynet", "ActivityNet", "test", 17031),
]


@pytest.mark.parametrize("name,folder,split,count", REAL_COUNTS)
def test_real_annotation_counts(name, folder, split, count):
    if not (ANNOTATIONS / folder).is_dir():
        pytest.skip(f"real annotation files not found at {ANNOTATIONS / folder} (the ../shared "
                    f"folder beside the repository is absent)")
    records = read_annotations(name, ANNOTATIONS / folder, split)
    assert len(records) == count
    assert all(0 <= r.start < r.end <= r.duration for r in records)
    assert all(isinstance(r.sentence, str) and r.sentence for r in records)


def test_real_first_records():
    if not ANNOTATIONS.is_dir():
        pytest.skip(f"real annotation files not found at {ANNOTATIONS}")
    charades = read_annotations("charades_sta", ANNOTATIONS / "Charades-STA", "train")[0]
    assert (charades.video_id, charades.start, charades.end, charades.duration) == \
        ("AO8RW", 0.0, 6.9, 33.67)
    assert charades.sentence == "a person is putting a book on a shelf"  # '.' removed
    tacos = read_annotations("tacos", ANNOTATIONS / "TACoS", "train")[0]
    assert tacos.video_id == "s17-d69.avi"
    assert tacos.start == pytest.approx(224 / 29.4) and tacos.end == pytest.approx(358 / 29.4)
    assert tacos.duration == pytest.approx(12438 / 29.4)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_small_files_in_each_layout(tmp_path, layout):
    written = write_layout(tmp_path, layout, splits=("train", "test"))
    assert available_splits(DATASET[layout], tmp_path) == ["train", "test"]
    for split, expected in written["expected"].items():
        records = read_annotations(DATASET[layout], tmp_path, split)
        got = [(r.video_id, r.start, r.end, r.duration, r.sentence) for r in records]
        assert len(got) == len(expected) == 9  # 3 videos x 3 kept sentences of 4
        for g, e in zip(got, expected):
            assert g[0] == e[0] and g[4] == e[4]
            assert g[1:4] == pytest.approx(e[1:4])


def test_filtering_drops_empty_moments_and_clips_the_end(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps({"v_a": {
        "duration": 10.0, "timestamps": [[2, 2], [3, 2], [-1, 4], [5, 12], [11, 13]],
        "sentences": ["empty", "reversed", "negative start", "past the end", "after the end"]}}))
    records = read_annotations("activitynet", tmp_path, "train")
    assert [(r.sentence, r.start, r.end) for r in records] == [
        ("negative start", 0.0, 4.0), ("past the end", 5.0, 10.0)]


def test_synthetic_name_reads_the_activitynet_layout(tmp_path):
    write_layout(tmp_path, "activitynet_npy", splits=("train",))
    assert read_annotations("synthetic", tmp_path, "train") == \
        read_annotations("activitynet", tmp_path, "train")


# ------------------------------------------------------------------------------ bad input
def _charades(tmp_path, lines, csv_rows="AB12,10.0\n"):
    (tmp_path / "Charades_v1_train.csv").write_text("id,length\n" + csv_rows)
    (tmp_path / "charades_sta_train.txt").write_text("".join(line + "\n" for line in lines))
    return tmp_path


@pytest.mark.parametrize("line", [
    "AB12 1.0 2.0 a person sits",  # no '##'
    "AB12 1.0##a person sits",  # two fields
    "AB12 one 2.0##a person sits",  # not a number
    "AB12 1.0 2.0##a ## b",  # two separators
])
def test_charades_line_that_does_not_parse(tmp_path, line):
    _charades(tmp_path, ["AB12 0.0 1.0##fine", line])
    with pytest.raises(DataError) as err:
        read_annotations("charades_sta", tmp_path, "train")
    message = str(err.value)
    assert "charades_sta_train.txt:2" in message
    assert "expected 'VIDEO START END##SENTENCE'" in message


def test_charades_video_without_duration(tmp_path):
    _charades(tmp_path, ["ZZ99 0.0 1.0##a person sits"])
    with pytest.raises(DataError, match=r"charades_sta_train.txt:1: video 'ZZ99' has no "
                                        r"duration in .*Charades_v1_train.csv"):
        read_annotations("charades_sta", tmp_path, "train")


def test_charades_bad_duration(tmp_path):
    _charades(tmp_path, ["AB12 0.0 1.0##x"], csv_rows="AB12,long\n")
    with pytest.raises(DataError, match=r"Charades_v1_train.csv:2: video 'AB12': expected a "
                                        r"number in column 'length'"):
        read_annotations("charades_sta", tmp_path, "train")


@pytest.mark.parametrize("name,content,pattern", [
    ("tacos", '{"s1.avi": {"timestamps": [[1, 2]], "sentences": ["x"]', r"train.json:1: not "
     r"valid JSON"),
    ("tacos", '{"s1.avi": {"timestamps": [[1, 2]], "sentences": ["x"], "fps": 30}}',
     r"video 's1.avi': expected keys \['timestamps', 'sentences', 'fps', 'num_frames'\]"),
    ("activitynet", '{"v_a": {"duration": 9, "timestamps": [[1, 2], [2, 3]], "sentences": '
     '["x"]}}', r"video 'v_a': expected lists 'timestamps' and 'sentences' of equal length, "
     r"got 2 and 1"),
    ("activitynet", '{"v_a": {"duration": "long", "timestamps": [], "sentences": []}}',
     r"video 'v_a': 'duration': expected a finite number, got 'long'"),
    ("activitynet", '{"v_a": {"duration": 9, "timestamps": [[1]], "sentences": ["x"]}}',
     r"video 'v_a': timestamps\[0\]: expected \[start, end\], got \[1\]"),
    ("activitynet", '[1, 2]', r"train.json: expected a JSON object mapping video id"),
])
def test_json_that_does_not_parse(tmp_path, name, content, pattern):
    (tmp_path / "train.json").write_text(content)
    with pytest.raises(DataError, match=pattern):
        read_annotations(name, tmp_path, "train")


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"test.json does not exist"):
        read_annotations("tacos", tmp_path, "test")
    with pytest.raises(ValueError, match=r"unknown data set 'charades'"):
        read_annotations("charades", tmp_path, "test")
