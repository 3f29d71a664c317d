"""Tiling: cutting a layer's weight matrix into crossbar-sized blocks.

A crossbar holds at most `rows x cols` weights, so a larger matrix is cut like a sheet cake
into a grid of blocks: the last row and column of blocks take what is left. Each block is
computed by one crossbar; blocks in the same block column produce partial sums of the same
outputs, which the core holding the top block adds up.
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


def tile(layer: LayerLike, rows: int, cols: int) -> list[Block]:
    """Cut `layer`'s matrix into blocks of at most rows x cols, row-block by row-block."""
    return [
        Block(layer.name, r, min(r + rows, layer.rows), c, min(c + cols, layer.cols))
        for r in range(0, layer.rows, rows)
        for c in range(0, layer.cols, cols)
    ]


def tile_all(layers: Sequence[LayerLike], rows: int, cols: int) -> dict[str, list[Block]]:
    """Every layer's blocks, keyed by layer name, in the layers' order."""
    return {layer.name: tile(layer, rows, cols) for layer in layers}
