"""What a training run's per-epoch logs call things, and how its progress looks.

The selection metric is logged under the split it is computed on: `val_R1@0.5` where the
data set has a val split, `test_R1@0.5` on Charades-STA, which has none (REFERENCE.md: the
authors select on test there). The best checkpoint, summary.json and keras-tuner's objective
read the same key.
"""

from __future__ import annotations

import keras


def metric_prefix(split: str) -> str:
    """`val_`, `test_`: the prefix of the epoch-log keys of metrics computed on `split`."""
    return f"{split}_"


def selection_key(metric: str, split: str) -> str:
    """The epoch-log key of the selection metric, e.g. `val_R1@0.5` or `test_R1@0.5`."""
    return f"{metric_prefix(split)}{metric}"


def strip_split(key: str) -> str:
    """`val_R1@0.5` -> `R1@0.5` (for table headers)."""
    return key.split("_", 1)[1] if "_" in key else key


class EpochProgressBar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar without its "Epoch i/n" line.

    The trainer runs one `fit` per epoch (so that a killed run resumes mid-epoch), so Keras
    would print "Epoch 5/5" beside the trainer's own "epoch 5/6: learning rate ..."; the
    trainer's line, which counts the run's epochs, is the one kept.
    """

    def set_params(self, params):
        super().set_params(params)
        self.epochs = 1  # ProgbarLogger prints its epoch line only when epochs > 1
