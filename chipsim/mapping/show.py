"""Pictures of a mapping for people: a per-core table and a PNG of the core grid.

The picture draws each core where it sits on the die (`chip.core_position`) as a square
standing for its crossbar; each placed block is a rectangle at its rows and columns, coloured
by layer, so shared crossbars and empty cores show at a glance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chipsim.mapping.mapping import Mapping

# Paul Tol's "muted" qualitative scheme: distinguishable with every common colour-vision deficiency.
PALETTE = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499")
HATCHES = ("", "//", "..", "xx")  # second, third, ... round through the palette


def core_table(mapping: Mapping, chip: Any) -> str:
    """One line per placement, grouped by core: layer, block ranges, replica, crossbar cell use."""
    cells = chip.cores.rows * chip.cores.cols
    head = ("core", "tile", "layer", "rows", "cols", "replica", "cells %")
    rows = []
    tile_id = {id(p): i for i, p in enumerate(mapping.placements)}
    for core, placed in mapping.by_core().items():
        use = sum(p.block.cells for p in placed) / cells
        for n, p in enumerate(placed):
            b = p.block
            rows.append((str(core) if n == 0 else "", str(tile_id[id(p)]), b.layer,
                         f"{b.row_start}:{b.row_stop}", f"{b.col_start}:{b.col_stop}", str(p.replica),
                         f"{100 * use:.1f}" if n == 0 else ""))
    width = [max(len(r[k]) for r in [head, *rows]) for k in range(len(head))]
    line = lambda r: "  ".join(v.rjust(w) if k in (0, 1, 5, 6) else v.ljust(w)
                               for k, (v, w) in enumerate(zip(r, width))).rstrip()
    free = chip.cores.count - mapping.cores_used
    return "\n".join([line(head), *map(line, rows), f"{mapping.cores_used} cores used, {free} free"])


def draw_cores(mapping: Mapping, chip: Any, path: str | Path) -> Path:
    """Save a PNG of the core grid coloured by layer; returns its path."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    rows, cols = chip.cores.rows, chip.cores.cols
    positions = {core: chip.core_position(core) for core in range(chip.cores.count)}
    grid_rows = 1 + max(r for r, _ in positions.values())
    grid_cols = 1 + max(c for _, c in positions.values())
    layers = list(dict.fromkeys(p.block.layer for p in mapping.placements))
    style = {name: (PALETTE[k % len(PALETTE)], HATCHES[(k // len(PALETTE)) % len(HATCHES)])
             for k, name in enumerate(layers)}

    fig = Figure(figsize=(1.0 + 0.8 * grid_cols + 2.5, 1.0 + 0.8 * grid_rows))
    ax = fig.add_subplot()
    for core, (r, c) in positions.items():
        ax.add_patch(Rectangle((c, r), 0.9, 0.9, facecolor="#F2F2F2", edgecolor="#777777", lw=0.6))
        ax.text(c + 0.86, r + 0.86, str(core), fontsize=6, va="bottom", ha="right", color="#222222", zorder=3,
                bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 0.6})
    for p in mapping.placements:
        r, c = positions[p.core]
        colour, hatch = style[p.block.layer]
        ax.add_patch(Rectangle((c + 0.9 * p.col_offset / cols, r + 0.9 * p.row_offset / rows),
                               0.9 * p.block.cols / cols, 0.9 * p.block.rows / rows,
                               facecolor=colour, hatch=hatch, edgecolor="white", lw=0.4))
    ax.set_xlim(-0.1, grid_cols)
    ax.set_ylim(grid_rows, -0.1)  # row 0 at the top, as on the die plot
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{mapping.graph} on {mapping.chip}: {mapping.strategy}, "
                 f"{mapping.cores_used}/{chip.cores.count} cores", fontsize=9)
    handles = [Patch(facecolor=style[n][0], hatch=style[n][1], edgecolor="white",
                     label=f"{n} x{mapping.replication.get(n, 1)}" if mapping.replication.get(n, 1) > 1 else n)
               for n in layers]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path
