"""`mgpn prepare --runner/--workers`: the same shards and manifest as the local loop, on Beam.

The driver reads the annotations, tokenises and builds the vocabulary (global: a word's id
depends on every sentence), as the local path does (`datasets.prepare.read_inputs`), and hands
the records to the pipeline in chunks of CHUNK, each a file in the scratch folder
(`Outputs.stage`: Beam's costs are per element and per serialisation of the graph). The
pipeline then

1. classifies every record (`datasets.prepare.classify`, the local filter) on the workers,
   a chunk at a time, each worker holding the feature store open from `setup`; the drops by
   reason are summed by a CombineFn across workers. A chunk leaves the worker as the
   positions of its kept records, not the records;
2. plans the shards from the kept positions in record order (`_plan_shards`, one grouped
   element, reading each position's split and video from the index the driver staged
   beside the chunks: the plan is the local one, so shard names and contents do not
   depend on the workers);
3. writes each shard (`datasets.prepare.build_shard`, the local writer: atomic, skipping
   finished shards of unchanged inputs) on whichever worker gets it, reading its records
   back from the chunk files.

Only positions (integers) pass through the runner between the stages: the runner is a thread
pool in the driver's process that decodes and encodes every element it carries, and no
worker can write while it does. With the records themselves the barrier between classifying
and writing took 1.5 s of 45,000 records; with a named tuple per kept record (split, index,
video, chunk file, position) 0.7 s (measured).

The driver then records the shards' inputs in prepare_state.json and writes manifest.json, as
the local path does. A pipeline that fails leaves only complete shards (atomic renames);
the re-run writes again every shard the state file does not list, so none is missing or
doubled.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import apache_beam as beam

from mgpn_keras.config import Config
from mgpn_keras.datasets import accounting
from mgpn_keras.datasets import annotations as anno
from mgpn_keras.datasets import features as feats
from mgpn_keras.datasets import prepare as prep
from mgpn_keras.gc_pause import paused_gc
from mgpn_keras.pipelines import work_span
from mgpn_keras.pipelines.deal import DealInTurn
from mgpn_keras.pipelines.options import (DIRECT, Outputs, exit_without_teardown,
                                          pipeline_options)


CHUNK = 512  # records per element up to the shard plan


class DropCounts(beam.CombineFn):
    """(split, reason) elements -> {split: {reason: count}}, summed across workers."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, element):
        split, reason = element
        acc.setdefault(split, Counter())[reason] += 1
        return acc

    def merge_accumulators(self, accumulators):
        out: dict = {}
        for acc in accumulators:
            for split, counts in acc.items():
                out.setdefault(split, Counter()).update(counts)
        return out

    def extract_output(self, acc):
        return {split: dict(counts) for split, counts in acc.items()}


class RecordIndex(NamedTuple):
    """What the plan reads of each staged record, by position (the k-th record of chunk c is
    at position c * CHUNK + k). Staged by the driver as one file, so that only positions pass
    between the stages."""

    split: list[int]  # into the run's splits
    video_id: list[str]


class _Video(NamedTuple):
    video_id: str  # what `_plan_shards` reads of a record


class _Classify(beam.DoFn):
    """(chunk number, a chunk of records: a file `Outputs.stage` wrote) -> (the positions of
    its kept records, its number of drops); each drop also as a tagged (split, k, Drop
    fields)."""

    def __init__(self, feature_path: str):
        self.feature_path = feature_path

    def setup(self):
        exit_without_teardown()
        self.store = feats.open_feature_store(self.feature_path)

    def process(self, numbered):
        work_span.mark()
        number, path = numbered
        kept, drops = [], 0
        for at, (split, k, record, tokens, ids) in enumerate(Outputs.load(path)):
            drop = prep.classify(record, tokens, ids, self.store)
            if drop is None:
                kept.append(number * CHUNK + at)
            else:
                drops += 1
                yield beam.pvalue.TaggedOutput("dropped", (split, k, dataclasses.asdict(drop)))
        work_span.mark()
        yield kept, drops

    def teardown(self):
        self.store.close()


def _plan(grouped, index_path: str, splits: list[str], shard_size: int, finished: dict,
          strict: bool, reader_drops: int):
    """Every chunk's kept positions (one grouped element) -> one (order, (split, name, runs,
    finished inputs)) per shard, the costliest shards first (`_by_cost`); a run is a list of
    (index among the split's kept records, position)."""
    _, chunks = grouped
    chunks = list(chunks)
    if strict and (reader_drops or any(drops for _, drops in chunks)):
        return  # --strict: the driver reports the first drop; nothing is written
    index: RecordIndex = Outputs.load(index_path)
    by_split = [[] for _ in splits]
    # Positions follow the driver's order: split by split, each in record order.
    for at in sorted(at for kept, _ in chunks for at in kept):
        by_split[index.split[at]].append((_Video(index.video_id[at]), at))
    jobs = [(split, name, [[(k, at) for k, _, at in run] for run in runs], finished.get(name))
            for split, items in zip(splits, by_split)
            for name, runs in prep._plan_shards(split, items, shard_size)]
    yield from enumerate(sorted(jobs, key=_by_cost))


def _by_cost(job) -> tuple:
    """Sort key of a planned shard, costliest first: its videos (each an Example holding the
    video's features once), then its queries.

    The shards are keyed by their position in this order and dealt to the workers in turn
    (`deal.DealInTurn`), so that each worker's share costs about the same.
    """
    _, name, runs, _ = job
    return -len(runs), -prep._num_queries(runs), name


class _WriteShard(beam.DoFn):
    """One planned shard (runs of (k, position)) -> its records read back from their chunk
    files, written (or kept), reported as {split, name, queries, inputs, how}."""

    def __init__(self, out_dir: str, cfg: Config, feature_path: str, chunk_files: list[str]):
        self.out_dir, self.cfg, self.feature_path = out_dir, cfg, feature_path
        self.chunk_files = chunk_files

    def setup(self):
        exit_without_teardown()
        self.store = feats.open_feature_store(self.feature_path)
        self.chunk_number, self.chunk = None, None

    def _record(self, at: int):
        number, at = divmod(at, CHUNK)
        if number != self.chunk_number:  # a shard's records lie in one or two chunks
            self.chunk_number, self.chunk = number, Outputs.load(self.chunk_files[number])
        _, _, record, _, ids = self.chunk[at]
        return record, ids

    def process(self, job):
        work_span.mark()
        split, name, planned, old = job
        runs = [[(k, *self._record(at)) for k, at in run] for run in planned]
        inputs, how = prep.build_shard(Path(self.out_dir), name, runs, self.cfg, self.store, old)
        work_span.mark()
        yield {"split": split, "name": name, "queries": prep._num_queries(runs),
               "inputs": inputs, "how": how}

    def teardown(self):
        self.store.close()


def prepare_beam(cfg: Config, data_dir: str | os.PathLike, out_dir: str | os.PathLike,
                 glove: str | os.PathLike | None = None, splits: list[str] | None = None,
                 shard_size: int = prep.DEFAULT_SHARD_SIZE, *,
                 features: str | os.PathLike | None = None, overwrite: bool = False,
                 strict: bool = False, summary: bool = True, runner: str | None = None,
                 workers: int | None = None, pipeline_args: list[str] | None = None) -> Path:
    """`datasets.prepare.prepare` as a Beam pipeline; the same arguments, files and errors.

    Args (beyond `prepare`'s):
        runner: a Beam runner name (default DirectRunner).
        workers: worker processes (DirectRunner multi_processing) or machines.
        pipeline_args: further Beam flags, passed unchanged (`mgpn prepare ... -- --project=..`).
    """
    cfg.validate()
    started = time.time()
    if shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size}")
    inputs = prep.read_inputs(cfg, data_dir, glove, splits, False, features=features)
    out_dir, splits = Path(out_dir), inputs.splits
    if not inputs.feature_path.exists():
        feats.open_feature_store(inputs.feature_path).close()  # its one-line error, here
    settings = prep.shard_settings(cfg, splits, shard_size)
    finished = prep._claim_output(out_dir, settings, overwrite, None)
    prep.write_vectors(out_dir, inputs.matrix)
    reader_drops = sum(len(v) for v in inputs.drops.values())
    feature_path = str(inputs.feature_path)

    with Outputs() as out:
        with paused_gc():
            items = [(split, k, record, toks, ids) for split in splits
                     for k, (record, toks, ids) in enumerate(zip(
                         inputs.records[split], inputs.tokens[split], inputs.ids[split]))]
            # Beam's cost is per element (encoding, a call per transform): records travel in
            # chunks.
            chunk_files = out.stage("records", [items[i:i + CHUNK]
                                                for i in range(0, len(items), CHUNK)])
            index_path, = out.stage("index", [RecordIndex(
                [splits.index(split) for split, *_ in items],
                [record.video_id for _, _, record, *_ in items])])
        with beam.Pipeline(options=pipeline_options(runner, workers, pipeline_args)) as p:
            records = p | "records" >> beam.Create(list(enumerate(chunk_files)), reshuffle=True)
            classified = records | "classify" >> beam.ParDo(
                _Classify(feature_path)).with_outputs("dropped", main="kept")
            drop_counts = (classified.dropped
                           | "reasons" >> beam.Map(lambda d: (d[0], d[2]["reason"]))
                           | "count drops" >> beam.CombineGlobally(DropCounts()))
            # The plan needs every kept record (record order): one group, no side input,
            # so that it waits for nothing but the classification.
            shards = (classified.kept
                      | "one key" >> beam.Map(lambda chunk: (None, chunk))
                      | "gather" >> beam.GroupByKey()
                      | "plan" >> beam.FlatMap(_plan, index_path, splits, shard_size,
                                               finished, strict, reader_drops)
                      | "deal" >> DealInTurn()
                      | "write" >> beam.ParDo(_WriteShard(str(out_dir), cfg, feature_path,
                                                          chunk_files)))
            out.collect({"shards": shards, "dropped": classified.dropped,
                         "drop_counts": drop_counts})
        work_seconds = work_span.span_seconds(p.result)
        results, dropped = out.read("shards"), out.read("dropped")
        combined = out.read("drop_counts")[0]

    drops = {split: list(inputs.drops[split]) for split in splits}
    for split, _, fields in sorted(dropped, key=lambda d: (splits.index(d[0]), d[1])):
        drops[split].append(anno.Drop(**fields))
    if strict:
        accounting.raise_if_strict(drops)
    by_reason = {}
    for split in splits:
        counts = Counter(d.reason for d in inputs.drops[split])
        counts.update(combined.get(split, {}))
        by_reason[split] = {r: counts.get(r, 0) for r in anno.DROP_REASONS}

    results.sort(key=lambda r: (splits.index(r["split"]), r["name"]))
    planned = {r["name"] for r in results}
    for path in out_dir.glob("*.tfrecord"):
        if path.name not in planned:  # a shard of an earlier plan
            path.unlink()
    finished = {r["name"]: r["inputs"] for r in results}
    prep._save_state(out_dir, settings, finished)
    status = Counter(r["how"] for r in results)
    shard_list = {split: [(r["name"], r["queries"]) for r in results if r["split"] == split]
                  for split in splits}
    path = prep.write_manifest(cfg, inputs, out_dir, shard_list, by_reason,
                               {k: status.get(k, 0) for k in ("reused", "rebuilt", "written")},
                               started, progress=False, summary=summary,
                               pipeline={"runner": runner or DIRECT, "workers": workers or 1,
                                         "work_seconds": work_seconds})
    if summary:
        print(work_span.summary_line(runner, workers, work_seconds, time.time() - started))
    return path
