"""What a timed run reports: latency, throughput, energy, efficiency, and where time went.

Plain data that knows how to become JSON and CSV. Throughput is measured, not derived: the
steady-state rate is the number of inputs finished in the second half of the run divided by the
time that half took, so the pipeline's fill and drain are left out. TOPS count 2 operations per
weight per MVM as the chip paper does; "TOPS/W as the paper counts them" divides by the energy of
the crossbar arrays, DACs and ADCs only, and the whole-chip figure beside it divides by all of it
(digital units, network, memory, static power).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    inferences_per_s: float
    ops_per_inference: float  # 2 x weights used x MVMs
    simulated_mvms: int  # crossbar MVMs (one block on one core, one vector)
    cores_used: int
    energy_pj: float  # whole chip, whole run
    energy_by_component: dict[str, float]
    energy_by_layer: dict[str, float]
    energy_by_core: dict[int, float]
    core_utilization: dict[int, float]
    links: list[dict[str, Any]]
    units: list[dict[str, Any]]
    bottleneck: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    outputs_match_functional: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

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
    def tops(self) -> float:
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
            "energy_per_inference_pj": self.energy_per_inference_pj,
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


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
