"""Synthetic traffic: who sends to whom (a pattern), and when (Bernoulli injection).

A pattern is a traffic matrix T: T[s, d] is the fraction of source s's packets that go to d (each
row sums to 1). The simulator draws destinations from T and `chipsim.noc.theory` computes the
zero-load latency and the channel-load bound from the same T, so theory and measurement speak
of the same traffic. Patterns, following Dally and Towles (Principles and Practices of
Interconnection Networks, ch. 3):

- `uniform`: every core equally likely, the source itself included (1/N each); a packet to its
  own core goes straight from injection to ejection (0 hops).
- `transpose`: the core at floorplan place (row, col) sends everything to the core at (col, row);
  cores on the diagonal send to themselves. Needs a square floorplan.
- `hotspot`: a fraction (default 0.1) of every core's packets go to one hot core, the rest
  uniformly as above. The hot core is the network's centre: least total hops to all cores,
  lowest id on a tie (core 27, row 3 col 3, on an 8 x 8 mesh).
- `neighbour`: each packet goes to one of the source's directly linked cores, equally likely.

Injection is Bernoulli: in every cycle each core starts a new packet with probability
rate / packet_flits, so it offers `rate` flits per cycle on average. The random numbers are a
pure function of (seed, block of 1024 cycles): a given seed yields the same packets whatever the
run length, and runs at different rates see the same draws (common random numbers), which keeps
a latency-against-load curve smooth.
"""

from __future__ import annotations

import numpy as np

from chipsim.arch.schema import Chip
from chipsim.errors import NocError
from chipsim.noc.fabric import Fabric

PATTERNS = ("uniform", "transpose", "hotspot", "neighbour")
HOTSPOT_FRACTION = 0.1
BLOCK = 1024  # cycles of random numbers drawn at once


def traffic_matrix(pattern: str, chip: Chip, fabric: Fabric,
                   hotspot_fraction: float = HOTSPOT_FRACTION) -> np.ndarray:
    """(N, N) float array T of the pattern: T[s, d] = share of s's packets sent to d."""
    n = fabric.nodes
    if pattern == "uniform":
        return np.full((n, n), 1.0 / n)
    if pattern == "transpose":
        where = {chip.core_position(v): v for v in range(n)}
        matrix = np.zeros((n, n))
        for v in range(n):
            r, c = chip.core_position(v)
            if (c, r) not in where:
                raise NocError(f"transpose traffic needs a square floorplan: {chip.name} has no "
                               f"core at (row {c}, col {r}) for core {v} at (row {r}, col {c})")
            matrix[v, where[(c, r)]] = 1.0
        return matrix
    if pattern == "hotspot":
        if not 0.0 <= hotspot_fraction <= 1.0:
            raise NocError(f"hotspot fraction must lie in [0, 1], got {hotspot_fraction}")
        matrix = np.full((n, n), (1.0 - hotspot_fraction) / n)
        matrix[:, hot_core(fabric)] += hotspot_fraction
        return matrix
    if pattern == "neighbour":
        matrix = np.zeros((n, n))
        for src, dst in fabric.channels:
            matrix[src, dst] = 1.0
        return matrix / matrix.sum(axis=1, keepdims=True)
    raise NocError(f"unknown traffic pattern {pattern!r}; patterns: {', '.join(PATTERNS)}")


def hot_core(fabric: Fabric) -> int:
    """The network's centre: the core with the fewest hops to all others, lowest id on a tie."""
    return int(np.argmin(fabric.hops.sum(axis=1)))


class BernoulliTraffic:
    """Packets (source, destination) created in each cycle, from a seed.

    `at(t)` lists the packets created in cycle t, sources in increasing order.
    """

    def __init__(self, matrix: np.ndarray, rate: float, packet_flits: int, seed: int):
        if not 0.0 < rate <= 1.0:
            raise NocError(f"injection rate must lie in (0, 1] flits per node per cycle, got {rate}")
        self.matrix = matrix
        self.probability = rate / packet_flits
        self.seed = seed
        self._cdf = np.cumsum(matrix, axis=1)
        # rounding can leave a row's sum a hair below 1: the top draws go to its last target
        self._last = np.array([np.flatnonzero(row)[-1] for row in matrix])
        self._block = -1
        self._packets: list[list[tuple[int, int]]] = []

    def at(self, t: int) -> list[tuple[int, int]]:
        block, offset = divmod(t, BLOCK)
        if block != self._block:
            self._packets = self._draw(block)
            self._block = block
        return self._packets[offset]

    def _draw(self, block: int) -> list[list[tuple[int, int]]]:
        n = self.matrix.shape[0]
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, block])))
        start = rng.random((BLOCK, n)) < self.probability
        pick = rng.random((BLOCK, n))
        cycles, sources = np.nonzero(start)
        u = pick[cycles, sources]
        dests = np.minimum((u[:, None] >= self._cdf[sources]).sum(axis=1), self._last[sources])
        packets: list[list[tuple[int, int]]] = [[] for _ in range(BLOCK)]
        for t, s, d in zip(cycles.tolist(), sources.tolist(), dests.tolist()):
            packets[t].append((s, d))
        return packets
