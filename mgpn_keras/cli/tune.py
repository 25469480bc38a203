"""`mgpn tune`: a keras-tuner search over MGPN's hidden size, switches and learning rate."""

from __future__ import annotations

import argparse
import os

from mgpn_keras.cli.arguments import (HelpFormatter, add_config_arguments, add_logging_arguments,
                                      add_strategy_argument, resolve_config)
from mgpn_keras.cli.errors import UsageError
from mgpn_keras.tuning.search_space import ALGORITHMS, DEFAULT_HIDDEN_SIZES, SEARCH_NAMES

DESCRIPTION = """\
Search MGPN configurations with keras-tuner. Every trial builds MGPN from the preset (or
--config) with the trial's values, trains it as train.py does (same data pipeline,
learning-rate schedule, distribution strategy and seed) and is scored by the validation
R1@0.5 of the per-epoch evaluation (the test split where the data set has no val).

--search names the dimensions (comma-separated):
  hidden      model.hidden_size in --hidden-sizes (default 128,256,512; paper Fig. 5)
  encoder     model.coarse_encoder: gru, lstm, transformer (Table 4)
  comparison  model.comparison: group_conv, stacked_conv, non_local (Fig. 5)
  features    model.candidate_features: both, content, boundary (Fig. 4)
  components  fine-grained encoders, conditioned interaction, choice comparison on/off
              (Table 3)
  lr          train.learning_rate in --learning-rates (default 1e-3,5e-4,1e-4)

Inputs: the base config (--preset/--config/--set) and prepared shards (--shards; the
synthetic benchmark is prepared on first use). Output: the search folder --out
(keras-tuner's trial folders, trials.json, best_config.json).

Run again with the same --out to resume an interrupted search (or to extend it
with a larger --max-trials). At the end the trial table is printed and written to
D/trials.json; D/best_config.json is the base config with the best trial's values:
  python train.py --config D/best_config.json

Across machines: set KERASTUNER_TUNER_ID (chief, tuner0, tuner1, ...),
KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT (the chief's address) and run the same
command in every process, on a shared --out; see docs/tuning.md.

Example (the embedded synthetic benchmark, prepared on first use):
  mgpn tune --preset synthetic --search encoder,comparison,hidden --hidden-sizes 32,64,128 \\
      --algorithm bayesian --max-trials 12 --epochs 4 --out runs/tune-synthetic
"""


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # --epochs here is the per-trial budget, not train.epochs: declared below, not by the group.
    add_config_arguments(parser, default_preset="synthetic", schedule=False)
    parser.add_argument("--batch-size", type=int, metavar="N", help="global batch (default: the config's)")
    parser.add_argument("--shards", metavar="DIR",
                        help="prepared shards (folder with manifest.json); required for real presets")
    parser.add_argument("--data-dir", default=os.path.join("data", "synthetic"), metavar="DIR",
                        help="where the synthetic benchmark is written and prepared "
                             "(default: data/synthetic)")
    parser.add_argument("--search", default="hidden", metavar="NAMES",
                        help=f"dimensions to search, a comma-separated subset of {','.join(SEARCH_NAMES)} "
                             "(default: hidden)")
    parser.add_argument("--hidden-sizes", type=_int_list, metavar="LIST",
                        default=list(DEFAULT_HIDDEN_SIZES),
                        help="values of model.hidden_size, each a multiple of model.groups "
                             "(default: 128,256,512)")
    parser.add_argument("--learning-rates", type=_float_list, metavar="LIST",
                        help="values of train.learning_rate; searched when given (or with --search lr)")
    parser.add_argument("--algorithm", default="random", choices=ALGORITHMS,
                        help="keras-tuner algorithm (default: random)")
    parser.add_argument("--max-trials", type=int, default=10,
                        help="trials in all, resumed ones included (default: 10)")
    parser.add_argument("--epochs", dest="trial_epochs", type=int, metavar="N",
                        help="training epochs per trial (Hyperband: the most a trial gets); "
                             "default: the config's train.epochs")
    parser.add_argument("--out", "--output-dir", dest="out", required=True, metavar="DIR",
                        help="the search folder; an existing one is resumed")
    add_strategy_argument(parser)
    add_logging_arguments(parser, quiet_help="no progress output until the table")


def run(args: argparse.Namespace) -> int:
    from mgpn_keras.training.data import training_manifest
    from mgpn_keras.tuning.search_space import SearchSpace

    # --epochs is the per-trial budget; the base config (and best_config.json) keeps its schedule.
    base = resolve_config(args)
    if args.trial_epochs is not None and args.trial_epochs < 1:
        raise UsageError(f"--epochs {args.trial_epochs}; expected a positive integer")
    space = SearchSpace.from_names(args.search, args.hidden_sizes, args.learning_rates)
    space.check(base)
    verbose = 0 if args.quiet else 1
    manifest = training_manifest(base, args.shards, args.data_dir, bool(verbose))

    from mgpn_keras.training.strategy import make_strategy
    from mgpn_keras.tuning.search import format_trial_table, run_search

    strategy = make_strategy(args.strategy)
    print(f"tuning {base.name}: search {', '.join(space.names())} with {args.algorithm}, "
          f"{args.max_trials} trial(s) of {args.trial_epochs or base.train.epochs} epoch(s), "
          f"{strategy.num_replicas_in_sync} replica(s) -> {args.out}", flush=True)
    result = run_search(base, manifest, space, args.out, algorithm=args.algorithm,
                        max_trials=args.max_trials, epochs=args.trial_epochs, strategy=strategy,
                        verbose=verbose)
    if result.get("role") == "worker":
        print(f"worker {result['tuner_id']}: ran trial(s) {', '.join(result['trials_run']) or 'none'}; "
              f"the chief writes the trial table")
        return 0
    objective = result.get("objective") or f"val_{base.eval.best_metric}"
    print(format_trial_table(result["trials"], space, objective))
    print(f"trial records in {os.path.join(args.out, 'trials.json')}")
    failed = [r for r in result["trials"] if r["status"] not in ("COMPLETED", "RUNNING")]
    for r in failed:
        print(f"trial {r['trial_id']} {r['status']}: {r['message']}")
    best = result["best_trial"]
    if best is None:
        print("error: no trial completed; nothing written to best_config.json")
        return 1
    path = os.path.join(args.out, "best_config.json")
    print(f"best: trial {best['trial_id']} ({objective} {100 * best['objective']:.2f}) -> {path}\n"
          f"train it with: python train.py --config {path}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("tune", help="search hidden size, switches, learning rate (keras-tuner)",
                                   description=DESCRIPTION, formatter_class=HelpFormatter)
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser
