"""The `mgpn` command as a user meets it: one-line errors with exit status 2, no tracebacks,
helpful --help, and no TensorFlow start-up lines unless --verbose. Every case runs in a real
subprocess: exit statuses and what reaches the terminal are only visible from outside."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_config

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("extract", "prepare", "train", "evaluate", "convert", "export", "predict", "tune")


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it: unset
    env.update(extra)
    return env


def _mgpn(*args):
    return [sys.executable, "-m", "mgpn_keras.cli", *map(str, args)]


def _run_all(commands, cwd, timeout=300):
    """Start every command at once (they are short and mostly wait on imports), then collect."""
    procs = [subprocess.Popen(c, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for c in commands]
    return [(p.wait(timeout=timeout), *p.communicate()) for p in procs]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A run folder with a valid config whose manifest is someone else's JSON, and such JSON."""
    from mgpn_keras.config import save_config

    root = tmp_path_factory.mktemp("cli")
    foreign = root / "foreign" / "manifest.json"
    foreign.parent.mkdir()
    foreign.write_text(json.dumps({"format": "something-else/1", "shards": []}))
    run = root / "run"
    run.mkdir()
    save_config(tiny_config(), run / "config.json")
    (run / "manifest.json").write_text(json.dumps({"manifest": str(foreign)}))
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "video.npy").write_bytes(b"")
    return root


def _cases(root):
    """(command line, words its one-line error must contain)."""
    missing = root / "does-not-exist"
    run = root / "run"
    return [
        # a bad --set key, in each command that takes --set
        (_mgpn("prepare", "--preset", "synthetic", "--out", root / "p", "--set", "no.such=1"), ["no.such"]),
        (_mgpn("train", "--set", "model.no_such=1"), ["model.no_such", "no field"]),
        (_mgpn("tune", "--out", root / "t", "--set", "no_such=1"), ["no_such"]),
        # a bad --set value
        (_mgpn("train", "--set", "model.hidden_size=abc"), ["model.hidden_size", "abc"]),
        (_mgpn("train", "--set", "hidden_size"), ["KEY=VALUE", "hidden_size"]),
        # --set where a command has no config to set: argparse's error, in the same style
        (_mgpn("evaluate", "--run-dir", run, "--set", "a=1"), ["unrecognized arguments", "--set"]),
        (_mgpn("convert", "--reference-config", root / "list.yaml", "--weights", missing, "--out",
               root / "m.keras", "--set", "a=1"), ["unrecognized arguments"]),
        (_mgpn("export", "--run-dir", run, "--out", root / "e" / "1", "--set", "a=1"),
         ["unrecognized arguments"]),
        (_mgpn("predict", "--export", missing, "--features", missing, "--duration", "3", "--query",
               "x", "--set", "a=1"), ["unrecognized arguments"]),
        (_mgpn("extract", "--videos", missing, "--backbone", missing, "--spec", "charades_i3d",
               "--out", root / "x", "--set", "a=1"), ["unrecognized arguments"]),
        (_mgpn("frobnicate"), ["invalid choice", "frobnicate"]),
        # a missing file or folder
        (_mgpn("prepare", "--preset", "tacos", "--data-dir", missing, "--out", root / "p2"),
         [str(missing), "not a folder"]),
        (_mgpn("train", "--shards", missing), [str(missing), "mgpn prepare"]),
        (_mgpn("train", "--config", missing), [str(missing), "does not exist"]),
        (_mgpn("tune", "--out", root / "t2", "--shards", missing), [str(missing)]),
        (_mgpn("extract", "--videos", missing, "--backbone", missing, "--spec", "charades_i3d",
               "--out", root / "x"), [str(missing)]),
        (_mgpn("extract", "--videos", root, "--backbone", missing, "--spec", root / "list.yaml",
               "--out", root / "x2"), ["list.yaml"]),
        (_mgpn("predict", "--export", root, "--video", missing, "--query", "x"), ["--spec", "--backbone"]),
        (_mgpn("evaluate", "--run-dir", missing), [str(missing), "does not exist"]),
        (_mgpn("convert", "--reference-config", missing, "--weights", missing, "--out", root / "m.keras"),
         ["reference config", str(missing), "does not exist"]),
        (_mgpn("export", "--run-dir", missing, "--out", root / "e" / "1"), [str(missing), "does not exist"]),
        (_mgpn("predict", "--export", root, "--features", missing, "--duration", "3", "--query", "x"),
         [str(missing), "do not exist"]),
        # an unreadable file (a folder where a file belongs), a foreign manifest, a bad YAML
        (_mgpn("train", "--config", root), [str(root)]),
        (_mgpn("train", "--preset", "synthetic", "--shards", root / "foreign"),
         ["manifest", "something-else/1"]),
        (_mgpn("evaluate", "--run-dir", run), ["manifest", "something-else/1"]),
        (_mgpn("export", "--run-dir", run, "--out", root / "e" / "1"), ["manifest", "something-else/1"]),
        (_mgpn("convert", "--reference-config", root / "list.yaml", "--weights", missing, "--out",
               root / "m.keras"), ["list.yaml", "not a YAML mapping"]),
    ]


def test_user_errors_are_one_line_with_exit_status_2(inputs):
    cases = _cases(inputs)
    assert {c[3] for c, _ in cases if len(c) > 3} >= set(COMMANDS)  # every subcommand is tried
    for (command, words), (code, out, err) in zip(cases, _run_all([c for c, _ in cases], inputs)):
        shown = " ".join(command[3:])
        assert "Traceback" not in err, f"mgpn {shown}:\n{err}"
        lines = err.strip().splitlines()
        assert code == 2, f"mgpn {shown}: exit {code}\n{err}"
        assert len(lines) == 1, f"mgpn {shown}: stderr is not one line:\n{err}"
        assert lines[0].startswith(f"mgpn {command[3]}: error: " if command[3] in COMMANDS
                                   else "mgpn: error: "), lines[0]
        for word in words:
            assert word in lines[0], f"mgpn {shown}: {word!r} not in {lines[0]!r}"


def test_train_py_reports_errors_under_its_own_name(inputs):
    done = subprocess.run([sys.executable, str(REPO / "train.py"), "--epochs", "x"], cwd=inputs,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "train.py: error: argument --epochs: invalid int value: 'x' (see train.py --help)"]


def test_every_help_explains_inputs_outputs_and_gives_an_example():
    from mgpn_keras.cli.dispatch import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)
    for name, command in sub.choices.items():
        text = command.format_help()
        assert "Example" in text and "mgpn " + name in text.split("Example", 1)[1] or (
            name == "train" and "python train.py" in text), name
        assert "Input" in text and "Output" in text, name
        assert "--verbose" in text and "--quiet" in text, name
    # the documented flags of README.md still parse
    for argv in (["prepare", "--preset", "tacos", "--data-dir", "d", "--glove", "g", "--out", "o"],
                 ["train", "--preset", "tacos", "--shards", "s", "--set", "a=1", "--epochs", "2",
                  "--batch-size", "4", "--config", "c", "--output-dir", "r"],
                 ["evaluate", "--run-dir", "r", "--split", "test"],
                 ["convert", "--reference-config", "y", "--weights", "w", "--out", "o"],
                 ["export", "--run-dir", "r", "--out", "e/1"],
                 ["predict", "--export", "e/1", "--features", "f", "--duration", "1", "--query", "q",
                  "--gt", "0", "1", "--plot", "p.png"],
                 ["tune", "--output-dir", "d"], ["prepare", "--preset", "synthetic", "--out", "o",
                                                 "--no-progress"]):
        args = parser.parse_args(argv)
        assert args.func is not None
    assert parser.parse_args(["train", "--output-dir", "r"]).out == "r"
    assert parser.parse_args(["prepare", "--preset", "synthetic", "--out", "o", "--no-progress"]).quiet


def test_tensorflow_start_up_lines_only_with_verbose(inputs):
    """A command that imports TensorFlow (predict loads a run folder) and then fails: the quiet
    run's stderr is only the error line; with --verbose TensorFlow's own log lines appear."""
    (inputs / "video.npy").write_bytes(b"")
    import numpy as np

    np.save(inputs / "video.npy", np.zeros((4, 3), np.float32))
    base = _mgpn("predict", "--export", inputs / "run", "--features", inputs / "video.npy",
                 "--duration", "3", "--query", "x")
    (code, _, quiet), (vcode, _, verbose) = _run_all([base, base + ["--verbose"]], inputs)
    assert code == 2 and vcode == 2
    # (not an export: predict builds the run's serving graph, importing TensorFlow, and then
    # finds the run's manifest foreign)
    assert len(quiet.strip().splitlines()) == 1, quiet
    assert quiet.startswith("mgpn predict: error: manifest ") and "something-else/1" in quiet, quiet
    lines = verbose.strip().splitlines()
    assert lines[-1] == quiet.strip() and "Traceback (most recent call last)" in verbose
    # TensorFlow's C++ log lines look like "I0000 00:00:1796157115.699293 8294 port.cc:153] ..."
    assert any(line[:1] in "IWE" and line[1:5].isdigit() and "] " in line for line in lines), verbose


def test_library_modules_hold_no_argparse():
    package = REPO / "mgpn_keras"
    outside = [str(p.relative_to(REPO)) for p in package.rglob("*.py")
               if package / "cli" not in p.parents and "argparse" in p.read_text(encoding="utf-8")]
    assert outside == []
