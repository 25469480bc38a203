"""The callback that evaluates with the reference protocol at the end of every epoch."""

from __future__ import annotations

import os
import time

import keras
import tensorflow as tf

from mgpn_keras.config import Config
from mgpn_keras.evaluation.model_evaluation import evaluate_model


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
                 log_dir: str | None = None, verbose: int = 1,
                 strategy: tf.distribute.Strategy | None = None):
        super().__init__()
        self.strategy = strategy
        self.dataset_fn = dataset_fn
        self.cfg = cfg
        self.split = split
        self.prefix = prefix
        self.verbose = verbose
        # not through atomic.py: an event log, appended to after every evaluation
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
        from mgpn_keras.evaluation.metrics import format_table

        start = time.time()
        results = evaluate_model(self.inference_model(), self.dataset_fn(), self.cfg,
                                 strategy=self.strategy)
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
