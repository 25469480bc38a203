"""The `mgpn` command: parse, quiet TensorFlow's start-up, run the subcommand, report errors."""

from __future__ import annotations

import argparse
import importlib
import sys

from mgpn_keras.cli.arguments import HelpFormatter, Parser
from mgpn_keras.cli.errors import report_user_errors
from mgpn_keras.cli.logs import configure_logging

# One module per subcommand, in the order `mgpn --help` lists them.
COMMANDS = {
    "extract": "mgpn_keras.cli.extract",
    "prepare": "mgpn_keras.cli.prepare",
    "train": "mgpn_keras.cli.train",
    "evaluate": "mgpn_keras.cli.evaluate",
    "convert": "mgpn_keras.cli.convert",
    "export": "mgpn_keras.cli.export",
    "predict": "mgpn_keras.cli.predict",
    "tune": "mgpn_keras.cli.tune",
}

DESCRIPTION = """\
MGPN video moment retrieval (Keras 3 / TensorFlow): extract features from video files,
prepare data, train, evaluate, convert reference checkpoints, export and query SavedModels,
tune.

A typical session:
  mgpn prepare --preset tacos --data-dir data/TACoS --glove glove.840B.300d.txt --out shards/tacos
  mgpn train --preset tacos --shards shards/tacos --out runs/tacos
  mgpn evaluate --run-dir runs/tacos --split test
  mgpn export --run-dir runs/tacos --out export/mgpn/1

`mgpn COMMAND --help` explains each command, its inputs and outputs.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="mgpn", description=DESCRIPTION, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).add_parser(sub)
    return parser


def run_parsed(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse `argv` with `parser` and run the chosen `func(args)` in the one error style.

    A user error ends as one line `<prog>: error: <message>` on stderr and exit status 2
    (`CommandError`, a `SystemExit`), like argparse's own errors.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is a Beam pipeline option (`--runner` commands), passed unchanged.
    cut = argv.index("--") if "--" in argv else len(argv)
    args, extra = parser.parse_known_args(argv[:cut])
    args.pipeline_args = argv[cut + 1:]
    if args.pipeline_args and getattr(args, "runner", None) is None \
            and getattr(args, "workers", None) is None:
        extra = ["--", *args.pipeline_args]  # Beam flags without --runner/--workers
    if extra:  # reported by the subcommand's parser, so the message names the subcommand
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    verbose = bool(getattr(args, "verbose", False))
    configure_logging(verbose)
    prog = _command_prog(parser, args)
    try:
        with report_user_errors(prog, verbose):
            return int(func(args) or 0)
    except KeyboardInterrupt:
        # Finished work is on disk (backups, shards, trials): rerunning the command resumes.
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return 130


def _command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction) and getattr(args, "command", None):
            return action.choices[args.command]
    return parser


def _command_prog(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    command = getattr(args, "command", None)
    return f"{parser.prog} {command}" if command else parser.prog


def main(argv: list[str] | None = None) -> int:
    """`mgpn ...`: returns the exit status; a user error raises `CommandError` (status 2)."""
    return run_parsed(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
