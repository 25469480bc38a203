"""From a video file and sentences to moments: extract its features, then retrieve.

Retrieval goes through `retrieval.retriever.MomentRetriever`, so a video longer than the export's
window is answered by windowed retrieval (docs/long_video.md), as `mgpn predict` does.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from mgpn_keras.extract.backbone import Backbone, load_backbone
from mgpn_keras.extract.features import DEFAULT_BATCH_SIZE, video_features
from mgpn_keras.extract.specs import FeatureSpec, load_spec


@dataclasses.dataclass
class VideoPrediction:
    """The moments of each query, and the features and duration they came from."""

    moments: list  # one (k, 3) float64 array [start_s, end_s, score] per query, best first
    score_maps: np.ndarray | None  # (queries, N, N) with with_score_map
    features: np.ndarray  # (clips, width) float32
    duration: float  # seconds


def predict_video(export, video: str | os.PathLike, queries: list[str],
                  spec: str | os.PathLike | FeatureSpec, backbone: str | os.PathLike | Backbone,
                  *, batch_size: int = DEFAULT_BATCH_SIZE,
                  with_score_map: bool = False) -> VideoPrediction:
    """Top moments of each query in a video file.

    Args:
        export: a `MomentRetriever` (e.g. `.from_run(...)`), a `load_export(...)`, or the
            export folder.
        video: the video file.
        queries: sentences.
        spec: the feature spec the export's model was trained on (name, file or FeatureSpec).
        backbone: the backbone those features came from (path, handle or `Backbone`).
        batch_size: clips per backbone call.
        with_score_map: also return the score maps (for plots).
    """
    from mgpn_keras.retrieval.loaded_export import LoadedExport
    from mgpn_keras.retrieval.retriever import MomentRetriever

    if isinstance(export, LoadedExport):
        retriever = MomentRetriever(export.serve, export.score_map, export.info)
    elif isinstance(export, MomentRetriever):
        retriever = export
    else:
        retriever = MomentRetriever.from_export(export)
    spec = load_spec(spec)
    if not isinstance(backbone, Backbone):
        backbone = load_backbone(backbone)
    extracted = video_features(video, spec, backbone, batch_size=batch_size)
    # Windowed when the video is longer than the retriever's window: averaged to one map, a
    # long video's cells would each span minutes.
    result = retriever.retrieve(extracted.features, extracted.duration, list(queries),
                                with_score_map=with_score_map)
    moments, maps = result if with_score_map else (result, None)
    return VideoPrediction(moments, maps, extracted.features, extracted.duration)
