"""Constant folding: ONNX ops whose inputs are all constants, evaluated at import with numpy.

Exporters compute shapes in the graph (Shape -> Gather -> Mul -> Concat -> Reshape); with a
dynamic batch the batch size is the marker `BATCH` (`chipsim.graph.layout`), which survives
products and exact divisions, so a folded target shape still says which axis holds the batch.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import onnx

from chipsim.graph.layout import BATCH


def axes_of(vals: list, a: dict) -> list[int] | None:
    """The axes of a Squeeze/Unsqueeze/Reduce: its second input (opset 13+) or attribute."""
    if len(vals) > 1 and vals[1] is not None:
        return [int(v) for v in np.ravel(vals[1])]
    return [int(v) for v in a["axes"]] if "axes" in a else None


def _unsqueeze(x: np.ndarray, axes: list[int]) -> np.ndarray:
    rank = x.ndim + len(axes)
    for ax in sorted(ax % rank for ax in axes):
        x = np.expand_dims(x, ax)
    return x


def _reshape_target(shape: tuple, target: np.ndarray) -> list[int]:
    t = [int(v) for v in np.ravel(target)]
    return [shape[i] if v == 0 else v for i, v in enumerate(t)]


def _slice(x: np.ndarray, vals: list) -> np.ndarray:
    starts, ends = np.ravel(vals[1]), np.ravel(vals[2])
    axes = np.ravel(vals[3]) if len(vals) > 3 and vals[3] is not None else range(len(starts))
    steps = np.ravel(vals[4]) if len(vals) > 4 and vals[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[int(ax)] = slice(int(max(min(s, 2**62), -2**62)), int(max(min(e, 2**62), -2**62)),
                               int(st))
    return x[tuple(index)]


def _dims(shape: np.ndarray) -> list[int]:
    """A folded shape as dims; a dynamic batch becomes 1, as the value is the same per sample."""
    return [int(d) // BATCH if int(d) < 0 and int(d) % BATCH == 0 else int(d)
            for d in np.ravel(shape)]


def _int_div(x, y):
    if np.issubdtype(np.asarray(x).dtype, np.integer):
        return np.trunc(np.asarray(x) / np.asarray(y)).astype(np.asarray(x).dtype)
    return np.asarray(x) / np.asarray(y)


#: ONNX op -> its value from constant inputs (a list, None for an absent optional one) and
#: attributes
FOLD: dict[str, Callable[[list, dict], Any]] = {
    "Gather": lambda v, a: np.take(v[0], v[1], axis=int(a.get("axis", 0))),
    "Unsqueeze": lambda v, a: _unsqueeze(v[0], axes_of(v, a)),
    "Squeeze": lambda v, a: np.squeeze(v[0], axis=tuple(axes_of(v, a) or ()) or None),
    "Concat": lambda v, a: np.concatenate([np.atleast_1d(x) for x in v], axis=int(a["axis"])),
    "Reshape": lambda v, a: v[0].reshape(_reshape_target(v[0].shape, v[1])),
    "Cast": lambda v, a: v[0].astype(onnx.helper.tensor_dtype_to_np_dtype(int(a["to"]))),
    "Slice": lambda v, a: _slice(v[0], v),
    "Add": lambda v, a: v[0] + v[1],
    "Sub": lambda v, a: v[0] - v[1],
    "Mul": lambda v, a: v[0] * v[1],
    "Div": lambda v, a: _int_div(v[0], v[1]),
    "Transpose": lambda v, a: np.transpose(v[0], a.get("perm")),
    "ConstantOfShape": lambda v, a: np.full(_dims(v[0]),
                                               np.ravel(a.get("value", np.zeros(1, np.float32)))[0]),
    "Expand": lambda v, a: np.broadcast_to(v[0], np.broadcast_shapes(v[0].shape, _dims(v[1]))),
    "Range": lambda v, a: np.arange(v[0].item(), v[1].item(), v[2].item()),
    "Flatten": lambda v, a: v[0].reshape(int(np.prod(v[0].shape[:a.get("axis", 1)])), -1),
    "Shape": lambda v, a: np.array(v[0].shape, np.int64)[a.get("start", 0):a.get("end")],
    "Size": lambda v, a: np.array(v[0].size, np.int64),
    "Mod": lambda v, a: np.fmod(v[0], v[1]) if a.get("fmod", 0) else np.mod(v[0], v[1]),
    "Pow": lambda v, a: np.power(v[0], v[1]),
    "Min": lambda v, a: np.minimum.reduce([np.asarray(x) for x in v]),
    "Max": lambda v, a: np.maximum.reduce([np.asarray(x) for x in v]),
    "Sqrt": lambda v, a: np.sqrt(v[0]),
    "Neg": lambda v, a: -v[0],
    "Abs": lambda v, a: np.abs(v[0]),
    "Floor": lambda v, a: np.floor(v[0]),
    "Ceil": lambda v, a: np.ceil(v[0]),
    "Equal": lambda v, a: np.equal(v[0], v[1]),
    "Less": lambda v, a: np.less(v[0], v[1]),
    "Greater": lambda v, a: np.greater(v[0], v[1]),
    "Not": lambda v, a: np.logical_not(v[0]),
    "And": lambda v, a: np.logical_and(v[0], v[1]),
    "Or": lambda v, a: np.logical_or(v[0], v[1]),
    "Where": lambda v, a: np.where(v[0], v[1], v[2]),
    "ReduceProd": lambda v, a: np.prod(v[0], axis=tuple(axes_of(v, a) or range(v[0].ndim)),
                                          keepdims=bool(a.get("keepdims", 1))),
}
