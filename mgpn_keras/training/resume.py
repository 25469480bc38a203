"""A training run's backup: written atomically, so a killed job resumes where it stopped."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

import keras


@dataclass
class TrainingState:
    """Where training stands: the next batch to run is `step` of 0-indexed `epoch`."""

    epoch: int = 0
    step: int = 0
    best_value: float | None = None
    best_epoch: int | None = None
    optimizer_steps: int = 0  # batches trained in all, a check that none ran twice or never
    history: list = dataclasses.field(default_factory=list)

    @classmethod
    def load(cls, backup_dir: str) -> "TrainingState":
        path = os.path.join(backup_dir, "state.json")
        if not os.path.exists(path):
            return cls()
        try:
            with open(path, encoding="utf-8") as f:
                return cls(**json.load(f))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"training backup {path!r} is corrupt ({exc}); delete {backup_dir!r} "
                             "to start over") from None

    def save(self, backup_dir: str) -> None:
        os.makedirs(backup_dir, exist_ok=True)
        path = os.path.join(backup_dir, "state.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(dataclasses.asdict(self), f, indent=1)
        os.replace(path + ".tmp", path)


def weights_path(backup_dir: str) -> str:
    return os.path.join(backup_dir, "latest.weights.h5")


def save_backup(model: keras.Model, state: TrainingState, backup_dir: str) -> None:
    """Weights (with the optimizer's state) first, then the state that points at them."""
    os.makedirs(backup_dir, exist_ok=True)
    path = weights_path(backup_dir)
    tmp = path[: -len(".weights.h5")] + ".tmp.weights.h5"
    state.optimizer_steps = int(model.optimizer.iterations.numpy()) if model.optimizer else 0
    model.save_weights(tmp)
    os.replace(tmp, path)
    state.save(backup_dir)


def restore_backup(model: keras.Model, backup_dir: str) -> TrainingState:
    state = TrainingState.load(backup_dir)
    path = weights_path(backup_dir)
    if os.path.exists(path) and (state.epoch or state.step):
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(path)
    return state


class StepBackup(keras.callbacks.Callback):
    """Backs up every `every_steps` batches and at the end of each epoch.

    `step_offset` is the number of batches of the current epoch already run before this
    `fit` call (after a resume), so the saved step counts from the epoch's start.
    """

    def __init__(self, backup_dir: str, state: TrainingState, every_steps: int, enabled: bool = True):
        super().__init__()
        self.backup_dir = backup_dir
        self.state = state
        self.every_steps = int(every_steps)
        self.enabled = enabled
        self.step_offset = 0
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = self.step_offset + batch + 1
        if self.every_steps > 0 and step % self.every_steps == 0:
            self.state.epoch, self.state.step = self.epoch, step
            if self.enabled:
                save_backup(self.model, self.state, self.backup_dir)

    def on_epoch_end(self, epoch, logs=None):
        self.state.epoch, self.state.step = epoch + 1, 0
        self.state.history.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        if self.enabled:
            save_backup(self.model, self.state, self.backup_dir)
