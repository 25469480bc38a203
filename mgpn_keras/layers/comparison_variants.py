"""Choice-comparison modules selectable by `model.comparison` (paper Sec. 4.5.4, Fig. 5).

- "group_conv": MGPN's grouped conv blocks (`GroupConvComparison`, Sec. 3.7);
- "stacked_conv": 2D-TAN's stacked convolutions (`StackedConvComparison`, "SC");
- "non_local": non-local blocks over the valid cells (`NonLocalComparison`, "NL").

The paper's fourth alternative, RaNet's graph attention ("GA"), is not implemented.
"""

from mgpn_keras.config import COMPARISON_MODULES, valid_cells_unsupported
from mgpn_keras.layers.group_conv_comparison import GroupConvComparison
from mgpn_keras.layers.non_local_comparison import NonLocalComparison
from mgpn_keras.layers.stacked_conv_comparison import StackedConvComparison


def build_comparison(m, name="comparison", layout="dense", dtype=None):
    """The comparison layer of a ModelConfig, in a layout (`mgpn_keras.valid_cells.layout`).

    Every module takes `[fused (B, N, N, 2C), boundary (B, N, N, C), content (B, N, N, C)]`
    and returns the relation map `(B, N, N, C)`, zero on invalid cells. Those of
    `config.VALID_CELL_COMPARISONS` also have the "valid_cells" layout (`(B, V, ...)`
    values); the others raise ValueError for it.
    """
    if layout != "dense" and valid_cells_unsupported(m):
        raise ValueError(f"layout {layout!r}: {valid_cells_unsupported(m)}; model.comparison = "
                         f"{m.comparison!r} has only the 'dense' layout")
    if m.comparison == "group_conv":
        return GroupConvComparison(m.hidden_size, m.num_clips, m.num_scale_layers, m.groups,
                                   m.kernel_size, m.synchronized_batch_norm, layout=layout,
                                   name=name, dtype=dtype)
    if m.comparison == "stacked_conv":
        return StackedConvComparison(m.hidden_size, m.num_clips, m.num_scale_layers,
                                     m.stacked_conv_layers, m.stacked_conv_kernel, name=name,
                                     dtype=dtype)
    if m.comparison == "non_local":
        return NonLocalComparison(m.hidden_size, m.num_clips, m.num_scale_layers, m.non_local_blocks,
                                  m.synchronized_batch_norm, name=name, dtype=dtype)
    raise ValueError(f"model.comparison = {m.comparison!r}; expected one of {list(COMPARISON_MODULES)}")
