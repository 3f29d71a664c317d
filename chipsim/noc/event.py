"""The event model's network (`chipsim.timing.network`, what `simulate` runs) under the flit
simulator's interface, so that `chipsim noc --model event` drives it with the same traffic.

The event model works a packet's flit times out when it is sent, behind the packets sent before
it, unless it can stream through a gap they leave (see `chipsim.timing.network`); running both
models on one traffic measures how far that is from the description's routers. Two differences of
bookkeeping, not of timing: a packet counts as ejected, all its flits together, in the cycle
its tail is ejected (the accepted rate of a window can move by a packet per node at its
edges); a core's packet to itself never enters the network (as in `simulate`), so it takes
the zero-load time, flits - 1 cycles, and no ejection port time.
"""

from __future__ import annotations

from collections import defaultdict

from chipsim.arch.schema import Chip
from chipsim.timing.energy import EnergyLedger
from chipsim.timing.network import Network
from chipsim.timing.trace import Trace


class EventNetwork:
    """`inject` books a packet in the event model; `step` reports the tails due this cycle."""

    def __init__(self, chip: Chip) -> None:
        net = chip.network
        positions = {c: chip.core_position(c) for c in range(chip.cores.count)}
        self._net = Network(chip.network_graph(), net.routing, 0.0, EnergyLedger(real_inputs=0),
                            Trace(1.0, max_inputs=0), positions, net.buffer_depth_flits)
        self._width = net.link_width_bits
        self._due: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        self.cycle = 0

    def inject(self, packet: int, src: int, dst: int, flits: int) -> None:
        """Send a packet of `flits` flits from `src` to `dst` in the current cycle."""
        if src == dst:
            tail = self.cycle + flits - 1
        else:  # `send` gives the cycle after the tail's ejection
            tail = self._net.send(self.cycle, src, dst, flits * self._width, "noc", 0) - 1
        self._due[tail].append((packet, flits))

    def step(self) -> tuple[int, list[int]]:
        """Advance one cycle: (flits of the packets whose tail was ejected, their ids)."""
        done = self._due.pop(self.cycle, ())
        self.cycle += 1
        return sum(flits for _, flits in done), [packet for packet, _ in done]
