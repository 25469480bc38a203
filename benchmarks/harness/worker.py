"""The worker subprocess protocol of the benchmarks: one JSON request a line on the worker's
stdin, one reply line ("RESULT " + JSON) per request on its stdout, in order.

A benchmark runs its measurements in worker processes so that each has its own peak memory,
its own imports (another code tree's mgpn_keras, or none at all) and a clean TensorFlow. What
the work itself prints goes to the worker's stderr, so stdout carries only replies.
`run_batch` sends a list of requests to a fresh worker and waits (with a timeout); `Worker`
keeps one worker for many requests.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

PREFIX = "RESULT "


def serve(handle, on_error=None) -> int:
    """The worker's side: `handle(request) -> reply` for each request line of stdin. An
    exception becomes the reply `on_error(request, exc)` (and the worker goes on), or, without
    `on_error`, ends the worker. Returns 0."""
    replies = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        with contextlib.redirect_stdout(sys.stderr):
            try:
                reply = handle(request)
            except Exception as exc:  # noqa: BLE001 - reported, and the worker goes on
                if on_error is None:
                    raise
                reply = on_error(request, exc)
        replies.write(PREFIX + json.dumps(reply) + "\n")
        replies.flush()
    return 0


def _failed(on_failure, request, message):
    if on_failure is None:
        raise RuntimeError(message)
    return on_failure(request, message)


def run_batch(argv: list[str], requests: list[dict], timeout: float, *, env=None, cwd=None,
              on_failure=None) -> list[dict]:
    """Start the worker `argv`, send it `requests`, wait at most `timeout` s; the replies in
    order. A request left without a reply (the worker timed out or died) gets
    `on_failure(request, message)`, or raises RuntimeError(message) without `on_failure`; the
    message names the exit status and the last lines of the worker's stderr."""
    try:
        proc = subprocess.run(argv, input="".join(json.dumps(r) + "\n" for r in requests),
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired:
        return [_failed(on_failure, r, f"timed out after {timeout:.0f} s") for r in requests]
    replies = [json.loads(line[len(PREFIX):]) for line in proc.stdout.splitlines()
               if line.startswith(PREFIX)]
    if len(replies) < len(requests):
        tail = " | ".join((proc.stderr or "").strip().splitlines()[-3:])
        replies += [_failed(on_failure, r, f"worker exited with {proc.returncode}: {tail}")
                    for r in requests[len(replies):]]
    return replies


class Worker:
    """One worker process kept for many requests, one at a time; its stderr is this process's."""

    def __init__(self, argv: list[str], *, env=None, cwd=None):
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def __call__(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit(f"worker failed on {request} (its stderr is above)")
            if line.startswith(PREFIX):
                return json.loads(line[len(PREFIX):])

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()
