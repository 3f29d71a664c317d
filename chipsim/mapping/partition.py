"""Which chip of a system holds which layers: a cut of the network where little crosses.

Like splitting a long assembly line between buildings: each building takes a run of stations
in order, and the cost is the goods carried between buildings. The layers, in graph (dataflow)
order, are cut into contiguous runs, one run per chip; a run fits a chip when the strategy
needs no more cores for it than the chip has usable (`Strategy.cores_needed`). Among every cut
into at most as many runs as the system has chips, dynamic programming finds the one that
sends the fewest bits per inference between chips (the message model of
`chipsim.mapping.traffic`, each message counted once per chip boundary it crosses), and of
equal ones the one on the fewest chips. Every cut in graph order, the one that fills each
chip before the next (`fill_order`) among them, is a candidate, so the result never sends
more between chips than that.

Runs go to the chips along a path of the system's topology (a snake through a mesh of chips),
so consecutive runs sit on neighbouring chips. Each chip's run is then placed on it by the
strategy, as on a chip of its own; a layer is never split between chips, so a layer needs to
fit on one chip.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chipsim.arch.faults import usable_cores
from chipsim.mapping.mapping import Mapping, Placement, shape_hash
from chipsim.mapping.tiling import LayerLike
from chipsim.mapping.traffic import Routes


def layer_traffic(layers: Sequence[LayerLike], chip: Any) -> np.ndarray:
    """T[i, j]: bits per inference that layer i sends to layer j (one copy of each, gathered
    outputs sent straight on), by the message model."""
    from chipsim.mapping.strategies.base import units_of

    units = units_of(layers, chip)
    stand_in = Mapping(chip.name, "search", "search",
                       tuple(Placement(block, replica, i) for i, (block, replica) in enumerate(units)),
                       {layer.name: 1 for layer in layers})
    index = {layer.name: i for i, layer in enumerate(layers)}
    t = np.zeros((len(layers), len(layers)))
    for s in Routes(stand_in, layers, chip, via_units=False).per_inference():
        t[index[units[s.src][0].layer], index[units[s.dst][0].layer]] += s.bits
    return t


def cut_bits(traffic: np.ndarray) -> np.ndarray:
    """crossing[p]: bits per inference between layers before p and from p on (either way)."""
    n = len(traffic)
    both = traffic + traffic.T
    np.fill_diagonal(both, 0.0)
    return np.array([both[:p, p:].sum() for p in range(n + 1)])


def runs(strategy: Any, layers: Sequence[LayerLike], chip: Any) -> list[int]:
    """longest[i]: how many layers from layer i on fit one chip together (0: layer i alone
    does not)."""
    room = len(usable_cores(chip))
    longest = []
    for i in range(len(layers)):
        j = i
        while j < len(layers) and strategy.cores_needed(layers[i:j + 1], chip) <= room:
            j += 1
        longest.append(j - i)
    return longest


def fill_order(longest: Sequence[int]) -> list[tuple[int, int]]:
    """Runs [start, stop) that fill each chip before the next (the naive split)."""
    cuts, i = [], 0
    while i < len(longest):
        cuts.append((i, i + longest[i]))
        i += longest[i]
    return cuts


def best_cut(crossing: np.ndarray, longest: Sequence[int], chips: int) -> list[tuple[int, int]] | None:
    """Runs [start, stop) on at most `chips` chips sending the fewest bits between chips (of
    equal ones, on the fewest chips); None when no cut fits."""
    n = len(longest)
    inf = float("inf")
    # cost[k][j]: fewest crossing bits with layers[:j] on k chips; back[k][j]: start of the last run
    cost = [[inf] * (n + 1) for _ in range(chips + 1)]
    back = [[-1] * (n + 1) for _ in range(chips + 1)]
    cost[0][0] = 0.0
    for k in range(1, chips + 1):
        for i in range(n):
            if cost[k - 1][i] == inf:
                continue
            here = cost[k - 1][i] + (crossing[i] if i else 0.0)
            for j in range(i + 1, i + longest[i] + 1):
                if here < cost[k][j]:
                    cost[k][j], back[k][j] = here, i
    options = [(cost[k][n], k) for k in range(1, chips + 1) if cost[k][n] < inf]
    if not options:
        return None
    _, k = min(options)
    cuts, j = [], n
    while k:
        i = back[k][j]
        cuts.append((i, j))
        j, k = i, k - 1
    return cuts[::-1]


def chip_path(system: Any) -> list[int]:
    """The chips in an order in which each is a neighbour of the one before (a snake through a
    mesh of chips; 0, 1, 2, ... otherwise)."""
    if system.topology != "mesh2d":
        return list(range(system.count))
    cols = system.grid_cols
    rows = system.count // cols
    return [r * cols + (c if r % 2 == 0 else cols - 1 - c) for r in range(rows) for c in range(cols)]


def _alone_too_big(strategy: Any, layers: Sequence[LayerLike], chip: Any, longest: Sequence[int]) -> str:
    i = list(longest).index(0)
    need = strategy.cores_needed(layers[i:i + 1], chip)
    return (f"layer {layers[i].name!r} alone needs {need} cores, more than the "
            f"{len(usable_cores(chip))} usable cores of one {chip.name}, and chips take whole "
            "layers")


def chips_needed_hint(strategy: Any, layers: Sequence[LayerLike], chip: Any) -> str:
    """What a network too large for `chip` would need: '... 3 chips: use --chips 3'."""
    longest = runs(strategy, layers, chip)
    if 0 in longest:
        return _alone_too_big(strategy, layers, chip, longest)
    need = len(fill_order(longest))
    return (f"it would need {need} chips of {chip.name}: use --chips {need} (or a --system file "
            f"of {need} chips)")


def place_on_system(strategy: Any, layers: Sequence[LayerLike], system_chip: Any, graph: str) -> Mapping:
    """Partition `layers` between the system's chips, place each chip's run with `strategy`,
    and number the cores in the system's pool."""
    from chipsim.mapping.strategies.base import DoesNotFit

    system = system_chip.system
    chip = system.chip
    longest = runs(strategy, layers, chip)
    if 0 in longest:
        raise DoesNotFit(f"{graph} does not fit system {system_chip.name}: "
                         + _alone_too_big(strategy, layers, chip, longest))
    cuts = best_cut(cut_bits(layer_traffic(layers, chip)), longest, system.count)
    if cuts is None:
        need = len(fill_order(longest))
        raise DoesNotFit(f"{graph} does not fit system {system_chip.name}: it needs {need} chips "
                         f"of {chip.name} ({strategy.name} placement), the system has "
                         f"{system.count}: use --chips {need} (or a --system file of {need} chips)")
    return place_runs(strategy, layers, system_chip, cuts, graph)


def place_runs(strategy: Any, layers: Sequence[LayerLike], system_chip: Any,
               cuts: Sequence[tuple[int, int]], graph: str) -> Mapping:
    """Each run [start, stop) of layers placed by `strategy` on the next chip along the
    system's path, cores numbered in the pool."""
    system = system_chip.system
    chip, per_chip = system.chip, system.cores_per_chip
    placements: list[Placement] = []
    replication: dict[str, int] = {}
    for (start, stop), k in zip(cuts, chip_path(system)):
        part = strategy.place_chip(layers[start:stop], chip, graph=graph)
        replication.update(part.replication)
        placements += [Placement(p.block, p.replica, k * per_chip + p.core, p.row_offset,
                                 p.col_offset, p.calibration) for p in part.placements]
    return Mapping(chip=system_chip.name, strategy=strategy.name, graph=graph,
                   placements=tuple(placements),
                   replication={layer.name: replication.get(layer.name, 1) for layer in layers},
                   graph_hash=shape_hash(layers), cores_per_chip=per_chip)


def interchip_bits(routes: Routes, chip: Any, sends: Sequence[Any] | None = None) -> float:
    """Bits per inference x chip-to-chip links crossed (on the fewest chip links between the
    two chips); 0 on a single chip."""
    system = getattr(chip, "system", None)
    if system is None:
        return 0.0
    import networkx as nx

    chips = nx.Graph(list(system.chip_links))
    chips.add_nodes_from(range(system.count))
    hops = dict(nx.all_pairs_shortest_path_length(chips))
    sends = routes.per_inference() if sends is None else sends
    return float(sum(s.bits * hops[chip.chip_of_node(s.src)][chip.chip_of_node(s.dst)] for s in sends))
