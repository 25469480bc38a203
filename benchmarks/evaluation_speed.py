"""Evaluation speed: `metrics.MomentEvaluator` on the protocol's TensorFlow proposals and NMS
against the NumPy evaluation it replaced (metrics.py at --baseline-rev), in the same process,
interleaved round by round.

    python benchmarks/evaluation_speed.py [--queries 3000] [--rounds 3] [--baseline-rev REV]

Per preset geometry (Charades-STA I3D N = 32, ActivityNet N = 64, TACoS N = 128), random logits
on the valid cells are fed in batches of 256 queries, as the per-epoch evaluation does. It prints
queries/s of both and checks that their metrics are equal. The machine's load is printed; the
ratio of the two, measured side by side, is what to read.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PRESETS = ("charades_i3d", "activitynet", "tacos")
BATCH = 256


def _baseline_metrics(rev: str):
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:mgpn_keras/metrics.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="mgpn-eval-bench-")) / "baseline_metrics.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_metrics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _evaluate(metrics, cfg, logits, durations, gt) -> tuple[dict, float]:
    evaluator = metrics.MomentEvaluator.for_config(cfg)
    start = time.perf_counter()
    for lo in range(0, len(logits), BATCH):
        evaluator.update(logits[lo:lo + BATCH], durations[lo:lo + BATCH], gt[lo:lo + BATCH])
    return evaluator.result(), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-rev", default="2e7f17b",
                        help="git revision of the NumPy evaluation (default: the last commit "
                        "before the protocol moved to TensorFlow)")
    args = parser.parse_args()

    from mgpn_keras.evaluation import metrics
    from mgpn_keras.config import preset
    from mgpn_keras.valid_cells.geometry import valid_mask

    old = _baseline_metrics(args.baseline_rev)
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    print(f"{'preset':14s} {'N':>4s} {'queries':>7s}  queries/s NumPy -> TF (median of "
          f"{args.rounds}, interleaved)  ratio  equal")
    for name in PRESETS:
        cfg = preset(name)
        n = cfg.model.num_clips
        rng = np.random.default_rng(0)
        mask = valid_mask(n, cfg.model.num_scale_layers)
        logits = (rng.uniform(-6, 2, (args.queries, n, n)) * mask).astype(np.float32)
        durations = rng.uniform(10, 200, args.queries)
        gt = np.sort(rng.uniform(0, 1, (args.queries, 2)), axis=1) * durations[:, None]
        _evaluate(metrics, cfg, logits[:BATCH], durations[:BATCH], gt[:BATCH])  # tracing
        times = {"numpy": [], "tf": []}
        for _ in range(args.rounds):
            ref, seconds = _evaluate(old, cfg, logits, durations, gt)
            times["numpy"].append(seconds)
            got, seconds = _evaluate(metrics, cfg, logits, durations, gt)
            times["tf"].append(seconds)
        q_old = args.queries / statistics.median(times["numpy"])
        q_new = args.queries / statistics.median(times["tf"])
        print(f"{name:14s} {n:4d} {args.queries:7d}  {q_old:9.0f} -> {q_new:9.0f}"
              f"{'':28s}{q_new / q_old:5.2f}  {got == ref}", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
