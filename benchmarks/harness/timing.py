"""Timed calls: warm-ups, then wall and CPU seconds of each timed call and their median."""

from __future__ import annotations

import resource
import statistics
import time


def time_calls(fn, warmup: int, iterations: int, digits: int = 4) -> dict:
    """Call `fn` `warmup + iterations` times; every call's wall seconds ("seconds", warm-ups
    first), the median, min and max of the timed ones and their median CPU seconds of this
    process ("cpu_s": up to the core count times the wall time when the work runs threads)."""
    seconds, cpu = [], []
    for _ in range(warmup + iterations):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    timed = seconds[warmup:]
    return {"seconds": [round(s, digits) for s in seconds],
            "median_s": round(statistics.median(timed), digits),
            "min_s": round(min(timed), digits), "max_s": round(max(timed), digits),
            "cpu_s": round(statistics.median(cpu[warmup:]), digits)}


def peak_rss_gb() -> float:
    """This process's peak resident memory so far, in GB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 3)  # KiB on Linux
