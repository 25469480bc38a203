"""Atomic writes: a reader (or a process restarted after a kill) finds the old file or the new one.

Every file the project writes (results, summaries, manifests, baselines, predictions, backups,
shards, exports) goes through this module, so there is one naming scheme for the temporary
files (`.<name>.tmp-<random><suffix>` beside the target, on the same file system, so that
`os.replace` is an atomic rename; `temporary_prefix` and `leftover_temporaries` name them for
others) and one place that cleans them up on failure. Renaming a finished file (a backup's
rotation) goes through `rename`.

Example:
    write_text(run_dir / "summary.json", json.dumps(summary))
    with atomic_path(run_dir / "backup.weights.h5") as tmp:
        model.save_weights(tmp)          # Keras insists on the ".weights.h5" suffix: kept
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

# Between the target's name and the random part of a temporary name: `.<name>.tmp-<random>`.
TEMPORARY_MARK = ".tmp-"


def temporary_prefix(path: str | os.PathLike) -> str:
    """How every temporary name `atomic_path` makes for `path` starts: `.<name>.tmp-`.

    `path`'s name may be a glob pattern ("*.npy"): the prefix is then one too.
    """
    return f".{Path(path).name}{TEMPORARY_MARK}"


def leftover_temporaries(folder: str | os.PathLike, name: str = "*") -> list[Path]:
    """The temporary files and folders that writers killed mid-write left in `folder`, for
    targets whose name matches the glob `name` (a finished write leaves none)."""
    return sorted(Path(folder).glob(temporary_prefix(name) + "*"))


def _suffix(path: Path) -> str:
    # Keep the full suffix chain (".weights.h5", ".tfrecord"): some writers check it.
    name = path.name
    dot = name.find(".", 1)
    return name[dot:] if dot > 0 else ""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` atomically.

    The caller writes the temporary path however it likes (a library's `save`, a writer).
    On an exception the temporary file or folder is removed and `path` is left as it was.

    Args:
        path: the final file (or folder, with `directory=True`).
        directory: yield a fresh empty folder instead of a file name. An existing folder at
            `path` is replaced as a whole (moved aside, then removed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(path), dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=_suffix(path), dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        # mkstemp and mkdtemp make them private (0600, 0700); give what open() and mkdir()
        # give, so that another user (a model server) can read what is published.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, (0o777 if directory else 0o666) & ~umask)
        yield tmp
        if directory and path.exists():
            # os.replace cannot replace a non-empty folder: move the old one aside first.
            old = Path(tempfile.mkdtemp(prefix=temporary_prefix(path), dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if not directory:
                _fsync(tmp)
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    # A rename is only as durable as the data behind it: flush the file before publishing it.
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def rename(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Give the finished file `source` the name `target` (replacing it) in one atomic step: a
    reader finds the whole file under one name or the other. Both sit on one file system."""
    os.replace(source, target)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, content: Any, indent: int | None = 1) -> None:
    """Write `content` as JSON (with a trailing newline) to `path` atomically."""
    write_text(path, json.dumps(content, indent=indent) + "\n")
