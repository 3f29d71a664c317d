"""Tiling: cutting a layer's weight matrix into crossbar-sized blocks.

A crossbar holds at most `rows x cols` weights, so a larger matrix is cut like a sheet cake
into a grid of blocks: the last row and column of blocks take what is left. Each block is
computed by one crossbar; blocks in the same block column produce partial sums of the same
outputs, which the core holding the top block adds up.

A grouped or depthwise conv's matrix is block-diagonal (`chipsim.graph.lower`): everything off
its groups' diagonal rectangles is zero. Its blocks are cut along group boundaries instead: as
many whole groups as fit share one crossbar on disjoint rows and columns, and the all-zero
blocks between them are never made, placed or counted (a depthwise 3 x 3 conv of 960 channels:
35 blocks of 28 channels, not 136 block-diagonal ones of which 101 hold nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


class LayerLike(Protocol):
    """What mapping needs of a `chipsim.graph.MatrixLayer`."""

    name: str
    rows: int
    cols: int
    mvms: int
    sources: Sequence[str]
    # and optionally `groups`: a grouped conv's groups (1 when absent), see `groups_of`


@dataclass(frozen=True, order=True)
class Block:
    """A rectangle of one layer's weight matrix: rows [row_start, row_stop), cols [col_start, col_stop)."""

    layer: str
    row_start: int
    row_stop: int
    col_start: int
    col_stop: int

    @property
    def rows(self) -> int:
        return self.row_stop - self.row_start

    @property
    def cols(self) -> int:
        return self.col_stop - self.col_start

    @property
    def cells(self) -> int:
        return self.rows * self.cols


def groups_of(layer: LayerLike) -> int:
    """A layer's groups: >1 for a grouped conv, whose matrix is block-diagonal; 1 otherwise
    (and for layer-like objects that do not say)."""
    return getattr(layer, "groups", 1)


def tile(layer: LayerLike, rows: int, cols: int) -> list[Block]:
    """Cut `layer`'s matrix into blocks of at most rows x cols, row-block by row-block; a
    grouped layer's along its groups (`grouped_blocks`)."""
    if groups_of(layer) > 1:
        return grouped_blocks(layer, rows, cols)
    return _grid(layer.name, 0, layer.rows, 0, layer.cols, rows, cols)


def grouped_blocks(layer: LayerLike, rows: int, cols: int) -> list[Block]:
    """The blocks of a block-diagonal matrix: n whole groups per block (the most that fit in
    rows and in cols), each block holding its groups' diagonal rectangles only; a group larger
    than a crossbar is cut as a grid of its own. No block is all zeros."""
    groups = groups_of(layer)
    g_rows, g_cols = layer.rows // groups, layer.cols // groups
    if g_rows <= rows and g_cols <= cols:
        n = min(rows // g_rows, cols // g_cols)
        return [Block(layer.name, g * g_rows, min(g + n, groups) * g_rows,
                      g * g_cols, min(g + n, groups) * g_cols) for g in range(0, groups, n)]
    return [block for g in range(groups)
            for block in _grid(layer.name, g * g_rows, (g + 1) * g_rows, g * g_cols,
                               (g + 1) * g_cols, rows, cols)]


def _grid(name: str, r0: int, r1: int, c0: int, c1: int, rows: int, cols: int) -> list[Block]:
    """The rectangle [r0, r1) x [c0, c1) cut into blocks of at most rows x cols."""
    return [Block(name, r, min(r + rows, r1), c, min(c + cols, c1))
            for r in range(r0, r1, rows) for c in range(c0, c1, cols)]


def weight_cells(block: Block, layer: LayerLike) -> int:
    """Cells of `block` that hold weights: all of them, or for a grouped layer those on its
    groups' diagonal rectangles (the rest are structural zeros)."""
    groups = groups_of(layer)
    if groups == 1:
        return block.cells
    g_rows, g_cols = layer.rows // groups, layer.cols // groups
    total = 0
    for g in range(block.row_start // g_rows, (block.row_stop - 1) // g_rows + 1):
        r = min(block.row_stop, (g + 1) * g_rows) - max(block.row_start, g * g_rows)
        c = min(block.col_stop, (g + 1) * g_cols) - max(block.col_start, g * g_cols)
        total += r * max(c, 0)
    return total


def tile_all(layers: Sequence[LayerLike], rows: int, cols: int) -> dict[str, list[Block]]:
    """Every layer's blocks, keyed by layer name, in the layers' order."""
    return {layer.name: tile(layer, rows, cols) for layer in layers}
