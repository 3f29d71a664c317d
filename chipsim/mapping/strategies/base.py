"""What every placement strategy shares: one verb, `place(layers, chip) -> Mapping`.

A strategy decides two things: how many copies of each layer to make (replication) and where
each block of each copy goes (core and crossbar corner). The helpers here do the bookkeeping
so each strategy module holds only its own idea.

Strategies number cores 0, 1, ... over the chip's usable cores only (`usable_cores`: all of
them unless the chip's faults kill some or cut them off); `build` turns those numbers into the
cores' ids, so no strategy ever places on a dead or unreachable core.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from chipsim.arch.faults import describe_unusable, usable_cores
from chipsim.errors import MappingError
from chipsim.mapping.mapping import Mapping, Placement, shape_hash
from chipsim.mapping.tiling import LayerLike, tile
from chipsim.mapping.traffic import Unit

STRATEGIES: dict[str, "Strategy"] = {}


class Strategy:
    """Base of the strategies; subclasses set `name` and implement `place`."""

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        STRATEGIES[cls.name] = cls()

    def place(self, layers: Sequence[LayerLike], chip: Any, *, graph: str = "network") -> Mapping:
        """Place `layers` on a chip, or on a system of chips (`chipsim.arch.system`): there runs
        of layers go to chips first (`chipsim.mapping.partition`), then each chip's layers are
        placed on it by this strategy. A network too large for one chip is refused with the
        number of chips it would need."""
        if getattr(chip, "system", None) is not None:
            from chipsim.mapping.partition import place_on_system
            return place_on_system(self, layers, chip, graph)
        try:
            return self.place_chip(layers, chip, graph=graph)
        except DoesNotFit as err:
            from chipsim.mapping.partition import chips_needed_hint
            raise DoesNotFit(f"{err}; {chips_needed_hint(self, layers, chip)}") from None

    def place_chip(self, layers: Sequence[LayerLike], chip: Any, *, graph: str = "network") -> Mapping:
        """This strategy's placement on one chip (subclasses implement it)."""
        raise NotImplementedError

    def cores_needed(self, layers: Sequence[LayerLike], chip: Any) -> int:
        """Usable cores `place_chip` needs for `layers` at least: one per block, unless the
        strategy shares crossbars."""
        return len(units_of(layers, chip))


class DoesNotFit(MappingError):
    """A network that needs more cores than the chip (or each chip of a system) has."""


def units_of(layers: Sequence[LayerLike], chip: Any, replication: dict[str, int] | None = None) -> list[Unit]:
    """Every (block, replica) to place, in dataflow order: layer, then copy, then block."""
    if not layers:
        raise MappingError("graph has no weight layers to map")
    replication = replication or {}
    return [(block, replica)
            for layer in layers
            for replica in range(replication.get(layer.name, 1))
            for block in tile(layer, chip.cores.rows, chip.cores.cols)]


def require_cores(needed: int, chip: Any, graph: str, why: str) -> None:
    """MappingError when `needed` cores exceed the chip's usable ones."""
    usable = len(usable_cores(chip))
    if needed > usable:
        lost = describe_unusable(chip)
        has = f"the chip has {usable} usable of {chip.cores.count} ({lost})" if lost else \
            f"the chip has {chip.cores.count}"
        raise DoesNotFit(f"{graph} does not fit chip {chip.name}: it needs {needed} cores ({why}), "
                         f"{has}")


def build(strategy: str, layers: Sequence[LayerLike], chip: Any, graph: str, units: Sequence[Unit],
          cores: Sequence[int], offsets: Sequence[tuple[int, int]] | None = None,
          replication: dict[str, int] | None = None) -> Mapping:
    """Assemble a Mapping from units and where they went (one per core unless offsets are
    given); `cores` count the usable cores (`usable_cores`), the mapping holds their ids."""
    replication = replication or {}
    usable = usable_cores(chip)
    cores = [usable[int(core)] for core in cores]
    offsets = offsets or [(0, 0)] * len(units)
    return Mapping(
        chip=chip.name, strategy=strategy, graph=graph, graph_hash=shape_hash(layers),
        replication={layer.name: replication.get(layer.name, 1) for layer in layers},
        placements=tuple(Placement(block, replica, int(core), row, col)
                         for (block, replica), core, (row, col) in zip(units, cores, offsets)),
    )
