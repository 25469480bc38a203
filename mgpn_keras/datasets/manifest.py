"""The manifest of a prepared data set: what `prepare` wrote and what `make_dataset` reads.

`manifest.json` holds the preset, the resolved config, the vocabulary, the counts per split, the
feature width and the shard list; the vocabulary's vector matrix lies beside it in `vectors.npy`
(named by the manifest), so that the JSON stays readable for 300-d vectors.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from mgpn_keras.config import Config, from_dict
from mgpn_keras.datasets.errors import DataError

# 2: records hold each video's features as the source does (own clip count, float16/float32);
# normalisation and averaging moved into the tf.data map. 1: averaged float32 features.
FORMAT = "mgpn_keras.shards/2"
# Records also hold each clip's L2 norm (`examples.py`); shards written before that carry the
# same FORMAT, so prepare's resume settings record RECORD_LAYOUT too: a folder of shards
# without the norms is refused (prepare again with --overwrite) rather than resumed.
RECORD_LAYOUT = "video-with-clip-norms"
MANIFEST_NAME = "manifest.json"
_KEYS = ("preset", "feature_width", "num_sample_clips", "word_dim", "counts", "shards",
         "vectors_file", "config", "vocabulary")


@dataclasses.dataclass
class Manifest:
    """A loaded manifest.

    Attributes:
        preset: the config's name at prepare time (e.g. "tacos").
        config: the resolved Config of the latest `prepare` into this folder. `make_dataset`
            takes the target map's side N from `config.model.num_clips` unless given
            `num_clips=`.
        vocabulary: words by id; [0] = "<pad>", [1] = "<unk>".
        vectors: (V, word_dim) float32; rows 0 and 1 are zero.
        counts: split -> number of queries.
        feature_width: width of a clip feature (config.model.input_size).
        root: the folder of the manifest and its shards.
        num_sample_clips: clips per query after averaging.
        shards: split -> [(path, number of queries)], in record order.
        dropped: split -> records left out, for any reason.
        dropped_by_reason: split -> {reason: records} (reasons: annotations.DROP_REASONS).
        read: split -> records read from the annotation file (counts + dropped).
        info: other facts recorded by prepare (GloVe source, feature path, data dir, timing).
    """

    preset: str
    config: Config
    vocabulary: list[str]
    vectors: np.ndarray
    counts: dict[str, int]
    feature_width: int
    root: Path
    num_sample_clips: int
    shards: dict[str, list[tuple[Path, int]]]
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    dropped_by_reason: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    read: dict[str, int] = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)

    @property
    def word_dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def path(self) -> Path:
        return self.root / MANIFEST_NAME


def manifest_dict(cfg: Config, vocabulary: list[str], vectors_file: str,
                  counts: dict[str, int], dropped: dict[str, int],
                  shards: dict[str, list[tuple[str, int]]], info: dict, *,
                  read: dict[str, int] | None = None,
                  dropped_by_reason: dict[str, dict[str, int]] | None = None) -> dict:
    """The JSON content of a manifest.

    `read` (records read per split) and `dropped_by_reason` ({split: {reason: n}}) say where
    every record went: counts + dropped = read.
    """
    return {
        "format": FORMAT,
        "preset": cfg.name,
        "dataset": cfg.data.dataset,
        "feature_width": cfg.model.input_size,
        "num_sample_clips": cfg.model.num_sample_clips,
        "word_dim": cfg.model.word_dim,
        "counts": counts,
        "dropped": dropped,
        "read": read if read is not None else {s: counts[s] + dropped.get(s, 0) for s in counts},
        "dropped_by_reason": dropped_by_reason or {},
        "shards": {s: [{"file": f, "queries": n} for f, n in v] for s, v in shards.items()},
        "vectors_file": vectors_file,
        "info": info,
        "config": cfg.to_dict(),
        "vocabulary": vocabulary,
    }


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Load a manifest written by `prepare`: the JSON file, or the folder that holds it.

    Raises:
        FileNotFoundError: the manifest, its vector file or a shard is missing.
        DataError: the content is not a manifest or disagrees with itself.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} does not exist (run `mgpn prepare` first)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"manifest {path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DataError(f"manifest {path}: expected a JSON object with format {FORMAT!r}, got "
                        f"{type(data).__name__}")
    if data.get("format") != FORMAT:  # e.g. format 1's averaged shards: prepare again
        raise DataError(f"manifest {path}: expected format {FORMAT!r}, got "
                        f"{data.get('format')!r} (written by another version of mgpn_keras; "
                        f"prepare the shards again with `mgpn prepare`)")
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise DataError(f"manifest {path}: missing {missing}, expected the keys {list(_KEYS)}")
    root = path.parent
    try:
        cfg = from_dict(data["config"])
    except ValueError as exc:
        raise DataError(f"manifest {path}: {exc}") from None
    vocabulary = list(data["vocabulary"])
    vectors_path = root / data["vectors_file"]
    if not vectors_path.is_file():
        raise FileNotFoundError(f"manifest {path}: vector file {vectors_path} does not exist")
    vectors = np.load(vectors_path, allow_pickle=False).astype(np.float32)
    if vectors.shape != (len(vocabulary), data["word_dim"]):
        raise DataError(f"manifest {path}: {vectors_path.name} has shape {vectors.shape}, "
                        f"expected ({len(vocabulary)}, {data['word_dim']}) for its vocabulary")
    shards: dict[str, list[tuple[Path, int]]] = {}
    for split, entries in data["shards"].items():
        shards[split] = []
        for entry in entries:
            shard = root / entry["file"]
            if not shard.is_file():
                raise FileNotFoundError(f"manifest {path}: shard {shard} does not exist")
            shards[split].append((shard, int(entry["queries"])))
    return Manifest(preset=data["preset"], config=cfg, vocabulary=vocabulary, vectors=vectors,
                    counts={k: int(v) for k, v in data["counts"].items()},
                    feature_width=int(data["feature_width"]), root=root,
                    num_sample_clips=int(data["num_sample_clips"]), shards=shards,
                    dropped={k: int(v) for k, v in data.get("dropped", {}).items()},
                    dropped_by_reason={k: {r: int(n) for r, n in v.items()} for k, v in
                                       data.get("dropped_by_reason", {}).items()},
                    read={k: int(v) for k, v in data.get("read", {}).items()},
                    info=dict(data.get("info", {})))


def check_manifest(manifest: Manifest | str | os.PathLike, cfg: Config) -> Manifest:
    """Raise ValueError naming every disagreement between a manifest and a config.

    Compared: preset name, data set, input_size (feature width), num_sample_clips, word_dim.
    Returns the (loaded) manifest.
    """
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    pairs = [
        ("preset", m.preset, cfg.name),
        ("data.dataset", m.config.data.dataset, cfg.data.dataset),
        ("model.input_size (feature width)", m.feature_width, cfg.model.input_size),
        ("model.num_sample_clips", m.num_sample_clips, cfg.model.num_sample_clips),
        ("model.word_dim", m.word_dim, cfg.model.word_dim),
    ]
    bad = [f"{key}: manifest has {have!r}, config expects {want!r}"
           for key, have, want in pairs if have != want]
    if bad:
        raise ValueError(f"manifest {m.path} does not fit config {cfg.name!r}: " + "; ".join(bad))
    return m
