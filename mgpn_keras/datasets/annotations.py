"""Readers of the three benchmarks' annotation files, in the layout of microsoft/2D-TAN `data/`.

- Charades-STA: `charades_sta_{split}.txt`, one `VIDEO START END##SENTENCE` per line (seconds),
  and `Charades_v1_{split}.csv`, whose column `length` is the video's duration in seconds.
- TACoS: `{split}.json`, video -> {"timestamps": [[start_frame, end_frame], ...], "sentences",
  "fps", "num_frames"}; the duration is num_frames / fps.
- ActivityNet Captions: `{split}.json`, video -> {"duration", "timestamps": [[start_s, end_s], ...],
  "sentences"}. The synthetic benchmark uses this layout too.

Filtering follows the reference (REFERENCE.md 5.8, lib/datasets/*.py): start is clipped to 0, end
to the duration, and pairs with start >= end are dropped. The reference tests start < end before
clipping; on the real files both orders keep the same pairs (the counts in the README), and
testing after clipping never keeps an empty moment.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from pathlib import Path

from mgpn_keras.datasets.errors import DataError

# The data sets whose annotation layout `read_annotations` knows, and the reader of each.
LAYOUTS = {
    "charades_sta": "charades_sta",
    "tacos": "tacos",
    "activitynet": "activitynet",
    "synthetic": "activitynet",  # written in the ActivityNet layout
}

# Splits each benchmark is distributed with (val.json is ActivityNet's val_1, test.json its val_2).
STANDARD_SPLITS = {
    "charades_sta": ("train", "test"),
    "tacos": ("train", "val", "test"),
    "activitynet": ("train", "val", "test"),
    "synthetic": ("train", "val", "test"),
}


@dataclasses.dataclass(frozen=True)
class Record:
    """One (video, moment, sentence) pair. Times are seconds, 0 <= start < end <= duration."""

    video_id: str
    start: float
    end: float
    duration: float
    sentence: str
    # Where the record was read ("file:line", or "file: video 'x' sentences[k]"), so that a
    # record left out later (no known word, no features) can be named; not part of equality.
    where: str = dataclasses.field(default="", compare=False)


# Why a record is left out, by the key the manifest counts it under (`Drop.reason`).
DROP_REASONS = {
    "start_not_before_end": "start >= end",
    "outside_video": "moment outside the video",
    "empty_sentence": "empty sentence",
    "no_word_with_vector": "no word with a vector",
    "video_without_features": "video without features",
}


@dataclasses.dataclass(frozen=True)
class Drop:
    """A record left out: `reason` is a key of DROP_REASONS, `where` names file and line."""

    reason: str
    where: str
    detail: str = ""

    def message(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.where}: dropped, {DROP_REASONS[self.reason]}{detail}"


def annotation_files(name: str, data_dir: str | os.PathLike, split: str) -> list[Path]:
    """The files `read_annotations(name, data_dir, split)` reads."""
    layout = _layout(name)
    data_dir = Path(data_dir)
    if layout == "charades_sta":
        return [data_dir / f"charades_sta_{split}.txt", data_dir / f"Charades_v1_{split}.csv"]
    return [data_dir / f"{split}.json"]


def available_splits(name: str, data_dir: str | os.PathLike) -> list[str]:
    """The standard splits of `name` whose annotation files exist in `data_dir`."""
    return [s for s in STANDARD_SPLITS[_canonical(name)]
            if all(p.is_file() for p in annotation_files(name, data_dir, s))]


def read_annotations(name: str, data_dir: str | os.PathLike, split: str,
                     drops: list[Drop] | None = None) -> list[Record]:
    """Read one split of a benchmark's annotations, filtered as the reference does.

    Args:
        name: "charades_sta", "tacos" or "activitynet" ("synthetic" reads the ActivityNet layout).
        data_dir: folder holding the annotation files (see `annotation_files`).
        split: "train", "val" or "test".
        drops: if given, a `Drop` is appended for every pair left out (start >= end, or a
            moment outside the video), so that records kept + drops = pairs in the file.

    Returns:
        Records in file order (videos in JSON order, then their sentences in order).

    Raises:
        FileNotFoundError: a file is missing (named).
        DataError: a line or entry does not parse; the message names file, line or video.
    """
    layout = _layout(name)
    files = annotation_files(name, data_dir, split)
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{name} annotations: {path} does not exist (split "
                                    f"{split!r}; expected {[p.name for p in files]} in {data_dir})")
    drops = [] if drops is None else drops
    if layout == "charades_sta":
        return _read_charades(files[0], files[1], drops)
    return _read_json(files[0], (layout == "tacos"), drops)


def _canonical(name: str) -> str:
    if name not in LAYOUTS:
        raise ValueError(f"unknown data set {name!r}; expected one of {list(LAYOUTS)}")
    return name


def _layout(name: str) -> str:
    return LAYOUTS[_canonical(name)]


def _keep(video_id: str, start: float, end: float, duration: float, sentence: str,
          out: list[Record], where: str, drops: list[Drop]) -> None:
    clipped_start, clipped_end = max(start, 0.0), min(end, duration)
    if clipped_start < clipped_end:
        out.append(Record(video_id, clipped_start, clipped_end, duration, sentence, where))
    elif start >= end:
        drops.append(Drop("start_not_before_end", where, f"start {start:g} >= end {end:g}"))
    else:  # a proper moment that clipping to [0, duration] empties
        drops.append(Drop("outside_video", where, f"[{start:g}, {end:g}] lies outside video "
                          f"{video_id!r} of duration {duration:g}"))


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{what}: expected a finite number, got {value!r}")
    return float(value)


def _read_charades(txt: Path, csv_path: Path, drops: list[Drop]) -> list[Record]:
    durations: dict[str, float] = {}
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"id", "length"} <= set(reader.fieldnames):
            raise DataError(f"{csv_path}: expected a CSV header with columns 'id' and 'length', "
                            f"got {reader.fieldnames}")
        for row in reader:
            try:
                durations[row["id"]] = float(row["length"])
            except (TypeError, ValueError):
                raise DataError(f"{csv_path}:{reader.line_num}: video {row.get('id')!r}: "
                                f"expected a number in column 'length', got "
                                f"{row.get('length')!r}") from None
    records: list[Record] = []
    with open(txt, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            expected = "expected 'VIDEO START END##SENTENCE'"
            parts = line.split("##")
            fields = parts[0].split(" ")
            if len(parts) != 2 or len(fields) != 3:
                raise DataError(f"{txt}:{line_no}: {expected}, got {line!r}")
            video_id, s, e = fields
            try:
                start, end = float(s), float(e)
            except ValueError:
                raise DataError(f"{txt}:{line_no}: {expected} with numeric START and END, "
                                f"got {line!r}") from None
            if not (math.isfinite(start) and math.isfinite(end)):
                raise DataError(f"{txt}:{line_no}: {expected} with finite times, got {line!r}")
            if video_id not in durations:
                raise DataError(f"{txt}:{line_no}: video {video_id!r} has no duration in "
                                f"{csv_path} (expected a row with id {video_id!r})")
            # The reference keeps the text before '.\n': a trailing full stop is removed.
            sentence = parts[1].strip()
            if sentence.endswith("."):
                sentence = sentence[:-1].rstrip()
            _keep(video_id, start, end, durations[video_id], sentence, records,
                  f"{txt}:{line_no}", drops)
    return records


def _read_json(path: Path, frames: bool, drops: list[Drop]) -> list[Record]:
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object mapping video id -> annotation, got "
                        f"{type(data).__name__}")
    needed = ("timestamps", "sentences") + (("fps", "num_frames") if frames else ("duration",))
    records: list[Record] = []
    for video_id, anno in data.items():
        where = f"{path}: video {video_id!r}"
        if not isinstance(anno, dict) or not all(k in anno for k in needed):
            have = sorted(anno) if isinstance(anno, dict) else type(anno).__name__
            raise DataError(f"{where}: expected keys {list(needed)}, got {have}")
        stamps, sentences = anno["timestamps"], anno["sentences"]
        if not isinstance(stamps, list) or not isinstance(sentences, list) \
                or len(stamps) != len(sentences):
            raise DataError(f"{where}: expected lists 'timestamps' and 'sentences' of equal "
                            f"length, got {_length(stamps)} and {_length(sentences)}")
        if frames:
            fps = _number(anno["fps"], f"{where}: 'fps'")
            if fps <= 0:
                raise DataError(f"{where}: expected 'fps' > 0, got {fps}")
            duration = _number(anno["num_frames"], f"{where}: 'num_frames'") / fps
        else:
            fps = 1.0
            duration = _number(anno["duration"], f"{where}: 'duration'")
        for k, (stamp, sentence) in enumerate(zip(stamps, sentences)):
            if not isinstance(stamp, (list, tuple)) or len(stamp) != 2:
                raise DataError(f"{where}: timestamps[{k}]: expected [start, end], got {stamp!r}")
            if not isinstance(sentence, str):
                raise DataError(f"{where}: sentences[{k}]: expected a string, got {sentence!r}")
            start = _number(stamp[0], f"{where}: timestamps[{k}][0]") / fps
            end = _number(stamp[1], f"{where}: timestamps[{k}][1]") / fps
            _keep(str(video_id), start, end, duration, sentence.strip(), records,
                  f"{where} sentences[{k}]", drops)
    return records


def _length(value) -> str:
    return str(len(value)) if isinstance(value, list) else type(value).__name__
