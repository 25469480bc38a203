"""`mgpn evaluate`: re-evaluate a training run with the reference protocol."""

from __future__ import annotations

import json
import os


def evaluate_run(run_dir: str, split: str = "test", weights: str = "best", verbose: bool = True,
                 predictions_out: str | None = None, manifest: str | None = None,
                 layout: str | None = None) -> dict:
    """Evaluate a trained model's `split` with the reference protocol.

    `run_dir` is a training run folder (the numbers are merged into its results.json) or a
    preset folder (they are only returned; `manifest` names the data set, which a preset
    folder does not record). The model is built in `layout` (default: the config's
    `eval.layout`, "auto"), which gives the dense model's answers, faster where the geometry
    allows.
    """
    from mgpn_keras.atomic import write_json
    from mgpn_keras.datasets import check_manifest, make_dataset
    from mgpn_keras.saving import resolve_model
    from mgpn_keras.training.evaluation import evaluate_model, ordered, write_results
    from mgpn_keras.training.trainer import RunPaths

    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"model folder {run_dir!r} does not exist")
    resolved = resolve_model(run_dir, weights=weights, manifest=manifest, layout=layout)
    if resolved.manifest is None:
        raise FileNotFoundError(f"{run_dir!r} names no prepared data set to evaluate on; pass --shards")
    cfg = resolved.config
    from mgpn_keras.datasets import load_manifest

    data_set = check_manifest(load_manifest(resolved.manifest), cfg)
    if not data_set.counts.get(split):
        raise ValueError(f"split {split!r} is not in the prepared data; it has {sorted(data_set.counts)}")
    data = make_dataset(data_set, split, cfg.eval.batch_size, training=False, with_meta=True)
    results, predictions = evaluate_model(resolved.model, data, cfg, progress=verbose, return_predictions=True,
                                           layout=layout)
    results = ordered(results, cfg)
    if resolved.kind == "run":
        paths = RunPaths(run_dir)
        existing = {}
        if os.path.exists(paths.results):
            with open(paths.results, encoding="utf-8") as f:
                existing = json.load(f)
        existing[split] = results
        write_results(paths.results, existing)
    if predictions_out:
        write_json(predictions_out, predictions, indent=None)
    return results


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="re-evaluate a training run",
        description="Evaluate a training run's weights on a split with the reference protocol "
        "(ranking, NMS, R@n at IoU > m, mIoU) and merge the numbers into its results.json.")
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
    parser.add_argument("--layout", choices=["auto", "dense", "valid_cells"],
                        help="the 2D stage's layout (default: the run's eval.layout, 'auto': the "
                        "one measured faster for the preset; all give the same answers)")
    window = parser.add_argument_group(
        "long videos", "--window evaluates by windowed retrieval (the serving graph's): videos "
        "longer than the window are cut into overlapping windows whose moments are merged. It "
        "reads the split's annotations and raw features, so any annotated split of long videos "
        "(e.g. long.json beside the others, --split long) can be evaluated. Results go to "
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
    parser.set_defaults(func=_run)


def _run(args) -> int:
    from mgpn_keras.metrics import format_table

    from mgpn_keras.datasets.errors import DataError

    title = f"{args.run_dir}: {args.split} split"
    try:
        manifest = args.shards
        if manifest and os.path.isdir(manifest):
            manifest = os.path.join(manifest, "manifest.json")
        if args.window is None:
            if args.window_overlap is not None or args.data_dir or args.features:
                raise ValueError("--window-overlap, --data-dir and --features need --window")
            results = evaluate_run(args.run_dir, args.split, args.weights,
                                   predictions_out=args.predictions, manifest=manifest,
                                   layout=args.layout)
        else:
            from mgpn_keras.training.windowed_evaluation import evaluate_run_windowed

            if manifest:
                raise ValueError("--shards applies without --window; the windowed evaluation reads "
                                 "the run folder's data set")
            seconds = None if args.window == "auto" else _seconds(args.window)
            results = evaluate_run_windowed(
                args.run_dir, args.split, args.weights, window_seconds=seconds,
                window_overlap_seconds=args.window_overlap, data_dir=args.data_dir,
                features=args.features, predictions_out=args.predictions)
            title += ", windowed"
    except (FileNotFoundError, ValueError, DataError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(format_table(results, title))
    return 0


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--window {text!r}: expected a number of seconds") from None
