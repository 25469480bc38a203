"""Re-evaluate a trained model with the reference protocol (what `mgpn evaluate` runs)."""

from __future__ import annotations

import os

from mgpn_keras.atomic import write_json


def evaluate_run(run_dir: str, split: str = "test", weights: str = "best", verbose: bool = True,
                 predictions_out: str | None = None, manifest: str | None = None,
                 layout: str | None = None) -> dict:
    """Evaluate a trained model's `split` with the reference protocol.

    `run_dir` is a training run folder (the numbers are merged into its results.json) or a
    preset folder (they are only returned; `manifest` names the data set, which a preset
    folder does not record). The model is built in `layout` (default: the config's
    `eval.layout`, "auto"), which gives the dense model's answers, faster where the geometry
    allows.
    """
    from mgpn_keras.datasets import check_manifest, make_dataset
    from mgpn_keras.runs.resolve import resolve_model
    from mgpn_keras.evaluation.model_evaluation import evaluate_model, ordered
    from mgpn_keras.runs.paths import RunPaths
    from mgpn_keras.runs.results import merge_results

    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"model folder {run_dir!r} does not exist")
    resolved = resolve_model(run_dir, weights=weights, manifest=manifest, layout=layout)
    if resolved.manifest is None:
        raise FileNotFoundError(f"{run_dir!r} names no prepared data set to evaluate on; pass --shards")
    cfg = resolved.config
    from mgpn_keras.datasets import load_manifest

    data_set = check_manifest(load_manifest(resolved.manifest), cfg)
    if not data_set.counts.get(split):
        raise ValueError(f"split {split!r} is not in the prepared data; it has {sorted(data_set.counts)}")
    data = make_dataset(data_set, split, cfg.eval.batch_size, training=False, with_meta=True)
    results, predictions = evaluate_model(resolved.model, data, cfg, progress=verbose, return_predictions=True,
                                           layout=layout)
    results = ordered(results, cfg)
    if resolved.kind == "run":
        merge_results(RunPaths(run_dir).results, {split: results})
    if predictions_out:
        write_json(predictions_out, predictions, indent=None)
    return results

