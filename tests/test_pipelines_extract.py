"""`mgpn extract --workers 2` (Beam): the local path's features and durations; a bad video is
dead-lettered with its reason while the others are written; a re-run extracts only what is
missing."""

import json
import re
import shutil

import numpy as np
import pytest
from test_extract import kit  # noqa: F401  (the videos, spec and backbone fixture)

from mgpn_keras.cli import main

pytest.importorskip("apache_beam")
pytestmark = pytest.mark.slow


def _features(out):
    return {p.stem: np.load(p) for p in sorted(out.glob("*.npy"))}


def test_two_workers_extract_the_local_features_and_dead_letter_a_bad_video(kit, tmp_path,  # noqa: F811
                                                                           capsys):
    videos = tmp_path / "videos"
    shutil.copytree(kit["videos"], videos)
    (videos / "broken.mp4").write_text("not a video\n")
    common = ["extract", "--videos", str(videos), "--backbone", str(kit["savedmodel"]),
              "--spec", str(kit["spec"]), "--batch-size", "3"]
    local, beam = tmp_path / "local", tmp_path / "beam"
    assert main([*common, "--out", str(local), "--skip-bad", "--no-progress"]) == 1
    capsys.readouterr()
    assert main([*common, "--out", str(beam), "--workers", "2"]) == 1  # 1: a video failed
    said = capsys.readouterr().out
    assert "4 videos extracted" in said and "1 failed" in said and "broken" in said
    work, run = map(float, re.search(r"DirectRunner x2: the workers worked (\S+) s of the run's "
                                     r"(\S+) s", said).groups())
    assert 0 < work < run
    got, want = _features(beam), _features(local)
    assert sorted(got) == sorted(want) == ["ntsc", "slow7", "steady30", "vfr"]
    for video in want:
        np.testing.assert_array_equal(got[video], want[video])
    for name in ("durations.json",):
        assert json.loads((beam / name).read_text()) == json.loads((local / name).read_text())
    info, local_info = (json.loads((d / "extract.json").read_text()) for d in (beam, local))
    assert info["clips"] == local_info["clips"]
    assert list(info["failed"]) == ["broken"] and "cannot be read as a video" in info["failed"]["broken"]
    assert not list(beam.glob(".*.json")) and not list(beam.glob(".*tmp*"))  # no receipts left

    # The re-run: the fixed video is extracted, the finished ones are not touched.
    stamps = {p.name: p.stat().st_mtime_ns for p in beam.glob("*.npy")}
    shutil.copy(videos / "steady30.mp4", videos / "broken.mp4")
    capsys.readouterr()
    assert main([*common, "--out", str(beam), "--runner", "DirectRunner"]) == 0
    assert "1 videos extracted" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in beam.glob("*.npy") if p.name in stamps} == stamps
    np.testing.assert_array_equal(np.load(beam / "broken.npy"), want["steady30"])
    info = json.loads((beam / "extract.json").read_text())
    assert info["failed"] == {} and sorted(info["clips"]) == sorted([*want, "broken"])
