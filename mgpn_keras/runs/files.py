"""The names of every file and folder in a run folder and a preset folder, defined once.

A run folder (what `train` writes; `evaluate`, `export` and `predict` read):

    config.json                      the run's Config
    manifest.json                    {"manifest": path} of the prepared data set it trains on
    backup/latest.weights.h5         the newest backup (+ .sha256), with backup/state.json
    backup/previous.weights.h5       the one before, with backup/previous.state.json
    checkpoints/best.weights.h5      the best epoch's weights (+ .sha256)
    logs/                            TensorBoard and CSV logs
    model/                           the best epoch as a preset folder (below)
    summary.json, results.json       the run's summary; {split: metrics}
    baselines.json                   the synthetic preset's baselines (`mgpn train`)
    .mgpn-lock                       the lock of the process writing the folder

A preset folder (keras-hub's layout): config.json, model.weights.h5, metadata.json,
assets/vocabulary.txt, assets/word_vectors.npy.
"""

from __future__ import annotations

import os

# run folder
CONFIG_FILE = "config.json"
MANIFEST_LINK_FILE = "manifest.json"
RESULTS_FILE = "results.json"
SUMMARY_FILE = "summary.json"
BASELINES_FILE = "baselines.json"
BACKUP_DIR = "backup"
CHECKPOINTS_DIR = "checkpoints"
LOGS_DIR = "logs"
PRESET_DIR = "model"
LOCK_FILE = ".mgpn-lock"

# backup/ and checkpoints/
LATEST_WEIGHTS = "latest.weights.h5"
PREVIOUS_WEIGHTS = "previous.weights.h5"
STATE_FILE = "state.json"
PREVIOUS_STATE_FILE = "previous.state.json"
BEST_WEIGHTS = "best.weights.h5"
CHECKSUM_SUFFIX = ".sha256"

# preset folder (CONFIG_FILE too)
PRESET_WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
ASSETS_DIR = "assets"
VOCABULARY_FILE = os.path.join(ASSETS_DIR, "vocabulary.txt")
VECTORS_FILE = os.path.join(ASSETS_DIR, "word_vectors.npy")
