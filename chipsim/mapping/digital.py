"""Which digital work runs on a core's local unit and which on a global unit.

The local digital unit (LDPU) beside a core's ADCs does element-wise work on the values that
core produced; anything that combines values of several pixels or several layers (pooling,
residual adds, LSTM and GRU cells, softmax, layer norms, reductions, products of two
activations) needs them in one place, a global digital unit (GDPU)
reached over the network. Where the work runs decides where a layer's outputs travel, so the
mapping's traffic (`chipsim.mapping.traffic`) and the event model (`chipsim.timing`) both ask
here.
"""

from __future__ import annotations

from typing import Any, Iterable

# The operation each IR digital op needs from a unit's instruction set (`Op` in the schema).
UNIT_OP = {
    "relu": "relu", "leaky_relu": "relu", "clip": "relu", "batchnorm": "affine", "affine": "affine",
    "add": "add", "sub": "add", "mul": "multiply", "sigmoid": "sigmoid", "tanh": "tanh",
    "maxpool": "max", "avgpool": "add", "global_avgpool": "add", "lstm_cell": "lut",
    "softmax": "lut", "gelu": "lut", "embedding": "lut", "gru_cell": "lut", "matmul": "mac",
    "div": "lut", "pow": "lut", "sqrt": "lut", "erf": "lut", "exp": "lut", "reciprocal": "lut",
    "neg": "affine", "abs": "max", "layernorm": "lut", "reduce_mean": "add", "reduce_sum": "add",
    "reduce_max": "max",
}
# Ops that combine values of several pixels or several layers: never local to one core.
GATHERING = {"add", "sub", "mul", "div", "maxpool", "avgpool", "global_avgpool", "lstm_cell",
             "gru_cell", "softmax", "concat", "embedding", "matmul", "layernorm", "reduce_mean",
             "reduce_sum", "reduce_max"}


def runs_on_core(op: str, ldpu_ops: Iterable[str]) -> bool:
    """Whether a digital op runs on the producing core's LDPU rather than on a global unit."""
    return op not in GATHERING and UNIT_OP.get(op, "lut") in tuple(ldpu_ops)


def needs_global_unit(layer: Any, ldpu_ops: Iterable[str]) -> bool:
    """Whether some digital op after `layer` runs on a global unit (its outputs go there first)."""
    ops = getattr(layer, "digital_ops", None) or {}
    return any(count and not runs_on_core(op, ldpu_ops) for op, count in ops.items())
