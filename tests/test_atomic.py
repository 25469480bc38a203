"""`mgpn_keras.atomic`: a writer killed at any moment leaves the old file or the new one.

The writer is a real process, killed with SIGKILL (no handler, no cleanup can run) at random
moments while it rewrites a large file again and again; the harness is first shown to catch
torn files, by killing a plain `open(path, "wb").write(...)` writer the same way.
"""

import ast
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


# ----------------------------------------------------------------------------- names, modes
def test_temporaries_are_named_by_the_exported_pattern_and_found_as_leftovers(tmp_path):
    from mgpn_keras import atomic

    (tmp_path / "a.npy").write_bytes(b"old")
    (tmp_path / ".a.npy.other").write_bytes(b"not ours")
    with atomic.atomic_path(tmp_path / "a.npy") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.npy.tmp-") and tmp.suffix == ".npy"
        assert tmp.name.startswith(atomic.temporary_prefix(tmp_path / "a.npy"))
        assert atomic.leftover_temporaries(tmp_path, "*.npy") == [tmp]
        assert atomic.leftover_temporaries(tmp_path, "*.json") == []
        tmp.write_bytes(b"new")
    assert (tmp_path / "a.npy").read_bytes() == b"new"
    assert atomic.leftover_temporaries(tmp_path) == []
    with atomic.atomic_path(tmp_path / "folder", directory=True) as tmp:
        assert atomic.leftover_temporaries(tmp_path, "folder") == [tmp]


def test_published_files_and_folders_get_the_mode_open_and_mkdir_give(tmp_path):
    from mgpn_keras import atomic

    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "file.txt", "x")
        with atomic.atomic_path(tmp_path / "folder", directory=True) as tmp:
            (tmp / "inside.txt").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "file.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755


# ----------------------------------------------------------------------------- no other writer
# A line (or the comment lines just above it) marked `# not through atomic.py: <reason>` is
# exempt: the reason says why that write must not be atomic.
EXEMPT = "# not through atomic.py:"
RENAMES = {("os", "replace"), ("os", "rename"), ("os", "renames"), ("shutil", "move")}
# Calls that write their first argument (the second for shutil's copies and saved_model.save).
WRITERS_FIRST = {"save", "savez", "savez_compressed", "savetxt", "savefig", "save_weights",
                 "write_file", "TFRecordWriter", "tofile", "export"}
WRITERS_SECOND = {"copy", "copy2", "copyfile", "copytree"}
# Modules whose writers go through atomic.py themselves (their own files are checked too).
ATOMIC_WRITERS = {"atomic", "backup_files"}
# Writers that cannot write to a temporary name (logs appended to, a lock file): always marked.
OWN_FILES = {"CSVLogger", "TensorBoard", "create_file_writer", "ModelCheckpoint",
             "BackupAndRestore"}


def _name(node) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _owner(node) -> str:
    return _name(node.value) if isinstance(node, ast.Attribute) else ""


def _writes_by_mode(call: ast.Call, position: int) -> bool:
    """Whether an open-like call's mode (argument `position` or mode=) may write: a mode that
    is not a literal counts as writing."""
    mode = call.args[position] if len(call.args) > position else next(
        (k.value for k in call.keywords if k.arg == "mode"), None)
    if mode is None:
        return False
    literal = isinstance(mode, ast.Constant) and isinstance(mode.value, str)
    return not literal or bool(set(mode.value) & set("wax+"))


def _writes_to(call: ast.Call):
    """The expression a call writes to, True for a writer with its own file, None for no write."""
    func, name = call.func, _name(call.func)
    first = call.args[0] if call.args else None
    if name in OWN_FILES or (name == "open" and _owner(func) == "os"):
        return True
    if name in ("open", "File") and isinstance(func, ast.Name) or name == "File":
        return first if _writes_by_mode(call, 1) else None  # open(path, mode), h5py.File
    if _owner(func) in ATOMIC_WRITERS:
        return None
    if name == "open":  # Path.open(mode), a literal mode; other libraries' open(path) read
        mode = call.args[0] if call.args else None
        literal = isinstance(mode, ast.Constant) and isinstance(mode.value, str)
        return func.value if literal and set(mode.value) & set("wax+") else None
    if name in ("write_text", "write_bytes") and isinstance(func, ast.Attribute):
        return func.value
    if name == "save" and _owner(func) == "saved_model" or \
            name in WRITERS_SECOND and _owner(func) == "shutil":
        return call.args[1] if len(call.args) > 1 else True
    if name in WRITERS_FIRST:
        return first if first is not None else True
    return None


def _is_docstring(node, parents) -> bool:
    parent = parents.get(node)
    return isinstance(parent, ast.Expr) and isinstance(parents.get(parent), (
        ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def other_writers(source: str, filename: str = "<source>") -> list[str]:
    """`file:line: what` for each temp-and-rename or direct write in `source` that is neither
    inside `with ...atomic_path(...) as tmp` (writing to tmp) nor marked exempt."""
    tree = ast.parse(source, filename)
    lines = source.splitlines()
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    problems = []

    def exempt(lineno: int) -> bool:
        if EXEMPT in lines[lineno - 1] and lines[lineno - 1].split(EXEMPT, 1)[1].strip():
            return True
        above = lineno - 2
        while above >= 0 and lines[above].strip().startswith("#"):
            if lines[above].strip().startswith(EXEMPT) and lines[above].split(EXEMPT, 1)[1].strip():
                return True
            above -= 1
        return False

    def report(node, what: str) -> None:
        if not exempt(node.lineno):
            problems.append((node.lineno, what))

    def temporaries(node) -> set[str]:  # the names `with atomic_path(...) as name` binds around node
        names = set()
        while node in parents:
            node = parents[node]
            if isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if isinstance(item.context_expr, ast.Call) and \
                            _name(item.context_expr.func) == "atomic_path" and \
                            isinstance(item.optional_vars, ast.Name):
                        names.add(item.optional_vars.id)
        return names

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if (_owner(node.func), _name(node.func)) in RENAMES or \
                    _name(node.func) == "rename" and _owner(node.func) not in ATOMIC_WRITERS:
                report(node, f"renames a file ({ast.unparse(node.func)}); use atomic.rename")
                continue
            target = _writes_to(node)
            if target is True:
                report(node, f"{ast.unparse(node.func)} writes a file of its own")
            elif target is not None:
                used = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
                if not used & temporaries(node):
                    report(node, f"{ast.unparse(node.func)} writes {ast.unparse(target)} in place; "
                                 f"write it through atomic.atomic_path / write_text / write_json")
        elif isinstance(node, ast.Attribute) and _name(node.value) == "tempfile":
            report(node, f"makes a temporary file (tempfile.{node.attr}); atomic.atomic_path names them")
        elif isinstance(node, ast.ImportFrom) and node.module == "tempfile":
            report(node, "imports from tempfile; atomic.atomic_path names temporaries")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                (".tmp" in node.value or "tmp-" in node.value) and not _is_docstring(node, parents):
            report(node, f"a temporary name {node.value!r}; use atomic.temporary_prefix / "
                         f"leftover_temporaries")
    return [f"{filename}:{line}: {what}" for line, what in sorted(problems)]


def test_the_checker_finds_each_kind_of_other_writer():
    bad = textwrap.dedent('''
        import os, shutil, tempfile
        import numpy as np
        from tempfile import mkstemp
        def f(path, fig, model, x, tf, h5py, keras):
            os.replace(path + ".new", path)
            shutil.move(path, path + ".old")
            path.rename(path.with_suffix(".bak"))
            fd, name = tempfile.mkstemp()
            for p in path.glob(".*.npy.tmp-*"):
                pass
            np.save(path, x)
            fig.savefig(path)
            model.save_weights(path)
            tf.saved_model.save(model, path)
            path.write_text("x")
            with open(path, "w") as f:
                f.write("x")
            with h5py.File(path, "a") as f:
                pass
            writer = tf.io.TFRecordWriter(str(path))
            keras.callbacks.CSVLogger(path)
            with atomic_path(path) as tmp:
                np.save(path, x)  # inside the block, but not to its temporary
    ''')
    problems = other_writers(bad, "bad.py")
    expected_lines = [6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 19, 21, 22, 24]
    assert sorted({int(p.split(":")[1]) for p in problems}) == [4] + expected_lines, problems
    assert all(p.startswith("bad.py:") for p in problems)


def test_the_checker_accepts_atomic_writes_reads_and_marked_exceptions():
    good = textwrap.dedent('''
        """A docstring may say .tmp- and os.replace."""
        import json
        import numpy as np
        from mgpn_keras import atomic
        from mgpn_keras.atomic import atomic_path, write_text
        def f(path, fig, model, x, h5py, tf):
            with atomic.atomic_path(path) as tmp:
                np.save(tmp, x)
            with atomic_path(path, directory=True) as tmp:
                (tmp / "a.json").write_text("x")
                tf.saved_model.save(model, str(tmp))
                with h5py.File(tmp / "b.h5", "w") as f:
                    pass
            with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
                writer.write(b"x")
            atomic.write_text(path, "x")
            write_text(path, "x")
            with open(path, encoding="utf-8") as f:
                json.load(f)
            with open(path, "rb") as f:
                f.read()
            with h5py.File(path, "r") as f:
                pass
            "x".replace("a", "b")
            # not through atomic.py: appended to line by line, a rename would lose the lines
            tf.keras.callbacks.CSVLogger(path, append=True)
            fd = os.open(path, os.O_CREAT)  # not through atomic.py: one inode every process locks
    ''')
    assert other_writers(good, "good.py") == []
    unexplained = good.replace("# not through atomic.py: one inode every process locks", "")
    assert other_writers(unexplained, "good.py") == ["good.py:28: os.open writes a file of its own"]


def test_every_file_mgpn_keras_writes_goes_through_atomic_py():
    problems = []
    for path in sorted((REPO / "mgpn_keras").rglob("*.py")):
        if path == REPO / "mgpn_keras" / "atomic.py":
            continue
        problems += other_writers(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert not problems, "writes outside mgpn_keras/atomic.py:\n" + "\n".join(problems)
