"""Model folders in keras-hub's preset layout (`save_to_preset`, `load_preset`, `from_preset`).

A preset folder (written by `save_to_preset`, read by `from_preset`, the names of keras-hub's
`Backbone`):

    config.json              the MGPN `Config` (loadable by `load_config` and `train.py --config`)
    model.weights.h5         the weights (`model.save_weights`)
    metadata.json            versions, parameter count, date, what the folder holds
    assets/vocabulary.txt    the data set's words by id, one a line ("<pad>", "<unk>", ...)
    assets/word_vectors.npy  their (V, word_dim) float32 vectors

keras-hub's `config.json` is the serialized backbone class; ours is the `Config` that
`build_mgpn` takes, because that is what every other part of the project (export,
evaluation, the tuner) reads, and a functional graph of the model would be rebuilt from it
anyway. `mgpn_keras.runs.resolve.resolve_model(path)` accepts such a folder or a training
run folder, so the CLI (`mgpn export / evaluate / predict`) and Python callers find models one
way. The file names are `mgpn_keras.runs.files`'.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mgpn_keras.runs.files import (ASSETS_DIR, CONFIG_FILE, METADATA_FILE, PRESET_WEIGHTS_FILE,
                                   VECTORS_FILE, VOCABULARY_FILE)
from mgpn_keras.version import __version__

FORMAT = "mgpn_keras.preset/1"


@dataclass
class ResolvedModel:
    """A trained model with what export and evaluation need beside it."""

    model: object  # keras.Model with its weights loaded
    config: object  # mgpn_keras.config.Config
    vocabulary: list[str] | None
    vectors: np.ndarray | None
    manifest: str | None  # the prepared data set a run folder names; None for a preset folder
    source: dict = field(default_factory=dict)  # where it came from, for export metadata
    kind: str = "preset"  # "preset" or "run"
    data: object = None  # the loaded Manifest of `manifest`, if any


def is_preset_folder(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / METADATA_FILE).is_file() and (path / PRESET_WEIGHTS_FILE).is_file()


def save_to_preset(model, preset_dir: str | os.PathLike, config, vocabulary=None, vectors=None) -> Path:
    """Write `model` (built by `build_mgpn(config)`) as a preset folder, atomically.

    Args:
        model: the trained model.
        preset_dir: the folder; an existing one is replaced as a whole.
        config: its `Config`.
        vocabulary: the words by id that `vectors` rows belong to (optional, with `vectors`).
        vectors: `(len(vocabulary), word_dim)` float32 word vectors.
    """
    import keras

    from mgpn_keras.atomic import atomic_path
    from mgpn_keras.config import save_config
    from mgpn_keras.model import count_trainable_parameters

    if (vocabulary is None) != (vectors is None):
        raise ValueError("save_to_preset: give both the vocabulary and its word vectors, or neither")
    if vectors is not None:
        vectors = np.asarray(vectors, np.float32)
        if vectors.shape != (len(vocabulary), config.model.word_dim):
            raise ValueError(f"save_to_preset: word vectors have shape {vectors.shape}, expected "
                             f"({len(vocabulary)}, {config.model.word_dim}) for the vocabulary and "
                             "model.word_dim")
    with atomic_path(preset_dir, directory=True) as tmp:
        save_config(config, tmp / CONFIG_FILE)
        model.save_weights(tmp / PRESET_WEIGHTS_FILE)
        if vocabulary is not None:
            (tmp / ASSETS_DIR).mkdir()
            (tmp / VOCABULARY_FILE).write_text("".join(f"{w}\n" for w in vocabulary), encoding="utf-8")
            np.save(tmp / VECTORS_FILE, vectors)
        metadata = {"format": FORMAT, "mgpn_keras_version": __version__,
                    "keras_version": keras.__version__, "preset": config.name,
                    "parameter_count": int(model.count_params()),
                    "trainable_parameter_count": count_trainable_parameters(model),
                    "vocabulary_size": None if vocabulary is None else len(vocabulary),
                    "date": time.strftime("%Y-%m-%d@%H:%M:%S")}
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return Path(preset_dir)


def load_preset(preset_dir: str | os.PathLike, *, layout: str | None = None,
                precision: str | None = None) -> ResolvedModel:
    """Read a preset folder: the model with its weights, its config and its assets.

    `layout` and `precision` are `build_mgpn`'s (default: dense, the global policy).
    """
    from mgpn_keras.config import load_config
    from mgpn_keras.model import build_mgpn

    path = Path(preset_dir)
    if not is_preset_folder(path):
        raise FileNotFoundError(f"{os.fspath(path)!r} is not a model preset folder: expected "
                                f"{METADATA_FILE} and {PRESET_WEIGHTS_FILE} in it")
    with open(path / METADATA_FILE, encoding="utf-8") as f:
        metadata = json.load(f)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"preset folder {os.fspath(path)!r} has format {metadata.get('format')!r}; "
                         f"this version reads {FORMAT!r}")
    cfg = load_config(path / CONFIG_FILE)
    model = build_mgpn(cfg, layout=layout, dtype=precision)  # either layout's weights load
    model.load_weights(path / PRESET_WEIGHTS_FILE)
    vocabulary = vectors = None
    if (path / VOCABULARY_FILE).is_file():
        vocabulary = (path / VOCABULARY_FILE).read_text(encoding="utf-8").split("\n")[:-1]
        vectors = np.load(path / VECTORS_FILE)
    return ResolvedModel(model, cfg, vocabulary, vectors, None,
                         {"preset_dir": os.path.abspath(path)}, "preset")


def from_preset(preset_dir: str | os.PathLike):
    """The model of a preset folder, weights loaded (keras-hub's `Backbone.from_preset`)."""
    return load_preset(preset_dir).model
