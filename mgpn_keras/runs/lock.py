"""One writer per run folder: a lock that a second `train.py` / `mgpn tune` cannot take.

The lock is an advisory `flock` on `<run folder>/.mgpn-lock`, which also records the holder
(process id, host, command, start time) so that a second process can name it. The kernel
releases a `flock` when its process dies, however it dies (kill -9, out of memory), so a lock
left by a killed process is taken over at once and no stale-lock heuristics (pid checks, ages)
are needed. Advisory locks hold between processes on one machine and on local file systems;
NFS folders may not honour them.

Example:
    with hold_run_folder(run_dir, "train"):
        ...  # only this process writes run_dir
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from typing import Iterator

from mgpn_keras.runs.files import LOCK_FILE


class RunFolderInUse(ValueError):
    """Another live process holds the run folder (a ValueError: the folder given is unusable)."""


@contextlib.contextmanager
def hold_run_folder(folder: str | os.PathLike, command: str) -> Iterator[dict | None]:
    """Hold `folder` for this process while the block runs.

    Args:
        folder: the run folder (created if missing).
        command: what holds it, for the other process's message ("train", "tune").

    Yields:
        The record of the killed process whose lock was taken over, or None.

    Raises:
        RunFolderInUse: a live process holds it; the message names its process id.
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_FILE)
    # not through atomic.py: every process must lock one and the same file; one renamed over
    # it would be a new file, and two processes could each hold a lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            who = (f"process {holder.get('pid')} ({holder.get('command')} on "
                   f"{holder.get('host')}, since {holder.get('started')})" if holder
                   else "another process")
            raise RunFolderInUse(f"run folder {folder!r} is in use by {who}; wait for it to "
                                 f"finish, stop it, or choose another output folder") from None
        previous = _read(fd)  # non-empty only when its holder died without releasing it
        if previous:
            print(f"taking over the lock of {folder!r} left by process {previous.get('pid')} "
                  f"({previous.get('command')}), which is no longer running", flush=True)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
        os.fsync(fd)
        try:
            yield previous or None
        finally:
            os.ftruncate(fd, 0)  # a clean exit leaves nothing to take over
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(fd: int) -> dict:
    data = os.pread(fd, 4096, 0)
    try:
        record = json.loads(data.decode("utf-8")) if data.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        record = {"pid": "unknown", "command": "unknown"}
    return record if isinstance(record, dict) else {}
