"""No timed result depends on a simulation setting: a conv chunk is one output row, always.

Issue 17, item 4: the model used to bundle several output rows into one chunk (`job_mvms`, more
rows for replicated layers) to save events, which made a layer wait for the last bundled row's
inputs and hold every result until the bundle was done. The knob is gone; these tests hold that
the plan is per row whatever the mapping, and that no grouping setting can be passed.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES
from chipsim.timing.chunks import plan_layers
from chipsim.timing.simulate import Simulation, simulate

ROOT = Path(__file__).resolve().parent.parent
RESNET = ROOT / "workloads" / "mnist32_resnet9" / "resnet9.onnx"
MLP = ROOT / "workloads" / "digits_mlp" / "mlp.onnx"


def test_no_grouping_setting_is_accepted():
    for fn in (Simulation.__init__, simulate, plan_layers):
        assert "job_mvms" not in inspect.signature(fn).parameters
    with pytest.raises(TypeError):
        simulate(None, [], None, None, None, job_mvms=16)


@pytest.mark.parametrize("strategy", ["balanced", "packed"])
def test_every_conv_chunk_is_one_output_row_whatever_the_replication(strategy):
    chip = load_chip("hermes64")
    graph = load_graph(RESNET)
    layers = lower(graph)
    mapping = STRATEGIES[strategy].place(layers, chip)
    plans = plan_layers(layers, graph)
    convs = [layer for layer in layers if layer.op == "conv"]
    assert convs
    if strategy == "balanced":  # the case that used to bundle rows
        assert any(mapping.replication.get(layer.name, 1) > 1 for layer in convs)
    for layer in convs:
        node = graph.node(layer.name)
        h_out, w_out = graph.shapes[node.outputs[0]][1:3]
        assert plans[layer.name].bounds == [r * w_out for r in range(h_out + 1)]


@pytest.mark.parametrize("model", [RESNET, MLP], ids=["resnet9", "mlp"])
def test_core_busy_cycles_are_the_sum_of_their_mvms(model):
    """Time advances per MVM: a core's busy cycles are the cycles of the MVMs it ran, added up."""
    chip = load_chip("hermes64")
    graph = load_graph(model)
    layers = lower(graph)
    mapping = STRATEGIES["balanced"].place(layers, chip)
    (shape,) = graph.inputs.values()
    x = np.random.default_rng(0).random((2,) + tuple(shape), dtype=np.float32)
    sim = Simulation(graph, layers, chip, mapping, seed=0)
    a, _, _ = sim.run(x, keep_outputs=False, keep_streaming=False)
    b, _, _ = sim.run(x, keep_outputs=False, keep_streaming=False)
    assert a.first_latency_cycles == b.first_latency_cycles and a.energy_pj == b.energy_pj
    assert a.core_utilization == b.core_utilization
    # the fixed PWM window makes every MVM of a block cost the same
    p = sim.params
    per_core: dict[int, int] = {}
    for pl in mapping.placements:
        cols = pl.block.col_stop - pl.block.col_start
        mvm = int(p.mvm_cycles(p.pwm_steps(np.zeros(1)), cols)[0])
        layer = next(l for l in layers if l.name == pl.block.layer)
        replicas = mapping.replication.get(layer.name, 1)
        count = sum(1 for g in range(len(x) * layer.mvms) if g % replicas == pl.replica)
        per_core[pl.core] = per_core.get(pl.core, 0) + count * mvm
    busy = {c: round(u * a.cycles) for c, u in a.core_utilization.items()}
    assert busy == per_core
