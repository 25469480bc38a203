"""`mgpn evaluate --workers 2` (Beam, metrics summed by a CombineFn) gives the in-process
evaluation's numbers within 1e-6."""

import json

import keras
import pytest
from training_helpers import TINY_MODEL, prepare_tiny

from mgpn_keras import cli

pytest.importorskip("apache_beam")
pytestmark = pytest.mark.slow


def test_two_workers_give_the_single_process_metrics(tmp_path):
    from mgpn_keras.config import preset, save_config
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.runs.backup_files import save_weights
    from mgpn_keras.evaluation.run_evaluation import evaluate_run

    # groups=1: see the report (grouped convolutions fail in graph mode on this CPU build).
    cfg = preset("synthetic", model={**TINY_MODEL, "groups": 1}, eval={"batch_size": 4})
    manifest = prepare_tiny(tmp_path, cfg)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    save_config(cfg, run / "config.json")
    (run / "manifest.json").write_text(json.dumps({"manifest": manifest}))
    keras.utils.set_random_seed(5)
    save_weights(build_mgpn(cfg), run / "checkpoints" / "best.weights.h5")

    want = evaluate_run(str(run), "test", verbose=False)
    assert cli.main(["evaluate", "--run-dir", str(run), "--split", "test", "--workers", "2"]) == 0
    got = json.loads((run / "results.json").read_text())["test"]
    assert sorted(got) == sorted(want) and any(want.values())
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-6), key
