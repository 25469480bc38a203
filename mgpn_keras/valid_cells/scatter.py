"""Between the dense map and the valid-cell list: the scatter (valid -> dense) and the gather
(dense -> valid), both through `geometry.cell_positions`."""

from keras import ops

from mgpn_keras.valid_cells.geometry import cell_positions, valid_cells


def scatter_to_map(values, num_clips: int, num_scale_layers):
    """(B, V, ...) values at the valid cells -> (B, N, N, ...) map, zero elsewhere.

    `values` is `(B, V)` (the ranker's logits) or `(B, V, C)`.
    """
    index = cell_positions(num_clips, num_scale_layers).reshape(-1)  # (N * N,), V off the cells
    rank = len(values.shape)
    padded = ops.pad(values, [[0, 0], [0, 1]] + [[0, 0]] * (rank - 2))  # row V: zero
    dense = ops.take(padded, index, axis=1)  # (B, N * N, ...)
    return ops.reshape(dense, (-1, num_clips, num_clips) + tuple(ops.shape(values)[2:]))


def gather_valid(moment_map, num_clips: int, num_scale_layers):
    """(B, N, N, C) map -> (B, V, C) values at the valid cells."""
    start, end = valid_cells(num_clips, num_scale_layers)
    flat = ops.reshape(moment_map, (-1, num_clips * num_clips, ops.shape(moment_map)[-1]))
    return ops.take(flat, start * num_clips + end, axis=1)
