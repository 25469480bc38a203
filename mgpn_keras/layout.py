"""The 2D stage's layout: every map cell ("dense") or only the candidate cells ("valid_cells").

Both layouts are the same model: the same layers, weight names and shapes, so a trained
model's weights load into either with no conversion. They differ in what the 2D layers hold:

- "dense": `(batch, N, N, C)` maps, zero off the candidates. Training and parity use it:
  BatchNorm's batch statistics cover every cell, as in the reference.
- "valid_cells": `(batch, V, C)` values at the V candidate cells
  (`mgpn_keras.geometry.valid_cells` order). Inference only; every value the ranker reads
  depends only on valid cells, so its outputs equal the dense layout's (to float rounding).
  Implemented for `model.comparison = "group_conv"` (and for no comparison module).

"auto" picks, for inference, the layout measured faster for the preset's geometry.
"""

from __future__ import annotations

from mgpn_keras.geometry import valid_cells

LAYOUTS = ("dense", "valid_cells")
LAYOUT_SETTINGS = LAYOUTS + ("auto",)
# Comparison modules that have a valid-cell layout.
VALID_CELL_COMPARISONS = ("group_conv",)
# "auto" takes the valid-cell layout when at most this fraction of the N x N cells are
# candidates. Measured (docs/benchmarks.md, quiet 2-core CPU, batch 32, float32): at 15.5 %
# (TACoS) the valid-cell layout ran 2.2x the dense one, at 27 % (ActivityNet) 1.5x, at
# 41.8 % (Charades-STA I3D) 0.93x: there the gather + narrow matmul, about half oneDNN's
# FLOP rate of a direct grouped convolution, no longer pays for the cells it skips.
AUTO_MAX_VALID_FRACTION = 0.35


def _model_config(config):
    return getattr(config, "model", config)


def valid_fraction(config) -> float:
    """The fraction of the N x N map's cells that are candidates (0.418 for Charades-STA I3D)."""
    m = _model_config(config)
    return len(valid_cells(m.num_clips, m.num_scale_layers)[0]) / float(m.num_clips ** 2)


def valid_cells_unsupported(config) -> str | None:
    """Why `config`'s model has no valid-cell layout, or None when it has one."""
    m = _model_config(config)
    if m.use_choice_comparison and m.comparison not in VALID_CELL_COMPARISONS:
        return (f"the valid-cell layout implements model.comparison in "
                f"{list(VALID_CELL_COMPARISONS)}; got {m.comparison!r}")
    return None


def resolve_layout(config, layout: str | None = None) -> str:
    """The concrete layout ("dense" or "valid_cells") for `layout` and a config.

    Args:
        config: a Config or ModelConfig.
        layout: "dense", "valid_cells", "auto", or None for "dense" (training and parity).

    "auto" is "valid_cells" when the model has one and at most `AUTO_MAX_VALID_FRACTION` of
    the cells are candidates, else "dense" (also for comparison modules without a valid-cell
    layout). An explicit "valid_cells" that the model lacks raises ValueError.
    """
    layout = "dense" if layout is None else layout
    if layout not in LAYOUT_SETTINGS:
        raise ValueError(f"layout {layout!r}; expected one of {list(LAYOUT_SETTINGS)}")
    if layout == "auto":
        if valid_cells_unsupported(config) is None and valid_fraction(config) <= AUTO_MAX_VALID_FRACTION:
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
