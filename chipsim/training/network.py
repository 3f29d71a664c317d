"""A multilayer perceptron whose weight matrices are `FloatMatrix` or `TileMatrix`.

One SGD step for a mini-batch: forward through every layer (matrix product, digital bias,
activation; the last layer's logits into softmax cross-entropy), then backward layer by layer
(the matrix's transposed read carries the error down; the first layer needs none), then every
matrix's update with the layer's inputs and errors and lr / batch (the mean gradient). Biases
are digital numbers updated by plain SGD.

Every sample has a number (samples seen so far), the input number of its tile reads: with the
tiles' counter-based draws a run is a pure function of the seed, whatever the thread count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chipsim.errors import DataError
from chipsim.training.functions import ACTIVATIONS, activate, activation_grad, \
    softmax_cross_entropy
from chipsim.training.matrices import FloatMatrix, TileMatrix

_EVAL_BASE = 1 << 40  # input numbers of evaluation reads: apart from every training sample's


@dataclass
class Dense:
    """One layer: y = activation(x @ W + b); the last layer's activation is the softmax."""

    matrix: FloatMatrix | TileMatrix
    bias: np.ndarray
    activation: str | None  # None: logits (the output layer)


class Network:
    def __init__(self, layers: list[Dense]):
        self.layers = layers
        self.samples = 0  # training samples seen: the next sample's input number

    def _forward(self, x: np.ndarray, first_index: int) -> list[np.ndarray]:
        """Inputs of every layer and, last, the logits."""
        values = [x]
        for layer in self.layers:
            z = layer.matrix.forward(values[-1], first_index) + layer.bias
            values.append(z if layer.activation is None else activate(layer.activation, z))
        return values

    def train_step(self, x: np.ndarray, labels: np.ndarray, lr: float) -> float:
        """One SGD step on a mini-batch; returns its summed loss."""
        first = self.samples
        self.samples += len(x)
        values = self._forward(x, first)
        losses, d = softmax_cross_entropy(values[-1], labels)
        step = lr / len(x)
        for k in range(len(self.layers) - 1, -1, -1):
            layer, inputs = self.layers[k], values[k]
            d = d.astype(np.float32)
            below = layer.matrix.backward(d, first) if k > 0 else None
            layer.matrix.update(inputs, d, step)
            layer.bias -= np.float32(step) * d.sum(axis=0)
            if below is not None:
                d = below * activation_grad(self.layers[k - 1].activation, inputs)
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
        return [layer.matrix for layer in self.layers if isinstance(layer.matrix, TileMatrix)]


def build_network(sizes: list[int], activation: str, seed: int, tile_config=None) -> Network:
    """An MLP of layer sizes [inputs, hidden..., outputs], weights uniform in
    +-sqrt(6 / (fan in + fan out)) (Glorot, suited to sigmoids) and zero biases, drawn from a
    numpy Generator of `seed`; on tiles of `tile_config` (a training TileConfig), or float
    numpy matrices when it is None."""
    if len(sizes) < 2 or min(sizes) < 1:
        raise DataError(f"layers {sizes}: expected at least two sizes, all >= 1")
    if activation not in ACTIVATIONS:
        raise DataError(f"activation {activation!r}: expected one of {', '.join(ACTIVATIONS)}")
    rs = np.random.default_rng(seed)
    layers, tile_id = [], 0
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = np.sqrt(6.0 / (n_in + n_out))
        w = rs.uniform(-bound, bound, (n_in, n_out)).astype(np.float32)
        if tile_config is None:
            matrix = FloatMatrix(w)
        else:
            matrix = TileMatrix(tile_config, w, tile_id, seed)
            tile_id += matrix.tile_count
        last = k == len(sizes) - 2
        layers.append(Dense(matrix, np.zeros(n_out, np.float32), None if last else activation))
    return Network(layers)
