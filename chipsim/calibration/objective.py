"""How well a tile computes its share of the network: its output error against float.

Both calibrations choose among settings by one number: the relative squared error of the
tile's outputs against the exact product x @ W on the tile's calibration inputs,
sum (y - x W)^2 / sum (x W)^2. The tile's noise is counter-based, so every candidate setting
sees the same noise draws and the comparison measures the setting, not luck.
"""

from __future__ import annotations

import numpy as np

from chipsim.tile import Tile


def reference_outputs(tile: Tile, x: np.ndarray) -> np.ndarray:
    """The exact outputs x @ W of the tile's weights (float64)."""
    return np.asarray(x, dtype=np.float64) @ tile.weights.astype(np.float64)


def tile_error(tile: Tile, x: np.ndarray, reference: np.ndarray) -> float:
    """Relative squared output error of `tile` on inputs x against `reference` = x @ W."""
    y = tile.forward(x).astype(np.float64)
    power = float(np.sum(reference ** 2))
    return float(np.sum((y - reference) ** 2) / (power if power > 0 else 1.0))
