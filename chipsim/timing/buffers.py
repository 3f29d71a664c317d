"""The cores' input buffers: activations wait there for the MVMs that read them.

Picture a loading dock with room for so many crates. A core's input buffer
(`cores.input_buffer_bytes`) holds the activations sent to it for its layers' MVMs until every
chunk that reads them is done: a conv's window moves down its input row by row, so once chunk
c is done the rows before the first one chunk c + 1 reads are free (`LayerPlan.firsts`); a
dense layer or a step of a reverse LSTM reads its whole input, which is freed when it is done.
Where it is so freed is the place of one chunk of work: the data stays until the chunk's partial
sums are added and its outputs are on their way, a little longer than the core's MVMs.

Flow control is end to end, with credits: a message to a core is sent only once the core's
buffer has room for it (the sender holds the room from then on, for the bits in flight and
after), and messages that find no room wait at their senders, first come first served per
destination core: a message waits behind an earlier one that waits, even one that would fit.
A waiting sender goes on with its other messages (one queue per destination). Activations that
no chunk will read any more when they arrive (rows below a stride's reach, a recurrence's last
step) pass through without holding room. Inputs entering from the host are in the first
layers' buffers when they enter (`pipeline.py`) and count against nothing.

A message larger than the buffer can never enter: it is an error that names the layer, the
core and both sizes. A buffer full of rows whose chunks wait for rows that cannot enter stops
the stream; the model then names the core, its layer and the sizes (`stalled`).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from typing import Any, Callable

from chipsim.errors import DescriptionError
from chipsim.timing.trace import Trace

Key = tuple[int, str, str]  # (input, consumer layer, source layer)


class InputBuffers:
    """Room in every core's input buffer, what holds it, and the messages waiting for it."""

    def __init__(self, capacity_bits: int, cores: list[int], trace: Trace) -> None:
        self.capacity = capacity_bits
        self.trace = trace
        self.room = {core: capacity_bits for core in cores}
        self.waiting: dict[int, deque] = {core: deque() for core in cores}
        self.wait_cycles: defaultdict[int, int] = defaultdict(int)  # per destination core
        self._held: defaultdict[Key, deque] = defaultdict(deque)  # (chunk, core, bits), in order
        self._freed: dict[Key, float] = {}  # source chunks below this one are read no more

    def admit(self, now: int, core: int, bits: float, key: Key, chunk: int,
              send: Callable[[], None]) -> bool:
        """Whether the message may be sent now (its room is then held); otherwise it waits and
        `send()` is called when room is free."""
        if chunk < self._freed.get(key, 0):
            return True  # read by no chunk any more: it holds nothing
        if bits > self.capacity:
            raise DescriptionError(
                f"layer {key[1]}: a message of {math.ceil(bits / 8)} bytes from {key[2]} to core "
                f"{core} is larger than the core's input buffer (cores.input_buffer_bytes = "
                f"{self.capacity // 8}): enlarge the buffer or split the layer's rows finer")
        queue = self.waiting[core]
        if queue or self.room[core] < bits:
            queue.append((bits, key, chunk, now, send))
            return False
        self.room[core] -= bits
        self._held[key].append((chunk, core, bits))
        return True

    def free(self, now: int, key: Key, below: float) -> None:
        """The consumer is done with the source's chunks before `below`: free their room and
        send what was waiting for it."""
        self._freed[key] = below
        held = self._held.get(key)
        if not held:
            return
        cores = set()
        while held and held[0][0] < below:
            _, core, bits = held.popleft()
            self.room[core] += bits
            cores.add(core)
        if not held:
            del self._held[key]
        self._send_waiting(now, cores)

    def _send_waiting(self, now: int, cores: set) -> None:
        """Send what waits for these cores' buffers, first come first served, while it fits."""
        for core in cores:
            queue = self.waiting[core]
            while queue and queue[0][0] <= self.room[core]:
                bits, key_w, chunk, since, send = queue.popleft()
                if chunk < self._freed.get(key_w, 0):
                    send()
                    continue
                self.room[core] -= bits
                self._held[key_w].append((chunk, core, bits))
                self.wait_cycles[core] += now - since
                if key_w[0] < self.trace.max_inputs:
                    self.trace.span("core", core, "input buffer full", since, now - since,
                                    key_w[0], waiting=key_w[2], consumer=key_w[1])
                send()

    def forget(self, now: int, inference: int) -> None:
        """An input has left: whatever it still holds is read no more (memory stays flat)."""
        for key in [k for k in self._freed if k[0] == inference]:
            del self._freed[key]
        cores = set()
        for key in [k for k in self._held if k[0] == inference]:
            for _, core, bits in self._held.pop(key):
                self.room[core] += bits
                cores.add(core)
        self._send_waiting(now, cores)

    def stalled(self) -> str | None:
        """Why the stream stopped with messages waiting, if it did."""
        for core, queue in self.waiting.items():
            if queue:
                bits, (n, consumer, source), _, _, _ = queue[0]
                held: defaultdict[tuple, float] = defaultdict(float)
                for (m, layer, src), entries in self._held.items():
                    for _, c, b in entries:
                        if c == core:
                            held[(layer, src, m)] += b
                what = ", ".join(f"{math.ceil(b / 8)} for {layer} from {src} (input {m})"
                                 for (layer, src, m), b in sorted(held.items(),
                                                                  key=lambda kv: -kv[1])[:4])
                return (f"core {core}'s input buffer (cores.input_buffer_bytes = "
                        f"{self.capacity // 8}) stayed full of rows whose chunks wait for more "
                        f"input (bytes: {what}), while {math.ceil(bits / 8)} bytes from "
                        f"{source} for layer {consumer} (input {n}) could not enter; enlarge the "
                        f"buffer or let fewer inputs in at once (in_flight)")
        return None


def summary(buffers: InputBuffers | None) -> dict[str, Any]:
    """The figures a run reports: cycles messages waited for room, per destination core."""
    if buffers is None:
        return {}
    return {"input_buffer_wait_cycles": {c: v for c, v in sorted(buffers.wait_cycles.items())
                                         if v}}
