"""Locality placement: put blocks that talk a lot on cores close together.

Like seating a wedding: guests who talk most sit at neighbouring tables. The cost is the
hop-weighted traffic of `chipsim.mapping.traffic` (bits x hops per inference). Two starting
plans are refined by local search: the sequential one, and a greedy one that walks the
dataflow and puts each block on the free core nearest (in traffic-weighted hops) to the blocks
already placed. Local search moves a block to a free core or swaps two blocks whenever that
lowers the cost, until no single move or swap helps. The cheaper result wins, so locality is
never worse than sequential. No random numbers are drawn: the result depends only on the
inputs. Plans are compared, the in-order one among them, on the full message model
(`chipsim.mapping.traffic`, global units included) that `chipsim map` reports.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chipsim.mapping.mapping import Mapping
from chipsim.mapping.strategies.base import Strategy, build, require_cores, units_of
from chipsim.mapping.tiling import LayerLike
from chipsim.mapping.traffic import Routes, Unit, hop_matrix, traffic_matrix

MAX_PASSES = 50  # each pass tries every block on every core; a pass that finds nothing stops it


class Locality(Strategy):
    name = "locality"

    def place_chip(self, layers: Sequence[LayerLike], chip: Any, *, graph: str = "network") -> Mapping:
        units = units_of(layers, chip)
        require_cores(len(units), chip, graph, f"{len(units)} blocks, one per core")
        return build(self.name, layers, chip, graph, units, arrange(units, layers, {}, chip))


def arrange(units: Sequence[Unit], layers: Sequence[LayerLike], replication: dict[str, int],
            chip: Any) -> np.ndarray:
    """Cores (one unit per core) with low hop-weighted traffic; never worse than in-order cores.

    The search moves blocks on the traffic between blocks; the plans it finds and the in-order
    one are then costed with every message, those through global units too, and the cheapest
    wins (the first of equals)."""
    traffic = traffic_matrix(units, layers, replication, chip)
    hops = hop_matrix(chip).astype(float)
    talk = traffic + traffic.T
    np.fill_diagonal(talk, 0.0)  # a block's messages to itself never leave its core
    in_order = np.arange(len(units))
    plans = [in_order, improve(in_order, talk, hops), improve(greedy(talk, hops), talk, hops)]
    costs = [Routes(build("search", layers, chip, "search", units, plan, replication=replication),
                    layers, chip).hop_weighted() for plan in plans]
    return plans[int(np.argmin(costs))]


def greedy(talk: np.ndarray, hops: np.ndarray) -> np.ndarray:
    """Walk units in dataflow order; each takes the free core cheapest to reach its placed partners."""
    n, count = len(talk), len(hops)
    cores = np.full(n, -1)
    free = np.ones(count, dtype=bool)
    for u in range(n):
        placed = cores[:u]
        cost = hops[:, placed] @ talk[u, :u]        # traffic-weighted hops to placed partners
        spread = hops[:, placed].sum(axis=1)        # tie-break: stay compact
        order = np.lexsort((np.arange(count), spread, cost))
        cores[u] = next(c for c in order if free[c])
        free[cores[u]] = False
    return cores


def improve(cores: np.ndarray, talk: np.ndarray, hops: np.ndarray) -> np.ndarray:
    """Best-improvement local search over moves to free cores and pairwise swaps."""
    cores = cores.copy()
    n, count = len(cores), len(hops)
    for _ in range(MAX_PASSES):
        changed = False
        for u in range(n):
            owner = np.full(count, -1)
            owner[cores] = np.arange(n)
            # pull[w, c]: traffic-weighted hops from unit w to everyone if w sat on core c
            pull = talk @ hops[cores, :]
            here = cores[u]
            delta = pull[u] - pull[u, here]                 # move u to c (others stay)
            taken = owner >= 0
            w = owner[taken]
            delta[taken] += talk[u, w] * hops[here, taken]  # u's partner w moves away too
            delta[taken] += pull[w, here] - pull[w, cores[w]] + talk[w, u] * hops[taken, here]
            delta[here] = 0.0
            best = int(np.argmin(delta))
            if delta[best] < -1e-9 * max(1.0, abs(pull[u, here])):
                other = owner[best]
                if other >= 0:
                    cores[other] = here
                cores[u] = best
                changed = True
        if not changed:
            break
    return cores
