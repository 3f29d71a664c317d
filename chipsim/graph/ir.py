"""chipsim's graph IR: a network as a directed graph of operations on named tensors.

Think of a recipe card: each step (a `Node`) names the bowls it takes from and the bowls it fills
(tensor names), how to do it (`attrs`) and its own ingredients (`weights`). The `Graph` keeps
the steps in a networkx DiGraph (an edge runs from the step that fills a tensor to every step
that uses it) and the shape of every tensor, for one sample: the batch dimension is left out and
an executor puts it in front. Ops and their conventions are listed in `chipsim.graph.ops`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterator

import networkx as nx
import numpy as np

from chipsim.errors import GraphError
from chipsim.graph.ops import MATRIX_OPS, OpError, Shape, infer_shapes


@dataclass(eq=False)
class Node:
    """One operation: `op` reads tensors `inputs`, writes tensors `outputs`."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)


class Graph:
    """A validated network: graph inputs, nodes in a DiGraph, tensor shapes, graph outputs.

    `inputs` maps each graph input to its per-sample shape and `input_dtypes` to "float" or
    "int" (indices for an embedding). `batch_axes` records where the original file put the batch
    dimension of each graph input and output (ONNX LSTMs put it second), so results can be
    compared with the file's own runtime.
    """

    def __init__(self, name: str, source: str = "") -> None:
        self.name = name
        self.source = source
        self.inputs: dict[str, Shape] = {}
        self.input_dtypes: dict[str, str] = {}
        self.outputs: list[str] = []
        self.shapes: dict[str, Shape] = {}
        self.batch_axes: dict[str, int] = {}
        self.nx = nx.DiGraph()
        self._producer: dict[str, str] = {}

    # -- building -------------------------------------------------------------------------
    def add_input(self, name: str, shape: Shape, dtype: str = "float", batch_axis: int = 0) -> None:
        if name in self.shapes:
            raise GraphError(f"{self.source}: tensor {name!r} defined twice")
        self.inputs[name] = tuple(int(d) for d in shape)
        self.input_dtypes[name] = dtype
        self.shapes[name] = self.inputs[name]
        self.batch_axes[name] = batch_axis

    def add_node(self, node: Node, origin: str | None = None) -> Node:
        """Check `node` against the tensors defined so far, record its output shapes, link it.

        `origin` names the node in error messages (an ONNX node's name and op type).
        """
        label = origin or f'node "{node.name}" ({node.op})'
        where = f"{self.source}: {label}"
        if node.name in self.nx:
            raise GraphError(f"{where}: a node of that name already exists")
        for t in node.inputs:
            if t not in self.shapes:
                raise GraphError(f"{where}: input tensor {t!r} is not produced before this node")
        try:
            out_shapes = infer_shapes(node.op, node.attrs, node.weights,
                                      [self.shapes[t] for t in node.inputs])
        except OpError as err:
            raise GraphError(f"{where}: {err}") from None
        if len(out_shapes) != len(node.outputs):
            raise GraphError(f"{where}: produces {len(out_shapes)} tensor(s), "
                             f"{len(node.outputs)} named")
        for t, s in zip(node.outputs, out_shapes):
            if t in self.shapes:
                raise GraphError(f"{where}: tensor {t!r} is written twice")
            self.shapes[t] = s
            self._producer[t] = node.name
        self.nx.add_node(node.name, node=node)
        for t in node.inputs:
            if t in self._producer:
                self.nx.add_edge(self._producer[t], node.name, tensor=t)
        return node

    def set_outputs(self, names: list[str]) -> None:
        if not names:
            raise GraphError(f"{self.source}: the graph has no outputs; chipsim needs at least one")
        for t in names:
            if t not in self.shapes:
                raise GraphError(f"{self.source}: graph output {t!r} is never produced")
        self.outputs = list(names)

    # -- reading --------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        return self.nx.nodes[name]["node"]

    @property
    def nodes(self) -> list[Node]:
        """All nodes in a topological order that is stable (ties broken by insertion order)."""
        order = {n: i for i, n in enumerate(self.nx.nodes)}
        return [self.node(n) for n in nx.lexicographical_topological_sort(self.nx, key=order.get)]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def producer(self, tensor: str) -> Node | None:
        name = self._producer.get(tensor)
        return None if name is None else self.node(name)

    def consumers(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes if tensor in n.inputs]

    def copy(self) -> "Graph":
        return copy.deepcopy(self)

    def rebuild(self, nodes: list[Node]) -> "Graph":
        """A new graph with the same inputs and outputs and these nodes (re-validated)."""
        g = Graph(self.name, self.source)
        for name, shape in self.inputs.items():
            g.add_input(name, shape, self.input_dtypes[name], self.batch_axes[name])
        for node in nodes:
            g.add_node(node)
        g.set_outputs(self.outputs)
        g.batch_axes.update({t: self.batch_axes[t] for t in self.outputs if t in self.batch_axes})
        return g

    def weight_count(self) -> int:
        """Number of weights held in crossbars (matrix ops' `W` and `R`; biases excluded)."""
        return sum(int(n.weights[k].size) for n in self.nodes
                   if n.op in MATRIX_OPS for k in ("W", "R") if k in n.weights)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self)} nodes, inputs={self.inputs})"
