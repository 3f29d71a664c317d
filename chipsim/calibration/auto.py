"""Calibrate before judging: a fixed-range chip is measured as it runs after calibration.

The silicon converts each crossbar's inputs over a fixed range, set from training data after
training (Le Gallo et al. 2023). A mapping that carries no ranges leaves every tile at |x| <= 1,
which clips the larger activations of most networks: its figures would describe a chip nobody
runs. So `report`, `compare` and `simulate` calibrate such a mapping first, with the default
rules of `chipsim calibrate`, on calibration inputs that are never test inputs (a data set's
calibration split, or synthetic inputs drawn from seeds of their own), and say so in one line;
`--no-calibrate` keeps the uncalibrated chip, the published study's baseline.

Calibration belongs to a block of weights and the data that reaches it, not to the core the
block sits on; `transfer_calibration` hands one mapping's calibration to another mapping of the
same network (another strategy, more replicas), so a comparison calibrates once.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from chipsim.arch import Chip
from chipsim.calibration.calibrate import block_key, calibrate_mapping
from chipsim.calibration.objective import CALIBRATION_SEED_BASE
from chipsim.errors import MappingError
from chipsim.functional.analog import AnalogOptions
from chipsim.graph import Graph
from chipsim.mapping import Mapping

DEFAULT_SAMPLES = 256  # calibration inputs, as `chipsim calibrate` takes by default


def fixed_input_range(chip: Chip, options: AnalogOptions | None = None) -> bool:
    """Whether the tiles convert a fixed input range (so a range must be calibrated) rather
    than scale each vector by its own max |x|."""
    rule = (options.input_range if options and options.input_range else
            chip.cores.dac.input_range)
    return rule == "calibrated"


def uncalibrated_tiles(mapping: Mapping, chip: Chip, options: AnalogOptions | None = None) -> int:
    """Placements of a fixed-range chip that carry no input range (0 on a per-vector chip)."""
    if not fixed_input_range(chip, options):
        return 0
    return sum((p.calibration or {}).get("input_range") is None for p in mapping.placements)


def calibration_inputs(graph: Graph, data: str | None, samples: int = DEFAULT_SAMPLES,
                       seed: int = 0) -> tuple[np.ndarray, str]:
    """(inputs, where they come from): the first `samples` of `data`'s calibration split, or
    synthetic inputs drawn from a calibration seed (never a seed that test inputs use)."""
    from chipsim.functional.executor import check_inputs, synthetic_inputs

    if data is None:
        x = synthetic_inputs(graph, samples, CALIBRATION_SEED_BASE + seed)
        return x, f"{samples} synthetic calibration inputs (seed {CALIBRATION_SEED_BASE + seed})"
    from chipsim.datasets import load_dataset

    x, _ = load_dataset(data, "calibration")
    x = check_inputs(graph, x[:samples], name=f"data set {data!r} (calibration split)")
    return x, f"{len(x)} {data} calibration images (training data, never test data)"


def calibrate_for_run(graph: Graph, layers, mapping: Mapping, chip: Chip, *, data: str | None,
                      samples: int = DEFAULT_SAMPLES, seed: int = 0,
                      log: Callable[[str], None] = lambda message: None
                      ) -> tuple[Mapping, str | None]:
    """The mapping as a run should measure it, and a line saying what was calibrated (None
    when nothing was: a per-vector chip, or every tile already has its range)."""
    missing = uncalibrated_tiles(mapping, chip)
    if not missing:
        return mapping, None
    x, source = calibration_inputs(graph, data, samples, seed)
    log(f"calibrating {missing} of {len(mapping.placements)} tiles on {source} ...")
    calibrated = calibrate_mapping(graph, layers, mapping, chip, x, seed=seed).mapping
    note = (f"{chip.name} converts a fixed input range per crossbar: input and column ranges "
            f"of the {mapping.strategy} mapping calibrated on {source}, default rules "
            "(--no-calibrate for the uncalibrated chip)")
    return calibrated, note


def transfer_calibration(source: Mapping, target: Mapping) -> Mapping:
    """`target` with every placement calibrated as the placement of the same block in `source`
    (the first copy of it there); an error names a block `source` has no calibration for."""
    known = {}
    for p in source.placements:
        if p.calibration:
            known.setdefault(block_key(p), p.calibration)
    placements = []
    for tile_id, p in enumerate(target.placements):
        if block_key(p) not in known:
            raise MappingError(f"mapping placement {tile_id}: block {block_key(p)} has no "
                               f"calibration in the {source.strategy} mapping it is taken from")
        placements.append(dataclasses.replace(p, calibration=dict(known[block_key(p)])))
    return dataclasses.replace(target, placements=tuple(placements))
