"""Measures the main job: `python train.py` on the embedded synthetic benchmark.

Runs train.py in a fresh process (as a user would), times it, and prints the test
results beside the two baselines, with the README's targets checked:
under 10 minutes wall time on 2 CPU cores, test R1@0.5 >= 0.60, and at least twice
the better baseline.

Usage: python benchmarks/main_job.py [--output-dir runs/main-job-bench] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default=os.path.join("runs", "main-job-bench"))
    parser.add_argument("--json", help="write the measurements here")
    parser.add_argument("--fresh-data", action="store_true",
                        help="delete data/synthetic first, so writing and preparing it is timed too")
    args = parser.parse_args(argv)
    if os.path.exists(args.output_dir):
        shutil.rmtree(args.output_dir)
    if args.fresh_data and os.path.exists(os.path.join("data", "synthetic")):
        shutil.rmtree(os.path.join("data", "synthetic"))
    start = time.time()
    subprocess.run([sys.executable, "train.py", "--output-dir", args.output_dir, "--quiet"], check=True)
    wall = time.time() - start
    from mgpn_keras.runs.paths import RunPaths

    paths = RunPaths(args.output_dir)
    with open(paths.results, encoding="utf-8") as f:
        test = json.load(f)["test"]
    with open(paths.baselines, encoding="utf-8") as f:
        baselines = json.load(f)
    better = max(b["R1@0.5"] for b in baselines.values())
    checks = {
        "wall time < 10 min": wall < 600,
        "test R1@0.5 >= 0.60": test["R1@0.5"] >= 0.60,
        "R1@0.5 >= 2 x better baseline": test["R1@0.5"] >= 2 * better,
    }
    report = {"wall_seconds": round(wall, 1), "cpus": os.cpu_count(), "machine": platform.processor() or
              platform.machine(), "test": test, "baselines": baselines, "checks": checks,
              "date": time.strftime("%Y-%m-%d")}
    print(f"wall time {wall / 60:.2f} min on {os.cpu_count()} CPU cores")
    print("| model (test) | R1@0.3 | R1@0.5 | R1@0.7 | R5@0.3 | R5@0.5 | R5@0.7 | mIoU |")
    print("|---|---|---|---|---|---|---|---|")
    for name, res in {"MGPN": test, **baselines}.items():
        print(f"| {name} | " + " | ".join(f"{100 * res[k]:.2f}" for k in
                                         ("R1@0.3", "R1@0.5", "R1@0.7", "R5@0.3", "R5@0.5", "R5@0.7", "mIoU")) + " |")
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    if args.json:
        from mgpn_keras.atomic import write_json

        write_json(args.json, report, indent=2)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
