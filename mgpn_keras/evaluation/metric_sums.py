"""Evaluation split across the workers of a MultiWorkerMirroredStrategy.

Each worker evaluates its part of the split (`worker_shard`: every count-th video record),
and the metrics are rebuilt from sums that add across workers: per (recall, IoU threshold)
the number of queries with a hit, the sum of the top-1 IoUs and the number of queries
(`MetricSums`). The sums are all-reduced through the strategy (`reduce_across_workers`), so
every worker ends with the metrics of the whole split, those one process evaluating all of
it gives (to float rounding of the IoU sum, ~1e-16).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class MetricSums:
    """The additive form of R@r,IoU=t and mIoU over a set of queries.

    Attributes:
        recall: the r of R@r.
        iou_thresholds: the t of IoU > t.
        hits: (len(recall), len(iou_thresholds)) float64, queries with a hit in the top r
            at IoU > t.
        iou_sum: the sum over queries of the top-1 moment's IoU.
        queries: the number of queries.
    """

    recall: tuple[int, ...]
    iou_thresholds: tuple[float, ...]
    hits: np.ndarray
    iou_sum: float
    queries: int

    @classmethod
    def zeros(cls, recall, iou_thresholds) -> "MetricSums":
        """No queries yet, for the protocol (`recall`, `iou_thresholds`)."""
        recall, iou_thresholds = tuple(recall), tuple(iou_thresholds)
        return cls(recall, iou_thresholds, np.zeros((len(recall), len(iou_thresholds))), 0.0, 0)

    @classmethod
    def of(cls, evaluator) -> "MetricSums":
        """The sums of every query a `metrics.MomentEvaluator` was fed (none: zeros)."""
        hits, top1 = evaluator.per_query()
        return cls(evaluator.recall, evaluator.iou_thresholds, hits.sum(axis=0, dtype=np.float64),
                   float(np.sum(top1)), int(len(top1)))

    def vector(self) -> np.ndarray:
        """[hits (row-major), iou_sum, queries] as one float64 vector (what is all-reduced)."""
        return np.concatenate([self.hits.reshape(-1), [self.iou_sum, float(self.queries)]])

    def with_vector(self, vector) -> "MetricSums":
        """These sums' protocol with the values of `vector` (the layout of `vector()`)."""
        vector = np.asarray(vector, np.float64)
        cells = len(self.recall) * len(self.iou_thresholds)
        if vector.shape != (cells + 2,):
            raise ValueError(f"metric sums vector has shape {vector.shape}, expected ({cells + 2},)")
        return MetricSums(self.recall, self.iou_thresholds,
                          vector[:cells].reshape(len(self.recall), len(self.iou_thresholds)),
                          float(vector[cells]), int(round(vector[cells + 1])))

    def results(self) -> dict[str, float]:
        """{"R1@0.3": ..., ..., "mIoU": ...}, the keys and order of `metrics.evaluate_moments`."""
        if self.queries == 0:
            raise ValueError("no queries were evaluated on any worker: the split is empty")
        rates = self.hits / self.queries
        results = {f"R{r}@{t:g}": float(rates[a, b])
                   for a, r in enumerate(self.recall) for b, t in enumerate(self.iou_thresholds)}
        results["mIoU"] = self.iou_sum / self.queries
        return results


def worker_shard(strategy: tf.distribute.Strategy | None) -> tuple[int, int] | None:
    """(workers, this worker's index) under a MultiWorkerMirroredStrategy of 2+ workers,
    else None (one process evaluates the whole split).

    The index is the worker's id in the cluster: the chief 0, then the workers in order.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict()
    chiefs = len(spec.get("chief", []))
    count = chiefs + len(spec.get("worker", []))
    if count < 2:
        return None
    index = 0 if resolver.task_type == "chief" else chiefs + int(resolver.task_id)
    return count, index


def reduce_across_workers(sums: MetricSums, strategy: tf.distribute.Strategy) -> MetricSums:
    """The sums of every worker, added; every worker must call it, in the same order.

    Only each worker's first local replica holds the worker's sums (the others hold zeros),
    so a worker with several devices counts its queries once.
    """
    local = sums.vector()
    devices = strategy.extended.worker_devices

    def replica_value(ctx):
        replica = ctx.replica_id_in_sync_group % len(devices)
        with tf.device(devices[replica]):
            return tf.constant(local if replica == 0 else np.zeros_like(local), tf.float64)

    values = strategy.experimental_distribute_values_from_function(replica_value)
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)
    return sums.with_vector(total.numpy())
