"""A tiny prepared synthetic benchmark and config for the training tests."""

import os
from pathlib import Path

TINY_MODEL = dict(input_size=24, word_dim=50, num_sample_clips=32, pool_stride=4, num_clips=8,
                  hidden_size=16, gru_layers=1, num_scale_layers=[7], groups=4, kernel_size=3)


def tiny_training_config(**train):
    from mgpn_keras.config import preset

    settings = dict(batch_size=8, epochs=2, backup_every_steps=2, lr_decay_epochs=[2])
    settings.update(train)
    return preset("synthetic", model=TINY_MODEL, train=settings, eval={"batch_size": 16})


def prepare_tiny(root: Path, cfg) -> str:
    from mgpn_keras.datasets import synthetic
    from mgpn_keras.datasets.prepare import prepare

    raw = synthetic.write(root / "raw", seed=1, train_queries=96, val_queries=24, test_queries=24,
                          min_clips=18, max_clips=40, min_events=3, max_events=5, feature_dim=24)
    return os.fspath(prepare(cfg, raw, root / "shards", progress=False))


def tiny_search_config():
    """The base config of the tuning tests: one epoch of batch 16, evaluation batch 48."""
    from mgpn_keras.config import preset

    return preset("synthetic", model=TINY_MODEL, train=dict(batch_size=16, epochs=1, lr_decay_epochs=[2]),
                  eval={"batch_size": 48})


def prepare_tune_data(root: Path) -> Path:
    """The tuning tests' tiny benchmark: shards in `root/shards`, the base config in
    `root/base.json`."""
    from mgpn_keras.config import save_config
    from mgpn_keras.datasets import synthetic
    from mgpn_keras.datasets.prepare import prepare

    cfg = tiny_search_config()
    raw = synthetic.write(root / "raw", seed=1, train_queries=64, val_queries=24, test_queries=24,
                          min_clips=18, max_clips=40, min_events=3, max_events=5, feature_dim=24)
    prepare(cfg, raw, root / "shards", progress=False)
    save_config(cfg, root / "base.json")
    return root
