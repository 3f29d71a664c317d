"""A core: one crossbar with its converters and local digital unit, working through MVM jobs.

Picture a print shop with one press. Jobs arrive in a tray (the core's input buffer); each job
is a run of matrix-vector products (MVMs) for one block of one layer, all of whose input vectors
are already in the buffer. For every MVM the core

1. drives the rows with pulse-width-modulated inputs (PWM: as many steps as the largest input
   code of this vector, or the full window, as the description says), once per read phase;
2. lets the columns integrate the crossbar current during those pulses;
3. converts the column results with its ADCs (each converter handles ceil(columns / ADCs)
   columns in turn);

one MVM after the other: the description has no overlap of phases. The press serves jobs first
come, first served: jobs are handed in as they become ready, in time order, and wait in the
tray while an earlier one runs. A run's cycles are added up arithmetically
(`TimingParams.mvm_cycles`); the core runs `job.done` when the job ends, which sends partial sums
or outputs on through the network.

Back-pressure: the core's results leave through its router's output port (the network's
injection port, `Network.port_free`). A job's results wait in the core's output register while
the next job computes (double buffering); a job cannot end, writing its results, while results
handed to the port earlier have not all left. A core whose port is blocked (the network ahead
is full) therefore stalls at the end of its job until the port is free; the stall is a bar named
"stall" on the core's track of the trace and counts in `stall_cycles`. When nothing blocks, a
job's output leaves long before the next job ends and the core never waits.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import simpy

from chipsim.timing.energy import EnergyLedger
from chipsim.timing.params import TimingParams
from chipsim.timing.server import Server
from chipsim.timing.trace import Trace


@dataclass(slots=True)
class MvmJob:
    """A run of MVMs of one block on one core.

    `cycles` holds each MVM's cycles (from its vector's PWM steps, `TimingParams.mvm_cycles`);
    `array_pj`, `dac_pj` and `adc_pj` are the run's data-dependent crossbar, DAC and ADC
    energy, worked out from the input codes actually applied and the block's conductances.
    """

    layer: str
    inference: int
    cols: int
    cycles: int
    mvms: int
    array_pj: float
    dac_pj: float
    adc_pj: float
    done: Callable[["MvmJob", int, int], None]


class Core:
    """One core: a FIFO queue of MVM jobs that charges their energy and hands them on."""

    def __init__(self, env: simpy.Environment, core_id: int, params: TimingParams,
                 ledger: EnergyLedger, trace: Trace, network: Any = None) -> None:
        self.env = env
        self.id = core_id
        self.params = params
        self.ledger = ledger
        self.trace = trace
        self.network = network  # whose output port may hold the core's job at its end
        self.server = Server(f"core{core_id}")  # counts busy cycles and jobs
        self.mvms = 0
        self.stall_cycles = 0
        self._queue: deque[MvmJob] = deque()
        self._running = False

    @property
    def busy_cycles(self) -> int:
        return self.server.busy_cycles

    def submit(self, job: MvmJob) -> None:
        """Queue `job`, ready now, and charge its energy; the core runs `job.done(job, core,
        end)` at the cycle it ends."""
        self.mvms += job.mvms
        n = job.inference
        if self.ledger.counts(n):
            self.ledger.charge("array", job.layer, self.id, job.array_pj, n)
            self.ledger.charge("dac", job.layer, self.id, job.dac_pj, n)
            self.ledger.charge("adc", job.layer, self.id, job.adc_pj, n)
        self._queue.append(job)
        if not self._running:
            self._start()

    def _start(self) -> None:
        job = self._queue.popleft()
        self._running = True
        now = int(self.env.now)
        server = self.server
        server.free_at = now + job.cycles
        server.busy_cycles += job.cycles
        server.jobs += 1
        if job.inference < self.trace.max_inputs:  # `Trace.wants`, inlined
            self.trace.span("core", self.id, job.layer, now, job.cycles, job.inference,
                            mvms=job.mvms)
        self.env.timeout(job.cycles).callbacks.append(lambda _ev: self._end(job))

    def _end(self, job: MvmJob) -> None:
        """The job's MVMs are done: write its results once the output port is free."""
        now = int(self.env.now)
        free = self.network.port_free(self.id) if self.network is not None else now
        if free > now:
            self.stall_cycles += free - now
            if self.trace.wants(job.inference):
                self.trace.span("core", self.id, "stall", now, free - now, job.inference,
                                waiting_for="output port")
            self.env.timeout(free - now).callbacks.append(lambda _ev: self._done(job))
        else:
            self._done(job)

    def _done(self, job: MvmJob) -> None:
        job.done(job, self.id, int(self.env.now))  # jobs it submits here queue behind the rest
        if self._queue:
            self._start()
        else:
            self._running = False
