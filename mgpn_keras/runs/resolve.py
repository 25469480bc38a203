"""The one resolver of "a trained model": a preset folder or a training run folder, as one
`ResolvedModel` built for inference, with the vocabulary and vectors export and evaluation need."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mgpn_keras.runs.files import CONFIG_FILE, METADATA_FILE, PRESET_WEIGHTS_FILE
from mgpn_keras.runs.paths import RunPaths
from mgpn_keras.runs.presets import ResolvedModel, is_preset_folder, load_preset


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


def check_model(path: str | os.PathLike, *, weights: str | os.PathLike | None = None,
                manifest: str | os.PathLike | None = None) -> None:
    """The checks of `resolve_model` that need no TensorFlow: the folder is a preset or run
    folder, the run's weights exist, the manifest is a prepared data set's. Commands call it
    before importing TensorFlow, so that a mistyped path fails at once, with the same error."""
    from mgpn_keras.datasets.manifest import load_manifest

    path = Path(path)
    if is_preset_folder(path):
        if manifest is not None:
            load_manifest(manifest)
        return
    _run_sources(path, weights, manifest, load_manifest)


def _run_sources(path: Path, weights, manifest, load_manifest):
    """(paths, config, manifest or None, weight file) of a run folder, each checked."""
    from mgpn_keras.config import load_config

    paths = RunPaths(os.fspath(path))
    if not os.path.isfile(paths.config):
        raise FileNotFoundError(f"{os.fspath(path)!r} is neither a model preset folder "
                                f"({METADATA_FILE}, {PRESET_WEIGHTS_FILE}) nor a training run folder: "
                                f"config file {paths.config!r} does not exist")
    cfg = load_config(paths.config)
    if manifest is None and os.path.isfile(paths.manifest_link):
        with open(paths.manifest_link, encoding="utf-8") as f:
            manifest = json.load(f)["manifest"]
    data = load_manifest(manifest) if manifest is not None else None
    return paths, cfg, data, Path(run_weights(paths, weights))


def _resolve_run(path: Path, weights, manifest, load_manifest, layout, precision) -> ResolvedModel:
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.runs import backup_files

    paths, cfg, data, weight_file = _run_sources(path, weights, manifest, load_manifest)
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
    latest = paths.latest_weights
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
