"""Re-evaluate a training run with the reference protocol (what `mgpn evaluate` runs)."""

from __future__ import annotations

import json
import os

from mgpn_keras.atomic import write_json


def evaluate_run(run_dir: str, split: str = "test", weights: str = "best", verbose: bool = True,
                 predictions_out: str | None = None) -> dict:
    """Load a run's config and weights, evaluate `split`, and merge into its results.json."""
    from mgpn_keras.config import load_config
    from mgpn_keras.datasets import check_manifest, load_manifest, make_dataset
    from mgpn_keras.training.runs import RunPaths

    paths = RunPaths(run_dir)
    if not os.path.exists(paths.config):
        raise FileNotFoundError(f"{run_dir!r} is not a training run: no config.json")
    cfg = load_config(paths.config)
    if not os.path.isfile(paths.manifest_link):
        raise FileNotFoundError(f"run folder {run_dir!r} has no manifest.json naming its data set")
    with open(paths.manifest_link, encoding="utf-8") as f:
        manifest = load_manifest(json.load(f)["manifest"])
    check_manifest(manifest, cfg)
    if not manifest.counts.get(split):
        raise ValueError(f"split {split!r} is not in the prepared data; it has {sorted(manifest.counts)}")
    weight_file = {"best": paths.best_weights,
                   "latest": os.path.join(paths.backup, "latest.weights.h5")}.get(weights, weights)
    if not os.path.exists(weight_file):
        raise FileNotFoundError(f"no weights at {weight_file!r}")
    # TensorFlow loads only now: the checks above answer a user's mistake in a second.
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.training.evaluation import evaluate_model, ordered, write_results

    model = build_mgpn(cfg)
    model.load_weights(weight_file)
    data = make_dataset(manifest, split, cfg.eval.batch_size, training=False, with_meta=True)
    results, predictions = evaluate_model(model, data, cfg, progress=verbose, return_predictions=True)
    results = ordered(results, cfg)
    existing = {}
    if os.path.exists(paths.results):
        with open(paths.results, encoding="utf-8") as f:
            existing = json.load(f)
    existing[split] = results
    write_results(paths.results, existing)
    if predictions_out:
        write_json(predictions_out, predictions, indent=None)
    return results
