"""What each shard of `prepare` was made from, so that a resumed run notices changed inputs.

`prepare_state.json` holds the settings the shards depend on (data set, feature name,
normalisation, widths, clip count, splits, shard size) and, per finished shard, its inputs: a
hash of its queries (video, duration, times, sentence, vocabulary ids, position) and the size and
modification time of each feature file it read. A later run

- stops when a setting changed, naming it (unless `--overwrite`);
- rebuilds a shard whose inputs changed (an edited annotation line, a new GloVe file that
  changes the vocabulary ids, a rewritten feature file), saying which;
- keeps every other finished shard.

Sizes and modification times stand in for content hashes of the feature files, which can be
hundreds of GB; the queries are hashed since they are in memory anyway.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def shard_inputs(runs: list[list], store) -> dict:
    """The inputs of one shard: {"queries": sha256, "features": {file: "size:mtime_ns"}}.

    Args:
        runs: the shard's runs of (index in split, Record, vocabulary ids), as prepare plans them.
        store: the open feature store (`features.FeatureStore`).
    """
    queries = [[r.video_id, r.duration, index, list(ids), r.start, r.end, r.sentence]
               for run in runs for index, r, ids in run]
    files: dict[str, str] = {}
    for run in runs:
        path = store.source_file(run[0][1].video_id)
        if path is not None and str(Path(path).resolve()) not in files:
            stat = Path(path).stat()
            files[str(Path(path).resolve())] = f"{stat.st_size}:{stat.st_mtime_ns}"
    digest = hashlib.sha256(json.dumps(queries).encode("utf-8")).hexdigest()
    return {"queries": digest, "features": files}


def describe_change(old: dict, new: dict) -> str:
    """Why a finished shard with inputs `old` must be rebuilt for `new` (they differ)."""
    changed = [f for f in new["features"] if old.get("features", {}).get(f) != new["features"][f]]
    if changed:
        return f"feature file {changed[0]} changed (size or modification time)"
    return "its queries changed (annotation lines, or the vocabulary ids of their words)"


def changed_settings(old: dict, new: dict) -> list[str]:
    """'key: old -> new' for each setting that differs."""
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]
