"""Reading the ONNX ops of transformer encoders: normalisation, reductions, slices, the
element-wise maths of decomposed layer norms and GELUs, and the gathers and masked fills the
dynamo exporter writes for adaptive pooling.

Each handler takes the importer, the ONNX node, its IR name, its origin (for errors) and its
attributes, checks that the batch stays out of the way (`chipsim.graph.layout`) and emits IR
nodes. All of them run on the digital units.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from chipsim.graph import layout
from chipsim.graph.layout import Layout, fail


def _axis(imp, t: str, axis: int) -> int:
    full = imp.full(t)
    return layout.ir_axis(imp.act(t).lay, axis, len(full), full)


def _unary(op: str) -> Callable:
    def handler(imp, node, name, origin, a):
        t = node.input[0]
        imp.emit(name, origin, op, [t], [node.output[0]], [imp.act(t).lay])
    return handler


def _layernorm(imp, node, name, origin, a):
    """LayerNormalization over the axes from `axis` to the last, none of them the batch."""
    if any(node.output[1:]):
        fail("the Mean and InvStdDev outputs are unsupported")
    t = node.input[0]
    rank = len(imp.full(t))
    axis = int(a.get("axis", -1)) % rank
    if imp.act(t).batch >= axis:
        fail(f"normalising axes {axis}.. of {imp.full(t)} would include the batch")
    count = rank - axis
    norm = imp.shape_of(t)[-count:]
    weights = {"scale": np.broadcast_to(imp.const(node.input[1], "Scale"), norm)}
    bias = imp.opt_const(node, 2, "B")
    if bias is not None:
        weights["bias"] = np.broadcast_to(bias, norm)
    imp.emit(name, origin, "layernorm", [t], [node.output[0]], [imp.act(t).lay],
             {"axes": count, "epsilon": float(a.get("epsilon", 1e-5))}, weights)


def _reduce(op: str) -> Callable:
    def handler(imp, node, name, origin, a):
        t = node.input[0]
        full = imp.full(t)
        lay = imp.act(t).lay
        given = imp.opt_const(node, 1, "axes")
        axes = [int(v) for v in np.ravel(given)] if given is not None else a.get("axes")
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                imp.acts[node.output[0]] = imp.act(t)
                return
            fail(f"reducing every axis of {full} would include the batch")
        onnx_axes = sorted({int(ax) % len(full) for ax in axes})
        ir_axes = [_axis(imp, t, ax) for ax in onnx_axes]
        keep = int(a.get("keepdims", 1))
        out = lay if keep else Layout(lay.batch - sum(ax < lay.batch for ax in onnx_axes),
                                      lay.lead, lay.trail)
        imp.emit(name, origin, op, [t], [node.output[0]], [out],
                 {"axes": ir_axes, "keepdims": keep})
    return handler


def _take_range(imp, name: str, origin: str, t: str, out: str, axis: int, idx: range) -> None:
    """`t` restricted to positions `idx` of ONNX axis `axis` (a `take`, kept as an axis)."""
    if not len(idx):
        fail(f"an empty slice of axis {axis} of {imp.full(t)} is unsupported")
    imp.emit(name, origin, "take", [t], [out], [imp.act(t).lay],
             {"axis": _axis(imp, t, axis), "indices": list(idx)})


def _slice(imp, node, name, origin, a):
    """Slice of an activation on constant bounds: one `take` per sliced axis."""
    t = node.input[0]
    full = imp.full(t)
    starts = np.ravel(imp.const(node.input[1], "starts"))
    ends = np.ravel(imp.const(node.input[2], "ends"))
    axes = imp.opt_const(node, 3, "axes")
    steps = imp.opt_const(node, 4, "steps")
    axes = range(len(starts)) if axes is None else [int(v) % len(full) for v in np.ravel(axes)]
    steps = [1] * len(starts) if steps is None else np.ravel(steps)
    cuts = []
    for s, e, ax, st in zip(starts, ends, axes, steps):
        _axis(imp, t, int(ax))
        idx = range(full[ax])[slice(int(max(min(s, 2**62), -2**62)),
                                    int(max(min(e, 2**62), -2**62)), int(st))]
        if idx != range(full[ax]):
            cuts.append((int(ax), idx))
    if not cuts:
        imp.acts[node.output[0]] = imp.act(t)
        return
    src = t
    for k, (ax, idx) in enumerate(cuts):
        last = k == len(cuts) - 1
        out = node.output[0] if last else f"{name}/axis{ax}"
        _take_range(imp, name if last else f"{name}/axis{ax}", origin, src, out, ax, idx)
        src = out


def _split(imp, node, name, origin, a):
    """Split of an activation into parts of constant sizes: one `take` per output."""
    t = node.input[0]
    full = imp.full(t)
    axis = int(a.get("axis", 0)) % len(full)
    _axis(imp, t, axis)
    sizes = imp.opt_const(node, 1, "split")
    if sizes is None:
        sizes = a.get("split")
    n = len(node.output)
    if sizes is None:
        part = -(-full[axis] // int(a.get("num_outputs", n)))
        sizes = [min(part, full[axis] - i * part) for i in range(n)]
    sizes = [int(v) for v in np.ravel(sizes)]
    if sum(sizes) != full[axis] or len(sizes) != n:
        fail(f"split sizes {sizes} do not cut axis {axis} of {full} into {n} parts")
    start = 0
    for k, (out, size) in enumerate(zip(node.output, sizes)):
        if out:
            _take_range(imp, f"{name}/{k}", origin, t, out, axis, range(start, start + size))
        start += size


def _gather_nd(imp, node, name, origin, a):
    """GatherND of an activation at constant indices (the dynamo exporter's adaptive pooling):
    the indexed leading axes flattened into one, then a `take` of the flat positions."""
    t = node.input[0]
    if int(a.get("batch_dims", 0)):
        fail("batch_dims other than 0 is unsupported")
    idx = np.asarray(imp.const(node.input[1], "the indices")).astype(np.int64)
    full, lay = imp.full(t), imp.act(t).lay
    k = idx.shape[-1] if idx.ndim else 0
    if idx.ndim < 1 or not 1 <= k < len(full) or lay.batch < k:
        fail(f"indices of shape {idx.shape} must address leading axes of {full} before the batch")
    dims = [int(d) for d in full[:k]]
    if np.any(idx < -np.array(dims)) or np.any(idx >= np.array(dims)):
        fail(f"indices out of range for the axes {dims} of {full}")
    flat = np.ravel_multi_index(tuple(np.moveaxis(idx % np.array(dims), -1, 0)), dims)
    shape = imp.shape_of(t)
    merged = f"{name}/flat"
    imp.emit(merged, origin, "reshape", [t], [merged],
             [Layout(lay.batch - k + 1, lay.lead, lay.trail)],
             {"shape": [int(np.prod(dims))] + list(shape[k:])})
    imp.emit(name, origin, "take", [merged], [node.output[0]],
             [Layout(lay.batch - k + flat.ndim, lay.lead, lay.trail)],
             {"axis": 0, "indices": flat.tolist()})


def _where(imp, node, name, origin, a):
    """Where with a constant condition between an activation and a constant (a masked fill):
    x * mask + fill * (1 - mask), two constant operands the digital units apply."""
    cond, x, y = node.input[:3]
    if cond in imp.acts:
        fail("a condition computed from activations is unsupported (only a constant mask)")
    mask = np.asarray(imp.consts[cond]).astype(bool)
    if x in imp.acts and y in imp.acts:
        fail("a choice between two activations is unsupported (one side must be a constant)")
    t, fill, keep = (x, imp.consts[y], mask) if x in imp.acts else (y, imp.consts[x], ~mask)
    full = imp.full(t)
    if max(mask.ndim, np.ndim(fill)) > len(full):
        fail(f"the mask {mask.shape} would broadcast {full} to more axes")
    keep_c = imp.per_sample_const(t, keep.astype(np.float64))
    fill_c = imp.per_sample_const(t, np.where(keep, 0.0, np.asarray(fill, dtype=np.float64)))
    lay = imp.act(t).lay
    imp.emit(f"{name}/keep", origin, "mul", [t], [f"{name}/keep"], [lay], {}, {"const": keep_c})
    imp.emit(name, origin, "add", [f"{name}/keep"], [node.output[0]], [lay], {},
             {"const": fill_c})


TRANSFORMER_HANDLERS: dict[str, Callable] = {
    "LayerNormalization": _layernorm,
    "ReduceMean": _reduce("reduce_mean"), "ReduceSum": _reduce("reduce_sum"),
    "ReduceMax": _reduce("reduce_max"),
    "Sqrt": _unary("sqrt"), "Erf": _unary("erf"), "Exp": _unary("exp"), "Neg": _unary("neg"),
    "Reciprocal": _unary("reciprocal"), "Abs": _unary("abs"),
    "Slice": _slice, "Split": _split, "GatherND": _gather_nd, "Where": _where,
}
