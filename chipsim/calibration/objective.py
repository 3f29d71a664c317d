"""How well a tile computes its share of the network: its output error against float.

Both calibrations choose among settings by one number: the relative squared error of the
tile's outputs against the exact product x @ W on the tile's calibration inputs,
sum (y - x W)^2 / sum (x W)^2. One programmed chip is one draw of programming, drift and read
noise, and a range tuned to it would be tuned to its luck; so the error is averaged over a few
calibration chips, programmed from seeds of their own (`calibration_seeds`), never the seeds a
study then tests on. The noise is counter-based, so every candidate setting sees the same draws
and the comparison measures the setting, not luck.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from chipsim.tile import Tile

#: calibration chips are programmed from seeds CALIBRATION_SEED_BASE + ..., far above the small
#: seeds (0, 1, 2, ...) that `chipsim accuracy` and the study test on
CALIBRATION_SEED_BASE = 1 << 30
DEFAULT_DRAWS = 3  # calibration chips the error is averaged over


def calibration_seeds(seed: int, draws: int = DEFAULT_DRAWS) -> list[int]:
    """The seeds of the `draws` calibration chips of calibration seed `seed`."""
    return [CALIBRATION_SEED_BASE + seed * draws + k for k in range(draws)]


def as_tiles(tile: Tile | Sequence[Tile]) -> list[Tile]:
    """One tile or several draws of it, as a list."""
    return [tile] if isinstance(tile, Tile) else list(tile)


def reference_outputs(tile: Tile | Sequence[Tile], x: np.ndarray) -> np.ndarray:
    """The exact outputs x @ W of the tile's weights (float64)."""
    return np.asarray(x, dtype=np.float64) @ as_tiles(tile)[0].weights.astype(np.float64)


def tile_error(tile: Tile | Sequence[Tile], x: np.ndarray, reference: np.ndarray) -> float:
    """Relative squared output error on inputs x against `reference` = x @ W, averaged over
    the draws of the tile given."""
    power = float(np.sum(reference ** 2))
    errors = [float(np.sum((t.forward(x).astype(np.float64) - reference) ** 2))
              for t in as_tiles(tile)]
    return float(np.mean(errors)) / (power if power > 0 else 1.0)
