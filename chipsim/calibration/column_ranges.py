"""Column conductance ranges: how much of the device range each column's weights use.

A column's weights are written as conductances w / s_j (s_j = the column scale, weight units
per full-scale conductance) and its output leaves through an ADC of fixed full scale. If a
column's largest outputs pass the ADC's full scale they saturate; if they stay far below it,
the ADC's steps and the output noise, fixed in size, swamp them. Like setting the gain of a
microphone per singer: the loud one must not clip, the quiet one should be turned up, but no
knob goes past its end stop, here the device's g_max (s_j >= max |w_j|). The scale is undone
digitally after the ADC, so the logical weights never change.

Per column we estimate the output magnitude on calibration data as mean |y| + L std |y| in
units of a full-scale column, and choose
s_j = alpha * (that estimate) / ADC full scale, never below max |w_j|:

- ``stats``: alpha = 1 (the estimate just fills the ADC range);
- ``search``: the alpha (log grid 1/4 .. 8) minimising the tile's output error against float;
- ``max``: s_j = max |w_j|, every column at g_max whatever its outputs (no calibration);
- ``best`` (default): whichever of these gives the smallest tile output error.

As for input ranges, the error is the mean over the calibration chips given; the statistics come
from half of the calibration rows and the choice is judged on the other half.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from chipsim.calibration.input_ranges import split_rows
from chipsim.calibration.objective import as_tiles, reference_outputs, tile_error
from chipsim.errors import DataError
from chipsim.tile import Tile

COLUMN_RULES = ("best", "stats", "search", "max")
DEFAULT_L = 3.0
SEARCH_ALPHAS = tuple(float(a) for a in 2.0 ** np.arange(-2.0, 3.01, 0.5))


@dataclass(frozen=True)
class ColumnChoice:
    """The column scales chosen for one tile, the rule that gave them and the tile error."""

    rule: str
    column_scale: np.ndarray
    error: float
    alpha: float | None  # the multiple of the statistic; None for "max"


def column_floor(weights: np.ndarray) -> np.ndarray:
    """The smallest scale per column that keeps every conductance within g_max: max |w_j|
    (1.0 for an all-zero column, whose scale does not matter)."""
    top = np.abs(np.asarray(weights, dtype=np.float64)).max(axis=0)
    return np.where(top > 0, top, 1.0)


def _normalized_inputs(tile: Tile, x: np.ndarray) -> np.ndarray:
    """x as the DAC passes it on, in units of its range (clipped to [-1, 1], not quantized)."""
    x = np.asarray(x, dtype=np.float64)
    if tile.config.input_range == "max_abs":
        top = np.abs(x).max(axis=1, keepdims=True)
        return x / np.where(top > 0, top, 1.0)
    return np.clip(x / tile.input_range, -1.0, 1.0)


def column_peaks(tile: Tile, x: np.ndarray, L: float = DEFAULT_L) -> np.ndarray:
    """Per column, mean |y| + L std |y| of its outputs y for normalized inputs and weights in
    weight units (divide by s_j for ADC units): one conversion per MVM, whatever the read mode."""
    y = np.abs(_normalized_inputs(tile, x) @ tile.weights.astype(np.float64))
    return y.mean(axis=0) + L * y.std(axis=0)


def scales_for(tile: Tile, peaks: np.ndarray, alpha: float) -> np.ndarray:
    """s_j = alpha * peak_j / ADC full scale, but never below max |w_j| (the g_max limit)."""
    return np.maximum(alpha * peaks / tile.config.out_bound, column_floor(tile.weights))


def set_column_scale(tile: Tile | Sequence[Tile], scale: np.ndarray, t_seconds: float) -> None:
    """Reprogram `tile` (or each draw of it) with column scales `scale` and read it
    `t_seconds` after programming."""
    for t in as_tiles(tile):
        t.column_scale = np.asarray(scale, dtype=np.float64).copy()
        t.program()
        if t_seconds > 0:
            t.drift(t_seconds)


def choose_column_scales(tile: Tile | Sequence[Tile], x: np.ndarray, t_seconds: float,
                         rule: str = "best", L: float = DEFAULT_L) -> ColumnChoice:
    """Set and return the column scales of `tile` (or of each calibration draw of it) by
    `rule`, read at `t_seconds`; the error reported is on all rows.

    With no non-zero calibration input the columns stay at g_max (rule "unused").
    """
    tiles = as_tiles(tile)
    first = tiles[0]
    if rule not in COLUMN_RULES:
        raise DataError(f"unknown column rule {rule!r}; rules: {', '.join(COLUMN_RULES)}")
    x = np.asarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"tile {first.tile_id}: calibration inputs contain NaN or infinity")
    floor = column_floor(first.weights)
    if x.size == 0 or not np.any(x):
        set_column_scale(tiles, floor, t_seconds)
        return ColumnChoice("unused", floor, 0.0, None)
    fit, held = split_rows(x)
    reference = reference_outputs(first, held)
    peaks = column_peaks(first, fit, L)
    options: dict[str, tuple[np.ndarray, float | None]] = {}
    if rule in ("max", "best"):
        options["max"] = (floor, None)
    if rule in ("stats", "best"):
        options["stats"] = (scales_for(first, peaks, 1.0), 1.0)
    if rule in ("search", "best"):
        options.update({f"search {a:g}": (scales_for(first, peaks, a), a) for a in SEARCH_ALPHAS})
    errors: dict[str, float] = {}
    tried: list[tuple[np.ndarray, float]] = []
    for name, (scale, _) in options.items():
        same = next((e for s, e in tried if np.array_equal(s, scale)), None)
        if same is None:  # equal scales (every column at g_max) need not be measured twice
            set_column_scale(tiles, scale, t_seconds)
            same = tile_error(tiles, held, reference)
            tried.append((scale, same))
        errors[name] = same
    chosen = min(errors, key=lambda name: (errors[name], name))
    scale, alpha = options[chosen]
    set_column_scale(tiles, scale, t_seconds)
    return ColumnChoice(chosen.split()[0], scale,
                        tile_error(tiles, x, reference_outputs(first, x)), alpha)
