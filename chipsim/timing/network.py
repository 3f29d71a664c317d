"""The on-chip network: packets travelling between cores and digital units over links.

Picture a city grid of one-lane roads between neighbouring cores. A message (a row of
activations, a block of partial sums) is cut into flits as wide as the road; its head moves one
hop per `latency` cycles and the rest of the flits stream behind it, so a packet of F flits
over H hops arrives H x latency + F cycles after it starts (wormhole routing). While it streams
it holds every link of its route; another packet that wants one of them waits, first come,
first served (`Server`). Routes come from the description: dimension-ordered XY on a 2-D mesh
of cores, otherwise the shortest path on the topology graph.

Each directed link counts its busy cycles (every input streamed) and the bits it carried for the
user's inputs, the ones the ledger bills: timing-only inputs (`pipeline.py`) send the same
messages and are left out of traffic as of energy, so bits / inputs is the traffic of one
inference. The bit-hops of each layer are charged to the ledger at the description's energy
per bit per hop (`charge`, called at the end of a run, so a packet costs no ledger call of its
own).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import networkx as nx

from chipsim.timing.energy import EnergyLedger
from chipsim.timing.server import Server
from chipsim.timing.trace import Trace


class Network:
    """Links of the chip's topology graph as FIFO servers, with routes and energy."""

    def __init__(self, graph: nx.Graph, routing: str, pj_per_bit_hop: float,
                 ledger: EnergyLedger, trace: Trace,
                 positions: dict[Any, tuple[int, int]] | None = None,
                 width_scale: float = 1.0) -> None:
        self.graph = graph
        self.routing = routing
        self.pj_per_bit_hop = pj_per_bit_hop
        self.ledger = ledger
        self.trace = trace
        self.positions = positions or {}
        self._at = {pos: node for node, pos in self.positions.items()}
        self.links: dict[tuple[Any, Any], Server] = {}
        self.width: dict[tuple[Any, Any], int] = {}
        self.latency: dict[tuple[Any, Any], int] = {}
        for u, v, data in graph.edges(data=True):
            for a, b in ((u, v), (v, u)):
                self.links[(a, b)] = Server((a, b))
                self.width[(a, b)] = max(1, int(data["width_bits"] * width_scale))
                self.latency[(a, b)] = int(data["latency_cycles"])
        self._paths: dict[tuple[Any, Any], tuple] = {}
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

    def _path(self, src: Any, dst: Any) -> tuple:
        """The route as (links, (server, head offset) per link, total head latency, widths,
        the common width or 0 where widths differ), cached."""
        path = self._paths.get((src, dst))
        if path is None:
            links = self.route(src, dst)
            offsets, head = [], 0
            for link in links:
                offsets.append(head)
                head += self.latency[link]
            widths = [self.width[link] for link in links]
            hops = tuple(zip([self.links[link] for link in links], offsets))
            path = (links, hops, head, widths, widths[0] if len(set(widths)) == 1 else 0)
            self._paths[(src, dst)] = path
        return path

    def send(self, now: int, src: Any, dst: Any, bits: float, layer: str, inference: int) -> int:
        """Book a packet of `bits` from `src` at `now`; returns the cycle its last flit arrives."""
        if src == dst or bits <= 0:
            return now
        path = self._paths.get((src, dst)) or self._path(src, dst)
        links, hops, head, widths, width = path
        if width:  # one width on the whole route: the same flits on every link
            flits = -(-int(bits) // width)
            busy = None
        else:
            busy = [-(-int(bits) // w) for w in widths]
            flits = max(busy)
        start = now
        for server, offset in hops:  # wormhole: wait for every link
            if server.free_at - offset > start:
                start = server.free_at - offset
        counted = inference < self.ledger.real_inputs  # `EnergyLedger.counts`, inlined
        if busy is None:
            for server, offset in hops:
                server.free_at = start + offset + flits
                server.busy_cycles += flits
                server.jobs += 1
                if counted:
                    server.bits += bits
        else:
            for (server, offset), f in zip(hops, busy):
                server.free_at = start + offset + f
                server.busy_cycles += f
                server.jobs += 1
                if counted:
                    server.bits += bits
        if counted:
            self._bit_hops[layer] += bits * len(links)
        if self.trace.wants(inference):
            for i, (link, (_, offset)) in enumerate(zip(links, hops)):
                self.trace.span("link", f"{link[0]}->{link[1]}", layer, start + offset,
                                flits if busy is None else busy[i], inference, bits=bits)
        return start + head + flits

    def charge(self) -> None:
        """Charge the bit-hops counted so far to the ledger (per layer), then reset them."""
        for layer, bit_hops in self._bit_hops.items():
            self.ledger.charge("network", layer, "network", bit_hops * self.pj_per_bit_hop)
        self._bit_hops.clear()

    def link_report(self, total_cycles: int) -> list[dict[str, Any]]:
        """Per directed link that carried anything: bits of the user's inputs, packets, busy
        cycles and utilization (of every input streamed)."""
        rows = []
        for link, server in self.links.items():
            if server.jobs:
                rows.append({"link": f"{link[0]}->{link[1]}", "bits": server.bits,
                             "packets": server.jobs, "busy_cycles": server.busy_cycles,
                             "utilization": server.busy_cycles / max(1, total_cycles)})
        return rows
