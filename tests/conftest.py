"""Shared test helpers: where `../shared` is, small configurations, the session's one tiny
prepared benchmark (built once per pytest-xdist worker, read only), the number of pytest-xdist
workers and the module order that starts the longest modules first."""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# As `import mgpn_keras` does, before any test file imports TensorFlow: oneDNN's kernels run
# grouped convolutions on CPU (test_group_conv_kernels checks the path taken without them).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import pytest  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"


def require_fixtures():
    if not (FIXTURES / "small_io.npz").exists():
        pytest.skip(f"parity fixtures not found at {FIXTURES} (the ../shared folder beside the repo)")
    return FIXTURES


@pytest.fixture
def fixtures_dir():
    return require_fixtures()


def tiny_config(**model):
    """A small but complete MGPN configuration for fast unit tests."""
    from mgpn_keras.config import preset

    defaults = dict(input_size=24, word_dim=12, num_sample_clips=32, pool_stride=4, num_clips=8,
                    hidden_size=16, gru_layers=2, num_scale_layers=[3, 2], groups=4, kernel_size=3)
    defaults.update(model)
    return preset("synthetic", model=defaults)


def load_fixture_io(name):
    """Every array of `shared/fixtures/<name>_io.npz`; skips when the fixtures are absent."""
    import numpy as np

    path = require_fixtures() / f"{name}_io.npz"
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def randomise_batch_norm(norms, rng):
    """Random gains, biases and moving statistics for BatchNorm layers `norms`, so that in
    inference they are not the identity (and a layout that mishandles them can fail a test)."""
    import numpy as np

    for norm in norms:
        shape = norm.moving_mean.shape
        norm.gamma.assign(rng.normal(1.0, 0.3, shape).astype(np.float32))
        norm.beta.assign(rng.normal(0.0, 0.3, shape).astype(np.float32))
        norm.moving_mean.assign(rng.normal(0.0, 0.3, shape).astype(np.float32))
        norm.moving_variance.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))


@pytest.fixture(scope="session")
def tiny_benchmark(tmp_path_factory):
    """(root, cfg, manifest path): the tiny synthetic benchmark of `training_helpers`, prepared
    once; `root / "config.json"` holds cfg for train.py. Read only."""
    from training_helpers import prepare_tiny, tiny_training_config

    from mgpn_keras.config import save_config

    root = tmp_path_factory.mktemp("tiny")
    cfg = tiny_training_config()
    manifest = prepare_tiny(root, cfg)
    save_config(cfg, root / "config.json")
    return root, cfg, manifest


# CPU seconds each long module took on a 2-core machine (per-test user + system time of the
# worker and the processes it waited for, 2026-12-07). Only the order of the modules depends
# on them: a module not listed counts as short, and a stale figure costs time, not a result.
MODULE_CPU_SECONDS = {
    "test_training_distributed.py": 133, "test_tuning_distributed.py": 117,
    "test_inference_layout.py": 113, "test_tuning.py": 95, "test_gpu_script.py": 66,
    "test_serving.py": 56, "test_extract.py": 55, "test_run_folder_safety.py": 54,
    "test_long_video.py": 48, "test_absent_moments.py": 42, "test_sparse.py": 40,
    "test_speed_smoke.py": 40, "test_training.py": 35, "test_pipelines_predict.py": 28,
    "test_pipelines_evaluate.py": 27, "test_variants.py": 26, "test_cli.py": 18,
    "test_pipelines_prepare.py": 18, "test_pipelines_extract.py": 17, "test_data_shards.py": 17,
    "test_model.py": 16,
}


def pytest_xdist_auto_num_workers(config):
    """One worker more than there are cores (pyproject caps it at 4): the multi-process tests
    spend part of their time waiting on their children's start-up and on sockets, and a third
    worker on two cores fills that time."""
    return len(os.sched_getaffinity(0)) + 1


def pytest_collection_modifyitems(session, config, items):
    """The longest modules first (stable otherwise): under pytest-xdist a module runs whole
    on one worker, and the suite ends when its last module does, so the long modules must
    not be the last to start (longest-first is the usual greedy schedule)."""
    def cost(item):
        return MODULE_CPU_SECONDS.get(Path(item.nodeid.split("::")[0]).name, 0)

    items.sort(key=lambda item: -cost(item))
