"""`mgpn train` and `python train.py`: the main job."""

from __future__ import annotations

import argparse
import os
import time

from mgpn_keras.cli.arguments import (HelpFormatter, Parser, add_config_arguments,
                                      add_logging_arguments, add_strategy_argument, resolve_config)

DESCRIPTION = """\
Train MGPN with model.fit under tf.distribute, evaluate with the reference protocol
(R@1 and R@5 at several IoU thresholds, mIoU), keep the best checkpoint and write
results.json.

With no arguments: writes the embedded synthetic benchmark (or reuses it), prepares its
TFRecord shards, trains the `synthetic` preset, evaluates on its test split and prints
the results beside two baselines (a moment prior and the trained model fed shuffled
queries).

Inputs: --shards (from `mgpn prepare`) and the config (--preset/--config/--set).
Output: the run folder --out (config.json, checkpoints/best.weights.h5, backup/, logs/,
summary.json, results.json; baselines.json on the synthetic preset).

Real data: prepare shards once with `mgpn prepare`, then e.g.
  python train.py --preset tacos --shards SHARDS_DIR
A killed run resumes from its last backup when started again with the same command.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, default_preset="synthetic")
    parser.add_argument("--shards", metavar="DIR",
                        help="prepared shards (folder with manifest.json, from `mgpn prepare`); "
                             "required for real presets, optional for synthetic")
    parser.add_argument("--data-dir", default=os.path.join("data", "synthetic"), metavar="DIR",
                        help="where the synthetic benchmark is written and prepared "
                             "(default: data/synthetic)")
    parser.add_argument("--out", "--output-dir", dest="out", metavar="DIR",
                        help="run folder for checkpoints, logs, config and results.json "
                             "(default: runs/<preset>-<time>, or the latest unfinished run of the "
                             "same preset, which is resumed)")
    add_strategy_argument(parser)
    parser.add_argument("--long-videos", action="store_true",
                        help="train for long videos: a share of each batch are windows without "
                             "the query's moment, and a window-presence head ranks the windows "
                             "of a long video at retrieval (config LONG_VIDEO_SETTINGS; --set "
                             "overrides them; docs/long_video.md)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip the baselines in the final table (synthetic preset)")
    add_logging_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from mgpn_keras.runs.paths import new_run_dir, unfinished_run
    from mgpn_keras.training.data import training_manifest

    cfg = resolve_config(args)
    if args.long_videos:
        from mgpn_keras.cli.arguments import parse_key_values
        from mgpn_keras.config import LONG_VIDEO_SETTINGS, apply_overrides

        # --set wins over the long-video defaults.
        cfg = apply_overrides(cfg, {**LONG_VIDEO_SETTINGS, **parse_key_values(args.set)})
    verbose = not args.quiet
    manifest = training_manifest(cfg, args.shards, args.data_dir, verbose)
    output_dir = args.out or unfinished_run(cfg.name)
    if output_dir and not args.out:
        print(f"resuming the unfinished run {output_dir}", flush=True)
    output_dir = output_dir or new_run_dir(cfg.name)

    from mgpn_keras.training.strategy import make_strategy
    from mgpn_keras.training.trainer import train

    strategy = make_strategy(args.strategy)
    print(f"preset {cfg.name}: {strategy.num_replicas_in_sync} replica(s), global batch "
          f"{cfg.train.batch_size}, {cfg.train.epochs} epochs -> {output_dir}", flush=True)
    start = time.time()
    results = train(cfg, manifest, output_dir, strategy=strategy, verbose=1 if verbose else 0)
    elapsed = time.time() - start

    from mgpn_keras.atomic import write_json
    from mgpn_keras.evaluation.metrics import format_table
    from mgpn_keras.runs.paths import RunPaths

    rows = {f"MGPN ({split})": res for split, res in results.items()}
    if cfg.data.dataset == "synthetic" and not args.no_baselines and "test" in results:
        from mgpn_keras.training.baselines import baseline_results

        rows.update(baseline_results(cfg, manifest, RunPaths(output_dir).checkpoints))
        write_json(RunPaths(output_dir).baselines,
                   {k: v for k, v in rows.items() if not k.startswith("MGPN")}, indent=2)
    for title, res in rows.items():
        print(format_table(res, title))
    print(f"wall time {elapsed / 60:.1f} min; results in {RunPaths(output_dir).results}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("train", help="train and evaluate (same as train.py)",
                                   description=DESCRIPTION, formatter_class=HelpFormatter)
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python train.py ...`: the same command under the program name train.py."""
    from mgpn_keras.cli.dispatch import run_parsed

    parser = Parser(prog="train.py", description=DESCRIPTION,
                                     formatter_class=HelpFormatter)
    add_arguments(parser)
    parser.set_defaults(func=run)
    return run_parsed(parser, argv)
