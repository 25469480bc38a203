"""The 2D stage's layout: every map cell ("dense") or only the candidate cells ("valid_cells").

Both layouts are the same model: the same layers, weight names and shapes, so a trained
model's weights load into either with no conversion. They differ in what the 2D layers hold:

- "dense": `(batch, N, N, C)` maps, zero off the candidates. Training and parity use it:
  BatchNorm's batch statistics cover every cell, as in the reference.
- "valid_cells": `(batch, V, C)` values at the V candidate cells
  (`valid_cells.geometry.valid_cells` order; the convolutions' tables are
  `valid_cells.plan`). Inference only; every value the ranker reads
  depends only on valid cells, so its outputs equal the dense layout's (to float rounding).
  Implemented for the comparison modules in `config.VALID_CELL_COMPARISONS` (and for no
  comparison module); `config.valid_cells_unsupported` says why a model has none.

"auto" picks, for inference, the layout that does less work for the preset's geometry
(`valid_cell_work`; the rule's measurements are beside `AUTO_MAX_WORK`).
"""

from __future__ import annotations

from mgpn_keras.config import LAYOUT_SETTINGS, LAYOUTS, model_config, valid_cells_unsupported
from mgpn_keras.valid_cells.geometry import valid_cells
from mgpn_keras.valid_cells.plan import valid_cell_plan

# "auto" takes the valid-cell layout when its convolutions compute at most this fraction of
# the dense layout's N x N cells (`valid_cell_work`). Measured (quiet 2-core CPU, batch 32,
# float32, whole model, valid cells / dense queries/s, three runs of 2026-12-01/02,
# docs/benchmarks.md): TACoS (work 0.15) 4.95x / 4.81x / 4.32x, ActivityNet (0.30) 2.35x /
# 2.56x / 2.61x, Charades-STA I3D (0.56) 1.70x / 1.72x / 1.54x; the 16-clip Charades-STA VGG
# map (1.0: four 4 x 16 rectangles cover its 256 cells) 0.97x. Both layouts run the same
# direct grouped kernels, so the work ratio is the speed ratio, less the valid-cell gathers.
AUTO_MAX_WORK = 0.8


def valid_fraction(config) -> float:
    """The fraction of the N x N map's cells that are candidates (0.418 for Charades-STA I3D)."""
    m = model_config(config)
    return len(valid_cells(m.num_clips, m.num_scale_layers)[0]) / float(m.num_clips ** 2)


def valid_cell_work(config) -> float:
    """The valid-cell layout's convolution work over the dense layout's (0.60 for
    Charades-STA I3D, 0.15 for TACoS); see `plan.ValidCellPlan.computed_cells`."""
    m = model_config(config)
    if not m.use_choice_comparison:  # no convolution: per-cell work at the valid cells only
        return valid_fraction(config)
    plan = valid_cell_plan(m.num_clips, m.num_scale_layers, m.kernel_size)
    return plan.computed_cells / float(m.num_clips ** 2)


def resolve_layout(config, layout: str | None = None) -> str:
    """The concrete layout ("dense" or "valid_cells") for `layout` and a config.

    Args:
        config: a Config or ModelConfig.
        layout: "dense", "valid_cells", "auto", or None for "dense" (training and parity).

    "auto" is "valid_cells" when the model has one and its work is at most `AUTO_MAX_WORK`
    of the dense layout's (`valid_cell_work`), else "dense" (also for comparison modules without a valid-cell
    layout). An explicit "valid_cells" that the model lacks raises ValueError.
    """
    layout = "dense" if layout is None else layout
    if layout not in LAYOUT_SETTINGS:
        raise ValueError(f"layout {layout!r}; expected one of {list(LAYOUT_SETTINGS)}")
    if layout == "auto":
        if valid_cells_unsupported(config) is None and valid_cell_work(config) <= AUTO_MAX_WORK:
            return "valid_cells"
        return "dense"
    if layout == "valid_cells":
        reason = valid_cells_unsupported(config)
        if reason:
            raise ValueError(f"layout 'valid_cells': {reason}; use layout 'dense' or 'auto'")
    return layout


def check_layout(layout: str) -> str:
    """`layout` if it is a concrete layout a layer accepts, else ValueError."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}; expected one of {list(LAYOUTS)}")
    return layout
