"""Reading ONNX files into chipsim's IR.

ONNX tensors carry the batch dimension somewhere (first for images, second for an LSTM's
sequence, merged with the heads inside attention). The importer tracks, for every activation,
where the batch is (`chipsim.graph.layout`), and hands the IR shapes without it. Initializers
and `Constant` nodes become weights; constant subgraphs (the Shape -> Gather -> Concat
arithmetic PyTorch emits for `x.view(x.size(0), -1)`) are folded (`chipsim.graph.onnx_fold`),
the batch size standing in as a marker when it is dynamic. Recurrent layers and the ops of
transformer encoders have modules of their own (`onnx_recurrent`, `onnx_transformer`). A node
that fails does not stop the walk: every failing node is listed in one error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
from onnx import numpy_helper

from chipsim.errors import GraphError
from chipsim.graph import layout
from chipsim.graph.ir import Graph, Node
from chipsim.graph.layout import BATCH, Layout
from chipsim.graph.onnx_fold import FOLD, axes_of
from chipsim.graph.onnx_recurrent import RECURRENT_HANDLERS
from chipsim.graph.onnx_transformer import TRANSFORMER_HANDLERS
from chipsim.graph.ops import OpError, Shape

_B = "B"  # the batch axis in a full-shape list
#: Most import errors listed in one message; the rest are counted.
MAX_LISTED = 20


@dataclass
class _Act:
    name: str   # IR tensor name
    lay: Layout  # where the batch sits in the ONNX tensor

    @property
    def batch(self) -> int:
        """The ONNX axis holding the batch."""
        return self.lay.batch


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list):
            v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        out[a.name] = v
    return out


def _fail(msg: str) -> None:
    raise OpError(msg)


class _Unsupported(OpError):
    """An op chipsim does not take (here): `hint` names what it takes instead, said once at the
    end of an error listing however many nodes share it."""

    def __init__(self, msg: str, hint: str) -> None:
        super().__init__(msg)
        self.hint = hint


@dataclass(frozen=True)
class _Failure:
    """One node the importer could not take: where, why, and what chipsim takes instead."""

    origin: str
    reason: str
    hint: str = ""


def _reason(err: Exception, origin: str) -> str:
    """The one-line reason of a node's failure, without the file and node it already names."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    cut = text.find(origin + ": ")
    if cut >= 0:
        return text[cut + len(origin) + 2:]
    if isinstance(err, (OpError, GraphError)):
        return text
    return f"cannot import: {text}"


def _listing(file: str, errors: list[_Failure]) -> str:
    """Every failed node in one message: one entry each (the first `MAX_LISTED`), then each
    distinct hint (the ops chipsim reads) once."""
    parts = [f"{e.origin}: {e.reason}" for e in errors[:MAX_LISTED]]
    if len(errors) > MAX_LISTED:
        parts.append(f"... and {len(errors) - MAX_LISTED} more")
    tail = "".join(f"; {h}" for h in dict.fromkeys(e.hint for e in errors if e.hint))
    if len(errors) == 1:
        return f"{file}: {parts[0]}{tail}"
    return f"{file}: {len(errors)} nodes cannot be imported: {'; '.join(parts)}{tail}"


class _Importer:
    def __init__(self, model: onnx.ModelProto, path: Path) -> None:
        self.file = path.name
        self.g = Graph(model.graph.name or path.stem, self.file)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.consts: dict[str, np.ndarray] = {}
        self.acts: dict[str, _Act] = {}
        self.batch_size: int | None = None
        self.model = model

    # -- tensors --------------------------------------------------------------------------
    def full(self, t: str) -> list:
        """The ONNX shape of activation `t` with the batch axis as the marker "B"."""
        a = self.acts[t]
        s: list = layout.onnx_dims(self.g.shapes[a.name], a.lay, 1)
        s[a.batch] = _B
        return s

    def sym(self, t: str) -> list[int]:
        """The ONNX shape of `t` as numbers: the batch axis is the batch size (or `BATCH`) times
        the axes merged into it."""
        a = self.acts[t]
        return layout.onnx_dims(self.g.shapes[a.name], a.lay, self.batch_value)

    @property
    def batch_value(self) -> int:
        return self.batch_size or BATCH

    def shape_of(self, t: str) -> tuple:
        """The IR (per-sample) shape of activation `t`."""
        return self.g.shapes[self.act(t).name]

    def plain(self, t: str) -> _Act:
        """Activation `t`, which must hold the batch on an axis of its own."""
        a = self.act(t)
        if a.lay.merged:
            _fail(f"input {t!r} of shape {self.full(t)} holds the batch merged with other axes; "
                  "this op needs the batch on an axis of its own")
        return a

    def per_sample_const(self, t: str, c: np.ndarray) -> np.ndarray:
        """A constant operand of activation `t` as a per-sample array of the IR tensor's rank."""
        full = self.full(t)
        lay = self.act(t).lay
        if c.ndim > len(full):
            _fail(f"constant {c.shape} has more axes than {full}")
        c = c.reshape((1,) * (len(full) - c.ndim) + c.shape)
        if c.shape[lay.batch] != 1:
            _fail(f"constant {c.shape} varies along the batch axis of {full}")
        shape = c.shape[:lay.batch] + (1,) * (lay.lead + lay.trail) + c.shape[lay.batch + 1:]
        c = c.reshape(shape)
        while c.ndim > 1 and c.shape[0] == 1:  # broadcasting aligns the rest to the right
            c = c[0]
        return c

    def act(self, t: str) -> _Act:
        if t not in self.acts:
            _fail(f"input {t!r} must be an activation, not a constant"
                  if t in self.consts else f"input tensor {t!r} is not defined before this node")
        return self.acts[t]

    def const(self, t: str, what: str) -> np.ndarray:
        if t not in self.consts:
            _fail(f"{what} ({t!r}) must be a constant (initializer or Constant node)")
        return self.consts[t]

    def opt_const(self, node: onnx.NodeProto, i: int, what: str) -> np.ndarray | None:
        if len(node.input) > i and node.input[i]:
            return self.const(node.input[i], what)
        return None

    def emit(self, name: str, origin: str, op: str, inputs: list[str], outputs: list[str],
             batches: list[Layout | int], attrs: dict | None = None,
             weights: dict | None = None) -> None:
        """Add an IR node; `batches` gives each output's Layout (or just its batch axis)."""
        node = Node(name, op, [self.act(t).name for t in inputs], list(outputs), attrs or {},
                    {k: np.asarray(v, dtype=np.float32) for k, v in (weights or {}).items()})
        self.g.add_node(node, origin)
        for t, b in zip(outputs, batches):
            self.acts[t] = _Act(t, b if isinstance(b, Layout) else Layout(int(b)))

    # -- the walk -------------------------------------------------------------------------
    def run(self) -> Graph:
        graph = self.model.graph
        for init in graph.initializer:
            try:
                self.consts[init.name] = numpy_helper.to_array(init)
            except Exception as err:  # data that does not fill its dims, an unknown type, ...
                raise GraphError(f"{self.file}: initializer {init.name!r} (dims "
                                 f"{list(init.dims)}): cannot read its data: "
                                 f"{str(err).splitlines()[0] if str(err) else type(err).__name__}"
                                 ) from None
        self._inputs(graph)
        names: set[str] = set()
        errors: list[_Failure] = []
        lost: set[str] = set()  # tensors of nodes that failed, and of the nodes after them
        for i, node in enumerate(graph.node):
            name = node.name or f"{node.op_type}_{i}"
            if name in names:
                name = f"{name}_{i}"
            names.add(name)
            origin = f'node "{name}" ({node.op_type})'
            known = node.domain in ("", "ai.onnx") and node.op_type in SUPPORTED_ONNX_OPS
            if lost.intersection(node.input):
                lost.update(node.output)
                if not known:
                    errors.append(_Failure(origin, self._unknown(node), _SUPPORTED_HINT))
                continue
            try:
                if not known:
                    raise _Unsupported(self._unknown(node), _SUPPORTED_HINT)
                self._node(node, name, origin)
            except (OpError, GraphError, ValueError, TypeError, IndexError, KeyError,
                    ZeroDivisionError, OverflowError, AttributeError) as err:
                errors.append(_Failure(origin, _reason(err, origin), getattr(err, "hint", "")))
                lost.update(node.output)
        if errors:
            raise GraphError(_listing(self.file, errors))
        outs = []
        for o in graph.output:
            if o.name not in self.acts:
                raise GraphError(f"{self.file}: graph output {o.name!r} is "
                                 + ("a constant" if o.name in self.consts else "never produced"))
            if self.acts[o.name].lay.merged:
                raise GraphError(f"{self.file}: graph output {o.name!r} of shape "
                                 f"{self.full(o.name)} holds the batch merged with other axes")
            outs.append(self.acts[o.name].name)
        self.g.set_outputs(outs)
        for o in graph.output:
            self.g.batch_axes[self.acts[o.name].name] = self.acts[o.name].batch
        return self.g

    @staticmethod
    def _unknown(node: onnx.NodeProto) -> str:
        if node.domain not in ("", "ai.onnx"):
            return f"operator domain {node.domain!r} is not supported"
        return "unsupported op"

    def _inputs(self, graph: onnx.GraphProto) -> None:
        for vi in graph.input:
            if vi.name in self.consts:
                continue
            tt = vi.type.tensor_type
            if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
                raise GraphError(f"{self.file}: graph input {vi.name!r} has no tensor shape")
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            dynamic = [i for i, d in enumerate(dims) if d is None or d <= 0]
            if not dims or len(dynamic) > 1:
                raise GraphError(f"{self.file}: graph input {vi.name!r}: expected exactly one "
                                 f"batch dimension, got shape {dims}")
            if dynamic:
                batch = dynamic[0]
            else:
                lstm0 = any(n.op_type in ("LSTM", "GRU") and n.input and n.input[0] == vi.name
                            and _attrs(n).get("layout", 0) == 0 for n in graph.node)
                batch = 1 if lstm0 and len(dims) > 1 else 0
                self.batch_size = self.batch_size or dims[batch]
            kind = tt.elem_type
            if kind in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE):
                dtype = "float"
            elif kind in (onnx.TensorProto.INT64, onnx.TensorProto.INT32):
                dtype = "int"
            else:
                raise GraphError(f"{self.file}: graph input {vi.name!r}: element type "
                                 f"{onnx.TensorProto.DataType.Name(kind)} unsupported; "
                                 "supported: float, int64/int32 indices")
            shape = tuple(d for i, d in enumerate(dims) if i != batch)
            self.g.add_input(vi.name, shape, dtype, batch)
            self.acts[vi.name] = _Act(vi.name, Layout(batch))

    def _node(self, node: onnx.NodeProto, name: str, origin: str) -> None:
        op, a = node.op_type, _attrs(node)
        ins = list(node.input)
        if op == "Constant":
            self._constant(node, a)
            return
        if op in ("Identity", "Dropout"):
            if len(node.output) > 1 and node.output[1]:
                _fail("the Dropout mask output is unsupported")
            src = ins[0]
            if src in self.consts:
                self.consts[node.output[0]] = self.consts[src]
            else:
                self.acts[node.output[0]] = self.act(src)
            return
        if op == "Shape" and ins and ins[0] in self.acts:
            s = self.sym(ins[0])
            self.consts[node.output[0]] = np.array(s, dtype=np.int64)[a.get("start", 0):a.get("end")]
            return
        if op == "Size" and ins and ins[0] in self.acts:
            self.consts[node.output[0]] = np.array(math.prod(self.sym(ins[0])), dtype=np.int64)
            return
        present = [t for t in ins if t]
        if present and all(t in self.consts for t in present) and op in FOLD:
            vals = [self.consts[t] if t else None for t in ins]
            self.consts[node.output[0]] = np.asarray(FOLD[op](vals, a))
            return
        if op == "Cast" and self._cast_is_identity(ins[0], a):
            self.acts[node.output[0]] = self.act(ins[0])
            return
        handler = _HANDLERS.get(op)
        if op == "Cast":
            kind = self.g.input_dtypes.get(self.act(ins[0]).name, "float")
            _fail(f"a cast of activation {ins[0]!r} ({kind}) to "
                  f"{onnx.TensorProto.DataType.Name(int(a.get('to', 0)))} is unsupported: "
                  "chipsim casts an activation only within its kind (float to float, integer "
                  "to integer), where it changes nothing; casts of constants are folded")
        if handler is None and op in FOLD:
            acts = ", ".join(repr(t) for t in present if t not in self.consts)
            raise _Unsupported(f"{op} of an activation ({acts}) is unsupported: chipsim folds "
                               f"{op} at import, on constants only",
                               f"ops on activations: {', '.join(ACTIVATION_OPS)}")
        if handler is None:
            raise _Unsupported("unsupported op", _SUPPORTED_HINT)
        handler(self, node, name, origin, a)

    def _cast_is_identity(self, tensor: str, a: dict) -> bool:
        """A cast of an activation within its kind: the IR computes floats in float32 and
        keeps integer indices as integers anyway."""
        act = self.acts.get(tensor)
        if act is None:
            return False
        kind = self.g.input_dtypes.get(act.name, "float")  # graph inputs only may be "int"
        return int(a.get("to", 0)) in (_FLOAT_TYPES if kind == "float" else _INT_TYPES)

    def _constant(self, node: onnx.NodeProto, a: dict) -> None:
        for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
            if key in a:
                self.consts[node.output[0]] = np.asarray(a[key])
                return
        _fail("Constant without a supported value attribute (value, value_float(s), value_int(s))")


# -- operations on activations ------------------------------------------------------------
def _pads(imp: _Importer, x: Shape, a: dict, kernel: list[int], strides: list[int],
          dil: list[int]) -> list[int]:
    """Explicit (top, left, bottom, right) pads, resolving ONNX auto_pad."""
    mode = a.get("auto_pad", "NOTSET")
    if mode in ("NOTSET", ""):
        pads = [int(p) for p in a.get("pads", [0, 0, 0, 0])]
        if len(pads) != 4:
            _fail(f"pads must have 4 values for a 2-D window, got {pads}")
        return pads
    if mode == "VALID":
        return [0, 0, 0, 0]
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        _fail(f"auto_pad {mode!r} unsupported; supported: NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    begin, end = [], []
    for size, k, s, d in zip(x[1:], kernel, strides, dil):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small = total // 2
        begin.append(small if mode == "SAME_UPPER" else total - small)
        end.append(total - begin[-1])
    return begin + end


def _image(imp: _Importer, t: str) -> Shape:
    a = imp.act(t)
    shape = imp.g.shapes[a.name]
    if a.batch != 0 or a.lay.merged or len(shape) != 3:
        _fail(f"expects a 2-D image (N, C, H, W) with the batch first; got shape {imp.full(t)} "
              "(only 2-D convolution and pooling are supported)")
    return shape


def _two(a: dict, key: str, default: int) -> list[int]:
    v = [int(x) for x in a.get(key, [default, default])]
    if len(v) != 2:
        _fail(f"attribute {key} must have 2 values for a 2-D window, got {v}")
    return v


def _conv(imp, node, name, origin, a):
    x = _image(imp, node.input[0])
    w = imp.const(node.input[1], "the weight W")
    if w.ndim != 4:
        _fail(f"weight of shape {w.shape}: only 2-D convolution is supported")
    k = _two(a, "kernel_shape", 0) if "kernel_shape" in a else list(w.shape[2:])
    strides, dil = _two(a, "strides", 1), _two(a, "dilations", 1)
    attrs = {"out_channels": int(w.shape[0]), "kernel_shape": k, "strides": strides,
             "pads": _pads(imp, x, a, k, strides, dil), "dilations": dil,
             "group": int(a.get("group", 1))}
    weights = {"W": w}
    b = imp.opt_const(node, 2, "the bias B")
    if b is not None:
        weights["b"] = b
    imp.emit(name, origin, "conv2d", [node.input[0]], [node.output[0]], [0], attrs, weights)


def _as_2d(handler: Callable) -> Callable:
    """1-D convolution and pooling (N, C, L) as their 2-D forms on an image of height 1."""
    def wrapped(imp, node, name, origin, a):
        t = node.input[0]
        if t not in imp.acts or len(imp.full(t)) != 3:
            handler(imp, node, name, origin, a)
            return
        if imp.plain(t).batch != 0:
            _fail(f"expects (N, C, L) with the batch first; got shape {imp.full(t)}")
        c, length = imp.shape_of(t)
        a2 = {k: ([1] + list(v) if k in ("kernel_shape", "strides", "dilations") else v)
              for k, v in a.items()}
        if "pads" in a:
            a2["pads"] = [0, a["pads"][0], 0, a["pads"][1]]
        ins = [f"{name}/as_2d"] + list(node.input[1:])
        if node.op_type == "Conv":
            w = imp.const(node.input[1], "the weight W")
            if w.ndim != 3:
                _fail(f"weight of shape {w.shape} does not fit the 1-D input {imp.full(t)}")
            ins[1] = f"{name}/W_2d"
            imp.consts[ins[1]] = w[:, :, None, :]
        imp.emit(ins[0], origin, "reshape", [t], [ins[0]], [0], {"shape": [c, 1, length]})
        out2d = f"{name}/out_2d"
        handler(imp, onnx.helper.make_node(node.op_type, ins, [out2d]), name, origin, a2)
        c_out, _, l_out = imp.shape_of(out2d)
        imp.emit(f"{name}/as_1d", origin, "reshape", [out2d], [node.output[0]], [0],
                 {"shape": [c_out, l_out]})
    return wrapped


def _gemm(imp, node, name, origin, a):
    x = imp.act(node.input[0])
    if len(imp.full(node.input[0])) != 2 or x.batch != 0 or a.get("transA", 0):
        _fail(f"input A must be (N, K) with the batch first and transA=0; got {imp.full(node.input[0])}")
    w = imp.const(node.input[1], "the weight B")
    if w.ndim != 2:
        _fail(f"weight B must be 2-D, got {w.shape}")
    w = (w.T if a.get("transB", 0) else w) * float(a.get("alpha", 1.0))
    weights = {"W": w}
    c = imp.opt_const(node, 2, "the bias C")
    if c is not None:
        c = np.broadcast_to(c * float(a.get("beta", 1.0)),
                            (w.shape[1],) if c.ndim <= 1 else (1, w.shape[1]))
        weights["b"] = np.asarray(c).reshape(w.shape[1])
    imp.emit(name, origin, "dense", [node.input[0]], [node.output[0]], [x.lay],
             {"units": int(w.shape[1])}, weights)


def _matmul(imp, node, name, origin, a):
    x, y = node.input[0], node.input[1]
    if x in imp.consts:
        _fail("only activation x constant-matrix products are supported (A is a constant)")
    if y not in imp.consts:
        _act_matmul(imp, node, name, origin)
        return
    w = imp.consts[y]
    full = imp.full(x)
    if w.ndim != 2 or full[-1] == _B or len(full) < 2:
        _fail(f"needs a 2-D constant B and an input whose last axis is features; got A "
              f"{full}, B {w.shape}")
    imp.emit(name, origin, "dense", [x], [node.output[0]], [imp.act(x).lay],
             {"units": int(w.shape[1])}, {"W": w})


def _act_matmul(imp: _Importer, node, name: str, origin: str) -> None:
    """A product of two activations (attention's Q K^T and P V): digital, batched over the
    leading axes, which must hold the batch the same way in both."""
    x, y = node.input[0], node.input[1]
    fx, fy = imp.full(x), imp.full(y)
    lx, ly = imp.act(x).lay, imp.act(y).lay
    if len(fx) < 3 or len(fx) != len(fy) or lx != ly or lx.batch >= len(fx) - 2:
        _fail(f"a product of two activations needs both of the same rank (3 or more) with the "
              f"batch on the same leading axis; got {fx} and {fy}")
    imp.emit(name, origin, "matmul", [x, y], [node.output[0]], [lx])


def _batchnorm(imp, node, name, origin, a):
    x = imp.plain(node.input[0])
    if x.batch != 0:
        _fail(f"expects the batch first; got shape {imp.full(node.input[0])}")
    if a.get("training_mode", 0) or len([o for o in node.output if o]) > 1:
        _fail("training mode (extra outputs) is unsupported; export the model in eval mode")
    w = {k: imp.const(t, k) for k, t in zip(("scale", "bias", "mean", "var"), node.input[1:5])}
    if len(w) != 4:
        _fail("needs scale, bias, mean and var")
    imp.emit(name, origin, "batchnorm", [node.input[0]], [node.output[0]], [0],
             {"epsilon": float(a.get("epsilon", 1e-5))}, w)


def _unary(op: str, keep: tuple[str, ...] = ()):
    def handler(imp, node, name, origin, a):
        x = imp.act(node.input[0])
        attrs = {k: float(a[k]) for k in keep if k in a}
        if op == "leaky_relu":
            attrs.setdefault("alpha", 0.01)
        if op == "gelu":
            attrs = {"approximate": a.get("approximate", "none")}
        if op == "clip":
            lo, hi = imp.opt_const(node, 1, "min"), imp.opt_const(node, 2, "max")
            attrs = {"min": float(lo) if lo is not None else float(a.get("min", -math.inf)),
                     "max": float(hi) if hi is not None else float(a.get("max", math.inf))}
        imp.emit(name, origin, op, [node.input[0]], [node.output[0]], [x.lay], attrs)
    return handler


def _binary(kind: str):
    ops = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow"}

    def handler(imp, node, name, origin, a):
        x, y = node.input[0], node.input[1]
        op = ops[kind]
        if x in imp.consts or y in imp.consts:
            first = x in imp.consts
            t, c = (y, imp.consts[x]) if first else (x, imp.consts[y])
            c = imp.per_sample_const(t, np.asarray(c, dtype=np.float64))
            attrs: dict = {}
            if first and kind in ("Sub", "Div", "Pow"):
                attrs = {"const_first": 1}
            elif kind == "Sub":
                op, c = "add", -c
            elif kind == "Div":
                op, c = "mul", 1.0 / c
            imp.emit(name, origin, op, [t], [node.output[0]], [imp.act(t).lay], attrs,
                     {"const": c})
            return
        if len(imp.full(x)) != len(imp.full(y)) or imp.act(x).lay != imp.act(y).lay:
            _fail(f"inputs {imp.full(x)} and {imp.full(y)} must have the same rank and batch axis")
        imp.emit(name, origin, op, [x, y], [node.output[0]], [imp.act(x).lay])
    return handler


def _sample_axis(imp: _Importer, t: str, axis: int) -> int:
    return layout.ir_axis(imp.act(t).lay, axis, len(imp.full(t)), imp.full(t))


def _concat(imp, node, name, origin, a):
    ins = [t for t in node.input if t]
    lays = {imp.act(t).lay for t in ins}
    if len(lays) != 1:
        _fail("inputs must share the batch axis")
    axis = _sample_axis(imp, ins[0], int(a["axis"]))
    imp.emit(name, origin, "concat", ins, [node.output[0]], [lays.pop()], {"axis": axis})


def _softmax(imp, node, name, origin, a):
    t = node.input[0]
    rank = len(imp.full(t))
    axis = int(a.get("axis", -1 if imp.opset >= 13 else 1)) % rank
    if imp.opset < 13 and axis != rank - 1:
        _fail(f"opset {imp.opset} softmax over axes {axis}.. (flattened) is unsupported; "
              "only the last axis")
    imp.emit(name, origin, "softmax", [t], [node.output[0]], [imp.act(t).lay],
             {"axis": _sample_axis(imp, t, axis)})


def _pool(op: str):
    def handler(imp, node, name, origin, a):
        if len(node.output) > 1 and node.output[1]:
            _fail("the Indices output is unsupported")
        x = _image(imp, node.input[0])
        k = _two(a, "kernel_shape", 0)
        strides = _two(a, "strides", 1)
        dil = _two(a, "dilations", 1) if op == "maxpool" else [1, 1]
        attrs = {"kernel_shape": k, "strides": strides, "pads": _pads(imp, x, a, k, strides, dil),
                 "ceil_mode": int(a.get("ceil_mode", 0))}
        if op == "maxpool":
            attrs["dilations"] = dil
        else:
            attrs["count_include_pad"] = int(a.get("count_include_pad", 0))
        imp.emit(name, origin, op, [node.input[0]], [node.output[0]], [0], attrs)
    return handler


def _global_avgpool(imp, node, name, origin, a):
    _image(imp, node.input[0])
    imp.emit(name, origin, "global_avgpool", [node.input[0]], [node.output[0]], [0])


def _reshape_to(imp: _Importer, name: str, origin: str, t: str, out: str, target: list[int],
                allowzero: bool = False) -> None:
    """Emit the IR reshape of ONNX activation `t` to the ONNX shape `target` (Reshape's
    semantics: 0 copies, -1 infers), or alias `out` to `t` where nothing changes."""
    dims = imp.sym(t)
    full = imp.full(t)
    resolved = layout.resolve_target(dims, target, allowzero)
    shape, lay = layout.reshape(imp.shape_of(t), imp.act(t).lay, resolved, imp.batch_value, full)
    if tuple(shape) == imp.shape_of(t) and lay == imp.act(t).lay:
        imp.acts[out] = imp.act(t)
        return
    imp.emit(name, origin, "reshape", [t], [out], [lay], {"shape": shape})


def _reshape(imp, node, name, origin, a):
    t = node.input[0]
    dims = imp.sym(t)
    if node.op_type == "Flatten":
        axis = int(a.get("axis", 1)) % (len(dims) + 1) if dims else 1
        target = [math.prod(dims[:axis]), math.prod(dims[axis:])]
    else:
        target = [int(v) for v in np.ravel(imp.const(node.input[1], "the target shape"))]
        if not target:
            _fail(f"reshape of {imp.full(t)} to a scalar would lose the batch")
    _reshape_to(imp, name, origin, t, node.output[0], target, bool(a.get("allowzero", 0)))


def _squeeze(imp, node, name, origin, a):
    t = node.input[0]
    full, dims = imp.full(t), imp.sym(t)
    axes = axes_of([None] + [imp.consts.get(x) for x in node.input[1:]], a)
    if axes is None:
        axes = [i for i, d in enumerate(full) if d == 1]
    axes = [ax % len(full) for ax in axes]
    if any(full[ax] != 1 for ax in axes):
        _fail(f"can only squeeze axes of size 1; shape {full}, axes {axes}")
    _reshape_to(imp, name, origin, t, node.output[0],
                [d for i, d in enumerate(dims) if i not in axes])


def _unsqueeze_act(imp, node, name, origin, a):
    t = node.input[0]
    dims = imp.sym(t)
    axes = axes_of([None] + [imp.consts.get(x) for x in node.input[1:]], a)
    if axes is None:
        _fail("needs axes")
    rank = len(dims) + len(axes)
    for ax in sorted(ax % rank for ax in axes):
        dims.insert(ax, 1)
    _reshape_to(imp, name, origin, t, node.output[0], dims)


def _transpose(imp, node, name, origin, a):
    t = node.input[0]
    full = imp.full(t)
    lay = imp.act(t).lay
    perm = [int(p) for p in a.get("perm", range(len(full) - 1, -1, -1))]
    if sorted(perm) != list(range(len(full))):
        _fail(f"perm {perm} is not a permutation of {len(full)} axes")
    groups = layout.ir_groups(len(full), lay)
    ir_perm = [ax for p in perm for ax in groups[p]]
    out = Layout(perm.index(lay.batch), lay.lead, lay.trail)
    if ir_perm == sorted(ir_perm):  # only the batch moves: the per-sample tensor is the same
        imp.acts[node.output[0]] = _Act(imp.act(t).name, out)
        return
    imp.emit(name, origin, "transpose", [t], [node.output[0]], [out], {"perm": ir_perm})


def _gather(imp, node, name, origin, a):
    data, idx = node.input[0], node.input[1]
    axis = int(a.get("axis", 0))
    if data in imp.consts:
        table = imp.consts[data]
        if table.ndim != 2 or axis != 0:
            _fail(f"a lookup needs a 2-D table gathered on axis 0; got {table.shape}, axis {axis}")
        if imp.g.input_dtypes.get(imp.act(idx).name, "int") != "int":
            _fail("lookup indices must be integers")
        imp.emit(name, origin, "embedding", [idx], [node.output[0]], [imp.act(idx).lay],
                 {"vocab": int(table.shape[0]), "dim": int(table.shape[1])}, {"table": table})
        return
    indices = imp.const(idx, "the indices")
    full = imp.full(data)
    lay = imp.act(data).lay
    ax = _sample_axis(imp, data, axis)
    axis %= len(full)
    out = Layout(lay.batch - 1 + indices.ndim, lay.lead, lay.trail) if axis < lay.batch else lay
    imp.emit(name, origin, "take", [data], [node.output[0]], [out],
             {"axis": ax, "indices": np.asarray(indices).astype(int).tolist()})


_HANDLERS: dict[str, Callable] = {
    "Conv": _as_2d(_conv), "Gemm": _gemm, "MatMul": _matmul, "BatchNormalization": _batchnorm,
    "Relu": _unary("relu"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"),
    "LeakyRelu": _unary("leaky_relu", ("alpha",)), "Clip": _unary("clip"),
    "Gelu": _unary("gelu"), "Softmax": _softmax,
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"), "Div": _binary("Div"),
    "Concat": _concat, "MaxPool": _as_2d(_pool("maxpool")),
    "AveragePool": _as_2d(_pool("avgpool")), "GlobalAveragePool": _as_2d(_global_avgpool), "Flatten": _reshape, "Reshape": _reshape,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze_act, "Transpose": _transpose,
    "Gather": _gather, "Pow": _binary("Pow"), **RECURRENT_HANDLERS, **TRANSFORMER_HANDLERS,
}
#: ONNX ops chipsim reads: on activations (`ACTIVATION_OPS`), or folded away on constants
SUPPORTED_ONNX_OPS = sorted(set(_HANDLERS) | set(FOLD) | {"Constant", "Identity", "Dropout",
                                                           "Shape", "Size"})
#: ONNX ops that may take an activation (Cast only to a float type)
ACTIVATION_OPS = sorted(set(_HANDLERS) | {"Cast", "Identity", "Dropout", "Shape", "Size"})
_SUPPORTED_HINT = f"supported: {', '.join(SUPPORTED_ONNX_OPS)}"
_FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
                onnx.TensorProto.BFLOAT16)
_INT_TYPES = (onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.INT16,
              onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.UINT16,
              onnx.TensorProto.UINT32, onnx.TensorProto.UINT64)


def load_onnx(path: str | Path) -> Graph:
    """Read, check and shape-infer an ONNX file, then convert it to the IR."""
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise GraphError(f"{path}: no such file") from None
    except Exception as err:  # protobuf decode errors have no common base class
        raise GraphError(f"{path.name}: not a readable ONNX file ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from None
    try:
        onnx.checker.check_model(model)
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as err:  # onnx raises ValidationError, InferenceError, RuntimeError, ...
        first = next((ln for ln in str(err).splitlines() if ln.strip()), type(err).__name__)
        raise GraphError(f"{path.name}: invalid ONNX model: {first}") from None
    return _Importer(model, path).run()
