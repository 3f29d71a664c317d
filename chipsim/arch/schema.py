"""The chip description as typed, immutable data.

A chip description is a YAML file that says what an analog in-memory-computing chip is made of:
its clock, its crossbar cores (array size, unit cell, device physics, DAC, ADC, read modes, local
digital unit), the network that joins the cores, the global digital units, and what each event
costs in energy. These pydantic models are its schema: every field has a type, a unit in its
name (`*_ns`, `*_cycles`, `*_pj`, `*_us`, `*_mw`, `*_bits`, `*_bytes`) and a range, unknown keys
are errors, and the loaded `Chip` is frozen so no layer can change the chip under another's feet.

Cross-field rules (links naming cores that exist, ADCs not outnumbering columns, ...) live in
`_FieldProblem`-raising validators so that the loader can name the exact field at fault.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

if TYPE_CHECKING:
    import networkx
    import numpy

# Strict scalars: YAML already types its values, so "8" is not an integer and true is not 1.
Int = Annotated[int, Strict()]
Num = Annotated[float, Strict()]  # accepts integers too
PosInt = Annotated[Int, Field(ge=1)]
NonNegInt = Annotated[Int, Field(ge=0)]
PosNum = Annotated[Num, Field(gt=0)]
NonNegNum = Annotated[Num, Field(ge=0)]
Name = Annotated[str, Strict(), Field(min_length=1)]
Bool = Annotated[bool, Strict()]  # true/false only, not "yes" or 1


class _FieldProblem(ValueError):
    """A cross-field rule broken at `path` (relative to the model that checks it)."""

    def __init__(self, path: tuple[str | int, ...], expected: str, got: Any):
        super().__init__(f"expected {expected}, got {got!r}")
        self.path, self.expected, self.got = path, expected, got


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------------------------------- cores


class UnitCell(_Model):
    """How the devices of one crossbar cell make one signed weight."""

    polarity: Literal["differential", "single"]  # differential: G+ and G- devices, w ~ G+ - G-
    devices_per_polarity: Annotated[Int, Field(ge=1, le=8)]
    combine: Literal["sum"]  # parallel devices of one polarity are read together: currents add
    # weights -> conductances: one scale per tile (max |W| of the block at g_max) or per column
    # (each column's max |W| at g_max); the local digital unit undoes the scale
    weight_scale: Literal["tile", "column"] = "tile"


class PcmCoefficients(_Model):
    """Overrides of the published PCM statistical model (None keeps the model's own value)."""

    prog_noise: tuple[Num, Num, Num] | None = None  # sigma_prog = c0 + c1 g_r + c2 g_r^2 (x g_max/25)
    drift_nu_mean: tuple[Num, Num, Num, Num] | None = None  # slope, intercept, clip low, clip high
    drift_nu_std: tuple[Num, Num, Num, Num] | None = None  # slope, intercept, clip low, clip high
    read_noise: tuple[Num, Num, Num] | None = None  # Q_s = min(q0 / (g/g_max)^exponent, q_max)


class PcmDevice(_Model):
    """Phase-change memory with programming noise, conductance drift and 1/f read noise."""

    model: Literal["pcm"]
    g_max_us: PosNum  # largest programmable conductance of ONE device
    t0_s: PosNum  # time after programming at which drift is referenced
    t_read_s: PosNum  # duration of one read, for the read-noise bandwidth
    coefficients: PcmCoefficients = PcmCoefficients()


Device = Annotated[Union[PcmDevice], Field(discriminator="model")]


class Dac(_Model):
    """Input converter: turns an input code into a row pulse."""

    kind: Literal["pwm"]  # pulse-width modulation: the code sets how many steps the row is on
    bits: Annotated[Int, Field(ge=1, le=16)]
    signed: Bool  # one bit of `bits` carries the sign
    step_ns: PosNum  # duration of one PWM step (one LSB)
    window: Literal["fixed", "data"]  # fixed: full-scale steps every MVM; data: largest |code|
    input_range: Literal["calibrated", "max_abs"]  # calibrated per tile, or each vector's max |x|
    # x / step to a code: nearest code, or up with probability equal to the fraction (unbiased)
    rounding: Literal["deterministic", "stochastic"] = "deterministic"

    @property
    def max_code(self) -> int:
        """Largest input magnitude in steps (2^(bits-1)-1 signed, 2^bits-1 unsigned)."""
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1


class Adc(_Model):
    """Output converter: one per column (or shared), turns a column's charge into a code."""

    kind: Literal["cco", "sar", "ramp"]
    bits: Annotated[Int, Field(ge=1, le=16)]
    per_core: PosInt
    conversion_ns: NonNegNum  # time after the input window until the code is ready, per phase
    full_scale: PosNum  # output range +-full_scale in normalized units (|x| <= 1, |w| <= 1)
    noise_std: NonNegNum  # output-referred noise, same normalized units


class Phase(_Model):
    """One modulation cycle: which input signs drive which weight polarity."""

    inputs: Literal["positive", "negative", "both"]
    weights: Literal["positive", "negative", "both"]


class ReadMode(_Model):
    """How many modulation cycles (phases) one MVM takes, and what each one reads."""

    phases: Annotated[tuple[Phase, ...], Field(min_length=1)]


Op = Literal["affine", "relu", "add", "multiply", "mac", "max", "tanh", "sigmoid", "lut"]


class Ldpu(_Model):
    """Local digital processing unit of one core: post-processes the ADC codes."""

    ops: Annotated[tuple[Op, ...], Field(min_length=1)]
    lanes: PosInt  # results per cycle
    latency_cycles: NonNegInt
    precision: Literal["fp16", "int8", "int16", "fp32"]


class Cores(_Model):
    """The crossbar cores, all alike."""

    count: PosInt
    rows: PosInt
    cols: PosInt
    unit_cell: UnitCell
    device: Device
    dac: Dac
    adc: Adc
    ldpu: Ldpu
    # activations that have arrived for the core's MVMs and wait to be read (rows of the
    # windows still ahead); without the field, unbounded
    input_buffer_bytes: PosInt | None = None

    @model_validator(mode="after")
    def _adcs_fit(self) -> Cores:
        if self.adc.per_core > self.cols:
            raise _FieldProblem(("adc", "per_core"), f"at most cols = {self.cols}", self.adc.per_core)
        return self


# -------------------------------------------------------------------------------------- network


class Mesh2d(_Model):
    """A rows x cols grid; core r * cols + c sits at (r, c) and links to its 4 neighbours."""

    kind: Literal["mesh2d"]
    rows: PosInt
    cols: PosInt


class Links(_Model):
    """An explicit list of bidirectional core-to-core links, for any topology."""

    kind: Literal["links"]
    links: tuple[tuple[NonNegInt, NonNegInt], ...]
    positions: tuple[tuple[Int, Int], ...] | None = None  # (row, col) per core, for drawing


Topology = Annotated[Union[Mesh2d, Links], Field(discriminator="kind")]


class Network(_Model):
    """The on-chip network between cores and global units."""

    topology: Topology
    link_width_bits: PosInt
    hop_latency_cycles: PosInt
    buffer_depth_flits: PosInt
    routing: Literal["xy", "shortest_path"]
    # which waiting packet a free output port takes (chipsim.noc.router); the event model
    # approximates both (chipsim.timing.network)
    arbitration: Literal["round_robin", "oldest_first"] = "round_robin"


class Memory(_Model):
    """SRAM next to a global unit."""

    size_bytes: PosInt
    width_bits: PosInt
    latency_cycles: NonNegInt


class GlobalUnits(_Model):
    """Global digital processing units shared by all cores (e.g. LSTM cell arithmetic)."""

    count: NonNegInt
    ops: tuple[Op, ...]
    lanes: PosInt
    latency_cycles: NonNegInt
    precision: Literal["fp16", "int8", "int16", "fp32"]
    attach_cores: tuple[NonNegInt, ...]  # the core each unit hangs off, one per unit
    memory: Memory

    @model_validator(mode="after")
    def _one_core_per_unit(self) -> GlobalUnits:
        if len(self.attach_cores) != self.count:
            raise _FieldProblem(("attach_cores",), f"a list of {self.count} core ids (one per unit)",
                                list(self.attach_cores))
        return self


# --------------------------------------------------------------------------------------- energy


class Energy(_Model):
    """Energy per event of every component, and static power."""

    dac_step_row_pj: NonNegNum  # one PWM step on one driven row
    adc_conversion_pj: NonNegNum  # one conversion of one column, one phase
    array_read_pj_per_us_ns: NonNegNum  # one device conducting 1 uS for 1 ns
    ldpu_op_pj: NonNegNum
    gdpu_op_pj: NonNegNum
    hop_bit_pj: NonNegNum  # one bit over one link
    sram_byte_pj: NonNegNum  # one byte read or written in a global unit's memory
    static_core_mw: NonNegNum  # leakage and clocking of one core while powered
    static_rest_mw: NonNegNum  # everything else: network, global units, I/O
    # cores that hold no weights of the mapped network: still powered (they leak), or gated
    # off (no static power); without the field, powered, the cautious assumption
    unused_cores: Literal["powered", "gated"] = "powered"


# ------------------------------------------------------------------------------------- training


class PulsedDevice(_Model):
    """A device updated by pulses (chipsim.device.pulsed), in normalized weight units."""

    kind: Literal["constant_step", "soft_bounds"]
    dw_min: PosNum  # mean step of one pulse at w = 0
    up_down: Annotated[Num, Field(gt=-1, lt=1)] = 0.0  # a+- = dw_min (1 +- up_down)
    w_max: PosNum  # mean upper bound b_max
    w_min: Annotated[Num, Field(lt=0)]  # mean lower bound b_min
    up_down_dtod: NonNegNum = 0.0  # device-to-device std of up_down (absolute)
    dtod: NonNegNum  # device-to-device std of the step size (a+ and a- together), relative
    bound_dtod: Annotated[Num, Field(ge=0, lt=1)]  # device-to-device std of the bounds, relative
    ctoc: NonNegNum  # cycle-to-cycle std of one step, relative


class PcmLikePulsedDevice(_Model):
    """A PCM-like pulsed device (chipsim.device.pulsed): SET steps that shrink as the weight
    grows, with exponent `nonlinearity`, and an abrupt RESET-like down step."""

    kind: Literal["pcm_like"]
    dw_min: PosNum  # mean SET step at w = 0
    up_down: Annotated[Num, Field(gt=-1, lt=1)] = 0.0  # a+- = dw_min (1 +- up_down) (x reset_step)
    w_max: PosNum  # mean upper bound b_max: the SET steps vanish there
    w_min: Annotated[Num, Field(lt=0)]  # mean lower bound b_min
    up_down_dtod: NonNegNum = 0.0  # device-to-device std of up_down (absolute)
    dtod: NonNegNum  # device-to-device std of the step size (a+ and a- together), relative
    bound_dtod: Annotated[Num, Field(ge=0, lt=1)]  # device-to-device std of the bounds, relative
    ctoc: NonNegNum  # cycle-to-cycle std of one step, relative
    nonlinearity: NonNegNum  # SET step a+ ((b_max - w) / b_max)^nonlinearity
    reset_step: PosNum  # the down (RESET-like) step, in units of dw_min (1 - up_down)


TrainingDevice = Annotated[Union[PulsedDevice, PcmLikePulsedDevice], Field(discriminator="kind")]


class Training(_Model):
    """How the cores train in place: their pulsed devices and the stochastic update."""

    device: TrainingDevice
    bl: Annotated[Int, Field(ge=1, le=64)]  # pulse slots per update (one 64-bit word at most)
    update_management: Bool = True  # balance row and column pulse probabilities


# --------------------------------------------------------------------------------------- faults

Fraction = Annotated[Num, Field(ge=0, le=1)]


class StuckDevice(_Model):
    """One device stuck at a conductance: it ignores programming (chipsim.arch.faults)."""

    core: NonNegInt
    row: NonNegInt
    col: NonNegInt
    polarity: Literal["positive", "negative"]  # the G+ or the G- side of the cell
    device: NonNegInt = 0  # which of the parallel devices of that polarity
    state: Literal["set", "reset"]  # set: stuck at g_max; reset: stuck at 0


class Faults(_Model):
    """What is broken on this chip instance; faults are data like the rest (chipsim.arch.faults).

    A dead core holds no weights and computes nothing, but its router still forwards packets
    (a failed router is its links, listed as broken). Fractions of stuck devices are drawn per
    core from `seed`; `stuck_devices` names single devices on top of them.
    """

    seed: NonNegInt = 0
    stuck_set: Fraction = 0.0  # fraction of devices stuck at SET (g_max)
    stuck_reset: Fraction = 0.0  # fraction of devices stuck at RESET (zero conductance)
    stuck_devices: tuple[StuckDevice, ...] = ()
    dead_cores: tuple[NonNegInt, ...] = ()
    broken_links: tuple[tuple[NonNegInt, NonNegInt], ...] = ()

    @model_validator(mode="after")
    def _fractions(self) -> Faults:
        if self.stuck_set + self.stuck_reset > 1:
            raise _FieldProblem(("stuck_reset",), f"at most 1 - stuck_set = {1 - self.stuck_set:g}",
                                self.stuck_reset)
        return self

    def __bool__(self) -> bool:
        return bool(self.stuck_set or self.stuck_reset or self.stuck_devices or self.dead_cores
                    or self.broken_links)


# ----------------------------------------------------------------------------------------- chip


class Chip(_Model):
    """A whole chip, as loaded from its description."""

    name: Name
    title: str = ""
    clock_ghz: PosNum
    cores: Cores
    read_modes: Annotated[dict[Name, ReadMode], Field(min_length=1)]
    default_read_mode: Name
    network: Network
    global_units: GlobalUnits
    energy: Energy
    training: Training | None = None  # absent: an inference chip, its tiles cannot be updated
    faults: Faults | None = None  # absent: every device, core and link works

    @model_validator(mode="after")
    def _consistent(self) -> Chip:
        if self.default_read_mode not in self.read_modes:
            raise _FieldProblem(("default_read_mode",), f"one of {', '.join(self.read_modes)}",
                                self.default_read_mode)
        n = self.cores.count
        topo = self.network.topology
        if isinstance(topo, Mesh2d):
            if topo.rows * topo.cols != n:
                raise _FieldProblem(("network", "topology"),
                                    f"rows x cols = cores.count = {n}", f"{topo.rows} x {topo.cols}")
        else:
            if self.network.routing == "xy":
                raise _FieldProblem(("network", "routing"), '"shortest_path" for a links topology', "xy")
            for i, link in enumerate(topo.links):
                for end in link:
                    if end >= n:
                        raise _FieldProblem(("network", "topology", "links", i),
                                            f"core ids from 0 to {n - 1}", list(link))
                if link[0] == link[1]:
                    raise _FieldProblem(("network", "topology", "links", i), "two different cores", list(link))
            if topo.positions is not None and len(topo.positions) != n:
                raise _FieldProblem(("network", "topology", "positions"), f"{n} (row, col) pairs",
                                    f"{len(topo.positions)} pairs")
            from chipsim.arch.network import unreachable_cores
            if lost := unreachable_cores(n, topo.links):
                raise _FieldProblem(("network", "topology", "links"),
                                    "links that connect every core", f"cores {lost} cut off from core 0")
        for i, core in enumerate(self.global_units.attach_cores):
            if core >= n:
                raise _FieldProblem(("global_units", "attach_cores", i), f"a core id from 0 to {n - 1}", core)
        if self.faults is not None:
            self._faults_fit()
        return self

    def _faults_fit(self) -> None:
        """Every fault names a core, link and device this chip has."""
        n, faults = self.cores.count, self.faults
        for i, core in enumerate(faults.dead_cores):
            if core >= n:
                raise _FieldProblem(("faults", "dead_cores", i), f"a core id from 0 to {n - 1}", core)
        from chipsim.arch.network import core_links
        links = set(core_links(self))
        for i, (a, b) in enumerate(faults.broken_links):
            if (min(a, b), max(a, b)) not in links:
                raise _FieldProblem(("faults", "broken_links", i), "a link of the network", [a, b])
        limits = {"core": n, "row": self.cores.rows, "col": self.cores.cols,
                  "device": self.cores.unit_cell.devices_per_polarity}
        for i, stuck in enumerate(faults.stuck_devices):
            for name, limit in limits.items():
                if getattr(stuck, name) >= limit:
                    raise _FieldProblem(("faults", "stuck_devices", i, name),
                                        f"an index from 0 to {limit - 1}", getattr(stuck, name))

    # -- derived views, computed once (the model is frozen, so they cannot go stale) ----------

    def core_position(self, core: int) -> tuple[int, int]:
        """(row, col) of a core on the floorplan, for drawing and for XY routing."""
        from chipsim.arch.network import core_position
        return core_position(self, core)

    def network_graph(self) -> networkx.Graph:
        """A fresh networkx Graph: cores 0..count-1 and global units "gdpu0".., edges with
        `width_bits` and `latency_cycles`."""
        from chipsim.arch.network import network_graph
        return network_graph(self)

    @cached_property
    def hop_distances(self) -> numpy.ndarray:
        """(count, count) read-only int array: hops between every pair of cores."""
        from chipsim.arch.network import hop_distances
        return hop_distances(self)
