"""An LSTM layer whose weights are one array: Gokmen et al.'s mapping (arXiv 1806.00166).

All four gates of a step come from one matrix read: W is (inputs + hidden + 1) x 4 hidden (rows
= inputs, columns = outputs, as every matrix here), read with [x_t, h_{t-1}, 1], so the biases
are a row of the array, as in the paper. Its columns are the gates i, f, o and the candidate g,
hidden each. The gates and the cell run in digital numpy:

    i, f, o = sigmoid(z_i, z_f, z_o),  g = tanh(z_g),  c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)

Backpropagation through time walks the sequence backwards; each step's gate errors dz_t go down
through the array's transposed read (`matrix.backward`), which gives the error of the step's
input x_t and of h_{t-1} at once. The update (chipsim.training.charlm) is one rank-1 update per
time step, W -= lr [x_t, h_{t-1}, 1] (x) dz_t, after the whole sequence's backward pass (on
tiles: one stochastic pulse train per step): `Trace.inputs` and the dz that `backward` returns.

Step t of a batch of B sequences reads vectors numbered first_index + t stride + b (stride B
by default), forward and backward (their random streams differ), so a run is a pure function of
the seed; an evaluation in chunks of sequences passes the total count as the stride, so that
every vector's number is the same whatever the chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chipsim.training.functions import activate
from chipsim.training.matrices import FloatMatrix, TileMatrix


@dataclass
class Trace:
    """What a forward pass over a sequence keeps for its backward pass, (T, B, ...) each."""

    inputs: np.ndarray  # [x_t, h_{t-1}, 1], the array's read vectors
    gates: np.ndarray  # i, f, o, g after their nonlinearities
    cells: np.ndarray  # c_t; cells[-1] is c_{-1} = 0 (index -1 of t = 0)


class LSTMLayer:
    """One LSTM layer on a FloatMatrix or TileMatrix of (inputs + hidden + 1) x 4 hidden."""

    def __init__(self, matrix: FloatMatrix | TileMatrix, inputs: int, hidden: int):
        self.matrix, self.inputs, self.hidden = matrix, inputs, hidden

    def forward(self, xs: np.ndarray, first_index: int,
                stride: int | None = None) -> tuple[np.ndarray, Trace]:
        """Hidden states hs (T, B, hidden) for inputs xs (T, B, inputs), from h = c = 0."""
        steps, batch, _ = xs.shape
        stride = batch if stride is None else stride
        n = self.hidden
        h = c = np.zeros((batch, n), dtype=np.float32)
        one = np.ones((batch, 1), dtype=np.float32)
        inputs, gates, cells, hs = [], [], [], []
        for t in range(steps):
            v = np.concatenate([xs[t], h, one], axis=1)
            z = self.matrix.forward(v, first_index + t * stride)
            ifo = activate("sigmoid", z[:, :3 * n])
            g = np.tanh(z[:, 3 * n:])
            c = ifo[:, n:2 * n] * c + ifo[:, :n] * g
            h = ifo[:, 2 * n:] * np.tanh(c)
            inputs.append(v)
            gates.append(np.concatenate([ifo, g], axis=1))
            cells.append(c)
            hs.append(h)
        cells.append(np.zeros_like(c))
        return np.stack(hs), Trace(np.stack(inputs), np.stack(gates), np.stack(cells))

    def backward(self, dhs: np.ndarray, trace: Trace, first_index: int,
                 input_errors: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
        """Errors of the inputs (T, B, inputs), None unless `input_errors`, and the gate
        errors dz (T, B, 4 hidden), for dL/dh_t in dhs (T, B, hidden) from the layer above."""
        steps, batch, _ = dhs.shape
        n = self.hidden
        dxs, dz = [None] * steps, [None] * steps
        dh_next = dc_next = np.zeros_like(dhs[0])
        for t in range(steps - 1, -1, -1):
            i, f, o, g = (trace.gates[t][:, k * n:(k + 1) * n] for k in range(4))
            c, c_prev = trace.cells[t], trace.cells[t - 1]
            tanh_c = np.tanh(c)
            dh = dhs[t] + dh_next
            dc = dh * o * (1 - tanh_c ** 2) + dc_next
            dz[t] = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                    dh * tanh_c * o * (1 - o), dc * i * (1 - g ** 2)], axis=1)
            dc_next = dc * f
            if t > 0 or input_errors:  # the first step's h_{-1} = 0 needs no error
                below = self.matrix.backward(dz[t], first_index + t * batch)
                dh_next = below[:, self.inputs:self.inputs + n]
                dxs[t] = below[:, :self.inputs]
        return (np.stack(dxs) if input_errors else None), np.stack(dz)
