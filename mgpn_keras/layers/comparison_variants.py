"""Choice-comparison modules selectable by `model.comparison` (paper Fig. 5)."""

from mgpn_keras.layers.group_conv_comparison import GroupConvComparison


def build_comparison(m):
    """The comparison layer of a ModelConfig: input [fused, boundary, content] -> (B, N, N, C)."""
    if m.comparison == "group_conv":
        return GroupConvComparison(m.hidden_size, m.num_clips, m.num_scale_layers, m.groups,
                                   m.kernel_size, m.synchronized_batch_norm, name="comparison")
    raise ValueError(f"model.comparison = {m.comparison!r} is not available yet; "
                     "expected 'group_conv'")
