"""`mgpn evaluate`: re-evaluate a training run with the reference protocol."""

from __future__ import annotations

import argparse

from mgpn_keras.cli.arguments import HelpFormatter, add_logging_arguments

DESCRIPTION = """\
Evaluate a training run's weights on a split with the reference protocol (ranking, NMS,
R@n at IoU > m, mIoU), print the table and merge the numbers into the run's results.json.

Input: the run folder written by train.py (--run-dir: config.json, manifest.json naming the
prepared shards, checkpoints/ or backup/). Outputs: RUN/results.json (the split's entry
replaced) and, with --predictions, every query's top moments as JSON.

Example:
  mgpn evaluate --run-dir runs/tacos-20261128-101500 --split test --predictions preds.json
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("evaluate", help="re-evaluate a training run",
                                   description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--run-dir", required=True, metavar="DIR",
                        help="the run folder written by train.py")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--weights", default="best",
                        help="'best' (best checkpoint), 'latest' (last backup) or a .weights.h5 path")
    parser.add_argument("--predictions", metavar="FILE.json",
                        help="also write every query's top moments to this JSON file")
    add_logging_arguments(parser, quiet_help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mgpn_keras.metrics import format_table
    from mgpn_keras.training.run_evaluation import evaluate_run

    results = evaluate_run(args.run_dir, args.split, args.weights, verbose=not args.quiet,
                           predictions_out=args.predictions)
    print(format_table(results, f"{args.run_dir}: {args.split} split"))
    return 0
