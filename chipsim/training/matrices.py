"""The weight matrix of a dense or convolution layer, in two kinds with the same three verbs.

`forward(x)` = x @ W, `backward(d)` = d @ W.T, `update(x, d, lr)` = W -= lr * outer(x_k, d_k)
for each sample k. `FloatMatrix` does it with float numpy products (the reference);
`TileMatrix` on training tiles of the chip's crossbar size, split as the mapper splits a matrix
(`chipsim.tile.TiledMatrix`: block (i, j) of R x C, partial sums of a column block added
digitally in row-block order), so the training run sees the converters, the noise and the
pulsed devices.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from chipsim.errors import DescriptionError
from chipsim.tile import TiledMatrix, TileConfig


def training_tile_config(chip, ideal: bool = False, **device) -> TileConfig:
    """The tile of one core of a chip with a `training` section. Keyword arguments override
    fields of its pulsed device (e.g. up_down=0.2, kind="soft_bounds"; None keeps the
    description's); `ideal` turns every non-ideality of the periphery off (the pulsed devices
    stay: weights are read exactly, updates are still pulses)."""
    if chip.training is None:
        raise DescriptionError(f"{chip.name}: the chip description has no training section "
                               f"(a training chip is e.g. the built-in rpu_train)")
    config = TileConfig.from_chip(chip)
    changes = {name: value for name, value in device.items() if value is not None}
    if changes:
        params = dataclasses.replace(config.training.device, **changes)
        config = config.replace(training=dataclasses.replace(config.training, device=params))
    if ideal:
        config = TileConfig.ideal(config.rows, config.cols, training=config.training,
                                  dac_bits=config.dac_bits, adc_bits=config.adc_bits)
    return config


class FloatMatrix:
    """W in float32 numpy: the float reference of a tile matrix."""

    def __init__(self, weights: np.ndarray):
        self.w = np.array(weights, dtype=np.float32)

    def forward(self, x: np.ndarray, first_index: int = 0) -> np.ndarray:
        return x @ self.w

    def backward(self, d: np.ndarray, first_index: int = 0) -> np.ndarray:
        return d @ self.w.T

    def update(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        self.w -= np.float32(lr) * (x.T @ d)

    def weights(self) -> np.ndarray:
        return self.w


class TileMatrix:
    """W held by training tiles; tile ids first_tile_id, first_tile_id + 1, ... (row-major
    blocks), so every tile of a network draws its own random numbers."""

    def __init__(self, config: TileConfig, weights: np.ndarray, first_tile_id: int, seed: int):
        self.tiled = TiledMatrix(config, weights, first_tile_id, seed)
        self.shape = self.tiled.shape

    @property
    def tile_count(self) -> int:
        return len(self.tiled.all_tiles())

    def forward(self, x: np.ndarray, first_index: int = 0) -> np.ndarray:
        return self.tiled.forward(x, first_index)

    def backward(self, d: np.ndarray, first_index: int = 0) -> np.ndarray:
        """z = d @ W.T: each tile's transposed read, summed over column blocks in order."""
        d = np.asarray(d, dtype=np.float32)
        z = np.zeros((d.shape[0], self.shape[0]), dtype=np.float32)
        for rows, cols, tile in self.tiled.blocks():
            z[:, rows] += tile.backward(d[:, cols], first_index)
        return z

    def update(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        """Every tile's pulsed update with its slices of x and d (one rank-1 update a sample)."""
        for rows, cols, tile in self.tiled.blocks():
            tile.update(x[:, rows], d[:, cols], lr)

    def zero_shift(self, pairs: int) -> None:
        """Kim et al.'s zero-shifting of every tile, then the initial weights written again
        (relative to the new references): the paper shifts before training starts."""
        for tile in self.tiled.all_tiles():
            initial = tile.weights.copy()
            tile.zero_shift(pairs)
            tile.weights = initial
            tile.program()

    def weights(self) -> np.ndarray:
        w = np.empty(self.shape, dtype=np.float32)
        for rows, cols, tile in self.tiled.blocks():
            w[rows, cols] = tile.pulsed.weights()
        return w
