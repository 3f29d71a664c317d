"""CUDA kernels of the tile (`chipsim.kernels.tile` and `chipsim.device.pcm` on a GPU), for many
states of a tile at once: a state is one programmed chip (seed) read at one drift time.

They draw the same counter-based random numbers as the CPU kernels (`chipsim.kernels.rng`: the
same hash, the same Box-Muller series, every float32 product rounded on its own; see
`chipsim.kernels.cuda`), so a seed gives the same draws on both, and the converters give the
same bits. Array shapes lead with the state: x (S or 1, batch, rows), codes (S, batch, rows),
sums and outputs (S, batch, cols), per-state parameters (S, ...). The GEMM between DAC and ADC
is the caller's (a batched GEMM of integers, exact in any order: `chipsim.kernels.cublas`).
"""

from __future__ import annotations

import math

import numpy as np

from chipsim.kernels import rng
from chipsim.kernels.cuda import (SIMULATED, bits_float32, cuda, device, float32_bits,
                                  floor, mul, rint, sqrt)
from chipsim.kernels.tile import (P_ADC_MAX, P_ANALOG_SCALE, P_CLIP, P_NOISE_STD, P_STEP)

_F = np.float32
_U32 = np.uint32
_GAMMA, _GAMMA_ELEMENT, _M1, _M2 = rng._GAMMA, rng.GAMMA_ELEMENT, rng._M1, rng._M2
_S30, _S27, _S31, _S32, _S25, _S16, _S9 = rng._S30, rng._S27, rng._S31, rng._S32, rng._S25, \
    rng._S16, rng._S9
_LOW32, _ONE = rng._LOW32, rng._ONE
_LN2, _SQRT_HALF, _HALF_PI, _SQRT2 = rng._LN2, rng._SQRT_HALF, rng._HALF_PI, rng._SQRT2
_ABS_BITS, _INF_BITS = _U32(0x7FFFFFFF), _U32(0x7F800000)
# Threads per block: the DAC kernel converts ROWS_PER_BLOCK rows of LANES lanes each (a warp a
# row, coalesced); the simulator runs a Python thread per GPU thread, so it gets few.
LANES, ROWS_PER_BLOCK = (2, 4) if SIMULATED else (32, 8)
ADC_BLOCK = 8 if SIMULATED else 256  # threads per block of the ADC kernel
DRIFT_THREADS = (4, 4, 1) if SIMULATED else (32, 4, 1)  # (columns, rows, states)

if SIMULATED:  # the integer hash in Python would warn at every wrap-around: the CPU's, compiled
    def row_key(key, index):  # (Numba returns a uint64 as a Python int: make it one again)
        return np.uint64(rng.row_key(np.uint64(key), index))

    def pair_bits(row, element):
        return np.uint64(rng.pair_bits(np.uint64(row), element))
else:
    @device
    def mix64(z):
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)

    @device
    def row_key(key, index):
        return mix64(key + np.uint64(index) * _GAMMA)

    @device
    def pair_bits(row, element):
        return mix64(row + (np.uint64(element) >> _ONE) * _GAMMA_ELEMENT)


@device
def half_bits(bits, element):
    if element & 1:
        return bits >> _S32
    return bits & _LOW32


@device
def uniform_from_bits(b32):
    return mul(_F(np.int32(b32 >> _S9)) + _F(0.5), _F(1.0 / 8388608.0))


@device
def log_unit(y):
    """rng._log_unit, every product rounded alone."""
    bits = float32_bits(y)
    m = bits_float32((bits & _U32(0x007FFFFF)) | _U32(0x3F800000))
    e = _F(np.int32(bits >> _U32(23))) - _F(127.0)
    if m > _SQRT2:
        m = mul(m, _F(0.5))
        e = e + _F(1.0)
    f = (m - _F(1.0)) / (m + _F(1.0))
    s = mul(f, f)
    series = _F(1.0) + mul(s, _F(1 / 3) + mul(s, _F(1 / 5) + mul(s, _F(1 / 7) +
                                                                  mul(s, _F(1 / 9)))))
    return mul(e, _LN2) + mul(mul(_F(2.0), f), series)


@device
def normal_pair(bits):
    """rng.normal_pair, every product rounded alone: two standard normals from 64 bits."""
    low32 = _U32(bits & _LOW32)
    top = bits >> _S25
    high = mul(_F(np.int32(top >> _S16)), _F(65536.0))
    low = _F(np.int32(_U32(top) & _U32(0xFFFF)))
    u = mul((high + low) + _F(0.5), _F(1.0 / 549755813888.0))
    radius = sqrt(mul(_F(-2.0), log_unit(u)))
    k = _F(np.int32((low32 >> _U32(2)) & _U32(0x7FFFFF)))
    phi = mul(mul(k + _F(0.5), _F(1.0 / 8388608.0)) - _F(0.5), _HALF_PI)
    s = mul(phi, phi)
    sin_phi = mul(phi, _F(1.0) - mul(s, _F(1 / 6) - mul(s, _F(1 / 120) - mul(s, _F(1 / 5040)))))
    cos_phi = _F(1.0) - mul(s, _F(0.5) - mul(s, _F(1 / 24) - mul(s, _F(1 / 720) -
                                                                 mul(s, _F(1 / 40320)))))
    a = mul(radius, _SQRT_HALF)
    z0 = mul(a, cos_phi - sin_phi)
    z1 = mul(a, cos_phi + sin_phi)
    z0 = bits_float32(float32_bits(z0) ^ _U32(low32 << _U32(31)))
    z1 = bits_float32(float32_bits(z1) ^ _U32((low32 >> _U32(1)) << _U32(31)))
    return z0, z1


@device
def normal_at(row, element):
    """The standard normal at `element` of the index whose key is `row`."""
    z0, z1 = normal_pair(pair_bits(row, element))
    return z1 if element & 1 else z0


@cuda.jit
def dac_kernel(x, fixed_range, max_abs, max_code, quantize, stochastic, keys, first_index,
               indices, codes, ranges):
    """Codes of every (state, input) row: kernels.tile._dac_row (and _round_stochastic), one
    row per LANES lanes; inputs along the grid's x, states along its y (no division by the
    batch). ranges[s, k] is NaN for a row holding a NaN or an infinity."""
    lane = cuda.threadIdx.x
    slot = cuda.threadIdx.y
    _, batch, width = codes.shape
    k = cuda.blockIdx.x * ROWS_PER_BLOCK + slot
    s = cuda.blockIdx.y
    tops = cuda.shared.array((ROWS_PER_BLOCK, LANES), dtype=np.uint32)
    valid = k < batch
    xs = s if x.shape[0] > 1 else 0
    top = _U32(0)
    if valid:
        for i in range(lane, width, LANES):
            top = max(top, float32_bits(x[xs, k, i]) & _ABS_BITS)
    tops[slot, lane] = top
    step = LANES // 2  # a tree over the lanes (LANES is a power of 2)
    while step > 0:
        cuda.syncthreads()
        if lane < step:
            tops[slot, lane] = max(tops[slot, lane], tops[slot, lane + step])
        step //= 2
    cuda.syncthreads()
    if not valid:
        return
    top = tops[slot, 0]
    if top >= _INF_BITS:
        if lane == 0:
            ranges[s, k] = _F(np.nan)
        return
    r = _F(fixed_range[s])
    if max_abs:
        r = bits_float32(top) if top > _U32(0) else _F(1.0)
    if lane == 0:
        ranges[s, k] = r
    top_code = _F(max_code)
    inv = top_code / r
    index = indices[k] if indices.shape[0] else first_index + k
    key = row_key(keys[s], index) if stochastic else np.uint64(0)
    for i in range(lane, width, LANES):
        v = min(max(mul(x[xs, k, i], inv), -top_code), top_code)
        if stochastic:
            low = floor(v)
            u = uniform_from_bits(half_bits(pair_bits(key, i), i))
            v = low + _F(1.0) if u < v - low else low
        elif quantize:
            v = rint(v)
        codes[s, k, i] = v


@cuda.jit
def adc_kernel(acc, keys, first_index, indices, params, quantize, ranges, col_factor,
               col_offset, out, add_to):
    """kernels.tile._adc_row for every (state, input) row: output noise, ADC, correction;
    params[s] is `adc_params` of state s.
    One thread per pair of columns (2m, 2m+1), which share one hash; inputs along the grid's
    x (the axis with room for large batches), column pairs along its y, states along its z."""
    pair = cuda.blockIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    k = cuda.blockIdx.x * cuda.blockDim.y + cuda.threadIdx.y
    s = cuda.blockIdx.z
    _, batch, cols = acc.shape
    j = 2 * pair
    if k >= batch or j >= cols:
        return
    analog_scale, noise_std = params[s, A_SCALE], params[s, A_NOISE]
    step, inv_step = params[s, A_STEP], params[s, A_INV_STEP]
    top, clip = params[s, A_MAX], params[s, A_CLIP]
    z0 = _F(0.0)
    z1 = _F(0.0)
    if noise_std != _F(0.0):
        index = indices[k] if indices.shape[0] else first_index + k
        z0, z1 = normal_pair(pair_bits(row_key(keys[s], index), j))
    r = ranges[s, k]
    for e in range(j, min(j + 2, cols)):
        z = z1 if e & 1 else z0
        y = mul(acc[s, k, e], analog_scale) + mul(noise_std, z)
        if quantize:
            y = mul(min(max(rint(mul(y, inv_step)), -top), top), step)
        else:
            y = min(max(y, -clip), clip)
        v = mul(y, mul(r, col_factor[s, e])) + col_offset[s, e]
        out[s, k, e] = out[s, k, e] + v if add_to else v


@cuda.jit
def drift_read_kernel(g_prog, nu, times, keys, states_chip, states_time, p, drift, read,
                      difference):
    """pcm.drifted and pcm.read of every device, summed per polarity: difference[q, i, j] =
    sum G+ - sum G- of chip states_chip[q] at time times[states_time[q]] (uS, float64).

    g_prog, nu: (chips, 2, devices, rows, cols); keys[q]: the read-noise stream of state q
    (index = crossbar row, element = (polarity, device, column), as Tile._device_normals);
    p: t0, t_read, g_max, q0, exponent, q_max, floor.
    """
    j, i, q = cuda.grid(3)
    chips, _, devices, rows, cols = g_prog.shape
    if q >= states_chip.shape[0] or i >= rows or j >= cols:
        return
    c = states_chip[q]
    t = times[states_time[q]]
    t0, t_read, g_max, q0, exponent, q_max, rel_floor = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    sigma_t = math.sqrt(math.log((t + t0 + t_read) / (2.0 * t_read)))
    ratio = (t + t0) / t0
    row = row_key(keys[q], i) if read else np.uint64(0)
    total = 0.0
    for pol in range(2):
        part = 0.0
        for d in range(devices):
            g0 = g_prog[c, pol, d, i, j]
            g = g0 * ratio ** (-nu[c, pol, d, i, j]) if drift else g0
            if read:
                z = np.float64(normal_at(row, (pol * devices + d) * cols + j))
                rel = max((abs(g0) / g_max) ** exponent, rel_floor)
                sigma = min(q0 / rel, q_max) * sigma_t
                g = max(0.0, g + abs(g) * sigma * z)
            part += g
        total = total + part if pol == 0 else total - part
    difference[q, i, j] = total


A_SCALE, A_NOISE, A_STEP, A_INV_STEP, A_MAX, A_CLIP = range(6)  # columns of `adc_params`


def adc_params(params: np.ndarray) -> np.ndarray:
    """The ADC kernel's float32 parameters (states, 6) from the CPU kernels' float64 layout
    (states, 7): rounded once here as kernels.tile._adc_row rounds them, 1 / step included."""
    p = np.asarray(params, dtype=np.float64)
    out = np.empty((p.shape[0], 6), dtype=np.float32)
    out[:, A_SCALE] = p[:, P_ANALOG_SCALE]
    out[:, A_NOISE] = p[:, P_NOISE_STD]
    out[:, A_STEP] = p[:, P_STEP]
    out[:, A_INV_STEP] = np.float32(1.0) / out[:, A_STEP]
    out[:, A_MAX] = p[:, P_ADC_MAX]
    out[:, A_CLIP] = p[:, P_CLIP]
    return out


def _states(states: int) -> int:
    """The grid's y or z size for `states` (CUDA allows 65,535)."""
    if states > 65535:
        raise ValueError(f"{states} states in one launch: at most 65,535 (fewer chips, times "
                         f"or GDC settings per run)")
    return states


def dac(x, fixed_range, max_abs, max_code, quantize, stochastic, keys, first_index, indices,
        codes, ranges) -> None:
    """Launch `dac_kernel` over every row of `codes` (arrays of the backend's array module)."""
    states, batch, _ = codes.shape
    blocks = ((batch + ROWS_PER_BLOCK - 1) // ROWS_PER_BLOCK, _states(states))
    if SIMULATED and not x.flags.writeable:  # the simulator copies every argument back
        x = x.copy()
    if states * batch:
        dac_kernel[blocks, (LANES, ROWS_PER_BLOCK)](x, fixed_range, max_abs, _F(max_code), quantize,
                                                 stochastic, keys, first_index, indices, codes,
                                                 ranges)


def adc(acc, keys, first_index, indices, params, quantize, ranges, col_factor, col_offset, out,
        add_to) -> None:
    """Launch `adc_kernel` over every element of `acc`."""
    states, batch, cols = acc.shape
    pairs = (cols + 1) // 2
    tx = 1  # lanes along the column pairs: a warp's worth at most, no more than there are
    while tx < min(pairs, 32, ADC_BLOCK):
        tx *= 2
    ty = ADC_BLOCK // tx
    blocks = (batch + ty - 1) // ty, (pairs + tx - 1) // tx, _states(states)
    if states * batch and cols:
        adc_kernel[blocks, (tx, ty)](acc, keys, first_index, indices, params, quantize, ranges,
                                    col_factor, col_offset, out, add_to)


def drift_read(g_prog, nu, times, keys, states_chip, states_time, p, drift, read,
               difference) -> None:
    """Launch `drift_read_kernel` for every state of `difference`."""
    states, rows, cols = difference.shape
    tx, ty, _ = DRIFT_THREADS
    blocks = ((cols + tx - 1) // tx, (rows + ty - 1) // ty, states)
    if states:
        drift_read_kernel[blocks, DRIFT_THREADS](g_prog, nu, times, keys, states_chip,
                                                 states_time, p, drift, read, difference)
