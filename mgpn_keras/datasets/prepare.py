"""`mgpn prepare`: annotations + video features + GloVe -> TFRecord shards and a manifest.

For each query: the sentence is tokenised by `QueryTokenizer` and mapped to vocabulary ids; the
video's features are checked and stored as the source holds them (the video's own clip count,
float16 or float32; the reference's per-clip L2 normalisation and averaging to
config.model.num_sample_clips run when `make_dataset` reads them, REFERENCE.md 5.8). Queries stay
in record order; each run of consecutive queries on one video becomes one tf.train.Example
(`examples.py`) holding the video's features once, and a shard holds whole runs, at least
`shard_size` queries (the last shard fewer). The shards are no larger than the source features
(plus the queries).

Accounting: every record read is kept or dropped for a named reason (`accounting.py`); the
manifest counts the drops by reason, one line per split says where the records went, and
`strict=True` (`--strict`) makes any drop an error naming the file and line.

Resuming: shards are written under a temporary name and renamed when complete. A run that stops
leaves the finished shards and `prepare_state.json`, which records the data settings (data set,
feature name, normalisation, input_size, num_sample_clips, word_dim, splits, shard size) and the
inputs of each finished shard (`shard_inputs.py`); it is written every STATE_SAVE_SECONDS and
when the run ends or fails, so a run killed outright loses only the shards of its last seconds,
which the next run writes again. The next run with the same settings keeps the
shards whose inputs are unchanged, rebuilds those whose annotations, vocabulary ids or feature
files changed (saying which), and writes the rest; other settings are refused unless
`overwrite`. Other config values (model size, training) may differ between runs:
`manifest.json`, written last, records the latest config.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

from mgpn_keras import atomic
from mgpn_keras.config import Config
from mgpn_keras.datasets import accounting
from mgpn_keras.datasets import annotations as anno
from mgpn_keras.datasets import features as feats
from mgpn_keras.datasets import glove as glove_lib
from mgpn_keras.datasets import manifest as manifest_lib
from mgpn_keras.datasets import shard_inputs as shard_inputs_lib
from mgpn_keras.datasets.durations import duration_statistics
from mgpn_keras.datasets import vocabulary as vocab_lib
from mgpn_keras.datasets.errors import DataError
from mgpn_keras.gc_pause import paused_gc

STATE_NAME = "prepare_state.json"
VECTORS_NAME = "vectors.npy"
DEFAULT_SHARD_SIZE = 256
# The state file lists every finished shard with its inputs, so writing it after each shard
# cost O(shards^2): 4.0 s of 15.5 on synthetic x10 (176 shards), minutes on MAD's ~1,500.
# It is written at most this often, and when the run ends or fails: a killed run loses at most
# the shards of its last seconds, which the next run writes again.
STATE_SAVE_SECONDS = 2.0


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


def prepare(cfg: Config, data_dir: str | os.PathLike, out_dir: str | os.PathLike,
            glove: str | os.PathLike | None = None, splits: list[str] | None = None,
            shard_size: int = DEFAULT_SHARD_SIZE, progress: bool = True, *,
            features: str | os.PathLike | None = None, overwrite: bool = False,
            strict: bool = False, summary: bool = True) -> Path:
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
        strict: any record left out is an error naming its file and line (else it is counted).
        summary: without `progress`, still print one line per split saying where its records
            went (kept, or dropped by reason).
        features: the feature file or folder (default: the data set's usual place in data_dir,
            `features.DEFAULT_LOCATIONS`).
        overwrite: replace an output folder that holds shards of different inputs or settings
            (otherwise that is an error).

    Records left out are counted by reason in the manifest ("dropped", "dropped_by_reason";
    counts + dropped = "read" per split): a moment with start >= end or outside the video, an
    empty sentence, a sentence with no known word (a token with a vector and a letter or digit;
    punctuation alone does not count), a video the feature store does not hold.
    """
    cfg.validate()
    started = time.time()
    if shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size}")
    inputs = read_inputs(cfg, data_dir, glove, splits, progress, features=features)
    data_dir, out_dir, splits = inputs.data_dir, Path(out_dir), inputs.splits
    drops, records = inputs.drops, inputs.records
    kept: dict[str, list[tuple[anno.Record, list[int]]]] = {}
    with feats.open_feature_store(inputs.feature_path) as store:
        for split in splits:
            kept[split] = []
            for record, toks, ids in zip(records[split], inputs.tokens[split],
                                         inputs.ids[split]):
                drop = classify(record, toks, ids, store)
                if drop is None:
                    kept[split].append((record, ids))
                else:
                    drops[split].append(drop)
        if strict:
            accounting.raise_if_strict(drops)
        by_reason = {split: accounting.counts_by_reason(drops[split]) for split in splits}

        settings = shard_settings(cfg, splits, shard_size)
        plan = {split: _plan_shards(split, v, shard_size) for split, v in kept.items()}
        finished = _claim_output(out_dir, settings, overwrite,
                                 [name for v in plan.values() for name, _ in v])
        write_vectors(out_dir, inputs.matrix)

        total = sum(len(v) for v in kept.values())
        bar = None
        if progress:
            import keras

            print(f"prepare {cfg.name}: {total} queries from {data_dir}, features "
                  f"{inputs.feature_path}")
            bar = keras.utils.Progbar(total, unit_name="query")
        done = 0
        status = {"reused": 0, "rebuilt": 0, "written": 0}
        saved = time.monotonic()
        try:
            for shard_list in plan.values():
                for name, runs in shard_list:
                    shard_in, how = build_shard(out_dir, name, runs, cfg, store,
                                                finished.get(name))
                    status[how] += 1
                    if how != "reused":
                        finished[name] = shard_in
                        if time.monotonic() - saved >= STATE_SAVE_SECONDS:
                            _save_state(out_dir, settings, finished)
                            saved = time.monotonic()
                    done += _num_queries(runs)
                    if bar is not None:
                        bar.update(done)
        finally:  # an error still records every finished shard
            _save_state(out_dir, settings, finished)

    shards = {s: [(name, _num_queries(runs)) for name, runs in v] for s, v in plan.items()}
    return write_manifest(cfg, inputs, out_dir, shards, by_reason, status, started,
                          progress=progress, summary=summary)


@dataclasses.dataclass
class Inputs:
    """What every shard of a `prepare` run is made from, read once by the driver.

    Tokenising and the vocabulary are global (a word's id depends on every sentence of every
    split), so they are computed here, before any record is classified or encoded.
    """

    data_dir: Path
    feature_path: Path
    glove: str
    splits: list[str]
    records: dict[str, list[anno.Record]]
    drops: dict[str, list[anno.Drop]]  # the readers' drops; classify's are appended
    read: dict[str, int]
    tokens: dict[str, list[list[str]]]
    ids: dict[str, list[list[int]]]
    vocabulary: list[str]
    matrix: np.ndarray
    unknown_token_rate: float


def read_inputs(cfg: Config, data_dir: str | os.PathLike, glove=None,
                splits: list[str] | None = None, progress: bool = True, *,
                features: str | os.PathLike | None = None) -> Inputs:
    """Read the annotations, tokenise every sentence and build the vocabulary (`Inputs`)."""
    with paused_gc():
        return _read_inputs(cfg, data_dir, glove, splits, progress, features=features)


def _read_inputs(cfg: Config, data_dir: str | os.PathLike, glove, splits: list[str] | None,
                 progress: bool, *, features: str | os.PathLike | None) -> Inputs:
    data_dir = Path(data_dir)
    dataset = cfg.data.dataset
    if splits is None:
        splits = anno.available_splits(dataset, data_dir)
        if not splits:
            raise FileNotFoundError(
                f"no {dataset} annotation files in {data_dir}: expected "
                f"{[p.name for p in anno.annotation_files(dataset, data_dir, 'train')]} "
                f"(and the same for {list(anno.STANDARD_SPLITS[dataset][1:])})")
    feature_path = Path(features) if features is not None else feats.default_feature_path(
        dataset, cfg.data.feature_name, data_dir)

    drops: dict[str, list[anno.Drop]] = {split: [] for split in splits}
    records = {split: anno.read_annotations(dataset, data_dir, split, drops[split])
               for split in splits}
    read = {split: len(records[split]) + len(drops[split]) for split in splits}
    tokens = {split: tokenize([r.sentence for r in recs]) for split, recs in records.items()}
    words = {t for toks in tokens.values() for sentence in toks for t in sentence}
    vectors, word_dim = glove_lib.load_vectors(words, glove, progress=progress)
    if word_dim != cfg.model.word_dim:
        raise DataError(f"GloVe source {glove or glove_lib.EMBEDDED!r} has vectors of width "
                        f"{word_dim}, config {cfg.name!r} expects model.word_dim = "
                        f"{cfg.model.word_dim} (pass --set model.word_dim={word_dim} or a GloVe "
                        f"file of width {cfg.model.word_dim})")
    vocabulary, matrix = vocab_lib.build_vocabulary(words, vectors, word_dim)
    ids = _word_ids(vocabulary, tokens)
    flat = [i for v in ids.values() for sentence in v for i in sentence]
    return Inputs(data_dir, feature_path, str(glove) if glove is not None else glove_lib.EMBEDDED,
                  list(splits), records, drops, read, tokens, ids, vocabulary, matrix,
                  flat.count(vocab_lib.UNK_ID) / max(len(flat), 1))


def classify(record: anno.Record, tokens: list[str], ids: list[int], store) -> anno.Drop | None:
    """Why `prepare` leaves one record out (a `Drop` naming its file and line), or None.

    The per-record filter of every driver (the local loop and the Beam pipeline).
    """
    reason = _drop_reason(record, tokens, ids, store)
    if reason is None:
        return None
    return anno.Drop(reason, record.where, _reason_detail(reason, record, store))


def write_vectors(out_dir: Path, matrix) -> None:
    """vectors.npy, the vocabulary's word vectors (written whole or not at all)."""
    with atomic.atomic_path(Path(out_dir) / VECTORS_NAME) as tmp:
        np.save(tmp, matrix)


def shard_settings(cfg: Config, splits: list[str], shard_size: int) -> dict:
    """What the shards depend on beyond their own inputs (`shard_inputs`).

    Other config values (model size, training) may change between runs: the shards are kept
    and the manifest records the latest config.
    """
    return {
        "format": manifest_lib.FORMAT, "record": manifest_lib.RECORD_LAYOUT,
        "dataset": cfg.data.dataset, "feature_name": cfg.data.feature_name,
        "normalize": cfg.data.normalize, "input_size": cfg.model.input_size,
        "num_sample_clips": cfg.model.num_sample_clips, "word_dim": cfg.model.word_dim,
        "splits": list(splits), "shard_size": shard_size,
    }


def build_shard(out_dir: Path, name: str, runs: list[list], cfg: Config, store,
                old: dict | None) -> tuple[dict, str]:
    """Write one planned shard unless a finished one of the same inputs is there.

    The per-shard work of every driver. Returns (the shard's inputs, "reused" | "rebuilt" |
    "written"); the caller records the inputs in the state file.
    """
    inputs = shard_inputs_lib.shard_inputs(runs, store)
    exists = (Path(out_dir) / name).is_file()
    if old == inputs and exists:
        return inputs, "reused"
    how = "written"
    if old is not None and exists:
        how = "rebuilt"
        print(f"prepare: rebuilding {Path(out_dir) / name}: "
              f"{shard_inputs_lib.describe_change(old, inputs)}", flush=True)
    _write_shard(Path(out_dir) / name, runs, cfg, store)
    return inputs, how


def write_manifest(cfg: Config, inputs: Inputs, out_dir: Path,
                   shards: dict[str, list[tuple[str, int]]], by_reason: dict[str, dict],
                   status: dict[str, int], started: float, *, progress: bool,
                   summary: bool, pipeline: dict | None = None) -> Path:
    """Write manifest.json (last: its presence means the shards are complete) and the summary.

    `pipeline`: how a Beam run ran (runner, workers, the workers' span), kept in info.
    """
    dropped = {split: sum(v.values()) for split, v in by_reason.items()}
    info = {"data_dir": str(inputs.data_dir.resolve()),
            "features": str(inputs.feature_path.resolve()), "glove": inputs.glove,
            "annotated": {s: len(v) for s, v in inputs.records.items()},
            "unknown_token_rate": inputs.unknown_token_rate,
            "seconds": round(time.time() - started, 2), "shards_reused": status["reused"],
            "shards_rebuilt": status["rebuilt"],
            # The default window of long-video retrieval (mgpn_keras.retrieval.windowing).
            "durations": {s: duration_statistics(v) for s, v in inputs.records.items()}}
    if pipeline is not None:
        info["pipeline"] = pipeline
    content = manifest_lib.manifest_dict(
        cfg, inputs.vocabulary, VECTORS_NAME,
        {s: sum(n for _, n in v) for s, v in shards.items()}, dropped, shards, info,
        read=inputs.read, dropped_by_reason=by_reason)
    path = out_dir / manifest_lib.MANIFEST_NAME
    atomic.write_json(path, content)
    if progress:
        _print_summary(content, path)
    elif summary:
        for split in content["counts"]:
            print(_split_line(content, split), flush=True)
    return path


def _word_ids(vocabulary: list[str], tokens: dict[str, list[list[str]]]
              ) -> dict[str, list[list[int]]]:
    """Each sentence's vocabulary ids, by the protocol's word table (as exported models do)."""
    import tensorflow as tf

    from mgpn_keras.protocol.word_ids import WordLookup

    lookup = WordLookup(vocabulary)
    out: dict[str, list[list[int]]] = {}
    for split, sentences in tokens.items():
        flat = [t for sentence in sentences for t in sentence]
        ids = lookup(tf.constant(flat, tf.string)).numpy().tolist() if flat else []
        out[split], at = [], 0
        for sentence in sentences:
            out[split].append(ids[at:at + len(sentence)])
            at += len(sentence)
    return out


def _drop_reason(record: anno.Record, tokens: list[str], ids: list[int], store) -> str | None:
    """Why prepare leaves a record out (a key of annotations.DROP_REASONS), or None."""
    if not tokens:
        return "empty_sentence"
    # A sentence needs a known word; known punctuation alone does not count.
    if not any(i > vocab_lib.UNK_ID and any(c.isalnum() for c in t) for i, t in zip(ids, tokens)):
        return "no_word_with_vector"
    if store.source_file(record.video_id) is None:
        return "video_without_features"
    return None


def _reason_detail(reason: str, record: anno.Record, store) -> str:
    if reason == "video_without_features":
        return f"video {record.video_id!r} is not in {store.path}"
    return f"sentence {record.sentence!r}"


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


def _claim_output(out_dir: Path, settings: dict, overwrite: bool,
                  planned: list[str] | None) -> dict:
    """Make out_dir ours for `settings`; return {shard name: inputs} of the finished shards kept.

    Same settings: finished shards are kept (each is checked against its inputs later) and
    shard files the plan no longer names are removed (planned=None: a driver that plans later
    keeps every finished shard and removes the unplanned ones itself). Other settings: refuse, naming them,
    unless `overwrite`, which clears the folder.
    """
    state_path = out_dir / STATE_NAME
    finished: dict = {}
    if state_path.is_file():
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            state = {}
        old = state.get("settings") if isinstance(state, dict) else None
        if old == settings:
            finished = {k: v for k, v in state.get("shards", {}).items()
                        if planned is None or k in planned}
        elif not overwrite:
            what = (shard_inputs_lib.changed_settings(old, settings) if isinstance(old, dict)
                    else [f"{state_path.name} is from another version of mgpn_keras"])
            raise DataError(f"{out_dir} holds shards prepared from other inputs or settings "
                            f"({state_path}: {'; '.join(what)}); choose another --out or pass "
                            f"--overwrite")
    elif out_dir.exists() and not overwrite and any(
            p.exists() for p in _our_files(out_dir)):
        raise DataError(f"{out_dir} holds shards without {STATE_NAME}; choose another --out or "
                        f"pass --overwrite")
    keep_known = state_path.is_file() and not overwrite  # same settings: a resume
    for p in _our_files(out_dir):
        stale = p.name not in finished and (p.suffix == ".tfrecord" or not keep_known)
        if p.is_file() and stale:
            p.unlink()
    _save_state(out_dir, settings, finished)
    return finished


def _our_files(out_dir: Path) -> list[Path]:
    return list(out_dir.glob("*.tfrecord*")) + [
        out_dir / n for n in (manifest_lib.MANIFEST_NAME, VECTORS_NAME, STATE_NAME)]


def _save_state(out_dir: Path, settings: dict, finished: dict) -> None:
    atomic.write_json(out_dir / STATE_NAME, {"settings": settings, "shards": finished})


def _write_shard(path: Path, runs: list[list], cfg: Config, store) -> None:
    """Write one shard: an Example per run of consecutive queries on one video.

    Without TensorFlow (`example_encoding`, `tfrecord_file`): the same bytes as
    tf.train.Example in a tf.io.TFRecordWriter, and a Beam worker that only writes shards
    starts 3.5-4 s sooner.
    """
    from mgpn_keras.datasets.example_encoding import encode
    from mgpn_keras.datasets.tfrecord_file import TFRecordWriter

    with atomic.atomic_path(path) as tmp, TFRecordWriter(tmp) as writer:
        for run in runs:
            record = run[0][1]
            clips = _stored_features(store, record.video_id, cfg)
            queries = [(ids, r.start, r.end, r.sentence, index) for index, r, ids in run]
            writer.write(encode(record.video_id, record.duration, clips, queries))


def _stored_features(store, video_id: str, cfg: Config) -> np.ndarray:
    """A video's checked features as the shards store them: the source's clips, float16/32."""
    return feats.check_features(store.get(video_id), cfg.model.input_size, video_id,
                                store.path, cfg.name)


def _split_line(content: dict, split: str) -> str:
    return "  " + accounting.summary_line(
        split, content["read"][split], content["counts"][split],
        content["dropped_by_reason"][split], len(content["shards"][split]))


def _print_summary(content: dict, path: Path) -> None:
    info = content["info"]
    print(f"wrote {path}")
    for split in content["counts"]:
        print(_split_line(content, split))
    print(f"  vocabulary {len(content['vocabulary'])} words (ids 0 pad, 1 unknown), word_dim "
          f"{content['word_dim']}; unknown tokens {100 * info['unknown_token_rate']:.2f}%")
    print(f"  feature width {content['feature_width']}, {content['num_sample_clips']} clips per "
          f"query; {info['seconds']:.1f} s, {info['shards_reused']} shards kept from an earlier "
          f"run, {info['shards_rebuilt']} rebuilt because their inputs changed")
