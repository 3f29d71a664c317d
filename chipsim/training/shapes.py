"""The layer sizes of a dense network read from its graph file (ONNX or native).

`chipsim train` trains from scratch, so it takes only the shapes of a graph: a chain of dense
layers, each one's outputs the next one's inputs. Convolutions and LSTMs are not trained yet.
"""

from __future__ import annotations

from pathlib import Path

from chipsim.errors import GraphError


def layer_sizes(path: str | Path) -> list[int]:
    """[inputs, outputs of layer 1, ..., outputs of the last layer] of a dense chain."""
    from chipsim.graph import load_graph, lower

    layers = lower(load_graph(path))
    for layer in layers:
        if layer.op != "dense":
            raise GraphError(f"{path}: node {layer.name} is a {layer.op} layer; chipsim train "
                             f"trains dense layers only")
    for below, above in zip(layers, layers[1:]):
        if below.cols != above.rows:
            raise GraphError(f"{path}: node {above.name} takes {above.rows} inputs but "
                             f"{below.name} gives {below.cols}: not a chain of dense layers")
    if not layers:
        raise GraphError(f"{path}: no dense layers")
    return [layers[0].rows] + [layer.cols for layer in layers]
