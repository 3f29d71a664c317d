"""chipsim's own graph format: a network written by hand (or by a script) in YAML or JSON.

Layers are listed in order, like a recipe: each names its op, its shape attributes and (by
default) reads the previous layer's output. Weights come inline as lists, from an .npz file next
to the graph file, or from `init: {kind: normal, seed: 0}` (He-scaled Gaussian, reproducible
from the seed and the layer name). `save_native` writes any IR graph back in this format (weights
in one .npz beside it), so a graph survives a round trip. docs/graph-format.md has the reference.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from chipsim.errors import GraphError
from chipsim.graph.ir import Graph, Node
from chipsim.graph.ops import OPS, RECURRENT_OPS

# Attributes each op accepts in a native file (the IR's own attribute names).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "conv2d": ("out_channels", "kernel_shape", "strides", "pads", "dilations", "group"),
    "dense": ("units",),
    "lstm": ("hidden_size", "state_outputs", "reverse"),
    "gru": ("hidden_size", "state_outputs", "reverse"),
    "layernorm": ("axes", "epsilon"),
    "reduce_mean": ("axes", "keepdims"),
    "reduce_sum": ("axes", "keepdims"),
    "reduce_max": ("axes", "keepdims"),
    "sub": ("const_first",),
    "div": ("const_first",),
    "pow": ("const_first",),
    "batchnorm": ("epsilon",),
    "leaky_relu": ("alpha",),
    "clip": ("min", "max"),
    "gelu": ("approximate",),
    "softmax": ("axis",),
    "concat": ("axis",),
    "maxpool": ("kernel_shape", "strides", "pads", "dilations", "ceil_mode"),
    "avgpool": ("kernel_shape", "strides", "pads", "ceil_mode", "count_include_pad"),
    "reshape": ("shape",),
    "transpose": ("perm",),
    "take": ("axis", "indices"),
    "embedding": ("vocab", "dim"),
}
_LAYER_KEYS = ("name", "op", "input", "inputs", "outputs", "weights", "bias")
_INIT_KINDS = ("normal", "zeros")


class _Layer:
    """Reads one layer entry, turning every mistake into a GraphError naming it."""

    def __init__(self, file: str, index: int, entry: Any) -> None:
        if not isinstance(entry, dict):
            raise GraphError(f"{file}: layers[{index}]: expected a mapping, got {entry!r}")
        self.file, self.entry = file, entry
        self.name = str(entry.get("name", f"layer{index}"))
        self.op = entry.get("op")
        self.where = f'{file}: layer "{self.name}" ({self.op})'
        if self.op not in OPS:
            raise GraphError(f"{self.where}: unsupported op; supported: {', '.join(sorted(OPS))}")
        allowed = _LAYER_KEYS + ATTRIBUTES.get(self.op, ())
        for key in entry:
            if key not in allowed:
                raise GraphError(f"{self.where}: unknown field {key!r}; allowed: {', '.join(allowed)}")

    def fail(self, msg: str) -> None:
        raise GraphError(f"{self.where}: {msg}")

    def attr(self, key: str) -> Any:
        if key not in self.entry:
            self.fail(f"missing field {key!r}")
        return self.entry[key]


def _expected_weights(layer: _Layer, x: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Weight shapes a layer needs, from its attributes and input shape."""
    op, bias = layer.op, bool(layer.entry.get("bias", True))
    if op == "conv2d":
        k = layer.attr("kernel_shape")
        c = int(layer.attr("out_channels"))
        g = int(layer.entry.get("group", 1))
        if not x or g < 1 or x[0] % g:
            layer.fail(f"group {g} does not divide the {x[0] if x else 0} input channels")
        w = {"W": (c, x[0] // g, int(k[0]), int(k[1]))}
        return w | ({"b": (c,)} if bias else {})
    if op == "dense":
        n = int(layer.attr("units"))
        return {"W": (x[-1], n)} | ({"b": (n,)} if bias else {})
    if op == "lstm":
        h = int(layer.attr("hidden_size"))
        return {"W": (4 * h, x[-1]), "R": (4 * h, h)} | ({"B": (8 * h,)} if bias else {})
    if op == "gru":
        h = int(layer.attr("hidden_size"))
        return {"W": (3 * h, x[-1]), "R": (3 * h, h)} | ({"B": (6 * h,)} if bias else {})
    if op == "layernorm":
        norm = tuple(x[-int(layer.entry.get("axes", 1)):])
        return {"scale": norm} | ({"bias": norm} if bias else {})
    if op == "batchnorm":
        return {k: (x[0],) for k in ("scale", "bias", "mean", "var")}
    if op == "embedding":
        return {"table": (int(layer.attr("vocab")), int(layer.attr("dim")))}
    return {}


def _init(layer: _Layer, spec: Any, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    if not isinstance(spec, dict) or spec.get("kind", "normal") not in _INIT_KINDS:
        layer.fail(f"init must be a mapping with kind one of {', '.join(_INIT_KINDS)}, got {spec!r}")
    out = {}
    for key, shape in shapes.items():
        if spec.get("kind", "normal") == "zeros" or key in ("b", "B", "bias", "mean"):
            out[key] = np.zeros(shape, np.float32)
        elif key in ("scale", "var"):
            out[key] = np.ones(shape, np.float32)
        else:
            fan_in = shape[1] if key in ("W", "R") and layer.op in RECURRENT_OPS else (
                math.prod(shape[1:]) if layer.op == "conv2d" else shape[0])
            std = float(spec.get("std", math.sqrt(2.0 / max(fan_in, 1))))
            rng = np.random.default_rng([int(spec.get("seed", 0)), zlib.crc32(layer.name.encode()),
                                         zlib.crc32(key.encode())])
            out[key] = (rng.standard_normal(shape) * std).astype(np.float32)
    return out


def _weights(layer: _Layer, folder: Path, x: tuple[int, ...]) -> dict[str, np.ndarray]:
    shapes = _expected_weights(layer, x)
    spec = layer.entry.get("weights")
    if spec is None:
        if shapes:
            layer.fail("needs weights: inline lists, an .npz path, or {init: {kind: normal, seed: 0}}")
        return {}
    if isinstance(spec, dict) and "init" in spec:
        return _init(layer, spec["init"], shapes)
    if isinstance(spec, str):
        path = folder / spec
        try:
            with np.load(path) as npz:
                found = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as err:
            layer.fail(f"cannot read weights file {spec!r}: {err}")
        prefix = f"{layer.name}."
        mine = {k[len(prefix):]: v for k, v in found.items() if k.startswith(prefix)}
        raw = mine or found
    elif isinstance(spec, dict):
        raw = spec
    else:
        layer.fail(f"weights must be a mapping or an .npz file name, got {spec!r}")
    weights = {}
    for key, value in raw.items():
        try:
            weights[key] = np.asarray(value, dtype=np.float32)
        except (ValueError, TypeError):
            layer.fail(f"weight {key!r} is not a numeric array")
        if key in shapes and weights[key].shape != shapes[key]:
            layer.fail(f"weight {key!r} has shape {weights[key].shape}, expected {shapes[key]}")
    missing = [k for k in shapes if k not in weights]
    if missing:
        layer.fail(f"missing weights {missing}")
    return weights


def _read(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise GraphError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise GraphError(f"{path}: cannot read: {err}") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        first = str(err).splitlines()[0]
        raise GraphError(f"{path.name}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                         f"{first}") from None


def load_native(path: str | Path) -> Graph:
    """Read a native YAML/JSON graph file."""
    path = Path(path)
    doc, file = _read(path), path.name
    if not isinstance(doc, dict):
        raise GraphError(f"{file}: expected a mapping with inputs and layers at the top")
    for key in doc:
        if key not in ("name", "inputs", "layers", "outputs"):
            raise GraphError(f"{file}: unknown top-level field {key!r}; allowed: name, inputs, "
                             "layers, outputs")
    graph = Graph(str(doc.get("name", path.stem)), file)
    inputs = doc.get("inputs")
    if not isinstance(inputs, dict) or not inputs:
        raise GraphError(f"{file}: inputs: expected a mapping of name -> per-sample shape")
    for name, spec in inputs.items():
        shape, dtype = (spec.get("shape"), spec.get("dtype", "float")) if isinstance(spec, dict) \
            else (spec, "float")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d > 0 for d in shape) \
                or dtype not in ("float", "int"):
            raise GraphError(f"{file}: inputs.{name}: expected a list of positive sizes (batch "
                             f"excluded) and dtype float or int, got {spec!r}")
        graph.add_input(str(name), tuple(shape), dtype)
    layers = doc.get("layers")
    if not isinstance(layers, list) or not layers:
        raise GraphError(f"{file}: layers: expected a non-empty list")
    previous = next(iter(graph.inputs))
    for i, entry in enumerate(layers):
        layer = _Layer(file, i, entry)
        ins = entry.get("inputs", [entry["input"]] if "input" in entry else [previous])
        if not isinstance(ins, list) or not all(isinstance(t, str) for t in ins):
            layer.fail(f"inputs must be a list of tensor names, got {ins!r}")
        for t in ins:
            if t not in graph.shapes:
                layer.fail(f"input {t!r} is not a graph input or an earlier layer's output")
        attrs = {k: entry[k] for k in ATTRIBUTES.get(layer.op, ()) if k in entry}
        weights = _weights(layer, path.parent, graph.shapes[ins[0]])
        if layer.op == "lstm" and int(attrs.get("state_outputs", 0)):
            default_outs = [layer.name, f"{layer.name}.h", f"{layer.name}.c"]
        elif layer.op == "gru" and int(attrs.get("state_outputs", 0)):
            default_outs = [layer.name, f"{layer.name}.h"]
        else:
            default_outs = [layer.name]
        outs = entry.get("outputs", default_outs)
        graph.add_node(Node(layer.name, layer.op, list(ins), [str(o) for o in outs], attrs, weights),
                       origin=f'layer "{layer.name}" ({layer.op})')
        previous = outs[0]
    outputs = doc.get("outputs", [previous])
    if not isinstance(outputs, list) or not all(isinstance(t, str) for t in outputs):
        raise GraphError(f"{file}: outputs: expected a list of tensor names, got {outputs!r}")
    graph.set_outputs(outputs)
    return graph


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def save_native(graph: Graph, path: str | Path) -> None:
    """Write `graph` as a native file (YAML, or JSON by suffix) plus `<stem>.npz` for weights."""
    path = Path(path)
    npz_name = f"{path.stem}.npz"
    arrays, layers = {}, []
    for node in graph.nodes:
        entry: dict[str, Any] = {"name": node.name, "op": node.op, "inputs": list(node.inputs),
                                 "outputs": list(node.outputs)}
        entry |= {k: _plain(v) for k, v in node.attrs.items()}
        if node.op in ("conv2d", "dense"):
            entry["bias"] = "b" in node.weights
        if node.op in RECURRENT_OPS:
            entry["bias"] = "B" in node.weights
        if node.op == "layernorm":
            entry["bias"] = "bias" in node.weights
        if node.weights:
            entry["weights"] = npz_name
            arrays |= {f"{node.name}.{k}": v for k, v in node.weights.items()}
        layers.append(entry)
    doc = {"name": graph.name,
           "inputs": {k: {"shape": list(s), "dtype": graph.input_dtypes[k]}
                      for k, s in graph.inputs.items()},
           "layers": layers, "outputs": list(graph.outputs)}
    text = json.dumps(doc, indent=1) if path.suffix == ".json" else yaml.safe_dump(doc, sort_keys=False)
    path.write_text(text)
    if arrays:
        np.savez(path.parent / npz_name, **arrays)
