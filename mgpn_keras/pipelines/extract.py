"""`mgpn extract --runner/--workers`: video features on Beam workers, the local files.

Each worker loads the backbone once (`DoFn.setup`) and runs the local per-video work
(`extract.features.videos_features`: decode, sample, normalise, the backbone over batches of
clips) on a group of consecutive videos whose clips share backbone calls, then writes each
video's features atomically (`extract.writing.write_part`, the local writer) with a small
receipt beside them (`.<video>.done.json`: duration and clip count). The driver records the
receipts in durations.json / extract.json (and packs an HDF5 output) as the local path does, so
a re-run, also after a pipeline that died, skips every video with features and a receipt.

A video that fails (unreadable, empty, a backbone error) goes to the dead-letter output with
its name and reason: recorded in extract.json's "failed", counted in the summary, and the
other videos go on; `strict=True` makes the first such video stop the pipeline instead.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import apache_beam as beam

from mgpn_keras import atomic
from mgpn_keras.extract.backbone import load_backbone
from mgpn_keras.extract.decoding import VideoError, video_id
from mgpn_keras.extract.features import DEFAULT_BATCH_SIZE, videos_features
from mgpn_keras.extract.run import extract_fingerprint, extract_summary, video_files
from mgpn_keras.extract.specs import FeatureSpec, load_spec
from mgpn_keras.extract.writing import FeatureWriter, parts_folder, write_part
from mgpn_keras.pipelines import work_span
from mgpn_keras.pipelines.deal import DealInTurn
from mgpn_keras.pipelines.options import (Outputs, exit_without_teardown, limit_threads,
                                          local_worker_threads, pipeline_options)
from mgpn_keras.runs.lock import hold_run_folder

FAILED = "failed"
VIDEOS_PER_GROUP = 8


def receipt_path(parts: Path, video: str) -> Path:
    return Path(parts) / f".{video}.done.json"


class ExtractVideos(beam.DoFn):
    """A group of video files -> each video's features written (yields {video, duration,
    clips}), their clips sharing backbone calls; a video that fails -> the FAILED output
    (video, reason)."""

    def __init__(self, backbone: str, backbone_output: str | None, spec: FeatureSpec,
                 parts: str, batch_size: int, strict: bool, threads: int = 0):
        self.source, self.output, self.spec = backbone, backbone_output, spec
        self.parts, self.batch_size, self.strict = parts, batch_size, strict
        self.threads = threads  # the backbone's and the decoder's (0: their own choice)

    def setup(self):
        exit_without_teardown()
        limit_threads(self.threads)
        self.backbone = load_backbone(self.source, self.output)  # once per worker

    def process(self, paths: list[str]):
        work_span.mark()
        for path, result in videos_features(paths, self.spec, self.backbone,
                                            batch_size=self.batch_size,
                                            decode_threads=self.threads):
            video = video_id(path)
            if isinstance(result, Exception):  # the dead letter: any one video's failure
                if self.strict:
                    raise result
                reason = (str(result) if isinstance(result, VideoError)
                          else f"{path}: {result}")
                yield beam.pvalue.TaggedOutput(FAILED, (video, reason))
                continue
            write_part(Path(self.parts), video, result.features)
            done = {"video": video, "duration": result.duration,
                    "clips": int(result.features.shape[0])}
            atomic.write_json(receipt_path(Path(self.parts), video), done)
            yield done
        work_span.mark()


def video_groups(paths: list[str], workers: int | None) -> list[list[str]]:
    """`paths` cut into groups of consecutive videos, one pipeline element each.

    A group's clips share backbone calls; about four groups a worker keep the workers evenly
    loaded (a runner hands elements out whole), and no group holds more than
    VIDEOS_PER_GROUP.
    """
    size = max(1, min(VIDEOS_PER_GROUP, len(paths) // (4 * (workers or 1))))
    return [paths[i:i + size] for i in range(0, len(paths), size)]


def by_size(groups: list[list[str]]) -> list[list[str]]:
    """Video groups, the most bytes of video first: the order they are dealt in (a group's
    cost, decoding and its clips through the backbone, grows with its videos' length, which
    their size tells before they are opened)."""
    return sorted(groups, key=lambda group: -sum(os.path.getsize(p) for p in group))


def extract_beam(videos: str | os.PathLike, backbone: str | os.PathLike,
                 spec: str | os.PathLike | FeatureSpec, out: str | os.PathLike, *,
                 batch_size: int = DEFAULT_BATCH_SIZE, strict: bool = False,
                 overwrite: bool = False, progress: bool = True,
                 backbone_output: str | None = None, runner: str | None = None,
                 workers: int | None = None, pipeline_args: list[str] | None = None,
                 worker_threads: int | None = None) -> dict:
    """`extract.run.extract_videos` as a Beam pipeline; returns the same summary.

    Unlike the local loop (which stops at the first bad video unless skip_bad), failed videos
    are dead-lettered unless `strict`. `worker_threads`: each worker's TensorFlow and decoder
    threads (default: `local_worker_threads`, the worker's share of this machine's cores
    under the DirectRunner; 0: the libraries' own choice).
    """
    started = time.time()
    threads = (local_worker_threads(runner, workers) if worker_threads is None
               else worker_threads)
    spec = load_spec(spec)
    files, others = video_files(videos)
    source = str(backbone)
    fingerprint = extract_fingerprint(spec, source)
    parts = parts_folder(out)
    with hold_run_folder(parts, "extract"):
        writer = FeatureWriter(out, fingerprint, overwrite=overwrite)
        for receipt in sorted(parts.glob(".*.done.json")):  # videos of a run that died
            done = json.loads(receipt.read_text(encoding="utf-8"))
            if not overwrite and (parts / f"{done['video']}.npy").is_file():
                writer.record(done["video"], done["clips"], done["duration"])
            receipt.unlink()
        todo = [str(f) for f in files if overwrite or not writer.done(video_id(f))]
        kept = len(files) - len(todo)
        if progress:
            print(f"extract {spec.name}: {len(files)} videos in {videos} ({kept} already done), "
                  f"backbone {source}, out {out}, runner {runner or 'DirectRunner'} "
                  f"x{workers or 1}", flush=True)
        with Outputs() as sink:
            with beam.Pipeline(options=pipeline_options(runner, workers, pipeline_args)) as p:
                results = (p | "videos" >> beam.Create(list(enumerate(
                                   by_size(video_groups(todo, workers)))), reshuffle=False)
                           | "deal" >> DealInTurn()
                           | "extract" >> beam.ParDo(ExtractVideos(
                               source, backbone_output, spec, str(parts), batch_size,
                               strict, threads)).with_outputs(FAILED, main="done"))
                sink.collect({"done": results.done, FAILED: results[FAILED]})
            work_seconds = work_span.span_seconds(p.result)
            done, failed = sink.read("done"), dict(sorted(sink.read(FAILED)))
        try:
            for item in sorted(done, key=lambda d: d["video"]):
                writer.record(item["video"], item["clips"], item["duration"])
                receipt_path(parts, item["video"]).unlink(missing_ok=True)
            for video, reason in failed.items():
                writer.failed(video, reason)
        finally:
            writer.close()
    summary = extract_summary(out, writer, len(done), kept, failed, others,
                              sum(d["clips"] for d in done), started, progress)
    summary["work_seconds"] = work_seconds  # the workers' span (`work_span`)
    if progress:
        print(work_span.summary_line(runner, workers, work_seconds, summary["seconds"]))
    return summary
