"""`MGPNHyperModel`: MGPN for keras-tuner, trained and evaluated as `train.py` does."""

from __future__ import annotations

import math

import keras
import keras_tuner
import tensorflow as tf

from mgpn_keras.config import Config
from mgpn_keras.training.epoch_logs import metric_prefix, selection_key
from mgpn_keras.tuning.search_space import SearchSpace


def objective_for(cfg: Config, manifest=None) -> keras_tuner.Objective:
    """The search objective: the selection metric on the selection split, maximised.

    `val_R1@0.5` with the presets' `eval.best_metric`, as logged by `EvaluationCallback`;
    `test_R1@0.5` for a `manifest` without a val split (Charades-STA).
    """
    from mgpn_keras.training.trainer import selection_split

    split = selection_split(manifest) if manifest is not None else "val"
    return keras_tuner.Objective(selection_key(cfg.eval.best_metric, split), direction="max")


class MGPNHyperModel(keras_tuner.HyperModel):
    """Builds MGPN from a base config and a trial's values; fits it on prepared shards.

    `build(hp)` sets the base config's seed, so trials differ only in their
    hyperparameters, and compiles with the training loss and optimizer
    (`compile_model`). `fit(hp, model, epochs=..., callbacks=...)` trains on the
    manifest's train split with the reference's step learning-rate schedule and runs
    `EvaluationCallback` every epoch on the selection split (val, or test where the data
    set has no val), so `val_R1@0.5` and the other metrics are in the epoch logs that
    keras-tuner reads.

    Args:
        base: the config every trial starts from (preset, data, schedule, seed).
        manifest: a prepared data set (`Manifest` or the path of its manifest.json).
        space: the searched dimensions.
        verbose: progress output of fit and of the per-epoch evaluation table.
    """

    def __init__(self, base: Config, manifest, space: SearchSpace, verbose: int = 0, **kwargs):
        from mgpn_keras.datasets import check_manifest

        super().__init__(name="mgpn", **kwargs)
        space.check(base)
        self.base = base
        self.manifest = check_manifest(manifest, base)
        self.space = space
        self.verbose = verbose
        self.last_trainable_parameters: int | None = None

    def config_for(self, hp) -> Config:
        """The config of a trial (a HyperParameters, or a dict of its values)."""
        values = hp if isinstance(hp, dict) else hp.values
        return self.space.config_for(self.base, values)

    def declare_hyperparameters(self, hp):
        self.space.declare(hp)

    def build(self, hp):
        from mgpn_keras.model import build_mgpn, count_trainable_parameters
        from mgpn_keras.training.trainer import compile_model

        self.space.declare(hp)
        cfg = self.config_for(hp)
        keras.utils.set_random_seed(cfg.train.seed)
        model = compile_model(build_mgpn(cfg), cfg)
        self.last_trainable_parameters = count_trainable_parameters(model)
        return model

    def fit(self, hp, model, *args, epochs=None, initial_epoch=0, callbacks=None, verbose=None, **kwargs):
        """Train `model` for `epochs` (default: the config's) and return the History."""
        from mgpn_keras.datasets import make_dataset
        from mgpn_keras.training.evaluation import EvaluationCallback
        from mgpn_keras.training.schedule import learning_rate_for_epoch
        from mgpn_keras.training.trainer import selection_split

        cfg = self.config_for(hp)
        verbose = self.verbose if verbose is None else verbose
        epochs = int(epochs or cfg.train.epochs)
        manifest = self.manifest
        split = selection_split(manifest)
        batches = math.ceil(manifest.counts["train"] / cfg.train.batch_size)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        data = (make_dataset(manifest, "train", cfg.train.batch_size, training=True,
                             shuffle_seed=cfg.train.seed)
                .apply(tf.data.experimental.assert_cardinality(batches)).with_options(options))

        def eval_dataset():
            return make_dataset(manifest, split, cfg.eval.batch_size, training=False, with_meta=True)

        schedule = keras.callbacks.LearningRateScheduler(lambda epoch, _: learning_rate_for_epoch(cfg, epoch))
        # First the schedule and the evaluation, then keras-tuner's callbacks, which read
        # the objective from the logs that EvaluationCallback filled.
        evaluation = EvaluationCallback(eval_dataset, cfg, split, prefix=metric_prefix(split),
                                        verbose=verbose)
        all_callbacks = [schedule, evaluation, *(callbacks or [])]
        return model.fit(data, epochs=epochs, initial_epoch=initial_epoch, callbacks=all_callbacks,
                         shuffle=False, verbose=verbose)
