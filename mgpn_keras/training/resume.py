"""A training run's backup: written atomically and checksummed, so that a killed job resumes
where it stopped and a damaged backup is caught instead of trained on.

The backup folder holds two generations, each a weights file (with the optimizer's state) and a
state file that records the weights' SHA-256:

    latest.weights.h5    (+ .sha256)   state.json            the newest backup
    previous.weights.h5  (+ .sha256)   previous.state.json   the one before

A new backup first moves the newest one to `previous.*`, then writes the weights and last the
state, each through `mgpn_keras/atomic.py`. On restore, each state (newest first) is matched to
the weights file whose content has its checksum, so a kill at any point leaves a usable pair.
A truncated or corrupt newest backup makes the run resume from the previous one, saying so; with
no usable backup left the run stops with an error (it never starts over silently).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

import keras

from mgpn_keras import atomic
from mgpn_keras.runs import backup_files
from mgpn_keras.runs.backup_files import CorruptBackup
from mgpn_keras.runs.files import LATEST_WEIGHTS, PREVIOUS_WEIGHTS
from mgpn_keras.runs.files import PREVIOUS_STATE_FILE, STATE_FILE


@dataclass
class TrainingState:
    """Where training stands: the next batch to run is `step` of 0-indexed `epoch`."""

    epoch: int = 0
    step: int = 0
    best_value: float | None = None
    best_epoch: int | None = None
    optimizer_steps: int = 0  # batches trained in all, a check that none ran twice or never
    history: list = dataclasses.field(default_factory=list)
    weights_sha256: str | None = None  # the content of the weights this state goes with

    @classmethod
    def from_file(cls, path: str) -> "TrainingState":
        """Read a state file; CorruptBackup when it is not a state (truncated, edited)."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            fields = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in fields})
        except (json.JSONDecodeError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise CorruptBackup(f"{path} is truncated or corrupt ({exc})") from None

    @property
    def started(self) -> bool:
        return bool(self.epoch or self.step)


def weights_path(backup_dir: str) -> str:
    """The newest backup's weights."""
    return os.path.join(backup_dir, LATEST_WEIGHTS)


def save_backup(model: keras.Model, state: TrainingState, backup_dir: str) -> None:
    """Move the newest backup to `previous.*`, then write the weights, then the state."""
    os.makedirs(backup_dir, exist_ok=True)
    join = lambda name: os.path.join(backup_dir, name)  # noqa: E731
    for new, old in ((LATEST_WEIGHTS, PREVIOUS_WEIGHTS),
                     (LATEST_WEIGHTS + backup_files.CHECKSUM_SUFFIX,
                      PREVIOUS_WEIGHTS + backup_files.CHECKSUM_SUFFIX),
                     (STATE_FILE, PREVIOUS_STATE_FILE)):
        if os.path.exists(join(new)):
            atomic.rename(join(new), join(old))
    state.optimizer_steps = int(model.optimizer.iterations.numpy()) if model.optimizer else 0
    state.weights_sha256 = backup_files.save_weights(model, join(LATEST_WEIGHTS))
    atomic.write_json(join(STATE_FILE), dataclasses.asdict(state))


def restore_backup(model: keras.Model, backup_dir: str) -> TrainingState:
    """Load the newest usable backup into `model` and return its state.

    Returns a fresh TrainingState when the folder holds no backup.

    Raises:
        CorruptBackup: backups exist but none is usable (each reason named).
    """
    join = lambda name: os.path.join(backup_dir, name)  # noqa: E731
    states = [join(n) for n in (STATE_FILE, PREVIOUS_STATE_FILE) if os.path.exists(join(n))]
    if not states:
        return TrainingState()
    weights = [join(n) for n in (LATEST_WEIGHTS, PREVIOUS_WEIGHTS) if os.path.exists(join(n))]
    digests: dict[str, str] = {}
    problems: list[str] = []
    candidates = []
    for path in states:
        try:
            candidates.append((path, TrainingState.from_file(path)))
        except CorruptBackup as exc:
            problems.append(str(exc))
    candidates.sort(key=lambda c: c[1].optimizer_steps, reverse=True)
    for path, state in candidates:
        if not state.started:
            return state
        if state.weights_sha256 is None:  # a backup written before checksums
            file = join(LATEST_WEIGHTS)
        else:
            for w in weights:
                digests.setdefault(w, backup_files.sha256_of(w))
            file = next((w for w in weights if digests[w] == state.weights_sha256), None)
            if file is None:
                problems.append(f"{path}: no weights file has its SHA-256 "
                                f"{state.weights_sha256[:12]}... ({', '.join(weights) or 'none'} "
                                f"are truncated, corrupt or missing)")
                continue
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            backup_files.load_weights(model, file, state.weights_sha256)
        except CorruptBackup as exc:
            problems.append(f"{path}: {exc}")
            continue
        if problems:
            _promote(backup_dir, path, file)
            print(f"training backup unusable: {'; '.join(problems)}. Resuming from the previous "
                  f"good backup {path} (epoch {state.epoch + 1}, batch {state.step}); the "
                  f"batches after it are trained again", flush=True)
        return state
    raise CorruptBackup(f"no usable training backup in {backup_dir!r}: {'; '.join(problems)}; "
                        f"restore the files or delete {backup_dir!r} to start over")


def _promote(backup_dir: str, state_path: str, weights: str) -> None:
    """Make the good backup the newest, so that the next rotation keeps it as `previous`."""
    latest = os.path.join(backup_dir, LATEST_WEIGHTS)
    if weights != latest:
        atomic.rename(weights, latest)
        sidecar = weights + backup_files.CHECKSUM_SUFFIX
        if os.path.exists(sidecar):
            atomic.rename(sidecar, latest + backup_files.CHECKSUM_SUFFIX)
    if state_path != os.path.join(backup_dir, STATE_FILE):
        atomic.rename(state_path, os.path.join(backup_dir, STATE_FILE))


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
