"""Evaluation with the reference protocol, and the callback that runs it every epoch."""

from __future__ import annotations

import os
import time

import keras
import tensorflow as tf

from mgpn_keras.atomic import write_json
from mgpn_keras.config import Config, metric_names


def inference_function(model: keras.Model):
    """A traced `model(x, training=False)` that accepts any batch size and query length."""
    m = model.input
    signature = {name: tf.TensorSpec((None,) + tuple(t.shape[1:]), tf.float32, name=name)
                 for name, t in m.items()}
    return tf.function(lambda x: model(x, training=False), input_signature=[signature])


def evaluate_model(model: keras.Model, dataset, cfg: Config, *, progress: bool = False,
                   return_predictions: bool = False, layout: str | None = None,
                   strategy: tf.distribute.Strategy | None = None):
    """Metrics of `model` on a `make_dataset(..., with_meta=True)` dataset.

    The model runs in the inference layout `layout` (default `cfg.eval.layout`, see
    `mgpn_keras.layout`): a model of another layout is evaluated through a twin holding a
    copy of its weights (`mgpn_keras.model.inference_twin`), with the same answers.

    Under a MultiWorkerMirroredStrategy `strategy` of 2+ workers, `dataset` is this
    worker's part of the split (`make_dataset(..., shard=metric_sums.worker_shard(strategy))`)
    and the metric sums of all workers are added (`metric_sums.reduce_across_workers`):
    every worker returns the metrics of the whole split; predictions stay this worker's.

    Returns:
        {"R1@0.3": ..., "R5@0.7": ..., "mIoU": ...} as fractions; with
        `return_predictions`, also a list of per-query dicts (index, video_id, top moments).
    """
    from mgpn_keras.metrics import MomentEvaluator, top_moments
    from mgpn_keras.model import inference_twin
    from mgpn_keras.training.metric_sums import MetricSums, reduce_across_workers, worker_shard

    model = inference_twin(model, cfg, cfg.eval.layout if layout is None else layout)
    evaluator = MomentEvaluator.for_config(cfg)
    infer = inference_function(model)
    predictions = []
    bar = keras.utils.Progbar(None, unit_name="batch") if progress else None
    for step, (features, _, meta) in enumerate(dataset):
        scores = infer(features).numpy()
        durations = meta["duration"].numpy()
        evaluator.update(scores, durations, meta["times"].numpy())
        if return_predictions:
            moments = top_moments(scores, durations, cfg.model.num_clips, cfg.eval.nms_threshold,
                                  max(cfg.eval.recall), from_logits=True,
                                  num_scale_layers=cfg.model.num_scale_layers)
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


class EvaluationCallback(keras.callbacks.Callback):
    """Evaluates with the reference protocol at the end of every epoch.

    Adds `{prefix}{metric}` (e.g. `val_R1@0.5`) to the epoch logs, so that callbacks after
    it (TensorBoard, CSVLogger, keras-tuner's objective) see the metrics, writes them to
    TensorBoard under `log_dir/evaluation`, and prints the table.

    The trained (dense) model is evaluated in `cfg.eval.layout`: a twin of that layout is
    built once and takes the model's current weights every epoch. Under a multi-worker
    `strategy`, `dataset_fn` gives this worker's part of the split (see `evaluate_model`).
    """

    def __init__(self, dataset_fn, cfg: Config, split: str, prefix: str = "val_",
                 log_dir: str | None = None, verbose: int = 1, strategy: tf.distribute.Strategy | None = None):
        super().__init__()
        self.strategy = strategy
        self.dataset_fn = dataset_fn
        self.cfg = cfg
        self.split = split
        self.prefix = prefix
        self.verbose = verbose
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "evaluation")) if log_dir else None
        self.last_results: dict | None = None
        self._inference_model = None

    def inference_model(self) -> keras.Model:
        """The model in the inference layout, with the trained model's current weights."""
        from mgpn_keras.model import copy_weights, inference_twin

        if self._inference_model is None:
            self._inference_model = inference_twin(self.model, self.cfg, self.cfg.eval.layout)
        elif self._inference_model is not self.model:
            copy_weights(self.model, self._inference_model)
        return self._inference_model

    def on_epoch_end(self, epoch, logs=None):
        from mgpn_keras.metrics import format_table

        start = time.time()
        results = evaluate_model(self.inference_model(), self.dataset_fn(), self.cfg, strategy=self.strategy)
        self.last_results = results
        if logs is not None:
            logs.update({f"{self.prefix}{k}": v for k, v in results.items()})
        if self.writer is not None:
            with self.writer.as_default():
                for key, value in results.items():
                    tf.summary.scalar(f"{self.split}/{key}", value, step=epoch + 1)
            self.writer.flush()
        if self.verbose:
            print(format_table(results, f"epoch {epoch + 1}: {self.split} split "
                                        f"({time.time() - start:.1f} s)"), flush=True)


def write_results(path: str, results_by_split: dict[str, dict]) -> None:
    """results.json: {split: {"R1@0.3": ..., ..., "mIoU": ...}} with fractions."""
    write_json(path, results_by_split, indent=2)


def ordered(results: dict, cfg: Config) -> dict:
    names = metric_names(cfg)
    return {k: results[k] for k in names if k in results}


