"""The on-chip network: packets travelling between cores and digital units, flit by flit.

Picture a city grid of one-lane roads between neighbouring cores. A message (a row of
activations, a block of partial sums) is cut into flits as wide as the road (`link_width_bits`).
Each road ends in a parking lot of `network.buffer_depth_flits` places (the input buffer of the
next router); the crossing upstream holds one ticket (a credit) per free place, sends a flit only
with a ticket, and gets the ticket back `hop_latency_cycles` after the flit leaves the lot. The
rules are those of the flit simulator of `chipsim noc` (`chipsim.noc.router`), wormhole switching
with credit-based flow control:

- a flit that crosses a link at cycle t lands in the next router's input buffer at
  t + latency and may leave it in that cycle; a link carries one flit per cycle;
- a packet holds a link from its head flit to its tail flit (wormhole: no other packet's flits
  in between), and a router's input buffer is first in, first out;
- the flit at position s of a link's stream needs the credit of the flit at s - depth: it
  crosses at least `latency` cycles after that one left the buffer. A packet whose head waits
  for a busy link therefore fills the buffers behind it and stops its upstream links: the
  back-pressure reaches its source, whose output port (the injection port) stays busy;
- every node has one injection port (its packets leave one after the other, in the order they
  were sent) and one ejection port (one packet at a time, one flit per cycle), as in `noc`.

A packet alone in the network is delivered (its tail flit ejected) hops x latency + flits - 1
cycles after it was sent; the model reports it as arrived the cycle after (all its bits are in
the destination's memory then). A link runs at full rate when depth >= 2 x latency.

Arbitration: packets are booked in the order they are sent, each from the flits already booked
ahead of it, so that booking one never moves another. A packet that can stream unhindered (flit
k crosses hop i at head + i lat + k) through the gaps that the bookings of older packets leave
on its links and ejection port takes them, from its first cycle or, if that delivers it sooner,
after waiting at its source for the gap; the gaps come from the last 8 bookings each link
remembers. Otherwise it queues behind them (the older packet gets the link first). This passes
no older packet: on links at full rate (depth >= 2 x latency) the credits a gap's flits take
are back before a later booking's flits need them, and its flits have left every buffer before
the later ones land. The routers of `chipsim noc` arbitrate cycle by cycle instead (round robin
or oldest first, as the description says); the two agree wherever packets reach each link in
the order they were sent, and `chipsim noc --model event` runs this model on the same synthetic
traffic to measure how close it comes elsewhere (docs/validation.md). The
arithmetic is compiled (`chipsim.kernels.flits`): a few operations per hop for a packet that
meets no other (the common case), a closed form over the hops otherwise (the flit times of a
packet repeat with period depth once the effects of the packets ahead have passed).

Routes come from the description: dimension-ordered XY on a 2-D mesh of cores
(`chipsim.noc.fabric` builds the same table for `chipsim noc`), otherwise the shortest path on
the topology graph. Each directed link counts the flits it carried (busy cycles, every input
streamed), the cycles packets held it (`held_cycles`: busy plus the cycles a blocked packet
kept it) and the bits it carried for the user's inputs, the ones the ledger bills:
timing-only inputs (`pipeline.py`) send the same messages and are left out of traffic as of
energy, so bits / inputs is the traffic of one inference. The bit-hops of each layer are charged
to the ledger at the description's energy per bit per hop (`charge`, called at the end of a run,
so a packet costs no ledger call of its own).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import networkx as nx
import numpy as np

from chipsim.kernels.flits import BUSY, FREE, HELD, JOBS, new_state, send_packet
from chipsim.timing.energy import EnergyLedger
from chipsim.timing.trace import Trace


class Link:
    """A directed link's figures, read from the network's state: when it is next free, the
    flits it carried (`busy_cycles`), the cycles packets held it, its packets and the bits it
    carried for the user's inputs."""

    __slots__ = ("name", "_net", "_row")

    def __init__(self, name: object, net: "Network", row: int) -> None:
        self.name, self._net, self._row = name, net, row

    free_at = property(lambda self: int(self._net._state[self._row, FREE]))
    busy_cycles = property(lambda self: int(self._net._state[self._row, BUSY]))
    held_cycles = property(lambda self: int(self._net._state[self._row, HELD]))
    jobs = property(lambda self: int(self._net._state[self._row, JOBS]))
    bits = property(lambda self: float(self._net._bits[self._row]))


class Network:
    """Links of the chip's topology graph with finite buffers and credits, routes and energy."""

    def __init__(self, graph: nx.Graph, routing: str, pj_per_bit_hop: float,
                 ledger: EnergyLedger, trace: Trace,
                 positions: dict[Any, tuple[int, int]] | None = None,
                 buffer_depth: int = 4) -> None:
        self.graph = graph
        self.routing = routing
        self.pj_per_bit_hop = pj_per_bit_hop
        self.ledger = ledger
        self.trace = trace
        self.positions = positions or {}
        self._at = {pos: node for node, pos in self.positions.items()}
        self.depth = int(buffer_depth)
        widths = {int(d["width_bits"]) for _, _, d in graph.edges(data=True)} or {1}
        latencies = {int(d["latency_cycles"]) for _, _, d in graph.edges(data=True)} or {1}
        if len(widths) > 1 or len(latencies) > 1:
            raise ValueError("the timed network takes links of one width and one latency")
        self.width, self.latency = widths.pop(), latencies.pop()
        # a link's credits come back too late for it to stream at one flit a cycle
        self._credit_bound = 2 * self.latency > self.depth
        directed = [(a, b) for u, v in graph.edges() for a, b in ((u, v), (v, u))]
        # the state's rows: the directed links, then every node's ejection port
        self._eject_row = {node: len(directed) + k for k, node in enumerate(graph.nodes)}
        self._state = new_state(len(directed) + len(self._eject_row), self.depth)
        self._bits = np.zeros(len(self._state))
        self.links: dict[tuple[Any, Any], Any] = {
            link: Link(link, self, row) for row, link in enumerate(directed)}
        self.injection = {node: 0 for node in graph.nodes}  # cycle each output port is free
        self._routes = np.zeros((64, 18), dtype=np.int64)  # grown as routes come
        self._times = np.zeros((2, 18), dtype=np.int64)
        self._paths: dict[tuple[Any, Any], tuple[int, int, list[str]]] = {}
        self._bit_hops: defaultdict[str, float] = defaultdict(float)

    def route(self, src: Any, dst: Any) -> list[tuple[Any, Any]]:
        """The directed links a packet from `src` to `dst` crosses, in order."""
        nodes = self._xy(src, dst) if self.routing == "xy" else None
        if nodes is None:
            nodes = nx.shortest_path(self.graph, src, dst)
        return list(zip(nodes[:-1], nodes[1:]))

    def _xy(self, src: Any, dst: Any) -> list[Any] | None:
        """Along the row first (X), then along the column (Y); None off the grid."""
        if src not in self.positions or dst not in self.positions:
            return None
        (r, c), (r1, c1) = self.positions[src], self.positions[dst]
        nodes = [src]
        while c != c1:
            c += 1 if c1 > c else -1
            nodes.append(self._at[(r, c)])
        while r != r1:
            r += 1 if r1 > r else -1
            nodes.append(self._at[(r, c)])
        for a, b in zip(nodes[:-1], nodes[1:]):
            if (a, b) not in self.links:
                return None  # the mesh lacks this link: fall back to the graph
        return nodes

    def _path(self, src: Any, dst: Any) -> tuple[int, int, list[str]]:
        """(row of the route in `_routes`, hops, the links' trace names), made once."""
        links = self.route(src, dst)
        pid = len(self._paths)
        if pid == len(self._routes) or len(links) + 2 > self._routes.shape[1]:
            grown = np.zeros((2 * len(self._routes), max(self._routes.shape[1], len(links) + 2)),
                             dtype=np.int64)
            grown[:pid, :self._routes.shape[1]] = self._routes[:pid]
            self._routes = grown
            self._times = np.zeros((2, grown.shape[1]), dtype=np.int64)
        self._routes[pid, :2] = len(links), self._eject_row[dst]
        self._routes[pid, 2:2 + len(links)] = [self.links[link]._row for link in links]
        path = self._paths[(src, dst)] = (pid, len(links), [f"{a}->{b}" for a, b in links])
        return path

    def port_free(self, node: Any) -> int:
        """The cycle `node`'s output port has sent every flit handed to it so far."""
        return self.injection[node]

    def send(self, now: int, src: Any, dst: Any, bits: float, layer: str, inference: int,
             port: Any = None) -> int:
        """Send a packet of `bits` from `src` at `now`; returns the cycle after its last flit
        was ejected at `dst` (`now` itself when there is nothing to send). It enters the
        network through `src`'s output port, or through the injection port `port` (a key of
        `injection`) beside it."""
        if src == dst or bits <= 0:
            return now
        pid, hops, names = self._paths.get((src, dst)) or self._path(src, dst)
        flits = -(-int(bits) // self.width)
        if port is None:
            port = src
        head = self.injection[port]
        if head < now:
            head = now
        counted = inference < self.ledger.real_inputs  # `EnergyLedger.counts`, inlined
        times = self._times
        self.injection[port], arrived = send_packet(
            self._state, self._bits, self._routes, pid, head, flits, self.latency, self.depth,
            self._credit_bound, bits if counted else 0.0, times)
        if counted:
            self._bit_hops[layer] += bits * hops
        if inference < self.trace.max_inputs:  # `Trace.wants`, inlined
            span = self.trace.span
            for i in range(hops):
                start = int(times[0, i])
                span("link", names[i], layer, start, int(times[1, i]) - start, inference,
                     bits=bits, flits=flits)
        return int(arrived)

    def charge(self) -> None:
        """Charge the bit-hops counted so far to the ledger (per layer), then reset them."""
        for layer, bit_hops in self._bit_hops.items():
            self.ledger.charge("network", layer, "network", bit_hops * self.pj_per_bit_hop)
        self._bit_hops.clear()

    def link_report(self, total_cycles: int) -> list[dict[str, Any]]:
        """Per directed link that carried anything: bits of the user's inputs, packets, busy
        cycles (flits), held cycles (busy plus cycles blocked packets kept it) and utilization
        (busy cycles of every input streamed over the run's cycles)."""
        rows = []
        for link, ch in self.links.items():
            if ch.jobs:
                rows.append({"link": f"{link[0]}->{link[1]}", "bits": ch.bits,
                             "packets": ch.jobs, "busy_cycles": ch.busy_cycles,
                             "held_cycles": ch.held_cycles,
                             "utilization": ch.busy_cycles / max(1, total_cycles)})
        return rows
