"""Metric sums: the additive form of the evaluation that workers all-reduce."""

import numpy as np
import pytest


def _evaluator_fed(scores, durations, gt):
    from mgpn_keras.evaluation.metrics import MomentEvaluator

    evaluator = MomentEvaluator(8, 0.5, (1, 5), (0.3, 0.5, 0.7), num_scale_layers=[7])
    if len(scores):
        evaluator.update(scores, durations, gt)
    return evaluator


def _queries(count, seed):
    rng = np.random.default_rng(seed)
    durations = rng.uniform(10, 40, count)
    start = rng.uniform(0, 0.6, count) * durations
    gt = np.stack([start, start + rng.uniform(0.1, 0.4, count) * durations], -1)
    return rng.normal(size=(count, 8, 8)).astype("float32"), durations, gt


def test_sums_of_two_parts_give_the_metrics_of_the_whole():
    from mgpn_keras.evaluation.metric_sums import MetricSums

    scores, durations, gt = _queries(37, 0)
    whole = _evaluator_fed(scores, durations, gt).result()
    parts = [MetricSums.of(_evaluator_fed(scores[i::2], durations[i::2], gt[i::2])) for i in range(2)]
    added = parts[0].with_vector(parts[0].vector() + parts[1].vector())
    assert added.queries == 37 and [p.queries for p in parts] == [19, 18]
    assert list(added.results()) == list(whole)
    assert added.results() == pytest.approx(whole, abs=1e-12, rel=0)
    assert MetricSums.of(_evaluator_fed(scores, durations, gt)).results() == pytest.approx(whole, abs=0, rel=0)


def test_a_worker_without_queries_adds_zeros_and_an_empty_split_is_refused():
    from mgpn_keras.evaluation.metric_sums import MetricSums

    empty = MetricSums.of(_evaluator_fed([], None, None))
    assert empty.queries == 0 and not empty.vector().any()
    with pytest.raises(ValueError, match="no queries"):
        empty.results()
    with pytest.raises(ValueError, match=r"expected \(8,\)"):
        empty.with_vector(np.zeros(5))


def test_reduce_across_one_worker_keeps_the_sums_and_shards_need_workers():
    import tensorflow as tf

    from mgpn_keras.evaluation.metric_sums import MetricSums, reduce_across_workers, worker_shard

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    sums = MetricSums.of(_evaluator_fed(*_queries(5, 1)))
    assert np.array_equal(reduce_across_workers(sums, strategy).vector(), sums.vector())
    assert worker_shard(strategy) is None and worker_shard(None) is None
