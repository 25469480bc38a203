"""The `mgpn` command: one subcommand per task, each defined in its own module.

Each module named in `_COMMANDS` exposes `add_parser(subparsers)`, which adds its
subparser and sets `func=callable(args) -> int` as the parser default.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_COMMANDS = {
    "extract": "mgpn_keras.extract.command",
    "prepare": "mgpn_keras.datasets.prepare",
    "train": "mgpn_keras.training.cli",
    "evaluate": "mgpn_keras.training.evaluate_cli",
    "convert": "mgpn_keras.convert",
    "export": "mgpn_keras.serving.export",
    "predict": "mgpn_keras.serving.predict",
    "tune": "mgpn_keras.tuning.cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgpn",
        description="MGPN video moment retrieval (Keras 3 / TensorFlow): extract features from "
        "videos, prepare data, train, evaluate, convert reference checkpoints, export and query "
        "SavedModels, tune.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in _COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("mgpn_keras"):
                continue  # a subcommand not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
