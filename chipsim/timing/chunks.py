"""How a layer's MVMs split into chunks, and which chunks of its sources each one waits for.

A conv layer does not need its whole input before it can start: output row r of a 3x3 conv
needs only input rows up to r + 1. The timed model therefore streams feature maps a row at a
time: a *chunk* of a conv layer is one output row (its W_out MVMs, in the row-major MVM order
of docs/contracts.md), a chunk of an LSTM is one time step, and a dense layer is one chunk.

A chunk is always one output row, never a bundle of several: bundling rows to save events would
make a layer wait for the last row's inputs before starting the first and hold every result
until the bundle is done, so results would depend on a simulation setting. (A core's job is one
block's MVMs of one chunk; it costs one event, `core.py`.) A chunk waits until enough chunks of every source layer have arrived. Between a source and this
layer there may be digital ops (pooling, residual adds, flattening); the source's rows are
matched to this layer's input rows in proportion (a 2x2 max-pool makes input row i out of
source rows 2i and 2i + 1), and a dense layer waits for all of them. An LSTM's step t also
waits for its own step t - 1 (the hidden state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from chipsim.graph.ops import RECURRENT_OPS


@dataclass
class LayerPlan:
    """Chunks of one layer: MVM ranges, and per source the source chunks each chunk needs."""

    name: str
    mvms: int
    bounds: list[int]  # chunk c covers MVMs bounds[c] .. bounds[c + 1] - 1
    needs: dict[str, list[int]] = field(default_factory=dict)  # source -> chunks needed, per chunk
    # source -> per chunk, the first source chunk it reads: those before it are done with once
    # the chunk before it is done (a conv's window has moved on; `pipeline.py` frees them)
    firsts: dict[str, list[int]] = field(default_factory=dict)
    recurrent: bool = False  # chunk c waits for chunk c - 1 of this layer (LSTM state)
    row_mvms: int = 1  # MVMs per output row (a conv's output width)

    @property
    def chunks(self) -> int:
        return len(self.bounds) - 1


def _conv_rows_needed(node: Any, in_height: int, out_row: int) -> int:
    """Input rows (a prefix) that output row `out_row` of a conv reads."""
    kh = int(node.weights["W"].shape[2])
    stride = int(node.attrs.get("strides", (1, 1))[0])
    dil = int(node.attrs.get("dilations", (1, 1))[0])
    top = int(node.attrs.get("pads", (0, 0, 0, 0))[0])
    last = out_row * stride - top + (kh - 1) * dil
    return max(1, min(in_height, last + 1))


def _conv_first_row(node: Any, out_row: int) -> int:
    """The first input row that output row `out_row` of a conv reads."""
    stride = int(node.attrs.get("strides", (1, 1))[0])
    top = int(node.attrs.get("pads", (0, 0, 0, 0))[0])
    return max(0, out_row * stride - top)


def plan_layers(layers: Sequence[Any], graph: Any | None = None) -> dict[str, LayerPlan]:
    """A plan per layer. Without the IR `graph`, every layer is one chunk (no row streaming)."""
    plans: dict[str, LayerPlan] = {}
    for layer in layers:
        node = graph.node(layer.name) if graph is not None else None
        if node is not None and layer.op == "conv":
            h_out, w_out = graph.shapes[node.outputs[0]][1:3]
            bounds = [r * w_out for r in range(h_out + 1)]
            row_mvms = w_out
        elif layer.op in RECURRENT_OPS:
            bounds, row_mvms = list(range(layer.mvms + 1)), 1
        else:
            bounds, row_mvms = [0, layer.mvms], layer.mvms
        plans[layer.name] = LayerPlan(layer.name, layer.mvms, bounds,
                                      recurrent=layer.op in RECURRENT_OPS, row_mvms=row_mvms)
    backward = {layer.name for layer in layers if getattr(layer, "reverse", False)}
    for layer in layers:
        plan = plans[layer.name]
        node = graph.node(layer.name) if graph is not None else None
        for source in dict.fromkeys(layer.sources):
            if source not in plans:
                continue
            have = plans[source].chunks
            needs, firsts = [], []
            for c in range(plan.chunks):
                if node is not None and layer.op == "conv":
                    in_height = graph.shapes[node.inputs[0]][1]
                    last_row = plan.bounds[c + 1] // plan.row_mvms - 1
                    rows = _conv_rows_needed(node, in_height, last_row)
                    needs.append(min(have, math.ceil(rows * have / in_height)))
                    first = _conv_first_row(node, plan.bounds[c] // plan.row_mvms)
                    firsts.append(min(needs[-1] - 1, first * have // in_height))
                elif layer.op in RECURRENT_OPS and not backward & {layer.name, source}:
                    # both in time order; a reverse layer's first step (or output) is the
                    # last time step, so it waits for (is waited for by) everything
                    needs.append(min(have, math.ceil((c + 1) * have / plan.chunks)))
                    firsts.append(min(needs[-1] - 1, c * have // plan.chunks))
                else:
                    needs.append(have)
                    firsts.append(0)
            plan.needs[source] = needs
            plan.firsts[source] = firsts
    return plans
