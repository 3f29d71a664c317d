"""The chip at full tilt: every core multiplying vectors by its full crossbar.

This is how chip papers measure peak throughput and efficiency, and how chipsim checks its timed
model against silicon. Each core holds its own 256 x 256 (rows x cols of the description)
block of Gaussian weights clipped at 3 sigma, programmed as on the chip; every input is a batch
of `mvms` vectors per core, uniform over the DAC range (as `chipsim.arch.metrics` assumes; the
fixed PWM window makes the time independent of the values), streamed through the
same `ChipModel` as a real network. Throughput and energy come out of the event model, not
from a formula; `chipsim.arch.metrics` gives the formula's answer beside it.

`python -m chipsim.timing.peak [--chip NAME] [--json]` prints the comparison with the measured
figures of the built-in chip.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from chipsim.arch import load_chip
from chipsim.arch.metrics import mode_metrics
from chipsim.functional.analog import AnalogOptions, tile_config
from chipsim.mapping import Block, Mapping, Placement
from chipsim.mapping.traffic import Routes
from chipsim.tile import Tile
from chipsim.timing.activity import ActivityRecorder
from chipsim.timing.chunks import plan_layers
from chipsim.timing.params import TimingParams
from chipsim.timing.pipeline import ChipModel
from chipsim.timing.results import SimResult
from chipsim.timing.simulate import summarize

# Measured on silicon (validation targets, never inputs of the description):
# Le Gallo et al., Nature Electronics 2023 (arXiv 2212.02872), abstract and Table I:
# peak throughput and energy efficiency of 8-bit-input MVMs with all 64 cores busy.
MEASURED = {
    "hermes64": {
        "one_phase": {"tops": 63.1, "tops_per_w": 9.76},
        "four_phase": {"tops": 16.1, "tops_per_w": 2.48},
    },
}


@dataclass(frozen=True)
class PeakLayer:
    """A full-crossbar layer with no sources: what the peak workload runs on every core."""

    name: str
    rows: int
    cols: int
    mvms: int
    weight: np.ndarray
    op: str = "dense"
    sources: tuple[str, ...] = ()
    groups: int = 1
    bias: None = None
    digital_ops: dict | None = None


class PeakWorkload:
    """Programmed tiles of a full-utilization run; `run(read_mode)` times it in one read mode."""

    def __init__(self, chip: Any, mvms: int = 32, seed: int = 0) -> None:
        self.chip, self.mvms, self.seed = chip, mvms, seed
        rows, cols = chip.cores.rows, chip.cores.cols
        rng = np.random.default_rng(seed)
        self.layers, placements, self.tiles = [], [], []
        config = tile_config(chip, AnalogOptions(), rows, cols)
        for core in range(chip.cores.count):
            w = np.clip(rng.standard_normal((rows, cols)), -3, 3).astype(np.float32)
            layer = PeakLayer(f"core{core}", rows, cols, mvms, w)
            self.layers.append(layer)
            placements.append(Placement(Block(layer.name, 0, rows, 0, cols), 0, core))
            self.tiles.append(Tile(config, w, tile_id=core, seed=seed))
        self.mapping = Mapping(chip.name, "one block per core", "peak", tuple(placements),
                               {layer.name: 1 for layer in self.layers})

    def run(self, read_mode: str | None = None, inputs: int = 8) -> SimResult:
        chip = self.chip
        params = TimingParams.from_chip(chip, read_mode)
        recorder = ActivityRecorder(None, self.layers, self.mapping, self.tiles, params)
        rng = np.random.default_rng(self.seed + 1)

        def compute(first: int, count: int) -> None:
            g = np.arange(first * self.mvms, (first + count) * self.mvms, dtype=np.int64)
            for layer, tile in zip(self.layers, self.tiles):
                x = rng.uniform(-1.0, 1.0, (len(g), layer.rows)).astype(np.float32)
                recorder.record(layer.name, x * np.float32(tile.input_range), g)

        positions = {c: chip.core_position(c) for c in range(chip.cores.count)}
        timed = ChipModel(params, self.layers, self.mapping, plan_layers(self.layers), recorder,
                          chip.network_graph(), positions, compute, inputs=inputs,
                          routes=Routes(self.mapping, self.layers, chip), in_flight=inputs,
                          group=inputs, trace_inputs=0)
        timed.run()
        return summarize(timed, self.layers, self.mapping, "full-utilization MVMs")


def compare(chip: Any, workload: PeakWorkload | None = None) -> list[dict[str, Any]]:
    """Per read mode: event model, description formula and silicon, with relative differences."""
    workload = workload or PeakWorkload(chip)
    rows = []
    for mode in chip.read_modes:
        r = workload.run(mode)
        f = mode_metrics(chip, mode)
        mvm_pj = r.paper_energy_per_inference_pj / len(workload.layers) / workload.mvms
        cores = len(workload.layers)
        row = {"read_mode": mode, "model_tops": r.tops, "model_tops_per_w": r.tops_per_w,
               "model_mvm_ns": 1e9 / (r.inferences_per_s * workload.mvms),
               "model_mvm_energy_pj": mvm_pj, "model_whole_chip_tops_per_w": r.whole_chip_tops_per_w,
               "formula_tops": f.peak_tops, "formula_tops_per_w": f.tops_per_w,
               "formula_mvm_ns": f.mvm_ns, "formula_mvm_energy_pj": f.mvm_energy_pj,
               "energy_by_component_pj_per_mvm": {
                   k: v / (cores * workload.mvms * r.inputs)
                   for k, v in r.energy_by_component.items()}}
        measured = MEASURED.get(chip.name, {}).get(mode)
        if measured:
            ops = 2 * chip.cores.rows * chip.cores.cols
            row.update({
                "measured_tops": measured["tops"], "measured_tops_per_w": measured["tops_per_w"],
                "measured_mvm_ns": cores * ops / (measured["tops"] * 1e3),
                "measured_mvm_energy_pj": ops / measured["tops_per_w"],
                "tops_rel_diff": r.tops / measured["tops"] - 1,
                "tops_per_w_rel_diff": r.tops_per_w / measured["tops_per_w"] - 1,
            })
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chipsim.timing.peak", description=__doc__)
    parser.add_argument("--chip", default="hermes64")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = compare(load_chip(args.chip))
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for r in rows:
        print(f"{r['read_mode']:>10}: model {r['model_tops']:.2f} TOPS, {r['model_tops_per_w']:.2f} "
              f"TOPS/W ({r['model_mvm_ns']:.1f} ns, {r['model_mvm_energy_pj'] / 1e3:.2f} nJ per MVM)"
              + (f"; measured {r['measured_tops']} TOPS ({r['tops_rel_diff']:+.1%}), "
                 f"{r['measured_tops_per_w']} TOPS/W ({r['tops_per_w_rel_diff']:+.1%})"
                 if "measured_tops" in r else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
