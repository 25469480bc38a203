"""Where training runs live and what they read: run folder names, shards, the synthetic data.

One naming scheme for every command that starts a run: `runs/<preset>-<YYYYmmdd-HHMMSS>`;
started again without a folder, a command resumes the latest unfinished run of its preset
(one with a backup and no results.json).
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass

RUNS_ROOT = "runs"


@dataclass
class RunPaths:
    """The files of a run folder (what train.py writes, evaluate and export read)."""

    root: str

    @property
    def backup(self):
        return os.path.join(self.root, "backup")

    @property
    def checkpoints(self):
        return os.path.join(self.root, "checkpoints")

    @property
    def logs(self):
        return os.path.join(self.root, "logs")

    @property
    def config(self):
        return os.path.join(self.root, "config.json")

    @property
    def results(self):
        return os.path.join(self.root, "results.json")

    @property
    def best_weights(self):
        return os.path.join(self.checkpoints, "best.weights.h5")

    @property
    def preset(self):
        """The best epoch's model as a preset folder (`mgpn_keras.saving.from_preset`)."""
        return os.path.join(self.root, "model")

    @property
    def summary(self):
        return os.path.join(self.root, "summary.json")

    @property
    def manifest_link(self):
        return os.path.join(self.root, "manifest.json")


def new_run_dir(name: str, root: str = RUNS_ROOT) -> str:
    """`root/<name>-<YYYYmmdd-HHMMSS>`: a fresh run folder name for a preset (or a search)."""
    return os.path.join(root, f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")


def unfinished_run(name: str, root: str = RUNS_ROOT) -> str | None:
    """The latest run folder of `name` that has a backup but no results.json, if any."""
    for run in sorted(glob.glob(os.path.join(root, f"{name}-*")), reverse=True):
        if os.path.exists(os.path.join(run, "backup", "state.json")) and not os.path.exists(
                os.path.join(run, "results.json")):
            return run
    return None


def manifest_path(shards: str) -> str:
    """The manifest of prepared shards, given their folder or the manifest.json itself."""
    path = os.path.join(shards, "manifest.json") if os.path.isdir(shards) else shards
    if not os.path.exists(path):
        raise FileNotFoundError(f"no manifest at {path!r}; prepare shards with `mgpn prepare`")
    return path


def prepare_synthetic(cfg, data_dir: str, verbose: bool) -> str:
    """Write (or reuse) the synthetic benchmark and its shards; returns the manifest path."""
    from mgpn_keras.datasets import synthetic
    from mgpn_keras.datasets.prepare import prepare

    raw = synthetic.write(os.path.join(data_dir, "raw"))
    return prepare(cfg, raw, os.path.join(data_dir, "shards"), progress=verbose)


def training_manifest(cfg, shards: str | None, data_dir: str, verbose: bool) -> str:
    """The manifest a run trains on: `shards`, else the synthetic benchmark for its preset."""
    if shards:
        from mgpn_keras.datasets.manifest import check_manifest

        path = manifest_path(shards)
        check_manifest(path, cfg)  # a foreign or mismatched manifest fails here, in a second
        return path
    if cfg.data.dataset == "synthetic":
        return prepare_synthetic(cfg, data_dir, verbose)
    raise ValueError(f"preset {cfg.name!r} trains on real features: prepare them with "
                     f"`mgpn prepare --preset {cfg.name} --data-dir DIR --out SHARDS` and pass "
                     "--shards SHARDS")
