"""The cycle-level chip model: hand-checked latency, monotone links, energy books, exact values."""

from __future__ import annotations

import math

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
    # one MVM per input: the real one and the timing-only ones streamed for the throughput
    assert result.simulated_mvms == 1 + result.timing_only_inputs and result.cores_used == 1


def test_doubling_link_width_never_slows_a_run(tmp_path, chip):
    graph = native_graph(tmp_path, [conv("c0", 40, 1), {"name": "r0", "op": "relu"},
                                    conv("c1", 40, 2), {"name": "r1", "op": "relu"},
                                    {"name": "flat", "op": "reshape", "shape": [40 * 36]},
                                    dense("fc", 300, 3), dense("out", 10, 4)],
                         {"x": [3, 6, 6]})
    for strategy in ("sequential", "balanced"):
        slow = run(graph, chip, strategy, inputs=16, compare=False)
        fast = run(graph, chip, strategy, inputs=16, compare=False, link_width_scale=2.0)
        assert fast.first_latency_cycles <= slow.first_latency_cycles
        assert fast.cycles <= slow.cycles
        assert slow.steady_state and fast.steady_state
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
    plans = plan_layers(lower(graph), graph)
    assert plans["c0"].bounds == [8 * r for r in range(9)]  # one chunk per output row
    # c1 row r (4 x 4 map, 3x3, pad 1) reads pooled rows up to r + 1, i.e. c0 rows up to 2r + 3
    assert plans["c1"].needs["c0"] == [4, 6, 8, 8]


def pipelined_net(tmp_path):
    return native_graph(tmp_path, [conv("c0", 16, 1), {"name": "r0", "op": "relu"},
                                   conv("c1", 16, 2), {"name": "r1", "op": "relu"},
                                   {"name": "p", "op": "maxpool", "kernel_shape": [2, 2],
                                    "strides": [2, 2]},
                                   conv("c2", 16, 3), {"name": "r2", "op": "relu"},
                                   {"name": "flat", "op": "reshape", "shape": [16 * 16]},
                                   dense("fc", 10, 4)], {"x": [3, 8, 8]})


@pytest.mark.parametrize("strategy", ["sequential", "packed", "balanced"])
def test_throughput_does_not_depend_on_how_many_inputs_stream(tmp_path, chip, strategy):
    # balanced replicates c1 25 times for 64 MVMs per input (replica g % 25 takes MVM g), so
    # the intervals between completions swing by a factor 4 in a pattern of several inputs
    graph = pipelined_net(tmp_path)
    rates = {n: run(graph, chip, strategy, inputs=n, compare=False) for n in (1, 3, 8, 32)}
    assert all(r.steady_state for r in rates.values())
    assert rates[1].timing_only_inputs > 0  # the stream went on past the one input
    for r in rates.values():
        assert r.inferences_per_s == pytest.approx(rates[32].inferences_per_s, rel=0.02)


def test_a_long_stream_agrees_with_the_measured_rate(tmp_path, chip):
    graph = pipelined_net(tmp_path)
    one = run(graph, chip, "balanced", inputs=1, compare=False)
    layers = lower(graph)
    sim = Simulation(graph, layers, chip, STRATEGIES["balanced"].place(layers, chip))
    ends: dict[int, int] = {}
    x = np.random.default_rng(0).random((160, 3, 8, 8), dtype=np.float32)
    sim.run(x, keep_outputs=False, keep_streaming=False,
            on_finish=lambda n, s, e: ends.update({n: e}))
    mean = 100 * chip.clock_ghz * 1e9 / (ends[150] - ends[50])  # 100 inputs mid-stream
    assert one.inferences_per_s == pytest.approx(mean, rel=0.02)


def test_timing_only_inputs_change_no_output_energy_or_trace(tmp_path, chip):
    graph = pipelined_net(tmp_path)
    layers = lower(graph)
    sim = Simulation(graph, layers, chip, STRATEGIES["balanced"].place(layers, chip))
    x = np.random.default_rng(3).random((3, 3, 8, 8), dtype=np.float32)
    streamed, trace, outputs = sim.run(x, trace_inputs=8)
    alone, _, _ = sim.run(x, trace_inputs=8, keep_streaming=False)
    assert streamed.timing_only_inputs > 0 and alone.timing_only_inputs == 0
    assert np.array_equal(outputs, sim.functional(x))  # bit for bit, the 3 real inputs only
    dynamic = [{k: v for k, v in r.energy_by_component.items() if k != "static"}
               for r in (streamed, alone)]
    assert dynamic[0] == pytest.approx(dynamic[1], rel=1e-12)
    assert {e["args"]["input"] for e in trace.to_json()["traceEvents"] if e["ph"] == "X"} \
        == {0, 1, 2}


def test_a_short_stream_without_timing_only_inputs_says_it_did_not_settle(tmp_path, chip):
    graph = pipelined_net(tmp_path)
    layers = lower(graph)
    sim = Simulation(graph, layers, chip, STRATEGIES["balanced"].place(layers, chip))
    x = np.random.default_rng(0).random((12, 3, 8, 8), dtype=np.float32)
    r, _, _ = sim.run(x, keep_outputs=False, keep_streaming=False)
    assert not r.steady_state and r.inferences_per_s is not None
    assert any("not settled" in note for note in r.notes)


def test_replayed_activity_moves_each_mvm_to_the_replica_that_takes_it(tmp_path, chip):
    from chipsim.functional.analog import AnalogNetwork
    from chipsim.functional.executor import run_graph
    from chipsim.timing.activity import ActivityRecorder
    from chipsim.timing.params import TimingParams

    graph = pipelined_net(tmp_path)
    layers = lower(graph)
    mapping = STRATEGIES["balanced"].place(layers, chip)
    net = AnalogNetwork(graph, layers, mapping, chip)
    rec = ActivityRecorder(net, layers, mapping, net.tiles, TimingParams.from_chip(chip))
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    run_graph(graph, rec, {"x": x}, 0)
    layer = next(l for l in layers if mapping.replication[l.name] == 25)
    act = rec.take(0, layer.name)
    moved = rec.replay(act, layer.name, 0, 1)
    per_mvm = [np.diff(a.cycles, axis=1) for a in (act, moved)]
    replica = np.array([b.replica for b in rec.blocks[layer.name]])[:, None]
    p = np.arange(layer.mvms)
    assert np.all((per_mvm[1] > 0) == ((layer.mvms + p) % 25 == replica))
    key = [(b.row_start, b.col_start) for b in rec.blocks[layer.name]]
    for k in set(key):  # every block position does the same MVMs, at the same cost, in all
        rows = [i for i, kk in enumerate(key) if kk == k]
        assert np.array_equal(per_mvm[0][rows].sum(axis=0), per_mvm[1][rows].sum(axis=0))


def test_inputs_enter_as_a_stream_not_in_bursts(tmp_path, chip):
    graph = pipelined_net(tmp_path)
    layers = lower(graph)
    sim = Simulation(graph, layers, chip, STRATEGIES["packed"].place(layers, chip))
    x = np.random.default_rng(0).random((12, 3, 8, 8), dtype=np.float32)
    starts: dict[int, int] = {}
    sim.run(x, group=8, keep_outputs=False, on_finish=lambda n, s, e: starts.update({n: s}))
    entered = [starts[n] for n in range(12)]
    assert all(a < b for a, b in zip(entered, entered[1:]))  # one at a time, in order
    # the value group (8 inputs computed at once) leaves the timing alone
    again: dict[int, int] = {}
    sim.run(x, group=3, keep_outputs=False, on_finish=lambda n, s, e: again.update({n: e}))
    ends: dict[int, int] = {}
    sim.run(x, group=8, keep_outputs=False, on_finish=lambda n, s, e: ends.update({n: e}))
    assert again == ends


def test_steady_rate_measures_whole_repeats_and_leaves_out_the_drain():
    from chipsim.timing.results import steady_rate

    # intervals 100, 300 repeating; the last input, alone on the chip, finishes 30 cycles after
    # the one before, past the moment one more input would have entered (cycle 1720)
    ends = [500, 600, 900, 1000, 1300, 1400, 1700, 1730]
    rate, used, settled = steady_rate(ends, horizon=1720, clock_ghz=1.0, min_gaps=4)
    assert settled and used == 5 and rate == pytest.approx(1e9 / 200)  # the last 2 repeats
    # too few intervals to see them repeat: the window's mean, not settled
    assert steady_rate(ends[:4], horizon=1720, clock_ghz=1.0, min_gaps=4) \
        == (pytest.approx(3e9 / 500), 4, False)
    assert steady_rate([500, 530], horizon=520, clock_ghz=1.0) == (None, 1, False)
