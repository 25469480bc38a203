"""The 2D stage's arithmetic per query: what bounds a speed that misses its target."""

from __future__ import annotations


def flops_2d_per_query(preset_name: str, layout: str, model_overrides: dict | None = None) -> float:
    """Multiply-adds x 2 of the 2D stage per query (the comparison's 1x1 mix, its four k x k
    grouped convolutions, the ranker) as computed: at every cell ("dense", as the reference
    computes) or, in the valid-cell layout, the mix and ranker at the valid cells and the
    convolutions at the cells of `valid_cell_plan` (the band's rectangles, the coarse cells'
    taps); the 1D encoders add well under 5 % and are left out."""
    from mgpn_keras.config import preset
    from mgpn_keras.valid_cells.geometry import valid_cells
    from mgpn_keras.valid_cells.plan import valid_cell_plan

    m = preset(preset_name, model=model_overrides or {}).model
    c, k, g = m.hidden_size, m.kernel_size, m.groups
    if layout == "dense":
        cells = conv_cells = m.num_clips ** 2
    else:
        cells = len(valid_cells(m.num_clips, m.num_scale_layers)[0])
        conv_cells = valid_cell_plan(m.num_clips, m.num_scale_layers, k).computed_cells
    convs = sum(k * k * (c_in // g) * c_out for c_in, c_out in ((2 * c, 2 * c), (2 * c, c), (c, c), (c, c)))
    return 2.0 * (cells * (4 * c * 2 * c + c) + conv_cells * convs)
