"""Quiet start-up: TensorFlow's start-up notices stay out of a command's output unless --verbose.

On a CPU machine, importing TensorFlow prints (from C++, before Python's logging or absl's
flags exist, so neither can filter them, and TF_CPP_MIN_LOG_LEVEL does not reach all of them):

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ... (303)

The only place they can be caught is the process's stderr file descriptor. So the first import
of TensorFlow (and its device discovery, which logs the cuInit line) runs with file
descriptor 2 pointed at a temporary file; afterwards every line that is not one of these
notices is written to the real stderr, so a genuine import error is still seen. TensorFlow is
imported only when a command first needs it: `mgpn --help` and errors found before it stay fast.

Later C++ log lines do honour TF_CPP_MIN_LOG_LEVEL; some are ERROR-level notices too (on a
CPU machine, while training: "oneDNN supports DT_BOOL only on platforms with AVX-512. Falling
back to the default Eigen-based implementation"), so without --verbose the level is 3. A real
failure still reaches the user: TensorFlow raises it as a Python exception, which the command
reports.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from typing import Iterator

# Start-up notices of TensorFlow 2.x on machines without a GPU (or without TensorRT): not errors.
STARTUP_NOTICE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|oneDNN custom operations are on"
    r"|cudart_stub\.cc.*Could not find cuda drivers"
    r"|failed call to cuInit"
    r"|cpu_feature_guard\.cc"
    r"|To enable the following instructions: .*rebuild TensorFlow"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT"
    r"|Cannot dlopen some GPU libraries"
    r"|Skipping registering GPU devices")


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Inside the block, file descriptor 2 goes to a file; lines that are not start-up notices
    are copied to the real stderr when the block ends (also when it raises)."""
    sys.stderr.flush()
    saved = os.dup(2)
    # not through atomic.py: a file without a name, gone when closed; nothing is published
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not STARTUP_NOTICE.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """Wraps TensorFlow's own loader: the same module, executed under `filtered_stderr`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with filtered_stderr():
            self._loader.exec_module(module)
            # Device discovery logs the cuInit failure: do it now, while it is filtered.
            module.config.list_physical_devices()

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once; and find_spec below must not find us again
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def configure_logging(verbose: bool) -> None:
    """Call before TensorFlow is imported: hide its start-up notices and C++ log lines, or with
    `verbose` show all of them. Once TensorFlow is imported (by a caller in the same process,
    e.g. a test) it is too late for either, and nothing is changed."""
    if "tensorflow" in sys.modules:
        return
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
