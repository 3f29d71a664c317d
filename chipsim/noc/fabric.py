"""The network's wiring and routes, as the flit simulator and the theory both see them.

A router at every core has one input port per incoming link plus an injection port (the core's
source queue), and one output port per outgoing link plus an ejection port (the core itself).
Links are directed channels: the description's bidirectional link a-b is the two channels a->b
and b->a, each one flit wide per cycle. Routing is a table `next_port[node][dest]`: the output
port a packet for `dest` takes at `node`. Both the simulator and `chipsim.noc.theory` read the
same table, so the paths theory counts are the paths flits take. Think of a signpost at every
crossing: one sign per destination, and nobody changes the signs while traffic flows.

Routing rules (from `network.routing`):

- `xy` (mesh only): dimension order, first along the row to the destination's column, then
  along the column. Deadlock-free under wormhole switching without virtual channels.
- `shortest_path`: a fixed shortest path per (node, destination): of the neighbours one hop
  closer to the destination, the lowest core id. Deterministic, but on a topology with cycles
  it can deadlock under wormhole switching; the simulator detects a stuck network and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from chipsim.arch.network import core_links, working_links
from chipsim.arch.schema import Chip


@dataclass(frozen=True)
class Fabric:
    """Channels, ports and the routing table of one chip's core network.

    Port numbering: output ports 0..C-1 are the link channels (`channels[c] = (src, dst)`),
    output port C + v is node v's ejection port. Input ports 0..C-1 are the same channels seen
    from their downstream end; input port C + v is node v's injection port.
    """

    nodes: int
    channels: tuple[tuple[int, int], ...]
    next_port: tuple[tuple[int, ...], ...]  # [node][dest] -> output port
    hop_latency: int
    buffer_depth: int
    routing: str
    arbitration: str = "round_robin"

    @property
    def link_count(self) -> int:
        return len(self.channels)

    def ejection(self, node: int) -> int:
        """Output port number of `node`'s ejection port."""
        return self.link_count + node

    def injection(self, node: int) -> int:
        """Input port number of `node`'s injection port (its source queue)."""
        return self.link_count + node

    @cached_property
    def in_ports(self) -> tuple[tuple[int, ...], ...]:
        """Per node, its input ports in a fixed order: incoming channels by id, then injection."""
        ports: list[list[int]] = [[] for _ in range(self.nodes)]
        for c, (_, dst) in enumerate(self.channels):
            ports[dst].append(c)
        return tuple(tuple(p) + (self.injection(v),) for v, p in enumerate(ports))

    def path(self, src: int, dst: int) -> list[int]:
        """The link channels a packet from `src` to `dst` crosses, in order."""
        channels, node = [], src
        while node != dst:
            port = self.next_port[node][dst]
            channels.append(port)
            node = self.channels[port][1]
        return channels

    @cached_property
    def hops(self) -> np.ndarray:
        """(nodes, nodes) int array: links crossed from each source to each destination."""
        return np.array([[len(self.path(s, d)) for d in range(self.nodes)]
                         for s in range(self.nodes)], dtype=np.int64)


def build_fabric(chip: Chip) -> Fabric:
    """The fabric of a chip's core-to-core network (global units take no synthetic traffic)."""
    n = chip.cores.count
    net = chip.network
    links = working_links(chip)  # a faults section's broken links carry nothing
    channels = tuple(sorted({(a, b) for a, b in links} | {(b, a) for a, b in links}))
    channel_of = {link: c for c, link in enumerate(channels)}
    routing = net.routing if len(links) == len(core_links(chip)) else "shortest_path"
    if routing == "xy":
        table = _xy_table(chip, channel_of)
    else:
        table = _shortest_path_table(n, channels, channel_of)
    # a node's own packets leave through its ejection port
    next_port = tuple(tuple(len(channels) + v if d == v else table[v][d] for d in range(n))
                      for v in range(n))
    return Fabric(nodes=n, channels=channels, next_port=next_port,
                  hop_latency=net.hop_latency_cycles, buffer_depth=net.buffer_depth_flits,
                  routing=routing, arbitration=net.arbitration)


def _xy_table(chip: Chip, channel_of: dict[tuple[int, int], int]) -> list[list[int]]:
    """Dimension order on the mesh: correct the column first, then the row."""
    cols = chip.network.topology.cols
    n = chip.cores.count
    table = [[-1] * n for _ in range(n)]
    for v in range(n):
        r, c = divmod(v, cols)
        for d in range(n):
            dr, dc = divmod(d, cols)
            if dc != c:
                step = v + (1 if dc > c else -1)
            elif dr != r:
                step = v + (cols if dr > r else -cols)
            else:
                continue
            table[v][d] = channel_of[(v, step)]
    return table


def _shortest_path_table(n: int, channels: tuple[tuple[int, int], ...],
                         channel_of: dict[tuple[int, int], int]) -> list[list[int]]:
    """Towards each destination, the lowest-id neighbour one hop closer (breadth-first)."""
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in channels:
        neighbours[a].append(b)
    for nb in neighbours:
        nb.sort()
    table = [[-1] * n for _ in range(n)]
    for d in range(n):
        dist = [-1] * n
        dist[d], frontier = 0, [d]
        while frontier:
            nxt = []
            for u in frontier:
                for w in neighbours[u]:
                    if dist[w] < 0:
                        dist[w] = dist[u] + 1
                        nxt.append(w)
            frontier = nxt
        for v in range(n):
            if v != d:
                step = next(w for w in neighbours[v] if dist[w] == dist[v] - 1)
                table[v][d] = channel_of[(v, step)]
    return table
