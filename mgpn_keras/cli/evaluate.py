"""`mgpn evaluate`: re-evaluate a training run with the reference protocol."""

from __future__ import annotations

import argparse
import os

from mgpn_keras.cli.arguments import HelpFormatter, add_logging_arguments, add_runner_arguments
from mgpn_keras.cli.errors import UsageError
from mgpn_keras.config import LAYOUT_SETTINGS

DESCRIPTION = """\
Evaluate a training run's weights on a split with the reference protocol (ranking, NMS,
R@n at IoU > m, mIoU), print the table and merge the numbers into the run's results.json.

Input: the run folder written by train.py (--run-dir: config.json, manifest.json naming the
prepared shards, checkpoints/ or backup/). Outputs: RUN/results.json (the split's entry
replaced) and, with --predictions, every query's top moments as JSON.

Examples:
  mgpn evaluate --run-dir runs/tacos-20261128-101500 --split test --predictions preds.json
  mgpn evaluate --run-dir runs/anet --split long --window 120
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("evaluate", help="re-evaluate a training run",
                                   description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--run-dir", "--model", dest="run_dir", required=True, metavar="DIR",
                        help="the run folder written by train.py, or a model preset folder "
                             "(e.g. a run's model/; give its data with --shards)")
    parser.add_argument("--shards", metavar="DIR",
                        help="prepared shards (folder with manifest.json) to evaluate on "
                             "(default: the ones the run folder names)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--weights", default="best",
                        help="'best' (best checkpoint), 'latest' (last backup) or a .weights.h5 path")
    parser.add_argument("--predictions", metavar="FILE.json",
                        help="also write every query's top moments to this JSON file")
    parser.add_argument("--layout", choices=LAYOUT_SETTINGS,
                        help="the 2D stage's layout (default: the run's eval.layout, 'auto': the "
                        "one measured faster for the preset; all give the same answers)")
    window = parser.add_argument_group(
        "long videos", "--window evaluates by windowed retrieval (the serving graph's): videos\n"
        "longer than the window are cut into overlapping windows whose moments are merged. It\n"
        "reads the split's annotations and raw features, so any annotated split of long videos\n"
        "(e.g. long.json beside the others, --split long) can be evaluated. Results go to\n"
        "results.json as '<split>@window'.")
    window.add_argument("--window", nargs="?", const="auto", metavar="SECONDS",
                        help="window length in seconds (bare --window: eval.window_seconds, "
                        "else twice the training moments' 99th-percentile length that "
                        "`mgpn prepare` recorded)")
    window.add_argument("--window-overlap", type=float, metavar="SECONDS",
                        help="overlap of consecutive windows (default: half a window)")
    window.add_argument("--data-dir", metavar="DIR", help="annotation folder (default: the "
                        "one the manifest recorded)")
    window.add_argument("--features", metavar="PATH", help="raw features, .hdf5 file or .npy "
                        "folder (default: the ones the manifest recorded)")
    add_runner_arguments(parser)
    add_logging_arguments(parser, quiet_help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    title = f"{args.run_dir}: {args.split} split"
    manifest = args.shards
    if manifest and os.path.isdir(manifest):
        manifest = os.path.join(manifest, "manifest.json")
    if args.window is None:
        if args.window_overlap is not None or args.data_dir or args.features:
            raise UsageError("--window-overlap, --data-dir and --features need --window")
        from mgpn_keras.runs.resolve import check_model

        check_model(args.run_dir, weights=args.weights, manifest=manifest)  # before TensorFlow
        from mgpn_keras.evaluation.metrics import format_table
        from mgpn_keras.evaluation.run_evaluation import evaluate_run

        if args.runner is not None or args.workers is not None:
            if args.predictions:
                raise UsageError("--predictions is written by the in-process evaluation; drop "
                                 "--runner/--workers for it")
            from mgpn_keras.pipelines.evaluate import evaluate_beam

            results = evaluate_beam(args.run_dir, args.split, args.weights, manifest=manifest,
                                    layout=args.layout, runner=args.runner,
                                    workers=args.workers, pipeline_args=args.pipeline_args)
            print(format_table(results, title))
            return 0
        results = evaluate_run(args.run_dir, args.split, args.weights, verbose=not args.quiet,
                               predictions_out=args.predictions, manifest=manifest,
                               layout=args.layout)
    else:
        from mgpn_keras.evaluation.metrics import format_table
        from mgpn_keras.evaluation.windowed import evaluate_run_windowed

        if manifest:
            raise UsageError("--shards applies without --window; the windowed evaluation reads "
                             "the run folder's data set")
        seconds = None if args.window == "auto" else _seconds(args.window)
        results = evaluate_run_windowed(
            args.run_dir, args.split, args.weights, window_seconds=seconds,
            window_overlap_seconds=args.window_overlap, data_dir=args.data_dir,
            features=args.features, predictions_out=args.predictions)
        title += ", windowed"
    print(format_table(results, title))
    return 0


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"--window {text!r}: expected a number of seconds") from None
