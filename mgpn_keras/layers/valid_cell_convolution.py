"""Grouped k x k convolutions evaluated at the valid cells only (the valid-cell layout, Sec. 3.7).

In inference every value the ranker reads depends only on valid cells: each comparison
block's input is zero off the valid cells, and its output is read only at valid cells. So
a k x k grouped convolution needs its outputs at the V valid cells only (428 of Charades-STA
I3D's 1024 cells, 1104 / 4096 on ActivityNet, 2548 / 16384 on TACoS), each reading its
k * k neighbours (zero where a neighbour is not a valid cell).

The valid cells are of two kinds, and each gets the kernel that runs it fastest:

- The band: the cells of the first scale (lengths 1 to num_scale_layers[0] + 1 clips),
  76-100 % of the valid cells. They lie along the diagonal, so `tile_rows` rows of them fit
  in a rectangle of tile_rows x (tile_rows + num_scale_layers[0]) cells, and the band is
  covered by ceil(N / tile_rows) such rectangles. Each rectangle, with its (k - 1)-cell
  halo, is gathered as one small image and the whole batch of them runs through the
  ordinary grouped convolution (oneDNN on CPU, cuDNN on GPU) with "valid" padding: the
  direct kernels' speed, on about 1.2x the band's cells instead of the N x N map.
- The coarse cells (strides 2, 4, ...): few, and most of their k * k neighbours are never
  valid (a stride-4 cell's 7 x 7 window holds at most 2 valid cells). In classes of lengths
  that read the same taps (`_coarse_classes`), each is a gather of just those taps and one
  matmul per group.

Between convolutions the values stay in the "tile layout": the rectangles' outputs
flattened, then each stride's coarse cells, then one zero row that every missing neighbour
reads. Cells of a rectangle outside the band hold values nobody reads.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
from keras import ops

from mgpn_keras.geometry import valid_cells

# Rows of band cells per rectangle. Measured on a 2-core CPU (conv 512 -> 512, 32 groups, 7 x 7,
# batch 32): 4 rows was the fastest on the Charades-STA, ActivityNet and TACoS maps (2 and 6 rows
# within 10 % on TACoS, up to 35 % slower on Charades-STA): taller rectangles waste more cells
# beside the diagonal, shorter ones gather more halo.
DEFAULT_TILE_ROWS = 4
# Coarse cells are convolved a few queries at a time, so that their gathered taps stay below
# this many values (64 MB in float32) whatever the batch.
COARSE_GATHER_BUDGET = 16 * 2 ** 20


def neighbour_table(num_clips: int, num_scale_layers, kernel_size: int) -> np.ndarray:
    """Each valid cell's k x k neighbours, as positions in the valid-cell list.

    Entry `[v, a * k + b]` is the position of cell `(i + a - (k - 1) // 2, j + b - (k - 1) // 2)`,
    where `(i, j)` is valid cell v (`mgpn_keras.geometry.valid_cells` order), or V when
    that cell is outside the map or not a candidate (its value is zero in every block).
    The tap order `(a, b)` is that of a Keras/TensorFlow kernel `(k, k, C_in, C_out)`
    (cross-correlation, `same` padding).

    Returns:
        int32 array `(V, k * k)`.
    """
    start, end = valid_cells(num_clips, num_scale_layers)
    position = np.full((num_clips, num_clips), len(start), np.int32)
    position[start, end] = np.arange(len(start), dtype=np.int32)
    taps = np.arange(kernel_size * kernel_size)
    before = (kernel_size - 1) // 2
    return _lookup(position, start[:, None] + taps // kernel_size - before,
                   end[:, None] + taps % kernel_size - before, len(start))


def _lookup(position: np.ndarray, i: np.ndarray, j: np.ndarray, missing: int) -> np.ndarray:
    """position[i, j] where (i, j) is inside the map, else `missing`."""
    n = position.shape[0]
    inside = (i >= 0) & (i < n) & (j >= 0) & (j < n)
    out = np.full(np.broadcast(i, j).shape, missing, np.int32)
    i, j = np.broadcast_to(i, out.shape), np.broadcast_to(j, out.shape)
    out[inside] = position[i[inside], j[inside]]
    return out


@dataclasses.dataclass(frozen=True)
class CoarseCells:
    """The coarse cells of one stride: which kernel taps they read, and from where.

    taps: `(t,)` the tap indices `a * k + b` valid for some cell of the stride.
    from_cells, from_tiles: `(cells, t)` positions of each cell's neighbours at those taps,
        in the valid-cell list + zero row, and in the tile layout.
    """

    taps: np.ndarray
    from_cells: np.ndarray
    from_tiles: np.ndarray


@dataclasses.dataclass(frozen=True)
class ValidCellPlan:
    """Index tables of the valid-cell convolution for one map geometry and kernel size.

    tiles, tile_rows: number of band rectangles and their rows of output cells.
    tile_input: `(k - 1 + tile_rows, k - 1 + tile_rows + num_scale_layers[0])`, one
        rectangle's input with its halo; tile_output: `(tile_rows, tile_rows + num_scale_layers[0])`.
    input_from_cells, input_from_tiles: `(tiles * prod(tile_input),)` positions of every
        rectangle's input cells in the valid-cell list + zero row (the first convolution)
        and in the tile layout (the others).
    coarse: the coarse cells per stride.
    cells_from_tiles: `(V,)` where each valid cell (`valid_cells` order) is in the tile layout.
    """

    tiles: int
    tile_rows: int
    tile_input: tuple[int, int]
    tile_output: tuple[int, int]
    input_from_cells: np.ndarray
    input_from_tiles: np.ndarray
    coarse: tuple[CoarseCells, ...]
    cells_from_tiles: np.ndarray

    @property
    def tile_cells(self) -> int:
        """Rows of the tile layout taken by the rectangles' outputs."""
        return self.tiles * self.tile_output[0] * self.tile_output[1]


def valid_cell_plan(num_clips: int, num_scale_layers, kernel_size: int,
                    tile_rows: int = DEFAULT_TILE_ROWS) -> ValidCellPlan:
    """The tables that `valid_cell_conv_relu` and `cells_from_tile_layout` read (NumPy, once)."""
    n, k, rows = int(num_clips), int(kernel_size), int(tile_rows)
    scales = [int(c) for c in num_scale_layers]
    if rows < 1:
        raise ValueError(f"tile_rows = {tile_rows}; expected a positive number of rows")
    start, end = valid_cells(n, scales)
    v = len(start)
    length = end - start
    band_width = scales[0] + 1 if scales else 1  # the first scale: lengths 1 .. band_width clips
    before = (k - 1) // 2
    tiles = -(-n // rows)
    out_h, out_w = rows, rows + band_width - 1
    in_h, in_w = out_h + k - 1, out_w + k - 1
    tile_cells = tiles * out_h * out_w

    # Positions in the tile layout: band cells in their rectangle, then the coarse cells.
    band = np.flatnonzero(length < band_width)
    tile_of = start[band] // rows
    in_tiles = np.full(v, -1, np.int64)
    in_tiles[band] = (tile_of * out_h + start[band] - tile_of * rows) * out_w + end[band] - tile_of * rows
    coarse_groups = _coarse_classes(n, scales, k, np.flatnonzero(length >= band_width))
    offset = tile_cells
    for group in coarse_groups:
        in_tiles[group] = offset + np.arange(len(group))
        offset += len(group)
    zero_row = offset  # the tile layout's last row

    from_cells = np.full((n, n), v, np.int32)
    from_cells[start, end] = np.arange(v, dtype=np.int32)
    from_tiles = np.full((n, n), zero_row, np.int32)
    from_tiles[start, end] = in_tiles

    r0 = (np.arange(tiles) * rows)[:, None, None]
    i = r0 - before + np.arange(in_h)[None, :, None]
    j = r0 - before + np.arange(in_w)[None, None, :]
    taps = np.arange(k * k)
    coarse = []
    for group in coarse_groups:
        ci = start[group][:, None] + taps // k - before
        cj = end[group][:, None] + taps % k - before
        by_cells = _lookup(from_cells, ci, cj, v)
        used = np.flatnonzero((by_cells != v).any(axis=0)).astype(np.int32)
        coarse.append(CoarseCells(used, by_cells[:, used], _lookup(from_tiles, ci, cj, zero_row)[:, used]))
    return ValidCellPlan(
        tiles=tiles, tile_rows=rows, tile_input=(in_h, in_w), tile_output=(out_h, out_w),
        input_from_cells=_lookup(from_cells, i, j, v).reshape(-1),
        input_from_tiles=_lookup(from_tiles, i, j, zero_row).reshape(-1),
        coarse=tuple(coarse), cells_from_tiles=in_tiles.astype(np.int32))


def _coarse_classes(num_clips: int, scales, kernel_size: int, coarse: np.ndarray) -> list[np.ndarray]:
    """The coarse cells in classes that read the same kernel taps.

    Cells of one length read the same taps but at the map's edges; the valid ones of a
    length are those valid for some of its cells. Lengths whose taps are the same share a
    class. On TACoS's 620 coarse cells that is 8 classes and 4857 taps read, against
    4788 valid neighbours (and 30380 for all 49 taps).
    """
    start, end = valid_cells(num_clips, scales)
    table = neighbour_table(num_clips, scales, kernel_size)
    missing = len(start)
    by_taps: dict[tuple, list[np.ndarray]] = {}
    length = end[coarse] - start[coarse]
    for value in np.unique(length):
        cells = coarse[length == value]
        used = tuple(np.flatnonzero((table[cells] != missing).any(axis=0)))
        by_taps.setdefault(used, []).append(cells)
    return [np.concatenate(parts) for parts in by_taps.values()]


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


def with_zero_row(x):
    """(B, V, C) values at the valid cells -> (B, V + 1, C), the row a missing neighbour reads."""
    return tf.pad(x, [[0, 0], [0, 1], [0, 0]])


def valid_cell_conv_relu(x, kernel, shift, plan: ValidCellPlan, groups: int, from_cells: bool):
    """ReLU(grouped k x k conv + shift), 'same' padding, at the valid cells.

    Args:
        x: `(B, V + 1, C_in)` (`with_zero_row` of the valid cells) when `from_cells`, else
            the tile layout of the previous convolution.
        kernel, shift: from `fold_batch_norm`.
        plan: `valid_cell_plan(...)` of the geometry and kernel size.
        groups: the convolution's groups.
        from_cells: which of the two layouts `x` is in.

    Returns:
        The tile layout `(B, plan.tile_cells + coarse cells + 1, C_out)` (last row zero);
        `cells_from_tile_layout` reads the valid cells out of it.
    """
    c_in, c_out = int(x.shape[-1]), int(kernel.shape[-1])
    batch = tf.shape(x)[0]
    index = plan.input_from_cells if from_cells else plan.input_from_tiles
    images = tf.reshape(tf.gather(x, index, axis=1), (-1,) + plan.tile_input + (c_in,))
    y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(images, kernel, strides=1, padding="VALID"), shift))
    parts = [tf.reshape(y, (batch, plan.tile_cells, c_out))]
    for cells in plan.coarse:
        table = cells.from_cells if from_cells else cells.from_tiles
        parts.append(tf.nn.relu(_coarse_conv(x, kernel, cells.taps, table, groups) + shift))
    parts.append(tf.zeros((batch, 1, c_out), x.dtype))
    return tf.concat(parts, axis=1)


def cells_from_tile_layout(y, plan: ValidCellPlan):
    """The tile layout -> `(B, V, C)` values at the valid cells, in `valid_cells` order."""
    return tf.gather(y, plan.cells_from_tiles, axis=1)


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
