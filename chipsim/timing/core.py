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
come, first served (`Server`): jobs are handed in as they become ready, in time order, so the
core's queue needs no events of its own. A run's cycles are added up arithmetically
(`TimingParams.mvm_cycles`): `submit` books the job and returns the cycle it ends, and the
caller runs `job.done` then (jobs of one chunk that end together share one event), which sends
partial sums or outputs on through the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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
    """One core: a FIFO server of MVM jobs that charges their energy and hands them on."""

    def __init__(self, env: simpy.Environment, core_id: int, params: TimingParams,
                 ledger: EnergyLedger, trace: Trace) -> None:
        self.env = env
        self.id = core_id
        self.params = params
        self.ledger = ledger
        self.trace = trace
        self.server = Server(f"core{core_id}")
        self.mvms = 0

    @property
    def busy_cycles(self) -> int:
        return self.server.busy_cycles

    def submit(self, job: MvmJob) -> int:
        """Queue `job`, ready now, and charge its energy; returns the cycle it ends (when the
        caller is to run `job.done(job, core, end)`)."""
        start, end = self.server.book(int(self.env.now), job.cycles)
        self.mvms += job.mvms
        n = job.inference
        if self.ledger.counts(n):
            self.ledger.charge("array", job.layer, self.id, job.array_pj, n)
            self.ledger.charge("dac", job.layer, self.id, job.dac_pj, n)
            self.ledger.charge("adc", job.layer, self.id, job.adc_pj, n)
        if self.trace.wants(n):
            self.trace.span("core", self.id, job.layer, start, job.cycles, n, mvms=job.mvms)
        return end
