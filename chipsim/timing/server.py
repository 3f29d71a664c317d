"""A server: one piece of hardware that does one thing at a time, first come, first served.

Think of a single ticket window. A customer who arrives while it is busy waits until everyone
before them is served. In a discrete-event run customers arrive in time order, and each one's
service time is known when it arrives (a packet's length, a digital unit's operation count), so
the queue needs no events of its own: the window only remembers when it is next free. Booking
it returns the moment service starts and ends, exactly what a `simpy.Resource(capacity=1)` with
a FIFO queue would produce, at no event per use. The caller waits with one timeout.

A pipelined unit (a digital unit whose `lanes` take new operands every cycle while earlier ones
are still in its `latency_cycles` stages) is a server whose job holds it only while its operands
go in; the results come out `latency` cycles after the last one went in (`book`'s `latency`),
while the next job's operands already go in. That is the latency queue: a job waits for the
jobs before it to go in, not to come out.

A packet holding every link of its route at once (wormhole routing, `network.py`) books
several servers together: it starts when all of them are free, so booking never deadlocks.
"""

from __future__ import annotations


class Server:
    """A FIFO single server that counts its busy cycles and its jobs."""

    __slots__ = ("name", "free_at", "busy_cycles", "jobs", "bits")

    def __init__(self, name: object) -> None:
        self.name = name
        self.free_at = 0
        self.busy_cycles = 0
        self.jobs = 0
        self.bits = 0.0  # data it carried for the user's inputs, for links

    def book(self, now: int, cycles: int, latency: int = 0) -> tuple[int, int]:
        """Serve a job arriving at `now` that holds the server `cycles` and is done `latency`
        cycles after it lets go: returns (start, done) in cycles."""
        start = max(now, self.free_at)
        self.free_at = start + cycles
        self.busy_cycles += cycles
        self.jobs += 1
        return start, start + cycles + latency
