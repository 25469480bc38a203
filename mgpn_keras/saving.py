"""Model folders in keras-hub's preset layout, and the one resolver of "a trained model".

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
anyway. `resolve_model(path)` accepts such a folder or a training run folder, so the CLI
(`mgpn export / evaluate / predict`) and Python callers find models one way.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
ASSETS_DIR = "assets"
VOCABULARY_FILE = os.path.join(ASSETS_DIR, "vocabulary.txt")
VECTORS_FILE = os.path.join(ASSETS_DIR, "word_vectors.npy")
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
    return (path / METADATA_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


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

    import mgpn_keras
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
        model.save_weights(tmp / WEIGHTS_FILE)
        if vocabulary is not None:
            (tmp / ASSETS_DIR).mkdir()
            (tmp / VOCABULARY_FILE).write_text("".join(f"{w}\n" for w in vocabulary), encoding="utf-8")
            np.save(tmp / VECTORS_FILE, vectors)
        metadata = {"format": FORMAT, "mgpn_keras_version": mgpn_keras.__version__,
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
                                f"{METADATA_FILE} and {WEIGHTS_FILE} in it")
    with open(path / METADATA_FILE, encoding="utf-8") as f:
        metadata = json.load(f)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"preset folder {os.fspath(path)!r} has format {metadata.get('format')!r}; "
                         f"this version reads {FORMAT!r}")
    cfg = load_config(path / CONFIG_FILE)
    model = build_mgpn(cfg, layout=layout, dtype=precision)  # either layout's weights load
    model.load_weights(path / WEIGHTS_FILE)
    vocabulary = vectors = None
    if (path / VOCABULARY_FILE).is_file():
        vocabulary = (path / VOCABULARY_FILE).read_text(encoding="utf-8").split("\n")[:-1]
        vectors = np.load(path / VECTORS_FILE)
    return ResolvedModel(model, cfg, vocabulary, vectors, None,
                         {"preset_dir": os.path.abspath(path)}, "preset")


def from_preset(preset_dir: str | os.PathLike):
    """The model of a preset folder, weights loaded (keras-hub's `Backbone.from_preset`)."""
    return load_preset(preset_dir).model


def resolve_model(path: str | os.PathLike, *, weights: str | os.PathLike | None = None,
                  manifest: str | os.PathLike | None = None, layout: str | None = None,
                  precision: str | None = None) -> ResolvedModel:
    """A preset folder or a training run folder, as one `ResolvedModel`, built for inference.

    Args:
        path: a preset folder (`save_to_preset`) or a run folder (`train`).
        weights: a run folder's weights: "best" (default: checkpoints/best.weights.h5, else
            the latest backup), "latest", or a `.weights.h5` file.
        manifest: the prepared data set whose vocabulary and vectors to use (default: the
            one the run folder names; a preset folder carries its own).
        layout: the 2D stage's layout (default: the config's `eval.layout`, "auto": the
            dense model's answers, faster where the geometry allows).
        precision: the layers' dtype policy (default: the global policy).
    """
    from mgpn_keras.datasets.manifest import load_manifest

    path = Path(path)
    if is_preset_folder(path):
        if weights not in (None, "best"):
            raise ValueError(f"{os.fspath(path)!r} is a preset folder: it holds one set of weights, "
                             f"so --weights {weights} does not apply")
        resolved = load_preset(path, layout=_inference_layout(path / CONFIG_FILE, layout),
                               precision=precision)
        if manifest is not None:
            data = load_manifest(manifest)
            resolved.vocabulary, resolved.vectors, resolved.manifest = data.vocabulary, data.vectors, data.path
            resolved.data = data
        return resolved
    return _resolve_run(path, weights, manifest, load_manifest, layout, precision)


def _inference_layout(config_file, layout):
    if layout is not None:
        return layout
    from mgpn_keras.config import load_config

    return load_config(config_file).eval.layout


def _resolve_run(path: Path, weights, manifest, load_manifest, layout, precision) -> ResolvedModel:
    from mgpn_keras.config import load_config
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.training import backup_files
    from mgpn_keras.training.runs import RunPaths

    paths = RunPaths(os.fspath(path))
    if not os.path.isfile(paths.config):
        raise FileNotFoundError(f"{os.fspath(path)!r} is neither a model preset folder "
                                f"({METADATA_FILE}, {WEIGHTS_FILE}) nor a training run folder: "
                                f"config file {paths.config!r} does not exist")
    cfg = load_config(paths.config)
    if manifest is None and os.path.isfile(paths.manifest_link):
        with open(paths.manifest_link, encoding="utf-8") as f:
            manifest = json.load(f)["manifest"]
    data = load_manifest(manifest) if manifest is not None else None
    weight_file = Path(run_weights(paths, weights))
    model = build_mgpn(cfg, layout=cfg.eval.layout if layout is None else layout, dtype=precision)
    # Checked against the SHA-256 the trainer wrote beside it, as the trainer checks it: a
    # truncated or corrupt checkpoint is a named error (CorruptBackup), never loaded silently.
    backup_files.load_weights(model, weight_file)
    source = {"run_dir": os.path.abspath(paths.root), "weights": os.path.abspath(weight_file)}
    if data is not None:
        source["manifest"] = os.path.abspath(data.path)
    return ResolvedModel(model, cfg, data.vocabulary if data else None, data.vectors if data else None,
                         data.path if data else None, source, "run", data)


def run_weights(paths, weights=None) -> str:
    """The weight file of a run folder: "best" (else the latest backup), "latest", or a path."""
    latest = os.path.join(paths.backup, "latest.weights.h5")
    if weights in (None, "best"):
        candidates = [paths.best_weights, latest]
    elif weights == "latest":
        candidates = [latest]
    else:
        candidates = [os.fspath(weights)]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"run folder {paths.root!r} has no weights: expected "
                            f"{' or '.join(candidates)}")
