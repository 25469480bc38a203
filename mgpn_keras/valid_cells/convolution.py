"""Grouped k x k convolutions evaluated at the valid cells only (the valid-cell layout, Sec. 3.7).

In inference every value the ranker reads depends only on valid cells: each comparison
block's input is zero off the valid cells, and its output is read only at valid cells. So
a k x k grouped convolution needs its outputs at the V valid cells only (428 of Charades-STA
I3D's 1024 cells, 1104 / 4096 on ActivityNet, 2548 / 16384 on TACoS).

`valid_cells.plan` splits them: the band of short moments runs, in rectangles, through
the ordinary grouped convolution (oneDNN on CPU, cuDNN on GPU) with "valid" padding, the
direct kernels' speed on about 1.2x the band's cells; the coarse cells are a gather of the taps
they use and one matmul per group. `tile_layout_from_cells` puts the valid cells into the
plan's tile layout, every `valid_cell_conv_relu` reads and writes it, and
`cells_from_tile_layout` reads the valid cells out at the end.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops

from mgpn_keras.grouped_convolution import grouped_conv2d
from mgpn_keras.valid_cells.plan import ValidCellPlan

# Coarse cells are convolved a few queries at a time, so that their gathered taps stay below
# this many values (64 MB in float32) whatever the batch.
COARSE_GATHER_BUDGET = 16 * 2 ** 20


def fold_batch_norm(conv, norm, dtype):
    """A grouped conv followed by an inference BatchNorm, as one kernel and shift.

    `kernel * gamma / sqrt(var + eps)` and `(bias - mean) * gamma / sqrt(var + eps) + beta`,
    computed in float32 (exact up to rounding) and cast to `dtype`.

    Returns:
        (kernel `(k, k, C_in/G, C_out)`, shift `(C_out,)`).
    """
    scale = ops.rsqrt(ops.cast(norm.moving_variance, "float32") + norm.epsilon)
    if norm.scale:
        scale = scale * ops.cast(norm.gamma, "float32")
    shift = (ops.cast(conv.bias, "float32") - ops.cast(norm.moving_mean, "float32")) * scale
    if norm.center:
        shift = shift + ops.cast(norm.beta, "float32")
    kernel = ops.cast(conv.kernel, "float32") * scale  # (k, k, C_in/G, C_out)
    return ops.cast(kernel, dtype), ops.cast(shift, dtype)


def tile_layout_from_cells(x, plan: ValidCellPlan):
    """`(B, V, C)` values at the valid cells (`valid_cells` order) -> the tile layout
    `(B, rows, C)`, zero in its last row and in the rectangles' cells outside the band."""
    padded = tf.pad(x, [[0, 0], [0, 1], [0, 0]])  # row V: zero
    return tf.gather(padded, plan.entry, axis=1)


def valid_cell_conv_relu(x, kernel, shift, plan: ValidCellPlan, groups: int):
    """ReLU(grouped k x k conv + shift), 'same' padding, at the valid cells.

    Args:
        x: the tile layout `(B, rows, C_in)`: `tile_layout_from_cells` or the previous
            convolution's output.
        kernel, shift: from `fold_batch_norm`.
        plan: `valid_cell_plan(...)` of the geometry and kernel size.
        groups: the convolution's groups.

    Returns:
        The tile layout `(B, rows, C_out)` (last row zero); `cells_from_tile_layout` reads
        the valid cells out of it.
    """
    c_in, c_out = int(x.shape[-1]), int(kernel.shape[-1])
    batch = tf.shape(x)[0]
    parts = []
    for rectangles in plan.rectangles:  # (B, tiles * input cells, C_in) -> images -> outputs
        images = tf.reshape(tf.gather(x, rectangles.input_rows, axis=1), (-1,) + rectangles.input + (c_in,))
        y = tf.nn.relu(tf.nn.bias_add(grouped_conv2d(images, kernel, groups, "VALID"), shift))
        parts.append(tf.reshape(y, (batch, rectangles.cells, c_out)))
    for cells in plan.coarse:
        parts.append(tf.nn.relu(_coarse_conv(x, kernel, cells.taps, cells.neighbours, groups) + shift))
    parts.append(tf.zeros((batch, 1, c_out), x.dtype))
    return tf.concat(parts, axis=1)


def cells_from_tile_layout(y, plan: ValidCellPlan):
    """The tile layout -> `(B, V, C)` values at the valid cells, in `valid_cells` order."""
    return tf.gather(y, plan.exit, axis=1)


def _coarse_conv(x, kernel, taps: np.ndarray, table: np.ndarray, groups: int):
    """The grouped conv at some cells, from the taps they use: a gather and one matmul per group.

    x `(B, rows, C_in)`, kernel `(k, k, C_in/G, C_out)`, table `(cells, t)` rows of x for
    `taps` `(t,)`. Returns `(B, cells, C_out)` before shift and ReLU.
    """
    k, cg, c_out = int(kernel.shape[0]), int(kernel.shape[2]), int(kernel.shape[3])
    c_in, dg = cg * groups, c_out // groups
    cells, t = table.shape
    weights = tf.gather(tf.reshape(kernel, (k * k, cg, groups, dg)), taps, axis=0)  # (t, cg, G, dg)
    weights = tf.reshape(tf.transpose(weights, (2, 0, 1, 3)), (groups, t * cg, dg))
    flat = table.reshape(-1)

    def convolve(chunk):  # (b, rows, C_in) -> (b, cells, C_out)
        b = tf.shape(chunk)[0]
        g = tf.reshape(tf.gather(chunk, flat, axis=1), (b, cells, t, groups, cg))
        g = tf.reshape(tf.transpose(g, (3, 0, 1, 2, 4)), (groups, b * cells, t * cg))
        out = tf.reshape(tf.matmul(g, weights), (groups, b, cells, dg))
        return tf.reshape(tf.transpose(out, (1, 2, 0, 3)), (b, cells, c_out))

    per_query = cells * t * c_in
    chunk = max(1, COARSE_GATHER_BUDGET // per_query)
    batch = tf.shape(x)[0]
    steps = (batch + chunk - 1) // chunk
    parts = tf.TensorArray(x.dtype, size=steps, infer_shape=False, element_shape=(None, cells, c_out))

    def body(step, parts):
        return step + 1, parts.write(step, convolve(x[step * chunk:(step + 1) * chunk]))

    _, parts = tf.while_loop(lambda step, _: step < steps, body, (tf.constant(0), parts))
    out = parts.concat()
    out.set_shape((None, cells, c_out))
    return out
