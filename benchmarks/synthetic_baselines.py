"""Baselines on the synthetic benchmark's test split, which MGPN must beat by far.

(a) Moment prior: every query gets the same score map, the frequency with which each
    candidate cell is the best cell of a training moment (ignores video and query).
(b) The trained MGPN fed shuffled queries: each video paired with another sample's query,
    scored against the video's own ground truth.
Both use the reference protocol (mgpn_keras.evaluation.metrics). MGPN itself is printed beside them.

Usage:
    python benchmarks/synthetic_baselines.py [--run-dir RUN] [--data-dir data/synthetic]

Without --run-dir it trains the synthetic preset first (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", help="a trained synthetic run (train.py output); trained if absent")
    parser.add_argument("--data-dir", default=os.path.join("data", "synthetic"),
                        help="where the synthetic benchmark and its shards live")
    parser.add_argument("--split", default="test")
    args = parser.parse_args(argv)

    from mgpn_keras.config import load_config, preset
    from mgpn_keras.evaluation.metrics import format_table
    from mgpn_keras.runs.paths import RunPaths
    from mgpn_keras.training.baselines import baseline_results
    from mgpn_keras.training.data import prepare_synthetic
    from mgpn_keras.training.trainer import train

    cfg = preset("synthetic")
    manifest = prepare_synthetic(cfg, args.data_dir, verbose=False)
    run_dir = args.run_dir
    if run_dir is None:
        run_dir = os.path.join("runs", f"baselines-{time.strftime('%Y%m%d-%H%M%S')}")
        train(cfg, manifest, run_dir, verbose=0)
    paths = RunPaths(run_dir)
    cfg = load_config(paths.config)
    rows = baseline_results(cfg, manifest, paths.checkpoints, args.split)
    with open(paths.results, encoding="utf-8") as f:
        results = json.load(f)
    if args.split in results:
        rows = {f"MGPN ({args.split})": results[args.split], **rows}
    for title, res in rows.items():
        print(format_table(res, title))
    print("| model | R1@0.5 | mIoU |\n|---|---|---|")
    for title, res in rows.items():
        print(f"| {title} | {100 * res['R1@0.5']:.2f} | {100 * res['mIoU']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
