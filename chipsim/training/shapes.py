"""The layer shapes of a network read from its graph file (ONNX or native).

`chipsim train` trains from scratch, so it takes only the shapes of a graph: a chain of
convolutions, max-pooling, flatten and dense layers, each one's output the next one's input.
Activation nodes (relu, sigmoid) and a final softmax are accepted and not read: the hidden
layers' activation is the run's own (`--activation`), the softmax is the loss's. Anything else
(LSTMs, residual adds, average pooling, grouped convolutions) is refused, naming the node.
"""

from __future__ import annotations

from pathlib import Path

from chipsim.errors import GraphError
from chipsim.training.chain import Chain, ConvShape, DenseShape, FlattenShape, PoolShape

_PASSED = ("relu", "sigmoid")  # activations: the run's own --activation takes their place
_SUPPORTED = "conv2d, maxpool, flatten (reshape to a vector) and dense layers"


def network_chain(path: str | Path) -> Chain:
    """The chain of layer shapes of the graph file at `path`."""
    from chipsim.graph import load_graph

    graph = load_graph(path)
    if len(graph.inputs) != 1:
        raise GraphError(f"{path}: {len(graph.inputs)} graph inputs; chipsim train trains a "
                         f"chain of layers on one input")
    (tensor, shape), = graph.inputs.items()
    layers = []
    nodes = list(graph.nodes)
    for k, node in enumerate(nodes):
        if list(node.inputs) != [tensor]:
            raise GraphError(f"{path}: node {node.name} ({node.op}) does not take the output of "
                             f"the node before it: chipsim train trains a chain of layers")
        tensor = node.outputs[0]
        if node.op == "softmax" and k == len(nodes) - 1 or node.op in _PASSED:
            continue
        layers.append(_layer(path, node, graph.shapes[node.inputs[0]],
                             graph.shapes[node.outputs[0]]))
    if not layers or not isinstance(layers[-1], DenseShape):
        raise GraphError(f"{path}: the last layer must be dense (the logits)")
    return Chain(tuple(shape), tuple(layers))


def _layer(path, node, shape_in: tuple, shape_out: tuple):
    """The layer shape of one node, or a GraphError naming it."""
    a = node.attrs
    if node.op == "conv2d" and int(a.get("group", 1)) == 1:
        return ConvShape(channels=int(shape_out[0]), kernel=tuple(node.weights["W"].shape[2:]),
                         stride=tuple(a.get("strides", (1, 1))),
                         pads=tuple(a.get("pads", (0, 0, 0, 0))),
                         dilation=tuple(a.get("dilations", (1, 1))))
    plain = not any(a.get("pads", (0,))) and not a.get("ceil_mode", 0) and \
        tuple(a.get("dilations", (1, 1))) == (1, 1)
    if node.op == "maxpool" and plain:
        kernel = tuple(a["kernel_shape"])
        return PoolShape(kernel=kernel, stride=tuple(a.get("strides", (1, 1))))
    if node.op == "reshape" and len(shape_out) == 1:
        return FlattenShape()
    if node.op == "dense" and len(shape_in) == 1:
        return DenseShape(int(shape_out[0]))
    what = {"conv2d": "grouped conv2d", "maxpool": "maxpool with pads, ceil_mode or dilations",
            "dense": f"dense on a {len(shape_in)}-D input"}.get(node.op, node.op)
    raise GraphError(f"{path}: node {node.name} ({what}): chipsim train trains {_SUPPORTED} "
                     f"only")

