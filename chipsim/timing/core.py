"""A core: one crossbar with its converters and local digital unit, working through MVM jobs.

Picture a print shop with one press. Jobs arrive in a tray (the core's input buffer, a
`simpy.Store`); each job is a run of matrix-vector products (MVMs) for one block of one layer,
all of whose input vectors are already in the buffer. For every MVM the core

1. drives the rows with pulse-width-modulated inputs (PWM: as many steps as the largest input
   code of this vector, or the full window, as the description says), once per read phase;
2. lets the columns integrate the crossbar current during those pulses;
3. converts the column results with its ADCs (each converter handles ceil(columns / ADCs)
   columns in turn);

one MVM after the other: the description has no overlap of phases. A run's cycles are added
up arithmetically (`TimingParams.mvm_cycles`) and the core waits once, so a job costs a few
events however many MVMs it holds. When the job is done the core
hands it back (`job.done`), which sends partial sums or outputs on through the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import simpy

from chipsim.timing.energy import EnergyLedger
from chipsim.timing.params import TimingParams
from chipsim.timing.trace import Trace


@dataclass(slots=True)
class MvmJob:
    """A run of MVMs of one block on one core.

    `cycles` holds each MVM's cycles (from its vector's PWM steps, `TimingParams.mvm_cycles`);
    `array_pj` and `dac_pj` are the run's data-dependent crossbar and DAC energy, worked out
    from the input codes actually applied and the block's conductances.
    """

    layer: str
    inference: int
    cols: int
    cycles: int
    mvms: int
    array_pj: float
    dac_pj: float
    done: Callable[["MvmJob", int, int], None]


class Core:
    """The process of one core: take a job, spend its cycles, charge its energy, hand it on."""

    def __init__(self, env: simpy.Environment, core_id: int, params: TimingParams,
                 ledger: EnergyLedger, trace: Trace) -> None:
        self.env = env
        self.id = core_id
        self.params = params
        self.ledger = ledger
        self.trace = trace
        self.inbox: simpy.Store = simpy.Store(env)
        self.busy_cycles = 0
        self.mvms = 0
        env.process(self.run())

    def run(self) -> Any:
        adc_pj = self.params.adc_pj_per_conversion * len(self.params.phases)
        while True:
            job: MvmJob = yield self.inbox.get()
            start = self.env.now
            yield self.env.timeout(job.cycles)
            self.busy_cycles += job.cycles
            self.mvms += job.mvms
            n = job.inference
            self.ledger.charge("array", job.layer, self.id, job.array_pj, n)
            self.ledger.charge("dac", job.layer, self.id, job.dac_pj, n)
            self.ledger.charge("adc", job.layer, self.id, job.mvms * job.cols * adc_pj, n)
            if self.trace.wants(job.inference):
                self.trace.span("core", self.id, job.layer, start, job.cycles, job.inference,
                                mvms=job.mvms)
            job.done(job, self.id, self.env.now)
