"""Baselines that MGPN must beat on a benchmark: what a model gets without using the
video or without using the query."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from mgpn_keras.config import Config


def moment_prior(cfg: Config, manifest) -> np.ndarray:
    """The mean IoU map of the training annotations: one (N, N) score map for every
    query, learned from where moments tend to lie (ignores video and query)."""
    from mgpn_keras.datasets import make_dataset

    total, count = None, 0
    for _, iou_map in make_dataset(manifest, "train", 256, training=False):
        batch_sum = tf.reduce_sum(iou_map, axis=0).numpy().astype(np.float64)
        total = batch_sum if total is None else total + batch_sum
        count += int(iou_map.shape[0])
    return (total / max(count, 1)).astype(np.float32)


def evaluate_prior(cfg: Config, manifest, split: str = "test") -> dict:
    from mgpn_keras.datasets import make_dataset
    from mgpn_keras.metrics import MomentEvaluator

    prior = moment_prior(cfg, manifest)
    # logits whose sigmoid ranks cells like the prior; exactly 0 where the prior is 0
    logits = np.where(prior > 0, np.log(np.clip(prior, 1e-6, 1 - 1e-6) / (1 - np.clip(prior, 1e-6, 1 - 1e-6))), 0.0)
    evaluator = MomentEvaluator.for_config(cfg)
    for _, _, meta in make_dataset(manifest, split, cfg.eval.batch_size, training=False, with_meta=True):
        b = int(meta["duration"].shape[0])
        evaluator.update(np.broadcast_to(logits, (b,) + logits.shape).astype(np.float32),
                         meta["duration"].numpy(), meta["times"].numpy())
    return {k: float(v) for k, v in evaluator.result().items()}


def evaluate_shuffled_queries(cfg: Config, manifest, model, split: str = "test") -> dict:
    """The trained model, each video paired with another sample's query (rolled by one
    within the batch), scored against the video's own ground truth."""
    from mgpn_keras.datasets import make_dataset
    from mgpn_keras.metrics import MomentEvaluator
    from mgpn_keras.training.evaluation import inference_function

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
    model.load_weights(os.path.join(checkpoint_dir, "best.weights.h5"))
    return {
        f"moment prior ({split})": evaluate_prior(cfg, manifest, split),
        f"shuffled queries ({split})": evaluate_shuffled_queries(cfg, manifest, model, split),
    }
