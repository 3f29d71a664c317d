"""Lowering: from the IR to the matrix-vector workloads a crossbar chip runs.

A crossbar computes y = x W for a matrix W of rows = inputs and cols = outputs. Every
weight-bearing op becomes one such matrix and a count of how many MVMs one inference needs:

- dense: W as is (K x N); one MVM per input vector (T for a sequence of T vectors).
- conv2d: im2col. Row `c*kH*kW + i*kW + j` holds input channel c at kernel offset (i, j), so
  rows = C_in x kH x kW, cols = C_out, one MVM per output pixel. A grouped or depthwise conv
  becomes ONE block-diagonal matrix (group g: its own rows and cols, zeros elsewhere): a single
  MVM per pixel then computes every group at once, so latency stays that of one layer, and
  the matrix keeps the same (C_in kH kW) x C_out shape as an ungrouped conv. The price is
  zero cells (a depthwise conv of C channels uses 1/C of its block); `groups` records the
  structure so a mapping strategy may cut along group boundaries or skip the empty blocks.
- lstm: the input and hidden matrices stacked, rows = D + H (inputs x first, then h), cols = 4H
  in ONNX gate order i, o, f, c; one MVM per time step.
- gru: the same stacking, cols = 4H: gates z and r, then the candidate's input and recurrent
  parts in columns of their own (`gru_matrix`); one MVM per time step.

Batch norm and constant bias adds are folded at load time (`chipsim.graph.fold`). The digital
work between matrices (`digital_ops`) is charged to the matrix layer it follows: the latest
matrix layer upstream of it in topological order; work that precedes every matrix layer (an
embedding lookup) is charged to the first matrix layer it feeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chipsim.graph.ir import Graph, Node
from chipsim.graph.ops import MATRIX_OPS, digital_ops

_LAYER_OP = {"dense": "dense", "conv2d": "conv", "lstm": "lstm", "gru": "gru"}


@dataclass(frozen=True, eq=False)
class MatrixLayer:
    """One weight matrix and how often one inference multiplies a vector by it."""

    name: str
    op: str  # "dense" | "conv" | "lstm" | "gru"
    rows: int
    cols: int
    mvms: int
    sources: tuple[str, ...]
    weight: np.ndarray  # float32 (rows, cols)
    bias: np.ndarray | None  # float32 (cols,)
    groups: int = 1  # a conv's groups: block-diagonal weight, group g in rows/cols slice g
    reverse: bool = False  # a recurrent layer that runs its time steps last to first
    digital_ops: dict[str, int] = field(default_factory=dict)

    @property
    def weights(self) -> int:
        """Weights that carry information (the non-structural cells: block-diagonal blocks only)."""
        return self.rows * self.cols // self.groups


def conv_matrix(w: np.ndarray, groups: int = 1) -> np.ndarray:
    """A conv kernel (C_out, C_in/g, kH, kW) as its im2col matrix (C_in kH kW, C_out)."""
    cout, cin_g = w.shape[:2]
    og, kk = cout // groups, cin_g * w.shape[2] * w.shape[3]
    m = np.zeros((kk * groups, cout), dtype=np.float32)
    for g in range(groups):
        m[g * kk:(g + 1) * kk, g * og:(g + 1) * og] = w[g * og:(g + 1) * og].reshape(og, kk).T
    return m


def _matrix(graph: Graph, node: Node) -> tuple[np.ndarray, np.ndarray | None, int]:
    w = node.weights
    x_shape, y_shape = graph.shapes[node.inputs[0]], graph.shapes[node.outputs[0]]
    if node.op == "dense":
        return w["W"], w.get("b"), int(np.prod(x_shape[:-1], dtype=np.int64))
    if node.op == "conv2d":
        return conv_matrix(w["W"], int(node.attrs.get("group", 1))), w.get("b"), \
            int(y_shape[1] * y_shape[2])
    if node.op == "gru":
        return (*gru_matrix(w["W"], w["R"], w.get("B")), int(x_shape[0]))
    h = int(node.attrs["hidden_size"])
    bias = w["B"][:4 * h] + w["B"][4 * h:] if "B" in w else None
    return np.concatenate([w["W"].T, w["R"].T], axis=0), bias, int(x_shape[0])


def gru_matrix(w: np.ndarray, r: np.ndarray, b: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """A GRU's stacked matrix (D + H, 4H) and bias for one MVM per step of [x, h].

    Columns: the update and reset gates (input and recurrent parts summed), then the
    candidate's input part (x rows only) and its recurrent part (h rows only), which the reset
    gate scales before they add (`chipsim.functional.digital.gru_cell`).
    """
    h, d = r.shape[1], w.shape[1]
    m = np.zeros((d + h, 4 * h), dtype=np.float32)
    m[:d, :2 * h], m[d:, :2 * h] = w[:2 * h].T, r[:2 * h].T
    m[:d, 2 * h:3 * h], m[d:, 3 * h:] = w[2 * h:].T, r[2 * h:].T
    if b is None:
        return m, None
    wb, rb = b[:3 * h], b[3 * h:]
    return m, np.concatenate([wb[:2 * h] + rb[:2 * h], wb[2 * h:], rb[2 * h:]])


def _matrix_neighbours(graph: Graph, start: str, forward: bool) -> list[str]:
    """Matrix nodes reached from `start` through digital nodes only (either direction)."""
    found, seen, stack = [], {start}, [start]
    step = graph.nx.successors if forward else graph.nx.predecessors
    while stack:
        for n in step(stack.pop()):
            if n in seen:
                continue
            seen.add(n)
            if graph.node(n).op in MATRIX_OPS:
                found.append(n)
            else:
                stack.append(n)
    return found


def lower(graph: Graph) -> list["MatrixLayer"]:
    """Every weight-bearing op as a `MatrixLayer`, in topological order."""
    order = [n.name for n in graph.nodes]
    rank = {n: i for i, n in enumerate(order)}
    charged: dict[str, dict[str, int]] = {n: {} for n in order if graph.node(n).op in MATRIX_OPS}
    for name in order:
        node = graph.node(name)
        ins = [graph.shapes[t] for t in node.inputs]
        outs = [graph.shapes[t] for t in node.outputs]
        work = digital_ops(node.op, node.attrs, ins, outs)
        if node.op in MATRIX_OPS:
            target = name
        else:
            up = _matrix_neighbours(graph, name, forward=False)
            down = _matrix_neighbours(graph, name, forward=True)
            if up:
                target = max(up, key=rank.get)
            elif down:
                target = min(down, key=rank.get)
            else:
                continue
        for k, v in work.items():
            charged[target][k] = charged[target].get(k, 0) + int(v)
    layers = []
    for name in charged:
        node = graph.node(name)
        weight, bias, mvms = _matrix(graph, node)
        sources = sorted(_matrix_neighbours(graph, name, forward=False), key=rank.get)
        layers.append(MatrixLayer(
            name=name, op=_LAYER_OP[node.op], rows=int(weight.shape[0]), cols=int(weight.shape[1]),
            mvms=mvms, sources=tuple(s for s in sources if s != name),
            weight=np.ascontiguousarray(weight, dtype=np.float32),
            bias=None if bias is None else np.asarray(bias, dtype=np.float32),
            groups=int(node.attrs.get("group", 1)) if node.op == "conv2d" else 1,
            reverse=bool(int(node.attrs.get("reverse", 0))),
            digital_ops=charged[name]))
    return layers
