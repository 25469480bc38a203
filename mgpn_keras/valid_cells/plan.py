"""Index tables of the valid-cell convolution (`valid_cells/convolution.py`), NumPy only.

A k x k grouped convolution evaluated at the valid cells only reads, for each valid cell, its
k * k neighbours (zero where a neighbour is not a valid cell). The valid cells are of two kinds:

- The band: the cells of the first scale (lengths 1 to num_scale_layers[0] + 1 clips),
  76-100 % of the valid cells. They lie along the diagonal, so `tile_rows` rows of them fit
  in a rectangle of tile_rows x (tile_rows + num_scale_layers[0]) cells, and ceil(N / tile_rows)
  such rectangles cover the band. Each rectangle with its (k - 1)-cell halo is one small image
  for the ordinary grouped convolution with "valid" padding.
- The coarse cells (strides 2, 4, ...): few, and most of their k * k neighbours are never
  valid (a stride-4 cell's 7 x 7 window holds at most 2 valid cells). In classes of lengths
  that read the same taps (`_coarse_classes`), each is a gather of just those taps.

Every convolution reads and writes the "tile layout": the rectangles' outputs flattened,
then the coarse cells class by class, then one zero row that every missing neighbour reads.
Cells of a rectangle outside the band hold values nobody reads. One gather (`entry`) puts
the valid-cell list into it before the first convolution, one (`exit`) takes it out after
the last.

This module imports no TensorFlow, so `valid_cells.layout` can weigh the plan's work.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mgpn_keras.valid_cells.geometry import cell_positions, valid_cells

# Rows of band cells per rectangle. Measured on a 2-core CPU (conv 512 -> 512, 32 groups, 7 x 7,
# batch 32): 4 rows was the fastest on the Charades-STA, ActivityNet and TACoS maps (2 and 6 rows
# within 10 % on TACoS, up to 35 % slower on Charades-STA): taller rectangles waste more cells
# beside the diagonal, shorter ones gather more halo.
DEFAULT_TILE_ROWS = 4


def neighbour_table(num_clips: int, num_scale_layers, kernel_size: int) -> np.ndarray:
    """Each valid cell's k x k neighbours, as positions in the valid-cell list.

    Entry `[v, a * k + b]` is the position of cell `(i + a - (k - 1) // 2, j + b - (k - 1) // 2)`,
    where `(i, j)` is valid cell v (`geometry.valid_cells` order), or V when
    that cell is outside the map or not a candidate (its value is zero in every block).
    The tap order `(a, b)` is that of a Keras/TensorFlow kernel `(k, k, C_in, C_out)`
    (cross-correlation, `same` padding).

    Returns:
        int32 array `(V, k * k)`.
    """
    start, end = valid_cells(num_clips, num_scale_layers)
    taps = np.arange(kernel_size * kernel_size)
    before = (kernel_size - 1) // 2
    return _lookup(cell_positions(num_clips, num_scale_layers),
                   start[:, None] + taps // kernel_size - before,
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
    """One class of coarse cells (lengths that read the same taps): which taps, and from where.

    taps: `(t,)` the tap indices `a * k + b` valid for some cell of the class.
    neighbours: `(cells, t)` rows of the tile layout holding each cell's neighbours at those
        taps (the zero row for a missing one).
    """

    taps: np.ndarray
    neighbours: np.ndarray


@dataclasses.dataclass(frozen=True)
class Rectangles:
    """Band rectangles of one shape, run as one batch of images through the convolution.

    tiles: how many; output: `(rows, width)` cells each; input: `(rows + k - 1, width + k - 1)`
    with the halo.
    input_rows: `(tiles * prod(input),)` rows of the tile layout holding their input cells
        (the zero row for a cell that is not a candidate).
    """

    tiles: int
    output: tuple[int, int]
    input: tuple[int, int]
    input_rows: np.ndarray

    @property
    def cells(self) -> int:
        return self.tiles * self.output[0] * self.output[1]


@dataclasses.dataclass(frozen=True)
class ValidCellPlan:
    """Index tables of the valid-cell convolution for one map geometry and kernel size.

    kernel_size: k.
    tile_rows: rows of band cells per rectangle.
    rectangles: the band's rectangles: tile_rows x (tile_rows + num_scale_layers[0]) cells
        along the diagonal, then, where those would overhang the map's last column, narrower
        ones as wide as the map's remaining columns.
    coarse: the coarse cells, in classes that read the same taps.
    entry: `(rows,)` for each row of the tile layout, the valid cell it starts with (V, the
        zero row appended to the valid-cell list, for the zero row and for the rectangles'
        cells outside the band).
    exit: `(V,)` the row of each valid cell (`valid_cells` order) in the tile layout.
    """

    kernel_size: int
    tile_rows: int
    rectangles: tuple[Rectangles, ...]
    coarse: tuple[CoarseCells, ...]
    entry: np.ndarray
    exit: np.ndarray

    @property
    def tile_cells(self) -> int:
        """Rows of the tile layout taken by the rectangles' outputs."""
        return sum(r.cells for r in self.rectangles)

    @property
    def computed_cells(self) -> float:
        """The convolution's work in cells of k * k taps: the rectangles' outputs, and the
        coarse cells' taps over k * k (the dense layout's work is N * N)."""
        full = self.kernel_size ** 2
        return self.tile_cells + sum(c.neighbours.size for c in self.coarse) / full


def valid_cell_plan(num_clips: int, num_scale_layers, kernel_size: int,
                    tile_rows: int = DEFAULT_TILE_ROWS) -> ValidCellPlan:
    """The tables that `valid_cells.convolution` reads (NumPy, once)."""
    n, k, rows = int(num_clips), int(kernel_size), int(tile_rows)
    scales = [int(c) for c in num_scale_layers]
    if rows < 1:
        raise ValueError(f"tile_rows = {tile_rows}; expected a positive number of rows")
    start, end = valid_cells(n, scales)
    v = len(start)
    length = end - start
    band_width = scales[0] + 1 if scales else 1  # the first scale: lengths 1 .. band_width clips
    before = (k - 1) // 2

    # Rectangles: rows [r0, r0 + rows) x columns [r0, r0 + width); full width = rows + band
    # width - 1. From the first one that overhangs the map's last column on, the rest are only
    # as wide as the columns left after it (16 instead of 19 columns on Charades-STA's 32 clips).
    full = rows + band_width - 1
    first_rows = np.arange(0, n, rows)
    overhang = np.flatnonzero(first_rows + full > n)
    shapes = [(first_rows, full)]
    if len(overhang) and n - first_rows[overhang[0]] < full:
        cut = overhang[0]
        shapes = [(first_rows[:cut], full), (first_rows[cut:], int(n - first_rows[cut]))]
    shapes = [(r, w) for r, w in shapes if len(r)]

    # Positions in the tile layout: band cells in their rectangle, then the coarse cells.
    band = np.flatnonzero(length < band_width)
    in_tiles = np.full(v, -1, np.int64)
    offsets = np.cumsum([0] + [len(r0) * rows * width for r0, width in shapes])
    for (r0, width), offset in zip(shapes, offsets):
        mine = band[np.isin(start[band] // rows * rows, r0)]
        tile = np.searchsorted(r0, start[mine] // rows * rows)
        top = r0[tile]
        in_tiles[mine] = offset + (tile * rows + start[mine] - top) * width + end[mine] - top
    offset = int(offsets[-1])
    table = neighbour_table(n, scales, k)
    coarse_groups = _coarse_classes(table, length, np.flatnonzero(length >= band_width))
    for group in coarse_groups:
        in_tiles[group] = offset + np.arange(len(group))
        offset += len(group)
    zero_row = offset  # the tile layout's last row

    # Every table below is a position in the valid-cell list (`cell_positions`, `table`),
    # renumbered into the tile layout: position v -> row in_tiles[v], V -> the zero row.
    renumber = np.append(in_tiles, zero_row).astype(np.int32)
    positions = cell_positions(n, scales)
    rectangles = []
    for r0, width in shapes:
        in_h, in_w = rows + k - 1, width + k - 1
        i = r0[:, None, None] - before + np.arange(in_h)[None, :, None]
        j = r0[:, None, None] - before + np.arange(in_w)[None, None, :]
        rectangles.append(Rectangles(
            tiles=len(r0), output=(rows, width), input=(in_h, in_w),
            input_rows=renumber[_lookup(positions, i, j, v).reshape(-1)]))
    coarse = []
    for group in coarse_groups:
        by_cells = table[group]
        used = np.flatnonzero((by_cells != v).any(axis=0)).astype(np.int32)
        coarse.append(CoarseCells(used, renumber[by_cells[:, used]]))
    entry = np.full(zero_row + 1, v, np.int32)
    entry[in_tiles] = np.arange(v, dtype=np.int32)
    return ValidCellPlan(kernel_size=k, tile_rows=rows, rectangles=tuple(rectangles),
                         coarse=tuple(coarse), entry=entry, exit=in_tiles.astype(np.int32))


def _coarse_classes(table: np.ndarray, length: np.ndarray, coarse: np.ndarray) -> list[np.ndarray]:
    """The coarse cells in classes that read the same kernel taps.

    Cells of one length read the same taps but at the map's edges; the valid ones of a
    length are those valid for some of its cells. Lengths whose taps are the same share a
    class. On TACoS's 620 coarse cells that is 8 classes and 4857 taps read, against
    4788 valid neighbours (and 30380 for all 49 taps).

    Args:
        table: `neighbour_table(...)`, `(V, k * k)`; length: `(V,)` end - start of each cell;
        coarse: the coarse cells' positions in the valid-cell list.
    """
    missing = len(table)
    by_taps: dict[tuple, list[np.ndarray]] = {}
    for value in np.unique(length[coarse]):
        cells = coarse[length[coarse] == value]
        used = tuple(np.flatnonzero((table[cells] != missing).any(axis=0)))
        by_taps.setdefault(used, []).append(cells)
    return [np.concatenate(parts) for parts in by_taps.values()]
