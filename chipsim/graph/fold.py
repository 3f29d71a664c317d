"""Folding digital per-channel work into the crossbar weights in front of it.

Batch norm at inference is a fixed affine map per channel, y = s (x - mean) + beta with
s = gamma / sqrt(var + eps). When it directly follows a conv or dense layer whose output nobody
else reads, and its channels are that layer's output columns, it folds into the layer for free:
W' = W s (per output column), b' = s (b - mean) + beta. A constant added to such a layer's output
(PyTorch exports `Linear` on 3-D inputs as MatMul + Add) folds into its bias the same way.
Anything else stays a digital `batchnorm` / `add` node.
"""

from __future__ import annotations

import numpy as np

from chipsim.graph.ir import Graph, Node


def _channels_are_columns(graph: Graph, producer: Node) -> bool:
    """True when the per-channel axis 0 of the output is the layer's column axis."""
    shape = graph.shapes[producer.outputs[0]]
    return producer.op == "conv2d" or (producer.op == "dense" and len(shape) == 1)


def _sole_reader(graph: Graph, tensor: str, readers: dict[str, int]) -> bool:
    return readers.get(tensor, 0) == 1 and tensor not in graph.outputs


def _fold_one(graph: Graph, node: Node, producer: Node) -> Node | None:
    """`producer` with `node` folded into it, or None when the fold is not legal."""
    if producer.op not in ("conv2d", "dense"):
        return None
    w = producer.weights["W"].astype(np.float64)
    cols = w.shape[0] if producer.op == "conv2d" else w.shape[1]
    b = producer.weights.get("b", np.zeros(cols)).astype(np.float64)
    if node.op == "batchnorm":
        if not _channels_are_columns(graph, producer):
            return None
        p = {k: v.astype(np.float64) for k, v in node.weights.items()}
        s = p["scale"] / np.sqrt(p["var"] + float(node.attrs.get("epsilon", 1e-5)))
        w = w * (s[:, None, None, None] if producer.op == "conv2d" else s[None, :])
        b = s * (b - p["mean"]) + p["bias"]
    elif node.op == "add" and "const" in node.weights:
        c = node.weights["const"]
        shape = graph.shapes[producer.outputs[0]]
        per_column = (c.shape[-1:] == (cols,) and c.size == cols) if producer.op == "dense" \
            else (c.size == cols and c.shape[0] == cols if c.ndim == len(shape) else False)
        if not per_column:
            return None
        b = b + c.reshape(cols).astype(np.float64)
    else:
        return None
    weights = dict(producer.weights, W=w.astype(np.float32), b=b.astype(np.float32))
    return Node(producer.name, producer.op, list(producer.inputs), list(node.outputs),
                dict(producer.attrs), weights)


def fold_affine(graph: Graph) -> Graph:
    """Return a graph with batch norms and constant bias adds folded wherever legal."""
    nodes = [Node(n.name, n.op, list(n.inputs), list(n.outputs), dict(n.attrs), dict(n.weights))
             for n in graph.nodes]
    readers: dict[str, int] = {}
    for n in nodes:
        for t in n.inputs:
            readers[t] = readers.get(t, 0) + 1
    by_output = {t: n for n in nodes for t in n.outputs}
    result: list[Node] = []
    for n in nodes:
        src = by_output.get(n.inputs[0]) if len(n.inputs) == 1 else None
        if src is not None and any(r is src for r in result) \
                and _sole_reader(graph, n.inputs[0], readers):
            folded = _fold_one(graph, n, src)
            if folded is not None:
                result[next(i for i, r in enumerate(result) if r is src)] = folded
                for t in folded.outputs:
                    by_output[t] = folded
                continue
        result.append(n)
    return graph.rebuild(result)
