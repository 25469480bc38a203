"""Choice comparison on the valid cells only, for sparse inference (Sec. 3.7).

In inference, every value the ranker reads depends only on valid cells: each block's
input is masked to zero off the valid cells, and its output is read only at valid cells.
So the k x k grouped convolutions need their outputs at the V valid cells only, each of
which reads its k * k neighbours (a zero where the neighbour is not a valid cell or lies
outside the map). That is a gather through a neighbour-index table and one matmul per
group: 2548 of TACoS's 16384 cells (428 / 1024 on Charades, 1104 / 4096 on ActivityNet).
"""

import numpy as np
import keras
import tensorflow as tf
from keras import ops

from mgpn_keras.geometry import valid_cells
from mgpn_keras.layers.group_conv_comparison import GroupConvComparison


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


@keras.saving.register_keras_serializable(package="mgpn_keras")
class SparseGroupConvComparison(GroupConvComparison):
    """`GroupConvComparison` in inference, computed at the V valid cells only.

    The same maths as the dense layer with `training=False`, and the same arguments,
    weights and sublayer names (`mix`, `conv_1..4`, `norm_1..4`), so weights copy across.
    Inference only: BatchNorm uses its moving statistics and is folded into the
    convolution (`kernel * gamma / sqrt(var + eps)`), which is exact up to float
    rounding. Training needs the dense layer, whose BatchNorm statistics cover every cell.

    Each block works in a group-major layout `(groups, batch, V + 1, C / groups)` whose
    last row is zero: a gather through `neighbour_table` gives each valid cell's
    `k * k * C_in / groups` inputs of one group, and a matmul with that group's kernel
    `(k * k * C_in / groups, C_out / groups)` gives its outputs. Groups run one step of
    `groups_per_step` at a time, so at most `(batch, V * k * k, groups_per_step * C_in /
    groups)` gathered values exist at once (0.26 GB for TACoS at batch 32 with one group
    per step), not the `(batch, V, k * k, C_in)` of all groups (8.2 GB).

    Args:
        hidden_size, num_clips, num_scale_layers, groups, kernel_size,
        synchronized_batch_norm: as for `GroupConvComparison`.
        groups_per_step: groups gathered and multiplied together; divides `groups`.

    Input: `[fused (batch, V, 2C), boundary (batch, V, C), content (batch, V, C)]`, the
        valid cells in `mgpn_keras.geometry.valid_cells` order.
    Output: `(batch, V, C)`.
    """

    def __init__(self, hidden_size, num_clips, num_scale_layers, groups=32, kernel_size=7,
                 synchronized_batch_norm=False, groups_per_step=1, **kwargs):
        super().__init__(hidden_size, num_clips, num_scale_layers, groups, kernel_size,
                         synchronized_batch_norm, **kwargs)
        self.groups_per_step = int(groups_per_step)
        if self.groups_per_step < 1 or self.groups % self.groups_per_step:
            raise ValueError(f"SparseGroupConvComparison {self.name}: groups_per_step = "
                             f"{groups_per_step} must be a positive divisor of groups = {self.groups}")
        self._table = neighbour_table(self.num_clips, self.num_scale_layers, self.kernel_size)
        self._cells = self._table.shape[0]  # V

    def _folded(self, conv, norm, dtype):
        """The block's conv + BatchNorm as one grouped kernel `(G, k*k*C_in/G, C_out/G)`
        and shift `(G, 1, C_out/G)`."""
        scale = ops.cast(norm.moving_variance, "float32") + norm.epsilon
        scale = ops.rsqrt(scale)
        if norm.scale:
            scale = scale * ops.cast(norm.gamma, "float32")
        shift = (ops.cast(conv.bias, "float32") - ops.cast(norm.moving_mean, "float32")) * scale
        if norm.center:
            shift = shift + ops.cast(norm.beta, "float32")
        kernel = ops.cast(conv.kernel, "float32") * scale  # (k, k, C_in/G, C_out)
        g = self.groups
        c_in, c_out = int(conv.kernel.shape[2]), int(conv.kernel.shape[3]) // g
        kernel = ops.reshape(kernel, (self.kernel_size ** 2 * c_in, g, c_out))
        kernel = ops.transpose(kernel, (1, 0, 2))  # (G, k*k*C_in/G, C_out/G)
        shift = ops.reshape(shift, (g, 1, c_out))
        return ops.cast(kernel, dtype), ops.cast(shift, dtype)

    def _block(self, x, kernel, shift):
        """One conv + BN + ReLU block. x: (G, B, V + 1, C_in/G) with a zero last row;
        returns (G, B, V + 1, C_out/G), again with a zero last row."""
        g, step, cells = self.groups, self.groups_per_step, self._cells
        taps = self._table.reshape(-1)  # (V * k * k,)
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

        y = tf.map_fn(one_step, (x, kernel, shift), fn_output_signature=x.dtype,
                      parallel_iterations=1)
        return tf.reshape(y, (g, batch, cells + 1, c_out))

    def call(self, inputs, training=None):
        if training:
            raise ValueError(f"{type(self).__name__} {self.name} computes inference only "
                             "(BatchNorm on moving statistics); train the dense model from "
                             "mgpn_keras.model.build_mgpn")
        fused, boundary, content = inputs
        z = ops.concatenate([fused, boundary, content], axis=-1)  # (B, V, 4C)
        x = ops.relu(self.mix(z)) + fused  # (B, V, 2C)
        g, cells = self.groups, self._cells
        batch = tf.shape(x)[0]
        # group-major (G, B, V + 1, 2C/G): channel g * (2C/G) + c is channel c of group g
        x = tf.reshape(x, (batch, cells, g, x.shape[-1] // g))
        x = tf.pad(tf.transpose(x, (2, 0, 1, 3)), [[0, 0], [0, 0], [0, 1], [0, 0]])
        for conv, norm in zip(self.convs, self.norms):
            kernel, shift = self._folded(conv, norm, x.dtype)
            x = self._block(x, kernel, shift)
        x = tf.transpose(x[:, :, :cells], (1, 2, 0, 3))  # (B, V, G, C/G)
        return tf.reshape(x, (batch, cells, self.hidden_size))  # (B, V, C)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self._cells, self.hidden_size)

    def get_config(self):
        config = super().get_config()
        config.update(groups_per_step=self.groups_per_step)
        return config
