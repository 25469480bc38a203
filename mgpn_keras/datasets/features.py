"""Video features: the stores they come in, checks, and the reference's fixed-length averaging.

Stores (REFERENCE.md 5.8; layouts of microsoft/2D-TAN and Huntersxsx/MGPN `lib/datasets/`):

- one HDF5 file whose top-level key per video is either a (clips, width) dataset (Charades VGG
  `charades_vgg_rgb.hdf5`, TACoS `tall_c3d_features.hdf5`) or a group holding a dataset
  `c3d_features` (ActivityNet `sub_activitynet_v1-3.c3d.hdf5`);
- a folder of per-video `{video_id}.npy` files (Charades I3D `I3D/raw/`, ActivityNet C3D as it
  also circulates, and the synthetic benchmark's `features/`).

Video ids are matched exactly first, then with a `.avi` suffix removed or added (TACoS annotation
ids carry it, some feature files do not) and with ActivityNet's `v_` prefix removed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mgpn_keras.datasets.errors import DataError

# Where each data set's features are looked for, relative to --data-dir, first match wins.
DEFAULT_LOCATIONS = {
    ("charades_sta", "i3d"): ("I3D/raw", "I3D/finetune", "i3d"),
    ("charades_sta", "vgg"): ("charades_vgg_rgb.hdf5", "vgg_rgb_features.hdf5"),
    ("tacos", "c3d"): ("tall_c3d_features.hdf5",),
    ("activitynet", "c3d"): ("sub_activitynet_v1-3.c3d.hdf5", "c3d_features", "features"),
    ("synthetic", "synthetic"): ("features",),
}

HDF5_SUFFIXES = (".hdf5", ".h5")


def default_feature_path(dataset: str, feature_name: str, data_dir: str | os.PathLike) -> Path:
    """The first existing default location of a data set's features under `data_dir`.

    Raises:
        FileNotFoundError: none exists; the message lists the places looked at.
    """
    candidates = DEFAULT_LOCATIONS.get((dataset, feature_name), ())
    for rel in candidates:
        path = Path(data_dir) / rel
        if path.exists():
            return path
    looked = [str(Path(data_dir) / rel) for rel in candidates] or ["(no default location)"]
    raise FileNotFoundError(f"no {feature_name} features for {dataset!r}: looked for {looked}; "
                            f"pass the feature file or folder with --features")


def open_feature_store(path: str | os.PathLike) -> "FeatureStore":
    """Open an HDF5 feature file or a folder of per-video .npy files."""
    path = Path(path)
    if path.is_dir():
        return NpyFolderStore(path)
    if path.is_file() and path.suffix.lower() in HDF5_SUFFIXES:
        return Hdf5Store(path)
    if not path.exists():
        raise FileNotFoundError(f"feature path {path} does not exist (expected an .hdf5 file or "
                                f"a folder of per-video .npy files)")
    raise DataError(f"feature path {path}: expected an .hdf5/.h5 file or a folder of per-video "
                    f".npy files")


def _key_candidates(video_id: str) -> list[str]:
    keys = [video_id]
    keys.append(video_id[:-4] if video_id.endswith(".avi") else video_id + ".avi")
    if video_id.startswith("v_"):
        keys.append(video_id[2:])
    return keys


class FeatureStore:
    """Base class: `get(video_id)` returns the raw (clips, width) float32 features."""

    path: Path

    def get(self, video_id: str) -> np.ndarray:
        raise NotImplementedError

    def source_file(self, video_id: str) -> Path | None:
        """The file `get(video_id)` reads, or None when the store has no such video."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Hdf5Store(FeatureStore):
    """Features in one HDF5 file keyed by video id (dataset, or group with 'c3d_features')."""

    def __init__(self, path: Path):
        import h5py

        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise DataError(f"feature file {self.path}: cannot be opened as HDF5, it is truncated "
                            f"or not an HDF5 file ({exc})") from None

    def get(self, video_id: str) -> np.ndarray:
        import h5py

        for key in _key_candidates(video_id):
            if key in self._file:
                node = self._file[key]
                where = f"feature file {self.path}: video {video_id!r} (key {key!r})"
                if isinstance(node, h5py.Group):
                    names = list(node.keys())
                    name = "c3d_features" if "c3d_features" in node else (
                        names[0] if len(names) == 1 else None)
                    if name is None:
                        raise DataError(f"{where}: expected a dataset or a group holding "
                                        f"'c3d_features', got a group with {names}")
                    node = node[name]
                try:
                    return node[()]
                except (OSError, ValueError) as exc:
                    raise DataError(f"{where}: cannot be read, the file is truncated or corrupt "
                                    f"({exc})") from None
        raise DataError(f"video {video_id!r} has no features in {self.path} (expected a key "
                        f"among {_key_candidates(video_id)})")

    def source_file(self, video_id: str) -> Path | None:
        return self.path if any(key in self._file for key in _key_candidates(video_id)) else None

    def close(self) -> None:
        self._file.close()


class NpyFolderStore(FeatureStore):
    """Features as one `{video_id}.npy` per video in a folder."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def source_file(self, video_id: str) -> Path | None:
        files = [self.path / f"{key}.npy" for key in _key_candidates(video_id)]
        return next((f for f in files if f.is_file()), None)

    def get(self, video_id: str) -> np.ndarray:
        for key in _key_candidates(video_id):
            file = self.path / f"{key}.npy"
            if file.is_file():
                return read_npy(file)
        raise DataError(f"video {video_id!r} has no features in {self.path} (expected "
                        f"{[k + '.npy' for k in _key_candidates(video_id)]})")


def read_npy(path: Path) -> np.ndarray:
    """Load a .npy file, naming it and what its header promised when it is truncated."""
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"feature file {path}: not a readable .npy file ({exc})") from None
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        held = os.fstat(f.fileno()).st_size - f.tell()
        if held < expected:
            raise DataError(f"feature file {path}: truncated .npy, the header says shape {shape} "
                            f"{dtype} ({expected} bytes of data) but the file holds {held}")
        f.seek(0)
        try:
            return np.load(f, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"feature file {path}: cannot be read ({exc})") from None


def check_features(features: np.ndarray, width: int, video_id: str, source,
                   preset: str = "") -> np.ndarray:
    """Check a video's raw features and return them as float32 (clips, width).

    Raises:
        DataError: no clips, not 2-D, another width, or a NaN / infinite value, naming the video,
            the file and what was expected.
    """
    where = f"video {video_id!r} in {source}"
    expects = f"preset {preset!r} expects" if preset else "expected"
    if features.ndim != 2:
        raise DataError(f"{where}: features have shape {features.shape}, expected "
                        f"(clips, {width})")
    if features.shape[0] == 0:
        raise DataError(f"{where}: features have no clips, expected at least one of width {width}")
    if features.shape[1] != width:
        raise DataError(f"{where}: features have width {features.shape[1]}, {expects} {width}")
    if not np.issubdtype(features.dtype, np.number):
        raise DataError(f"{where}: features have dtype {features.dtype}, expected a float array")
    features = np.asarray(features, np.float32)
    finite = np.isfinite(features)
    if not finite.all():
        clip, channel = np.argwhere(~finite)[0]
        raise DataError(f"{where}: features hold a NaN or infinite value (first at clip {clip}, "
                        f"channel {channel}), expected finite numbers")
    return features


def l2_normalize(features: np.ndarray) -> np.ndarray:
    """Per-clip L2 normalisation, as torch.nn.functional.normalize(x, dim=1) (eps 1e-12)."""
    norm = np.sqrt(np.sum(np.square(features, dtype=np.float32), axis=1, keepdims=True))
    return (features / np.maximum(norm, np.float32(1e-12))).astype(np.float32)


def sample_indices(num_clips: int, num_sample_clips: int) -> np.ndarray:
    """Boundaries of `average_to_fixed_length` (REFERENCE.md 5.8): num_sample_clips + 1 ints.

    round(arange(0, S + 1) / S * n) in float32, halves to even, clamped to n - 1.
    """
    idxs = np.arange(num_sample_clips + 1, dtype=np.float32) / np.float32(num_sample_clips)
    idxs = np.round(idxs * np.float32(num_clips)).astype(np.int64)
    return np.minimum(idxs, num_clips - 1)


def average_to_fixed_length(features: np.ndarray, num_sample_clips: int) -> np.ndarray:
    """The reference's resampling to `num_sample_clips` clips (REFERENCE.md 5.8).

    Output clip k is the mean of features[idxs[k]:idxs[k + 1]], or features[idxs[k]] when that
    range is empty. As in the reference, the last raw clip is left out whenever the final output
    clip averages a non-empty range (the clamp to n - 1 and the end-exclusive ranges).

    Args:
        features: (clips, width) float32.
    Returns:
        (num_sample_clips, width) float32.
    """
    idxs = sample_indices(features.shape[0], num_sample_clips)
    out = np.empty((num_sample_clips, features.shape[1]), np.float32)
    for k in range(num_sample_clips):
        s, e = idxs[k], idxs[k + 1]
        out[k] = features[s:e].mean(axis=0) if s < e else features[s]
    return out


def clip_features(raw: np.ndarray, *, width: int, num_sample_clips: int, normalize: bool,
                  video_id: str, source, preset: str = "") -> np.ndarray:
    """Checked, optionally L2-normalised, averaged features of one video: (S, width) float32."""
    features = check_features(raw, width, video_id, source, preset)
    if normalize:
        features = l2_normalize(features)
    return average_to_fixed_length(features, num_sample_clips)
