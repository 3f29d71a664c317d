"""Reading ONNX's recurrent layers: LSTM and GRU, forward, reverse or bidirectional.

Each direction becomes one IR node (`lstm` or `gru`), and so one crossbar array per layer and
direction; the ONNX outputs, which carry a direction axis, are rebuilt from them with reshapes
(and a concat for both directions). Initial states must be zero, as PyTorch exports them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import onnx

from chipsim.graph.layout import fail


def _zero_or_absent(imp, node: onnx.NodeProto, i: int, what: str) -> None:
    if len(node.input) > i and node.input[i]:
        if node.input[i] not in imp.consts or np.any(imp.consts[node.input[i]]):
            fail(f"{what} is unsupported (only absent or all-zero)")


#: Per recurrent op: the activations it computes, its state inputs after the sequence lengths,
#: and its outputs after Y (the final states).
_RECURRENT = {
    "lstm": (["sigmoid", "tanh", "tanh"], ["initial_h", "initial_c", "peephole weights P"],
             ["Y_h", "Y_c"]),
    "gru": (["sigmoid", "tanh"], ["initial_h"], ["Y_h"]),
}


def _recurrent(op: str):
    activations, states_in, states_out = _RECURRENT[op]

    def handler(imp, node, name, origin, a):
        direction = a.get("direction", "forward")
        if direction not in ("forward", "reverse", "bidirectional"):
            fail(f"direction {direction!r} unsupported; supported: forward, reverse, "
                  "bidirectional")
        acts = a.get("activations")
        if acts and [s.lower() for s in acts] != activations * (1 + (direction == "bidirectional")):
            fail(f"activations {acts} unsupported; supported: "
                  f"{', '.join(x.capitalize() for x in activations)}")
        if "clip" in a or a.get("input_forget", 0):
            fail("cell clip and input_forget are unsupported")
        if op == "gru" and not a.get("linear_before_reset", 0):
            fail("linear_before_reset=0 is unsupported (it needs a second MVM per step); "
                  "PyTorch's GRU exports linear_before_reset=1")
        lay = int(a.get("layout", 0))
        x = node.input[0]
        imp.plain(x)
        full = imp.full(x)
        want = 1 if lay == 0 else 0
        if len(full) != 3 or full.index("B") != want:
            fail(f"input {full} must be 3-D with the batch at axis {want} (layout={lay}); "
                  "export with a dynamic batch dimension")
        w = imp.const(node.input[1], "W").reshape(-1, *imp.consts[node.input[1]].shape[-2:])
        r = imp.const(node.input[2], "R").reshape(-1, *imp.consts[node.input[2]].shape[-2:])
        h = int(a.get("hidden_size", r.shape[-1]))
        bias = imp.opt_const(node, 3, "B")
        seq = imp.opt_const(node, 4, "sequence_lens") if len(node.input) > 4 and node.input[4] \
            else None
        if seq is not None and np.any(seq != imp.g.shapes[imp.act(x).name][0]):
            fail("variable sequence_lens is unsupported")
        for i, what in enumerate(states_in, start=5):
            _zero_or_absent(imp, node, i, what)
        outs = list(node.output) + [""] * (1 + len(states_out) - len(node.output))
        states = any(outs[1:])
        steps = full[0] if lay == 0 else full[1]
        # one IR node per direction; a single one keeps the ONNX node's name
        runs = {"forward": [(name, 0)], "reverse": [(name, 1)],
                "bidirectional": [(f"{name}/forward", 0), (f"{name}/reverse", 1)]}[direction]
        seq_b, state_b = (2, 1) if lay == 0 else (0, 0)
        per_dir = []  # per direction: its IR outputs (Y, then the states)
        for d, (run, backward) in enumerate(runs):
            weights = {"W": w[d], "R": r[d]}
            if bias is not None:
                weights["B"] = bias.reshape(-1, bias.shape[-1])[d]
            ir_outs = [f"{run}/Y"] + ([f"{run}/{s}" for s in states_out] if states else [])
            attrs = {"hidden_size": h, "state_outputs": int(states)}
            if backward:
                attrs["reverse"] = 1
            imp.emit(run, origin, op, [x], ir_outs, [0] * len(ir_outs), attrs, weights)
            per_dir.append(ir_outs)
        for k, o in enumerate(outs):
            if not o or (k and not states):
                continue
            b, shape = (state_b, [1, h]) if k else (seq_b, [steps, 1, h])
            if len(per_dir) == 1:  # the ONNX shape's direction axis of one
                ir = per_dir[0][k]
                imp.emit(f"{ir}_dirs", origin, "reshape", [ir], [o], [b], {"shape": shape})
                continue
            parts = []
            for ir_outs in per_dir:
                imp.emit(f"{ir_outs[k]}_dirs", origin, "reshape", [ir_outs[k]],
                         [f"{ir_outs[k]}_dirs"], [0], {"shape": shape})
                parts.append(f"{ir_outs[k]}_dirs")
            imp.emit(f"{name}/{'Y' if k == 0 else states_out[k - 1]}", origin, "concat", parts,
                     [o], [b], {"axis": 1 if k == 0 else 0})
    return handler


RECURRENT_HANDLERS: dict[str, Callable] = {"LSTM": _recurrent("lstm"), "GRU": _recurrent("gru")}
