"""A loaded SavedModel under concurrent load: many threads call `serving_default` at once.

Used by `benchmarks/serving_load.py` (throughput and latency against the thread count) and by
the serving tests (no errors, every answer equal to the sequential one, bad requests failing
alone with their InvalidArgumentError). TensorFlow Serving and in-process servers call one
loaded model from many threads; this checks that nothing is shared between the calls that
should not be.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# A bad request of each kind and the InvalidArgumentError it must raise (retrieval/validation.py).
BAD_KINDS = {
    "empty_query": "is empty",
    "zero_duration": "is 0 seconds, expected a positive",
    "nan_features": "hold a NaN or infinite value",
}


@dataclasses.dataclass
class Request:
    """One call of `serving_default`; `bad` names a BAD_KINDS entry for a request that must fail."""

    query: list[str]
    video_features: np.ndarray  # (batch, clips, width) float32
    duration: np.ndarray  # (batch,) float32
    bad: str | None = None

    @property
    def batch(self) -> int:
        return len(self.query)


def make_requests(words: list[str], width: int, count: int, *, seed: int = 0,
                  max_batch: int = 8, max_words: int = 12, clip_range=(8, 80),
                  bad_fraction: float = 0.05) -> list[Request]:
    """`count` requests of mixed batch sizes (1..max_batch), query lengths (1..max_words words
    of `words`) and clip counts; about `bad_fraction` of them bad, cycling through BAD_KINDS."""
    # Words alone: a query of punctuation only is a bad request of its own (no known word).
    words = [w for w in words if any(c.isalnum() for c in w) and not w.startswith("<")]
    rng = np.random.default_rng(seed)
    bad_kinds = itertools.cycle(BAD_KINDS)
    requests = []
    for _ in range(count):
        batch = int(rng.integers(1, max_batch + 1))
        clips = int(rng.integers(clip_range[0], clip_range[1] + 1))
        query = [" ".join(rng.choice(words, size=int(rng.integers(1, max_words + 1))))
                 for _ in range(batch)]
        features = rng.standard_normal((batch, clips, width)).astype(np.float32)
        duration = rng.uniform(5.0, 120.0, size=batch).astype(np.float32)
        bad = next(bad_kinds) if rng.random() < bad_fraction else None
        victim = int(rng.integers(batch))
        if bad == "empty_query":
            query[victim] = ""
        elif bad == "zero_duration":
            duration[victim] = 0.0
        elif bad == "nan_features":
            features[victim, 0, 0] = np.nan
        requests.append(Request(query, features, duration, bad))
    return requests


def call(serve, request: Request) -> dict[str, np.ndarray]:
    """One `serving_default` call; {output name: array}."""
    import tensorflow as tf

    out = serve(query=tf.constant(request.query, tf.string),
                video_features=tf.constant(request.video_features),
                duration=tf.constant(request.duration))
    return {name: value.numpy() for name, value in out.items()}


def sequential_answers(serve, requests: list[Request]) -> list:
    """Each request's answer called one at a time: outputs, or the error of a bad request."""
    import tensorflow as tf

    answers = []
    for request in requests:
        try:
            answers.append(call(serve, request))
        except tf.errors.InvalidArgumentError as exc:
            answers.append(exc)
    return answers


def run_load(serve, requests: list[Request], expected: list, threads: int,
             time_limit: float = 60.0) -> dict:
    """Call `serve` from `threads` threads until every request ran once or time ran out.

    Every good answer is compared with `expected` (bit for bit); every bad request must raise
    an InvalidArgumentError with its BAD_KINDS message.

    Returns:
        {"threads", "requests", "examples", "seconds", "requests_per_s", "examples_per_s",
         "p50_ms", "p99_ms", "mismatches", "errors", "bad_rejected", "bad_total",
         "problems" (the first few descriptions)}.
    """
    import tensorflow as tf

    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    problems: list[str] = []
    tally = {"mismatches": 0, "errors": 0, "bad_rejected": 0, "bad_total": 0, "examples": 0}
    deadline = time.perf_counter() + time_limit

    def note(kind: str, text: str) -> None:
        with lock:
            tally[kind] += 1
            if len(problems) < 5:
                problems.append(text)

    def worker() -> None:
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter)
            if i >= len(requests):
                return
            request = requests[i]
            start = time.perf_counter()
            try:
                out = call(serve, request)
                error = None
            except tf.errors.InvalidArgumentError as exc:
                out, error = None, exc
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                tally["examples"] += request.batch
                tally["bad_total"] += request.bad is not None
            if request.bad is not None:
                if error is not None and BAD_KINDS[request.bad] in error.message:
                    with lock:
                        tally["bad_rejected"] += 1
                else:
                    note("errors", f"request {i} ({request.bad}) was not rejected as expected: "
                                   f"{error.message if error else 'it succeeded'}")
            elif error is not None:
                note("errors", f"request {i} failed: {error.message.splitlines()[0]}")
            elif not all(np.array_equal(out[k], expected[i][k]) for k in expected[i]):
                note("mismatches", f"request {i}: answer differs from the sequential one")

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    seconds = time.perf_counter() - started
    ms = np.array(latencies) * 1000.0
    return {"threads": threads, "requests": len(latencies), **tally,
            "seconds": round(seconds, 3),
            "requests_per_s": round(len(latencies) / seconds, 2),
            "examples_per_s": round(tally["examples"] / seconds, 2),
            "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
            "problems": problems}
