"""Evolutionary search on the surrogate, under the constraints a chip architect sets.

Regularized evolution (Real et al. 2019), as AnalogNAS searches: a population from a Latin
hypercube; each step picks the best of a few random members, mutates one gene, and the child
replaces the oldest member. A candidate's fitness is its predicted 1-day accuracy, or nothing
when it breaks a constraint: more weights than `max_weights`, more cores than `max_cores`
(counted by mapping its matrices, known before training), or a predicted 30-day drop above
`max_drop`. Every candidate seen is remembered; the best feasible ones are returned for real
evaluation.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from chipsim.nas.space import Architecture, latin_hypercube, mutate, weights
from chipsim.nas.surrogate import Surrogate


@dataclass(frozen=True)
class Constraints:
    max_weights: int | None = None
    max_cores: int | None = None
    max_drop: float | None = None


def search(surrogate: Surrogate, constraints: Constraints, cores: Callable[[Architecture], int],
           *, population: int = 50, iterations: int = 500, sample: int = 5, top: int = 3,
           seed: int = 0) -> list[tuple[Architecture, float]]:
    """The `top` feasible candidates with the best predicted 1-day accuracy, best first."""
    rng = np.random.default_rng(seed)
    seen: dict[Architecture, float] = {}

    def fitness(arch: Architecture) -> float:
        if arch not in seen:
            seen[arch] = _fitness(arch, surrogate, constraints, cores)
        return seen[arch]

    members = deque(latin_hypercube(population, seed + 1))
    for arch in members:
        fitness(arch)
    for _ in range(iterations):
        picks = [members[int(i)] for i in rng.integers(len(members), size=sample)]
        parent = max(picks, key=fitness)
        members.append(mutate(parent, rng))
        fitness(members[-1])
        members.popleft()
    feasible = sorted(((a, f) for a, f in seen.items() if np.isfinite(f)),
                      key=lambda af: (-af[1], af[0].name()))
    return feasible[:top]


def _fitness(arch: Architecture, surrogate: Surrogate, c: Constraints,
             cores: Callable[[Architecture], Any]) -> float:
    if c.max_weights is not None and weights(arch) > c.max_weights:
        return -np.inf
    if c.max_cores is not None and cores(arch) > c.max_cores:
        return -np.inf
    rank, drop = surrogate.predict([arch])
    if c.max_drop is not None and drop[0] > c.max_drop:
        return -np.inf
    return float(rank[0])
