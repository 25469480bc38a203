"""The reference's effective learning-rate schedule (REFERENCE.md 5.7)."""

from __future__ import annotations

from mgpn_keras.config import Config


def learning_rate_for_epoch(cfg: Config, epoch: int) -> float:
    """Learning rate of 0-indexed `epoch`.

    The reference calls `MultiStepLR.step()` at the start of every epoch, so a milestone
    m takes effect from the 1-indexed epoch m (one epoch earlier than the usual
    end-of-epoch convention): Charades I3D runs epochs 1-6 at 1e-3, 7-11 at 1e-4, 12-15
    at 1e-5; TACoS (milestones 16, 19 with 15 epochs) never decays.
    """
    t = cfg.train
    decays = sum(1 for m in t.lr_decay_epochs if epoch + 1 >= m)
    return t.learning_rate * (t.lr_decay ** decays)
