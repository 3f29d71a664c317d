"""One message model, two users: the mapper's traffic and busiest-core MVMs are the event model's.

`chipsim.mapping.traffic.Routes` owns who sends what to whom; the event model sends exactly
those messages and the mapper adds them up per inference. A copy of a layer does mvms / R of its
MVMs per inference on average, the event model counts what each copy took, so the two agree
exactly when every copied layer's MVMs over the run are a multiple of its copies (N below).
Per-inference figures count one inference whatever the number of inputs streamed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from chipsim.arch import load_chip
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES, summarize
from chipsim.mapping.metrics import core_mvms
from chipsim.timing.simulate import Simulation

ROOT = Path(__file__).resolve().parent.parent
CIFAR = ROOT / "workloads" / "cifar_resnet9" / "resnet9.onnx"
MNIST = ROOT / "workloads" / "mnist_resnet9" / "resnet9.onnx"


@pytest.fixture(scope="module")
def chip():
    return load_chip("hermes64")


def whole_rounds(mapping, layers) -> int:
    """Inputs after which every copy of every layer has taken the same number of MVMs."""
    return math.lcm(*(r // math.gcd(r, layer.mvms)
                      for layer in layers for r in [mapping.replication.get(layer.name, 1)]))


def stream(graph, layers, chip, mapping, inputs: int, keep_streaming: bool = False):
    (shape,) = graph.inputs.values()
    x = np.random.default_rng(0).random((inputs,) + tuple(shape), dtype=np.float32)
    sim = Simulation(graph, layers, chip, mapping, seed=0)
    return sim.run(x, trace_inputs=0, keep_outputs=False, keep_streaming=keep_streaming)[0]


@pytest.mark.parametrize("model", [CIFAR, MNIST], ids=["cifar_resnet9", "mnist_resnet9"])
@pytest.mark.parametrize("strategy", ["sequential", "locality", "balanced", "packed"])
def test_mapper_traffic_and_busiest_core_equal_the_event_models(chip, model, strategy):
    graph = load_graph(model)
    layers = lower(graph)
    mapping = STRATEGIES[strategy].place(layers, chip)
    figures = summarize(mapping, layers, chip, graph)
    inputs = whole_rounds(mapping, layers)
    result = stream(graph, layers, chip, mapping, inputs)
    assert result.streamed_inputs == inputs
    assert result.traffic_bit_hops_per_inference == pytest.approx(
        figures["hop_weighted_traffic"], rel=1e-9)
    # the busiest core, blocks sharing a core one job at a time (packed) included
    assert result.core_mvms_per_inference == pytest.approx(core_mvms(mapping, layers), rel=1e-12)
    busiest = max(result.core_mvms_per_inference.values())  # on average; the figure rounds up
    assert busiest <= figures["max_stage_mvms"] < busiest + 1


def test_a_short_stream_differs_from_the_mapper_by_under_one_mvm_per_copy(chip):
    graph = load_graph(CIFAR)
    layers = lower(graph)
    mapping = STRATEGIES["balanced"].place(layers, chip)
    assert 8 % whole_rounds(mapping, layers)  # copies of 5 do not take 8 x 1024 MVMs evenly
    result = stream(graph, layers, chip, mapping, 8)
    mapped = summarize(mapping, layers, chip, graph)["hop_weighted_traffic"]
    assert result.traffic_bit_hops_per_inference == pytest.approx(mapped, rel=1e-4)


def test_dense_copies_each_get_only_the_inputs_of_their_own_mvms(tmp_path, chip):
    # a dense layer applied to 8 vectors per inference: balanced copies both layers, and the
    # second layer's copies each receive only the vectors their MVMs read (no window overlap)
    path = tmp_path / "rows.yaml"
    weights = {"init": {"kind": "normal", "seed": 0}}
    path.write_text(yaml.safe_dump({"name": "rows", "inputs": {"x": [8, 300]}, "layers": [
        {"name": "fc0", "op": "dense", "units": 300, "weights": weights},
        {"name": "act", "op": "relu"},
        {"name": "fc1", "op": "dense", "units": 40, "weights": weights}]}))
    graph = load_graph(path)
    layers = lower(graph)
    mapping = STRATEGIES["balanced"].place(layers, chip)
    assert mapping.replication["fc1"] > 1
    routes_split = summarize(mapping, layers, chip, graph)["hop_weighted_traffic"]
    result = stream(graph, layers, chip, mapping, whole_rounds(mapping, layers))
    assert result.traffic_bit_hops_per_inference == pytest.approx(routes_split, rel=1e-9)


def test_per_inference_figures_do_not_depend_on_how_many_inputs_stream(chip):
    graph = load_graph(CIFAR)
    layers = lower(graph)
    mapping = STRATEGIES["balanced"].place(layers, chip)
    short, long = (stream(graph, layers, chip, mapping, n, keep_streaming=True) for n in (8, 32))
    assert short.timing_only_inputs > 0  # the stream went on past the user's inputs
    assert short.traffic_bit_hops_per_inference == pytest.approx(
        long.traffic_bit_hops_per_inference, rel=1e-4)
    assert short.mvms_per_inference == pytest.approx(long.mvms_per_inference, rel=1e-3)
    # energy differs only by the data (other inputs, other PWM lengths); the fill is not charged
    assert short.energy_per_inference_pj == pytest.approx(long.energy_per_inference_pj, rel=0.02)
    assert short.energy_by_component["static"] / short.inputs == pytest.approx(
        long.energy_by_component["static"] / long.inputs, rel=0.01)
    # network energy is the counted traffic at the description's energy per bit and hop
    pj = chip.energy.hop_bit_pj
    assert long.energy_by_component["network"] / long.inputs == pytest.approx(
        long.traffic_bit_hops_per_inference * pj, rel=1e-9)
