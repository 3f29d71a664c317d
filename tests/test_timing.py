"""The cycle-level chip model: hand-checked latency, monotone links, energy books, exact values."""

from __future__ import annotations

import math
import math as _m

import numpy as np
import pytest
import yaml

from chipsim.arch import load_chip
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES
from chipsim.timing.simulate import Simulation, simulate


@pytest.fixture(scope="module")
def chip():
    return load_chip("hermes64")


def native_graph(tmp_path, layers, inputs, name="net"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "inputs": inputs, "layers": layers}))
    return load_graph(path)


def dense(name, units, seed=0, **extra):
    return {"name": name, "op": "dense", "units": units,
            "weights": {"init": {"kind": "normal", "seed": seed}}, **extra}


def conv(name, channels, seed=0):
    return {"name": name, "op": "conv2d", "out_channels": channels, "kernel_shape": [3, 3],
            "pads": [1, 1, 1, 1], "weights": {"init": {"kind": "normal", "seed": seed}}}


def run(graph, chip, strategy="sequential", inputs=4, seed=0, **kw):
    layers = lower(graph)
    mapping = STRATEGIES[strategy].place(layers, chip)
    (shape,) = graph.inputs.values()
    x = np.random.default_rng(seed).random((inputs,) + tuple(shape), dtype=np.float32)
    return simulate(graph, layers, chip, mapping, x, seed=seed, **kw)[0]


def test_one_core_one_layer_latency_is_the_hand_count(tmp_path, chip):
    graph = native_graph(tmp_path, [dense("fc", 8), {"name": "act", "op": "relu"}], {"x": [16]})
    result = run(graph, chip, inputs=1)
    c = chip.cores
    for mode in (chip.default_read_mode,):
        phases = len(chip.read_modes[mode].phases)
        # fixed PWM window of full-scale steps, then one ADC conversion for the 8 columns
        phase_ns = c.dac.max_code * c.dac.step_ns + math.ceil(8 / c.adc.per_core) * c.adc.conversion_ns
        mvm = math.ceil(phase_ns * chip.clock_ghz) * phases
        # the LDPU: 8 outputs x (affine with bias) + 8 ReLUs, `lanes` per cycle, plus latency
        ldpu = math.ceil((8 + 8) / c.ldpu.lanes) + c.ldpu.latency_cycles
        assert result.first_latency_cycles == mvm + ldpu
    assert result.simulated_mvms == 1 and result.cores_used == 1


def test_doubling_link_width_never_slows_a_run(tmp_path, chip):
    graph = native_graph(tmp_path, [conv("c0", 40, 1), {"name": "r0", "op": "relu"},
                                    conv("c1", 40, 2), {"name": "r1", "op": "relu"},
                                    {"name": "flat", "op": "reshape", "shape": [40 * 36]},
                                    dense("fc", 300, 3), dense("out", 10, 4)],
                         {"x": [3, 6, 6]})
    for strategy in ("sequential", "balanced"):
        slow = run(graph, chip, strategy, inputs=3, compare=False)
        fast = run(graph, chip, strategy, inputs=3, compare=False, link_width_scale=2.0)
        assert fast.first_latency_cycles <= slow.first_latency_cycles
        assert fast.cycles <= slow.cycles
        assert fast.inferences_per_s >= slow.inferences_per_s


def test_energy_total_is_the_sum_of_every_breakdown(tmp_path, chip):
    graph = native_graph(tmp_path, [conv("c0", 8), {"name": "r", "op": "relu"},
                                    {"name": "p", "op": "maxpool", "kernel_shape": [2, 2],
                                     "strides": [2, 2]},
                                    {"name": "flat", "op": "reshape", "shape": [8 * 4 * 4]},
                                    dense("fc", 10)], {"x": [1, 8, 8]})
    r = run(graph, chip, "balanced", inputs=3, compare=False)
    total = r.energy_pj
    assert total > 0
    for part in (r.energy_by_component, r.energy_by_layer):
        assert math.fsum(part.values()) == pytest.approx(total, rel=1e-12)
    assert set(r.energy_by_component) >= {"array", "dac", "adc", "ldpu", "gdpu", "network", "static"}
    assert math.fsum(r.energy_by_core.values()) <= total


def test_outputs_equal_the_functional_path_bit_for_bit(chip):
    graph = load_graph("workloads/mnist_cnn/cnn.onnx")
    for strategy in ("balanced", "packed"):
        r = run(graph, chip, strategy, inputs=5, seed=3)
        assert r.outputs_match_functional is True


def test_same_seed_same_figures(tmp_path, chip):
    graph = native_graph(tmp_path, [conv("c0", 8), {"name": "r", "op": "relu"},
                                    {"name": "flat", "op": "reshape", "shape": [8 * 16]},
                                    dense("fc", 10)], {"x": [1, 4, 4]})
    a = run(graph, chip, "balanced", inputs=3, seed=7, compare=False).to_json()
    b = run(graph, chip, "balanced", inputs=3, seed=7, compare=False).to_json()
    assert a == b


def test_separate_cores_reach_the_slowest_stage_throughput(tmp_path, chip):
    # three conv layers of different MVM counts, one core each (sequential, no replicas)
    graph = native_graph(tmp_path, [conv("c0", 8, 1), {"name": "r0", "op": "relu"},
                                    {"name": "s", "op": "maxpool", "kernel_shape": [2, 2],
                                     "strides": [2, 2]},
                                    conv("c1", 8, 2), {"name": "r1", "op": "relu"},
                                    conv("c2", 8, 3)], {"x": [1, 8, 8]})
    layers = lower(graph)
    r = run(graph, chip, "sequential", inputs=12, compare=False)
    c = chip.cores
    phases = len(chip.read_modes[chip.default_read_mode].phases)
    mvm = math.ceil((c.dac.max_code * c.dac.step_ns + c.adc.conversion_ns) * chip.clock_ghz) * phases
    slowest = max(layer.mvms for layer in layers) * mvm  # cycles per inference of the busiest core
    period = chip.clock_ghz * 1e9 / r.inferences_per_s
    assert abs(period - slowest) <= mvm
    assert r.bottleneck["kind"] == "core" and r.bottleneck["layers"] == ["c0"]


def test_conv_rows_wait_for_the_rows_their_window_covers(tmp_path):
    from chipsim.timing.chunks import plan_layers

    graph = native_graph(tmp_path, [conv("c0", 4, 1), {"name": "p", "op": "maxpool",
                                                       "kernel_shape": [2, 2], "strides": [2, 2]},
                                    conv("c1", 4, 2)], {"x": [1, 8, 8]})
    plans = plan_layers(lower(graph), graph, job_mvms=1)
    assert plans["c0"].bounds == [8 * r for r in range(9)]  # one chunk per output row
    # c1 row r (4 x 4 map, 3x3, pad 1) reads pooled rows up to r + 1, i.e. c0 rows up to 2r + 3
    assert plans["c1"].needs["c0"] == [4, 6, 8, 8]
