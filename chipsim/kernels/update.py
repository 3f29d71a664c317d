"""Numba kernels of the pulsed update: stochastic pulse trains and their coincidences.

The stochastic update of Gokmen et al. (arXiv 1806.00166) writes a rank-1 update onto the array
in one step: row i gets a random train of BL pulse slots, each on with probability p_i; column j
gets one with probability q_j; where a row pulse and a column pulse meet, the device at (i, j)
takes one pulse. The expected number of coincidences is BL p_i q_j. A train of BL <= 64 slots is
one 64-bit word here, so the coincidences of a device are popcount(row word & column word).

Randomness is counter-based (`rng`): slot t of row i in update u is the uniform at index u,
element 64 i + t of the stream (seed, tile, PULSE_ROWS) (columns: PULSE_COLS); the n pulses of
device (i, j) draw their one cycle-to-cycle normal at index u, element i cols + j of the stream
(seed, tile, CYCLE_NOISE).
Each row's result is a pure function of those addresses, so any split of the rows over threads
gives the same bits.

`update_sequence` applies many rank-1 updates (numbers u0, u0 + 1, ...) in one call: a
convolution makes one per output position, hundreds per image, and a Python call with its
arrays per update cost more than the pulses. It draws the same trains at the same addresses as
`pulse_trains` and `apply_coincidences` called update by update (it calls them), so the bits
are the same; a row depends only on its own trains, so a thread may take its rows through the
whole sequence on its own.

All coincidences of one device in one update go the same way (the signs of x_i and d_j fix it),
so they are applied at once by `chipsim.device.pulsed.pulses` (float32 here): exact for one pulse,
exact in mean and to first order in spread for several, with one normal per device instead of
one per pulse. A row is then one branch-free pass over its columns that vectorises: a pulse
applied one at a time cost a hash and a Box-Muller transform each, three times the whole
update's budget at learning rate 0.01.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from chipsim.kernels.rng import half_bits, normal_pair, pair_bits, row_key, uniform_from_bits

_F = np.float32
MAX_BL = 64  # one 64-bit word per pulse train
_U1 = np.uint64(1)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_S1, _S2, _S4, _S56 = np.uint64(1), np.uint64(2), np.uint64(4), np.uint64(56)


@njit(cache=True, inline="always", error_model="numpy")
def popcount(v: np.uint64) -> np.uint64:
    """Set bits of a 64-bit word (SWAR: branch-free, vectorises)."""
    v = v - ((v >> _S1) & _M1)
    v = (v & _M2) + ((v >> _S2) & _M2)
    v = (v + (v >> _S4)) & _M4
    return (v * _H01) >> _S56


@njit(cache=True, nogil=True, error_model="numpy")
def pulse_trains(key, update, values, scale, bl, trains, negative, k0, k1) -> None:
    """trains[i] for i in k0..k1-1: bit t (t < bl) set with probability min(scale |values[i]|, 1)
    (uniforms of index `update`, element 64 i + t of the stream `key`); negative[i]: the sign."""
    row = row_key(key, update)
    for i in range(k0, k1):
        p = min(_F(scale) * abs(_F(values[i])), _F(1.0))
        negative[i] = values[i] < 0
        word = np.uint64(0)
        if p > _F(0.0):
            for t in range(0, bl, 2):  # elements 2m and 2m+1 share one hash
                bits = pair_bits(row, 64 * i + t)
                if uniform_from_bits(half_bits(bits, 0)) < p:
                    word |= _U1 << np.uint64(t)
                if t + 1 < bl and uniform_from_bits(half_bits(bits, 1)) < p:
                    word |= _U1 << np.uint64(t + 1)
        trains[i] = word


@njit(cache=True, inline="always", error_model="numpy")
def _power(base: np.float32, n: np.int32) -> np.float32:
    """base^n for 0 <= n < 64 by squaring, without branches (np.exp does not vectorise)."""
    result = _F(1.0)
    for bit in range(6):
        result = result * base if (n >> bit) & 1 else result
        base = base * base
    return result


@njit(cache=True, nogil=True, error_model="numpy")
def apply_coincidences(w, row_trains, row_negative, col_trains, col_negative, dev, kind, ctoc,
                       noise_key, update, gamma, k0, k1) -> int:
    """Pulse every device of rows k0..k1-1 once per coincidence of its row and column trains,
    all of them at once (`chipsim.device.pulsed.pulses`, one normal per device).

    `dev` (8, rows, cols) float32 holds per device: a+, a-, b_max, b_min, 1 - r+, 1 - r-,
    e+, e- (r = a / |b|, e = r s / (1 - r); `device_table`). `kind` is the device kind's index
    in `chipsim.device.pulsed.KINDS` (0 constant step, 1 soft bounds, 2 PCM-like, whose SET
    steps shrink with exponent `gamma`). The direction is up
    where the row's and the column's values differ in sign (the update moves W against
    outer(x, d)), down where they agree. Returns the number of pulses applied.
    """
    rows, cols = w.shape
    counts = np.empty(cols, dtype=np.int32)
    z = np.zeros(cols, dtype=np.float32)
    noise_row = row_key(noise_key, update)
    s = _F(ctoc)
    total = 0
    for i in range(k0, k1):
        train = row_trains[i]
        if train == np.uint64(0):
            continue
        busy = np.uint64(0)
        neg = row_negative[i]
        for j in range(cols):  # signed counts: + up (signs of x_i and d_j differ), - down
            c = popcount(train & col_trains[j])
            busy |= c
            counts[j] = np.int32(c) if neg != col_negative[j] else -np.int32(c)
        if busy == np.uint64(0):
            continue
        base = i * cols
        if s != _F(0.0) and base % 2 == 0 and cols % 2 == 0:
            for m in range(0, cols, 2):  # elements base + m, base + m + 1: one hash
                z[m], z[m + 1] = normal_pair(pair_bits(noise_row, base + m))
        elif s != _F(0.0):  # the same numbers, element by element
            for j in range(cols):
                z0, z1 = normal_pair(pair_bits(noise_row, base + j))
                z[j] = z1 if (base + j) & 1 else z0
        wi = w[i]
        a_up, a_down, b_max, b_min = dev[0, i], dev[1, i], dev[2, i], dev[3, i]
        if kind == 1:  # soft bounds
            keep_up, keep_down, e_up, e_down = dev[4, i], dev[5, i], dev[6, i], dev[7, i]
            # branch-free and reading at most 8 arrays besides the one it writes: LLVM checks
            # that many for overlap at run time and vectorises (a ninth keeps it scalar, 4x slower)
            for j in range(cols):
                signed = counts[j]
                c = abs(signed)
                n = _F(c)
                up = signed > 0
                # every operand loaded unconditionally, then selected as values
                hi, lo, k_up, k_down = b_max[j], b_min[j], keep_up[j], keep_down[j]
                eu, ed, wj, zj = e_up[j], e_down[j], wi[j], z[j]
                bound = hi if up else lo
                shrink = _power(k_up if up else k_down, c)
                e = eu if up else ed
                moved = bound - (bound - wj) * shrink * (_F(1.0) - e * np.sqrt(n) * zj)
                moved = min(max(moved, lo), hi)
                wi[j] = moved if c > 0 else wj
        elif kind == 2:  # PCM-like: the SET steps one after another (scalar, as `pulsed.pulses`)
            g = _F(gamma)
            for j in range(cols):
                signed = counts[j]
                if signed == 0:
                    continue
                c = abs(signed)
                n = _F(c)
                hi, lo, wj = b_max[j], b_min[j], wi[j]
                if signed > 0:
                    f = _F(1.0) + s * z[j] / np.sqrt(n)
                    for _ in range(c):
                        room = max(hi - wj, _F(0.0)) / hi
                        wj = min(wj + a_up[j] * room ** g * f, hi)
                else:
                    wj = wj - a_down[j] * (n + s * np.sqrt(n) * z[j])
                wi[j] = min(max(wj, lo), hi)
        else:
            for j in range(cols):
                signed = counts[j]
                n = _F(abs(signed))
                au, ad, hi, lo, wj, zj = a_up[j], a_down[j], b_max[j], b_min[j], wi[j], z[j]
                step = au if signed > 0 else -ad
                moved = min(max(wj + step * (n + s * np.sqrt(n) * zj), lo), hi)
                wi[j] = moved if signed != 0 else wj
        for j in range(cols):
            total += abs(np.int64(counts[j]))
    return total


@njit(cache=True, inline="always", error_model="numpy")
def probability_scales(x_max, d_max, c, managed):
    """The row and column probability scales (C m, C / m) of one update, m = sqrt(d_max / x_max)
    in float64 (update management), or (C, C) without it."""
    if not managed:
        return c, c
    m = np.sqrt(np.float64(d_max) / np.float64(x_max))
    return c * m, c / m


@njit(cache=True, inline="always", error_model="numpy")
def _max_abs(v) -> np.float32:
    top = _F(0.0)
    for value in v:
        top = max(top, abs(_F(value)))
    return top


@njit(cache=True, nogil=True, error_model="numpy")
def update_sequence(w, x, d, c, managed, row_key_, col_key_, bl, dev, kind, ctoc, noise_key,
                    first_update, gamma, k0, k1) -> int:
    """Rank-1 updates k = 0, 1, ... of x (n, rows) and d (n, cols) one after another on rows
    k0..k1-1 of w: update k has number first_update + k and the probability scales of
    `probability_scales` (C = c); one with x or d all zero sends no pulses (its number is used
    up all the same). The other arguments as in `pulse_trains` and `apply_coincidences`.
    Returns the number of pulses applied."""
    cols = w.shape[1]
    row_trains = np.zeros(w.shape[0], dtype=np.uint64)
    row_negative = np.zeros(w.shape[0], dtype=np.bool_)
    col_trains = np.empty(cols, dtype=np.uint64)
    col_negative = np.empty(cols, dtype=np.bool_)
    total = 0
    for k in range(x.shape[0]):
        x_max, d_max = _max_abs(x[k]), _max_abs(d[k])
        if x_max == _F(0.0) or d_max == _F(0.0):
            continue
        row_scale, col_scale = probability_scales(x_max, d_max, c, managed)
        u = first_update + k
        pulse_trains(row_key_, u, x[k], row_scale, bl, row_trains, row_negative, k0, k1)
        pulse_trains(col_key_, u, d[k], col_scale, bl, col_trains, col_negative, 0, cols)
        total += apply_coincidences(w, row_trains, row_negative, col_trains, col_negative, dev,
                                    kind, ctoc, noise_key, u, gamma, k0, k1)
    return total
