"""A cycle-by-cycle, flit-by-flit model of the routers and links: wormhole switching with
credit-based flow control.

Picture cars on single-lane roads between crossings: a packet is a convoy of flits led by its
head; at each crossing the head asks for the road it needs, and once it gets the road the whole
convoy follows it, one flit per cycle, before any other convoy may take that road (wormhole
switching). Each road ends in a parking lot of `buffer_depth_flits` places at the next crossing;
the crossing upstream holds one ticket (a credit) per free place and sends a flit only while it
has a ticket; the ticket comes back when the flit leaves the lot. A convoy whose next lot is full
simply waits where it is, holding the roads behind it: that is back-pressure.

The rules, every cycle t, in this order:

1. flits and credits sent `hop_latency_cycles` ago arrive (a flit lands in the next router's
   input buffer, a credit at the upstream output port);
2. packets created at cycle t join their source's injection queue (unbounded: source queueing
   counts in latency, as Dally and Towles measure it);
3. at every router, each input port offers the flit at the head of its buffer to the output port
   its routing table names. An output port held by a packet (its head went through, its tail
   not yet) serves only that packet's input port; a free output port grants a waiting head flit
   as `network.arbitration` says: `round_robin` over the input ports, starting after the last
   port it granted, or `oldest_first`: the packet injected earliest (age-based arbitration,
   ties impossible: packets are numbered in injection order). A link output
   sends only while it holds a credit; the ejection port takes one flit per cycle, always.
   The granted flit leaves its buffer now and lands downstream at t + hop_latency_cycles; the
   credit for the place it freed reaches the upstream router at t + hop_latency_cycles too.

A flit may leave a buffer in the cycle it lands there, so one hop costs exactly
`hop_latency_cycles` (router and link together), and a packet alone in the network is delivered
(its tail flit ejected) hops x hop_latency + flits - 1 cycles after it was created. A link runs
at full rate when buffer_depth_flits >= 2 x hop_latency_cycles (the credit round trip).

Every decision at a router reads only the state at the start of the cycle (what a router sends
lands at t + latency >= t + 1), so the order in which routers are visited does not matter.
"""

from __future__ import annotations

from collections import deque

from chipsim.errors import NocError
from chipsim.noc.fabric import Fabric

HEAD, TAIL = 1, 2  # flit flags; a one-flit packet is both


class Network:
    """The routers, buffers and links of one fabric, advanced one cycle per `step()`.

    Flits are tuples (packet id, destination, flags). With `trace=True`, every flit a port sends
    is logged as (cycle, node, output port, packet id, flags) in `self.trace`.
    """

    def __init__(self, fabric: Fabric, trace: bool = False):
        self.fabric = fabric
        self.cycle = 0
        links = fabric.link_count
        self._links = links
        self._latency = fabric.hop_latency
        self._in_ports = fabric.in_ports
        self._next_port = fabric.next_port
        self._downstream = [dst for _, dst in fabric.channels]
        self.buffers = [deque() for _ in range(links + fabric.nodes)]
        self.credits = [fabric.buffer_depth] * links
        self._held_by = [-1] * (links + fabric.nodes)  # output port -> input position holding it
        self._last_grant = [-1] * (links + fabric.nodes)  # output port -> last granted position
        self._occupancy = [0] * fabric.nodes  # flits waiting in each router's input buffers
        self._oldest_first = fabric.arbitration == "oldest_first"
        self._arrivals: dict[int, list] = {}  # cycle -> [(input port, flit)]
        self._credit_returns: dict[int, list] = {}  # cycle -> [channel]
        self._in_flight = 0  # flits in the network: buffers, queues and links
        self._last_move = 0
        self.trace: list[tuple[int, int, int, int, int]] | None = [] if trace else None

    @property
    def flits_in_network(self) -> int:
        """Flits injected and not yet ejected (source queues included)."""
        return self._in_flight

    def inject(self, packet: int, src: int, dst: int, flits: int) -> None:
        """Queue a packet of `flits` flits at `src`'s injection port, in the current cycle."""
        queue = self.buffers[self.fabric.injection(src)]
        if flits == 1:
            queue.append((packet, dst, HEAD | TAIL))
        else:
            queue.append((packet, dst, HEAD))
            queue.extend([(packet, dst, 0)] * (flits - 2))
            queue.append((packet, dst, TAIL))
        self._occupancy[src] += flits
        self._in_flight += flits

    def step(self) -> tuple[int, list[int]]:
        """Advance one cycle: (flits ejected, ids of packets whose tail was ejected)."""
        t = self.cycle
        buffers, occupancy, credits = self.buffers, self._occupancy, self.credits
        for port, flit in self._arrivals.pop(t, ()):
            buffers[port].append(flit)
            occupancy[self._downstream[port]] += 1
        for channel in self._credit_returns.pop(t, ()):
            credits[channel] += 1
        links, held_by, last_grant = self._links, self._held_by, self._last_grant
        land = t + self._latency
        ejected, delivered = 0, []
        sent_links: list = []
        freed: list = []
        for node, waiting in enumerate(occupancy):
            if not waiting:
                continue
            ports, table = self._in_ports[node], self._next_port[node]
            requests: dict[int, list[int]] = {}
            for position, port in enumerate(ports):
                buf = buffers[port]
                if buf:
                    out = table[buf[0][1]]
                    if out in requests:
                        requests[out].append(position)
                    else:
                        requests[out] = [position]
            for out, asking in requests.items():
                if out < links and not credits[out]:
                    continue  # the next buffer is full: wait for a credit
                holder = held_by[out]
                if holder >= 0:
                    if holder not in asking:
                        continue  # held by a packet whose next flit has not arrived yet
                    winner = holder
                elif len(asking) == 1:
                    winner = asking[0]
                elif self._oldest_first:
                    winner = min(asking, key=lambda p: buffers[ports[p]][0][0])
                else:
                    last, count = last_grant[out], len(ports)
                    winner = min(asking, key=lambda p: (p - last - 1) % count)
                port = ports[winner]
                flit = buffers[port].popleft()
                occupancy[node] -= 1
                flags = flit[2]
                if flags & HEAD:
                    last_grant[out] = winner
                    held_by[out] = -1 if flags & TAIL else winner
                elif flags & TAIL:
                    held_by[out] = -1
                if port < links:
                    freed.append(port)
                if out < links:
                    credits[out] -= 1
                    sent_links.append((out, flit))
                else:
                    ejected += 1
                    if flags & TAIL:
                        delivered.append(flit[0])
                if self.trace is not None:
                    self.trace.append((t, node, out, flit[0], flags))
        if sent_links:
            self._arrivals[land] = sent_links
        if freed:
            self._credit_returns[land] = freed
        self._in_flight -= ejected
        if sent_links or ejected:
            self._last_move = t
        elif self._in_flight and t - self._last_move > 2 * self._latency + 2:
            raise NocError(f"the network deadlocked at cycle {t}: {self._in_flight} flits wait "
                           f"in a cycle of full buffers ({self.fabric.routing} routing under "
                           "wormhole switching is not deadlock-free on this topology)")
        self.cycle = t + 1
        return ejected, delivered
