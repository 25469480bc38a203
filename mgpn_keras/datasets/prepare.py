"""`mgpn prepare`: annotations + video features + GloVe -> TFRecord shards and a manifest.

For each query: the sentence is tokenised by `QueryTokenizer` and mapped to vocabulary ids; the
video's features are checked, L2-normalised per clip (config.data.normalize) and averaged to
config.model.num_sample_clips clips exactly as the reference (REFERENCE.md 5.8). Queries stay in
record order; each run of consecutive queries on one video becomes one tf.train.Example
(`examples.py`) holding the video's features once, and a shard holds whole runs, at least
`shard_size` queries (the last shard fewer).

Resuming: shards are written under a temporary name and renamed when complete. A run that stops
leaves the finished shards and `prepare_state.json`; the next run with the same inputs (data
folder, features, GloVe, splits, shard size) and data settings (data set, feature name,
normalisation, input_size, num_sample_clips, word_dim) keeps them and writes only the rest.
Other config values (model size, training) may differ between runs: `manifest.json`, written
last, records the latest config.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from mgpn_keras.config import Config
from mgpn_keras.datasets import annotations as anno
from mgpn_keras.datasets import features as feats
from mgpn_keras.datasets import glove as glove_lib
from mgpn_keras.datasets import manifest as manifest_lib
from mgpn_keras.datasets.durations import duration_statistics
from mgpn_keras.datasets import vocabulary as vocab_lib
from mgpn_keras.datasets.errors import DataError

STATE_NAME = "prepare_state.json"
VECTORS_NAME = "vectors.npy"
DEFAULT_SHARD_SIZE = 256


def tokenize(sentences: list[str], chunk: int = 8192) -> list[list[str]]:
    """Tokens of each sentence, by the same `QueryTokenizer` that exported models use."""
    import tensorflow as tf

    from mgpn_keras.layers.query_tokenizer import QueryTokenizer

    tokenizer = QueryTokenizer(ragged=True)
    out: list[list[str]] = []
    for i in range(0, len(sentences), chunk):
        ragged = tokenizer(tf.constant(sentences[i:i + chunk], dtype=tf.string))
        out.extend([t.decode("utf-8") for t in row] for row in ragged.to_list())
    return out


def _glove_identity(glove) -> str:
    if glove is None or str(glove) == glove_lib.EMBEDDED:
        return glove_lib.EMBEDDED
    path = Path(glove).resolve()
    stat = path.stat() if path.exists() else None
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}" if stat else str(path)


def prepare(cfg: Config, data_dir: str | os.PathLike, out_dir: str | os.PathLike,
            glove: str | os.PathLike | None = None, splits: list[str] | None = None,
            shard_size: int = DEFAULT_SHARD_SIZE, progress: bool = True, *,
            features: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Write a data set's TFRecord shards and manifest; return the manifest's path.

    Args:
        cfg: the resolved config (its data.dataset, model.input_size, model.num_sample_clips,
            model.word_dim and data.normalize are used, and it is saved in the manifest).
        data_dir: folder of the annotation files (and, by default, of the features).
        out_dir: folder for the shards, `vectors.npy` and `manifest.json`.
        glove: None for the embedded GloVe 6B 50d, else a GloVe .txt file of width
            cfg.model.word_dim.
        splits: splits to prepare (default: the data set's standard splits present in data_dir).
        shard_size: queries per shard (at least; a shard ends at the end of a video's run).
        progress: show a progress bar and print a summary.
        features: the feature file or folder (default: the data set's usual place in data_dir,
            `features.DEFAULT_LOCATIONS`).
        overwrite: replace an output folder that holds shards of different inputs or settings
            (otherwise that is an error).

    Sentences with no known word (a token with a vector and a letter or digit; punctuation
    alone does not count) are left out and counted (manifest "dropped").
    """
    cfg.validate()
    started = time.time()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    dataset = cfg.data.dataset
    if shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size}")
    if splits is None:
        splits = anno.available_splits(dataset, data_dir)
        if not splits:
            raise FileNotFoundError(
                f"no {dataset} annotation files in {data_dir}: expected "
                f"{[p.name for p in anno.annotation_files(dataset, data_dir, 'train')]} "
                f"(and the same for {list(anno.STANDARD_SPLITS[dataset][1:])})")
    feature_path = Path(features) if features is not None else feats.default_feature_path(
        dataset, cfg.data.feature_name, data_dir)

    records = {split: anno.read_annotations(dataset, data_dir, split) for split in splits}
    tokens = {split: tokenize([r.sentence for r in recs]) for split, recs in records.items()}
    words = {t for toks in tokens.values() for sentence in toks for t in sentence}
    vectors, word_dim = glove_lib.load_vectors(words, glove, progress=progress)
    if word_dim != cfg.model.word_dim:
        raise DataError(f"GloVe source {glove or glove_lib.EMBEDDED!r} has vectors of width "
                        f"{word_dim}, config {cfg.name!r} expects model.word_dim = "
                        f"{cfg.model.word_dim} (pass --set model.word_dim={word_dim} or a GloVe "
                        f"file of width {cfg.model.word_dim})")
    vocabulary, matrix = vocab_lib.build_vocabulary(words, vectors, word_dim)

    index = vocab_lib.word_index(vocabulary)
    kept: dict[str, list[tuple[anno.Record, list[int]]]] = {}
    dropped: dict[str, int] = {}
    unknown_tokens = total_tokens = 0
    for split in splits:
        kept[split] = []
        for record, toks in zip(records[split], tokens[split]):
            ids = vocab_lib.word_ids(index, toks)
            total_tokens += len(ids)
            unknown_tokens += ids.count(vocab_lib.UNK_ID)
            # A sentence needs a known word; known punctuation alone does not count.
            if any(i > vocab_lib.UNK_ID and any(c.isalnum() for c in t)
                   for i, t in zip(ids, toks)):
                kept[split].append((record, ids))
        dropped[split] = len(records[split]) - len(kept[split])

    # What the shards depend on. Other config values (model size, training) may change between
    # runs: the shards are kept and the manifest records the latest config.
    fingerprint = {
        "format": manifest_lib.FORMAT, "dataset": dataset, "feature_name": cfg.data.feature_name,
        "normalize": cfg.data.normalize, "input_size": cfg.model.input_size,
        "num_sample_clips": cfg.model.num_sample_clips, "word_dim": cfg.model.word_dim,
        "data_dir": str(data_dir.resolve()), "features": str(feature_path.resolve()),
        "glove": _glove_identity(glove), "splits": list(splits), "shard_size": shard_size,
        "counts": {s: len(v) for s, v in kept.items()},
    }
    _claim_output(out_dir, fingerprint, overwrite)
    np.save(out_dir / VECTORS_NAME, matrix)

    plan = {split: _plan_shards(split, v, shard_size) for split, v in kept.items()}
    total = sum(len(v) for v in kept.values())
    bar = None
    if progress:
        import keras

        print(f"prepare {cfg.name}: {total} queries from {data_dir}, features {feature_path}")
        bar = keras.utils.Progbar(total, unit_name="query")
    done = reused = 0
    with feats.open_feature_store(feature_path) as store:
        for shard_list in plan.values():
            for name, runs in shard_list:
                if (out_dir / name).is_file():
                    reused += 1
                else:
                    _write_shard(out_dir / name, runs, cfg, store)
                done += _num_queries(runs)
                if bar is not None:
                    bar.update(done)

    info = {"data_dir": str(data_dir.resolve()), "features": str(feature_path.resolve()),
            "glove": str(glove) if glove is not None else glove_lib.EMBEDDED,
            "annotated": {s: len(v) for s, v in records.items()},
            "unknown_token_rate": unknown_tokens / max(total_tokens, 1),
            "seconds": round(time.time() - started, 2), "shards_reused": reused,
            # The default window of long-video retrieval (mgpn_keras.serving.windowing).
            "durations": {s: duration_statistics(v) for s, v in records.items()}}
    content = manifest_lib.manifest_dict(
        cfg, vocabulary, VECTORS_NAME, {s: len(v) for s, v in kept.items()}, dropped,
        {s: [(name, _num_queries(runs)) for name, runs in v] for s, v in plan.items()}, info)
    path = out_dir / manifest_lib.MANIFEST_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    if progress:
        _print_summary(content, path)
    return path


def _plan_shards(split: str, items: list, shard_size: int) -> list[tuple[str, list[list]]]:
    """Cut a split's (record, ids) list into shards of video runs.

    A run is a maximal stretch of consecutive queries on one video, as (index in the split,
    record, ids); it becomes one Example. A shard holds whole runs, >= shard_size queries but
    the last. Returns [(file name, runs)].
    """
    runs: list[list] = []
    for k, (record, ids) in enumerate(items):
        if not runs or runs[-1][0][1].video_id != record.video_id:
            runs.append([])
        runs[-1].append((k, record, ids))
    if not runs:
        return []
    shards: list[list[list]] = [[]]
    for run in runs:
        if sum(len(r) for r in shards[-1]) >= shard_size:
            shards.append([])
        shards[-1].append(run)
    n = len(shards)
    return [(f"{split}-{k:05d}-of-{n:05d}.tfrecord", shard) for k, shard in enumerate(shards)]


def _num_queries(runs: list[list]) -> int:
    return sum(len(run) for run in runs)


def _claim_output(out_dir: Path, fingerprint: dict, overwrite: bool) -> None:
    """Make out_dir ours for `fingerprint`: keep it if it matches, else clear it or refuse."""
    state = out_dir / STATE_NAME
    if state.is_file():
        same = json.loads(state.read_text(encoding="utf-8")) == fingerprint
        if not same and not overwrite:
            raise DataError(f"{out_dir} holds shards prepared from other inputs or settings "
                            f"({state}); choose another --out or pass --overwrite")
        if same:
            return
    ours = list(out_dir.glob("*.tfrecord*")) + [
        out_dir / n for n in (manifest_lib.MANIFEST_NAME, VECTORS_NAME, STATE_NAME)]
    if out_dir.exists() and not state.is_file() and any(p.exists() for p in ours) \
            and not overwrite:
        raise DataError(f"{out_dir} holds shards without {STATE_NAME}; choose another --out or "
                        f"pass --overwrite")
    for p in ours:
        if p.is_file():
            p.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(fingerprint, indent=1) + "\n", encoding="utf-8")


def _write_shard(path: Path, runs: list[list], cfg: Config, store) -> None:
    """Write one shard: an Example per run of consecutive queries on one video."""
    import tensorflow as tf

    from mgpn_keras.datasets import examples

    tmp = path.with_name(path.name + ".tmp")
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        for run in runs:
            record = run[0][1]
            clips = feats.clip_features(
                store.get(record.video_id), width=cfg.model.input_size,
                num_sample_clips=cfg.model.num_sample_clips, normalize=cfg.data.normalize,
                video_id=record.video_id, source=store.path, preset=cfg.name)
            queries = [(ids, r.start, r.end, r.sentence, index) for index, r, ids in run]
            writer.write(examples.encode(record.video_id, record.duration, clips, queries))
    os.replace(tmp, path)


def _print_summary(content: dict, path: Path) -> None:
    info = content["info"]
    print(f"wrote {path}")
    for split, count in content["counts"].items():
        print(f"  {split}: {count} queries in {len(content['shards'][split])} shards "
              f"({info['annotated'][split]} annotated, {content['dropped'][split]} dropped: "
              f"no word with a vector)")
    print(f"  vocabulary {len(content['vocabulary'])} words (ids 0 pad, 1 unknown), word_dim "
          f"{content['word_dim']}; unknown tokens {100 * info['unknown_token_rate']:.2f}%")
    print(f"  feature width {content['feature_width']}, {content['num_sample_clips']} clips per "
          f"query; {info['seconds']:.1f} s, {info['shards_reused']} shards kept from an earlier "
          f"run")
