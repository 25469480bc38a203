"""The Python API of moment retrieval: features, duration and sentences -> moments, for a
video of any length.

    retriever = MomentRetriever.from_run("runs/synthetic")   # or .from_export(...)
    moments = retriever.retrieve(features, duration, ["person opens the door"])
    # moments[q]: (k, 3) float64 [start_s, end_s, score], best first

A video longer than the retriever's window is retrieved by overlapping windows whose moments
are merged (`mgpn_keras.retrieval.windowing`); shorter videos are retrieved whole, as the
reference does. Both paths run inside the serving module's graph, the one the SavedModel
exports, so a retriever built from a run and one loaded from its export give the same moments.
"""

from __future__ import annotations

import os

import numpy as np


class MomentRetriever:
    """Top-k moments of sentences in a video, by the serving graph.

    Build it with `from_model`, `from_run` or `from_export`. Attributes: `info` (the facts
    `mgpn_export.json` records, among them `window_seconds` and `window_stride_seconds`),
    `serve` and `score_map` (the graph's two functions, as `mgpn predict` calls them).
    """

    def __init__(self, serve, score_map, info: dict):
        self.serve = serve
        self._score_map = score_map  # a function, or a callable that traces it (from_model)
        self.info = dict(info)

    @property
    def score_map(self):
        """The whole video's joint probabilities (the `score_map` signature)."""
        if isinstance(self._score_map, _Lazy):
            self._score_map = self._score_map.make()
        return self._score_map

    @property
    def num_clips(self) -> int:
        return int(self.info["num_clips"])

    @property
    def window_seconds(self) -> float | None:
        return self.info.get("window_seconds")

    @property
    def window_stride_seconds(self) -> float | None:
        return self.info.get("window_stride_seconds")

    @classmethod
    def from_model(cls, model, cfg, vocabulary, vectors, **options) -> "MomentRetriever":
        """A retriever of an in-memory model; `options` as `MomentRetrievalModule` takes them
        (top_k, nms_threshold, window_seconds, window_overlap_seconds, window_batch)."""
        from mgpn_keras.retrieval.module import MomentRetrievalModule
        from mgpn_keras.retrieval.portable import portable_tracing

        module = MomentRetrievalModule(model, cfg, vocabulary, vectors, **options)

        def traced(function):  # the graph the SavedModel holds
            with portable_tracing(model):
                return function.get_concrete_function()

        retriever = cls(traced(module.serve), _Lazy(lambda: traced(module.score_map)),
                        module.metadata)
        retriever.module = module  # keeps the variables the functions capture alive
        return retriever

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, weights: str | os.PathLike | None = None,
                 **options) -> "MomentRetriever":
        """A retriever of a training run folder (its config, manifest and best weights) or a
        preset folder (`mgpn_keras.runs.resolve.resolve_model`); the window defaults as in
        `windowing.default_window`."""
        from mgpn_keras.runs.resolve import resolve_model
        from mgpn_keras.retrieval.windowing import default_window

        resolved = resolve_model(run_dir, weights=weights)
        if resolved.vocabulary is None:
            raise FileNotFoundError(f"{os.fspath(run_dir)!r} names no data set (its vocabulary and "
                                    "word vectors)")
        window, overlap = default_window(resolved.config, resolved.data)
        options.setdefault("window_seconds", window)
        options.setdefault("window_overlap_seconds", overlap)
        return cls.from_model(resolved.model, resolved.config, resolved.vocabulary, resolved.vectors,
                              **options)

    @classmethod
    def from_export(cls, path: str | os.PathLike) -> "MomentRetriever":
        """A retriever of a SavedModel written by `mgpn export`."""
        from mgpn_keras.retrieval.loaded_export import load_export

        export = load_export(path)
        return cls(export.serve, export.score_map, export.info)

    def windows(self, num_clips: int, duration: float) -> np.ndarray | None:
        """(m, 2) [start, end] seconds of the windows a video is retrieved by; None when it
        is retrieved whole."""
        from mgpn_keras.retrieval.windowing import window_bounds

        window = self.window_seconds
        if window is None or float(duration) <= window:
            return None
        return window_bounds(num_clips, duration, window, self.window_stride_seconds)

    def retrieve(self, features, duration: float, queries, *, with_score_map: bool = False):
        """The top moments of each sentence in one video.

        Args:
            features: the video's raw (clips, width) clip features.
            duration: its length in seconds.
            queries: a sentence, or a list of them.
            with_score_map: also return the whole video's (Q, N, N) joint probabilities.

        Returns:
            One float64 array (k_q, 3) per sentence, [start_s, end_s, score] best first, in
            the video's seconds (with `with_score_map`: the pair (moments, score maps)).

        Raises:
            ValueError: bad features, or a window shorter than one clip of this video.
            tf.errors.InvalidArgumentError: the graph rejected the request (says why).
        """
        from mgpn_keras.retrieval.loaded_export import predict
        from mgpn_keras.retrieval.windowing import check_clip_length

        queries = [queries] if isinstance(queries, str) else list(queries)
        features = np.asarray(features, np.float32)
        if features.ndim != 2:
            raise ValueError(f"features have shape {features.shape}, expected (clips, width)")
        check_clip_length(self.window_seconds, features.shape[0], duration)
        return predict(self, queries, features, duration, with_score_map=with_score_map)


class _Lazy:
    """A function traced on first use (tracing a score map costs seconds; few callers use it)."""

    def __init__(self, make):
        self.make = make
