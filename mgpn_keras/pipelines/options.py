"""Beam pipeline options from `--runner`, `--workers` and the flags passed through after `--`.

`--workers N` alone means the DirectRunner in `multi_processing` mode with N worker
processes (each its own Python, so TensorFlow's per-process thread pools do not contend for
one interpreter); any other runner takes its own flags (`--project`, `--region`,
`--flink_master`, ...) after `--`, passed to Beam unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

DIRECT = "DirectRunner"


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
    flags = [f"--runner={runner}"]
    if runner == DIRECT:
        n = workers or 1
        # in_memory runs in this process; multi_processing starts n SDK worker processes.
        mode = "multi_processing" if n > 1 else "in_memory"
        flags += [f"--direct_num_workers={n}", f"--direct_running_mode={mode}"]
    elif workers is not None:
        # The portable runners' own name for the worker count; Dataflow reads num_workers.
        flags += [f"--num_workers={workers}"]
    return PipelineOptions(flags + list(extra or []))


class Outputs:
    """A scratch folder the pipeline writes its JSON-lines results to, read back after the run.

    On a runner with remote workers `folder` must be a path every worker can write (a shared
    file system, or a `gs://` / `s3://` bucket through `--temp-dir` after `--`).
    """

    def __init__(self, folder: str | os.PathLike | None = None):
        # not through atomic.py: a scratch folder, read back and deleted; nothing is published
        self.folder = Path(tempfile.mkdtemp(prefix="mgpn-beam-", dir=folder))

    def sink(self, name: str):
        """A PTransform writing a PCollection of JSON-able values to `name`."""
        import apache_beam as beam

        prefix = str(self.folder / name)
        return "write " + name >> (beam.Map(json.dumps)
                                   | f"text {name}" >> beam.io.WriteToText(prefix, ".jsonl"))

    def read(self, name: str) -> list:
        out = []
        for path in sorted(self.folder.glob(f"{name}-*.jsonl")):
            with open(path, encoding="utf-8") as f:
                out.extend(json.loads(line) for line in f if line.strip())
        return out

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
