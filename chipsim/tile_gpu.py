"""One crossbar tile on many chips at many drift times at once, on the GPU (`--backend gpu`).

A GPU wins when it has many independent things to do: here the copies of one tile on many
programmed chips (seeds), each read at several times after programming, with global drift
compensation on or off. Each such (time, GDC, chip) triple is a *state*, and every kernel runs
over all states in one launch: drift and read noise, the GDC read-out, the DAC, the GEMM of
integer codes with the integer conductance grid (one batched cuBLAS GEMM, float16 on the
tensor cores where that is exact, `chipsim.kernels.cublas`; exact in any order),
output noise and the ADC. The draws are those of the CPU `Tile` (same counter-based numbers,
same addresses), so state (t, g, chip) gives the bits that chip's `Tile` gives after drift(t)
with GDC g, up to float64 round-off in drift and read noise (libdevice's pow and log against
the C library's), which reaches the outputs only when it moves a conductance across half a
step of the integer grid.

Programming stays on the CPU (`Tile.program`, once per chip: programming noise, program and
verify, drift exponents); the programmed conductances are then kept on the GPU.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from chipsim.errors import DataError
from chipsim.kernels import gpu, rng
from chipsim.kernels import tile as kernels
from chipsim.kernels.cublas import half_exact, integer_matmul
from chipsim.kernels.cuda import array_module, kernel_view, to_numpy
from chipsim.tile import _EXACT, Tile

_NO_INDICES = np.empty(0, dtype=np.int64)


class TileStack:
    """The tiles of one placement on several chips (same weights and settings, other seeds),
    programmed on the CPU; `read(times, gdc)` sets the states, `forward` runs them all."""

    def __init__(self, tiles: Sequence[Tile]):
        if not tiles:
            raise ValueError("TileStack needs at least one tile")
        first = tiles[0]
        c = first.config
        if c.training is not None:
            raise DataError(f"tile {first.tile_id}: the GPU backend models PCM tiles, not "
                            f"training tiles")
        if any(t.config != c or t.tile_id != first.tile_id for t in tiles):
            raise ValueError("TileStack: tiles must share their settings and tile id")
        self.xp = xp = array_module()
        self.config, self.tiles = c, list(tiles)
        self.tile_id = first.tile_id
        self._g_prog = xp.asarray(np.stack([t._g_prog for t in tiles]))
        self._nu = xp.asarray(np.stack([t._nu for t in tiles]))
        self._programmed_scale = np.stack([t._programmed_scale for t in tiles])
        self._key_out = np.array([t._key_out for t in tiles], dtype=np.uint64)
        self._key_dac = np.array([t._key_dac for t in tiles], dtype=np.uint64)
        self._key_gdc = xp.asarray(np.array([rng.key(t.seed, t.tile_id, rng.GDC_REFERENCE)
                                             for t in tiles], dtype=np.uint64))
        self._input_range = np.array([t.input_range for t in tiles], dtype=np.float32)
        self._offset = np.stack([t.column_offset for t in tiles]).astype(np.float32)
        self._stochastic = first._stochastic
        self._levels = _EXACT // (c.dac_max_code * c.rows)  # of the grid, as Tile's
        # codes and grid as float16 for the tensor cores' GEMM where that is exact
        self._half = c.dac_quantization and half_exact(c.dac_max_code, self._levels)
        self._codes_dtype = np.float16 if self._half else np.float32
        p = c.device
        self._no_indices = kernel_view(xp.asarray(_NO_INDICES))
        self._pcm = xp.asarray(np.array([p.t0, p.t_read, p.g_max, *p.read_noise,
                                         p.read_noise_floor], dtype=np.float64))
        chips = np.arange(len(tiles))
        self._baseline = self._settle(np.zeros(1), chips, np.zeros_like(chips))[3]
        self.read([0.0], [True])

    @property
    def states(self) -> int:
        return self._grid.shape[0]

    def _settle(self, times: np.ndarray, chips: np.ndarray, time_of: np.ndarray) -> tuple:
        """Conductance differences of each (chip, time) pair read at that time: their integer
        grid, float64 normalized values (reads without DAC codes), ADC parameters, and the
        GDC read-out (Tile._gdc_readout), on the GPU."""
        xp, c = self.xp, self.config
        keys = np.array([rng.subkey(rng.key(self.tiles[k].seed, self.tile_id, rng.READ_NOISE),
                                    int(np.float64(times[t]).view(np.int64)))
                         for k, t in zip(chips, time_of)], dtype=np.uint64)
        difference = xp.empty((len(chips), c.rows, c.cols), dtype=np.float64)
        gpu.drift_read(self._g_prog, self._nu, xp.asarray(np.asarray(times, np.float64)),
                       xp.asarray(keys), xp.asarray(chips.astype(np.int64)),
                       xp.asarray(time_of.astype(np.int64)), self._pcm, c.drift, c.read_noise,
                       difference)
        g_abs_max = to_numpy(xp.abs(difference).max(axis=(1, 2)))
        g_unit = np.where(g_abs_max > 0, g_abs_max / self._levels, 1.0)
        grid = xp.rint(difference / xp.asarray(g_unit)[:, None, None]).astype(np.float32)
        g_norm = None if c.dac_quantization else difference / c.g_cell_max
        params = np.zeros((len(chips), 7), dtype=np.float64)
        params[:, kernels.P_DAC_MAX] = c.dac_max_code
        params[:, kernels.P_ANALOG_SCALE] = g_unit / (c.dac_max_code * c.g_cell_max) \
            if c.dac_quantization else 1.0 / c.dac_max_code
        params[:, kernels.P_NOISE_STD] = c.output_noise_std if c.output_noise else 0.0
        params[:, kernels.P_STEP] = c.out_bound / c.adc_max_code
        params[:, kernels.P_ADC_MAX] = c.adc_max_code if c.adc_saturation else np.inf
        params[:, kernels.P_CLIP] = c.out_bound if c.adc_saturation else np.inf
        # the GDC read: each crossbar row alone at full scale (codes dac_max x identity)
        if c.dac_quantization:
            acc = grid * np.float32(c.dac_max_code)
        else:
            acc = (g_norm * float(c.dac_max_code)).astype(np.float32)
        n = len(chips)
        out = xp.empty(acc.shape, dtype=np.float32)
        gpu.adc(acc, self._key_gdc[xp.asarray(chips)], 0, xp.asarray(_NO_INDICES),
                xp.asarray(gpu.adc_params(params)), c.adc_quantization,
                xp.ones((n, c.rows), np.float32), xp.ones((n, c.cols), np.float32),
                xp.zeros((n, c.cols), np.float32), out, False)
        readout = to_numpy(xp.abs(out.astype(np.float64)).mean(axis=(1, 2)))
        return grid, g_norm, params, readout

    def read(self, times: Sequence[float], gdc: Sequence[bool]) -> None:
        """Set the states: every (time, GDC, chip) in that order (time slowest)."""
        c, xp = self.config, self.xp
        times = np.asarray(times, dtype=np.float64)
        if not (np.isfinite(times).all() and (times >= 0).all()):
            raise DataError(f"tile {self.tile_id}: drift times must be >= 0 s")
        chips = len(self.tiles)
        pair_chip = np.tile(np.arange(chips), len(times))
        pair_time = np.repeat(np.arange(len(times)), chips)
        grid, g_norm, params, readout = self._settle(times, pair_chip, pair_time)
        factor = np.ones(len(pair_chip))
        if c.gdc:
            base = self._baseline[pair_chip]
            factor = np.where(readout > 0, base / np.where(readout > 0, readout, 1.0), 1.0)
        pair_of, chip_of, factors = [], [], []
        for t in range(len(times)):
            for g in gdc:
                pairs = t * chips + np.arange(chips)
                pair_of.append(pairs)
                chip_of.append(np.arange(chips))
                factors.append(factor[pairs] if g else np.ones(chips))
        pair_of, chip_of = np.concatenate(pair_of), np.concatenate(chip_of)
        factors = np.concatenate(factors)
        take = xp.asarray(pair_of)
        self._grid = grid[take].astype(self._codes_dtype)
        self._kept = None  # forward's buffers (`_buffers`) fit the old states
        self._g_norm = None if g_norm is None else g_norm[take]
        scale = (self._programmed_scale[chip_of] * factors[:, None]).astype(np.float32)
        self._params, self._col_factor, self._col_offset, self._range, self._keys_out, \
            self._keys_dac = (kernel_view(xp.asarray(a)) for a in (
                gpu.adc_params(params[pair_of]), scale, self._offset[chip_of],
                self._input_range[chip_of], self._key_out[chip_of], self._key_dac[chip_of]))

    def dac(self, x, indices, first_index: int = 0) -> tuple:
        """Codes (S, batch, rows) and ranges (S, batch) of x (S or 1, batch, rows)."""
        xp, c, states, batch = self.xp, self.config, self.states, x.shape[1]
        codes = xp.empty((states, batch, c.rows), dtype=self._codes_dtype)
        ranges = xp.empty((states, batch), dtype=np.float32)
        self._dac(x, indices, first_index, (codes, codes), (ranges, ranges))
        self._check_finite(ranges, indices, first_index)
        return codes, ranges

    def _buffers(self, batch: int) -> list:
        """Forward's codes, ranges and sums for `batch` inputs a state, each as (array, the
        view Numba's kernels take), kept from the last call of this size: wrapping an array
        for a launch costs about 25 us (bench_gpu), as much as a tenth of a 256 x 256 forward
        of 1,024 inputs on 100 chips."""
        if self._kept is None or self._kept[0] != batch:
            xp, c, states = self.xp, self.config, self.states
            arrays = (xp.empty((states, batch, c.rows), dtype=self._codes_dtype),
                      xp.empty((states, batch), dtype=np.float32),
                      xp.empty((states, batch, c.cols), dtype=np.float32))
            self._kept = (batch, [(a, kernel_view(a)) for a in arrays])
        return self._kept[1]

    def _dac(self, x, indices, first_index: int, codes: tuple, ranges: tuple) -> None:
        c = self.config
        gpu.dac(x, self._range, c.input_range == "max_abs", float(c.dac_max_code),
                c.dac_quantization, self._stochastic, self._keys_dac, first_index, indices,
                codes[1], ranges[1])

    def _check_finite(self, ranges, indices, first_index: int) -> None:
        """The clear error for an input the DAC found NaN or infinite in (its range NaN)."""
        xp = self.xp
        if bool(xp.isnan(ranges).any()):
            k = int(np.flatnonzero(np.isnan(to_numpy(ranges)).any(axis=0))[0])
            number = int(to_numpy(indices)[k]) if indices.shape[0] else first_index + k
            raise DataError(f"tile {self.tile_id}: input {number} contains NaN or infinity")

    def integer_gemm(self, codes, out=None):
        """The crossbar's sums (S, batch, cols) of DAC codes (S, batch, rows), into `out` if
        given."""
        xp, c = self.xp, self.config
        if self._half:  # integer codes x integer grid, exact (kernels.cublas)
            return integer_matmul(codes, self._grid, xp, out)
        if c.dac_quantization:  # the same in float32: exact in any order
            return xp.matmul(codes, self._grid, out=out)
        acc = xp.matmul(codes.astype(np.float64), self._g_norm).astype(np.float32)
        if out is None:
            return acc
        out[...] = acc
        return out

    def convert(self, codes, ranges, indices, out, add: bool, first_index: int = 0) -> None:
        """The array, output noise, ADC and digital correction of every state into `out`
        (S, batch, cols), added to it with `add`."""
        self._convert((codes, codes), (ranges, ranges), indices, out, add, first_index)

    def _convert(self, codes: tuple, ranges: tuple, indices, out, add: bool, first_index: int,
                 acc: tuple | None = None) -> None:
        c = self.config
        if acc is None:
            acc = (self.integer_gemm(codes[0]),) * 2
        else:
            self.integer_gemm(codes[0], acc[0])
        gpu.adc(acc[1], self._keys_out, first_index, indices, self._params, c.adc_quantization,
                ranges[1], self._col_factor, self._col_offset, out, add)

    def forward(self, x, first_index: int = 0):
        """Outputs (S, batch, cols) of x (S or 1, batch, rows), input k numbered
        first_index + k. Its codes, ranges and sums stay on the GPU for the next call of the
        same size, and it waits for the GPU once, at its end (an input with NaN or infinity
        is found there)."""
        indices = self._no_indices
        codes, ranges, acc = self._buffers(x.shape[1])
        out = self.xp.empty((self.states, x.shape[1], self.config.cols), dtype=np.float32)
        self._dac(x, indices, first_index, codes, ranges)
        self._convert(codes, ranges, indices, out, False, first_index, acc)
        self._check_finite(ranges[0], indices, first_index)
        return out
