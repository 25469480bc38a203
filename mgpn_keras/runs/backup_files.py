"""Weight files that cannot poison a run: written atomically with their SHA-256 beside them.

`save_weights` writes `X.weights.h5` through `mgpn_keras/atomic.py` and then `X.weights.h5.sha256`
(in `sha256sum` format, so `sha256sum -c` checks it too). `load_weights` refuses a file whose
content does not match (truncated by a full disk, half-copied, overwritten) with `CorruptBackup`,
instead of loading garbage or failing deep inside h5py.
"""

from __future__ import annotations

import hashlib
import os

from mgpn_keras import atomic
from mgpn_keras.runs.files import CHECKSUM_SUFFIX


class CorruptBackup(ValueError):
    """A backup or checkpoint file is missing, truncated or does not match its checksum."""


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_weights(model, path: str | os.PathLike) -> str:
    """`model.save_weights(path)` atomically, then the checksum beside it; returns the SHA-256."""
    path = os.fspath(path)
    sidecar = path + CHECKSUM_SUFFIX
    if os.path.exists(sidecar):
        # The old checksum must not outlive the old file: without one, a crash between the two
        # writes leaves a complete (atomically written) file that is merely unverified.
        os.unlink(sidecar)
    with atomic.atomic_path(path) as tmp:
        model.save_weights(tmp)
        digest = sha256_of(tmp)
    atomic.write_text(sidecar, f"{digest}  {os.path.basename(path)}\n")
    return digest


def recorded_checksum(path: str | os.PathLike) -> str | None:
    """The SHA-256 in `path`.sha256, or None when there is none."""
    sidecar = os.fspath(path) + CHECKSUM_SUFFIX
    if not os.path.exists(sidecar):
        return None
    with open(sidecar, encoding="utf-8") as f:
        return f.read().split(" ", 1)[0].strip() or None


def verify(path: str | os.PathLike, expected: str | None = None) -> None:
    """Raise CorruptBackup unless `path` exists and matches `expected` (default: its sidecar).

    A file without a recorded checksum (written before checksums, or by a crash between the
    weights and the checksum) passes: atomic writes leave it complete.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CorruptBackup(f"{path} does not exist")
    expected = expected or recorded_checksum(path)
    if expected is None:
        return
    actual = sha256_of(path)
    if actual != expected:
        raise CorruptBackup(f"{path} is truncated or corrupt: its SHA-256 is {actual[:12]}..., "
                            f"expected {expected[:12]}... ({os.path.getsize(path)} bytes)")


def load_weights(model, path: str | os.PathLike, expected: str | None = None) -> None:
    """Verify `path` (see `verify`) and load it into `model`."""
    verify(path, expected)
    try:
        model.load_weights(os.fspath(path))
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptBackup(f"{os.fspath(path)} cannot be loaded ({exc})") from None
