"""Baselines that MGPN must beat on a benchmark: what a model gets without using the
video or without using the query."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from mgpn_keras.config import Config
from mgpn_keras.runs.files import BEST_WEIGHTS


def moment_prior(cfg: Config, manifest) -> np.ndarray:
    """(N, N) frequency with which each candidate cell is the best cell (highest IoU) of a
    training moment. Cells are fractions of the video, so this is a prior over normalised
    time that ignores the video and the query."""
    from mgpn_keras.datasets import make_dataset
    from mgpn_keras.valid_cells.geometry import valid_mask

    n = cfg.model.num_clips
    mask = valid_mask(n, cfg.model.num_scale_layers).reshape(-1) > 0
    counts = np.zeros(n * n, np.float64)
    for _, iou_map in make_dataset(manifest, "train", 256, training=False):
        flat = iou_map.numpy().reshape(-1, n * n)
        best = np.argmax(np.where(mask[None], flat, -1.0), axis=1)
        np.add.at(counts, best, 1.0)
    return (counts / max(counts.sum(), 1.0)).reshape(n, n).astype(np.float32)


def evaluate_prior(cfg: Config, manifest, split: str = "test") -> dict:
    from mgpn_keras.datasets import make_dataset
    from mgpn_keras.evaluation.metrics import MomentEvaluator

    prior = moment_prior(cfg, manifest)
    evaluator = MomentEvaluator.for_config(cfg, from_logits=False)
    for _, _, meta in make_dataset(manifest, split, cfg.eval.batch_size, training=False, with_meta=True):
        b = int(meta["duration"].shape[0])
        evaluator.update(np.broadcast_to(prior, (b,) + prior.shape),
                         meta["duration"].numpy(), meta["times"].numpy())
    return {k: float(v) for k, v in evaluator.result().items()}


def evaluate_shuffled_queries(cfg: Config, manifest, model, split: str = "test") -> dict:
    """The trained model, each video paired with another sample's query (rolled by one
    within the batch), scored against the video's own ground truth."""
    from mgpn_keras.datasets import make_dataset
    from mgpn_keras.evaluation.metrics import MomentEvaluator
    from mgpn_keras.evaluation.model_evaluation import inference_function

    infer = inference_function(model)
    evaluator = MomentEvaluator.for_config(cfg)
    for features, _, meta in make_dataset(manifest, split, cfg.eval.batch_size, training=False, with_meta=True):
        shuffled = dict(features)
        shuffled["word_vectors"] = tf.roll(features["word_vectors"], 1, axis=0)
        shuffled["query_mask"] = tf.roll(features["query_mask"], 1, axis=0)
        evaluator.update(infer(shuffled).numpy(), meta["duration"].numpy(), meta["times"].numpy())
    return {k: float(v) for k, v in evaluator.result().items()}


def baseline_results(cfg: Config, manifest_path: str, checkpoint_dir: str, split: str = "test") -> dict:
    """{"moment prior (test)": metrics, "shuffled queries (test)": metrics}."""
    from mgpn_keras.datasets import load_manifest
    from mgpn_keras.model import build_mgpn

    manifest = load_manifest(manifest_path)
    model = build_mgpn(cfg)
    model.load_weights(os.path.join(checkpoint_dir, BEST_WEIGHTS))
    return {
        f"moment prior ({split})": evaluate_prior(cfg, manifest, split),
        f"shuffled queries ({split})": evaluate_shuffled_queries(cfg, manifest, model, split),
    }
