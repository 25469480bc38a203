"""`mgpn evaluate --runner/--workers`: the split's metrics summed by a CombineFn across workers.

The split's batches are cut into `parts` (4 per worker): part k is every `parts`-th batch of
the evaluation dataset from the k-th (`tf.data.Dataset.shard`), scored on whichever worker
gets it by the run's model (resolved once per worker in `setup`, its checkpoint checked
against its SHA-256) and the protocol's per-query hits (`metrics.MomentEvaluator`, the
single-process evaluation's code). `AddMetricSums` adds the parts' `evaluation.metric_sums.MetricSums`; its output
is the single-process evaluation's numbers (equal within float rounding of the sums).
"""

from __future__ import annotations

import os

import apache_beam as beam
import numpy as np

from mgpn_keras.pipelines.deal import DealInTurn
from mgpn_keras.pipelines.options import Outputs, exit_without_teardown, pipeline_options


class AddMetricSums(beam.CombineFn):
    """Each part's `evaluation.metric_sums.MetricSums.vector()` -> the metrics of all queries
    (the same additive sums the multi-worker trainer all-reduces), plus "queries"."""

    def __init__(self, recall, iou_thresholds):
        from mgpn_keras.evaluation.metric_sums import MetricSums

        self.empty = MetricSums.zeros(recall, iou_thresholds)  # the protocol and vector layout

    def create_accumulator(self):
        return self.empty.vector()

    def add_input(self, acc, vector):
        return acc + np.asarray(vector, np.float64)

    def merge_accumulators(self, accumulators):
        return sum(accumulators, self.create_accumulator())

    def extract_output(self, acc):
        sums = self.empty.with_vector(acc)
        if sums.queries == 0:
            return {}
        return {**sums.results(), "queries": sums.queries}


class _ScorePart(beam.DoFn):
    def __init__(self, run_dir, split, weights, manifest, layout, parts):
        self.args = (run_dir, split, weights, manifest, layout, parts)

    def setup(self):
        from mgpn_keras.datasets import check_manifest, load_manifest
        from mgpn_keras.model import inference_twin
        from mgpn_keras.runs.resolve import resolve_model
        from mgpn_keras.evaluation.model_evaluation import inference_function

        exit_without_teardown()

        run_dir, _, weights, manifest, layout, _ = self.args
        resolved = resolve_model(run_dir, weights=weights, manifest=manifest, layout=layout)
        self.cfg = resolved.config
        self.data = check_manifest(load_manifest(resolved.manifest), self.cfg)
        layout = self.cfg.eval.layout if layout is None else layout
        self.infer = inference_function(inference_twin(resolved.model, self.cfg, layout))

    def process(self, part: int):
        from mgpn_keras.datasets import make_dataset
        from mgpn_keras.evaluation.metric_sums import MetricSums
        from mgpn_keras.evaluation.metrics import MomentEvaluator

        _, split, _, _, _, parts = self.args
        cfg = self.cfg
        evaluator = MomentEvaluator.for_config(cfg)
        data = make_dataset(self.data, split, cfg.eval.batch_size, training=False, with_meta=True)
        for features, _, meta in data.shard(parts, part):
            evaluator.update(self.infer(features).numpy(), meta["duration"].numpy(),
                             meta["times"].numpy())
        yield MetricSums.of(evaluator).vector()  # this part's sums (zeros for an empty part)


def evaluate_beam(run_dir: str, split: str = "test", weights: str = "best", *,
                  manifest: str | None = None, layout: str | None = None,
                  runner: str | None = None, workers: int | None = None,
                  pipeline_args: list[str] | None = None) -> dict:
    """`evaluation.run_evaluation.evaluate_run`'s metrics, computed on Beam workers."""
    from mgpn_keras.config import load_config
    from mgpn_keras.evaluation.model_evaluation import ordered
    from mgpn_keras.runs.paths import RunPaths
    from mgpn_keras.runs.results import merge_results

    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"model folder {run_dir!r} does not exist")
    paths = RunPaths(run_dir)
    cfg = load_config(paths.config)
    parts = 4 * (workers or 1)
    with Outputs() as sink:
        with beam.Pipeline(options=pipeline_options(runner, workers, pipeline_args)) as p:
            metrics = (p | "parts" >> beam.Create([(k, k) for k in range(parts)])
                       | "deal" >> DealInTurn()  # the parts cost about the same
                       | "score" >> beam.ParDo(_ScorePart(run_dir, split, weights, manifest,
                                                           layout, parts))
                       | "metrics" >> beam.CombineGlobally(AddMetricSums(
                           cfg.eval.recall, cfg.eval.iou_thresholds)))
            sink.collect({"metrics": metrics})
        [results] = sink.read("metrics")
    if not results:
        raise ValueError(f"split {split!r} has no queries to evaluate")
    results.pop("queries")
    results = ordered(results, cfg)
    merge_results(paths.results, {split: results})
    return results
