"""The layers of a trainable network, all with the same two verbs.

`forward(x, first_index)` gives the layer's output for a batch x whose samples are numbered
first_index, first_index + 1, ... (the input numbers of their tile reads).
`backward(x, y, d, first_index, step, propagate)` takes the layer's input x, its output y and
the loss gradient d at the output, updates the layer's weights with learning rate `step` per
rank-1 update, and returns the gradient at the input (None unless `propagate`: the first
weight layer's needs no transposed read).

A weight layer's activation belongs to it (y = activation(x W + b)), so its backward turns d
into the gradient before the activation itself. `Dense` and `chipsim.training.conv.Conv` hold
their weights in a `FloatMatrix` or a `TileMatrix`; `MaxPool` and `Flatten` are digital numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from chipsim.training.chain import PoolShape
from chipsim.training.functions import activate, activation_grad
from chipsim.training.matrices import FloatMatrix, TileMatrix


class Layer(Protocol):
    def forward(self, x: np.ndarray, first_index: int) -> np.ndarray: ...

    def backward(self, x: np.ndarray, y: np.ndarray, d: np.ndarray, first_index: int,
                 step: float, propagate: bool) -> np.ndarray | None: ...


def pre_activation_grad(activation: str | None, y: np.ndarray, d: np.ndarray) -> np.ndarray:
    """dL/dz for y = activation(z) from d = dL/dy, in float32 (the matrices' error type)."""
    if activation is not None:
        d = d * activation_grad(activation, y)
    return d.astype(np.float32)


@dataclass
class Dense:
    """y = activation(x @ W + b); activation None: the logits (the output layer)."""

    matrix: FloatMatrix | TileMatrix
    bias: np.ndarray
    activation: str | None

    def forward(self, x: np.ndarray, first_index: int) -> np.ndarray:
        z = self.matrix.forward(x, first_index) + self.bias
        return z if self.activation is None else activate(self.activation, z)

    def backward(self, x: np.ndarray, y: np.ndarray, d: np.ndarray, first_index: int,
                 step: float, propagate: bool) -> np.ndarray | None:
        """The transposed read first (it sees the weights before the update), then the update."""
        d = pre_activation_grad(self.activation, y, d)
        below = self.matrix.backward(d, first_index) if propagate else None
        self.matrix.update(x, d, step)
        self.bias -= np.float32(step) * d.sum(axis=0)
        return below


@dataclass
class MaxPool:
    """The largest value of each window; its gradient goes to that value's place (the first
    one in the window where several tie)."""

    shape: PoolShape

    def _windows(self, x: np.ndarray) -> list[tuple[slice, slice]]:
        """For each window offset (i, j), row-major, the slices of x it picks in every window."""
        (kh, kw), (sh, sw) = self.shape.kernel, self.shape.stride
        _, ho, wo = self.shape.output(x.shape[1:])
        return [(slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))
                for i in range(kh) for j in range(kw)]

    def forward(self, x: np.ndarray, first_index: int) -> np.ndarray:
        windows = self._windows(x)
        y = x[:, :, windows[0][0], windows[0][1]].copy()
        for rows, cols in windows[1:]:
            np.maximum(y, x[:, :, rows, cols], out=y)
        return y

    def backward(self, x: np.ndarray, y: np.ndarray, d: np.ndarray, first_index: int,
                 step: float, propagate: bool) -> np.ndarray | None:
        if not propagate:
            return None
        below = np.zeros(x.shape, dtype=np.float32)
        unclaimed = np.ones(y.shape, dtype=bool)  # windows whose maximum is not yet placed
        for rows, cols in self._windows(x):
            here = unclaimed & (x[:, :, rows, cols] == y)
            below[:, :, rows, cols] += np.where(here, d, 0)
            unclaimed &= ~here
        return below


class Flatten:
    """An image batch (B, C, H, W) as vectors (B, C H W)."""

    def forward(self, x: np.ndarray, first_index: int) -> np.ndarray:
        return x.reshape(x.shape[0], -1)

    def backward(self, x: np.ndarray, y: np.ndarray, d: np.ndarray, first_index: int,
                 step: float, propagate: bool) -> np.ndarray | None:
        return d.reshape(x.shape) if propagate else None
