"""The faults study: what a network loses in accuracy and speed as more of the chip fails.

At each fault rate r (`chipsim.arch.faults.draw_faults`: every device stuck with probability r,
half at SET and half at RESET; every core dead and every link broken with probability r; one
draw per item from the fault seed, so a higher rate breaks everything a lower one broke) the
network is measured three ways:

* "as mapped": the mapping made for the healthy chip, with its calibration, on the faulty chip.
  Blocks on dead or cut-off cores deliver nothing (their partial sums are zeros), and such a
  mapping cannot be timed: its latency is left empty;
* "remapped": the same strategy run again on the faulty chip (it never places on a dead or
  cut-off core; packets route around broken links), calibration carried over block by block;
* "recalibrated": the remapped network with its input and column ranges fitted again on the
  faulty chip (the calibration of `chipsim calibrate`, which then sees the stuck devices).

Each (rate, variant) cell is measured and handed to `on_cell` at once, so a long study saves as
it goes and a rerun skips finished cells (`done`).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable, Sequence

from chipsim.arch.faults import KINDS, draw_faults, faults_summary, usable_cores, with_faults
from chipsim.errors import ChipsimWarning

VARIANTS = ("as mapped", "remapped", "recalibrated")


def cell_name(rate: float, variant: str) -> str:
    return f"{rate:g}/{variant}"


def fault_study(work: Any, mapping: Any, strategy: str, *, rates: Sequence[float],
                times: Sequence[float], seeds: Sequence[int], fault_seed: int = 0,
                kinds: Sequence[str] = KINDS, seed: int = 0, calibration_x: Any = None,
                done: dict[str, dict] | None = None,
                on_cell: Callable[[str, dict], None] = lambda name, cell: None,
                log: Callable[[str], None] = lambda message: None) -> list[dict[str, Any]]:
    """Every cell of the study, rates in order, variants in VARIANTS order.

    `work`: a `chipsim.report.measure.Workload` on the healthy chip; `mapping`: its calibrated
    mapping by `strategy`; `calibration_x`: the inputs the recalibration fits ranges on (None
    skips the recalibrated variant)."""
    from chipsim.calibration.auto import transfer_calibration
    from chipsim.calibration.calibrate import calibrate_mapping
    from chipsim.mapping import STRATEGIES
    from chipsim.mapping.mapping import Mapping

    done = done or {}
    cells = []
    variants = VARIANTS if calibration_x is not None else VARIANTS[:2]
    for rate in rates:
        chip = with_faults(work.chip, draw_faults(work.chip, rate, fault_seed, tuple(kinds)),
                           f"fault rate {rate:g}")
        faulty = dataclasses.replace(work, chip=chip)
        for variant in variants:
            name = cell_name(rate, variant)
            if name in done:
                cells.append(done[name])
                continue
            log(f"fault rate {rate:g}: {variant}")
            if variant == "as mapped":
                placed = mapping
            else:
                remapped = STRATEGIES[strategy].place(work.layers, chip, graph=mapping.graph)
                if any(p.calibration for p in mapping.placements):
                    remapped = transfer_calibration(mapping, remapped)
                placed = remapped
                if variant == "recalibrated":
                    bare = dataclasses.replace(remapped, placements=tuple(
                        dataclasses.replace(p, calibration=None) for p in remapped.placements))
                    placed = calibrate_mapping(work.graph, work.layers, bare, chip,
                                               calibration_x, seed=seed).mapping
            assert isinstance(placed, Mapping)
            cell = {"rate": rate, "variant": variant, **faults_summary(chip),
                    **_measure(faulty, placed, times, seeds, seed)}
            on_cell(name, cell)
            cells.append(cell)
    return cells


def _measure(work: Any, mapping: Any, times: Sequence[float], seeds: Sequence[int],
             seed: int) -> dict[str, Any]:
    """Accuracy (GDC on) at every time, and the event model's figures where the mapping runs."""
    from chipsim.functional.study import accuracy_study
    from chipsim.timing.simulate import Simulation

    chip = work.chip
    usable = set(usable_cores(chip))
    lost = [i for i, p in enumerate(mapping.placements) if p.core not in usable]
    with warnings.catch_warnings():  # the cell says how many tiles were lost
        warnings.simplefilter("ignore", ChipsimWarning)
        study = accuracy_study(work.graph, work.layers, mapping, chip, work.accuracy_x,
                               work.labels, times=times, seeds=list(seeds), gdc=(True,))
    out: dict[str, Any] = {
        "cores_used": mapping.cores_used, "lost_tiles": len(lost),
        "accuracy": {f"{row.time_s:g}": {"mean": row.accuracy_mean, "std": row.accuracy_std}
                     for row in study.rows},
        "first_latency_us": None, "inferences_per_s": None, "energy_per_inference_uj": None,
    }
    if not lost:
        sim = Simulation(work.graph, work.layers, chip, mapping, seed=seed, model=work.model)
        result, _, _ = sim.run(work.timing_x, trace_inputs=0, keep_outputs=False)
        timing = result.to_json()
        out.update(first_latency_us=timing["first_latency_ns"] / 1e3,
                   inferences_per_s=timing["inferences_per_s"],
                   energy_per_inference_uj=timing["energy_per_inference_pj"] / 1e6)
    return out
