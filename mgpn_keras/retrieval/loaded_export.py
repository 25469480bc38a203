"""An export reloaded in Python, and one request through it: what `MomentRetriever`, `mgpn
predict` and the checks of an export run.

It loads the export with `tf.saved_model.load` and calls its signatures, as a server would.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

# The facts of an export (`MomentRetrievalModule.metadata`), beside its saved_model.pb.
EXPORT_INFO_NAME = "mgpn_export.json"


@dataclasses.dataclass
class LoadedExport:
    """A reloaded export: its two signatures and what `mgpn_export.json` records."""

    path: Path
    serve: object  # the serving_default concrete function
    score_map: object  # the score_map concrete function
    info: dict

    @property
    def num_clips(self) -> int:
        return int(self.info["num_clips"])


def load_export(path: str | os.PathLike) -> LoadedExport:
    """Load an export folder (the version folder holding saved_model.pb)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokeniser's ops)

    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"export {str(path)!r} has no saved_model.pb; expected a "
                                f"version folder written by `mgpn export`, e.g. export/mgpn/1")
    loaded = tf.saved_model.load(str(path))
    info_file = path / EXPORT_INFO_NAME
    if info_file.is_file():
        info = json.loads(info_file.read_text(encoding="utf-8"))
    else:  # the same facts, as saved in the graph
        info = json.loads(loaded.metadata_json.numpy().decode("utf-8"))
    return LoadedExport(path, loaded.signatures["serving_default"],
                        loaded.signatures["score_map"], info)


def predict(export: LoadedExport, queries: list[str], features: np.ndarray, duration: float,
            *, with_score_map: bool = False):
    """Top moments of each query in one video.

    Args:
        export: `load_export(...)`.
        queries: sentences.
        features: the video's raw (clips, width) features.
        duration: the video's length in seconds.
        with_score_map: also return the (len(queries), N, N) joint probabilities.

    Returns:
        A list with one float64 array (k_q, 3) per query, [start_s, end_s, score] best
        first (padding rows of queries with fewer than top-k moments left out); with
        `with_score_map`, the pair (that list, score maps).

    Raises:
        tf.errors.InvalidArgumentError: the graph rejected the request (its message says why).
    """
    import tensorflow as tf

    features = np.asarray(features, np.float32)
    if features.ndim != 2:
        raise ValueError(f"features have shape {features.shape}, expected (clips, width)")
    count = len(queries)
    inputs = {
        "query": tf.constant(list(queries), tf.string),
        "video_features": tf.constant(np.broadcast_to(features, (count, *features.shape))),
        "duration": tf.constant(np.full((count,), duration, np.float32)),
    }
    out = {k: v.numpy() for k, v in export.serve(**inputs).items()}
    moments = []
    for q in range(count):
        rows = np.stack([out["start"][q], out["end"][q], out["score"][q]], axis=-1)
        moments.append(rows[rows[:, 2] >= 0].astype(np.float64))
    if not with_score_map:
        return moments
    return moments, export.score_map(**inputs)["score_map"].numpy()
