"""The shape of a trainable network: an input shape and a chain of layers, each feeding the next.

A chain holds only shapes, no weights: `build_network` draws the weights, `shapes.py` reads a
chain from a graph file. Layers: a convolution (`ConvShape`, trained on the arrays by im2col),
a max-pooling window (`PoolShape`), a flatten (`FlattenShape`) and a dense layer
(`DenseShape`); images are (channels, height, width), the batch left out as in the graph IR.
An MLP is the chain of dense layers `Chain.mlp(sizes)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chipsim.errors import DataError

Shape = tuple[int, ...]


def _window_outputs(size: int, kernel: int, stride: int, dilation: int, pad: int) -> int:
    """Output positions along one axis of a sliding window (pad: both ends together)."""
    return (size + pad - (kernel - 1) * dilation - 1) // stride + 1


@dataclass(frozen=True)
class ConvShape:
    """A 2-D convolution: `channels` output channels, a kh x kw kernel; pads (top, left,
    bottom, right) as in the graph IR."""

    channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)

    def output(self, shape: Shape) -> Shape:
        c, h, w = _image(shape, self)
        (kh, kw), (sh, sw), (dh, dw), (t, left, b, r) = (self.kernel, self.stride,
                                                         self.dilation, self.pads)
        out = (self.channels, _window_outputs(h, kh, sh, dh, t + b),
               _window_outputs(w, kw, sw, dw, left + r))
        if min(out) < 1 or min(self.kernel + self.stride + self.dilation) < 1 or \
                min(self.pads) < 0:
            raise DataError(f"{self.describe()}: does not fit an input of shape {shape}")
        return out

    def describe(self) -> str:
        return f"conv{self.kernel[0]}x{self.kernel[1]}x{self.channels}"


@dataclass(frozen=True)
class PoolShape:
    """Max-pooling over kh x kw windows, `stride` apart, without padding."""

    kernel: tuple[int, int]
    stride: tuple[int, int]

    def output(self, shape: Shape) -> Shape:
        c, h, w = _image(shape, self)
        out = (c, _window_outputs(h, self.kernel[0], self.stride[0], 1, 0),
               _window_outputs(w, self.kernel[1], self.stride[1], 1, 0))
        if min(out) < 1 or min(self.kernel + self.stride) < 1:
            raise DataError(f"{self.describe()}: does not fit an input of shape {shape}")
        return out

    def describe(self) -> str:
        return f"maxpool{self.kernel[0]}x{self.kernel[1]}"


@dataclass(frozen=True)
class FlattenShape:
    """An image (c, h, w) as one vector of c h w values, in that order."""

    def output(self, shape: Shape) -> Shape:
        return (math.prod(shape),)

    def describe(self) -> str:
        return "flatten"


@dataclass(frozen=True)
class DenseShape:
    """A dense layer of `units` outputs on a vector."""

    units: int

    def output(self, shape: Shape) -> Shape:
        if len(shape) != 1 or self.units < 1:
            raise DataError(f"dense{self.units}: takes a vector of inputs, got shape {shape} "
                            f"(flatten an image first)")
        return (self.units,)

    def describe(self) -> str:
        return f"dense{self.units}"


LayerShape = ConvShape | PoolShape | FlattenShape | DenseShape


def _image(shape: Shape, layer) -> Shape:
    if len(shape) != 3:
        raise DataError(f"{layer.describe()}: takes an image (channels, height, width), got "
                        f"shape {shape}")
    return shape


@dataclass(frozen=True)
class Chain:
    """An input shape and the layers after it; the last one a dense layer (the logits)."""

    input: Shape
    layers: tuple[LayerShape, ...]

    @classmethod
    def mlp(cls, sizes: list[int] | tuple[int, ...]) -> Chain:
        """The MLP of layer sizes [inputs, hidden..., outputs]."""
        if len(sizes) < 2 or min(sizes) < 1:
            raise DataError(f"layers {list(sizes)}: expected at least two sizes, all >= 1")
        return cls((int(sizes[0]),), tuple(DenseShape(int(n)) for n in sizes[1:]))

    def shapes(self) -> list[Shape]:
        """The input shape of every layer and, last, the output shape (checked on the way)."""
        if not self.layers or not isinstance(self.layers[-1], DenseShape):
            raise DataError(f"{self.describe()}: the last layer must be dense (the logits)")
        shapes = [tuple(self.input)]
        for layer in self.layers:
            shapes.append(layer.output(shapes[-1]))
        return shapes

    def describe(self) -> str:
        """'64,32,10' for an MLP, else the input shape and the layers, e.g.
        '1x28x28 conv3x3x8 maxpool2x2 flatten dense10'."""
        if len(self.input) == 1 and all(isinstance(v, DenseShape) for v in self.layers):
            return ",".join(str(n) for n in (self.input[0], *(v.units for v in self.layers)))
        return " ".join(["x".join(map(str, self.input)), *(v.describe() for v in self.layers)])
