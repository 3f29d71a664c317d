"""The operations of chipsim's IR: what each one needs and what shape it makes.

An IR operation works on one input sample at a time: every tensor shape here leaves out the
batch dimension, which an executor puts in front (`(batch, *shape)`). Each op has a short
checker that reads its attributes and weights, validates them and returns the output shapes;
the importers call it for every node, so a graph that loads is a graph whose shapes agree.

Conventions (the same for every importer):
- conv2d: input (C, H, W); weight `W` (C_out, C_in / group, kH, kW); `pads` (top, left,
  bottom, right); `strides`, `dilations` (h, w).
- dense: input (..., K); weight `W` (K, N) applied to the last axis; bias `b` (N,).
- batchnorm: channel axis 0 of the sample; weights `scale`, `bias`, `mean`, `var`.
- lstm: input (T, D); weights in ONNX layout and gate order i, o, f, c: `W` (4H, D),
  `R` (4H, H), `B` (8H,) = input biases then recurrent biases; outputs Y (T, H) and optionally
  Y_h (H,), Y_c (H,).
- embedding: integer input of any shape s, weight `table` (V, D); output s + (D,).
- gru: as lstm with gate order z, r, h: `W` (3H, D), `R` (3H, H), `B` (6H,); reset applied
  after the recurrent product (ONNX linear_before_reset=1, PyTorch's); outputs Y (T, H) and
  optionally Y_h (H,).
- add, sub, mul, div, pow: two inputs (numpy broadcasting) or one input and a constant weight
  `const`; attribute `const_first` = 1 puts the constant on the left (c - x, c / x, c ** x).
- matmul: two activations (..., M, K) x (..., K, N), leading axes broadcast (digital).
- layernorm: normalises the last `axes` axes; weights `scale` and optionally `bias` of that shape.
- reduce_mean, reduce_sum, reduce_max: over the sample axes `axes`, `keepdims` 0 or 1.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

Shape = tuple[int, ...]


class OpError(ValueError):
    """An op whose attributes, weights or input shapes do not fit; importers add file and node."""


def _need(cond: bool, msg: str) -> None:
    if not cond:
        raise OpError(msg)


def _ints(attrs: dict, key: str, n: int, default: int) -> list[int]:
    value = attrs.get(key)
    if value is None:
        return [default] * n
    _need(isinstance(value, (list, tuple)) and len(value) == n
          and all(isinstance(v, (int, np.integer)) for v in value),
          f"attribute {key} must be a list of {n} integers, got {value!r}")
    return [int(v) for v in value]


#: Largest |weight| a graph may hold. The crossbar stores each column relative to its largest
#: weight; that weight's scale comes back in digital float32 arithmetic (outputs, partial sums,
#: the float reference, error figures), which a scale near float32's 3.4e38 overflows. 1e18 is
#: 18 orders of magnitude above trained weights and 20 below the overflow.
WEIGHT_LIMIT = 1e18


def _weight(weights: dict, key: str, ndim: int) -> np.ndarray:
    _need(key in weights, f"missing weight {key!r}")
    w = weights[key]
    _need(isinstance(w, np.ndarray) and w.ndim == ndim,
          f"weight {key!r} must have {ndim} dimensions, got shape {getattr(w, 'shape', None)}")
    check_weight_range(w, key)
    return w


def check_weight_range(w: np.ndarray, key: str) -> None:
    """OpError naming the first weight that is not finite or is beyond `WEIGHT_LIMIT`."""
    bad = ~np.isfinite(w) | (np.abs(w) > WEIGHT_LIMIT)
    if bad.any():
        value = w[tuple(np.argwhere(bad)[0])]
        what = "is not a number" if np.isnan(value) else (
            "is infinite (or beyond float32's 3.4e38)" if np.isinf(value) else
            f"is beyond the |w| <= {WEIGHT_LIMIT:g} the chip's float32 column scales hold")
        raise OpError(f"weight {key!r} holds {value:g}, which {what}"
                      + (f" ({int(bad.sum())} such values)" if bad.sum() > 1 else ""))


def _spatial(size: int, k: int, s: int, d: int, pb: int, pe: int, ceil: bool = False) -> int:
    _need(s >= 1 and d >= 1 and k >= 1 and pb >= 0 and pe >= 0,
          "kernel, strides and dilations must be positive and pads non-negative")
    span = (k - 1) * d + 1
    room = size + pb + pe - span
    _need(room >= 0, f"window of {span} does not fit input of {size} with pads ({pb}, {pe})")
    out = (-(-room // s) if ceil else room // s) + 1
    if ceil and (out - 1) * s >= size + pb:  # last window would start inside the end padding
        out -= 1
    return out


def _conv2d(attrs, weights, shapes):
    (x,) = shapes
    _need(len(x) == 3, f"input must be (C, H, W), got {x}")
    w = _weight(weights, "W", 4)
    group = int(attrs.get("group", 1))
    cout, cin_g, kh, kw = w.shape
    _need(group >= 1 and x[0] == cin_g * group and cout % group == 0,
          f"weight {w.shape} with group={group} does not fit {x[0]} input channels")
    _need(list(attrs.get("kernel_shape", [kh, kw])) == [kh, kw],
          f"kernel_shape {attrs.get('kernel_shape')} disagrees with weight {w.shape}")
    strides = _ints(attrs, "strides", 2, 1)
    dil = _ints(attrs, "dilations", 2, 1)
    pads = _ints(attrs, "pads", 4, 0)
    if "b" in weights:
        _need(_weight(weights, "b", 1).shape == (cout,), f"bias must have shape ({cout},)")
    h = _spatial(x[1], kh, strides[0], dil[0], pads[0], pads[2])
    wd = _spatial(x[2], kw, strides[1], dil[1], pads[1], pads[3])
    return [(cout, h, wd)]


def _dense(attrs, weights, shapes):
    (x,) = shapes
    w = _weight(weights, "W", 2)
    _need(len(x) >= 1 and x[-1] == w.shape[0],
          f"input {x} does not fit weight {w.shape} (rows = inputs)")
    if "b" in weights:
        _need(_weight(weights, "b", 1).shape == (w.shape[1],), f"bias must have shape ({w.shape[1]},)")
    return [tuple(x[:-1]) + (w.shape[1],)]


def _batchnorm(attrs, weights, shapes):
    (x,) = shapes
    _need(len(x) >= 1, "input must have a channel axis")
    for key in ("scale", "bias", "mean", "var"):
        _need(_weight(weights, key, 1).shape == (x[0],),
              f"weight {key!r} must have one value per channel ({x[0]})")
    _need(bool(np.all(weights["var"] + float(attrs.get("epsilon", 1e-5)) > 0)),
          "var + epsilon must be positive")
    return [tuple(x)]


def _same(attrs, weights, shapes):
    (x,) = shapes
    return [tuple(x)]


def _softmax(attrs, weights, shapes):
    (x,) = shapes
    axis = int(attrs.get("axis", -1))
    _need(-len(x) <= axis < len(x), f"axis {axis} out of range for shape {x}")
    return [tuple(x)]


def _clip(attrs, weights, shapes):
    lo, hi = attrs.get("min", -math.inf), attrs.get("max", math.inf)
    _need(float(lo) <= float(hi), f"min {lo} is above max {hi}")
    return [tuple(shapes[0])]


def _broadcast(a: Shape, b: Shape) -> Shape:
    try:
        return tuple(int(v) for v in np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise OpError(f"shapes {a} and {b} do not broadcast") from None


def _binary(attrs, weights, shapes):
    if "const" in weights:
        _need(len(shapes) == 1, "an op with a constant operand takes one input")
        c = weights["const"]
        _need(isinstance(c, np.ndarray), "constant operand must be an array")
        out = _broadcast(shapes[0], c.shape)
        _need(out == tuple(shapes[0]), f"constant {c.shape} would change the shape {shapes[0]}")
        return [out]
    _need(len(shapes) == 2, f"takes two inputs, got {len(shapes)}")
    return [_broadcast(shapes[0], shapes[1])]


def _concat(attrs, weights, shapes):
    _need(len(shapes) >= 1, "needs at least one input")
    rank = len(shapes[0])
    axis = int(attrs.get("axis", 0))
    _need(-rank <= axis < rank, f"axis {axis} out of range for shape {shapes[0]}")
    axis %= rank
    for s in shapes:
        _need(len(s) == rank and all(a == b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis),
              f"inputs {shapes} differ outside axis {axis}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [tuple(out)]


def _pool(attrs, weights, shapes, dilated: bool):
    (x,) = shapes
    _need(len(x) == 3, f"input must be (C, H, W), got {x}")
    k = _ints(attrs, "kernel_shape", 2, 0)
    strides = _ints(attrs, "strides", 2, 1)
    dil = _ints(attrs, "dilations", 2, 1) if dilated else [1, 1]
    pads = _ints(attrs, "pads", 4, 0)
    ceil = bool(attrs.get("ceil_mode", 0))
    h = _spatial(x[1], k[0], strides[0], dil[0], pads[0], pads[2], ceil)
    w = _spatial(x[2], k[1], strides[1], dil[1], pads[1], pads[3], ceil)
    return [(x[0], h, w)]


def _global_avgpool(attrs, weights, shapes):
    (x,) = shapes
    _need(len(x) >= 2, f"input must be (C, spatial...), got {x}")
    return [(x[0],) + (1,) * (len(x) - 1)]


def _reshape(attrs, weights, shapes):
    (x,) = shapes
    target = tuple(int(v) for v in attrs.get("shape", ()))
    _need(all(v >= 1 for v in target) and math.prod(target) == math.prod(x),
          f"cannot reshape {x} to {target}")
    return [target]


def _transpose(attrs, weights, shapes):
    (x,) = shapes
    perm = [int(p) for p in attrs.get("perm", range(len(x) - 1, -1, -1))]
    _need(sorted(perm) == list(range(len(x))), f"perm {perm} is not a permutation of {len(x)} axes")
    return [tuple(x[p] for p in perm)]


def _take(attrs, weights, shapes):
    (x,) = shapes
    axis = int(attrs.get("axis", 0))
    idx = np.asarray(attrs.get("indices"))
    _need(0 <= axis < len(x), f"axis {axis} out of range for shape {x}")
    _need(idx.size > 0 and bool(np.all((idx >= -x[axis]) & (idx < x[axis]))),
          f"indices {idx.tolist()} out of range for axis of {x[axis]}")
    return [tuple(x[:axis]) + idx.shape + tuple(x[axis + 1:])]


def _recurrent(gates: int, states: int):
    """Shapes of a recurrent layer of `gates` gates (LSTM 4, GRU 3) with `states` state
    outputs (LSTM h and c, GRU h): W (gates h, D), R (gates h, h), B (2 gates h)."""
    def shape(attrs, weights, shapes):
        (x,) = shapes
        _need(len(x) == 2, f"input must be (T, D), got {x}")
        h = int(attrs.get("hidden_size", 0))
        w, r = _weight(weights, "W", 2), _weight(weights, "R", 2)
        _need(h >= 1 and w.shape == (gates * h, x[1]) and r.shape == (gates * h, h),
              f"W {w.shape} / R {r.shape} do not fit hidden_size {h} and input size {x[1]}")
        if "B" in weights:
            _need(_weight(weights, "B", 1).shape == (2 * gates * h,),
                  f"B must have shape ({2 * gates * h},)")
        return [(x[0], h)] + ([(h,)] * states if int(attrs.get("state_outputs", 0)) else [])
    return shape


def _matmul(attrs, weights, shapes):
    a, b = shapes
    _need(len(a) >= 2 and len(b) >= 2 and a[-1] == b[-2],
          f"shapes {a} and {b} do not multiply as matrices")
    return [_broadcast(a[:-2], b[:-2]) + (a[-2], b[-1])]


def _layernorm(attrs, weights, shapes):
    (x,) = shapes
    n = int(attrs.get("axes", 1))
    _need(1 <= n <= len(x), f"cannot normalise the last {n} axes of {x}")
    for key in ("scale", "bias"):
        if key in weights or key == "scale":
            _need(tuple(_weight(weights, key, n).shape) == tuple(x[-n:]),
                  f"weight {key!r} must have the normalised shape {tuple(x[-n:])}")
    return [tuple(x)]


def _reduce(attrs, weights, shapes):
    (x,) = shapes
    axes = [int(a) for a in attrs.get("axes", [])]
    _need(bool(axes) and all(0 <= a < len(x) for a in axes), f"axes {axes} out of range for {x}")
    if int(attrs.get("keepdims", 1)):
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]



def _embedding(attrs, weights, shapes):
    (x,) = shapes
    t = _weight(weights, "table", 2)
    return [tuple(x) + (t.shape[1],)]


ShapeFn = Callable[[dict, dict, list[Shape]], list[Shape]]

# op name -> its checker, which returns the output shapes
OPS: dict[str, ShapeFn] = {
    "conv2d": _conv2d,
    "dense": _dense,
    "lstm": _recurrent(gates=4, states=2),
    "gru": _recurrent(gates=3, states=1),
    "batchnorm": _batchnorm,
    "relu": _same,
    "sigmoid": _same,
    "tanh": _same,
    "leaky_relu": _same,
    "clip": _clip,
    "gelu": _same,
    "softmax": _softmax,
    "add": _binary,
    "sub": _binary,
    "mul": _binary,
    "div": _binary,
    "pow": _binary,
    "matmul": _matmul,
    "layernorm": _layernorm,
    "reduce_mean": _reduce,
    "reduce_sum": _reduce,
    "reduce_max": _reduce,
    "sqrt": _same,
    "erf": _same,
    "exp": _same,
    "neg": _same,
    "reciprocal": _same,
    "abs": _same,
    "concat": _concat,
    "maxpool": lambda a, w, s: _pool(a, w, s, dilated=True),
    "avgpool": lambda a, w, s: _pool(a, w, s, dilated=False),
    "global_avgpool": _global_avgpool,
    "reshape": _reshape,
    "transpose": _transpose,
    "take": _take,
    "embedding": _embedding,
}

# Ops whose weights live in crossbars; everything else runs on digital units.
MATRIX_OPS = ("conv2d", "dense", "lstm", "gru")
# Matrix ops that run one MVM per time step, each step's input holding the previous state.
RECURRENT_OPS = ("lstm", "gru")


def infer_shapes(op: str, attrs: dict[str, Any], weights: dict[str, np.ndarray],
                 in_shapes: list[Shape]) -> list[Shape]:
    """Validate one operation and return its output shapes (batch excluded)."""
    _need(op in OPS, f"unsupported op; supported: {', '.join(sorted(OPS))}")
    arity = {"concat": None, "add": None, "sub": None, "mul": None, "div": None, "pow": None,
             "matmul": 2}.get(op, 1)
    if arity is not None:
        _need(len(in_shapes) == arity, f"takes {arity} input(s), got {len(in_shapes)}")
    return [tuple(int(d) for d in s) for s in OPS[op](attrs, weights, list(in_shapes))]


def digital_ops(op: str, attrs: dict[str, Any], in_shapes: list[Shape],
                out_shapes: list[Shape]) -> dict[str, int]:
    """Digital work of one operation per inference, counted in the units the timing model charges.

    Element-wise ops count output elements; pooling counts input values read (output elements x
    window); an LSTM or GRU counts cell updates (time steps x hidden units: gates, state and
    output); an embedding counts values looked up; a product of two activations counts its
    multiply-accumulates; a reduction counts the values it reads; a layer norm counts the values
    it normalises (mean, variance and scaling of each value as one operation). Reshape,
    transpose and take only move data: none.
    """
    out = math.prod(out_shapes[0]) if out_shapes else 0
    if op in ("conv2d", "dense", "reshape", "transpose", "take"):
        return {}
    if op in ("lstm", "gru"):
        t, h = out_shapes[0]
        return {f"{op}_cell": t * h}
    if op in ("maxpool", "avgpool"):
        return {op: out * math.prod(attrs["kernel_shape"])}
    if op == "matmul":
        return {op: out * in_shapes[0][-1]}
    if op in ("global_avgpool", "reduce_mean", "reduce_sum", "reduce_max"):
        return {op: math.prod(in_shapes[0])}
    if op == "concat":
        return {}
    return {op: out}
