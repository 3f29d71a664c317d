"""Cores a candidate takes, before it is trained: its matrices mapped as the evaluation maps
the trained network (the `packed` strategy), so a core budget can steer the search."""

from __future__ import annotations

from typing import Any, NamedTuple

from chipsim.nas.space import Architecture, matrices


class _Matrix(NamedTuple):
    """What a strategy needs of a layer: its name, shape, and MVMs (one, unused by packing)."""

    name: str
    rows: int
    cols: int
    mvms: int = 1
    sources: tuple = ()


def packed_cores(arch: Architecture, chip: Any) -> int:
    """Cores of `chip` the packed mapping of `arch` takes (count + 1 where it does not fit)."""
    from chipsim.errors import MappingError
    from chipsim.mapping import STRATEGIES

    layers = [_Matrix(f"m{i}", r, c) for i, (r, c) in enumerate(matrices(arch))]
    try:
        return STRATEGIES["packed"].place(layers, chip).cores_used
    except MappingError:
        return chip.cores.count + 1  # does not fit: more than the chip has
