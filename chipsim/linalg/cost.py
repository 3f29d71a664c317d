"""What a linear-algebra run costs: the arrays' share from the event model, the rest digital.

Each `ArrayProduct` is priced by the cycle-level model of the chip it is programmed on
(`chipsim.timing`): its first vectors (up to 64) are streamed through the mapped one-layer
network, which gives the energy per vector (arrays, DACs, ADCs, local digital units, network)
and the time: the first vector's latency and the steady-state interval between vectors. Static
power is charged for the cores the product occupies over each interval (`static_core_mw`), not
for the whole chip: the other cores are free for other work, and the digital reference carries
no static power either. A call of n vectors then costs n energies and one latency
plus n - 1 intervals; calls run one after another (each algorithm step waits for the last).
Programming the crossbars is not priced (the chip description has no programming energy).

The digital work (factorizations, residuals, per-vector scaling, and in the all-digital
reference every product too) is priced with `DigitalReference`: a float32 multiply-add on the
chip's own digital units. The description gives an FP16 multiply-add (`energy.gdpu_op_pj`,
itself scaled from Horowitz, ISSCC 2014); a float32 one costs 4.6 / 1.5 = 3.07 times as much at
45 nm (Horowitz: FP32 add 0.9 + multiply 3.7 pJ, FP16 add 0.4 + multiply 1.1 pJ). Bytes cost
`energy.sram_byte_pj`; the rate is one multiply-add per lane per cycle on every global unit
(`global_units.count x lanes x clock`). The float64 steps are priced as float32, which
understates digital cost: the comparison leans towards digital.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from chipsim.arch import Chip
from chipsim.linalg.algorithms import Digital
from chipsim.linalg.products import ArrayProduct, Calls

#: float32 over FP16 multiply-add energy at 45 nm (Horowitz, ISSCC 2014: (0.9 + 3.7) / (0.4 + 1.1))
FP32_OVER_FP16 = 4.6 / 1.5


@dataclass(frozen=True)
class DigitalReference:
    """Energy and rate of digital work."""

    pj_per_mac: float
    pj_per_byte: float
    macs_per_ns: float
    source: str

    @classmethod
    def from_chip(cls, chip: Chip) -> "DigitalReference":
        units = chip.global_units
        return cls(
            pj_per_mac=chip.energy.gdpu_op_pj * FP32_OVER_FP16,
            pj_per_byte=chip.energy.sram_byte_pj,
            macs_per_ns=units.count * units.lanes * chip.clock_ghz,
            source=(f"{chip.name}'s global units: FP16 multiply-add {chip.energy.gdpu_op_pj} pJ "
                    f"(description) x {FP32_OVER_FP16:.2f} for float32 (Horowitz, ISSCC 2014), "
                    f"SRAM {chip.energy.sram_byte_pj} pJ/byte, {units.count} units x "
                    f"{units.lanes} lanes at {chip.clock_ghz} GHz"))

    def energy_pj(self, macs: float, nbytes: float) -> float:
        return macs * self.pj_per_mac + nbytes * self.pj_per_byte

    def time_ns(self, macs: float) -> float:
        return macs / self.macs_per_ns


@dataclass(frozen=True)
class ProductCost:
    """One product's calls on the chip, priced by the event model."""

    name: str
    shape: tuple[int, int]
    tiles: int
    calls: int
    vectors: int
    energy_per_vector_pj: float
    latency_ns: float
    interval_ns: float
    energy_pj: float
    time_ns: float
    digital_macs: int  # what the same products cost in digital

    def to_json(self) -> dict:
        return asdict(self)


def price_product(product: ArrayProduct, read_mode: str | None = None) -> ProductCost:
    """The event model's energy and time of every call `product` served."""
    from chipsim.timing.simulate import Simulation

    calls = product.calls
    if product.first_inputs is None:
        return ProductCost(calls.name, (calls.rows, calls.cols), product.tiles, 0, 0, 0.0, 0.0,
                           0.0, 0.0, 0.0, 0)
    sim = Simulation(product.graph, product.layers, product.chip, product.mapping,
                     read_mode=read_mode, seed=product.seed, options=product.options,
                     model=calls.name)
    result, _, _ = sim.run(product.first_inputs, keep_outputs=False,
                           trace_inputs=0)
    latency = result.first_latency_ns
    interval = 1e9 / result.inferences_per_s if result.inferences_per_s else latency
    dynamic = (result.energy_pj - result.energy_by_component.get("static", 0.0)) / result.inputs
    static = product.chip.energy.static_core_mw * result.cores_used * interval  # mW x ns = pJ
    per_vector = dynamic + static
    time = sum(latency + (n - 1) * interval for n in calls.batches)
    return ProductCost(calls.name, (calls.rows, calls.cols), product.tiles, len(calls.batches),
                       calls.vectors, per_vector, latency, interval, per_vector * calls.vectors,
                       time, calls.macs)


def scaling_work(calls: Calls, digital: Digital) -> None:
    """Per-vector scaling around the arrays: a max and a scale on the way in, a scale out."""
    digital.add("per-vector scaling", calls.vectors * (calls.rows + calls.cols),
                4 * calls.vectors * (calls.rows + calls.cols))


@dataclass(frozen=True)
class CostSummary:
    """Analog + digital against all-digital, energy in pJ and time in ns."""

    analog_energy_pj: float
    analog_time_ns: float
    digital_energy_pj: float
    digital_time_ns: float
    all_digital_energy_pj: float
    all_digital_time_ns: float
    digital_macs: float
    all_digital_macs: float

    @property
    def energy_ratio(self) -> float:
        """All-digital energy over analog + digital (above 1: the arrays save energy)."""
        return self.all_digital_energy_pj / (self.analog_energy_pj + self.digital_energy_pj)

    def to_json(self) -> dict:
        return {**asdict(self), "energy_ratio": self.energy_ratio}


def summarize_costs(products: list[ProductCost], digital: Digital, scaling: Digital,
                    reference: DigitalReference, all_digital: Digital) -> CostSummary:
    """Analog products + digital work (the algorithm's own and the arrays' `scaling`), against
    `all_digital`, the digital method's own work."""
    macs = digital.total_macs + scaling.total_macs
    return CostSummary(
        analog_energy_pj=sum(p.energy_pj for p in products),
        analog_time_ns=sum(p.time_ns for p in products),
        digital_energy_pj=reference.energy_pj(macs, digital.total_bytes + scaling.total_bytes),
        digital_time_ns=reference.time_ns(macs),
        all_digital_energy_pj=reference.energy_pj(all_digital.total_macs,
                                                  all_digital.total_bytes),
        all_digital_time_ns=reference.time_ns(all_digital.total_macs),
        digital_macs=macs, all_digital_macs=all_digital.total_macs)
