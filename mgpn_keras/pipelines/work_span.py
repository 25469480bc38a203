"""How long a pipeline's workers worked: from the first element any worker began to the last
one any worker finished.

A command's wall time also holds what no worker count shortens: the driver's reading, Beam's
start of its worker processes (0.8-0.9 s each here, mostly importing Beam, measured on an
empty pipeline) and their shutdown. The span leaves those out; the elements over the span are
the workers' own throughput, which more workers multiply (benchmarks/scale.py reports both).

Each DoFn marks the wall clock when an element starts and when it ends (`mark`) in a Beam
distribution metric, whose minimum and maximum the runner combines across workers; the driver
reads them back from the pipeline's result (`span_seconds`). Any runner that reports
distributions (the DirectRunner, Dataflow, Flink, Spark) gives the span; on workers of several
machines it is as exact as their clocks agree.
"""

from __future__ import annotations

import time

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from mgpn_keras.pipelines.options import DIRECT

NAMESPACE = "mgpn"
MARKS = "work_marks_ms"


def mark() -> None:
    """Record now (ms since the epoch) in the span's distribution."""
    beam.metrics.Metrics.distribution(NAMESPACE, MARKS).update(int(time.time() * 1000))


def span_seconds(result) -> float | None:
    """The span of the marks a finished pipeline's workers made (seconds), or None where the
    runner reports no distributions or no element was marked."""
    try:
        found = result.metrics().query(
            MetricsFilter().with_namespace(NAMESPACE).with_name(MARKS))["distributions"]
    except (AttributeError, NotImplementedError, KeyError):
        return None
    low, high = [], []
    for metric in found:  # one per step that marked
        value = metric.committed if metric.committed is not None else metric.attempted
        if value is not None and value.count:
            low.append(value.min)
            high.append(value.max)
    return round((max(high) - min(low)) / 1000, 3) if low else None


def summary_line(runner: str | None, workers: int | None, span: float | None,
                 seconds: float) -> str:
    """The line a Beam command prints last, e.g. "DirectRunner x2: the workers worked 4.1 s of
    the run's 6.8 s" (the rest: reading, Beam's start-up and shutdown)."""
    where = f"{runner or DIRECT} x{workers or 1}"
    if span is None:
        return f"  {where}: {seconds:.1f} s (the runner reports no work span)"
    return f"  {where}: the workers worked {span:.1f} s of the run's {seconds:.1f} s"
