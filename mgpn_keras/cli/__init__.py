"""The `mgpn` command line: every subcommand's arguments live in this package.

Layout:
    dispatch.py   `mgpn` itself: builds the parser from `COMMANDS`, quiets TensorFlow's
                  start-up lines (logs.py), runs the subcommand, reports user errors (errors.py)
    arguments.py  argument groups several subcommands share (--preset/--config/--set/--epochs/
                  --batch-size, --strategy, --quiet/--verbose) and the one KEY=VALUE parser
    errors.py     the one error style: `mgpn <command>: error: <message>`, exit status 2
    logs.py       TensorFlow's start-up notices hidden unless --verbose
    <command>.py  one module per subcommand: prepare, train, evaluate, convert, export,
                  predict, tune

Library modules hold no argparse: a subcommand module parses flags and calls plain functions
(`datasets.prepare.prepare`, `training.trainer.train`, `serving.export.export_run`, ...).

Adding a subcommand `mgpn frobnicate`:
1. Write the library function it runs, with plain arguments, outside this package.
2. Write `mgpn_keras/cli/frobnicate.py` with `add_parser(subparsers)`, which adds the
   subparser (`description=` says what it does, its inputs and outputs, and an example;
   `formatter_class=HelpFormatter`), uses the shared groups of `arguments.py` rather than
   declaring `--preset`, `--set`, `--quiet` again, always calls `add_logging_arguments`, and
   sets `func=run`; and `run(args) -> int`, which calls the library function.
3. Add `"frobnicate": "mgpn_keras.cli.frobnicate"` to `dispatch.COMMANDS`.
4. Let user errors propagate: a `ValueError` (e.g. the library's `DataError`, or
   `errors.UsageError` for a flag problem) or an `OSError` becomes the one-line report and
   exit status 2; do not catch them to print your own message. Import TensorFlow (or modules
   that import it) inside `run`, not at module level, so `--help` stays fast and quiet.
5. Add the subcommand to `tests/test_cli.py`'s table of bad invocations.

Output flags: a folder or file the command writes is `--out`; a training run it reads is
`--run-dir`; older spellings (`--output-dir`, `--no-progress`) stay as aliases.
"""

from mgpn_keras.cli.dispatch import build_parser, main

__all__ = ["build_parser", "main"]
