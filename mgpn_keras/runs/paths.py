"""Where training runs live: run folder names and the paths inside a run folder.

One naming scheme for every command that starts a run: `runs/<preset>-<YYYYmmdd-HHMMSS>`;
started again without a folder, a command resumes the latest unfinished run of its preset
(one with a backup and no results.json).
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass

from mgpn_keras.runs import files

RUNS_ROOT = "runs"


@dataclass
class RunPaths:
    """The files of a run folder (what train.py writes, evaluate and export read)."""

    root: str

    @property
    def backup(self):
        return os.path.join(self.root, files.BACKUP_DIR)

    @property
    def checkpoints(self):
        return os.path.join(self.root, files.CHECKPOINTS_DIR)

    @property
    def logs(self):
        return os.path.join(self.root, files.LOGS_DIR)

    @property
    def config(self):
        return os.path.join(self.root, files.CONFIG_FILE)

    @property
    def results(self):
        return os.path.join(self.root, files.RESULTS_FILE)

    @property
    def best_weights(self):
        return os.path.join(self.checkpoints, files.BEST_WEIGHTS)

    @property
    def preset(self):
        """The best epoch's model as a preset folder (`mgpn_keras.from_preset`)."""
        return os.path.join(self.root, files.PRESET_DIR)

    @property
    def latest_weights(self):
        return os.path.join(self.backup, files.LATEST_WEIGHTS)

    @property
    def summary(self):
        return os.path.join(self.root, files.SUMMARY_FILE)

    @property
    def baselines(self):
        return os.path.join(self.root, files.BASELINES_FILE)

    @property
    def manifest_link(self):
        return os.path.join(self.root, files.MANIFEST_LINK_FILE)


def new_run_dir(name: str, root: str = RUNS_ROOT) -> str:
    """`root/<name>-<YYYYmmdd-HHMMSS>`: a fresh run folder name for a preset (or a search)."""
    return os.path.join(root, f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")


def unfinished_run(name: str, root: str = RUNS_ROOT) -> str | None:
    """The latest run folder of `name` that has a backup but no results.json, if any."""
    for run in sorted(glob.glob(os.path.join(root, f"{name}-*")), reverse=True):
        paths = RunPaths(run)
        if os.path.exists(os.path.join(paths.backup, files.STATE_FILE)) and not os.path.exists(
                paths.results):
            return run
    return None
