"""A shared machine: how many cores other processes keep busy, waiting until they leave,
and measuring again when they disturbed a measurement.

The machines these benchmarks run on are shared; a number taken while other processes held
the cores says little. Before a measurement the caller waits (a bounded time) for the CPUs to
be quiet; while it runs, the CPU time of the whole machine minus the measurement's own
(its child processes') gives the cores others kept busy; a disturbed measurement is taken
again and the least disturbed attempt kept -- chosen by contention, never by speed.
"""

from __future__ import annotations

import os
import resource
import time


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat", encoding="utf-8") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(seconds: float = 1.0) -> float | None:
    """How many cores the machine keeps busy over `seconds` (this process sleeps meanwhile)."""
    a = cpu_jiffies()
    time.sleep(seconds)
    b = cpu_jiffies()
    if a is None or b is None or b[1] == a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1]) * (os.cpu_count() or 1)


def wait_for_quiet(threshold: float, max_wait: float) -> float | None:
    """Wait up to `max_wait` s until other processes keep fewer than `threshold` cores busy.

    Returns the last measured number of busy cores.
    """
    deadline = time.time() + max_wait
    busy = busy_cores()
    while busy is not None and busy >= threshold and time.time() < deadline:
        busy = busy_cores(2.0)
    return busy


def with_other_processes(run_children):
    """`run_children()` (a dict: work done in child processes this one waits for), with
    "load_avg_1m" (before, after) and "other_processes_cores": the cores that processes other
    than those children kept busy, on average, while it ran (0 = alone)."""
    load_before = os.getloadavg()[0]
    jiffies = cpu_jiffies()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    result = run_children()
    wall = time.time() - start
    after = cpu_jiffies()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["load_avg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if jiffies and after and after[1] > jiffies[1]:
        cores = os.cpu_count() or 1
        busy_core_s = (after[0] - jiffies[0]) / (after[1] - jiffies[1]) * cores * wall
        ours = (children_after.ru_utime + children_after.ru_stime) - (children.ru_utime + children.ru_stime)
        result["other_processes_cores"] = round(max(0.0, busy_core_s - ours) / wall, 2)
    return result


def least_disturbed(run_children, retries: int, quiet_below: float, max_wait: float) -> dict:
    """Measure with `run_children()` (see `with_other_processes`), after waiting up to
    `max_wait` s for a quiet machine (0: no wait); measure again, up to `retries` times, while
    other processes kept `quiet_below` or more cores busy. Returns the least disturbed attempt
    ("busy_cores_before": the busy cores when it started), with every attempt's median,
    CPU seconds and contention under "attempts" when there was more than one. An attempt with
    an "error" ends the retries."""
    attempts = []
    for _ in range(1 + max(0, retries)):
        busy = wait_for_quiet(quiet_below, max_wait) if max_wait > 0 else None
        attempt = with_other_processes(run_children)
        attempt["busy_cores_before"] = None if busy is None else round(busy, 2)
        attempts.append(attempt)
        if "error" in attempt or attempt.get("other_processes_cores", 0.0) < quiet_below:
            break
    result = min(attempts, key=lambda a: a.get("other_processes_cores", 0.0))
    if len(attempts) > 1:
        result["attempts"] = [{k: a.get(k) for k in ("median_s", "cpu_s", "other_processes_cores")}
                              for a in attempts]
    return result

