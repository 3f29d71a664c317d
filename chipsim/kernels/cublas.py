"""The GPU backend's GEMM of DAC codes with the integer conductance grid, on tensor cores.

Codes are integers of at most `dac_max_code` (127 at 8 bits) and the grid integers of at most
`levels` (516 for 256 rows at 8 bits), so both are exact in float16 (every integer up to 2,048
is), their products are exact, and every partial sum stays below 2^24, where float32 holds
every integer: a float16 GEMM that accumulates in float32 (cuBLAS GemmEx, COMPUTE_32F) gives
the bits of the float32 GEMM in any order, whatever the tensor cores' order and rounding of
the additions (an addition of integers below 2^24 has nothing to round). It reads half the
bytes and runs at the tensor cores' rate instead of the float32 units'. Grids or codes beyond
2,048 (small crossbars, wide DACs) keep the float32 GEMM.

Under Numba's CUDA simulator the same product is numpy's float32 matmul.
"""

from __future__ import annotations

import numpy as np

from chipsim.kernels.cuda import SIMULATED

HALF_EXACT = 2048  # every integer of magnitude up to this is a float16


def half_exact(max_code: int, max_level: int) -> bool:
    """Whether codes up to max_code and grid values up to max_level are exact in float16."""
    return max_code <= HALF_EXACT and max_level <= HALF_EXACT


def integer_matmul(codes, grid, xp, out=None):
    """codes (S, batch, K) @ grid (S or 1, K, N), both float16 integers: float32 (S, batch, N),
    exact (the module docstring), into `out` if given."""
    if SIMULATED or xp is np:
        return np.matmul(codes.astype(np.float32), grid.astype(np.float32), out=out)
    return _gemm_half(codes, grid, xp, out)


def _gemm_half(codes, grid, xp, out):
    from cupy_backends.cuda.libs import cublas
    from cupy.cuda import device, runtime

    states, batch, k = codes.shape
    n = grid.shape[2]
    if out is None:
        out = xp.empty((states, batch, n), dtype=np.float32)
    if not all(a.flags.c_contiguous for a in (codes, grid, out)):
        raise ValueError("integer_matmul takes C-contiguous arrays")
    one, zero = np.ones(1, np.float32), np.zeros(1, np.float32)
    handle = device.get_cublas_handle()
    mode = cublas.getPointerMode(handle)
    cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_HOST)  # alpha, beta on the host
    try:  # cuBLAS is column-major: out^T (n x batch) = grid^T (n x k) @ codes^T (k x batch)
        cublas.gemmStridedBatchedEx(
            handle, cublas.CUBLAS_OP_N, cublas.CUBLAS_OP_N, n, batch, k,
            one.ctypes.data, grid.data.ptr, runtime.CUDA_R_16F, n,
            k * n if grid.shape[0] > 1 else 0,
            codes.data.ptr, runtime.CUDA_R_16F, k, batch * k,
            zero.ctypes.data, out.data.ptr, runtime.CUDA_R_32F, n, batch * n,
            states, cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT)
    finally:
        cublas.setPointerMode(handle, mode)
    return out
