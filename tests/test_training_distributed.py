"""Training under tf.distribute: a mirrored step on two logical CPUs equals one device's,
and two MultiWorkerMirrored workers on localhost end with identical weights and evaluate
their parts of each split."""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # a mirrored-step subprocess and two worker processes


REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")


@pytest.fixture(scope="module")
def tiny(tiny_benchmark):
    return tiny_benchmark


def _free_ports(count):
    """`count` distinct free ports: all sockets are bound before any is closed, so no two
    share a port (closing one first could let the next bind take the same port again)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


MIRRORED_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    sys.path.insert(0, sys.argv[1])
    from training_helpers import tiny_training_config
    from mgpn_keras.config import apply_overrides
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.training.trainer import compile_model
    cfg = apply_overrides(tiny_training_config(), {"model.dropout": 0.0})
    rng = np.random.default_rng(0)
    b = 8
    x = {"word_vectors": rng.normal(size=(b, 6, 50)).astype("float32"),
         "query_mask": (np.arange(6)[None] < rng.integers(2, 7, size=(b, 1))).astype("float32"),
         "clip_features": rng.random((b, 32, 24)).astype("float32")}
    y = rng.random((b, 8, 8)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(b)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    for optimizer in sys.argv[2:]:  # one process, each optimizer from the same seed
        keras.utils.set_random_seed(3)
        def compiled():
            model = compile_model(build_mgpn(cfg), cfg)
            if optimizer == "sgd":
                model.compile(keras.optimizers.SGD(0.5), loss=model.loss)
            return model
        single = compiled()
        initial = single.get_weights()
        with strategy.scope():
            mirrored = compiled()
        mirrored.set_weights(initial)
        single.fit(data, epochs=1, verbose=0, shuffle=False)
        mirrored.fit(data, epochs=1, verbose=0, shuffle=False)
        moved = max(float(np.abs(a - c).max()) for a, c in zip(initial, single.get_weights()))
        print("MOVED", optimizer, moved)
        for w, a, c in zip(single.weights, single.get_weights(), mirrored.get_weights()):
            print("DIFF", optimizer, w.path, float(np.abs(a - c).max()))
""")

MIRRORED_OPTIMIZERS = ["sgd", "adam"]


@pytest.fixture(scope="module")
def mirrored_steps(tmp_path_factory):
    """{optimizer: (largest weight change of the single-device step, {weight path: largest
    |single - mirrored| difference})}, for every optimizer of MIRRORED_OPTIMIZERS from one
    subprocess (one TensorFlow start with two logical CPUs for all of them)."""
    script = tmp_path_factory.mktemp("mirrored") / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    done = subprocess.run([sys.executable, os.fspath(script), os.fspath(REPO / "tests"), *MIRRORED_OPTIMIZERS],
                          env=ENV, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = {}
    for optimizer in MIRRORED_OPTIMIZERS:
        lines = [l.split() for l in done.stdout.splitlines() if l.split()[1:2] == [optimizer]]
        moved = float([l for l in lines if l[0] == "MOVED"][0][2])
        steps[optimizer] = moved, {l[2]: float(l[3]) for l in lines if l[0] == "DIFF"}
    return steps


@pytest.mark.parametrize("optimizer", MIRRORED_OPTIMIZERS)
def test_mirrored_step_equals_single_device_step(mirrored_steps, optimizer):
    """Two replicas on two logical CPUs, global batch 8: the weights (BatchNorm moving
    statistics included) after one step equal those of one device on the same batch.

    BatchNorm is synchronized across replicas (model.synchronized_batch_norm, default on),
    so each replica normalises with the statistics of the whole global batch, as one
    device does; unsynchronized, each replica would use its own half-batch statistics and
    the step would differ. Gradients are summed across replicas and the loss is scaled
    by the global batch, so the SGD step is equal to float noise.

    With Adam, the biases of the convolutions that feed a BatchNorm have a gradient that
    is exactly zero in exact arithmetic (BatchNorm subtracts the batch mean), so in
    float32 it is ~1e-9 noise, and Adam's first step (m / sqrt(v) = sign(g)) turns that
    noise into a +-lr update of either sign. Those biases cannot affect the output and
    are left out of the Adam comparison; every other weight must agree.
    """
    moved, diffs = mirrored_steps[optimizer]
    assert moved > 1e-4  # the step changed the weights
    assert len(diffs) > 20 and any("moving_mean" in k for k in diffs)
    if optimizer == "adam":
        diffs = {k: v for k, v in diffs.items() if not re.fullmatch(r"comparison/conv_\d/bias", k)}
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] < 1e-5, f"mirrored and single-device weights differ by {diffs[worst]} at {worst}"


WORKER_SCRIPT = textwrap.dedent("""
    import json, os, sys
    from mgpn_keras.config import load_config
    from mgpn_keras.datasets import make_dataset
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.runs import backup_files
    from mgpn_keras.evaluation.model_evaluation import evaluate_model
    from mgpn_keras.evaluation.metric_sums import worker_shard
    from mgpn_keras.training.strategy import is_chief, make_strategy, worker_index
    from mgpn_keras.training.trainer import train
    cfg = load_config(sys.argv[1])
    strategy = make_strategy("auto")
    assert strategy.num_replicas_in_sync == 2, strategy
    results = train(cfg, sys.argv[2], sys.argv[3], strategy=strategy, verbose=0)
    # This worker's evaluation of its part of each split, with the run's best weights.
    root = sys.argv[3] if is_chief(strategy) else os.path.join(sys.argv[3], f"worker_{worker_index(strategy)}")
    model = build_mgpn(cfg)
    backup_files.load_weights(model, os.path.join(root, "checkpoints", "best.weights.h5"))
    report = {"results": results, "shard": worker_shard(strategy)}
    for split in ("val", "test"):
        data = make_dataset(sys.argv[2], split, cfg.eval.batch_size, training=False, with_meta=True,
                            shard=worker_shard(strategy))
        metrics, predictions = evaluate_model(model, data, cfg, strategy=strategy, return_predictions=True)
        report[split] = {"metrics": metrics, "indices": [p["index"] for p in predictions]}
    with open(sys.argv[4], "w") as f:
        json.dump(report, f)
""")


def _h5_arrays(path):
    import h5py

    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


def test_two_workers_on_localhost_end_with_identical_weights(tiny, tmp_path):
    root, cfg, manifest = tiny
    from mgpn_keras.config import apply_overrides, save_config

    one_epoch = apply_overrides(cfg, {"train.epochs": 1})
    save_config(one_epoch, tmp_path / "config.json")
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    procs = []
    for index in range(2):
        env = dict(ENV, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            [sys.executable, os.fspath(script), os.fspath(tmp_path / "config.json"), manifest,
             os.fspath(tmp_path / "run"), os.fspath(tmp_path / f"report_{index}.json")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    chief = _h5_arrays(tmp_path / "run" / "backup" / "latest.weights.h5")
    other = _h5_arrays(tmp_path / "run" / "worker_1" / "backup" / "latest.weights.h5")
    assert sorted(chief) == sorted(other) and len(chief) > 10
    for key in chief:
        np.testing.assert_array_equal(chief[key], other[key], err_msg=key)
    assert (tmp_path / "run" / "results.json").exists()  # written by the chief only
    assert not (tmp_path / "run" / "worker_1" / "results.json").exists()

    # Each worker evaluated its part of every split (its videos' queries, the two parts
    # disjoint and together the split), and the summed metrics of both equal one process's
    # evaluation of the whole split with the same weights: in the per-epoch logs, in the
    # run's results and in a direct evaluation.
    from mgpn_keras.datasets import make_dataset
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.runs import backup_files
    from mgpn_keras.evaluation.model_evaluation import evaluate_model

    reports = [json.loads((tmp_path / f"report_{index}.json").read_text()) for index in range(2)]
    assert [r["shard"] for r in reports] == [[2, 0], [2, 1]]
    model = build_mgpn(one_epoch)
    backup_files.load_weights(model, tmp_path / "run" / "checkpoints" / "best.weights.h5")
    histories = [json.loads((folder / "backup" / "state.json").read_text())["history"]
                 for folder in (tmp_path / "run", tmp_path / "run" / "worker_1")]
    for split in ("val", "test"):
        single, predictions = evaluate_model(
            model, make_dataset(manifest, split, one_epoch.eval.batch_size, training=False, with_meta=True),
            one_epoch, return_predictions=True)
        everyone = sorted(p["index"] for p in predictions)
        parts = [r[split]["indices"] for r in reports]
        assert all(0 < len(part) < len(everyone) for part in parts), [len(p) for p in parts]
        assert sorted(parts[0] + parts[1]) == everyone == list(range(24))
        for r in reports:
            assert r["results"][split] == pytest.approx(single, abs=1e-6, rel=0)
            assert r[split]["metrics"] == pytest.approx(single, abs=1e-6, rel=0)
        if split == "val":  # the only epoch is the best one
            for history in histories:
                assert {k: history[0][f"val_{k}"] for k in single} == pytest.approx(single, abs=1e-6, rel=0)
