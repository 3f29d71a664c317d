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
strategy, as on a chip of its own. A layer larger than one chip is a run of its own over as
many chips as its blocks need, one block per usable core in block order, chip after chip (its
partial sums then cross chips too), whatever the strategy.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from chipsim.arch.faults import usable_cores
from chipsim.mapping.mapping import Mapping, Placement, shape_hash
from chipsim.mapping.tiling import LayerLike
from chipsim.mapping.traffic import Routes


class Run(NamedTuple):
    """Layers [start, stop) on the next `chips` chips (more than one: a layer too large for one)."""

    start: int
    stop: int
    chips: int


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


def spread_chips(layer: LayerLike, chip: Any) -> int:
    """Chips a layer too large for one takes: one block per usable core, chip after chip."""
    from chipsim.mapping.strategies.base import units_of

    return -(-len(units_of([layer], chip)) // len(usable_cores(chip)))


def _steps(longest: Sequence[int], layers: Sequence[LayerLike], chip: Any, i: int):
    """(stop, chips) of every run that may start at layer i."""
    if longest[i] == 0:  # a layer larger than a chip takes chips of its own
        return [(i + 1, spread_chips(layers[i], chip))]
    return [(j, 1) for j in range(i + 1, i + longest[i] + 1)]


def fill_order(longest: Sequence[int], layers: Sequence[LayerLike], chip: Any) -> list[Run]:
    """Runs that fill each chip before the next (the naive split)."""
    cuts, i = [], 0
    while i < len(longest):
        stop, width = _steps(longest, layers, chip, i)[-1]
        cuts.append(Run(i, stop, width))
        i = stop
    return cuts


def best_cut(crossing: np.ndarray, longest: Sequence[int], layers: Sequence[LayerLike], chip: Any,
             chips: int) -> list[Run] | None:
    """Runs on at most `chips` chips sending the fewest bits between chips (of equal ones, on
    the fewest chips); None when no cut fits."""
    n = len(longest)
    inf = float("inf")
    # cost[k][j]: fewest crossing bits with layers[:j] on k chips; back[k][j]: the last run
    cost = [[inf] * (n + 1) for _ in range(chips + 1)]
    back: list[list[Run | None]] = [[None] * (n + 1) for _ in range(chips + 1)]
    cost[0][0] = 0.0
    for k in range(chips):
        for i in range(n):
            if cost[k][i] == inf:
                continue
            here = cost[k][i] + (crossing[i] if i else 0.0)
            for j, width in _steps(longest, layers, chip, i):
                if k + width <= chips and here < cost[k + width][j]:
                    cost[k + width][j], back[k + width][j] = here, Run(i, j, width)
    options = [(cost[k][n], k) for k in range(1, chips + 1) if cost[k][n] < inf]
    if not options:
        return None
    _, k = min(options)
    cuts, j = [], n
    while k:
        run = back[k][j]
        cuts.append(run)
        j, k = run.start, k - run.chips
    return cuts[::-1]


def chip_path(system: Any) -> list[int]:
    """The chips in an order in which each is a neighbour of the one before (a snake through a
    mesh of chips; 0, 1, 2, ... otherwise)."""
    if system.topology != "mesh2d":
        return list(range(system.count))
    cols = system.grid_cols
    rows = system.count // cols
    return [r * cols + (c if r % 2 == 0 else cols - 1 - c) for r in range(rows) for c in range(cols)]


def chips_needed(strategy: Any, layers: Sequence[LayerLike], chip: Any) -> int:
    """The fewest chips of `chip` that hold `layers` under `strategy`'s placement."""
    return sum(run.chips for run in fill_order(runs(strategy, layers, chip), layers, chip))


def chips_needed_hint(strategy: Any, layers: Sequence[LayerLike], chip: Any) -> str:
    """What a network too large for `chip` would need: '... 3 chips: use --chips 3'."""
    need = chips_needed(strategy, layers, chip)
    return (f"it would need {need} chips of {chip.name}: use --chips {need} (or a --system file "
            f"of {need} chips)")


def place_on_system(strategy: Any, layers: Sequence[LayerLike], system_chip: Any, graph: str) -> Mapping:
    """Partition `layers` between the system's chips, place each chip's run with `strategy`,
    and number the cores in the system's pool."""
    from chipsim.mapping.strategies.base import DoesNotFit

    system = system_chip.system
    chip = system.chip
    longest = runs(strategy, layers, chip)
    cuts = best_cut(cut_bits(layer_traffic(layers, chip)), longest, layers, chip, system.count)
    if cuts is None:
        need = chips_needed(strategy, layers, chip)
        raise DoesNotFit(f"{graph} does not fit system {system_chip.name}: it needs {need} chips "
                         f"of {chip.name} ({strategy.name} placement), the system has "
                         f"{system.count}: use --chips {need} (or a --system file of {need} chips)")
    return place_runs(strategy, layers, system_chip, cuts, graph)


def place_runs(strategy: Any, layers: Sequence[LayerLike], system_chip: Any,
               cuts: Sequence[Run], graph: str) -> Mapping:
    """Each run of layers placed by `strategy` on the next chip along the system's path (a
    layer larger than a chip: one block per usable core, over its chips in turn), cores
    numbered in the pool."""
    from chipsim.mapping.strategies.base import units_of

    system = system_chip.system
    chip, per_chip = system.chip, system.cores_per_chip
    path, usable = chip_path(system), usable_cores(chip)
    placements: list[Placement] = []
    replication: dict[str, int] = {}
    cursor = 0
    for run in cuts:
        part = layers[run.start:run.stop]
        if run.chips == 1:
            placed = strategy.place_chip(part, chip, graph=graph)
            replication.update(placed.replication)
            k = path[cursor]
            placements += [Placement(p.block, p.replica, k * per_chip + p.core, p.row_offset,
                                     p.col_offset, p.calibration) for p in placed.placements]
        else:  # one layer larger than a chip (`spread_chips`)
            for b, (block, replica) in enumerate(units_of(part, chip)):
                k = path[cursor + b // len(usable)]
                placements.append(Placement(block, replica, k * per_chip + usable[b % len(usable)]))
        cursor += run.chips
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
