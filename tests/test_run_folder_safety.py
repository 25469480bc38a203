"""One writer per run folder and backups that cannot poison a run, with real processes:
a second train.py on a held folder stops naming the holder, a kill -9 mid-epoch leaves a lock
that is taken over, a truncated newest backup makes the run resume from the previous good one,
and the resumed run loses and repeats no batch (the suite's one kill-and-resume of train.py)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # train.py processes, killed and resumed


REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")

HOLDER = textwrap.dedent("""
    import sys, time
    from mgpn_keras.runs.lock import hold_run_folder
    with hold_run_folder(sys.argv[1], "holder"):
        print("HELD", flush=True)
        time.sleep(600)
""")


def test_a_held_folder_is_refused_naming_the_holder_and_taken_over_after_kill(tmp_path):
    from mgpn_keras.runs.lock import RunFolderInUse, hold_run_folder

    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, os.fspath(run)], env=ENV,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "HELD"
        with pytest.raises(RunFolderInUse, match=rf"run folder '{run}' is in use by process "
                                                 rf"{holder.pid} \(holder on "):
            with hold_run_folder(run, "train"):
                pass
        from conftest import tiny_config

        from mgpn_keras.tuning.search import run_search
        from mgpn_keras.tuning.search_space import SearchSpace

        # `mgpn tune` on the folder stops before it builds or reads anything
        with pytest.raises(RunFolderInUse, match=rf"in use by process {holder.pid} "):
            run_search(tiny_config(), "no-manifest-needed", SearchSpace.from_names("hidden"),
                       os.fspath(run), max_trials=1, verbose=0)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with hold_run_folder(run, "train") as previous:
        assert previous["pid"] == holder.pid  # the killed holder's lock, taken over
    with hold_run_folder(run, "train") as previous:  # a clean exit leaves nothing behind
        assert previous is None


def _backup_pair_is_consistent(backup):
    from mgpn_keras.runs.backup_files import sha256_of

    try:
        state = json.loads((backup / "state.json").read_text())
        return (state.get("step", 0) > 0 and state["epoch"] < 1 and state["optimizer_steps"] >= 4
                and (backup / "previous.state.json").exists()
                and sha256_of(backup / "latest.weights.h5") == state["weights_sha256"])
    except (OSError, ValueError, KeyError):
        return False


def test_second_writer_stops_sigkill_mid_epoch_then_resume_loses_and_repeats_nothing(
        tiny_benchmark, tmp_path):
    """kill -9 mid-epoch, the newest backup truncated: the resumed run takes the lock over,
    falls back to the previous good backup, trains each batch into the final weights exactly
    once, and reports the epoch it selected (its best val epoch, reloaded from checkpoints/)."""
    root, _, manifest = tiny_benchmark
    run = tmp_path / "run"
    backup = run / "backup"
    command = [sys.executable, os.fspath(REPO / "train.py"), "--config",
               os.fspath(root / "config.json"), "--shards", os.path.dirname(manifest),
               "--output-dir", os.fspath(run), "--epochs", "2", "--batch-size", "8", "--quiet",
               "--no-baselines"]
    first = subprocess.Popen(command, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    stopped = False
    while time.time() < deadline and first.poll() is None:
        if _backup_pair_is_consistent(backup):
            first.send_signal(signal.SIGSTOP)  # still alive, still holding the folder
            if _backup_pair_is_consistent(backup):  # not stopped in the middle of a backup
                stopped = True
                break
            first.send_signal(signal.SIGCONT)
        time.sleep(0.02)
    try:
        assert stopped, "the run ended before two backups were written mid-run"
        second = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode != 0
        assert f"is in use by process {first.pid} (train on " in second.stderr, second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert not (run / "results.json").exists()

    good = json.loads((backup / "previous.state.json").read_text())
    latest = backup / "latest.weights.h5"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])  # a full disk
    done = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"left by process {first.pid} (train), which is no longer running" in done.stdout
    assert f"training backup unusable: {backup / 'state.json'}: no weights file has its " \
           f"SHA-256" in done.stdout
    assert f"Resuming from the previous good backup {backup / 'previous.state.json'} (epoch " \
           f"{good['epoch'] + 1}, batch {good['step']})" in done.stdout
    assert f"resuming from {backup}: epoch {good['epoch'] + 1}, batch {good['step']}" in done.stdout
    final = json.loads((backup / "state.json").read_text())
    # every batch reached the final weights exactly once: the lost ones were trained again
    assert final["optimizer_steps"] == 2 * (96 // 8)
    assert [h["epoch"] for h in final["history"]] == [1, 2]
    # The results are those of the epoch the resumed run selected: its best val epoch,
    # reloaded from checkpoints/ (not the last epoch's weights).
    summary = json.loads((run / "summary.json").read_text())
    best = max(final["history"], key=lambda h: h["val_R1@0.5"])
    assert summary["best_epoch"] == best["epoch"]
    assert json.loads((run / "results.json").read_text())["val"]["R1@0.5"] == pytest.approx(
        best["val_R1@0.5"], abs=1e-9)


def test_no_usable_backup_stops_with_an_error_instead_of_starting_over(tmp_path):
    from conftest import tiny_config

    from mgpn_keras.model import build_mgpn
    from mgpn_keras.runs import backup_files
    from mgpn_keras.training.resume import (CorruptBackup, TrainingState, restore_backup,
                                            save_backup)
    from mgpn_keras.training.trainer import compile_model

    cfg = tiny_config()
    model = compile_model(build_mgpn(cfg), cfg)
    model.optimizer.build(model.trainable_variables)
    backup = tmp_path / "backup"
    save_backup(model, TrainingState(epoch=0, step=2), os.fspath(backup))
    save_backup(model, TrainingState(epoch=0, step=4), os.fspath(backup))
    assert restore_backup(model, os.fspath(backup)).step == 4
    (backup / "state.json").write_text('{"epoch": 0, "st')  # truncated state: the previous one
    assert restore_backup(model, os.fspath(backup)).step == 2
    for name in ("latest.weights.h5", "previous.weights.h5"):
        data = (backup / name).read_bytes()
        (backup / name).write_bytes(data[:100] + bytes(len(data) - 100))  # same size, garbage
    with pytest.raises(CorruptBackup, match=r"no usable training backup in .*no weights file has "
                                            r"its SHA-256 .*delete .* to start over"):
        restore_backup(model, os.fspath(backup))

    best = tmp_path / "best.weights.h5"
    backup_files.save_weights(model, best)
    assert (tmp_path / "best.weights.h5.sha256").read_text().endswith("  best.weights.h5\n")
    backup_files.load_weights(model, best)
    best.write_bytes(best.read_bytes()[:-10])
    with pytest.raises(CorruptBackup, match=r"best.weights.h5 is truncated or corrupt"):
        backup_files.load_weights(model, best)
