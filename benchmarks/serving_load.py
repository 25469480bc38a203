"""One exported SavedModel under concurrent load: throughput and p50/p99 latency per thread count.

Exports a model of `--preset` (random weights: the answers' values do not matter, their
equality does) with a vocabulary of `--words` made-up words, loads it once with
`tf.saved_model.load`, and calls `serving_default` from 1, 2, 4, 8, 16 threads
(`mgpn_keras/serving/load_check.py`): `--requests` requests of mixed batch sizes (1-8), query
lengths (1-12 words) and clip counts (8-80), about 5% of them bad (an empty query, a zero
duration, a NaN feature). Every good answer must equal the sequential one bit for bit and every
bad request must fail alone with its InvalidArgumentError; each thread count runs at most
`--time-limit` seconds. The machine's load average is recorded per row: on a shared machine
the numbers are disturbed, compare them only within one run.

Usage:
    python benchmarks/serving_load.py                          # synthetic preset, 2000 requests
    python benchmarks/serving_load.py --preset charades_vgg --threads 1,4,16 --requests 500
    python benchmarks/serving_load.py --export export/mgpn/1 --manifest SHARDS  # an export

Writes JSON (`--output`) and prints a Markdown table; exits 1 if any answer differed or any
request failed that should not have.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def export_random_model(preset_name: str, words: int, out_dir: Path) -> Path:
    import keras
    import numpy as np

    from mgpn_keras.config import preset
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.serving.export import export_saved_model

    cfg = preset(preset_name)
    keras.utils.set_random_seed(0)
    model = build_mgpn(cfg)
    vocabulary = ["<pad>", "<unk>"] + [f"word{k}" for k in range(words)]
    vectors = np.random.default_rng(0).standard_normal(
        (len(vocabulary), cfg.model.word_dim)).astype(np.float32)
    vectors[:2] = 0.0
    return export_saved_model(model, cfg, vocabulary, vectors, out_dir / "mgpn" / "1")


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"Preset `{meta['preset']}`, {meta['requests']} requests (batch 1-8, 1-12 words, "
             f"8-80 clips, {meta['bad']} bad), at most {meta['time_limit']:g} s per row; "
             f"{meta['cpus']} CPUs, TensorFlow {meta['tensorflow']}.",
             "",
             "| threads | requests | queries/s | requests/s | p50 ms | p99 ms | wrong answers | "
             "unexpected errors | bad rejected | load avg |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['threads']} | {r['requests']} | {r['examples_per_s']:.1f} | "
                     f"{r['requests_per_s']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                     f"{r['mismatches']} | {r['errors']} | {r['bad_rejected']}/{r['bad_total']} "
                     f"| {r['load_avg']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="synthetic", help="model size (default synthetic)")
    parser.add_argument("--export", help="an existing export version folder (default: export a "
                        "random model of --preset to a temporary folder)")
    parser.add_argument("--manifest", help="with --export: the prepared data set whose "
                        "vocabulary the queries are drawn from")
    parser.add_argument("--threads", default="1,2,4,8,16", help="thread counts, comma-separated")
    parser.add_argument("--requests", type=int, default=2000, help="requests per thread count")
    parser.add_argument("--time-limit", type=float, default=60.0,
                        help="seconds at most per thread count (default 60)")
    parser.add_argument("--words", type=int, default=500, help="vocabulary size of the export")
    parser.add_argument("--output", help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.export and not args.manifest:
        parser.error("--export needs --manifest (the queries' words come from its vocabulary)")

    import tensorflow as tf

    from mgpn_keras.serving.load_check import make_requests, run_load, sequential_answers

    with tempfile.TemporaryDirectory() as tmp:
        export = Path(args.export) if args.export else export_random_model(
            args.preset, args.words, Path(tmp))
        info = json.loads((export / "mgpn_export.json").read_text())
        loaded = tf.saved_model.load(str(export))
        serve = loaded.signatures["serving_default"]
        if args.export:
            from mgpn_keras.datasets import load_manifest

            words = load_manifest(args.manifest).vocabulary[2:]
        else:
            words = [f"word{k}" for k in range(args.words)]
        requests = make_requests(words, int(info["input_size"]), args.requests)
        sequential_answers(serve, requests[:8])  # warm-up: the first calls trace and allocate
        start = time.perf_counter()
        expected = sequential_answers(serve, requests)
        print(f"sequential reference: {len(requests)} requests in "
              f"{time.perf_counter() - start:.1f} s", flush=True)
        rows = []
        for threads in [int(t) for t in args.threads.split(",")]:
            row = run_load(serve, requests, expected, threads, args.time_limit)
            row["load_avg"] = os.getloadavg()[0]
            rows.append(row)
            print(f"{threads:3d} threads: {row['requests']} requests, "
                  f"{row['examples_per_s']:.1f} queries/s, p50 {row['p50_ms']:.1f} ms, "
                  f"p99 {row['p99_ms']:.1f} ms, {row['mismatches']} wrong, {row['errors']} "
                  f"unexpected errors, {row['bad_rejected']}/{row['bad_total']} bad rejected, "
                  f"load {row['load_avg']:.1f}", flush=True)
            for problem in row["problems"]:
                print(f"    {problem}")
    meta = {"preset": info.get("preset", args.preset), "requests": len(requests),
            "bad": sum(r.bad is not None for r in requests), "time_limit": args.time_limit,
            "cpus": os.cpu_count(), "tensorflow": tf.__version__}
    print()
    print(markdown(rows, meta))
    if args.output:
        from mgpn_keras import atomic

        atomic.write_json(args.output, {"meta": meta, "rows": rows})
    return 0 if all(r["mismatches"] == 0 and r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
