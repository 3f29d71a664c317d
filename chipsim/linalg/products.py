"""Matrix products, on the arrays or in digital: the one operation the algorithms hand out.

A `Product` holds a matrix M and computes X @ M for a batch of row vectors X. `ArrayProduct`
programs M onto a chip's crossbars, as the mapper places a one-layer network (tiles of the
crossbar size, partial sums added digitally), reads it `t_seconds` after programming and sends
every vector through the DACs, the noisy arrays and the ADCs. Each vector is scaled by its own
max |x| on the way in and back on the way out (a digital max and two scalings per vector,
counted): a linear-algebra routine knows its vectors' scale, and a residual that shrinks
towards zero keeps the converters' full resolution. `DigitalProduct` is the same product in
float64 numpy. Both count what they did, vectors and multiply-adds, for `chipsim.linalg.cost`.

Every vector an `ArrayProduct` converts is a new MVM with its own noise draws: vectors are
numbered across calls, as the chip's tiles number their inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chipsim.arch import Chip
from chipsim.errors import DataError
from chipsim.functional.analog import AnalogNetwork, AnalogOptions
from chipsim.functional.executor import run_graph
from chipsim.graph import Graph, MatrixLayer, lower
from chipsim.graph.ir import Node
from chipsim.mapping import STRATEGIES, Mapping

#: the DAC rule of the arrays' vectors: each scaled by its own max |x| (see the module docstring)
PER_VECTOR = AnalogOptions(input_range="max_abs")


@dataclass
class Calls:
    """What a product did: one entry per call, the number of vectors it took."""

    name: str
    rows: int  # length of an input vector
    cols: int  # length of an output vector
    batches: list[int] = field(default_factory=list)

    @property
    def vectors(self) -> int:
        return sum(self.batches)

    @property
    def macs(self) -> int:
        """Multiply-adds the same products cost in digital."""
        return self.vectors * self.rows * self.cols


class DigitalProduct:
    """X @ M in float64: the reference, and the all-digital count of every product."""

    def __init__(self, name: str, matrix: np.ndarray) -> None:
        self.matrix = np.asarray(matrix, dtype=np.float64)
        self.calls = Calls(name, *self.matrix.shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _rows(x, self.calls)
        self.calls.batches.append(len(x))
        return x @ self.matrix


def matrix_graph(name: str, matrix: np.ndarray) -> Graph:
    """A one-layer network whose only layer is the dense product x @ M (no bias)."""
    rows, cols = matrix.shape
    graph = Graph(name, f"{name} ({rows} x {cols} matrix)")
    graph.add_input("x", (rows,))
    graph.add_node(Node(name, "dense", ["x"], [name], {"units": cols},
                        {"W": np.asarray(matrix, dtype=np.float32)}))
    graph.set_outputs([name])
    return graph


class ArrayProduct:
    """X @ M with M programmed on `chip` (chip seed `seed`), read `t_seconds` after programming."""

    def __init__(self, name: str, matrix: np.ndarray, chip: Chip, *, seed: int = 0,
                 t_seconds: float = 3600.0, options: AnalogOptions = PER_VECTOR) -> None:
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or not np.all(np.isfinite(matrix)):
            raise DataError(f"{name}: expected a finite 2-D matrix, got shape {matrix.shape}")
        self.scale = float(np.abs(matrix).max()) or 1.0  # programmed as M / scale, |M| <= 1
        self.graph = matrix_graph(name, matrix / self.scale)
        self.layers: list[MatrixLayer] = lower(self.graph)
        self.chip, self.seed, self.options = chip, seed, options
        self.mapping: Mapping = STRATEGIES["sequential"].place(self.layers, chip, graph=name)
        self.net = AnalogNetwork(self.graph, self.layers, self.mapping, chip, seed=seed,
                                 options=options)
        self.net.drift(t_seconds)
        self.calls = Calls(name, *matrix.shape)
        self.first_inputs: np.ndarray | None = None  # kept to price the product (cost.py)

    @property
    def tiles(self) -> int:
        return len(self.mapping.placements)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _rows(x, self.calls)
        if self.first_inputs is None:
            self.first_inputs = x[:64].astype(np.float32)
        first = self.calls.vectors  # vectors are numbered across calls: fresh noise each
        self.calls.batches.append(len(x))
        (y,) = run_graph(self.graph, self.net, {"x": x.astype(np.float32)}, first)
        return y.astype(np.float64) * self.scale


def _rows(x: np.ndarray, calls: Calls) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != calls.rows:
        raise DataError(f"{calls.name}: vectors of shape {x.shape[1:]}, expected ({calls.rows},)")
    return x
