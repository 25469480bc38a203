"""`mgpn predict --batch PAIRS.jsonl --out MOMENTS.jsonl`: batch retrieval on Beam.

Each line of PAIRS.jsonl is one request: {"video": id (in --features, an .hdf5 file or a
folder of .npy files) or "features": a .npy file, "duration": seconds, "query": sentence,
and optionally "id"}. The pairs are grouped by video, and each worker runs the exported
SavedModel (loaded once, in `setup`) on a video's features with all its queries, as
`mgpn predict` does for one video (`MomentRetriever.retrieve`: tokenising, normalisation and
the windows of long videos in the graph). MOMENTS.jsonl has one line per input line, in
input order: {"line", "id", "query", "moments": [{start, end, score}, ...]} or, for a line
that cannot be answered (malformed JSON, a missing field, unknown features, a request the
graph rejects), {"line", "error": "PAIRS.jsonl:LINE: why"}; every other line is answered.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import apache_beam as beam

from mgpn_keras import atomic
from mgpn_keras.pipelines.options import Outputs, exit_without_teardown, pipeline_options

ERRORS = "errors"


def parse_pair(source: str, line: int, text: str) -> dict:
    """One PAIRS.jsonl line -> a request dict; ValueError naming the file and line."""
    where = f"{source}:{line}"
    try:
        pair = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not a JSON object ({exc.msg})") from None
    if not isinstance(pair, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(pair).__name__}")
    if ("video" in pair) == ("features" in pair):
        raise ValueError(f"{where}: expected one of 'video' (an id in --features) or "
                         f"'features' (a .npy file)")
    query, duration = pair.get("query"), pair.get("duration")
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"{where}: 'query' must be a non-empty string, got {query!r}")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or \
            not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"{where}: 'duration' must be a positive number of seconds, got "
                         f"{duration!r}")
    return {"line": line, "id": pair.get("id"), "query": query, "duration": float(duration),
            "video": pair.get("video"), "features": pair.get("features")}


class _Parse(beam.DoFn):
    def __init__(self, source: str):
        self.source = source

    def process(self, item):
        line, text = item
        try:
            pair = parse_pair(self.source, line, text)
        except ValueError as exc:
            yield beam.pvalue.TaggedOutput(ERRORS, {"line": line, "error": str(exc)})
            return
        yield (pair["features"] or pair["video"], pair["duration"]), pair


class RetrieveVideo(beam.DoFn):
    """(video key, its requests) -> one answer per request, by the SavedModel."""

    def __init__(self, export: str, store: str | None, source: str):
        self.export, self.store_path, self.source = export, store, source

    def setup(self):
        from mgpn_keras.retrieval.retriever import MomentRetriever

        exit_without_teardown()
        self.retriever = MomentRetriever.from_export(self.export)

    def process(self, group):
        (key, duration), pairs = group
        pairs = sorted(pairs, key=lambda p: p["line"])
        try:
            features = self._features(pairs[0])
            moments = self.retriever.retrieve(features, duration, [p["query"] for p in pairs])
        except Exception as exc:  # this video's requests fail, named; the others go on
            from mgpn_keras.serving.predict import error_message

            lines = ", ".join(str(p["line"]) for p in pairs)
            for p in pairs:
                yield {"line": p["line"], "error": f"{self.source}:{p['line']}: "
                       f"{error_message(exc)} (lines {lines}: video {key!r})"}
            return
        for p, m in zip(pairs, moments):
            yield {"line": p["line"], "id": p["id"], "query": p["query"], "moments": [
                {"start": float(s), "end": float(e), "score": float(c)} for s, e, c in m]}

    def _features(self, pair):
        from mgpn_keras.serving.predict import read_features

        if pair["features"] is not None:
            return read_features(pair["features"])
        if self.store_path is None:
            raise ValueError("'video' needs --features (an .hdf5 file or a folder of .npy files)")
        return read_features(self.store_path, pair["video"])


def predict_batch(export: str | os.PathLike, pairs: str | os.PathLike, out: str | os.PathLike,
                  *, features: str | os.PathLike | None = None, runner: str | None = None,
                  workers: int | None = None, pipeline_args: list[str] | None = None) -> dict:
    """Answer every line of `pairs` into `out` (atomically); return {"answered", "errors"}."""
    pairs = Path(pairs)
    if not pairs.is_file():
        raise FileNotFoundError(f"--batch {str(pairs)!r} does not exist")
    lines = [(k, text) for k, text in enumerate(
        pairs.read_text(encoding="utf-8").splitlines(), start=1) if text.strip()]
    source = str(pairs)
    with Outputs() as sink:
        with beam.Pipeline(options=pipeline_options(runner, workers, pipeline_args)) as p:
            parsed = (p | "lines" >> beam.Create(lines, reshuffle=True)
                      | "parse" >> beam.ParDo(_Parse(source)).with_outputs(ERRORS, main="pairs"))
            answers = (parsed.pairs | "by video" >> beam.GroupByKey()
                       | "retrieve" >> beam.ParDo(RetrieveVideo(
                           str(export), None if features is None else str(features), source)))
            sink.collect({"answers": (answers, parsed[ERRORS]) | beam.Flatten()})
        answers = sorted(sink.read("answers"), key=lambda a: a["line"])
    atomic.write_text(out, "".join(json.dumps(a) + "\n" for a in answers))
    errors = [a["error"] for a in answers if "error" in a]
    return {"answered": len(answers) - len(errors), "errors": errors}
