"""What the timed model reads from a chip description, in the units it works in.

The description speaks in nanoseconds and per-event picojoules; the event model counts integer
clock cycles. This module is the one place that translates, so every other timing module reads
plain numbers (`TimingParams`) and the model can be checked by hand against the description:

- one read phase of an MVM takes ceil((steps x dac.step_ns + conversion) x clock_ghz) cycles,
  where steps is the largest input code of the vector (`dac.window: data`) or the full-scale
  code (`fixed`), and conversion is adc.conversion_ns once per group of columns that the core's
  ADCs convert in turn (`chipsim.arch.metrics` uses the same formula at full scale);
- an MVM takes one such phase per phase of the read mode, one after the other;
- the local digital unit takes `lanes` values per cycle; results follow `latency_cycles` later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from chipsim.errors import DescriptionError


# Partial sums travel in the LDPU's number format when the description does not say otherwise.
_PRECISION_BITS = {"fp16": 16, "int8": 8, "int16": 16, "fp32": 32}


@dataclass(frozen=True)
class TimingParams:
    """Per-read-mode timing and energy figures of one chip, in cycles and pJ."""

    chip: str
    read_mode: str
    clock_ghz: float
    cores: int
    rows: int
    cols: int
    phases: tuple[tuple[str, str], ...]  # (input signs, weight polarity) per phase
    max_code: int  # largest PWM code
    window: str  # "fixed" | "data"
    step_ns: float
    conversion_ns: float
    adcs_per_core: int
    adc_kind: str  # "cco" | "sar" | "ramp": how conversion energy follows the window
    ldpu_ops: tuple[str, ...]
    ldpu_lanes: int
    ldpu_latency_cycles: int
    gdpu_count: int
    gdpu_lanes: int
    gdpu_latency_cycles: int
    gdpu_attach: tuple[int, ...]
    gdpu_ops: tuple[str, ...]
    gdpu_value_bits: int  # a value in a global unit's memory, in its precision
    memory_bytes: int
    memory_width_bits: int
    memory_latency_cycles: int
    link_width_bits: int
    hop_latency_cycles: int
    buffer_depth_flits: int
    input_buffer_bits: int | None  # a core's input buffer (None: unbounded)
    routing: str
    activation_bits: int
    partial_sum_bits: int
    # energy (pJ per event) and static power (mW)
    dac_pj_per_row_step: float
    adc_pj_per_conversion: float
    array_pj_per_us_ns: float
    ldpu_pj_per_op: float
    gdpu_pj_per_op: float
    pj_per_bit_hop: float
    sram_pj_per_byte: float
    static_core_mw: float
    static_rest_mw: float
    unused_cores: str  # "powered" | "gated"

    @classmethod
    def from_chip(cls, chip, read_mode: str | None = None, link_width_scale: float = 1.0
                  ) -> "TimingParams":
        """Read the timing figures of `chip` in `read_mode` (default: the chip's default)."""
        mode = read_mode or chip.default_read_mode
        if mode not in chip.read_modes:
            raise DescriptionError(f"{chip.name}: read mode {mode!r} does not exist; "
                                   f"the chip has {', '.join(chip.read_modes)}")
        c, net, gu, e = chip.cores, chip.network, chip.global_units, chip.energy
        act_bits = getattr(net, "activation_bits", c.dac.bits)
        psum_bits = getattr(net, "partial_sum_bits", None) or _PRECISION_BITS[c.ldpu.precision]
        _check_event_cycles(chip)
        return cls(
            chip=chip.name, read_mode=mode, clock_ghz=float(chip.clock_ghz), cores=c.count,
            rows=c.rows, cols=c.cols,
            phases=tuple((p.inputs, p.weights) for p in chip.read_modes[mode].phases),
            max_code=c.dac.max_code, window=c.dac.window, step_ns=float(c.dac.step_ns),
            conversion_ns=float(c.adc.conversion_ns), adcs_per_core=c.adc.per_core,
            adc_kind=c.adc.kind,
            ldpu_ops=tuple(c.ldpu.ops), ldpu_lanes=c.ldpu.lanes,
            ldpu_latency_cycles=c.ldpu.latency_cycles, gdpu_count=gu.count, gdpu_lanes=gu.lanes,
            gdpu_latency_cycles=gu.latency_cycles, gdpu_attach=tuple(gu.attach_cores),
            gdpu_ops=tuple(gu.ops), gdpu_value_bits=_PRECISION_BITS[gu.precision],
            memory_bytes=gu.memory.size_bytes,
            memory_width_bits=gu.memory.width_bits,
            memory_latency_cycles=gu.memory.latency_cycles,
            link_width_bits=max(1, int(net.link_width_bits * link_width_scale)),
            hop_latency_cycles=net.hop_latency_cycles,
            buffer_depth_flits=net.buffer_depth_flits, routing=net.routing,
            input_buffer_bits=None if c.input_buffer_bytes is None else 8 * c.input_buffer_bytes,
            activation_bits=int(act_bits), partial_sum_bits=int(psum_bits),
            dac_pj_per_row_step=e.dac_step_row_pj, adc_pj_per_conversion=e.adc_conversion_pj,
            array_pj_per_us_ns=e.array_read_pj_per_us_ns, ldpu_pj_per_op=e.ldpu_op_pj,
            gdpu_pj_per_op=e.gdpu_op_pj, pj_per_bit_hop=e.hop_bit_pj,
            sram_pj_per_byte=e.sram_byte_pj, static_core_mw=e.static_core_mw,
            static_rest_mw=e.static_rest_mw, unused_cores=e.unused_cores)

    # -- time ---------------------------------------------------------------------------------
    def cycles(self, ns: float) -> int:
        """Whole cycles covering `ns` nanoseconds."""
        return math.ceil(ns * self.clock_ghz - 1e-9)

    def pwm_steps(self, max_codes: np.ndarray) -> np.ndarray:
        """PWM steps of each vector, given the largest |code| of each."""
        if self.window == "fixed":
            return np.full(len(max_codes), self.max_code, dtype=np.int64)
        return np.asarray(max_codes, dtype=np.int64)

    def mvm_cycles(self, steps: np.ndarray, cols: int) -> np.ndarray:
        """Cycles of each MVM of a run whose vectors need `steps` PWM steps, using `cols` columns."""
        groups = math.ceil(cols / self.adcs_per_core)
        phase_ns = np.asarray(steps, dtype=np.float64) * self.step_ns + groups * self.conversion_ns
        return np.ceil(phase_ns * self.clock_ghz - 1e-9).astype(np.int64) * len(self.phases)

    def adc_pj(self, steps: np.ndarray, cols: int) -> np.ndarray:
        """ADC energy of each MVM of a run whose vectors need `steps` PWM steps.

        `adc_conversion_pj` is one column's conversion in one full-scale phase. A CCO ADC
        integrates while the row pulses last and draws its bias for the whole window ([JSSC22]),
        so its energy follows the phase's length: less when a data-dependent window ends early.
        A SAR or ramp ADC converts once the window has closed: the same energy whatever the
        window. With a fixed window the two agree.
        """
        per_mvm = self.adc_pj_per_conversion * cols * len(self.phases)
        steps = np.asarray(steps, dtype=np.float64)
        if self.adc_kind != "cco":
            return np.full(len(steps), per_mvm)
        groups = math.ceil(cols / self.adcs_per_core) * self.conversion_ns
        full = self.max_code * self.step_ns + groups
        return per_mvm * (steps * self.step_ns + groups) / full

    def memory_words(self, bits: int) -> int:
        """Words of a global unit's memory that `bits` occupy (one access per cycle)."""
        return math.ceil(bits / self.memory_width_bits)

    @property
    def static_pj_per_cycle(self) -> float:
        """Static energy of the whole chip per clock cycle (mW x ns = pJ), every core powered."""
        return (self.cores * self.static_core_mw + self.static_rest_mw) / self.clock_ghz

    def static_pj_per_cycle_using(self, cores_used: int) -> float:
        """Static energy per cycle of a chip running a mapping on `cores_used` cores: the
        unused cores draw nothing when the description gates them (`energy.unused_cores`)."""
        powered = cores_used if self.unused_cores == "gated" else self.cores
        return (powered * self.static_core_mw + self.static_rest_mw) / self.clock_ghz


#: Longest event the cycle-level simulator schedules, in cycles: the clock counts in int64, and
#: a run adds up many events; 2^40 cycles is 18 minutes at 1 GHz for a single step.
MAX_EVENT_CYCLES = 2**40


def _check_event_cycles(chip) -> None:
    """DescriptionError naming the field when one step of the chip lasts so many cycles that
    the simulator's clock would overflow (found by fuzzing: `Negative delay -9223372036854775808`)."""
    c, net, gu = chip.cores, chip.network, chip.global_units
    ghz = float(chip.clock_ghz)
    window = c.dac.max_code * float(c.dac.step_ns)
    conversion = math.ceil(c.cols / c.adc.per_core) * float(c.adc.conversion_ns)
    for field, cycles in (("cores.dac.step_ns", window * ghz),
                          ("cores.adc.conversion_ns", conversion * ghz),
                          ("cores.ldpu.latency_cycles", c.ldpu.latency_cycles),
                          ("global_units.latency_cycles", gu.latency_cycles),
                          ("global_units.memory.latency_cycles", gu.memory.latency_cycles),
                          ("network.hop_latency_cycles", net.hop_latency_cycles)):
        if not cycles < MAX_EVENT_CYCLES:  # also inf and nan
            raise DescriptionError(f"{chip.name}: {field}: one step lasts {cycles:.3g} cycles "
                                   f"at {ghz:g} GHz; the simulator takes at most "
                                   f"{MAX_EVENT_CYCLES:.3g} (2^40) per step")
