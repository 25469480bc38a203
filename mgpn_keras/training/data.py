"""What a run trains on: prepared shards, or the synthetic benchmark written on the fly."""

from __future__ import annotations

import os


def manifest_path(shards: str) -> str:
    """The manifest of prepared shards, given their folder or the manifest.json itself."""
    from mgpn_keras.datasets.manifest import MANIFEST_NAME

    path = os.path.join(shards, MANIFEST_NAME) if os.path.isdir(shards) else shards
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
