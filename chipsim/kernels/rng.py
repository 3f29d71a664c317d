"""Counter-based random numbers: every draw is a pure function of its coordinates.

A stream generator (like numpy's default) hands out numbers in order, so a result depends on how
many numbers were taken before it: split a batch differently, or run threads in another order,
and the noise lands on other inputs. Here there is no stream. A draw is addressed like a cell in
a five-dimensional table, (seed, tile id, purpose, index, element), and its value is computed
from that address by an integer hash. Think of a book of random digits that every reader opens
at the page and line they need: nobody has to read the earlier pages first.

The hash is SplitMix64's finaliser (Steele, Lea and Flood, OOPSLA 2014), a bijection on 64-bit
integers whose output passes BigCrush on consecutive counters. The address is folded in two
steps: `stream_key(seed, tile, purpose)` once per call, then `row_key(key, index)` once per input
vector; elements 2m and 2m+1 share the 64 bits `mix64(row + m * GAMMA_ELEMENT)` (two normals, or
two uniforms from its 32-bit halves), so one hash yields two draws.

Standard normals come in pairs from Box-Muller on those 64 bits, with the logarithm, sine and
cosine written out as short series in additions, multiplications and one division. Every
operation is IEEE-exact or correctly rounded (and Numba does not fuse multiply-adds unless told
to), so a vectorised loop and a scalar loop give the same bits: results do not depend on batch
size, SIMD width or thread count. The radius comes from 39 bits (its uniform is never below
2^-40), so the tails reach |normal| = 7.45 and cut off a probability of 1e-13.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# Purposes: one per kind of draw, so that no two kinds ever share numbers.
PROGRAMMING = 1
DRIFT_NU = 2
READ_NOISE = 3
OUTPUT_NOISE = 4
GDC_REFERENCE = 5
VERIFY_READ = 6  # the read-out of a device just programmed, before the next one is programmed
DEVICE_VARIATION = 7  # device-to-device parameters of pulsed (training) devices
PULSE_ROWS = 8  # the row pulse trains of a stochastic update
PULSE_COLS = 9  # the column pulse trains of a stochastic update
CYCLE_NOISE = 10  # cycle-to-cycle noise of a device's pulses in one update
BACKWARD_NOISE = 11  # output noise of the transposed read
SYMMETRY_PULSES = 12  # cycle-to-cycle noise of the alternating pulses of zero-shifting
DAC_ROUNDING = 13  # the uniforms of stochastic rounding in the DAC of the forward read
BACKWARD_ROUNDING = 14  # the same for the transposed read (one stream per bound-management try)
STUCK_DEVICES = 15  # which devices of a core are stuck (one uniform per device; tile = core)
FAULT_DRAWS = 16  # which cores die and which links break at a fault rate (chipsim.arch.faults)

_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, SplitMix64's increment
GAMMA_ELEMENT = np.uint64(0xD1B54A32D192ED03)  # another odd constant for the element axis
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32, _S25, _S16, _S9 = (np.uint64(s) for s in (30, 27, 31, 32, 25, 16, 9))
_LOW32 = np.uint64(0xFFFFFFFF)
_ONE = np.uint64(1)


@njit(cache=True, inline="always", error_model="numpy")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective avalanche of 64 bits."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, error_model="numpy")
def stream_key(seed: int, tile: int, purpose: int) -> np.uint64:
    """The key of one (seed, tile, purpose) stream."""
    k = mix64(np.uint64(seed) * _GAMMA + _GAMMA)
    k = mix64(k ^ (np.uint64(tile) * _GAMMA + _M1))
    return mix64(k ^ (np.uint64(purpose) * _GAMMA + _M2))


@njit(cache=True, inline="always", error_model="numpy")
def row_key(key: np.uint64, index: int) -> np.uint64:
    """The key of one index (input vector, device row, ...) within a stream."""
    return mix64(key + np.uint64(index) * _GAMMA)


@njit(cache=True, inline="always", error_model="numpy")
def pair_bits(row: np.uint64, element: int) -> np.uint64:
    """64 random bits shared by elements 2m and 2m+1 (low half even, high half odd)."""
    return mix64(row + (np.uint64(element) >> _ONE) * GAMMA_ELEMENT)


@njit(cache=True, inline="always", error_model="numpy")
def half_bits(bits: np.uint64, element: int) -> np.uint64:
    """The 32 bits of `pair_bits` that belong to `element`."""
    if element & 1:
        return bits >> _S32
    return bits & _LOW32


@intrinsic
def float32_bits(typingctx, x):
    """Reinterpret a float32 as its uint32 bit pattern (no conversion)."""
    sig = types.uint32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@intrinsic
def bits_float32(typingctx, b):
    """Reinterpret a uint32 bit pattern as a float32."""
    sig = types.float32(types.uint32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


_F = np.float32
_LN2 = _F(math.log(2.0))
_SQRT_HALF = _F(math.sqrt(0.5))
_HALF_PI = _F(math.pi / 2)
_SQRT2 = np.array([0x3FB504F3], dtype=np.uint32).view(np.float32)[0]  # float32 just below sqrt 2


@njit(cache=True, inline="always", error_model="numpy")
def _log_unit(y: np.float32) -> np.float32:
    """Natural log of a normal positive float32, from its exponent and an odd series.

    Exponent and fold are float operations on exact small integers and halvings: Numba widens
    32-bit integer arithmetic to 64 bits, which vectorises into twice the instructions.
    """
    bits = float32_bits(y)
    m = bits_float32((bits & np.uint32(0x007FFFFF)) | np.uint32(0x3F800000))  # mantissa in [1, 2)
    e = _F(np.int32(bits >> np.uint32(23))) - _F(127.0)
    if m > _SQRT2:  # fold to [sqrt(1/2), sqrt(2)) so the series converges fast (a select)
        m = m * _F(0.5)
        e = e + _F(1.0)
    f = (m - _F(1.0)) / (m + _F(1.0))
    s = f * f
    series = _F(1.0) + s * (_F(1 / 3) + s * (_F(1 / 5) + s * (_F(1 / 7) + s * _F(1 / 9))))
    return e * _LN2 + _F(2.0) * f * series


@njit(cache=True, inline="always", error_model="numpy")
def normal_pair(bits: np.uint64) -> tuple[np.float32, np.float32]:
    """Two independent standard normals from 64 random bits (Box-Muller).

    39 bits give the radius sqrt(-2 ln u), 23 bits an angle in a quarter turn, 2 bits the signs
    of the two coordinates (reflecting a quarter turn onto the full circle keeps it uniform).
    """
    low32 = np.uint32(bits & _LOW32)  # angle and sign bits, in 32-bit lanes
    top = bits >> _S25  # the 39 radius bits
    high = _F(np.int32(top >> _S16)) * _F(65536.0)  # their top 23, exact
    low = _F(np.int32(np.uint32(top) & np.uint32(0xFFFF)))  # the other 16
    u = ((high + low) + _F(0.5)) * _F(1.0 / 549755813888.0)  # in [2^-40, 1]: tails to 7.45
    radius = np.sqrt(_F(-2.0) * _log_unit(u))
    k = _F(np.int32((low32 >> np.uint32(2)) & np.uint32(0x7FFFFF)))
    phi = ((k + _F(0.5)) * _F(1.0 / 8388608.0) - _F(0.5)) * _HALF_PI  # angle - pi/4
    s = phi * phi  # Taylor series on |phi| <= pi/4: errors below 4e-7
    sin_phi = phi * (_F(1.0) - s * (_F(1 / 6) - s * (_F(1 / 120) - s * _F(1 / 5040))))
    cos_phi = _F(1.0) - s * (_F(0.5) - s * (_F(1 / 24) - s * (_F(1 / 720) - s * _F(1 / 40320))))
    a = radius * _SQRT_HALF  # cos(pi/4 + phi) = (cos - sin) / sqrt 2, sin(pi/4 + phi) = (cos + sin) / sqrt 2
    z0 = a * (cos_phi - sin_phi)
    z1 = a * (cos_phi + sin_phi)
    # bit 0 flips the sign of z0, bit 1 that of z1: an xor of the sign bit, no branch
    z0 = bits_float32(float32_bits(z0) ^ np.uint32(low32 << np.uint32(31)))
    z1 = bits_float32(float32_bits(z1) ^ np.uint32((low32 >> np.uint32(1)) << np.uint32(31)))
    return z0, z1


@njit(cache=True, inline="always", error_model="numpy")
def uniform_from_bits(b32: np.uint64) -> np.float32:
    """A uniform in (0, 1) from 32 random bits: (k + 1/2) / 2^23 for their top 23 bits k."""
    return (_F(np.int32(b32 >> _S9)) + _F(0.5)) * _F(1.0 / 8388608.0)


@njit(cache=True, error_model="numpy")
def normal(seed: int, tile: int, purpose: int, index: int, element: int) -> np.float32:
    """One standard normal draw at the given address."""
    row = row_key(stream_key(seed, tile, purpose), index)
    z0, z1 = normal_pair(pair_bits(row, element))
    return z1 if element & 1 else z0


@njit(cache=True, error_model="numpy")
def uniform(seed: int, tile: int, purpose: int, index: int, element: int) -> np.float32:
    """One uniform draw in (0, 1) at the given address."""
    row = row_key(stream_key(seed, tile, purpose), index)
    return uniform_from_bits(half_bits(pair_bits(row, element), element))


@njit(cache=True, inline="always", error_model="numpy")
def fill_normals(out: np.ndarray, row: np.uint64) -> None:
    """out[e] = the normal at `element` e of the index whose key is `row`."""
    n = out.shape[0]
    for m in range(n // 2):
        z0, z1 = normal_pair(pair_bits(row, 2 * m))
        out[2 * m] = z0
        out[2 * m + 1] = z1
    if n % 2:
        z0, z1 = normal_pair(pair_bits(row, n - 1))
        out[n - 1] = z0


@njit(cache=True, error_model="numpy")
def _normal_table(key: np.uint64, first_index: int, n_index: int, n_element: int) -> np.ndarray:
    out = np.empty((n_index, n_element), dtype=np.float32)
    for i in range(n_index):
        fill_normals(out[i], row_key(key, first_index + i))
    return out


@njit(cache=True, error_model="numpy")
def _uniform_table(key: np.uint64, first_index: int, n_index: int, n_element: int) -> np.ndarray:
    out = np.empty((n_index, n_element), dtype=np.float32)
    for i in range(n_index):
        row = row_key(key, first_index + i)
        for e in range(n_element):
            out[i, e] = uniform_from_bits(half_bits(pair_bits(row, e), e))
    return out


def key(seed: int, tile: int, purpose: int) -> np.uint64:
    """`stream_key` as a numpy uint64, ready to pass to the kernels."""
    if seed < 0 or tile < 0 or purpose < 0:
        raise ValueError(f"seed, tile and purpose must be >= 0, got {seed}, {tile}, {purpose}")
    return np.uint64(stream_key(seed, tile, purpose))


def normals(key: np.uint64, n_index: int, n_element: int, first_index: int = 0) -> np.ndarray:
    """Standard normals (float32) of the stream `key`: row i is index first_index + i."""
    return _normal_table(np.uint64(key), first_index, n_index, n_element)


def subkey(key: np.uint64, value: int) -> np.uint64:
    """A stream derived from `key` and a non-negative integer (e.g. the bits of a time)."""
    return np.uint64(row_key(np.uint64(key), value))


def normal_table(seed: int, tile: int, purpose: int, n_index: int, n_element: int,
                 first_index: int = 0) -> np.ndarray:
    """Standard normals (float32): row i is index first_index + i, column e is element e."""
    return _normal_table(key(seed, tile, purpose), first_index, n_index, n_element)


def uniform_table(seed: int, tile: int, purpose: int, n_index: int, n_element: int,
                  first_index: int = 0) -> np.ndarray:
    """Uniforms in (0, 1) (float32), laid out as `normal_table`."""
    return _uniform_table(key(seed, tile, purpose), first_index, n_index, n_element)
