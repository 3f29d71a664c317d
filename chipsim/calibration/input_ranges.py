"""Input (DAC) ranges: which |x| a tile's converter maps to its full-scale code.

A DAC with a fixed range r turns x into r * Q(clip(x / r, -1, 1)) with 2^(b-1) - 1 steps a
side. A large r never clips but wastes steps on values that never come (coarse resolution); a
small r resolves the usual inputs finely but clips the rare large ones. Like choosing the scale
of a kitchen balance: too coarse and the pinch of salt reads zero, too fine and the sack of
flour is off the scale. Each rule picks r from the tile's calibration inputs:

- ``quantile``: the q-quantile of |x| (default 0.99995, as the public implementation of Lammie
  et al., ISCAS 2024, uses on up to 1000 cached rows per tile);
- ``std``: mean |x| + k std |x|;
- ``max``: the largest |x| (never clips on the calibration data);
- ``search``: the r minimising the tile's output error against float (a log-spaced grid, then
  golden-section refinement around its best point);
- ``best`` (default): whichever of these gives the smallest tile output error; on a chip whose
  DAC scales every vector by its own max |x|, keeping that per-vector scaling is a candidate too,
  so calibration never makes a tile worse than the chip already does.

The error is the mean over the calibration chips given (several programmed draws of the tile,
`chipsim.calibration.objective`). The search fits its range on half of the calibration rows
(`split_rows`), and ``best`` then judges every candidate on the other half, so a range that
only suits the rows it was fitted to does not win.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from chipsim.calibration.objective import as_tiles, reference_outputs, tile_error
from chipsim.errors import DataError
from chipsim.tile import Tile

INPUT_RULES = ("best", "quantile", "std", "max", "search")
DEFAULT_QUANTILE = 0.99995
DEFAULT_STD_K = 3.0
SEARCH_DECADES = 2.0  # the search looks at r in [max |x| / 10^2, max |x|]
SEARCH_GRID = 25
GOLDEN_STEPS = 12
MIN_HELD_OUT = 8  # with fewer rows than twice this, fitting and judging use all rows


def split_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fitting rows, held-out rows): even and odd positions of x, or x twice if x is small."""
    if len(x) < 2 * MIN_HELD_OUT:
        return x, x
    return x[0::2], x[1::2]


@dataclass(frozen=True)
class InputRangeChoice:
    """The range chosen for one tile, the rule that gave it and its tile output error."""

    rule: str
    input_range: float | None  # None: the tile keeps its per-vector scaling
    error: float
    candidates: dict[str, float]  # rule -> range it proposed


def rule_ranges(x: np.ndarray, quantile: float = DEFAULT_QUANTILE,
                k: float = DEFAULT_STD_K) -> dict[str, float]:
    """The ranges the statistic rules propose for inputs x (non-positive ones left out)."""
    a = np.abs(np.asarray(x, dtype=np.float64)).reshape(-1)
    proposals = {"quantile": float(np.quantile(a, quantile)),
                 "std": float(a.mean() + k * a.std()),
                 "max": float(a.max())}
    return {rule: r for rule, r in proposals.items() if r > 0}


def golden_search(f: Callable[[float], float], lo: float, hi: float, steps: int) -> float:
    """A minimiser of f on [lo, hi] by golden-section search (f assumed unimodal there)."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return c if fc <= fd else d


def search_range(error_of: Callable[[float], float], top: float) -> float:
    """The range in [top / 10^SEARCH_DECADES, top] with the smallest error_of(range)."""
    logs = np.linspace(math.log(top) - SEARCH_DECADES * math.log(10.0), math.log(top),
                       SEARCH_GRID)
    errors = [error_of(math.exp(v)) for v in logs]
    i = int(np.argmin(errors))
    lo, hi = logs[max(i - 1, 0)], logs[min(i + 1, len(logs) - 1)]
    v = golden_search(lambda u: error_of(math.exp(u)), lo, hi, GOLDEN_STEPS)
    best = math.exp(v)
    return best if error_of(best) <= errors[i] else math.exp(logs[i])


def choose_input_range(tile: Tile | Sequence[Tile], x: np.ndarray, rule: str = "best",
                       quantile: float = DEFAULT_QUANTILE, k: float = DEFAULT_STD_K,
                       per_vector: Tile | Sequence[Tile] | None = None) -> InputRangeChoice:
    """Set and return the input range of `tile` (whose DAC uses a fixed range) by `rule`;
    `tile` may be several calibration draws of one tile, which all get the range.

    `per_vector`: the same draws with the chip's per-vector DAC scaling; under rule "best" it
    is one more candidate ("per-vector", input_range None) judged on the same held-out rows.
    Inputs that are all zero (or none at all) carry no information: the tile keeps its
    per-vector scaling if it has one, else a safe range of 1.0 (any range converts zeros
    exactly), under the rule name "unused". The error reported is on all rows.
    """
    tiles = as_tiles(tile)
    first = tiles[0]
    if rule not in INPUT_RULES:
        raise DataError(f"unknown input rule {rule!r}; rules: {', '.join(INPUT_RULES)}")
    if first.config.input_range != "calibrated":
        raise DataError(f"tile {first.tile_id}: its DAC scales each vector by its own max |x| "
                        f"(input_range: {first.config.input_range}); there is no fixed input "
                        f"range to calibrate")
    x = np.asarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"tile {first.tile_id}: calibration inputs contain NaN or infinity")

    def use(r: float) -> None:
        for t in tiles:
            t.input_range = r

    keep = as_tiles(per_vector) if per_vector is not None and rule == "best" else None
    if x.size == 0 or not np.any(x):
        use(1.0)
        return InputRangeChoice("unused", None if keep else 1.0, 0.0, {})
    fit, held = split_rows(x)

    def error_on(rows: np.ndarray) -> Callable[[float], float]:
        reference = reference_outputs(first, rows)
        cache: dict[float, float] = {}

        def error_of(r: float) -> float:
            if r not in cache:
                use(r)
                cache[r] = tile_error(tiles, rows, reference)
            return cache[r]
        return error_of

    fit_error, held_error = error_on(fit), error_on(held)
    candidates = rule_ranges(x, quantile, k)
    if rule in ("search", "best"):
        candidates["search"] = search_range(fit_error, float(np.abs(x).max()))
    if rule != "best":  # a rule that proposes no positive range (mostly zeros) gives way to max
        candidates = {rule: candidates[rule]} if rule in candidates else \
            {"max": candidates["max"]}
    chosen = min(candidates, key=lambda name: (held_error(candidates[name]), name))
    r = candidates[chosen]
    use(r)  # the best fixed range, even where per-vector scaling wins below
    if keep is not None and tile_error(keep, held, reference_outputs(first, held)) \
            <= held_error(r):
        return InputRangeChoice("per-vector", None,
                                tile_error(keep, x, reference_outputs(first, x)), candidates)
    return InputRangeChoice(chosen, r, tile_error(tiles, x, reference_outputs(first, x)),
                            candidates)
