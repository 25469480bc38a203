"""Keeps the model of the best epoch by a selectable evaluation metric."""

from __future__ import annotations

import os

import keras

from mgpn_keras.runs import backup_files
from mgpn_keras.runs.files import BEST_WEIGHTS
from mgpn_keras.training.resume import TrainingState


class BestCheckpoint(keras.callbacks.Callback):
    """Saves `best.weights.h5` (and its `.sha256`) when `monitor` in the epoch logs improves.

    The best value lives in the run's `TrainingState`, so it survives a resume.
    """

    def __init__(self, directory: str, monitor: str, state: TrainingState, enabled: bool = True,
                 verbose: int = 1):
        super().__init__()
        self.directory = directory
        self.monitor = monitor
        self.state = state
        self.enabled = enabled
        self.verbose = verbose

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"best-checkpoint metric {self.monitor!r} is not in the epoch logs "
                           f"{sorted(logs or {})}")
        if self.state.best_value is None or value > self.state.best_value:
            if self.verbose and self.state.best_value is not None:
                print(f"{self.monitor} improved from {self.state.best_value:.4f} to {value:.4f}; "
                      f"saving the best model", flush=True)
            self.state.best_value, self.state.best_epoch = float(value), epoch + 1
            if self.enabled:
                # Atomic, with its SHA-256 beside it: `backup_files.load_weights` checks it.
                backup_files.save_weights(self.model, os.path.join(self.directory, BEST_WEIGHTS))
