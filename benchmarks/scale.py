"""Throughput of `mgpn prepare` and `mgpn extract` on Beam's DirectRunner with 1 and 2 worker
processes, each worker a process of its own with TensorFlow and the video decoder held to one
thread (so the figure shows how the work scales per worker, not the libraries' own threading:
with FFmpeg's default a lone worker decoded on both cores), and the per-query / per-video costs
docs/scale.md's cost model multiplies out.

    python benchmarks/scale.py [--scale 10] [--videos 24] [--video-seconds 4] [--repeat 1]
        [--double] [--stages prepare extract] [--out benchmarks/results/scale.json]

prepare: the synthetic benchmark scaled `--scale` times (30,000 / 5,000 / 10,000 queries at
10x), embedded GloVe. extract: `--videos` videos of `--video-seconds` each, 30 fps, 48x64, made
here with PyAV (`tests/video_helpers.py`) through the tiny clip backbone of the extract tests (4
frames of 16x16 per clip, 8 clips/s), a stand-in for a 3D CNN whose real cost the cost model
takes as a parameter. Each figure is the whole command's wall time (Beam's start-up, the
workers' start-up and the driver's reading included), and beside it the workers' span
(`pipelines.work_span`: the first element's start to the last one's end on any worker), over
which the units are the workers' own throughput ("work_speedup_2_over_1"), in one run on this
machine as loaded as it is (the load average is recorded before and after each run): only
same-run ratios mean anything on a shared machine. The driver imports TensorFlow and tokenises
once before any timing, so that the first run does not pay for the driver's imports alone.
Beam alone (one trivial element, 1 and 2 workers) is timed first: the fixed part of every
figure. With `--repeat N` each figure is the fastest of N runs (all are recorded). With
`--double` every stage also runs at twice its size, and the added work over the added time
(per worker count) is the marginal throughput: what the workers do once the fixed costs (the
driver's reading, Beam's and the workers' start-up, the one-element shard plan) are paid,
which is what a corpus many times larger sees.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # video_helpers: the test videos and backbone


# One worker runs in its own process too, so both figures pay the same start-up.
SEPARATE = ["--direct_running_mode=multi_processing"]


from mgpn_keras import atomic  # noqa: E402


def _limit_threads(threads: int) -> None:
    # Read by TensorFlow at start-up in every worker process (they inherit the environment).
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = str(threads)


def bench_prepare(root: Path, scale: int, workers: int) -> dict:
    from mgpn_keras.config import preset
    from mgpn_keras.datasets import synthetic
    from mgpn_keras.pipelines.prepare import prepare_beam

    data = root / f"synthetic-{scale}"
    if not data.is_dir():  # made once per size: every run reads the same files
        synthetic.write(data, seed=0, train_queries=3000 * scale, val_queries=500 * scale,
                        test_queries=1000 * scale)
    out = root / f"shards-{scale}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    _settle()
    started = time.perf_counter()
    manifest = prepare_beam(preset("synthetic"), data, out, workers=workers, summary=False,
                            pipeline_args=SEPARATE)
    seconds = time.perf_counter() - started
    content = json.loads(Path(manifest).read_text())
    queries = sum(content["counts"].values())
    work = content["info"]["pipeline"]["work_seconds"]
    return {"queries": queries, "seconds": round(seconds, 2),
            "queries_per_s": round(queries / seconds, 1), "work_seconds": work,
            "work_queries_per_s": round(queries / work, 1)}


def bench_extract(root: Path, count: int, video_seconds: float, workers: int) -> dict:
    from video_helpers import clip_backbone, write_spec, write_video

    from mgpn_keras.pipelines.extract import extract_beam

    videos, backbone = root / f"videos-{count}", root / "backbone.keras"
    if not videos.is_dir():
        for k in range(count):
            write_video(videos / f"v{k:03d}.mp4", 30, round(30 * video_seconds), (48, 64))
    if not backbone.is_file():
        clip_backbone(4, (16, 16), 12).save(backbone)
    spec = write_spec(root / "tiny.json", name="tiny", frames_per_clip=4, fps=8, stride_frames=1,
                      frame_size=[16, 16], resize="short_side_center_crop", short_side=20,
                      pixel_range="-1_1", feature_width=12)
    out = root / f"features-{count}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    _settle()
    started = time.perf_counter()
    summary = extract_beam(videos, backbone, spec, out, workers=workers, progress=False,
                           pipeline_args=SEPARATE, worker_threads=1)
    seconds = time.perf_counter() - started
    work = summary["work_seconds"]
    return {"videos": summary["extracted"], "video_seconds": count * video_seconds,
            "clips": summary["clips"],
            "seconds": round(seconds, 2), "videos_per_s": round(summary["extracted"] / seconds, 3),
            "work_seconds": work, "work_videos_per_s": round(summary["extracted"] / work, 3),
            "failed": len(summary["failed"])}


def bench_beam_alone(workers: int) -> float:
    """Seconds of a pipeline of one trivial element into the drivers' results sink
    (`Outputs.collect`): Beam's own start and shutdown of `workers` processes, the part of
    every figure above that no worker count shortens."""
    import apache_beam as beam

    from mgpn_keras.pipelines.options import Outputs, pipeline_options

    started = time.perf_counter()
    with Outputs() as out:
        with beam.Pipeline(options=pipeline_options(None, workers, SEPARATE)) as p:
            out.collect({"one": p | beam.Create([0]) | beam.Map(lambda x: x + 1)})
        assert out.read("one") == [1]
    return round(time.perf_counter() - started, 2)


def _settle() -> None:
    # The previous run's output (hundreds of MB) is still being written back to disk by the
    # kernel; flushed here, that write-back does not share the cores with the timed run.
    os.sync()


# Each stage's throughput (its unit per second) and its unit.
RATE = {"prepare": ("queries_per_s", "queries"), "extract": ("videos_per_s", "videos")}


def _warm_driver() -> None:
    # What every driver run needs once per process (TensorFlow, the tokenizer, Beam): paid
    # here, not by whichever run comes first.
    from mgpn_keras.datasets.prepare import tokenize
    from mgpn_keras.pipelines import extract, prepare  # noqa: F401

    tokenize(["warm up"])
    # The first pipeline a process runs imports the runner's own modules (0.9 s here): paid
    # here, so that the first timed run (one worker) does not pay it alone.
    bench_beam_alone(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--video-seconds", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (fastest kept)")
    parser.add_argument("--double", action="store_true",
                        help="also run each stage at twice the size: the marginal throughput")
    parser.add_argument("--stages", nargs="+", default=["prepare", "extract"],
                        choices=["prepare", "extract"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.json"))
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    _limit_threads(1)  # one TensorFlow thread per worker (and in the driver) in every run
    _warm_driver()
    results: dict = {"cores": cores, "scale": args.scale, "videos": args.videos,
                     "video_seconds": args.video_seconds,
                     "repeat": args.repeat, "double": args.double,
                     "load_average_before": os.getloadavg(),
                     "stages": {}}
    # Beam alone, alternating worker counts like the stages below.
    alone = {w: [] for w in (1, 2)}
    for _ in range(args.repeat):
        for workers in (1, 2):
            alone[workers].append(bench_beam_alone(workers))
    results["beam_alone_seconds"] = {f"workers_{w}": {"runs": v, "fastest": min(v)}
                                     for w, v in alone.items()}
    print("beam alone", alone, flush=True)
    root = Path(tempfile.mkdtemp(prefix="mgpn-scale-"))
    sizes = {"prepare": [args.scale], "extract": [args.videos]}
    if args.double:
        sizes = {stage: [n, 2 * n] for stage, [n] in sizes.items()}
    runs = {"prepare": lambda n, w: bench_prepare(root, n, w),
            "extract": lambda n, w: bench_extract(root, n, args.video_seconds, w)}
    try:
        for stage in args.stages:
            for _ in range(args.repeat):
                for n in sizes[stage]:
                    for workers in (1, 2):  # alternating, so that a change of load hits both
                        before = os.getloadavg()[0]
                        result = runs[stage](n, workers)
                        result["load_average"] = [round(before, 2),
                                                  round(os.getloadavg()[0], 2)]
                        name = f"workers_{workers}" if n == sizes[stage][0] else \
                            f"double_workers_{workers}"
                        by = results["stages"].setdefault(stage, {}).setdefault(
                            name, {"runs": []})
                        by["runs"].append(result)
                        print(stage, n, workers, result, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for stage, by in results["stages"].items():
        rate, unit = RATE[stage]
        for name, group in by.items():
            group.update(max(group["runs"], key=lambda r: r[rate]))
        by["speedup_2_over_1"] = round(by["workers_2"][rate] / by["workers_1"][rate], 2)
        # Over the workers' span (`pipelines.work_span`), each worker count's fastest run:
        # the throughput of the workers themselves.
        work = {w: min(r["work_seconds"] for r in by[f"workers_{w}"]["runs"]) for w in (1, 2)}
        by["work_speedup_2_over_1"] = round(work[1] / work[2], 2)
        if args.double:  # the added work over the added time: what each worker count adds
            for workers in (1, 2):  # per second once its fixed costs are paid
                one, two = by[f"workers_{workers}"], by[f"double_workers_{workers}"]
                by[f"marginal_{unit}_per_s_workers_{workers}"] = round(
                    (two[unit] - one[unit]) / (two["seconds"] - one["seconds"]), 3)
            by["marginal_speedup_2_over_1"] = round(
                by[f"marginal_{unit}_per_s_workers_2"] / by[f"marginal_{unit}_per_s_workers_1"],
                2)
    results["load_average_after"] = os.getloadavg()
    atomic.write_text(args.out, json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
