"""Grouped k x k convolutions evaluated at the valid cells only (the valid-cell layout, Sec. 3.7).

In inference every value the ranker reads depends only on valid cells: each comparison
block's input is zero off the valid cells, and its output is read only at valid cells. So
a k x k grouped convolution needs its outputs at the V valid cells only, each of which reads
its k * k neighbours (a zero where the neighbour is not a valid cell or lies outside the
map). That is a gather through a neighbour-index table and one matmul per group: 2548 of
TACoS's 16384 cells (428 / 1024 on Charades, 1104 / 4096 on ActivityNet).
"""

import numpy as np
import tensorflow as tf
from keras import ops

from mgpn_keras.geometry import valid_cells


def neighbour_table(num_clips: int, num_scale_layers, kernel_size: int) -> np.ndarray:
    """Each valid cell's k x k neighbours, as positions in the valid-cell list.

    Entry `[v, a * k + b]` is the position of cell `(i + a - k // 2, j + b - k // 2)`,
    where `(i, j)` is valid cell v (`mgpn_keras.geometry.valid_cells` order), or V when
    that cell is outside the map or not a candidate (its value is zero in every block).
    The tap order `(a, b)` is that of a Keras/TensorFlow kernel `(k, k, C_in, C_out)`
    (cross-correlation, `same` padding).

    Returns:
        int32 array `(V, k * k)`.
    """
    start, end = valid_cells(num_clips, num_scale_layers)
    v = len(start)
    position = np.full((num_clips, num_clips), v, np.int32)
    position[start, end] = np.arange(v, dtype=np.int32)
    half = kernel_size // 2
    table = np.full((v, kernel_size * kernel_size), v, np.int32)
    for a in range(kernel_size):
        for b in range(kernel_size):
            i, j = start + a - half, end + b - half
            inside = (i >= 0) & (i < num_clips) & (j >= 0) & (j < num_clips)
            table[inside, a * kernel_size + b] = position[i[inside], j[inside]]
    return table


def fold_batch_norm(conv, norm, groups: int, dtype):
    """A grouped conv followed by an inference BatchNorm, as one grouped kernel and shift.

    `kernel * gamma / sqrt(var + eps)` and `(bias - mean) * gamma / sqrt(var + eps) + beta`,
    computed in float32 (exact up to rounding) and cast to `dtype`.

    Returns:
        (kernel `(G, k*k*C_in/G, C_out/G)`, shift `(G, 1, C_out/G)`).
    """
    scale = ops.rsqrt(ops.cast(norm.moving_variance, "float32") + norm.epsilon)
    if norm.scale:
        scale = scale * ops.cast(norm.gamma, "float32")
    shift = (ops.cast(conv.bias, "float32") - ops.cast(norm.moving_mean, "float32")) * scale
    if norm.center:
        shift = shift + ops.cast(norm.beta, "float32")
    kernel = ops.cast(conv.kernel, "float32") * scale  # (k, k, C_in/G, C_out)
    k, c_in, c_out = int(conv.kernel.shape[0]), int(conv.kernel.shape[2]), int(conv.kernel.shape[3]) // groups
    kernel = ops.reshape(kernel, (k * k * c_in, groups, c_out))
    kernel = ops.transpose(kernel, (1, 0, 2))  # (G, k*k*C_in/G, C_out/G)
    shift = ops.reshape(shift, (groups, 1, c_out))
    return ops.cast(kernel, dtype), ops.cast(shift, dtype)


def to_group_major(x, groups: int):
    """(B, V, C) -> (G, B, V + 1, C/G) with a zero last row (what a missing neighbour reads)."""
    batch, cells = tf.shape(x)[0], x.shape[1]
    x = tf.reshape(x, (batch, cells, groups, x.shape[-1] // groups))
    return tf.pad(tf.transpose(x, (2, 0, 1, 3)), [[0, 0], [0, 0], [0, 1], [0, 0]])


def from_group_major(x, channels: int):
    """(G, B, V + 1, C/G) -> (B, V, C), dropping the zero row."""
    batch = tf.shape(x)[1]
    cells = x.shape[2] - 1
    x = tf.transpose(x[:, :, :cells], (1, 2, 0, 3))  # (B, V, G, C/G)
    return tf.reshape(x, (batch, cells, channels))


def gathered_conv_relu(x, kernel, shift, table: np.ndarray, groups_per_step: int = 1):
    """ReLU(grouped conv + shift) at the valid cells, in the group-major layout.

    Groups run `groups_per_step` at a time, so at most `(step, B, V * k * k, C_in / G)`
    gathered values exist at once (0.26 GB for TACoS at batch 32 with one group per step),
    not the `(B, V, k * k, C_in)` of all groups (8.2 GB).

    Args:
        x: `(G, B, V + 1, C_in/G)` with a zero last row.
        kernel, shift: from `fold_batch_norm`.
        table: `neighbour_table(...)`, `(V, k * k)`.
        groups_per_step: groups gathered and multiplied together; divides G.

    Returns:
        `(G, B, V + 1, C_out/G)`, again with a zero last row.
    """
    g, step = int(x.shape[0]), int(groups_per_step)
    cells = table.shape[0]
    taps = table.reshape(-1)  # (V * k * k,)
    c_in, c_out = x.shape[-1], kernel.shape[-1]
    batch = tf.shape(x)[1]
    x = tf.reshape(x, (g // step, step, batch, cells + 1, c_in))
    kernel = tf.reshape(kernel, (g // step, step) + tuple(kernel.shape[1:]))
    shift = tf.reshape(shift, (g // step, step, 1, c_out))

    def one_step(args):
        xs, ks, bs = args  # (step, B, V + 1, C_in/G), (step, k*k*C_in/G, C_out/G), (step, 1, C_out/G)
        gathered = tf.gather(xs, taps, axis=2)  # (step, B, V * k * k, C_in/G)
        gathered = tf.reshape(gathered, (step, -1, kernel.shape[-2]))  # (step, B * V, k*k*C_in/G)
        y = tf.nn.relu(tf.matmul(gathered, ks) + bs)  # (step, B * V, C_out/G)
        y = tf.reshape(y, (step, batch, cells, c_out))
        return tf.pad(y, [[0, 0], [0, 0], [0, 1], [0, 0]])  # the zero row again

    y = tf.map_fn(one_step, (x, kernel, shift), fn_output_signature=x.dtype, parallel_iterations=1)
    return tf.reshape(y, (g, batch, cells + 1, c_out))
