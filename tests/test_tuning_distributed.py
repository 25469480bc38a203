"""`mgpn tune` across machines: keras-tuner's chief/worker roles, and a chief with two
workers on localhost (three processes) that run every trial once."""

import json
import os

import pytest

from training_helpers import prepare_tune_data, tiny_search_config

pytestmark = pytest.mark.slow  # three tuner processes, then each trial trained again


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return prepare_tune_data(tmp_path_factory.mktemp("tune"))


def test_tuner_role_reads_keras_tuners_variables():
    from mgpn_keras.tuning.distributed import TunerRole, tuner_role

    assert tuner_role({}) == TunerRole("single", "tuner0")
    env = {"KERASTUNER_TUNER_ID": "chief", "KERASTUNER_ORACLE_IP": "10.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"}
    assert tuner_role(env) == TunerRole("chief", "chief", "10.0.0.1:8000")
    assert tuner_role({**env, "KERASTUNER_TUNER_ID": "tuner3"}).kind == "worker"
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT not"):
        tuner_role({k: v for k, v in env.items() if k != "KERASTUNER_ORACLE_PORT"})
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT = 'http'"):
        tuner_role({**env, "KERASTUNER_ORACLE_PORT": "http"})


def _ongoing_trials(oracle_file):
    try:
        return json.loads(oracle_file.read_text()).get("ongoing_trials", {})
    except (OSError, ValueError):  # not written yet, or being written
        return {}


def test_chief_and_two_workers_on_localhost_run_every_trial_once(tiny_data, tmp_path):
    """A chief and two workers (three processes, gRPC on localhost) share the search folder.
    The first worker seen running a trial is killed and started again with its id: the
    oracle gives it the same trial, which it reruns. Every trial ends once, and each trial's
    objective is what train.py gets with the trial's config."""
    import socket
    import subprocess
    import sys
    import time

    from mgpn_keras.cli import main
    from mgpn_keras.config import save_config
    from mgpn_keras.tuning.search_space import SearchSpace

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "D"
    command = [sys.executable, "-m", "mgpn_keras.cli", "tune", "--config", str(tiny_data / "base.json"),
               "--shards", str(tiny_data / "shards"), "--algorithm", "random", "--hidden-sizes", "8,12,16",
               "--max-trials", "3", "--epochs", "1", "--output-dir", str(out), "--quiet"]
    logs = {}

    def start(tuner_id, attempt=0):
        logs[tuner_id] = tmp_path / f"{tuner_id}.{attempt}.log"
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERASTUNER_TUNER_ID=tuner_id,
                   KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=str(port))
        with open(logs[tuner_id], "w") as log:
            return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    processes = {name: start(name) for name in ("chief", "tuner0", "tuner1")}
    try:
        deadline = time.time() + 300
        ongoing = {}
        while time.time() < deadline and not ongoing and processes["chief"].poll() is None:
            ongoing = _ongoing_trials(out / "search" / "oracle.json")
            time.sleep(0.05)
        assert ongoing, "no worker started a trial: " + logs["chief"].read_text()[-2000:]
        killed, killed_trial = next(iter(ongoing.items()))
        processes[killed].kill()
        processes[killed].wait(timeout=60)
        processes[killed] = start(killed, attempt=1)
        for name in ("tuner0", "tuner1", "chief"):  # a failed worker is reported before the chief's wait
            assert processes[name].wait(timeout=600) == 0, f"{name}: " + logs[name].read_text()[-3000:]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()

    ran = {}
    for name in ("tuner0", "tuner1"):
        line = next(l for l in logs[name].read_text().splitlines() if l.startswith(f"worker {name}: ran"))
        ran[name] = [t for t in line.split("trial(s) ")[1].split(";")[0].split(", ") if t != "none"]
    assert killed_trial in ran[killed]  # rerun by the restarted worker
    assert sorted(ran["tuner0"] + ran["tuner1"]) == ["0", "1", "2"]  # each trial ran to its end once
    oracle = json.loads((out / "search" / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2"] and oracle["ongoing_trials"] == {}
    records = json.loads((out / "trials.json").read_text())["trials"]
    assert [r["status"] for r in records] == ["COMPLETED"] * 3
    assert sorted(r["values"]["hidden_size"] for r in records) == [8, 12, 16]
    assert {r["trial_id"]: r["tuner_id"] for r in records} == {t: name for name in ran for t in ran[name]}
    assert (out / "best_config.json").exists()

    space = SearchSpace.from_names("hidden", hidden_sizes=[8, 12, 16])
    for r in records:
        save_config(space.config_for(tiny_search_config(), r["values"]), tmp_path / f"trial_{r['trial_id']}.json")
        run = tmp_path / f"run_{r['trial_id']}"
        assert main(["train", "--config", str(tmp_path / f"trial_{r['trial_id']}.json"), "--shards",
                     str(tiny_data / "shards"), "--epochs", "1", "--output-dir", str(run), "--quiet",
                     "--no-baselines"]) == 0
        summary = json.loads((run / "summary.json").read_text())
        assert summary["best_val_R1@0.5"] == pytest.approx(r["objective"], abs=1e-4), r
