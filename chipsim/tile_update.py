"""The update cycle of a training tile: an array of pulsed devices and the stochastic pulse scheme.

A training tile does not compute a weight change and write it. It sends random pulse trains down
its rows and columns at the same time, and every device where two pulses meet takes one step
(Gokmen et al., arXiv 1806.00166; summary in ../shared/reference/seed-results.md). Think of two
people each tossing a biased coin BL times in step: the device moves once for every toss where
both came up heads, so on average by BL p q steps.

For inputs x (one per row) and errors d (one per column), row i's train is on in each of the BL
slots with probability p_i = C m |x_i|, column j's with q_j = C |d_j| / m, where
C = sqrt(lr / (BL dw_min)), so the expected change is BL p_i q_j dw_min = lr |x_i d_j|. Update
management m = sqrt(d_max / x_max) (d_max = max |d|, x_max = max |x|) balances the two so that
neither saturates at probability 1 first. Probabilities above 1 are clipped (the update is then
smaller than asked).

Sign convention: `update(x, d, lr)` moves W by about -lr * outer(x, d), a gradient-descent step
when d = dL/dy for y = x @ W. A coincidence pulses its device up where x_i and d_j differ in sign
and down where they agree.

Weights are the devices' own values less a reference (zero until `zero_shift`), in the device's
units: the periphery reads them as normalized weights (|w| <= 1 is full scale).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chipsim.device import pulsed
from chipsim.errors import DataError
from chipsim.kernels import rng
from chipsim.kernels import update as kernels
from chipsim.kernels.threads import run_rows


@dataclass(frozen=True)
class UpdateConfig:
    """How a training tile is updated: its device type and the pulse scheme's settings."""

    device: pulsed.PulsedParams = field(default_factory=pulsed.PulsedParams)
    bl: int = 31  # pulse slots per update (Gokmen et al.: BL = 31)
    update_management: bool = True  # balance row and column probabilities by sqrt(d_max/x_max)

    def __post_init__(self) -> None:
        if not 1 <= self.bl <= kernels.MAX_BL:
            raise ValueError(f"UpdateConfig.bl: expected 1..{kernels.MAX_BL}, got {self.bl}")


@dataclass(frozen=True)
class PulseScales:
    """The probability scales of one update: p_i = row_scale |x_i|, q_j = col_scale |d_j|."""

    row_scale: float
    col_scale: float


def pulse_scales(x_max: float, d_max: float, lr: float, config: UpdateConfig) -> PulseScales:
    """C m and C / m for C = sqrt(lr / (BL dw_min)) and m = sqrt(d_max / x_max) (1 without
    update management): `kernels.probability_scales`, the update kernel's own rule."""
    row, col = kernels.probability_scales(np.float32(x_max), np.float32(d_max),
                                          _scale_constant(lr, config), config.update_management)
    return PulseScales(row_scale=float(row), col_scale=float(col))


def _scale_constant(lr: float, config: UpdateConfig) -> float:
    """C = sqrt(lr / (BL dw_min)) in float64."""
    return float(np.sqrt(lr / (config.bl * config.device.dw_min)))


def device_table(dev: pulsed.Devices, p: pulsed.PulsedParams) -> np.ndarray:
    """The per-device numbers the update kernel reads, (8, rows, cols) float32: a+, a-, b_max,
    b_min, 1 - r+, 1 - r-, e+, e- with r = a / |b| and e = r s / (1 - r)."""
    r_up = np.minimum(dev.a_up / dev.b_max, 0.999)  # a step past the bound: clipped there anyway
    r_down = np.minimum(dev.a_down / -dev.b_min, 0.999)
    table = [dev.a_up, dev.a_down, dev.b_max, dev.b_min, 1 - r_up, 1 - r_down,
             r_up * p.ctoc / (1 - r_up), r_down * p.ctoc / (1 - r_down)]
    return np.ascontiguousarray(np.stack(table), dtype=np.float32)


class PulsedArray:
    """The devices of one training tile: their parameters, states and references."""

    def __init__(self, config: UpdateConfig, weights: np.ndarray, tile_id: int, seed: int):
        self.config, self.tile_id, self.seed = config, tile_id, seed
        rows, cols = weights.shape
        z = rng.normals(rng.key(seed, tile_id, rng.DEVICE_VARIATION), rows, 4 * cols)
        z = z.reshape(rows, 4, cols).transpose(1, 0, 2)
        self.devices = pulsed.draw_devices(config.device, z)
        self._table = device_table(self.devices, config.device)
        self.reference = np.zeros((rows, cols), dtype=np.float32)
        self.state = np.zeros((rows, cols), dtype=np.float32)
        self.updates = 0  # rank-1 updates so far: the index of the next one's random numbers
        self.pulses = 0  # device pulses so far
        self._keys = {p: rng.key(seed, tile_id, p) for p in
                      (rng.PULSE_ROWS, rng.PULSE_COLS, rng.CYCLE_NOISE)}
        self.write(weights)

    def write(self, weights: np.ndarray) -> None:
        """Set every device to reference + weight exactly, within its bounds (initialisation)."""
        d = self.devices
        self.state[...] = np.clip(self.reference + weights, d.b_min, d.b_max)

    def weights(self) -> np.ndarray:
        """The weights the array holds now: device states less their references (float32)."""
        return self.state - self.reference

    def update(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        """Rank-1 pulsed updates W -= lr outer(x_k, d_k) for each row k of x (batch, rows) and
        d (batch, cols), one after another, all in one kernel call (`update_sequence`)."""
        if not (np.isfinite(lr) and lr >= 0):
            raise DataError(f"tile {self.tile_id}: learning rate must be >= 0, got {lr}")
        rows, cols = self.state.shape
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, rows)
        d = np.ascontiguousarray(d, dtype=np.float32).reshape(-1, cols)
        if x.shape[0] != d.shape[0]:
            raise DataError(f"tile {self.tile_id}: {x.shape[0]} inputs but {d.shape[0]} errors")
        if not (np.isfinite(x).all() and np.isfinite(d).all()):
            raise DataError(f"tile {self.tile_id}: update inputs contain NaN or infinity")
        first = self.updates
        self.updates += x.shape[0]  # an update without pulses uses up its number too
        if lr == 0 or x.shape[0] == 0:
            return
        c, s = self.config, self.config.device
        counts = run_rows(kernels.update_sequence, rows, self.state, x, d,
                          _scale_constant(lr, c), c.update_management,
                          self._keys[rng.PULSE_ROWS], self._keys[rng.PULSE_COLS], c.bl,
                          self._table, pulsed.KINDS.index(s.kind), s.ctoc,
                          self._keys[rng.CYCLE_NOISE], first, s.nonlinearity)
        self.pulses += sum(counts)

    def zero_shift(self, pairs: int, averaged: int | None = None) -> np.ndarray:
        """Kim et al.'s zero-shifting: alternate `pairs` up/down pulses on every device, take
        where each settles (`pulsed.alternate`) as its reference. The devices stay
        where the pulses left them, so the weights then read about zero. Returns the references.
        """
        rows, cols = self.state.shape
        key = rng.key(self.seed, self.tile_id, rng.SYMMETRY_PULSES)

        def draws(k: int) -> tuple[np.ndarray, np.ndarray]:
            z = rng.normals(key, 2, rows * cols, first_index=2 * k).astype(np.float64)
            return z[0].reshape(rows, cols), z[1].reshape(rows, cols)

        result = pulsed.alternate(self.state, self.devices, pairs, draws, self.config.device,
                                  averaged)
        self.state[...] = result.final
        self.reference[...] = pulsed.zero_shift(result.settled)
        return self.reference.copy()
