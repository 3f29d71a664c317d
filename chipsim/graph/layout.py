"""Where the batch sits in an ONNX tensor, and how ONNX reshapes move it.

The IR keeps every tensor per sample, the batch in front. An ONNX tensor may hold the batch on
any axis, and exporters fold it together with neighbouring axes: multi-head attention reshapes
(T, B, H x d) into (T, B x H, d), so one ONNX axis then holds the heads and the batch. A
`Layout` records which ONNX axis holds the batch and how many IR axes are merged into it before
(`lead`) and after (`trail`) the batch, so that the IR tensor of an ONNX tensor of shape
pre + (lead x B x trail) + post is pre + lead + trail + post.

Reshapes then follow from one rule: a row-major reshape keeps the batch as long as the product
of everything before it and of everything after it stay the same; those two blocks may be cut up
differently, which in the IR is a plain reshape of the per-sample tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chipsim.graph.ops import OpError

#: Stands in for a dynamic batch size inside folded shape arithmetic; a dimension that holds the
#: batch and k other values folds to k * BATCH.
BATCH = -(2**40)


def fail(msg: str) -> None:
    raise OpError(msg)


@dataclass(frozen=True)
class Layout:
    """The ONNX axis holding the batch, and the IR axes merged into it before and after it."""

    batch: int
    lead: int = 0
    trail: int = 0

    @property
    def merged(self) -> bool:
        return bool(self.lead or self.trail)


def onnx_dims(ir_shape: tuple, lay: Layout, batch_value: int) -> list[int]:
    """The ONNX shape of an IR tensor; the batch axis carries `batch_value` times its merges."""
    b, end = lay.batch, lay.batch + lay.lead + lay.trail
    return list(ir_shape[:b]) + [math.prod(ir_shape[b:end]) * batch_value] + list(ir_shape[end:])


def ir_groups(rank: int, lay: Layout) -> list[list[int]]:
    """The IR axes of each ONNX axis (the batch axis: its merged axes, maybe none)."""
    extra = lay.lead + lay.trail
    return [[i] if i < lay.batch else list(range(lay.batch, lay.batch + extra)) if i == lay.batch
            else [i - 1 + extra] for i in range(rank)]


def ir_axis(lay: Layout, axis: int, rank: int, shape: list) -> int:
    """The IR axis of ONNX axis `axis` (negative counts from the end); never the batch axis."""
    if not -rank <= axis < rank:
        fail(f"axis {axis} out of range for {shape}")
    axis %= rank
    if axis == lay.batch:
        fail(f"cannot operate along the batch axis of {shape}")
    return ir_groups(rank, lay)[axis][0]


def resolve_target(dims: list[int], target: list[int], allowzero: bool) -> list[int]:
    """An ONNX Reshape target with its 0s and -1 filled in from the input dims."""
    if allowzero and 0 in target:
        fail("allowzero=1 with a zero in the target shape is unsupported")
    t = [dims[i] if v == 0 and i < len(dims) else v for i, v in enumerate(target)]
    if t.count(-1) > 1:
        fail(f"reshape target {target} has two unknown dimensions")
    total = math.prod(dims)
    if -1 in t:
        known = math.prod(v for v in t if v != -1)
        if known == 0 or total % known:
            fail(f"cannot reshape {dims} to {target}")
        t[t.index(-1)] = total // known
    if math.prod(t) != total:
        fail(f"cannot reshape {dims} to {target}")
    return t


def reshape(ir_shape: tuple, lay: Layout, target: list[int], batch_value: int,
            shown: list) -> tuple[list[int], Layout]:
    """The IR shape and layout after reshaping to a resolved `target` (`resolve_target`).

    With a dynamic batch (`batch_value` is BATCH) the batch's axis is the one negative value.
    A static batch size can match several axes (a batch of 1 matches any axis): then an axis
    that holds the batch alone wins, then one other than the last (which holds the features
    that matrix layers read), then the batch's old axis, then the first.
    """
    cut = lay.batch + lay.lead
    before, after = math.prod(ir_shape[:cut]), math.prod(ir_shape[cut:])
    found = []
    for j, v in enumerate(target):
        if (v >= 0) == (batch_value < 0) or v % batch_value:
            continue
        head, tail = math.prod(target[:j]), math.prod(target[j + 1:])
        if head < 1 or tail < 1 or before % head or after % tail:
            continue
        left, right = before // head, after // tail
        if left * right == v // batch_value:
            found.append((left > 1 or right > 1, j == len(target) - 1, j != lay.batch, j,
                          left, right))
    if not found:
        shown_t = ["B" if v < 0 else v for v in target] if batch_value < 0 else target
        fail(f"reshape of {shown} to {shown_t} would move the batch dimension (or split it)")
    *_, j, left, right = min(found)
    shape = (list(target[:j]) + [left] * (left > 1) + [right] * (right > 1)
             + list(target[j + 1:]))
    return shape, Layout(j, int(left > 1), int(right > 1))
