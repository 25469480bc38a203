"""Argument groups that several subcommands share, and the one `KEY=VALUE` parser.

Every subcommand that builds a config takes the same flags (`--preset`, `--config`, `--set`,
and where they mean the training schedule `--epochs`, `--batch-size`), and every subcommand
takes `--quiet` and `--verbose`; `resolve_config` turns them into a `Config` the same way
for all of them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Iterable

from mgpn_keras import config as config_lib
from mgpn_keras.cli.errors import CommandError, UsageError

STRATEGIES = ("auto", "mirrored", "multi_worker", "default")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks, so that the examples stay readable."""


class Parser(argparse.ArgumentParser):
    """argparse's parser, reporting a bad flag on one line like every other user error."""

    def error(self, message: str):
        error = CommandError(self.prog, f"{message} (see {self.prog} --help)")
        print(error, file=sys.stderr, flush=True)
        raise error


def add_config_arguments(parser: argparse.ArgumentParser, *, default_preset: str | None = "synthetic",
                         schedule: bool = True) -> None:
    """`--preset`, `--config`, `--set` and (with `schedule`) `--epochs`, `--batch-size`."""
    group = parser.add_argument_group("configuration")
    group.add_argument("--preset", default=default_preset, choices=config_lib.PRESET_NAMES,
                       help="data set preset with the paper's settings" + (
                           f" (default: {default_preset})" if default_preset else ""))
    group.add_argument("--config", metavar="FILE",
                       help="a saved config (JSON/YAML: a run's config.json, a tuner's "
                            "best_config.json); replaces --preset")
    group.add_argument("--set", dest="set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set model.hidden_size=128 "
                            "(repeatable; a bare field name works when it is unique)")
    if schedule:
        group.add_argument("--epochs", type=int, metavar="N", help="shortcut for --set train.epochs=N")
        group.add_argument("--batch-size", type=int, metavar="N",
                           help="shortcut for --set train.batch_size=N (the global batch, split "
                                "across replicas)")


def add_strategy_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", default="auto", choices=STRATEGIES,
                        help="tf.distribute strategy: auto = MultiWorkerMirrored when TF_CONFIG "
                             "is set, else Mirrored over the local devices")


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """`--runner` and `--workers`: run the command as an Apache Beam pipeline (docs/scale.md);
    Beam's own flags follow `--` on the command line (`args.pipeline_args`)."""
    group = parser.add_argument_group("Apache Beam (docs/scale.md)")
    group.add_argument("--runner", default=None, metavar="NAME",
                       help="run as a Beam pipeline on this runner (DirectRunner, DataflowRunner, "
                            "FlinkRunner, SparkRunner, ...); default: in this process, no Beam. "
                            "Further Beam options go after `--`, e.g. `-- --project=P`")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes (DirectRunner in multi_processing mode, the default "
                            "runner with --workers) or machines (other runners)")


def add_logging_arguments(parser: argparse.ArgumentParser, quiet_aliases: Iterable[str] = (),
                          quiet_help: str = "no progress bars or per-epoch tables") -> None:
    """`--quiet` (less of our output) and `--verbose` (TensorFlow's start-up log lines, and
    the traceback of a user error)."""
    group = parser.add_argument_group("output")
    group.add_argument("--quiet", *quiet_aliases, dest="quiet", action="store_true", help=quiet_help)
    group.add_argument("--verbose", action="store_true",
                       help="also show TensorFlow's C++ log lines (its start-up notices among "
                            "them) and, on an error, the traceback")


def parse_key_values(items: Iterable[str], flag: str = "--set") -> dict[str, str]:
    """`["a.b=1", "c = x"]` -> `{"a.b": "1", "c": "x"}`; values are coerced by the config."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} expects KEY=VALUE, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def resolve_config(args: argparse.Namespace) -> config_lib.Config:
    """The config named by `--config` or `--preset`, with `--set`, `--epochs`, `--batch-size`."""
    if getattr(args, "config", None):
        cfg = config_lib.load_config(args.config)
    elif getattr(args, "preset", None):
        cfg = config_lib.preset(args.preset)
    else:
        raise UsageError(f"pass --preset (one of {', '.join(config_lib.PRESET_NAMES)}) or "
                         "--config FILE")
    overrides: dict = parse_key_values(getattr(args, "set", None) or [])
    if getattr(args, "epochs", None) is not None:
        overrides["train.epochs"] = args.epochs
    if getattr(args, "batch_size", None) is not None:
        overrides["train.batch_size"] = args.batch_size
    return config_lib.apply_overrides(cfg, overrides)
