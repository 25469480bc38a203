"""The valid cells of the 2D moment map (paper Sec. 3.4, 3.7): their geometry, the valid-cell
layout's convolution and its tables, and the choice of layout.

Three index spaces:

- the dense map: `(N, N)` cells, (i, j) = the moment from clip i to the end of clip j; the
  "dense" layout's `(batch, N, N, C)` tensors, zero off the candidates.
- the cell list: the V candidate cells in row-major order (`geometry.valid_cells`), the
  "valid_cells" layout's `(batch, V, C)` tensors. `geometry.cell_positions` is the one table
  from map cells to list positions (V where a cell is not a candidate); every other table
  is derived from it.
- the tile layout: inside the valid-cell convolution only, the band's rectangles flattened,
  then the coarse cells, then a zero row (`plan`); `convolution.tile_layout_from_cells` enters
  it once before the first convolution, `convolution.cells_from_tile_layout` leaves it.

Modules:
    geometry     the cell list, `cell_positions`, the mask, cell times, the range-max tables.
    scatter      cell list <-> dense map: `scatter_to_map` and `gather_valid`.
    plan         the convolution's tables (NumPy only, no TensorFlow).
    convolution  the grouped k x k convolution at the valid cells (TensorFlow).
    layout       which layout a model gets ("auto", `resolve_layout`, `check_layout`).

The layout choice lists (`LAYOUTS`, `LAYOUT_SETTINGS`, `VALID_CELL_COMPARISONS`) are in
`mgpn_keras.config`. This package imports only config and itself. `import
mgpn_keras.valid_cells` loads none of its modules; `geometry`, `plan` and `layout` need no
TensorFlow (`scatter` uses keras.ops, `convolution` TensorFlow).
"""
