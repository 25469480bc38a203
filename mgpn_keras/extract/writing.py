"""Writing extracted features in the layouts `mgpn prepare` reads, resumably.

- A folder `OUT/`: one `OUT/<video>.npy` per video, (clips, width) float32, each written
  atomically the moment it is done, as `NpyFolderStore` reads it.
- One HDF5 file `OUT.hdf5` (or `.h5`), keyed by video as `Hdf5Store` reads it: the videos are
  written to `OUT.parts/<video>.npy` first (atomically, so a killed run keeps them) and packed
  into the HDF5 file, atomically, at the end; the parts folder is then removed.

Beside the features: `durations.json` ({video: seconds}, updated atomically after every video;
inside OUT/, or `OUT.durations.json` beside an HDF5 file) and `extract.json` (the spec, the
backbone, the per-video clip counts and what failed). A rerun keeps every video whose features
and duration are recorded and extracts the rest; a rerun with another spec or backbone is
refused unless `overwrite`. One run writes a folder at a time (`extract_videos` holds the
project's run-folder lock on it).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from mgpn_keras import atomic
from mgpn_keras.datasets.errors import DataError
from mgpn_keras.datasets.features import HDF5_SUFFIXES, read_npy

DURATIONS_NAME = "durations.json"
INFO_NAME = "extract.json"


def parts_folder(out: str | os.PathLike) -> Path:
    """The folder a run writes its per-video files to: `out` itself, or `OUT.parts/` for HDF5."""
    out = Path(out)
    return out.with_suffix(".parts") if out.suffix.lower() in HDF5_SUFFIXES else out


def write_part(parts: Path, video: str, features: np.ndarray) -> None:
    """Write one video's (clips, width) float32 features to `parts/<video>.npy`, atomically."""
    with atomic.atomic_path(Path(parts) / f"{video}.npy") as tmp:
        np.save(tmp, np.asarray(features, np.float32))


class FeatureWriter:
    """Where one `mgpn extract` run writes; see the module docstring for the layout.

    Args:
        out: a folder, or a path ending in .hdf5 / .h5.
        fingerprint: what the features depend on (spec and backbone); a folder holding
            features of another fingerprint is refused unless `overwrite`.
        overwrite: extract every video again, replacing what is there.
    """

    def __init__(self, out: str | os.PathLike, fingerprint: dict, overwrite: bool = False):
        self.out = Path(out)
        self.hdf5 = self.out.suffix.lower() in HDF5_SUFFIXES
        self.parts = parts_folder(self.out)
        if self.hdf5:
            self.durations_path = self.out.with_name(f"{self.out.stem}.{DURATIONS_NAME}")
            self.info_path = self.out.with_name(f"{self.out.stem}.{INFO_NAME}")
        else:
            if self.out.exists() and not self.out.is_dir():
                raise DataError(f"--out {str(self.out)!r} is a file; expected a folder or a "
                                f"path ending in .hdf5 / .h5")
            self.durations_path = self.out / DURATIONS_NAME
            self.info_path = self.out / INFO_NAME
        self.fingerprint = fingerprint
        self.info: dict = {**fingerprint, "clips": {}, "failed": {}}
        self.durations: dict[str, float] = {}
        self._packed: set[str] = set()
        self._claim(overwrite)

    def _claim(self, overwrite: bool) -> None:
        if self.info_path.is_file():
            old = json.loads(self.info_path.read_text(encoding="utf-8"))
            same = {k: old.get(k) for k in self.fingerprint} == self.fingerprint
            if not same and not overwrite:
                raise DataError(f"{self.out} holds features of another spec or backbone "
                                f"({self.info_path}: spec {old.get('spec', {}).get('name')!r}, "
                                f"backbone {old.get('backbone')!r}); choose another --out or "
                                f"pass --overwrite")
            if same and not overwrite:
                self.info["clips"] = dict(old.get("clips", {}))
                if self.durations_path.is_file():
                    self.durations = json.loads(self.durations_path.read_text(encoding="utf-8"))
        if self.hdf5 and self.out.is_file() and not overwrite:
            import h5py

            with h5py.File(self.out, "r") as f:
                self._packed = set(f.keys())
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in atomic.leftover_temporaries(self.parts, "*.npy"):  # a run killed mid-write
            stale.unlink(missing_ok=True)
        atomic.write_json(self.info_path, self.info)

    def done(self, video: str) -> bool:
        """Whether `video`'s features and duration are already written."""
        if video not in self.durations:
            return False
        return video in self._packed or (self.parts / f"{video}.npy").is_file()

    def write(self, video: str, features: np.ndarray, duration: float) -> None:
        """Write one video's (clips, width) float32 features and record its duration."""
        write_part(self.parts, video, features)
        self.record(video, int(features.shape[0]), duration)

    def record(self, video: str, clips: int, duration: float) -> None:
        """Record a video whose features `write_part` wrote (here or on a pipeline's worker)."""
        self.durations[video] = round(float(duration), 6)
        self.info["clips"][video] = int(clips)
        self.info["failed"].pop(video, None)
        atomic.write_json(self.durations_path, self.durations)

    def failed(self, video: str, message: str) -> None:
        self.info["failed"][video] = message

    def close(self) -> None:
        """Pack the HDF5 file (when writing one) and write extract.json."""
        if self.hdf5:
            self._pack()
        atomic.write_json(self.info_path, self.info)

    def _pack(self) -> None:
        import h5py

        parts = {p.stem: p for p in self.parts.glob("*.npy") if p.stem in self.durations}
        if not parts and self.out.is_file():
            shutil.rmtree(self.parts, ignore_errors=True)
            return
        with atomic.atomic_path(self.out) as tmp:
            with h5py.File(tmp, "w") as dst:
                if self.out.is_file():
                    with h5py.File(self.out, "r") as src:
                        for key in src:
                            if key not in parts:
                                src.copy(src[key], dst, name=key)
                for video, path in sorted(parts.items()):
                    dst.create_dataset(video, data=read_npy(path))
        self._packed |= set(parts)
        shutil.rmtree(self.parts, ignore_errors=True)
