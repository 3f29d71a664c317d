"""The analog executor: ideal tiles equal float, splitting and replicas change nothing they
should not, and a seed fixes every number whatever the batch size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.functional.analog import AnalogNetwork, AnalogOptions
from chipsim.functional.executor import FloatBackend, mvm_numbers, run_network
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES

ROOT = Path(__file__).resolve().parents[1]
# the bundled workloads (not workloads/zoo/, where `chipsim.report.bundled` exports networks)
MODELS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "workloads").glob("*/*.onnx")
                if p.parent.name != "zoo")


@pytest.fixture(scope="module")
def chip():
    return load_chip("hermes64")


def _small_crossbar_chip(chip, size: int):
    """hermes64 with size x size crossbars: every bundled layer splits into many blocks."""
    return chip.model_copy(update={"cores": chip.cores.model_copy(update={"rows": size, "cols": size})})


def _inputs(graph, count: int, seed: int = 0) -> np.ndarray:
    (name, shape), = graph.inputs.items()
    rng = np.random.default_rng(seed)
    if graph.input_dtypes[name] == "int":
        return rng.integers(0, 32, (count,) + shape)
    return rng.random((count,) + shape).astype(np.float32)


def _load(path):
    graph = load_graph(ROOT / path)
    return graph, lower(graph)


def test_bundled_models_are_found():
    assert any("mlp" in m for m in MODELS) and any("cnn" in m for m in MODELS)


@pytest.mark.parametrize("path", MODELS)
def test_ideal_tiles_equal_the_float_network(chip, path):
    graph, layers = _load(path)
    mapping = STRATEGIES["balanced"].place(layers, chip)  # replicas where cores are spare
    x = _inputs(graph, 3)
    want = run_network(graph, FloatBackend(layers), x)
    got = AnalogNetwork(graph, layers, mapping, chip, options=AnalogOptions.ideal()).run(x)
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * scale)


def test_split_layers_equal_unsplit_layers_in_ideal_mode(chip):
    graph, layers = _load("workloads/digits_mlp/mlp.onnx")
    small = _small_crossbar_chip(chip, 24)
    split = STRATEGIES["sequential"].place(layers, small)
    whole = STRATEGIES["sequential"].place(layers, chip)
    assert len(split.placements) > 4 * len(whole.placements)
    x = _inputs(graph, 16)
    ideal = AnalogOptions.ideal()
    a = AnalogNetwork(graph, layers, split, small, options=ideal).run(x)
    b = AnalogNetwork(graph, layers, whole, chip, options=ideal).run(x)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max())


@pytest.fixture(scope="module")
def cnn(chip):
    graph, layers = _load("workloads/mnist_cnn/cnn.onnx")
    mapping = STRATEGIES["balanced"].place(layers, chip)
    assert max(mapping.replication.values()) > 1  # the test covers replicas
    return graph, layers, mapping


def test_same_seed_same_bits_whatever_the_batch_size(chip, cnn):
    graph, layers, mapping = cnn
    x = _inputs(graph, 9)
    runs = []
    for batch in (9, 4, 1):
        net = AnalogNetwork(graph, layers, mapping, chip, seed=3)
        net.drift(3600.0)
        runs.append(net.run(x, batch=batch))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])
    other = AnalogNetwork(graph, layers, mapping, chip, seed=4)
    other.drift(3600.0)
    assert not np.array_equal(other.run(x), runs[0])


def test_layer_forward_one_mvm_at_a_time_equals_the_batch(chip, cnn):
    """What the cycle-level model relies on: any grouping of MVMs gives the same bits."""
    graph, layers, mapping = cnn
    net = AnalogNetwork(graph, layers, mapping, chip, seed=1)
    net.drift(60.0)
    layer = max(layers, key=lambda l: mapping.replication.get(l.name, 1))
    rows = np.random.default_rng(5).random((12, layer.rows)).astype(np.float32)
    idx = mvm_numbers(2, 1, 12)  # inference 2, MVMs 0..11: several replicas
    batched = net.layer_forward(layer.name, rows, idx)
    one_by_one = np.concatenate([net.layer_forward(layer.name, rows[k:k + 1], idx[k:k + 1])
                                 for k in range(12)])
    np.testing.assert_array_equal(batched, one_by_one)
    shuffled = np.random.default_rng(0).permutation(12)
    np.testing.assert_array_equal(net.layer_forward(layer.name, rows[shuffled], idx[shuffled]),
                                  batched[shuffled])


def test_each_non_ideality_moves_the_outputs(chip):
    graph, layers = _load("workloads/digits_mlp/mlp.onnx")
    mapping = STRATEGIES["sequential"].place(layers, chip)
    x = _inputs(graph, 8)
    ideal = AnalogOptions.ideal()
    base = AnalogNetwork(graph, layers, mapping, chip, options=ideal).run(x)
    for switch in ("programming_noise", "read_noise", "dac_quantization", "adc_quantization",
                   "output_noise"):
        net = AnalogNetwork(graph, layers, mapping, chip, options=ideal.__class__(
            **{**ideal.__dict__, switch: True}))
        assert not np.allclose(net.run(x), base, rtol=1e-4, atol=1e-4), switch


def test_gdc_restores_the_output_scale_after_drift(chip):
    graph, layers = _load("workloads/digits_mlp/mlp.onnx")
    mapping = STRATEGIES["sequential"].place(layers, chip)
    x = _inputs(graph, 32)
    drift_only = AnalogOptions(programming_noise=False, read_noise=False, dac_quantization=False,
                               adc_quantization=False, output_noise=False, adc_saturation=False,
                               input_range="max_abs")
    want = run_network(graph, FloatBackend(layers), x)
    net = AnalogNetwork(graph, layers, mapping, chip, seed=0, options=drift_only)
    net.drift(365 * 86400.0)
    without, with_gdc = net.run(x, gdc=False), net.run(x, gdc=True)
    ratio = lambda y: np.abs(y).mean() / np.abs(want).mean()
    assert ratio(without) < 0.9
    assert abs(ratio(with_gdc) - 1) < abs(ratio(without) - 1)
