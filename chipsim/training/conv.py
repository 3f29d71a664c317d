"""A convolution layer trained on the arrays by im2col (Gokmen et al. 2017, arXiv 1705.08014).

The kernel is one (kh kw C_in) x C_out matrix (row c kh kw + i kw + j: input channel c at
kernel offset (i, j), as `chipsim.graph.lower` maps a conv onto a crossbar). Every output
position's patch of the input is one vector through it, so one image is H_out W_out reads:
- forward: the patches' reads, y[b, :, p] = patch(b, p) @ W (+ digital bias);
- backward: the transposed reads of the errors at every position, d(b, p) @ W.T, each a patch
  of input errors, added back onto the image where the patches overlap (col2im);
- update: one rank-1 pulsed update per position, outer(patch(b, p), d(b, p)), with the same lr
  as a dense layer's sample (the kernel's gradient is the sum over positions).

Input numbers: patch p of sample s (the network's sample number) is read as number
s P + p (P positions a sample), in forward and backward alike, so the tiles' counter-based
draws of every read are their own and a run is a pure function of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chipsim.training.chain import ConvShape
from chipsim.training.functions import activate
from chipsim.training.layers import pre_activation_grad
from chipsim.training.matrices import FloatMatrix, TileMatrix


def _offsets(shape: ConvShape, out_hw: tuple[int, int]) -> list[tuple[int, int, slice, slice]]:
    """For each kernel offset (i, j), row-major, the slices of the padded input it reads at
    every output position."""
    (kh, kw), (sh, sw), (dh, dw) = shape.kernel, shape.stride, shape.dilation
    ho, wo = out_hw
    return [(i, j, slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
             slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)) for i in range(kh) for j in range(kw)]


def im2col(x: np.ndarray, shape: ConvShape) -> np.ndarray:
    """The patches of images x (B, C, H, W): rows (b, oh, ow) in that order, columns
    c kh kw + i kw + j; float32 (B H_out W_out, C kh kw)."""
    b, c, h, w = x.shape
    _, ho, wo = shape.output(x.shape[1:])
    top, left, bottom, right = shape.pads
    padded = np.zeros((b, c, h + top + bottom, w + left + right), dtype=np.float32)
    padded[:, :, top:top + h, left:left + w] = x  # (np.pad costs as much as the copies below)
    cols = np.empty((b, ho, wo, c, *shape.kernel), dtype=np.float32)
    for i, j, rows, columns in _offsets(shape, (ho, wo)):
        cols[..., i, j] = padded[:, :, rows, columns].transpose(0, 2, 3, 1)
    return cols.reshape(b * ho * wo, -1)


def col2im(cols: np.ndarray, image: tuple[int, int, int, int], shape: ConvShape) -> np.ndarray:
    """The adjoint of `im2col`: patch rows (B H_out W_out, C kh kw) added onto images of shape
    `image` (B, C, H, W) where they overlap, in a fixed order (float32)."""
    b, c, h, w = image
    _, ho, wo = shape.output(image[1:])
    top, left, bottom, right = shape.pads
    cols = cols.reshape(b, ho, wo, c, *shape.kernel)
    padded = np.zeros((b, c, h + top + bottom, w + left + right), dtype=np.float32)
    for i, j, rows, columns in _offsets(shape, (ho, wo)):
        padded[:, :, rows, columns] += cols[..., i, j].transpose(0, 3, 1, 2)
    return padded[:, :, top:top + h, left:left + w]


@dataclass
class Conv:
    """y = activation(conv(x, W) + b) for images x (B, C, H, W); W a matrix of
    (kh kw C) x C_out on tiles or in float."""

    matrix: FloatMatrix | TileMatrix
    bias: np.ndarray
    activation: str | None
    shape: ConvShape

    def forward(self, x: np.ndarray, first_index: int) -> np.ndarray:
        _, ho, wo = self.shape.output(x.shape[1:])
        z = self.matrix.forward(im2col(x, self.shape), first_index * ho * wo) + self.bias
        z = z.reshape(x.shape[0], ho, wo, -1).transpose(0, 3, 1, 2)
        return z if self.activation is None else activate(self.activation, z)

    def backward(self, x: np.ndarray, y: np.ndarray, d: np.ndarray, first_index: int,
                 step: float, propagate: bool) -> np.ndarray | None:
        """The transposed reads first (they see the weights before the update), then one
        rank-1 update per output position, positions of a sample in row-major order."""
        positions = y.shape[2] * y.shape[3]
        d = pre_activation_grad(self.activation, y, d)
        errors = np.ascontiguousarray(d.transpose(0, 2, 3, 1)).reshape(-1, y.shape[1])
        below = None
        if propagate:
            below = col2im(self.matrix.backward(errors, first_index * positions), x.shape,
                           self.shape)
        self.matrix.update(im2col(x, self.shape), errors, step)
        self.bias -= np.float32(step) * errors.sum(axis=0)
        return below
