"""The project's one door to Numba's CUDA target, and what differs between a GPU and its simulator.

numba-cuda 0.30 still registers `np.row_stack`, which numpy 2.5 removed, so compiling any kernel
fails with "module 'numpy' has no attribute 'row_stack'"; naming np.vstack so before numba.cuda
is imported fixes it (seen on the GPU machine, issue 18). Nothing else imports numba.cuda.

Kernels must give the CPU kernels' bits, so their float32 arithmetic may not fuse a multiply and
an add into one FMA, which NVVM does by default: `mul` is libdevice's explicitly rounded product
on a GPU (an add of rounded products has nothing left to fuse). Under Numba's CUDA simulator
(NUMBA_ENABLE_CUDASIM=1, how the tests run without a GPU) kernels run as Python, where libdevice
does not exist: the same names are then plain numpy float32 operations, which round alike.

On a GPU the arrays live in CuPy (the backend's GEMMs are cuBLAS GEMMs of integers, exact in any
order, and numpy's functions dispatch to CuPy for the digital ops); under the simulator in numpy.
"""

from __future__ import annotations

import numpy as np

if not hasattr(np, "row_stack"):  # numba-cuda registers it (see above)
    np.row_stack = np.vstack

from numba import config, cuda  # noqa: E402

from chipsim.errors import ChipsimError  # noqa: E402

SIMULATED = bool(config.ENABLE_CUDASIM)
# small launches (a small layer on few chips) are expected; their warnings would flood stderr
config.CUDA_LOW_OCCUPANCY_WARNINGS = False


def available() -> bool:
    """Whether kernels can run: a CUDA GPU with its driver, or the simulator."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install raises instead of answering
        return False


def array_module():
    """The array library of the backend: CuPy on a GPU, numpy under the simulator; a clear
    error where neither can run."""
    if SIMULATED:
        return np
    if not available():
        raise ChipsimError("--backend gpu: no CUDA GPU found (numba.cuda.is_available() is False); "
                           "use --backend cpu, or NUMBA_ENABLE_CUDASIM=1 for the slow simulator")
    try:
        import cupy
    except ImportError as err:
        raise ChipsimError("--backend gpu needs CuPy for its GEMMs and digital ops "
                           "(pip install cupy-cuda12x)") from err
    return cupy


def to_numpy(a) -> np.ndarray:
    """A host copy of a backend array (CuPy's .get(), Numba's copy_to_host(), or the numpy
    array itself)."""
    if hasattr(a, "copy_to_host"):
        return a.copy_to_host()
    return a.get() if hasattr(a, "get") else np.asarray(a)


def kernel_view(a):
    """A GPU array as Numba's kernels take it with least work per launch (wrapping a CuPy
    array costs tens of microseconds, which small launches feel): for arrays kept across calls.
    Under the simulator, the array itself."""
    return a if SIMULATED else cuda.as_cuda_array(a)


def synchronize() -> None:
    """Wait for the GPU's queued work (timing); nothing to wait for under the simulator."""
    if not SIMULATED:
        cuda.synchronize()


def device(fn):
    """`fn` as a device function (inlined) on a GPU, as itself under the simulator."""
    return fn if SIMULATED else cuda.jit(device=True, inline=True)(fn)


if SIMULATED:
    _F = np.float32

    def mul(a, b):
        return _F(a) * _F(b)

    def rint(a):
        return np.rint(_F(a))

    def floor(a):
        return np.floor(_F(a))

    def sqrt(a):
        return np.sqrt(_F(a))

    def float32_bits(x):
        return np.array(x, dtype=np.float32).view(np.uint32)[()]

    def bits_float32(b):
        return np.array(b, dtype=np.uint32).view(np.float32)[()]
else:
    from numba.cuda import libdevice

    @device
    def mul(a, b):
        return libdevice.fmul_rn(a, b)

    @device
    def rint(a):
        return libdevice.rintf(a)

    @device
    def floor(a):
        return libdevice.floorf(a)

    @device
    def sqrt(a):
        return libdevice.fsqrt_rn(a)

    @device
    def float32_bits(x):
        return np.uint32(libdevice.float_as_int(x))

    @device
    def bits_float32(b):
        return libdevice.int_as_float(np.int32(b))
