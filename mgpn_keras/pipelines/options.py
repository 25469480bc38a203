"""Beam pipeline options from `--runner`, `--workers` and the flags passed through after `--`.

`--workers N` alone means the DirectRunner in `multi_processing` mode with N worker
processes (each its own Python, so TensorFlow's per-process thread pools do not contend for
one interpreter); any other runner takes its own flags (`--project`, `--region`,
`--flink_master`, ...) after `--`, passed to Beam unchanged.

The DirectRunner is run as its batch engine, Beam's FnApiRunner, named directly: Beam's
DirectRunner first tries its Prism runner, which fetches a Go binary from GitHub on first use
(measured here, offline: 3.4 s lost to the try, then the fallback), and where the fetch
succeeds the engine, and how it spreads work over `--direct_num_workers`, changes with it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

DIRECT = "DirectRunner"
DIRECT_ENGINE = "FnApiRunner"
# Set in the driver for the DirectRunner's worker processes (they inherit the environment).
LOCAL_WORKER_MARK = "MGPN_BEAM_LOCAL_WORKERS"
_BEAM_WORKER_MAIN = "apache_beam.runners.worker.sdk_worker_main"


def wants_beam(runner: str | None, workers: int | None) -> bool:
    """Whether a command runs as a Beam pipeline (else the in-process loop)."""
    return runner is not None or workers is not None


def pipeline_options(runner: str | None = None, workers: int | None = None,
                     extra: list[str] | None = None):
    """`PipelineOptions` for `runner` (default DirectRunner) with `workers` processes."""
    from apache_beam.options.pipeline_options import PipelineOptions

    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be a positive integer, got {workers}")
    runner = runner or DIRECT
    flags = [f"--runner={DIRECT_ENGINE if runner == DIRECT else runner}"]
    if runner in (DIRECT, DIRECT_ENGINE):
        n = workers or 1
        # in_memory runs in this process; multi_processing starts n SDK worker processes.
        mode = "multi_processing" if n > 1 else "in_memory"
        flags += [f"--direct_num_workers={n}", f"--direct_running_mode={mode}"]
        os.environ[LOCAL_WORKER_MARK] = "1"
    elif workers is not None:
        # The portable runners' own name for the worker count; Dataflow reads num_workers.
        flags += [f"--num_workers={workers}"]
    return PipelineOptions(flags + list(extra or []))


def local_worker_threads(runner: str | None, workers: int | None) -> int:
    """Threads each worker process may use: its share of this machine's cores when several
    DirectRunner workers share them (at least 1), else 0 (the libraries' own choice: a lone
    worker has the machine, another runner's workers have theirs).

    TensorFlow and FFmpeg each start a thread per core in every process by default: N workers
    on C cores would run N x C busy threads and switch between them.
    """
    if (runner or DIRECT) not in (DIRECT, DIRECT_ENGINE) or (workers or 1) <= 1:
        return 0
    return max(1, (os.cpu_count() or 1) // workers)


def limit_threads(threads: int) -> None:
    """Hold this process's TensorFlow to `threads` (0: leave it), before it first runs an op.

    Called by a worker's `DoFn.setup`; where TensorFlow already runs ops (a DirectRunner worker
    in the driver's own process) its threads cannot change and are left as they are.
    """
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # "cannot be modified after initialization"
        pass


def exit_without_teardown() -> None:
    """In a DirectRunner worker process, leave at exit without the interpreter's teardown.

    Called by every DoFn's `setup`. The DirectRunner stops its worker processes one after
    another, waiting for each to exit, and a Python process that has imported TensorFlow takes
    1.3-2.8 s to exit here (TensorFlow's own teardown; measured): with 2 workers prepare spent
    3.5 s after its last element, 0.6 s without. By then every result is back with the runner
    and every file is written atomically, so the teardown has nothing left to save. Nothing is
    done in any other process: the driver, an in-process run, another runner's workers.
    """
    import atexit
    import sys

    main = getattr(sys.modules.get("__main__"), "__spec__", None)
    global _exit_registered
    if (os.environ.get(LOCAL_WORKER_MARK) == "1" and not _exit_registered
            and getattr(main, "name", None) == _BEAM_WORKER_MAIN):
        atexit.register(_exit_now)  # registered last, so run first
        _exit_registered = True


_exit_registered = False


def _exit_now() -> None:
    import sys

    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


class Outputs:
    """A scratch folder the pipeline writes its JSON-lines results to, read back after the run.

    On a runner with remote workers `folder` must be a path every worker can write (a shared
    file system, or a `gs://` / `s3://` bucket through `--temp-dir` after `--`).
    """

    def __init__(self, folder: str | os.PathLike | None = None):
        # not through atomic.py: a scratch folder, read back and deleted; nothing is published
        self.folder = Path(tempfile.mkdtemp(prefix="mgpn-beam-", dir=folder))

    def stage(self, name: str, chunks: list) -> list[str]:
        """Write each chunk (picklable values) to a file of its own; return their paths.

        A pipeline's inputs travel this way rather than in `beam.Create`: Beam serialises the
        pipeline graph, and with it Create's values, several times before the first element
        runs (2.0 s each for 45,000 prepare records, measured), and Dataflow caps its size.
        """
        import pickle

        paths = []
        for k, chunk in enumerate(chunks):
            path = self.folder / f"{name}-{k:05d}.pkl"
            # not through atomic.py: scratch, read in this run only (a run that dies stages
            # again); atomic.py's flush to disk cost a file system sync per chunk
            path.write_bytes(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
            paths.append(str(path))
        return paths

    @staticmethod
    def load(path: str):
        """A chunk `stage` wrote (on the worker that processes it)."""
        import pickle

        with open(path, "rb") as f:
            return pickle.load(f)

    def collect(self, named: dict) -> None:
        """Write the PCollections of JSON-able values in `named` ({name: PCollection}) to
        this folder, for `read(name)` after the run.

        One text sink for all of them: each sink adds its own stages (initialise, write,
        finalise) that every run pays for, whatever its size.
        """
        import apache_beam as beam

        tagged = [pcoll | f"tag {name}" >> beam.Map(lambda v, n=name: json.dumps([n, v]))
                  for name, pcoll in named.items()]
        _ = (tagged | "results" >> beam.Flatten()
             | "write results" >> beam.io.WriteToText(str(self.folder / "results"), ".jsonl"))

    def read(self, name: str) -> list:
        """The values `collect` wrote under `name`."""
        out = []
        for path in sorted(self.folder.glob("results-*.jsonl")):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        tag, value = json.loads(line)
                        if tag == name:
                            out.append(value)
        return out

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
