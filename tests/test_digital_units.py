"""Digital units as pipelined FIFO servers: a job waits for earlier jobs' operands to go in,
not for their results to come out (issue 17, item 2), against hand counts on hermes64."""

from __future__ import annotations

import pytest

from chipsim.arch import load_chip
from chipsim.timing.digital import GlobalUnit, LocalUnit
from chipsim.timing.energy import EnergyLedger
from chipsim.timing.params import TimingParams
from chipsim.timing.trace import Trace


@pytest.fixture(scope="module")
def params():
    p = TimingParams.from_chip(load_chip("hermes64"))
    # the figures the hand counts below use
    assert (p.gdpu_lanes, p.gdpu_latency_cycles, p.memory_width_bits,
            p.memory_latency_cycles) == (8, 4, 128, 1)
    assert (p.ldpu_lanes, p.ldpu_latency_cycles) == (4, 3)
    return p


def test_a_global_unit_queues_jobs_behind_the_operands_of_earlier_ones(params):
    unit = GlobalUnit(0, 7, params, EnergyLedger(), Trace(params.clock_ghz, 0))
    # 256 FP16 values in and out (4096 bits = 32 words of 128 bits each way), 256 ops at 8 lanes
    # = 32 cycles: the job holds the unit 32 + 32 + 32 = 96 cycles; then memory read latency 1,
    # lane latency 4, memory write latency 1
    first = unit.run(0, "l", 0, ops=256, bits_in=4096, bits_out=4096)
    assert first == 96 + 6
    # a second job arriving at cycle 0 waits 96 cycles (not 102) for the unit
    second = unit.run(0, "l", 0, ops=256, bits_in=4096, bits_out=4096)
    assert second == 96 + 96 + 6
    # one arriving after the unit is free does not wait: 8 values, 8 ops -> 1 + 1 + 1 cycles
    assert unit.run(500, "l", 0, ops=8, bits_in=128, bits_out=128) == 500 + 3 + 6
    assert unit.server.busy_cycles == 96 + 96 + 3 and unit.server.jobs == 3


def test_a_local_unit_takes_lanes_per_cycle_and_overlaps_its_latency(params):
    unit = LocalUnit(0, params, EnergyLedger(), Trace(params.clock_ghz, 0))
    assert unit.run(0, "l", 0, values=16, ops=16) == 16 // 4 + 3  # 4 cycles in, 3 of latency
    assert unit.run(0, "l", 0, values=16, ops=32) == 4 + 32 // 4 + 3  # waits 4 cycles, not 7
    assert unit.run(2, "l", 0, values=4, ops=4) == 12 + 1 + 3  # behind both: the unit frees at 12
