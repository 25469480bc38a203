"""`train.py` / `mgpn train`: the main job."""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

from mgpn_keras import config as config_lib

DESCRIPTION = """\
Train MGPN with model.fit under tf.distribute, evaluate with the reference protocol
(R@1 and R@5 at several IoU thresholds, mIoU), keep the best checkpoint and write
results.json.

With no arguments: writes the embedded synthetic benchmark (or reuses it), prepares its
TFRecord shards, trains the `synthetic` preset, evaluates on its test split and prints
the results beside two baselines (a moment prior and the trained model fed shuffled
queries).

Real data: prepare shards once with `mgpn prepare`, then e.g.
  python train.py --preset tacos --shards SHARDS_DIR
A killed run resumes from its last backup when started again with the same command.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="synthetic", choices=config_lib.PRESET_NAMES,
                        help="data set preset with the paper's settings (default: synthetic)")
    parser.add_argument("--config", metavar="FILE",
                        help="a saved config (JSON/YAML, e.g. a run's config.json or a tuner's "
                             "best_config.json); replaces --preset")
    parser.add_argument("--shards", metavar="DIR",
                        help="prepared shards (folder with manifest.json, from `mgpn prepare`); "
                             "required for real presets, optional for synthetic")
    parser.add_argument("--data-dir", default=os.path.join("data", "synthetic"), metavar="DIR",
                        help="where the synthetic benchmark is written and prepared "
                             "(default: data/synthetic)")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="run folder for checkpoints, logs, config and results.json "
                             "(default: runs/<preset>-<time>, or the latest unfinished run of the "
                             "same preset, which is resumed)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set model.hidden_size=128 "
                             "(repeatable; a bare field name works when unique)")
    parser.add_argument("--epochs", type=int, help="shortcut for --set train.epochs=N")
    parser.add_argument("--batch-size", type=int, help="shortcut for --set train.batch_size=N "
                        "(the global batch, split across replicas)")
    parser.add_argument("--strategy", default="auto",
                        choices=("auto", "mirrored", "multi_worker", "default"),
                        help="tf.distribute strategy: auto = MultiWorkerMirrored when TF_CONFIG "
                             "is set, else Mirrored over the local devices")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip the baselines in the final table (synthetic preset)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def resolve_config(args) -> config_lib.Config:
    if args.config:
        try:
            cfg = config_lib.load_config(args.config)
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"error: {exc}") from None
    else:
        cfg = config_lib.preset(args.preset)
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        overrides[key.strip()] = value.strip()
    if args.epochs is not None:
        overrides["train.epochs"] = args.epochs
    if args.batch_size is not None:
        overrides["train.batch_size"] = args.batch_size
    try:
        return config_lib.apply_overrides(cfg, overrides)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


def _unfinished_run(preset_name: str) -> str | None:
    candidates = sorted(glob.glob(os.path.join("runs", f"{preset_name}-*")), reverse=True)
    for run in candidates:
        if os.path.exists(os.path.join(run, "backup", "state.json")) and not os.path.exists(
                os.path.join(run, "results.json")):
            return run
    return None


def prepare_synthetic(cfg, data_dir: str, verbose: bool) -> str:
    """Write (or reuse) the synthetic benchmark and its shards; returns the manifest path."""
    from mgpn_keras.datasets import synthetic
    from mgpn_keras.datasets.prepare import prepare

    raw = synthetic.write(os.path.join(data_dir, "raw"))
    return prepare(cfg, raw, os.path.join(data_dir, "shards"), progress=verbose)


def manifest_path(shards: str) -> str:
    path = os.path.join(shards, "manifest.json") if os.path.isdir(shards) else shards
    if not os.path.exists(path):
        raise SystemExit(f"error: no manifest at {path!r}; prepare shards with `mgpn prepare`")
    return path


def run(args) -> int:
    from mgpn_keras.training.strategy import make_strategy
    from mgpn_keras.training.trainer import train

    cfg = resolve_config(args)
    verbose = not args.quiet
    if args.shards:
        manifest = manifest_path(args.shards)
    elif cfg.data.dataset == "synthetic":
        manifest = prepare_synthetic(cfg, args.data_dir, verbose)
    else:
        raise SystemExit(f"error: preset {cfg.name!r} trains on real features: prepare them with "
                         f"`mgpn prepare --preset {cfg.name} --data-dir DIR --out SHARDS` and pass "
                         "--shards SHARDS")
    output_dir = args.output_dir or _unfinished_run(cfg.name)
    if output_dir and not args.output_dir:
        print(f"resuming the unfinished run {output_dir}", flush=True)
    output_dir = output_dir or os.path.join("runs", f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    strategy = make_strategy(args.strategy)
    print(f"preset {cfg.name}: {strategy.num_replicas_in_sync} replica(s), global batch "
          f"{cfg.train.batch_size}, {cfg.train.epochs} epochs -> {output_dir}", flush=True)
    start = time.time()
    try:
        results = train(cfg, manifest, output_dir, strategy=strategy, verbose=1 if verbose else 0)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    elapsed = time.time() - start
    from mgpn_keras.metrics import format_table

    rows = {f"MGPN ({split})": res for split, res in results.items()}
    if cfg.data.dataset == "synthetic" and not args.no_baselines and "test" in results:
        from mgpn_keras.training.baselines import baseline_results

        rows.update(baseline_results(cfg, manifest, os.path.join(output_dir, "checkpoints")))
        with open(os.path.join(output_dir, "baselines.json"), "w", encoding="utf-8") as f:
            json.dump({k: v for k, v in rows.items() if not k.startswith("MGPN")}, f, indent=2)
    for title, res in rows.items():
        print(format_table(res, title))
    print(f"wall time {elapsed / 60:.1f} min; results in {os.path.join(output_dir, 'results.json')}")
    return 0


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train and evaluate (same as train.py)",
                                   description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="train.py", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
