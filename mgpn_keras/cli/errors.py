"""The one error style of the `mgpn` command: `mgpn <command>: error: <message>`, exit status 2.

argparse reports a bad flag that way; `report_user_errors` reports the errors a command finds
later (a bad `--set` key, a missing file, a foreign manifest) the same way, on one line and
without a traceback, so a user sees what to fix rather than where the code noticed it.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from typing import Iterator

EXIT_USAGE = 2


class UsageError(ValueError):
    """A user error that no library exception describes (a missing flag, a bad combination)."""


class CommandError(SystemExit):
    """Exit status 2 after a one-line report; `str()` is the line that was printed."""

    def __init__(self, prog: str, message: str):
        super().__init__(EXIT_USAGE)
        self.prog = prog
        self.message = message

    def __str__(self) -> str:
        return f"{self.prog}: error: {self.message}"


def _user_error_types() -> tuple[type[BaseException], ...]:
    # Bad values, unreadable files and malformed inputs. TensorFlow's and YAML's errors are
    # added only where their modules are already loaded: importing them here would cost seconds.
    types: list[type[BaseException]] = [ValueError, OSError]
    yaml = sys.modules.get("yaml")
    if yaml is not None:
        types.append(yaml.YAMLError)
    tf_errors = sys.modules.get("tensorflow.python.framework.errors_impl")
    if tf_errors is not None:
        types += [tf_errors.InvalidArgumentError, tf_errors.NotFoundError]
    return tuple(types)


def describe(exc: BaseException) -> str:
    """`exc` as one line that names the file or value and what was wrong."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return "; ".join(lines) if lines else type(exc).__name__


@contextlib.contextmanager
def report_user_errors(prog: str, verbose: bool = False) -> Iterator[None]:
    """Turn a user error raised inside the block into one stderr line and `CommandError`.

    With `verbose`, the traceback is printed above the line (for a bug report).
    """
    try:
        yield
    except CommandError:
        raise
    except BaseException as exc:  # noqa: BLE001 (filtered just below)
        if not isinstance(exc, _user_error_types()):
            raise
        if verbose:
            traceback.print_exc()
        error = CommandError(prog, describe(exc))
        print(error, file=sys.stderr, flush=True)
        raise error from None
