"""A model evaluated on a data set with the reference protocol (what every evaluation runs)."""

from __future__ import annotations

import keras
import tensorflow as tf

from mgpn_keras.config import Config, metric_names


class _TracedInference:
    """A plain holder for a model's traced inference function: set on the model with
    `object.__setattr__`, so neither Keras' layer tracking nor SavedModel's attribute walk
    sees (and exports) the function."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function


def inference_function(model: keras.Model):
    """A traced `model(x, training=False)` that accepts any batch size and query length.

    Traced once per model and kept on it: the training callback evaluates the same model every
    epoch and then on val and test, and a new trace each time cost ~5 s a call on the tiny test
    models. The function reads the model's variables, so it always sees the current weights;
    model and function refer to each other only, so both go when neither is used.
    """
    held = model.__dict__.get("_mgpn_inference")
    if held is not None:
        return held.function
    signature = {name: tf.TensorSpec((None,) + tuple(t.shape[1:]), tf.float32, name=name)
                 for name, t in model.input.items()}
    from mgpn_keras.model import score_output

    # A model with a window head also returns its presence logits; evaluation scores the map.
    traced = tf.function(lambda x: score_output(model(x, training=False)), input_signature=[signature])
    object.__setattr__(model, "_mgpn_inference", _TracedInference(traced))
    return traced


def evaluate_model(model: keras.Model, dataset, cfg: Config, *, progress: bool = False,
                   return_predictions: bool = False, layout: str | None = None,
                   strategy: tf.distribute.Strategy | None = None):
    """Metrics of `model` on a `make_dataset(..., with_meta=True)` dataset.

    The model runs in the inference layout `layout` (default `cfg.eval.layout`, see
    `mgpn_keras.valid_cells.layout`): a model of another layout is evaluated through a twin holding a
    copy of its weights (`mgpn_keras.model.inference_twin`), with the same answers.

    Under a MultiWorkerMirroredStrategy `strategy` of 2+ workers, `dataset` is this
    worker's part of the split (`make_dataset(..., shard=metric_sums.worker_shard(strategy))`)
    and the metric sums of all workers are added (`metric_sums.reduce_across_workers`):
    every worker returns the metrics of the whole split; predictions stay this worker's.

    Returns:
        {"R1@0.3": ..., "R5@0.7": ..., "mIoU": ...} as fractions; with
        `return_predictions`, also a list of per-query dicts (index, video_id, top moments).
    """
    from mgpn_keras.evaluation.metric_sums import MetricSums, reduce_across_workers, worker_shard
    from mgpn_keras.evaluation.metrics import MomentEvaluator
    from mgpn_keras.model import inference_twin

    model = inference_twin(model, cfg, cfg.eval.layout if layout is None else layout)
    evaluator = MomentEvaluator.for_config(cfg)
    infer = inference_function(model)
    predictions = []
    bar = keras.utils.Progbar(None, unit_name="batch") if progress else None
    for step, (features, _, meta) in enumerate(dataset):
        scores = infer(features).numpy()
        durations = meta["duration"].numpy()
        # One ranking and NMS pass per batch: the evaluator's moments are the predictions.
        moments = evaluator.update(scores, durations, meta["times"].numpy())
        if return_predictions:
            for b in range(scores.shape[0]):
                predictions.append({
                    "index": int(meta["index"][b]),
                    "video_id": meta["video_id"][b].numpy().decode(),
                    "sentence": meta["sentence"][b].numpy().decode(),
                    "gt": [float(v) for v in meta["times"][b].numpy()],
                    "moments": [[float(v) for v in row] for row in moments[b]],
                })
        if bar is not None:
            bar.update(step + 1)
    if worker_shard(strategy) is not None:
        results = reduce_across_workers(MetricSums.of(evaluator), strategy).results()
    else:
        results = {k: float(v) for k, v in evaluator.result().items()}
    return (results, predictions) if return_predictions else results


def ordered(results: dict, cfg: Config) -> dict:
    """`results` with the config's metrics only, in table order (`config.metric_names`)."""
    names = metric_names(cfg)
    return {k: results[k] for k in names if k in results}
