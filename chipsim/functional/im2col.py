"""Convolution as matrix-vector products: the im2col rearrangement.

A crossbar multiplies a vector by a matrix, so a convolution runs as one MVM per output pixel:
the input patch under the kernel (C_in x kH x kW values, channel-major like the weight tensor
`W.reshape(C_out, -1)`) is the vector, and the kernel bank is the matrix. `im2col` lays the
patches of a whole batch out as rows, output pixels in row-major order, so row `n * P + p` is
MVM `p` of image `n`, the numbering every model of the chip uses.
"""

from __future__ import annotations

import sys

import numpy as np
from numpy.lib.stride_tricks import as_strided


def array_module(x):
    """numpy, or the library of an array that is not numpy's (CuPy on the GPU backend), whose
    functions numpy's do not all dispatch to (index arrays, as_strided)."""
    return np if isinstance(x, np.ndarray) else sys.modules[type(x).__module__.split(".")[0]]


def conv_geometry(attrs: dict, kernel: tuple[int, int], height: int, width: int
                  ) -> tuple[int, int, tuple[int, int, int, int], tuple[int, int], tuple[int, int]]:
    """Output size, pads (top, left, bottom, right), strides and dilations of a conv2d node."""
    kh, kw = kernel
    sh, sw = (int(v) for v in attrs.get("strides", (1, 1)))
    dh, dw = (int(v) for v in attrs.get("dilations", (1, 1)))
    pads = tuple(int(v) for v in attrs.get("pads", (0, 0, 0, 0)))
    oh = (height + pads[0] + pads[2] - ((kh - 1) * dh + 1)) // sh + 1
    ow = (width + pads[1] + pads[3] - ((kw - 1) * dw + 1)) // sw + 1
    return oh, ow, pads, (sh, sw), (dh, dw)


def im2col(x: np.ndarray, attrs: dict, kernel: tuple[int, int]) -> tuple[np.ndarray, int, int]:
    """Patches of x (N, C, H, W) as rows (N * OH * OW, C * kH * kW); returns them, OH and OW."""
    n, c, h, w = x.shape
    kh, kw = kernel
    oh, ow, pads, (sh, sw), (dh, dw) = conv_geometry(attrs, kernel, h, w)
    lib = array_module(x)
    if any(pads):
        x = lib.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    x = lib.ascontiguousarray(x)
    s_n, s_c, s_h, s_w = x.strides
    shape = (n, oh, ow, c, kh, kw)
    strides = (s_n, s_h * sh, s_w * sw, s_c, s_h * dh, s_w * dw)
    if isinstance(x, np.ndarray):
        view = as_strided(x, shape=shape, strides=strides, writeable=False)
    else:
        view = lib.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)
    return view.reshape(n * oh * ow, c * kh * kw), oh, ow


def col2im(rows: np.ndarray, batch: int, oh: int, ow: int) -> np.ndarray:
    """MVM outputs (N * OH * OW, C_out) back to a feature map (N, C_out, OH, OW)."""
    return array_module(rows).ascontiguousarray(rows.reshape(batch, oh, ow, -1)
                                                .transpose(0, 3, 1, 2))
