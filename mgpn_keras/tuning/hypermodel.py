"""`MGPNHyperModel`: MGPN for keras-tuner, trained and evaluated as `train.py` does."""

from __future__ import annotations

import keras_tuner

from mgpn_keras.config import Config
from mgpn_keras.training.epoch_logs import selection_key
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
    hyperparameters, and builds as `train()` does (`build_for_training`).
    `fit(hp, model, epochs=..., callbacks=...)` is `train()`'s loop (`fit_epochs`): the
    same step learning-rate schedule, per-epoch shuffle seeds and `EvaluationCallback` on
    the selection split (val, or test where the data set has no val), so `val_R1@0.5` and
    the other metrics are in the epoch logs that keras-tuner reads, and a trial's
    `best_config.json` trained by `train.py` reproduces the trial.

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
        self.last_history: dict | None = None  # the last fit's {metric: per-epoch values}

    def config_for(self, hp) -> Config:
        """The config of a trial (a HyperParameters, or a dict of its values)."""
        values = hp if isinstance(hp, dict) else hp.values
        return self.space.config_for(self.base, values)

    def declare_hyperparameters(self, hp):
        self.space.declare(hp)

    def build(self, hp):
        from mgpn_keras.model import count_trainable_parameters
        from mgpn_keras.training.trainer import build_for_training

        self.space.declare(hp)
        model = build_for_training(self.config_for(hp))
        self.last_trainable_parameters = count_trainable_parameters(model)
        return model

    def fit(self, hp, model, *args, epochs=None, initial_epoch=0, callbacks=None, verbose=None, **kwargs):
        """Train `model` with `train.py`'s loop (`fit_epochs`) and return its History.

        Epochs `initial_epoch` to `epochs` (default: the config's), so Hyperband's
        continued trials keep the schedule and data order of an uninterrupted run.
        """
        from mgpn_keras.training.resume import TrainingState
        from mgpn_keras.training.trainer import fit_epochs

        verbose = self.verbose if verbose is None else verbose
        # keras-tuner's callbacks come after the evaluation, whose metrics they read.
        history = fit_epochs(model, self.config_for(hp), self.manifest, state=TrainingState(epoch=initial_epoch),
                             epochs=epochs, callbacks=callbacks, verbose=verbose)
        self.last_history = {"epoch": [e + 1 for e in history.epoch],
                             **{k: [float(v) for v in values] for k, values in history.history.items()}}
        return history
