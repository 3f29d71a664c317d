"""The digital operations of a network, as functions of an IR node and batched numpy arrays.

On the chip everything that is not a matrix-vector product (activations, pooling, residual
adds, batch norm that could not be folded, LSTM gates) runs on digital units in floating point.
Both the float reference and the analog path call these same functions, so any difference
between the two comes from the crossbars alone. Arrays carry the batch in front of the
per-sample shapes that `chipsim.graph.ops` documents; attributes are read as that module
defines them.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from chipsim.errors import GraphError
from chipsim.functional.im2col import array_module
from chipsim.graph.ir import Node

F32 = np.float32


def _sample_axis(axis: int, rank: int) -> int:
    """A per-sample axis (may be negative) as an axis of the batched array."""
    return (axis % rank) + 1


def _binary_operands(node: Node, xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if "const" in node.weights:
        c = node.weights["const"].astype(F32)
        return (c, xs[0]) if int(node.attrs.get("const_first", 0)) else (xs[0], c)
    a, b = xs
    # Per-sample shapes broadcast; with the batch in front, align the lower-rank one's sample
    # axes to the right (numpy would otherwise align its batch axis with a sample axis).
    if a.ndim < b.ndim:
        a = a.reshape(a.shape[:1] + (1,) * (b.ndim - a.ndim) + a.shape[1:])
    elif b.ndim < a.ndim:
        b = b.reshape(b.shape[:1] + (1,) * (a.ndim - b.ndim) + b.shape[1:])
    return a, b


def _batchnorm(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    (x,) = xs
    w = {k: v.astype(np.float64) for k, v in node.weights.items()}
    scale = w["scale"] / np.sqrt(w["var"] + float(node.attrs.get("epsilon", 1e-5)))
    shift = w["bias"] - w["mean"] * scale
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return x * scale.astype(F32).reshape(shape) + shift.astype(F32).reshape(shape)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (F32(0.5) * np.tanh(F32(0.5) * x) + F32(0.5)).astype(F32, copy=False)


_ERF = np.vectorize(math.erf, otypes=[np.float64])


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function in float64 (numpy has none; math.erf is exact to float64)."""
    return _ERF(np.asarray(x, dtype=np.float64))


def _gelu(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    (x,) = xs
    if node.attrs.get("approximate", "none") == "tanh":
        inner = F32(math.sqrt(2 / math.pi)) * (x + F32(0.044715) * x ** 3)
        return F32(0.5) * x * (F32(1) + np.tanh(inner))
    return (0.5 * x * (1.0 + _erf(x.astype(np.float64) / math.sqrt(2)))).astype(F32)


def _matmul(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    """A product of two activations, accumulated in float64 and rounded once (as the float
    crossbar reference is), so a sample's result does not depend on the batch around it."""
    a, b = xs
    return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(F32)


def _layernorm(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    (x,) = xs
    axes = tuple(range(x.ndim - int(node.attrs.get("axes", 1)), x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x64 - mean) / np.sqrt(var + float(node.attrs.get("epsilon", 1e-5)))
    y = y * node.weights["scale"].astype(np.float64)
    if "bias" in node.weights:
        y = y + node.weights["bias"].astype(np.float64)
    return y.astype(F32)


def _reduce(kind: str) -> Callable:
    def run(node: Node, xs: list[np.ndarray]) -> np.ndarray:
        (x,) = xs
        axes = tuple(int(a) + 1 for a in node.attrs["axes"])
        keep = bool(int(node.attrs.get("keepdims", 1)))
        if kind == "max":
            return x.max(axis=axes, keepdims=keep)
        total = x.astype(np.float64).sum(axis=axes, keepdims=keep)
        return (total / math.prod(x.shape[a] for a in axes) if kind == "mean" else total).astype(F32)
    return run


def _softmax(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    (x,) = xs
    axis = _sample_axis(int(node.attrs.get("axis", -1)), x.ndim - 1)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _windows(x: np.ndarray, node: Node, pad_value: float) -> tuple[np.ndarray, np.ndarray]:
    """Pooling windows of x (N, C, H, W) as (N, C, OH, OW, kH, kW), plus which cells are real."""
    a = node.attrs
    kh, kw = (int(v) for v in a["kernel_shape"])
    sh, sw = (int(v) for v in a.get("strides", (1, 1)))
    dh, dw = (int(v) for v in a.get("dilations", (1, 1))) if node.op == "maxpool" else (1, 1)
    top, left, bottom, right = (int(v) for v in a.get("pads", (0, 0, 0, 0)))
    n, c, h, w = x.shape
    ceil = bool(a.get("ceil_mode", 0))

    def out_size(size, k, s, d, pb, pe):
        room = size + pb + pe - ((k - 1) * d + 1)
        out = (-(-room // s) if ceil else room // s) + 1
        if ceil and (out - 1) * s >= size + pb:
            out -= 1
        return out

    oh, ow = out_size(h, kh, sh, dh, top, bottom), out_size(w, kw, sw, dw, left, right)
    # pad enough for the last (possibly ceil-mode) window
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1 - (h + top)
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1 - (w + left)
    pad = ((0, 0), (0, 0), (top, max(need_h, 0)), (left, max(need_w, 0)))
    lib = array_module(x)  # numpy, or CuPy on the GPU backend (index arrays in it too)
    xp = lib.pad(x, pad, constant_values=pad_value)
    real = np.pad(np.ones((h, w), bool), pad[2:], constant_values=False)
    if node.op == "avgpool" and int(a.get("count_include_pad", 0)):
        # explicit pads count, the extra ceil-mode cells do not (ONNX semantics)
        real = np.pad(np.ones((h + top + bottom, w + left + right), bool),
                      ((0, max(need_h - bottom, 0)), (0, max(need_w - right, 0))),
                      constant_values=False)
    rows = (np.arange(oh) * sh)[:, None] + np.arange(kh)[None, :] * dh   # (OH, kH)
    cols = (np.arange(ow) * sw)[:, None] + np.arange(kw)[None, :] * dw   # (OW, kW)
    win = xp[:, :, lib.asarray(rows[:, None, :, None]),
             lib.asarray(cols[None, :, None, :])]                        # (N, C, OH, OW, kH, kW)
    mask = real[rows[:, None, :, None], cols[None, :, None, :]]          # (OH, OW, kH, kW)
    return win, mask


def _maxpool(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    (x,) = xs
    win, _ = _windows(x, node, -np.inf)
    return win.max(axis=(-2, -1))


def _avgpool(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    (x,) = xs
    win, mask = _windows(x, node, 0.0)
    count = mask.sum(axis=(-2, -1)).astype(F32)
    return (win.sum(axis=(-2, -1), dtype=F32) / count).astype(F32)


def _concat(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    axis = _sample_axis(int(node.attrs.get("axis", 0)), xs[0].ndim - 1)
    return np.concatenate(xs, axis=axis)


def _transpose(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    (x,) = xs
    rank = x.ndim - 1
    perm = [int(p) for p in node.attrs.get("perm", range(rank - 1, -1, -1))]
    return x.transpose([0] + [p + 1 for p in perm])


def _take(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    (x,) = xs
    axis = int(node.attrs.get("axis", 0))
    return np.take(x, np.asarray(node.attrs["indices"]), axis=axis + 1)


def _embedding(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    (x,) = xs
    table = node.weights["table"].astype(F32)
    idx = np.asarray(x).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= table.shape[0]):
        raise GraphError(f'node "{node.name}" (embedding): index out of range 0..{table.shape[0] - 1}')
    return table[idx]


DigitalFn = Callable[[Node, list[np.ndarray]], np.ndarray]

DIGITAL_OPS: dict[str, DigitalFn] = {
    "batchnorm": _batchnorm,
    "relu": lambda n, xs: np.maximum(xs[0], F32(0)),
    "sigmoid": lambda n, xs: _sigmoid(xs[0]),
    "tanh": lambda n, xs: np.tanh(xs[0]),
    "leaky_relu": lambda n, xs: np.where(xs[0] >= 0, xs[0],
                                         F32(n.attrs.get("alpha", 0.01)) * xs[0]),
    "clip": lambda n, xs: np.clip(xs[0], F32(n.attrs.get("min", -np.inf)),
                                  F32(n.attrs.get("max", np.inf))),
    "gelu": _gelu,
    "softmax": _softmax,
    "add": lambda n, xs: np.add(*_binary_operands(n, xs)),
    "sub": lambda n, xs: np.subtract(*_binary_operands(n, xs)),
    "mul": lambda n, xs: np.multiply(*_binary_operands(n, xs)),
    "div": lambda n, xs: np.divide(*_binary_operands(n, xs)),
    "pow": lambda n, xs: np.power(*_binary_operands(n, xs)),
    "matmul": _matmul,
    "layernorm": _layernorm,
    "reduce_mean": _reduce("mean"),
    "reduce_sum": _reduce("sum"),
    "reduce_max": _reduce("max"),
    "sqrt": lambda n, xs: np.sqrt(xs[0]),
    "erf": lambda n, xs: _erf(xs[0]),
    "exp": lambda n, xs: np.exp(xs[0]),
    "neg": lambda n, xs: -xs[0],
    "reciprocal": lambda n, xs: F32(1) / xs[0],
    "abs": lambda n, xs: np.abs(xs[0]),
    "concat": _concat,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "global_avgpool": lambda n, xs: xs[0].mean(axis=tuple(range(2, xs[0].ndim)), keepdims=True,
                                               dtype=F32),
    "reshape": lambda n, xs: xs[0].reshape((xs[0].shape[0],) + tuple(int(v) for v in n.attrs["shape"])),
    "transpose": _transpose,
    "take": _take,
    "embedding": _embedding,
}


def run_digital(node: Node, inputs: list[np.ndarray]) -> np.ndarray:
    """Apply one digital IR node to batched float32 inputs; returns a float32 array."""
    fn = DIGITAL_OPS.get(node.op)
    if fn is None:
        raise GraphError(f'node "{node.name}" ({node.op}): no digital implementation; '
                         f"digital ops: {', '.join(sorted(DIGITAL_OPS))}")
    out = fn(node, inputs)
    return out if out.dtype == F32 or node.op == "embedding" else out.astype(F32)


def lstm_cell(z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step from the gate pre-activations z (k, 4H) in ONNX order i, o, f, c.

    Returns the new hidden state and cell state: c' = f c + i g, h' = o tanh(c').
    """
    h = z.shape[1] // 4
    i, o, f = _sigmoid(z[:, :h]), _sigmoid(z[:, h:2 * h]), _sigmoid(z[:, 2 * h:3 * h])
    g = np.tanh(z[:, 3 * h:])
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def gru_cell(z: np.ndarray, h: np.ndarray) -> np.ndarray:
    """One GRU step from the layer's MVM outputs z (k, 4H): the update and reset gates' sums
    (z, r), the candidate's input part x W_h + b_Wh and its recurrent part h R_h + b_Rh.

    The reset gate scales the recurrent part after the product (ONNX linear_before_reset=1):
    h~ = tanh(a_x + r a_h), h' = (1 - z) h~ + z h.
    """
    n = z.shape[1] // 4
    u, r = _sigmoid(z[:, :n]), _sigmoid(z[:, n:2 * n])
    cand = np.tanh(z[:, 2 * n:3 * n] + r * z[:, 3 * n:])
    return (F32(1) - u) * cand + u * h
