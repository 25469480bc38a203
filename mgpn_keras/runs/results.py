"""results.json of a run folder: {entry: {"R1@0.3": ..., ..., "mIoU": ...}} with fractions.

Every writer (training's final evaluation, `mgpn evaluate`, `mgpn evaluate --window`) merges
its entries into what the file holds, so one evaluation never drops another's numbers.
"""

from __future__ import annotations

import json
import os

from mgpn_keras.atomic import write_json


def merge_results(path: str | os.PathLike, entries: dict[str, dict]) -> dict:
    """Write `entries` ({split or "split@window": metrics}) into results.json at `path`,
    keeping the entries already there that `entries` does not name; returns the whole file."""
    merged = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            merged = json.load(f)
    merged.update(entries)
    write_json(path, merged, indent=2)
    return merged
