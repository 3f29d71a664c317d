"""Peak figures of a chip, derived from its description alone.

How fast can one core multiply a vector by its full crossbar, what does that cost, and what does
that make for the whole chip? The answer is a handful of products of description fields, kept
simple on purpose: the cycle-level event model must reproduce these numbers from the same fields.

Per read mode (one MVM = all `rows x cols` weights used, every core busy):

    window_ns   = dac.max_code * dac.step_ns                      (PWM window at full-scale input)
    phase_ns    = window_ns + ceil(cols / adc.per_core) * adc.conversion_ns
    mvm_ns      = len(phases) * phase_ns
    peak_tops   = cores * 2 * rows * cols / mvm_ns / 1000         (a multiply-add is 2 ops)

    adc_pj      = len(phases) * cols * adc_conversion_pj
    dac_pj      = row_drives * rows * mean_code * dac_step_row_pj
    array_pj    = device_reads * rows * cols * devices_per_cell_polarity * g_mean_us
                  * mean_code * step_ns * array_read_pj_per_us_ns
    mvm_energy_pj = adc_pj + dac_pj + array_pj                    (the paper's scope)
    tops_per_w  = 2 * rows * cols / mvm_energy_pj                 (ops per pJ = TOPS/W)

Data assumption (state it wherever these figures are quoted): inputs uniform over the DAC range,
so a row's pulse lasts half the window on average (mean_code = max_code / 2; the MVM still takes
the whole fixed window), each row's sign positive or negative with equal odds; weights Gaussian, clipped at 3 sigma and mapped so that
max|w| is a polarity's full conductance; so a polarity's mean conductance is E|w|/max|w| =
sqrt(2/pi)/3 of its maximum, carried by one polarity of a differential cell (the other is off).
`row_drives` counts the phases that drive a row of a given sign; `device_reads` the phases that
read a device with such a row. The whole-chip figure adds one LDPU op per output (the affine
correction), moving every output one hop, and static power over the MVM time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from chipsim.arch.schema import Chip, ReadMode

#: Mean |w| / max|w| of Gaussian weights clipped at 3 sigma (see the module docstring).
GAUSSIAN_MEAN_ABS_FRACTION = math.sqrt(2 / math.pi) / 3

#: Mean |input code| / max code of inputs uniform over the DAC range (see the module docstring).
MEAN_CODE_FRACTION = 0.5

#: LDPU operations per MVM output in the whole-chip figure: one fused scale-and-offset.
LDPU_OPS_PER_OUTPUT = 1


@dataclass(frozen=True)
class ModeMetrics:
    """Peak figures of one read mode; energies per core and per MVM."""

    phases: int
    mvm_ns: float
    peak_tops: float
    mvm_energy_pj: float
    tops_per_w: float
    adc_pj: float
    dac_pj: float
    array_pj: float
    whole_chip_mvm_energy_pj: float
    whole_chip_tops_per_w: float
    whole_chip_power_w: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _matches(rule: str, sign: str) -> bool:
    return rule == "both" or rule == sign


def row_drives(mode: ReadMode) -> float:
    """Phases that drive one row, averaged over the row's input sign."""
    return sum(_matches(p.inputs, s) for p in mode.phases for s in ("positive", "negative")) / 2


def device_reads(mode: ReadMode, polarities: tuple[str, ...]) -> float:
    """Phases in which one device conducts, averaged over input sign and device polarity."""
    pairs = [(s, w) for s in ("positive", "negative") for w in polarities]
    hits = sum(_matches(p.inputs, s) and _matches(p.weights, w) for p in mode.phases for s, w in pairs)
    return hits / len(pairs)


def mean_device_conductance_us(chip: Chip) -> float:
    """Mean conductance of one device under the data assumption of the module docstring."""
    cell = chip.cores.unit_cell
    on_share = 0.5 if cell.polarity == "differential" else 1.0
    return GAUSSIAN_MEAN_ABS_FRACTION * on_share * chip.cores.device.g_max_us


def mode_metrics(chip: Chip, mode_name: str) -> ModeMetrics:
    """Peak MVM time, throughput and energy of one read mode (formulas in the module docstring)."""
    cores, energy = chip.cores, chip.energy
    mode = chip.read_modes[mode_name]
    window_ns = cores.dac.max_code * cores.dac.step_ns
    phase_ns = window_ns + math.ceil(cores.cols / cores.adc.per_core) * cores.adc.conversion_ns
    n_phases = len(mode.phases)
    mvm_ns = n_phases * phase_ns
    ops = 2 * cores.rows * cores.cols

    polarities = ("positive", "negative") if cores.unit_cell.polarity == "differential" else ("positive",)
    adc_pj = n_phases * cores.cols * energy.adc_conversion_pj
    mean_code = MEAN_CODE_FRACTION * cores.dac.max_code
    dac_pj = row_drives(mode) * cores.rows * mean_code * energy.dac_step_row_pj
    devices = cores.rows * cores.cols * cores.unit_cell.devices_per_polarity * len(polarities)
    array_pj = (device_reads(mode, polarities) * devices * mean_device_conductance_us(chip)
                * mean_code * cores.dac.step_ns * energy.array_read_pj_per_us_ns)
    mvm_pj = adc_pj + dac_pj + array_pj

    static_mw = energy.static_core_mw * cores.count + energy.static_rest_mw
    whole_pj = (mvm_pj
                + cores.cols * LDPU_OPS_PER_OUTPUT * energy.ldpu_op_pj
                + cores.cols * cores.adc.bits * energy.hop_bit_pj
                + static_mw * mvm_ns / cores.count)  # mW x ns = pJ, shared over the busy cores
    return ModeMetrics(
        phases=n_phases,
        mvm_ns=mvm_ns,
        peak_tops=cores.count * ops / mvm_ns / 1e3,
        mvm_energy_pj=mvm_pj,
        tops_per_w=_ratio(ops, mvm_pj),
        adc_pj=adc_pj,
        dac_pj=dac_pj,
        array_pj=array_pj,
        whole_chip_mvm_energy_pj=whole_pj,
        whole_chip_tops_per_w=_ratio(ops, whole_pj),
        whole_chip_power_w=cores.count * whole_pj / mvm_ns / 1e3,  # pJ / ns = mW
    )


def chip_metrics(chip: Chip) -> dict[str, ModeMetrics]:
    """`mode_metrics` for every read mode, in the description's order."""
    return {name: mode_metrics(chip, name) for name in chip.read_modes}


def _ratio(ops: float, pj: float) -> float:
    return ops / pj if pj > 0 else math.inf
