"""Training end to end on a tiny synthetic benchmark: run folder, evaluation, preset folder.
(tf.distribute: test_training_distributed.py; killing train.py mid-epoch and resuming:
test_run_folder_safety.py.)"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # train runs


@pytest.fixture(scope="module")
def tiny(tiny_benchmark):
    return tiny_benchmark


@pytest.fixture(scope="module")
def trained_run(tiny, tmp_path_factory):
    from mgpn_keras.training.trainer import train

    _, cfg, manifest = tiny
    run = tmp_path_factory.mktemp("trained") / "run"
    results = train(cfg, manifest, os.fspath(run), verbose=0)
    return run, results


def test_run_folder_has_results_checkpoints_logs(trained_run, tiny):
    from mgpn_keras.config import load_config, metric_names

    run, results = trained_run
    _, cfg, _ = tiny
    on_disk = json.loads((run / "results.json").read_text())
    assert on_disk == results and set(on_disk) == {"val", "test"}
    for split in on_disk.values():
        assert list(split) == metric_names(cfg) == ["R1@0.3", "R1@0.5", "R1@0.7", "R5@0.3", "R5@0.5",
                                                   "R5@0.7", "mIoU"]
        assert all(0.0 <= v <= 1.0 for v in split.values())
    assert (run / "checkpoints" / "best.weights.h5").exists()
    assert load_config(run / "config.json") == cfg
    rows = (run / "logs" / "epochs.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + cfg.train.epochs and "val_R1@0.5" in rows[0]
    assert list((run / "logs" / "evaluation").glob("events.out.tfevents.*"))
    state = json.loads((run / "backup" / "state.json").read_text())
    assert [h["epoch"] for h in state["history"]] == [1, 2]


def test_evaluate_cli_reproduces_test_results(trained_run):
    from mgpn_keras.cli import main

    run, results = trained_run
    predictions = run / "predictions.json"
    assert main(["evaluate", "--run-dir", os.fspath(run), "--split", "test",
                 "--predictions", os.fspath(predictions)]) == 0
    again = json.loads((run / "results.json").read_text())["test"]
    assert again == pytest.approx(results["test"], abs=1e-9)
    rows = json.loads(predictions.read_text())
    assert len(rows) == 24 and len(rows[0]["moments"]) <= 5


def test_run_writes_a_preset_folder_that_evaluates_and_exports_like_the_run(trained_run, tiny, tmp_path, capsys):
    from mgpn_keras.cli import main
    from mgpn_keras.runs.presets import load_preset
    from mgpn_keras.runs.resolve import resolve_model

    run, results = trained_run
    _, cfg, manifest = tiny
    preset = load_preset(run / "model")
    assert preset.config == cfg and preset.vocabulary == resolve_model(run).vocabulary
    predictions = tmp_path / "predictions.json"
    assert main(["evaluate", "--model", os.fspath(run / "model"), "--shards", os.fspath(Path(manifest).parent),
                 "--split", "val", "--predictions", os.fspath(predictions)]) == 0
    assert len(json.loads(predictions.read_text())) == 24
    from mgpn_keras.evaluation.run_evaluation import evaluate_run

    val = evaluate_run(os.fspath(run / "model"), "val", verbose=False, manifest=manifest)
    assert val == pytest.approx(results["val"], abs=1e-9)  # the best epoch's weights
    assert json.loads((run / "results.json").read_text())["val"] == results["val"]  # untouched
    out = tmp_path / "export" / "1"
    assert main(["export", "--model", os.fspath(run / "model"), "--out", os.fspath(out)]) == 0
    info = json.loads((out / "mgpn_export.json").read_text())
    assert info["source"]["preset_dir"] == os.path.abspath(run / "model")
    features = tmp_path / "video.npy"
    np.save(features, np.random.default_rng(0).random((30, 24)).astype("float32"))
    printed = []
    for flag, folder in (("--export", out), ("--model", run / "model")):
        capsys.readouterr()
        assert main(["predict", flag, os.fspath(folder), "--features", os.fspath(features), "--duration",
                     "30", "--query", "a person opens the door", "--json"]) == 0
        printed.append(json.loads(capsys.readouterr().out))
    assert printed[0] == printed[1] and len(printed[0][0]["moments"]) == 5


def test_shards_of_another_width_are_refused(tiny, tmp_path):
    from mgpn_keras.config import apply_overrides
    from mgpn_keras.training.trainer import train

    _, cfg, manifest = tiny
    other = apply_overrides(cfg, {"model.input_size": 32})
    with pytest.raises(ValueError, match="input_size|width"):
        train(other, manifest, os.fspath(tmp_path / "bad"), verbose=0)
