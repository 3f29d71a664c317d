"""Calibrating a mapping: every tile gets its input range and column scales, stored in the file.

Calibration belongs to the mapping, like the seating plan says which chair is raised: each
placement's `calibration: {input_range: r, column_scale: [...]}` is written into the mapping
file, and `chipsim accuracy` and `chipsim simulate` program the tiles with it as it is.

The steps: run the calibration samples (never test data) through the network on the float path
and keep up to `max_rows` input rows per tile (`chipsim.calibration.cache`); build each tile as
`draws` calibration chips program it (seeds of their own, derived from `seed` and distinct from
the seeds chips are tested on) and read them `t_seconds` after programming; choose its input
range (`input_ranges`), then its column scales with that range (`column_ranges`), each by the
error averaged over the draws. Values are rounded
to 6 significant digits so the YAML stays readable and reads back to the very same floats;
column scales round up, so no conductance ever passes g_max.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any, Sequence

import numpy as np

from chipsim.calibration.cache import collect_tile_inputs
from chipsim.calibration.column_ranges import (COLUMN_RULES, DEFAULT_L, choose_column_scales,
                                               column_floor, set_column_scale)
from chipsim.calibration.input_ranges import (DEFAULT_QUANTILE, DEFAULT_STD_K, INPUT_RULES,
                                              choose_input_range)
from chipsim.calibration.objective import (DEFAULT_DRAWS, calibration_seeds, reference_outputs,
                                           tile_error)
from chipsim.errors import DataError
from chipsim.functional.analog import (AnalogOptions, apply_calibration, placement_stuck,
                                       tile_config)
from chipsim.tile import Tile

DIGITS = 6  # significant digits kept in the mapping file


def rounded(value: float, up: bool = False) -> float:
    """`value` to DIGITS significant digits (upwards with `up`), as the shortest float that
    YAML writes and reads back unchanged."""
    nearest = float(f"{float(value):.{DIGITS}g}")
    if not up or nearest >= value:
        return nearest
    d = Decimal(float(value))
    quantum = Decimal(1).scaleb(d.adjusted() - DIGITS + 1)
    return float(d.quantize(quantum, rounding=ROUND_CEILING))


@dataclass(frozen=True)
class TileCalibration:
    """What calibration chose for one tile, and its output error before and after."""

    tile: int
    layer: str
    input_rule: str | None
    input_range: float | None
    column_rule: str | None
    column_alpha: float | None
    columns_scaled_down: int  # columns whose scale moved off g_max to avoid ADC saturation
    error_before: float
    error_after: float


@dataclass
class CalibrationResult:
    """The calibrated mapping and a per-tile account of it."""

    mapping: Any
    tiles: list[TileCalibration]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"settings": self.settings, "tiles": [dataclasses.asdict(t) for t in self.tiles]}


def calibrate_mapping(
    graph, layers: Sequence, mapping, chip: Any, x: np.ndarray, *, input_rule: str = "best",
    column_rule: str = "best", seed: int = 0, t_seconds: float = 3600.0, max_rows: int = 1000,
    quantile: float = DEFAULT_QUANTILE, k: float = DEFAULT_STD_K, L: float = DEFAULT_L,
    batch: int = 256, draws: int = DEFAULT_DRAWS, options: AnalogOptions | None = None,
) -> CalibrationResult:
    """Calibrate every tile of `mapping` on calibration samples `x`; rules "none" skip a step.

    The tiles start from the mapping as given (its calibration, if any), programmed on `chip`
    with `options` (default: the chip as described); a skipped step keeps that value. A tile
    whose DAC scales each vector by its own max |x| keeps doing so where no fixed range does
    better (input rule "best"). Copies of one block (replicas) share its calibration: ranges
    belong to a block's weights and the data that reaches it, not to the core it sits on.
    Returns a new Mapping with each placement's `calibration` filled in. `seed` picks the calibration chips (`calibration_seeds(seed, draws)`).
    """
    if draws < 1:
        raise DataError(f"calibration: draws must be at least 1, got {draws}")
    seeds = calibration_seeds(seed, draws)
    if input_rule not in INPUT_RULES + ("none",):
        raise DataError(f"unknown input rule {input_rule!r}; rules: "
                        f"{', '.join(INPUT_RULES + ('none',))}")
    if column_rule not in COLUMN_RULES + ("none",):
        raise DataError(f"unknown column rule {column_rule!r}; rules: "
                        f"{', '.join(COLUMN_RULES + ('none',))}")
    by_name = {layer.name: layer for layer in layers}
    inputs = collect_tile_inputs(graph, layers, mapping, x, max_rows=max_rows, batch=batch)
    placements, reports = [], []
    done: dict[tuple, tuple[dict | None, TileCalibration]] = {}  # block -> its calibration
    for tile_id, (placement, rows) in enumerate(zip(mapping.placements, inputs)):
        b = placement.block
        key = (block_key(placement), repr(placement.calibration))
        if key in done:  # another copy of a calibrated block (a replica): the same ranges
            calibration, report = done[key]
            placements.append(dataclasses.replace(placement, calibration=calibration))
            reports.append(dataclasses.replace(report, tile=tile_id))
            continue
        weights = by_name[b.layer].weight[b.row_start:b.row_stop, b.col_start:b.col_stop]
        given = placement.calibration or {}
        fixed = given.get("input_range") is not None
        stuck = placement_stuck(chip, placement)
        tiles = [_tile(chip, weights, tile_id, s, given, fixed, t_seconds, options, stuck)
                 for s in seeds]  # the tile as the mapping programs it, on each calibration chip
        reference = reference_outputs(tiles, rows)
        before = tile_error(tiles, rows, reference) if rows.size else 0.0
        per_vector = None
        if input_rule != "none" and tiles[0].config.input_range != "calibrated":
            per_vector = tiles
            tiles = [_tile(chip, weights, tile_id, s, given, True, t_seconds, options, stuck)
                     for s in seeds]
        calibration = dict(placement.calibration or {})
        input_choice = column_choice = None
        if input_rule != "none":
            input_choice = choose_input_range(tiles, rows, input_rule, quantile, k, per_vector)
            if input_choice.input_range is None:  # per-vector scaling stays
                tiles = per_vector
            else:
                calibration["input_range"] = rounded(input_choice.input_range)
                for t in tiles:
                    t.input_range = calibration["input_range"]
        scaled_down = 0
        if column_rule != "none":
            column_choice = choose_column_scales(tiles, rows, t_seconds, column_rule, L)
            scale = [rounded(s, up=True) for s in column_choice.column_scale]
            calibration["column_scale"] = scale
            set_column_scale(tiles, np.array(scale), t_seconds)
            floor = rounded_up_array(column_floor(weights))
            scaled_down = int(np.sum(np.array(scale) > floor))
        after = tile_error(tiles, rows, reference) if rows.size else 0.0
        placements.append(dataclasses.replace(placement, calibration=calibration or None))
        reports.append(TileCalibration(
            tile_id, b.layer, input_choice and input_choice.rule,
            calibration.get("input_range"), column_choice and column_choice.rule,
            column_choice and column_choice.alpha, scaled_down, before, after))
        done[key] = (placements[-1].calibration, reports[-1])
    settings = {"input_rule": input_rule, "column_rule": column_rule, "seed": seed,
                "calibration_seeds": seeds,
                "time_s": t_seconds, "rows_per_tile": max_rows, "quantile": quantile,
                "std_k": k, "column_L": L, "samples": int(len(x))}
    return CalibrationResult(dataclasses.replace(mapping, placements=tuple(placements)),
                             reports, settings)


def block_key(placement) -> tuple:
    """What a calibration belongs to: the layer and the rows and columns of its block."""
    b = placement.block
    return (b.layer, b.row_start, b.row_stop, b.col_start, b.col_stop)


def _tile(chip: Any, weights: np.ndarray, tile_id: int, seed: int, calibration: dict,
          fixed_range: bool, t_seconds: float, options: AnalogOptions | None = None,
          stuck: np.ndarray | None = None) -> Tile:
    """The tile of one placement programmed at `seed` with `calibration`, read at t_seconds;
    `fixed_range`: its DAC uses one range (calibrated), not each vector's max |x|; `stuck`:
    its stuck devices on the chip's faults."""
    options = options or AnalogOptions()
    if fixed_range:
        options = dataclasses.replace(options, input_range="calibrated")
    rows, cols = weights.shape
    tile = Tile(tile_config(chip, options, rows, cols), weights, tile_id=tile_id, seed=seed,
                stuck=stuck)
    if calibration:
        apply_calibration(tile, calibration, f"mapping placement {tile_id}")
    if t_seconds > 0:
        tile.drift(t_seconds)
    return tile


def rounded_up_array(values: np.ndarray) -> np.ndarray:
    """`rounded(v, up=True)` of every value."""
    return np.array([rounded(v, up=True) for v in np.asarray(values).reshape(-1)])


def network_figures(graph, layers: Sequence, mapping, chip: Any, x: np.ndarray, y: np.ndarray,
                    *, seed: int, t_seconds: float, batch: int = 256) -> dict[str, float]:
    """Accuracy and relative logit error against float of `mapping` on (x, y) at one seed and
    time (GDC on): how a calibration does on the data it was fitted to."""
    from chipsim.functional.analog import AnalogNetwork
    from chipsim.functional.executor import FloatBackend, run_network
    from chipsim.functional.study import accuracy, relative_logit_error

    reference = run_network(graph, FloatBackend(layers), x, batch=batch)
    net = AnalogNetwork(graph, layers, mapping, chip, seed=seed)
    net.drift(t_seconds)
    logits = net.run(x, batch=batch, gdc=True)
    return {"accuracy": accuracy(logits, y), "logit_error": relative_logit_error(logits, reference)}
