"""A network of layers (`chipsim.training.layers`): convolutions, max-pooling, flatten and dense
layers, whose weight matrices are `FloatMatrix` or `TileMatrix`; an MLP is a chain of dense ones.

One SGD step for a mini-batch: forward through every layer (a weight layer: matrix product,
digital bias, activation; the last layer's logits into softmax cross-entropy), then backward
layer by layer (a matrix's transposed read carries the error down; below the first weight layer
none is needed), each weight layer updating its matrix with its inputs and errors and
lr / batch (the mean gradient). Biases are digital numbers updated by plain SGD.

Every sample has a number (samples seen so far), the input number of its tile reads: with the
tiles' counter-based draws a run is a pure function of the seed, whatever the thread count.
"""

from __future__ import annotations

import numpy as np

from chipsim.errors import DataError
from chipsim.training.chain import Chain, DenseShape, FlattenShape, PoolShape
from chipsim.training.conv import Conv
from chipsim.training.functions import ACTIVATIONS, softmax_cross_entropy
from chipsim.training.layers import Dense, Flatten, Layer, MaxPool
from chipsim.training.matrices import FloatMatrix, TileMatrix

_EVAL_BASE = 1 << 40  # input numbers of evaluation reads: apart from every training sample's


class Network:
    def __init__(self, layers: list[Layer]):
        self.layers = layers
        self.samples = 0  # training samples seen: the next sample's input number
        weighted = [k for k, layer in enumerate(layers) if hasattr(layer, "matrix")]
        # layer k passes an error down only where a weight layer below needs it
        self._propagate = [bool(weighted) and k > weighted[0] for k in range(len(layers))]

    def _forward(self, x: np.ndarray, first_index: int) -> list[np.ndarray]:
        """Inputs of every layer and, last, the logits."""
        values = [x]
        for layer in self.layers:
            values.append(layer.forward(values[-1], first_index))
        return values

    def train_step(self, x: np.ndarray, labels: np.ndarray, lr: float) -> float:
        """One SGD step on a mini-batch; returns its summed loss."""
        first = self.samples
        self.samples += len(x)
        values = self._forward(x, first)
        losses, d = softmax_cross_entropy(values[-1], labels)
        step = lr / len(x)
        for k in range(len(self.layers) - 1, -1, -1):
            d = self.layers[k].backward(values[k], values[k + 1], d, first, step,
                                        self._propagate[k])
            if d is None:
                break
        return float(losses.sum())

    def evaluate(self, x: np.ndarray, labels: np.ndarray, tag: int = 0,
                 batch: int = 1000) -> tuple[float, float]:
        """Accuracy and mean loss over a data set (reads numbered apart per `tag`)."""
        correct, loss = 0, 0.0
        for k0 in range(0, len(x), batch):
            logits = self._forward(x[k0:k0 + batch], _EVAL_BASE + tag * (1 << 24) + k0)[-1]
            losses, _ = softmax_cross_entropy(logits, labels[k0:k0 + batch])
            correct += int((logits.argmax(axis=1) == labels[k0:k0 + batch]).sum())
            loss += float(losses.sum())
        return correct / len(x), loss / len(x)

    def tile_matrices(self) -> list[TileMatrix]:
        return [layer.matrix for layer in self.layers
                if isinstance(getattr(layer, "matrix", None), TileMatrix)]


def build_network(layers: list[int] | Chain, activation: str, seed: int,
                  tile_config=None) -> Network:
    """The network of a chain of layer shapes, or the MLP of layer sizes [inputs, hidden...,
    outputs]; every weight layer but the last has `activation`. Weights uniform in
    +-sqrt(6 / (fan in + fan out)) (Glorot, suited to sigmoids; a convolution's fans are
    kh kw C_in and kh kw C_out) and zero biases, drawn layer by layer from a numpy Generator of
    `seed`; on tiles of `tile_config` (a training TileConfig), or float numpy matrices when it
    is None."""
    chain = layers if isinstance(layers, Chain) else Chain.mlp(list(layers))
    if activation not in ACTIVATIONS:
        raise DataError(f"activation {activation!r}: expected one of {', '.join(ACTIVATIONS)}")
    shapes = chain.shapes()
    rs = np.random.default_rng(seed)
    built: list[Layer] = []
    tile_id = 0
    for k, (shape, below) in enumerate(zip(chain.layers, shapes)):
        if isinstance(shape, PoolShape):
            built.append(MaxPool(shape))
            continue
        if isinstance(shape, FlattenShape):
            built.append(Flatten())
            continue
        if isinstance(shape, DenseShape):
            n_in, n_out, fans = below[0], shape.units, below[0] + shape.units
        else:
            area = shape.kernel[0] * shape.kernel[1]
            n_in, n_out, fans = below[0] * area, shape.channels, (below[0] + shape.channels) * area
        bound = np.sqrt(6.0 / fans)
        w = rs.uniform(-bound, bound, (n_in, n_out)).astype(np.float32)
        if tile_config is None:
            matrix = FloatMatrix(w)
        else:
            matrix = TileMatrix(tile_config, w, tile_id, seed)
            tile_id += matrix.tile_count
        act = None if k == len(chain.layers) - 1 else activation
        bias = np.zeros(n_out, np.float32)
        built.append(Dense(matrix, bias, act) if isinstance(shape, DenseShape) else
                     Conv(matrix, bias, act, shape))
    return Network(built)
