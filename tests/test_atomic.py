"""`mgpn_keras.atomic`: a writer killed at any moment leaves the old file or the new one.

The writer is a real process, killed with SIGKILL (no handler, no cleanup can run) at random
moments while it rewrites a large file again and again; the harness is first shown to catch
torn files, by killing a plain `open(path, "wb").write(...)` writer the same way.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZE = 4 << 20  # large enough that a write takes a while, small enough for a shared disk

WRITER = textwrap.dedent("""
    import os, sys
    from mgpn_keras.atomic import write_bytes

    path, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def content(version):  # an 8-byte version, then one repeated byte
        return b"%08d" % version + bytes([version % 251]) * (size - 8)

    def plain(path, data):
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    write = write_bytes if mode == "atomic" else plain
    print("ready", flush=True)
    version = 1
    while True:
        write(path, content(version))
        version += 1
""")


def _content(version: int) -> bytes:
    return b"%08d" % version + bytes([version % 251]) * (SIZE - 8)


def _is_whole(data: bytes) -> bool:
    return len(data) == SIZE and data[:8].isdigit() and data == _content(int(data[:8]))


def _kill_mid_write(tmp_path: Path, mode: str, tries: int, stop_when_torn: bool = False):
    """Kill the writer `tries` times; returns (torn targets, kills that left a temporary file:
    the writer was stopped between creating its temporary file and renaming it)."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    rng = random.Random(0)
    torn, interrupted = 0, 0
    for attempt in range(tries):
        target = tmp_path / f"{mode}-{attempt}" / "big.bin"
        target.parent.mkdir()
        target.write_bytes(_content(0))
        proc = subprocess.Popen([sys.executable, str(script), str(target), mode, str(SIZE)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout.readline() == b"ready\n", proc.stderr.read().decode()
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if not _is_whole(target.read_bytes()):
            torn += 1
        interrupted += any(target.parent.glob(".big.bin.tmp-*"))
        if stop_when_torn and torn:
            break
    return torn, interrupted


def test_the_harness_catches_a_torn_file(tmp_path):
    torn, _ = _kill_mid_write(tmp_path, "plain", tries=40, stop_when_torn=True)
    assert torn >= 1, "killing a plain writer never tore its file: the harness would prove nothing"


def test_a_writer_killed_mid_write_leaves_the_old_file_or_the_new_one(tmp_path):
    torn, interrupted = _kill_mid_write(tmp_path, "atomic", tries=20)
    assert torn == 0
    # The kills did land mid-write: some left their temporary file behind, unrenamed.
    assert interrupted >= 1
