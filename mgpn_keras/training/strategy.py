"""Distribution strategy selection."""

from __future__ import annotations

import json
import os

import tensorflow as tf


def make_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy when TF_CONFIG names a cluster, else MirroredStrategy
    over the local devices (all GPUs, or the CPU).

    Args:
        kind: "auto", "mirrored", "multi_worker" or "default" (no distribution).
    """
    if kind == "auto":
        kind = "multi_worker" if _tf_config_has_cluster() else "mirrored"
    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")][:1]
        return tf.distribute.MirroredStrategy(devices)
    if kind == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"distribution strategy {kind!r}; expected auto, mirrored, multi_worker or default")


def _tf_config_has_cluster() -> bool:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return False
    try:
        return bool(json.loads(raw).get("cluster"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"TF_CONFIG is not valid JSON: {exc}") from None


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints, logs and results."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())


def worker_index(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0) if resolver is not None else 0
