"""Networks as chipsim sees them: a graph IR, importers for ONNX and a native format, lowering.

`load_graph(path)` reads an ONNX file or a native YAML/JSON file into a `Graph` (batch norms and
bias adds already folded into the weights in front of them where legal); `lower(graph)` turns
it into the list of `MatrixLayer`s (weight matrix, MVMs per inference, digital work) that the
mapping and the chip models consume.
"""

from __future__ import annotations

from pathlib import Path

from chipsim.errors import GraphError
from chipsim.graph.fold import fold_affine
from chipsim.graph.ir import Graph, Node
from chipsim.graph.lower import MatrixLayer, conv_matrix, lower
from chipsim.graph.native import load_native, save_native
from chipsim.graph.onnx_import import SUPPORTED_ONNX_OPS, load_onnx
from chipsim.graph.ops import OPS

SUFFIXES = (".onnx", ".yaml", ".yml", ".json")


def load_graph(path: str | Path, fold: bool = True) -> Graph:
    """Read a graph file, dispatching on its suffix; `fold=False` keeps batch norms as nodes."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        graph = load_onnx(path)
    elif suffix in SUFFIXES:
        graph = load_native(path)
    else:
        raise GraphError(f"{path}: unknown graph file type {path.suffix!r}; "
                         f"supported: {', '.join(SUFFIXES)}")
    return fold_affine(graph) if fold else graph


__all__ = ["Graph", "Node", "MatrixLayer", "load_graph", "lower", "fold_affine", "conv_matrix",
           "load_onnx", "load_native", "save_native", "OPS", "SUPPORTED_ONNX_OPS"]
