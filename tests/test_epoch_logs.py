"""Per-epoch logs: one epoch counter on screen, metrics named after the split they use."""

from types import SimpleNamespace

import numpy as np

from conftest import tiny_config


def _fit_epoch_five_of_six(capsys, callbacks):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    model.fit(np.zeros((8, 3)), np.zeros((8, 2)), batch_size=4, initial_epoch=4, epochs=5,
              verbose=1, callbacks=callbacks)
    return capsys.readouterr().out


def test_the_progress_bar_leaves_epoch_counting_to_the_trainer(capsys):
    from mgpn_keras.training.epoch_logs import EpochProgressBar

    # The trainer fits one epoch at a time: Keras alone would say "Epoch 5/5" of a 6-epoch run.
    assert "Epoch 5/5" in _fit_epoch_five_of_six(capsys, [])
    printed = _fit_epoch_five_of_six(capsys, [EpochProgressBar()])
    assert "Epoch" not in printed
    assert "2/2" in printed and "loss" in printed  # the bar itself is still drawn


def test_the_selection_metric_is_named_after_its_split():
    from mgpn_keras.tuning.hypermodel import objective_for

    cfg = tiny_config()
    with_val = SimpleNamespace(counts={"train": 8, "val": 4, "test": 4})
    charades_like = SimpleNamespace(counts={"train": 8, "test": 4})  # Charades-STA: no val
    assert objective_for(cfg, with_val).name == "val_R1@0.5"
    assert objective_for(cfg, charades_like).name == "test_R1@0.5"
