"""Baselines on the synthetic benchmark's test split, which MGPN must beat by far.

(a) Moment prior: every query gets the same score map, the frequency with which each candidate
    cell is the best cell (highest IoU) of a training moment, in normalised time. It ignores the
    video and the query. Scored with the reference protocol (`mgpn_keras.metrics`).
(b) A trained model fed shuffled queries (each video paired with another query). Stub: see
    `shuffled_query_baseline`.

Usage:
    python benchmarks/synthetic_baselines.py [--data-dir DIR] [--seed 0] [--split test]

Without --data-dir the benchmark is written (once, reused after) to
$MGPN_KERAS_CACHE/synthetic-seed{seed}, default ~/.cache/mgpn_keras/.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from mgpn_keras.config import Config, preset
from mgpn_keras.datasets import read_annotations, synthetic
from mgpn_keras.geometry import valid_mask
from mgpn_keras.metrics import evaluate_moments, format_table, iou


def moment_prior(cfg: Config, records) -> np.ndarray:
    """(N, N) frequency of each valid cell being the best cell of a training moment."""
    n = cfg.model.num_clips
    mask = valid_mask(n, cfg.model.num_scale_layers)
    idx = np.arange(n, dtype=np.float64)
    cells = np.stack(np.broadcast_arrays((idx / n)[:, None], ((idx + 1) / n)[None, :]), -1)
    counts = np.zeros((n, n), np.float64)
    for r in records:
        overlap = iou(cells, np.array([r.start / r.duration, r.end / r.duration]))
        overlap = np.where(mask > 0, np.nan_to_num(overlap), -1.0)
        counts[np.unravel_index(np.argmax(overlap), overlap.shape)] += 1
    return (counts / max(len(records), 1)).astype(np.float32)


def evaluate_prior(cfg: Config, prior: np.ndarray, records) -> dict[str, float]:
    """The reference protocol (NMS, R@r,IoU=t, mIoU) with `prior` as every query's scores."""
    durations = np.array([r.duration for r in records])
    gt = np.array([[r.start, r.end] for r in records])
    scores = np.broadcast_to(prior, (len(records),) + prior.shape)
    return evaluate_moments(scores, durations, gt, cfg.model.num_clips, cfg.eval.nms_threshold,
                            cfg.eval.recall, cfg.eval.iou_thresholds)


def shuffled_query_baseline(cfg: Config, data_dir: Path, split: str) -> dict[str, float]:
    """(b) STUB, to be filled in once training exists: a trained MGPN fed shuffled queries.

    TODO(training): prepare the shards (`mgpn_keras.datasets.prepare.prepare`), train MGPN on
    the train split, then evaluate it on `split` with each batch's queries rolled by one
    (features["word_vectors"] and features["query_mask"] of another query, the video's own
    ground truth), and return the `evaluate_moments` dictionary.
    """
    raise NotImplementedError("the shuffled-query baseline needs a trained model (stub)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the synthetic benchmark's folder (written there if absent)")
    parser.add_argument("--seed", type=int, default=0, help="the benchmark's seed")
    parser.add_argument("--split", default="test", help="split to evaluate")
    args = parser.parse_args(argv)
    cache = Path(os.environ.get("MGPN_KERAS_CACHE") or Path.home() / ".cache" / "mgpn_keras")
    data_dir = synthetic.write(args.data_dir or cache / f"synthetic-seed{args.seed}",
                               seed=args.seed)
    cfg = preset("synthetic")
    train = read_annotations("synthetic", data_dir, "train")
    records = read_annotations("synthetic", data_dir, args.split)
    prior = evaluate_prior(cfg, moment_prior(cfg, train), records)
    print(f"synthetic benchmark {data_dir}, {len(records)} {args.split} queries")
    print(f"(a) moment prior: R1@0.5 {100 * prior['R1@0.5']:.2f}, mIoU {100 * prior['mIoU']:.2f}")
    print(format_table(prior, f"(a) moment prior, {args.split}"))
    try:
        shuffled = shuffled_query_baseline(cfg, data_dir, args.split)
    except NotImplementedError as exc:
        print(f"(b) shuffled queries: not available yet ({exc})")
    else:
        print(f"(b) shuffled queries: R1@0.5 {100 * shuffled['R1@0.5']:.2f}, "
              f"mIoU {100 * shuffled['mIoU']:.2f}")
        print(format_table(shuffled, f"(b) shuffled queries, {args.split}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
