"""What a timed run reports: latency, throughput, energy, efficiency, and where time went.

Plain data that knows how to become JSON and CSV. Throughput is measured, not derived, the way
a chip is measured: the model keeps the stream going past the user's inputs (timing-only
inputs, `pipeline.py`) until the completion intervals settle (`steady_rate`), so any number of
inputs, one included, gets the steady-state rate. The pipeline has filled once the first input
has left, and the stream's end distorts nothing before the moment one more input would have
entered; the rate is the completions of the inputs that entered the full pipeline, up to that
moment, over whole repeats of their intervals (`steady_rate`). Latency (of the first input),
energy and the outputs are those of the user's inputs; static power is charged for one
steady-state interval per inference (`simulate.summarize`).

Per-inference figures count what one inference does, whatever the number of inputs streamed:
energy and network traffic are counted over the user's inputs and divided by their number (the
timing-only inputs send the same messages and are billed nothing); MVM counts cover every input
streamed, so they are divided by all of them (`streamed_inputs`). Traffic is bit-hops: a bit
crossing one link; it equals the mapping's `hop_weighted_traffic` (`chipsim.mapping.traffic`
owns the messages). TOPS count 2 operations per
weight per MVM as the chip paper does; "TOPS/W as the paper counts them" divides by the energy of
the crossbar arrays, DACs and ADCs only, and the whole-chip figure beside it divides by all of it
(digital units, network, memory, static power).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from chipsim.timing.energy import PAPER_SCOPE


@dataclass
class SimResult:
    """Figures of one run of the timed model."""

    chip: str
    model: str
    read_mode: str
    inputs: int
    clock_ghz: float
    cycles: int  # the whole run
    first_latency_cycles: int
    inferences_per_s: float | None  # steady state; None only if under 3 inputs ever finished
    ops_per_inference: float  # 2 x weights used x MVMs
    simulated_mvms: int  # crossbar MVMs that ran (one block, one vector), timing-only ones too
    cores_used: int
    energy_pj: float  # whole chip, the user's inputs
    energy_by_component: dict[str, float]
    energy_by_layer: dict[str, float]
    energy_by_core: dict[int, float]
    core_utilization: dict[int, float]
    links: list[dict[str, Any]]
    units: list[dict[str, Any]]
    bottleneck: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    outputs_match_functional: bool | None = None
    steady_inputs: int = 0  # completions the steady rate was measured over
    steady_state: bool = False  # the completion intervals settled (repeat) within the bound
    timing_only_inputs: int = 0  # streamed after the real inputs for the rate; no values, energy
    core_mvms: dict[int, int] = field(default_factory=dict)  # per core, every input streamed
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def streamed_inputs(self) -> int:
        """Every input that went through the chip: the user's and the timing-only ones."""
        return self.inputs + self.timing_only_inputs

    @property
    def mvms_per_inference(self) -> float:
        return self.simulated_mvms / self.streamed_inputs

    @property
    def core_mvms_per_inference(self) -> dict[int, float]:
        """MVMs per inference each core ran (`chipsim.mapping.metrics.core_mvms` on average)."""
        return {c: k / self.streamed_inputs for c, k in self.core_mvms.items()}

    @property
    def traffic_bit_hops_per_inference(self) -> float:
        """Bits x hops one inference sends over the network (sum over links of the user's
        inputs' bits, over their number)."""
        return sum(link["bits"] for link in self.links) / self.inputs

    @property
    def first_latency_ns(self) -> float:
        return self.first_latency_cycles / self.clock_ghz

    @property
    def energy_per_inference_pj(self) -> float:
        return self.energy_pj / self.inputs

    @property
    def paper_energy_per_inference_pj(self) -> float:
        return sum(self.energy_by_component.get(c, 0.0) for c in PAPER_SCOPE) / self.inputs

    @property
    def tops(self) -> float | None:
        if self.inferences_per_s is None:
            return None
        return self.ops_per_inference * self.inferences_per_s / 1e12

    @property
    def tops_per_w(self) -> float:
        """ops / pJ = TOPS/W, in the paper's scope (arrays, DACs, ADCs)."""
        pj = self.paper_energy_per_inference_pj
        return self.ops_per_inference / pj if pj > 0 else 0.0

    @property
    def whole_chip_tops_per_w(self) -> float:
        pj = self.energy_per_inference_pj
        return self.ops_per_inference / pj if pj > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "chip": self.chip, "read_mode": self.read_mode,
            "inputs": self.inputs,
            "first_latency_ns": self.first_latency_ns,
            "inferences_per_s": self.inferences_per_s,
            "steady_state": self.steady_state, "steady_inputs": self.steady_inputs,
            "timing_only_inputs": self.timing_only_inputs,
            "streamed_inputs": self.streamed_inputs,
            "energy_per_inference_pj": self.energy_per_inference_pj,
            "traffic_bit_hops_per_inference": self.traffic_bit_hops_per_inference,
            "mvms_per_inference": self.mvms_per_inference,
            "tops": self.tops, "tops_per_w": self.tops_per_w,
            "whole_chip_tops_per_w": self.whole_chip_tops_per_w,
            "paper_scope_energy_per_inference_pj": self.paper_energy_per_inference_pj,
            "cores_used": self.cores_used, "simulated_mvms": self.simulated_mvms,
            "outputs_match_functional": self.outputs_match_functional,
            "run_ns": self.cycles / self.clock_ghz, "clock_ghz": self.clock_ghz,
            "ops_per_inference": self.ops_per_inference,
            "bottleneck": self.bottleneck,
            "energy_by_component_pj": self.energy_by_component,
            "energy_by_layer_pj": self.energy_by_layer,
            "energy_by_core_pj": {str(k): v for k, v in self.energy_by_core.items()},
            "core_utilization": {str(k): v for k, v in self.core_utilization.items()},
            "core_mvms_per_inference": {str(k): v
                                        for k, v in self.core_mvms_per_inference.items()},
            "links": self.links, "units": self.units, "notes": self.notes, **self.extra,
        }

    def write(self, out_dir: str | Path) -> list[Path]:
        """figures.json and figures.csv (one `section,key,value` row per figure) in `out_dir`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        data = self.to_json()
        (out / "figures.json").write_text(json.dumps(data, indent=2, default=_plain))
        with open(out / "figures.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["section", "key", "value"])
            for key, value in data.items():
                if isinstance(value, dict):
                    for k, v in value.items():
                        w.writerow([key, k, json.dumps(v, default=_plain) if isinstance(v, dict) else v])
                elif isinstance(value, list):
                    for i, v in enumerate(value):
                        w.writerow([key, i, json.dumps(v, default=_plain)])
                else:
                    w.writerow(["summary", key, value])
        return [out / "figures.json", out / "figures.csv"]


SETTLED = 0.05  # a repeat of the intervals may differ from the one before by this much


def steady_rate(ends: Iterable[int], horizon: int, clock_ghz: float,
                min_gaps: int = 2, tolerance: float = SETTLED) -> tuple[float | None, int, bool]:
    """Steady-state inferences/s from the cycles inputs left at, the number of completions it
    rests on, and whether it has settled; the rate is None below two completions.

    `ends` are the completions of the inputs that entered a full pipeline (after the first
    input had left: those before it ran on an emptier chip). The window closes at `horizon`, the
    cycle one more input would have entered: up to then every event is the one an endless
    stream would have. The intervals between completions need not be equal: replicas that take
    every R-th MVM give inputs different work, in a pattern that repeats every few inputs. So
    the rate has settled when the window's last max(2p, `min_gaps`) intervals repeat with
    period p, each within `tolerance` of their mean, for the smallest such p; the rate is then
    that of the whole repeats among them (so the pattern's phase does not bias it). Otherwise it
    is the mean rate over the whole window, settled when the window's two halves, each of
    `min_gaps` intervals or more, agree on it within `tolerance` (a pattern too long to repeat
    in the window, yet a steady mean). An exact repeat is looked for first, at every p,
    before a near one: with a fixed PWM window the model's intervals repeat exactly, and a near
    repeat of period 1 can hide a longer exact pattern (five intervals within 5 % of each other
    followed by a short sixth one, found in issue 17).
    """
    ends = sorted(t for t in ends if t <= horizon)
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    if not gaps or ends[-1] == ends[0]:
        return None, len(ends), False
    for share in dict.fromkeys((0.0, tolerance)):
        for p in range(1, len(gaps) // 2 + 1):
            span = max(2 * p, min_gaps)  # the tail that must repeat with period p
            if span > len(gaps):
                break
            tail = gaps[len(gaps) - span:]
            allowed = share * sum(tail) / span
            if all(abs(a - b) <= allowed for a, b in zip(tail, tail[p:])):
                whole = tail[span % p:]  # whole repeats only
                return len(whole) * clock_ghz * 1e9 / sum(whole), len(whole) + 1, True
    half = len(gaps) // 2
    first, second = sum(gaps[:half]) / max(1, half), sum(gaps[half:]) / max(1, len(gaps) - half)
    settled = half >= min_gaps and abs(first - second) <= tolerance * (first + second) / 2
    return len(gaps) * clock_ghz * 1e9 / (ends[-1] - ends[0]), len(ends), settled


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
