"""Checks that a Mapping fits its chip and covers its graph.

A mapping is valid when every copy of every layer's matrix is covered exactly once by blocks
(a grouped layer's: every weight on its groups' diagonal; its structural zeros may be left out),
every block lies inside a real core's crossbar, and blocks that share a crossbar use disjoint
rows AND disjoint columns. The last rule is what lets blocks share a core safely: a row drives
current into every column it crosses, and a column sums the current of every row it crosses,
so two blocks that share neither can be driven in the same MVM cycle and each ADC column still
reads exactly one block's dot product.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from chipsim.errors import MappingError
from chipsim.mapping.mapping import Mapping
from chipsim.mapping.tiling import LayerLike, groups_of, weight_cells


def check_mapping(mapping: Mapping, chip: Any, layers: Sequence[LayerLike], where: str = "mapping") -> None:
    """Raise MappingError("<where>: <entry>: ...") at the first thing that does not fit."""
    by_name = {layer.name: layer for layer in layers}
    count, rows, cols = chip.cores.count, chip.cores.rows, chip.cores.cols

    for name, copies in mapping.replication.items():
        if name not in by_name:
            raise MappingError(f"{where}: replication.{name}: unknown layer {name!r} ({_known(by_name)})")
        if copies < 1:
            raise MappingError(f"{where}: replication.{name}: expected at least 1 copy, got {copies}")

    for i, p in enumerate(mapping.placements):
        b, at = p.block, f"{where}: placements[{i}]"
        layer = by_name.get(b.layer)
        if layer is None:
            raise MappingError(f"{at}.layer: unknown layer {b.layer!r} ({_known(by_name)})")
        for axis, start, stop, size in (("rows", b.row_start, b.row_stop, layer.rows),
                                        ("cols", b.col_start, b.col_stop, layer.cols)):
            if not 0 <= start < stop <= size:
                raise MappingError(f"{at}.{axis}: [{start}, {stop}] is not a non-empty range inside "
                                   f"layer {b.layer!r} ({axis} 0..{size})")
        copies = mapping.replication.get(b.layer, 1)
        if not 0 <= p.replica < copies:
            raise MappingError(f"{at}.replica: replica {p.replica} does not exist "
                               f"(layer {b.layer!r} has {copies} {'copy' if copies == 1 else 'copies'})")
        if not 0 <= p.core < count:
            raise MappingError(f"{at}.core: core {p.core} does not exist (chip has {count})")
        for axis, offset, extent, size in (("row_offset", p.row_offset, b.rows, rows),
                                           ("col_offset", p.col_offset, b.cols, cols)):
            if offset < 0 or offset + extent > size:
                raise MappingError(f"{at}.{axis}: a block of {extent} {axis[:3]}s at offset {offset} "
                                   f"does not fit the crossbar ({size} {axis[:3]}s)")

    _check_sharing(mapping, where)
    _check_coverage(mapping, layers, where)


def check_usable(mapping: Mapping, chip: Any, where: str = "mapping") -> None:
    """MappingError naming the first placement on a core the chip's faults made unusable
    (dead, or cut off by broken links): a run that needs its results cannot be timed."""
    from chipsim.arch.faults import unusable_cores

    lost = unusable_cores(chip)
    for i, p in enumerate(mapping.placements):
        if p.core in lost:
            cores = sorted({q.core for q in mapping.placements if q.core in lost})
            raise MappingError(f"{where}: placements[{i}]: core {p.core} is {lost[p.core]} on this "
                               f"chip (the mapping uses unusable cores {', '.join(map(str, cores))}); "
                               f"remap with the faults (chipsim map --faults FILE)")


def _check_sharing(mapping: Mapping, where: str) -> None:
    on_core: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(mapping.placements):
        for j in on_core[p.core]:
            q = mapping.placements[j]
            shared = [axis for axis, a, b in (("rows", p.row_range, q.row_range), ("columns", p.col_range, q.col_range))
                      if a[0] < b[1] and b[0] < a[1]]
            if shared:
                what = "overlaps" if len(shared) == 2 else f"shares crossbar {shared[0]} with"
                raise MappingError(f"{where}: placements[{i}]: {what} placements[{j}] on core {p.core} "
                                   "(blocks sharing a core must use disjoint rows and disjoint columns)")
        on_core[p.core].append(i)


def _check_coverage(mapping: Mapping, layers: Sequence[LayerLike], where: str) -> None:
    pieces: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, p in enumerate(mapping.placements):
        pieces[p.block.layer, p.replica].append(i)
    for layer in layers:
        for replica in range(mapping.replication.get(layer.name, 1)):
            idx = pieces.get((layer.name, replica), [])
            for n, i in enumerate(idx):
                a = mapping.placements[i].block
                for j in idx[:n]:
                    b = mapping.placements[j].block
                    if a.row_start < b.row_stop and b.row_start < a.row_stop \
                            and a.col_start < b.col_stop and b.col_start < a.col_stop:
                        raise MappingError(f"{where}: placements[{i}]: block overlaps placements[{j}] "
                                           f"(both hold weights of layer {layer.name!r}, replica {replica})")
            covered = sum(weight_cells(mapping.placements[i].block, layer) for i in idx)
            groups = groups_of(layer)
            if covered != layer.rows * layer.cols // groups:
                shape = f"{layer.rows}x{layer.cols}" + (f" in {groups} groups"
                                                        if groups > 1 else "")
                raise MappingError(f"{where}: placements: blocks missing for layer {layer.name!r} replica "
                                   f"{replica}: they cover {covered} of its {shape} weights")


def _known(by_name: dict) -> str:
    names = list(by_name)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"graph has {len(names)} layers: {shown}"
