"""Numba kernels of a crossbar tile's periphery: input converter (DAC) and output chain (ADC).

The MVM between them is one float32 GEMM of small integers (DAC codes times conductances on an
integer grid), exact in any summation order; these kernels do everything per element around it.
Each output row is a pure function of its own input row and its global input number, so any
split of the batch, over calls or over threads, gives the same bits. The kernels release the
GIL and take a row range, so a caller can spread a batch over a pool of threads that sleep
while idle (OpenMP workers spin, and fight BLAS's threads for the cores between calls).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from chipsim.kernels.rng import (bits_float32, fill_normals, float32_bits, half_bits, pair_bits,
                                 row_key, uniform_from_bits)

_F = np.float32

# Layout of the `params` vector handed to the kernels (float64), and of `flags` (int64).
P_RANGE, P_DAC_MAX, P_ANALOG_SCALE, P_NOISE_STD, P_STEP, P_ADC_MAX, P_CLIP = range(7)
F_MAX_ABS, F_DAC_QUANT, F_ADC_QUANT, F_DAC_STOCHASTIC = range(4)


_ABS_BITS = np.uint32(0x7FFFFFFF)
_INF_BITS = np.uint32(0x7F800000)


@njit(cache=True, inline="always", error_model="numpy")
def _dac_row(x: np.ndarray, out: np.ndarray, fixed_range: np.float32, max_abs: bool,
             max_code: np.float32, quantize: bool) -> np.float32:
    """Codes of one input vector into `out`; returns the range r it was scaled by, or NaN if x
    holds a NaN or an infinity."""
    # the largest |x| as the largest bit pattern of |x| (monotonic for floats >= 0): an integer
    # max that vectorises; NaN and infinity have the largest patterns of all
    top = np.uint32(0)
    for i in range(x.shape[0]):
        top = max(top, float32_bits(x[i]) & _ABS_BITS)
    if top >= _INF_BITS:
        return _F(np.nan)
    r = fixed_range
    if max_abs:
        r = bits_float32(top) if top > np.uint32(0) else _F(1.0)
    inv = max_code / r
    for i in range(x.shape[0]):
        v = min(max(x[i] * inv, -max_code), max_code)
        out[i] = np.rint(v) if quantize else v
    return r


@njit(cache=True, inline="always", error_model="numpy")
def _round_stochastic(v: np.ndarray, row: np.uint64) -> None:
    """Round each v[i] to floor(v[i]) + 1 with probability v[i] - floor(v[i]), else down: the
    expected code is v itself, so a constant below half a step is not lost on average.

    The uniform of element i is the one at element i of the index whose key is `row` (elements
    2m and 2m+1 share one hash). A code already whole stays as it is (u < 0 never holds).
    """
    n = v.shape[0]
    for m in range(0, n, 2):
        bits = pair_bits(row, m)
        for e in range(m, min(m + 2, n)):
            low = np.floor(v[e])
            u = uniform_from_bits(half_bits(bits, e))
            v[e] = low + _F(1.0) if u < v[e] - low else low


@njit(cache=True, nogil=True, error_model="numpy")
def round_stochastic(v, key, first_index, indices, k0, k1) -> None:
    """Stochastic rounding (`_round_stochastic`) of rows k0..k1-1 of `v` (float32, in place);
    row k draws at index indices[k], or first_index + k where `indices` is empty."""
    for k in range(k0, k1):
        index = indices[k] if indices.shape[0] else first_index + k
        _round_stochastic(v[k], row_key(key, index))


@njit(cache=True, nogil=True, error_model="numpy")
def dac_stochastic(x, fixed_range, max_abs, max_code, key, first_index, indices, codes, ranges,
                   k0, k1) -> int:
    """`dac` with stochastic rounding of the codes (`_round_stochastic`); row k draws at its
    global input number (indices[k], or first_index + k), so any batch split gives the same
    codes."""
    bad = -1
    for k in range(k0, k1):
        ranges[k] = _dac_row(x[k], codes[k], _F(fixed_range), max_abs, _F(max_code), False)
        if np.isnan(ranges[k]):
            if bad < 0:
                bad = k
            continue
        index = indices[k] if indices.shape[0] else first_index + k
        _round_stochastic(codes[k], row_key(key, index))
    return bad


@njit(cache=True, nogil=True, error_model="numpy")
def dac(x: np.ndarray, fixed_range: float, max_abs: bool, max_code: float, quantize: bool,
        codes: np.ndarray, ranges: np.ndarray, k0: int, k1: int) -> int:
    """Signed input codes of rows k0..k1-1 into `codes` (float32, within +-max_code), and each
    vector's range r into `ranges` (NaN for a vector holding a NaN or an infinity). Returns
    the first such vector's row, or -1 (one number to check, not a scan of `ranges`).

    x / r is clipped to [-1, 1] and scaled to max_code; `quantize` rounds to integers.
    r is the vector's max |x| (`max_abs`) or `fixed_range` (a calibrated per-tile range).
    """
    bad = -1
    for k in range(k0, k1):
        ranges[k] = _dac_row(x[k], codes[k], _F(fixed_range), max_abs, _F(max_code), quantize)
        if bad < 0 and np.isnan(ranges[k]):
            bad = k
    return bad


@njit(cache=True, inline="always", error_model="numpy")
def _adc_row(a: np.ndarray, key: np.uint64, index: int, params: np.ndarray, quantize: bool,
             r: np.float32, col_factor: np.ndarray, col_offset: np.ndarray, out: np.ndarray,
             add: bool, z: np.ndarray) -> None:
    """One output vector from its analog sums `a`: output noise, ADC, affine correction.

    y = a * analog_scale + noise_std * N(key, index, column) (normalized units), then the ADC
    (round to `step`, saturate at adc_max steps; unquantized: clip at +-clip), then
    out[j] = (out[j] if add else 0) + y * r * col_factor[j] + col_offset[j]. `z` is scratch.
    """
    analog_scale, noise_std = _F(params[P_ANALOG_SCALE]), _F(params[P_NOISE_STD])
    step, max_code, clip = _F(params[P_STEP]), _F(params[P_ADC_MAX]), _F(params[P_CLIP])
    inv_step = _F(1.0) / step
    cols = a.shape[0]
    if noise_std != _F(0.0):
        fill_normals(z, row_key(key, index))  # its own loop, so both loops vectorise
    else:
        z[:] = _F(0.0)
    for j in range(cols):
        y = a[j] * analog_scale + noise_std * z[j]
        if quantize:
            y = min(max(np.rint(y * inv_step), -max_code), max_code) * step
        else:
            y = min(max(y, -clip), clip)
        v = y * (r * col_factor[j]) + col_offset[j]
        out[j] = out[j] + v if add else v


@njit(cache=True, nogil=True, error_model="numpy")
def adc(acc, key, first_index, indices, params, flags, ranges, col_factor, col_offset, out, add,
        k0, k1):
    """Outputs in weight units of rows k0..k1-1 from the analog sums `acc` (batch, cols), into
    `out` (added to it with `add`): see `_adc_row`. Row k is global input number indices[k], or
    first_index + k where `indices` is empty.
    """
    z = np.empty(acc.shape[1], dtype=np.float32)
    quantize = flags[F_ADC_QUANT] != 0
    for k in range(k0, k1):
        index = indices[k] if indices.shape[0] else first_index + k
        _adc_row(acc[k], key, index, params, quantize, ranges[k], col_factor, col_offset,
                 out[k], add, z)


@njit(cache=True, inline="always", error_model="numpy")
def _mvm_row(codes: np.ndarray, grid: np.ndarray, a: np.ndarray) -> None:
    """a = codes @ grid for one vector, four crossbar rows per pass over `a`.

    Codes and grid are integers whose products and partial sums stay below 2^24, so every
    grouping of the sum is exact: the bits are those of BLAS's GEMM. Four rows per pass load
    and store `a` a quarter as often (2.8x faster than row by row at 256 x 256).
    """
    rows, cols = grid.shape
    a[:] = _F(0.0)
    whole = rows - rows % 4
    for i in range(0, whole, 4):
        c0, c1, c2, c3 = codes[i], codes[i + 1], codes[i + 2], codes[i + 3]
        g0, g1, g2, g3 = grid[i], grid[i + 1], grid[i + 2], grid[i + 3]
        for j in range(cols):
            a[j] += (c0 * g0[j] + c1 * g1[j]) + (c2 * g2[j] + c3 * g3[j])
    for i in range(whole, rows):
        c, g = codes[i], grid[i]
        for j in range(cols):
            a[j] += c * g[j]


@njit(cache=True, nogil=True, error_model="numpy")
def forward_small(x, grid, key, first_index, indices, params, flags, col_factor, col_offset,
                  out, add, dac_key) -> int:
    """DAC, MVM and output chain in one call, vector by vector, for small batches.

    The MVM of integer codes and the integer conductance grid is exact, so this loop gives the
    same bits as the BLAS GEMM of the batched path. Returns the first row holding a NaN or an
    infinity (nothing is written from it on), or -1. With flags[F_DAC_STOCHASTIC] the codes are
    rounded stochastically from the stream `dac_key` (as `dac_stochastic`).
    """
    batch, rows = x.shape
    cols = grid.shape[1]
    codes = np.empty(rows, dtype=np.float32)
    a = np.empty(cols, dtype=np.float32)
    z = np.empty(cols, dtype=np.float32)
    quantize = flags[F_ADC_QUANT] != 0
    stochastic = flags[F_DAC_STOCHASTIC] != 0
    for k in range(batch):
        r = _dac_row(x[k], codes, _F(params[P_RANGE]), flags[F_MAX_ABS] != 0,
                     _F(params[P_DAC_MAX]), not stochastic)
        if np.isnan(r):
            return k
        index = indices[k] if indices.shape[0] else first_index + k
        if stochastic:
            _round_stochastic(codes, row_key(dac_key, index))
        _mvm_row(codes, grid, a)
        _adc_row(a, key, index, params, quantize, r, col_factor, col_offset, out[k], add, z)
    return -1
