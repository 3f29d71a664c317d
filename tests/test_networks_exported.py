"""Networks exported from PyTorch by both exporters (tests/data, written by
tests/torch_networks.py): they import, map, simulate with outputs equal to the functional
path, run on ideal tiles as in float, and cost their digital work in the digital units."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.cli import main
from chipsim.functional.analog import AnalogNetwork, AnalogOptions
from chipsim.functional.executor import FloatBackend, run_network, synthetic_inputs
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES
from chipsim.mapping.digital import runs_on_core

DATA = Path(__file__).parent / "data"
FILES = [f"{net}_{exporter}.onnx"
         for net in ("transformer", "gru", "bilstm", "resnet18", "mobilenet_v2")
         for exporter in ("legacy", "dynamo")]


@pytest.fixture(scope="module")
def chip():
    return load_chip("hermes64")


@pytest.mark.parametrize("name", FILES)
def test_ideal_tiles_equal_the_float_network(chip, name):
    graph = load_graph(DATA / name)
    layers = lower(graph)
    mapping = STRATEGIES["packed"].place(layers, chip)
    x = synthetic_inputs(graph, 3, seed=0)
    want = run_network(graph, FloatBackend(layers), x)
    got = AnalogNetwork(graph, layers, mapping, chip, options=AnalogOptions.ideal()).run(x)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
def test_transformer_layers_and_digital_work(chip, exporter):
    layers = lower(load_graph(DATA / f"transformer_{exporter}.onnx"))
    shapes = sorted((l.rows, l.cols, l.mvms) for l in layers)
    # per encoder layer: in-projection 32x96, out-projection, two feed-forward; then the head
    assert shapes == sorted([(32, 96, 8), (32, 32, 8), (32, 64, 8), (64, 32, 8)] * 2
                            + [(32, 4, 1)])
    work: dict[str, int] = {}
    for layer in layers:
        for op, count in layer.digital_ops.items():
            work[op] = work.get(op, 0) + count
    # Q K^T and P V: 4 heads x 8 x 8 outputs of 8 MACs each, twice per encoder layer
    assert work["matmul"] == 2 * 2 * 4 * 8 * 8 * 8
    assert work["layernorm"] == 2 * 2 * 8 * 32 and work["softmax"] == 2 * 4 * 8 * 8
    ldpu = tuple(chip.cores.ldpu.ops)
    assert not any(runs_on_core(op, ldpu) for op in ("matmul", "layernorm", "softmax"))


@pytest.mark.parametrize("name", ["transformer_legacy.onnx", "transformer_dynamo.onnx",
                                  "gru_dynamo.onnx", "bilstm_legacy.onnx"])
def test_map_and_simulate_match_the_functional_path(tmp_path, capsys, name):
    mapping = tmp_path / "m.yaml"
    assert main(["map", str(DATA / name), "-o", str(mapping), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cores_used"] >= 1
    assert main(["simulate", str(DATA / name), "--mapping", str(mapping), "--inputs", "2",
                 "--json", "--out", str(tmp_path / "sim")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["outputs_match_functional"] is True
    assert any(u["unit"].startswith("gdpu") and u["busy_cycles"] > 0 for u in doc["units"])


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
def test_mobilenet_v2_depthwise_convolutions_are_stored_compactly(chip, exporter):
    """Both exporters' MobileNetV2 (width 0.1): 17 depthwise convs, each on whole-group
    blocks only, so it takes far fewer crossbars than its block-diagonal matrices would."""
    from chipsim.mapping import tile
    from chipsim.mapping.tiling import weight_cells

    layers = lower(load_graph(DATA / f"mobilenet_v2_{exporter}.onnx"))
    depthwise = [l for l in layers if l.groups > 1]
    assert len(depthwise) == 17 and all(l.groups == l.cols and l.rows == 9 * l.cols
                                        for l in depthwise)
    blocks = [(l, b) for l in depthwise for b in tile(l, 256, 256)]
    assert len(blocks) == sum(-(-l.cols // 28) for l in depthwise)  # 28 channels a crossbar
    assert all(weight_cells(b, l) == 9 * b.cols for l, b in blocks)  # no zero block
    # the crossbar area they take: a sliver of the block-diagonal matrices
    assert sum(b.cells for _, b in blocks) < sum(l.rows * l.cols for l in depthwise) / 2


@pytest.mark.parametrize("name", ["resnet18_legacy.onnx", "resnet18_dynamo.onnx",
                                  "mobilenet_v2_legacy.onnx", "mobilenet_v2_dynamo.onnx"])
def test_vision_networks_map_and_simulate_as_the_functional_path(tmp_path, capsys, name):
    mapping = tmp_path / "m.yaml"
    assert main(["map", str(DATA / name), "--strategy", "packed", "-o", str(mapping),
                 "--json"]) == 0
    capsys.readouterr()
    assert main(["simulate", str(DATA / name), "--mapping", str(mapping), "--inputs", "2",
                 "--json", "--out", str(tmp_path / "sim")]) == 0
    assert json.loads(capsys.readouterr().out)["outputs_match_functional"] is True


def test_a_bidirectional_lstm_is_one_array_per_direction_and_the_reverse_waits():
    from chipsim.timing.chunks import plan_layers

    graph = load_graph(DATA / "bilstm_legacy.onnx")
    layers = lower(graph)
    assert [(l.op, l.rows, l.cols, l.mvms, l.reverse) for l in layers] == [
        ("lstm", 8 + 12, 48, 8, False), ("lstm", 8 + 12, 48, 8, True),
        ("lstm", 24 + 12, 48, 8, False), ("lstm", 24 + 12, 48, 8, True), ("dense", 24, 4, 1, False)]
    plans = plan_layers(layers, graph)
    fwd0, rev0, fwd1, rev1, _ = (l.name for l in layers)
    assert plans[fwd1].needs[fwd0] == list(range(1, 9))  # step t after step t of the layer below
    assert plans[fwd1].needs[rev0] == [8] * 8  # the reverse layer's step 0 comes out last
    assert plans[rev1].needs[fwd0] == [8] * 8  # a reverse layer starts at the last step
