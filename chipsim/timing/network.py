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

Arbitration: where several packets want one link, the older packet (sent earlier; among packets
sent in the same cycle, the one sent first) gets it first. Each packet's flit times are worked out
when it is sent, from the flits already booked ahead of it, so a packet never waits for a
younger one, and a link left idle while an older packet is still on its way to it stays idle
until that packet has crossed (a conservative simplification of the round-robin arbiters of
`chipsim noc`; the two agree wherever packets reach a link in the order they were sent). The
cost is a few operations per hop for a packet that meets no other (the common case), and a
short loop over its first flits otherwise: the flit times of a packet repeat with period
depth once the effects of the packets ahead have passed, so the rest follow in closed form.

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

from chipsim.timing.energy import EnergyLedger
from chipsim.timing.trace import Trace

_NEVER = -(1 << 40)  # a departure long before cycle 0: its credit is back


class Channel:
    """A directed link (or a node's ejection port) as a stream of flits: when the next flit may
    cross, and when the last `depth` flits that crossed it left the buffer at its far end."""

    __slots__ = ("name", "free_at", "left", "busy_cycles", "held_cycles", "jobs", "bits")

    def __init__(self, name: object, depth: int) -> None:
        self.name = name
        self.free_at = 0  # the cycle after the last flit crossed
        # departures from the far buffer, oldest first (a range where they are consecutive)
        self.left: list[int] | range = [_NEVER] * depth
        self.busy_cycles = 0
        self.held_cycles = 0
        self.jobs = 0
        self.bits = 0.0


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
        self.links: dict[tuple[Any, Any], Channel] = {}
        for u, v in graph.edges():
            for a, b in ((u, v), (v, u)):
                self.links[(a, b)] = Channel((a, b), self.depth)
        self.injection = {node: 0 for node in graph.nodes}  # cycle each output port is free
        self.ejection = {node: Channel(node, self.depth) for node in graph.nodes}
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
        """(channels, ejection channel of dst, hops, the links' trace names), cached."""
        path = self._paths.get((src, dst))
        if path is None:
            links = self.route(src, dst)
            path = ([self.links[link] for link in links], self.ejection[dst], len(links),
                    [f"{a}->{b}" for a, b in links])
            self._paths[(src, dst)] = path
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
        chans, eject, hops, names = self._paths.get((src, dst)) or self._path(src, dst)
        flits = -(-int(bits) // self.width)
        lat, depth = self.latency, self.depth
        if port is None:
            port = src
        head = self.injection[port]
        if head < now:
            head = now
        # the cheap test first: every link free when the head comes, and the packet ahead
        # out of each buffer by then (its credits, one a cycle, are then back in time too)
        late = self._credit_bound or eject.free_at > head + hops * lat
        if not late:
            t = head
            for ch in chans:
                if ch.free_at > t or ch.left[-1] >= t + lat:
                    late = True
                    break
                t += lat
        counted = inference < self.ledger.real_inputs  # `EnergyLedger.counts`, inlined
        carried = bits if counted else 0.0
        slow = None
        if late:  # some bound may delay it: work it out
            free_at = [ch.free_at for ch in chans]
            free_at.append(eject.free_at)
            left = [ch.left for ch in chans]
            if self._credit_bound:  # flit by flit
                slow = _flit_times(head, free_at, left, flits, lat, depth)
            else:
                slow = _stream_times(head, free_at, left, flits, lat, depth)
        if slow is None:  # it meets no traffic ahead: flit k crosses hop i at head + i lat + k
            self.injection[port] = head + flits
            self._book_free(chans, eject, head, flits, lat, depth, carried)
        else:
            first, tail, rows = slow
            self.injection[port] = tail[0] + 1
            self._book(chans, eject, first, tail, rows, flits, depth, carried)
        if counted:
            self._bit_hops[layer] += bits * hops
        if inference < self.trace.max_inputs:  # `Trace.wants`, inlined
            span = self.trace.span
            for i in range(hops):
                start = head + i * lat if slow is None else first[i]
                end = start + flits if slow is None else tail[i] + 1
                span("link", names[i], layer, start, end - start, inference, bits=bits,
                     flits=flits)
        return eject.free_at

    @staticmethod
    def _book_free(chans: list, eject: Channel, head: int, flits: int, lat: int, depth: int,
                   bits: float) -> None:
        """Book a packet that streams unhindered: flit k leaves buffer i at head + (i+1) lat + k."""
        t = head
        for ch in chans:
            ch.free_at = t + flits
            ch.busy_cycles += flits
            ch.held_cycles += flits
            ch.jobs += 1
            ch.bits += bits
            t += lat
            if flits >= depth:
                ch.left = range(t + flits - depth, t + flits)
            else:
                ch.left = [*ch.left[flits:], *range(t, t + flits)]
        eject.free_at = t + flits

    @staticmethod
    def _book(chans: list, eject: Channel, first: list[int], tail: list[int],
              rows: list[list[int]] | None, flits: int, depth: int, bits: float) -> None:
        """Book a packet whose flit times the slow path worked out: `first` and `tail`, the
        head's and the tail's cycle at every hop; `rows`, the times of its last
        min(flits, depth) flits (None: the tail's less 1, 2, ... cycles)."""
        for i, ch in enumerate(chans):
            end = tail[i] + 1
            ch.free_at = end
            ch.busy_cycles += flits
            ch.held_cycles += end - first[i]
            ch.jobs += 1
            ch.bits += bits
            if rows is None:
                ch.left = range(tail[i + 1] + 1 - depth, tail[i + 1] + 1)
            else:
                ch.left = [*ch.left[len(rows):], *[row[i + 1] for row in rows]]
        eject.free_at = tail[-1] + 1

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


def _flit_times(head: int, free_at: list[int], left: list[list[int]], flits: int, lat: int,
                depth: int):
    """Flit times of one packet behind the traffic already booked: (row 0, the tail's row,
    rows of the last min(flits, depth) flits), row k holding the cycle flit k crosses each hop i (i = len(left)
    is the ejection into the destination).

    `head` is the earliest cycle the head may leave the source; `free_at[i]` the cycle hop i
    is free (the last hop: the ejection port); `left[i]` the departures of the last `depth`
    flits from link i's far buffer. Row k (the times of flit k at every hop) is the longest
    path of the rules in the module docstring:

        t[k][i] >= t[k-1][i] + 1             one flit per cycle per link
        t[k][i] >= t[k][i-1] + lat           it must have arrived (t[k][-1] = head)
        t[0][i] >= free_at[i]                the link is held by the packets ahead
        t[0][i] >= left[i-1][-1] + 1         first in, first out: behind the last one ahead
        t[k][i] >= left[i][k] + lat          credits of the packets ahead (k < depth)
        t[k][i] >= t[k-depth][i+1] + lat     its own credits (k >= depth)

    Once k >= 2 depth and `depth` rows in a row have each been their row `depth` earlier plus
    one same shift d, every later row is too (the rules are shift-invariant there), so the
    loop stops and the rest follow in closed form.
    """
    hops = len(left)
    rows: list[list[int]] = []
    shift, run = None, 0
    for k in range(flits):
        row = []
        t = head
        for i in range(hops + 1):
            if k == 0:
                t = max(t, free_at[i])
                if i:
                    t = max(t, left[i - 1][-1] + 1)
            else:
                t = max(t, rows[k - 1][i] + 1)
            if i < hops:
                t = max(t, (left[i][k] if k < depth else rows[k - depth][i + 1]) + lat)
            row.append(t)
            t += lat
        rows.append(row)
        if k >= 2 * depth:
            before = rows[k - depth]
            d = row[0] - before[0]
            if d == shift and all(a - b == d for a, b in zip(row, before)):
                run += 1
            else:
                shift = d if all(a - b == d for a, b in zip(row, before)) else None
                run = 1 if shift is not None else 0
            if run >= depth:
                break
    known = len(rows)
    last = range(max(0, flits - depth), flits)
    if known == flits:
        return rows[0], rows[-1], [rows[k] for k in last]
    base = known - depth  # rows base .. known-1 repeat with period depth, shifted by `shift`
    out = []
    for k in last:
        periods, r = divmod(k - base, depth)
        out.append([t + periods * shift for t in rows[base + r]])
    return rows[0], out[-1], out


def _stream_times(head: int, free_at: list[int], left: list[list[int]], flits: int, lat: int,
                  depth: int) -> tuple | None:
    """`_flit_times` in closed form, for links that run at full rate (depth >= 2 x latency);
    None when the packet meets no traffic ahead (flit k crosses hop i at head + i lat + k).
    The rows of the last flits are None where they are the tail's less 1, 2, ... cycles.

    A bound that the traffic ahead sets at hop j (the link's free cycle, the packet ahead in
    the buffer, a credit of flit k0 < depth) delays the packet's free schedule there by some
    excess e. Along the longest paths of the rules it delays every flit k >= k0 at the hops
    downstream (i >= j) by e, and, through credits, flit k at hop i < j by
    e - (j - i)(depth - 2 lat) once k - k0 >= (j - i) depth (the buffers in between are full).
    Turning back and forth costs 2 lat per depth flits, never more than depth cycles of
    streaming, so these are the longest paths, and a bound the free schedule meets delays
    nothing. A flit's delay at a hop is the largest of these excesses. Departures from a buffer
    are one a cycle at most, so of a hop's credits the last (k0 = depth - 1) has the largest
    excess, the first (k0 = 0) the largest for the head.
    """
    hops = len(left)
    drop = depth - 2 * lat
    first = [0] * (hops + 1)  # the head's row
    at = [0] * (hops + 1)  # per hop, the largest excess of its bounds for the last flits
    fore = [0] * (hops + 1)  # and the largest at it or before it
    run_head = run = 0
    base, reach = head, 0  # reach: hops back that some excess delays
    ahead = 0  # the last departure from the buffer before this hop, plus 1
    for j in range(hops + 1):
        bound = free_at[j]
        if j and ahead > bound:
            bound = ahead  # behind the packet ahead in the buffer
        e_head = e = bound - base
        if j < hops:
            credits = left[j]
            last_left = credits[-1]
            ahead = last_left + 1
            x = credits[0] + lat - base
            if x > e_head:
                e_head = x
            x = last_left - depth + 1 + lat - base
            if x > e:
                e = x
        if e > 0:
            if e_head > run_head:
                run_head = e_head
            if e > run:
                run = e
            back = j if drop == 0 or (e - 1) // drop > j else (e - 1) // drop
            if back > reach:
                reach = back
            at[j] = e
        first[j] = base + run_head
        fore[j] = run
        base += lat
    if not run:
        return None
    if flits - 2 * depth + 1 < reach * depth:  # some bounds reach only some of the last flits
        return _short_stream_times(head, free_at, left, flits, lat, depth)
    last = [0] * (hops + 1)
    ramp, t = 0, head + flits - 1 + hops * lat
    for i in range(hops, -1, -1):  # the ramps coming back from later hops
        d = fore[i] if fore[i] > ramp else ramp
        last[i] = t + d
        if at[i] > ramp:
            ramp = at[i]
        ramp -= drop
        t -= lat
    return first, last, None


def _short_stream_times(head: int, free_at: list[int], left: list[list[int]], flits: int, lat: int,
                  depth: int) -> tuple[list[int], list[list[int]]] | None:
    """`_stream_times` of a packet too short for every bound to reach all of its last flits:
    the bounds one by one, flit by flit."""
    hops = len(left)
    # the bounds that delay it, (hop j, flit k0, excess e), less those that an earlier one
    # (j' <= j, k0' <= k0, e' >= e) covers everywhere: `covered[k0]` is the largest such e'
    sources = []
    covered = [0] * depth
    base = head
    for j in range(hops + 1):
        bound = free_at[j]
        if j and left[j - 1][-1] + 1 > bound:
            bound = left[j - 1][-1] + 1  # behind the packet ahead in the buffer
        if bound - base > covered[0]:
            e = bound - base
            sources.append((j, 0, e))
            covered = [e if c < e else c for c in covered]
        if j < hops and left[j][-1] + lat - base > covered[0]:
            credits = left[j]
            for k0 in range(depth):
                e = credits[k0] + lat - k0 - base
                if e > covered[k0]:
                    sources.append((j, k0, e))
                    covered[k0:] = [e if c < e else c for c in covered[k0:]]
        base += lat
    if not sources:
        return None
    drop = depth - 2 * lat

    def row(k: int) -> list[int]:
        delay = [0] * (hops + 1)
        for j, k0, e in sources:
            if k < k0:
                continue
            for i in range(j, hops + 1):
                if delay[i] < e:
                    delay[i] = e
            i, e, reach = j - 1, e - drop, k - k0 - depth
            while i >= 0 and reach >= 0 and e > 0:
                if delay[i] < e:
                    delay[i] = e
                i, e, reach = i - 1, e - drop, reach - depth
        return [head + k + i * lat + d for i, d in enumerate(delay)]

    first = row(0)
    rows = [row(k) for k in range(max(0, flits - depth), flits)]
    return first, rows[-1], rows
