"""What the network must do, from first principles: zero-load latency and the channel-load bound.

Both come from the routes the simulator takes (`Fabric.path`) and the pattern's traffic matrix
T, never from the simulator's measurements.

Zero-load latency. A packet alone in the network crosses H links at `hop_latency_cycles` L each
(router and link together, see `chipsim.noc.router`), and its tail follows its head by
flits - 1 cycles, so it is delivered H L + (flits - 1) cycles after it was created. Averaged over
the pattern (every source injects equally, source s sends to d with probability T[s, d]):

    T0 = mean hops x L + flits - 1,   mean hops = (1/N) sum_s sum_d T[s, d] H(s, d).

Channel-load bound (Dally and Towles, ch. 3). With every core offering lambda flits per cycle,
channel c carries lambda x gamma_c flits per cycle, gamma_c = sum over (s, d) whose route
crosses c of T[s, d]. No channel carries more than one flit per cycle, so no pattern can be
sustained above lambda* = 1 / max_c gamma_c flits per node per cycle. The channels counted are
the links, the injection ports (gamma = 1) and the ejection ports (gamma_d = sum_s T[s, d]). For
uniform traffic on a k x k mesh under XY routing the busiest links are the row links across the
bisection, each carrying (k/2 sources) x (half the destinations) = k/4 x lambda, so the bound is
4/k (0.5 flits per node per cycle on 8 x 8); a test holds this.
"""

from __future__ import annotations

import numpy as np

from chipsim.noc.fabric import Fabric


def mean_hops(fabric: Fabric, matrix: np.ndarray) -> float:
    """Links a packet crosses on average, every source injecting equally."""
    return float((matrix * fabric.hops).sum() / fabric.nodes)


def zero_load_latency(fabric: Fabric, matrix: np.ndarray, packet_flits: int) -> float:
    """Cycles from a packet's creation to its tail's ejection in an otherwise empty network."""
    return mean_hops(fabric, matrix) * fabric.hop_latency + packet_flits - 1


def channel_loads(fabric: Fabric, matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Flits per cycle each channel carries per flit per cycle offered by every core.

    Returns `links` (one per `fabric.channels`), `injection` and `ejection` (one per core).
    """
    n = fabric.nodes
    links = np.zeros(fabric.link_count)
    for s in range(n):
        for d in range(n):
            if matrix[s, d] > 0:
                for c in fabric.path(s, d):
                    links[c] += matrix[s, d]
    return {"links": links, "injection": np.ones(n), "ejection": matrix.sum(axis=0)}


def channel_load_bound(fabric: Fabric, matrix: np.ndarray) -> float:
    """The highest offered rate (flits per node per cycle) no channel exceeds: 1 / max load."""
    loads = channel_loads(fabric, matrix)
    return float(1.0 / max(float(part.max()) for part in loads.values() if part.size))
