"""Running a network's IR on batches of numpy arrays, with the matrix products left open.

The walk over the graph is the same for the float reference and for the analog chip: digital
ops come from `chipsim.functional.digital`, convolutions become im2col MVMs, an LSTM runs one
stacked [x, h] MVM per time step. Only the matrix products differ, so they are delegated to a
*backend* with one method, `layer_forward(name, x_rows, mvm_indices)`: the float backend
multiplies by the layer's matrix, the analog backend sends the rows through the tiles that a
Mapping assigns. `mvm_indices` are the global MVM numbers of docs/contracts.md (MVM `p` of
inference `n` is `n * mvms + p`), which pick the replica and address the random draws.
"""

from __future__ import annotations

import sys
from typing import Iterator, Protocol, Sequence

import numpy as np

from chipsim.errors import DataError
from chipsim.functional.digital import gru_cell, lstm_cell, run_digital
from chipsim.functional.im2col import col2im, im2col
from chipsim.graph.ir import Graph, Node

F32 = np.float32


class MatrixBackend(Protocol):
    """Whatever computes a layer's MVMs: rows (k, rows) -> outputs (k, cols), bias included."""

    def layer_forward(self, name: str, x_rows: np.ndarray, mvm_indices: np.ndarray) -> np.ndarray:
        ...


class FloatBackend:
    """The float reference: y = x W + b, one GEMM per call, in float32 outputs.

    The products are accumulated in float64 and rounded to float32: a float32 GEMM's rounding
    depends on its shape (OpenBLAS picks its kernels by the number of rows), so the reference,
    and every logit error against it, changed with the batch size; a float64 GEMM's differences
    vanish in the rounding but for rare near-ties (tests/test_determinism.py).
    """

    def __init__(self, layers: Sequence) -> None:
        self.weights = {l.name: np.ascontiguousarray(l.weight, dtype=np.float64) for l in layers}
        self.biases = {l.name: None if l.bias is None else np.asarray(l.bias, dtype=F32)
                       for l in layers}

    def layer_forward(self, name: str, x_rows: np.ndarray, mvm_indices: np.ndarray) -> np.ndarray:
        y = (np.asarray(x_rows, dtype=np.float64) @ self.weights[name]).astype(F32)
        bias = self.biases[name]
        return y if bias is None else y + bias


def mvm_numbers(first_input: int, batch: int, mvms: int) -> np.ndarray:
    """Global MVM numbers (batch * mvms,) of `batch` inferences from `first_input`, row-major."""
    n = np.arange(first_input, first_input + batch, dtype=np.int64)
    return (n[:, None] * mvms + np.arange(mvms, dtype=np.int64)[None, :]).reshape(-1)


def _conv(node: Node, x: np.ndarray, backend: MatrixBackend, first: int) -> np.ndarray:
    w = node.weights["W"]
    kernel = (int(w.shape[2]), int(w.shape[3]))
    # A grouped conv is lowered to one block-diagonal matrix over all input channels, so the
    # patches of every channel form one MVM (chipsim.graph.lower).
    rows, oh, ow = im2col(x, node.attrs, kernel)
    y = backend.layer_forward(node.name, rows, mvm_numbers(first, x.shape[0], oh * ow))
    return col2im(y, x.shape[0], oh, ow)


def _dense(node: Node, x: np.ndarray, backend: MatrixBackend, first: int) -> np.ndarray:
    batch, lead, k = x.shape[0], x.shape[1:-1], x.shape[-1]
    mvms = int(np.prod(lead)) if lead else 1
    y = backend.layer_forward(node.name, x.reshape(-1, k), mvm_numbers(first, batch, mvms))
    return y.reshape((batch,) + lead + (y.shape[-1],))


def _steps(node: Node, steps: int) -> list[int]:
    """The time steps in the order a recurrent layer runs them (backwards for `reverse`)."""
    order = list(range(steps))
    return order[::-1] if int(node.attrs.get("reverse", 0)) else order


def _lstm(node: Node, x: np.ndarray, backend: MatrixBackend, first: int) -> list[np.ndarray]:
    batch, steps, _ = x.shape
    hidden = int(node.attrs["hidden_size"])
    h = np.zeros((batch, hidden), F32)
    c = np.zeros((batch, hidden), F32)
    inference = np.arange(first, first + batch, dtype=np.int64) * steps
    ys = np.empty((batch, steps, hidden), F32)
    for k, t in enumerate(_steps(node, steps)):
        z = backend.layer_forward(node.name, np.concatenate([x[:, t], h], axis=1), inference + k)
        h, c = lstm_cell(z, c)
        ys[:, t] = h
    outs = [ys]
    if int(node.attrs.get("state_outputs", 0)):
        outs += [h, c]
    return outs


def _gru(node: Node, x: np.ndarray, backend: MatrixBackend, first: int) -> list[np.ndarray]:
    batch, steps, _ = x.shape
    hidden = int(node.attrs["hidden_size"])
    h = np.zeros((batch, hidden), F32)
    inference = np.arange(first, first + batch, dtype=np.int64) * steps
    ys = np.empty((batch, steps, hidden), F32)
    for k, t in enumerate(_steps(node, steps)):
        z = backend.layer_forward(node.name, np.concatenate([x[:, t], h], axis=1), inference + k)
        h = gru_cell(z, h)
        ys[:, t] = h
    return [ys] + ([h] if int(node.attrs.get("state_outputs", 0)) else [])


def run_graph(graph: Graph, backend: MatrixBackend, inputs: dict[str, np.ndarray],
              first_input: int = 0) -> list[np.ndarray]:
    """Outputs of `graph` for one batch; input `k` of the batch is inference `first_input + k`."""
    values: dict[str, np.ndarray] = dict(inputs)
    for node in graph.nodes:
        xs = [values[t] for t in node.inputs]
        if node.op == "conv2d":
            outs = [_conv(node, xs[0], backend, first_input)]
        elif node.op == "dense":
            outs = [_dense(node, xs[0], backend, first_input)]
        elif node.op == "lstm":
            outs = _lstm(node, xs[0], backend, first_input)
        elif node.op == "gru":
            outs = _gru(node, xs[0], backend, first_input)
        else:
            outs = [run_digital(node, xs)]
        values.update(zip(node.outputs, outs))
    return [values[t] for t in graph.outputs]


def check_inputs(graph: Graph, x: np.ndarray, name: str = "data") -> np.ndarray:
    """`x` shaped for the graph's single input (batch first), or a DataError that says why."""
    input_name, shape = _single_input(graph)
    x = np.asarray(x)
    if x.ndim < 1 or int(np.prod(x.shape[1:])) != int(np.prod(shape)):
        raise DataError(f"{name}: samples of shape {tuple(x.shape[1:])} do not fit the model "
                        f"input {input_name!r} of shape {tuple(shape)}")
    if graph.input_dtypes.get(input_name) == "int":
        return x.reshape((x.shape[0],) + tuple(shape))
    x = x.astype(F32, copy=False).reshape((x.shape[0],) + tuple(shape))
    if not np.all(np.isfinite(x)):
        raise DataError(f"{name}: input contains NaN or infinity")
    return x


def _single_input(graph: Graph) -> tuple[str, tuple]:
    """The name and shape of the graph's only input, or a DataError."""
    if len(graph.inputs) != 1:
        raise DataError(f"{graph.source or graph.name}: the model has {len(graph.inputs)} inputs "
                        f"({', '.join(graph.inputs)}); only single-input models take a data set")
    (input_name, shape), = graph.inputs.items()
    return input_name, shape


def batches(count: int, batch: int, progress: bool = False, desc: str = "") -> Iterator[slice]:
    """Slices of `batch` inputs covering 0..count, with a tqdm bar on stderr if `progress`."""
    if batch < 1:
        raise DataError(f"batch size must be at least 1, got {batch}")
    starts = range(0, count, batch)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc=desc, unit="batch", file=sys.stderr, leave=False)
    for start in starts:
        yield slice(start, min(start + batch, count))


def run_network(graph: Graph, backend: MatrixBackend, x: np.ndarray, batch: int = 256,
                progress: bool = False, desc: str = "") -> np.ndarray:
    """The graph's first output for every sample of x, computed batch by batch."""
    x = check_inputs(graph, x)
    (input_name,) = graph.inputs
    outs = []
    for part in batches(x.shape[0], batch, progress, desc):
        outs.append(run_graph(graph, backend, {input_name: x[part]}, part.start)[0])
    return np.concatenate(outs, axis=0) if outs else np.empty((0,), F32)


def synthetic_inputs(graph, count: int, seed: int) -> np.ndarray:
    """Deterministic inputs from the seed: uniform [0, 1) values, or tokens of the embedding."""
    name, shape = _single_input(graph)  # a graph of two inputs escaped as an unpacking ValueError
    rng = np.random.default_rng([seed, 0x5EED])
    if graph.input_dtypes.get(name) == "int":
        vocab = min((n.weights["table"].shape[0] for n in graph.nodes if n.op == "embedding"),
                    default=2)
        return rng.integers(0, vocab, size=(count,) + tuple(shape), dtype=np.int64)
    return rng.random((count,) + tuple(shape), dtype=np.float32)
