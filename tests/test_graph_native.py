"""chipsim's native YAML/JSON graph format: loading, weight sources, round trips, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from chipsim.errors import GraphError
from chipsim.graph import load_graph, lower, save_native

NET = """
name: tiny
inputs:
  image: [3, 8, 8]
layers:
  - {name: conv0, op: conv2d, out_channels: 4, kernel_shape: [3, 3], pads: [1, 1, 1, 1],
     bias: false, weights: {init: {kind: normal, seed: 7}}}
  - {name: bn0, op: batchnorm, epsilon: 1.0e-5, weights: {init: {kind: normal}}}
  - {name: relu0, op: relu}
  - {name: dw, op: conv2d, out_channels: 4, kernel_shape: [3, 3], group: 4, strides: [2, 2],
     pads: [1, 1, 1, 1], weights: {init: {kind: normal, seed: 7}}}
  - {name: skip, op: maxpool, input: relu0, kernel_shape: [2, 2], strides: [2, 2]}
  - {name: sum, op: add, inputs: [dw, skip]}
  - {name: gap, op: global_avgpool}
  - {name: flat, op: reshape, shape: [4]}
  - {name: fc, op: dense, units: 2, weights: {W: [[1, 0], [0, 1], [1, 1], [0, 0]], b: [0.5, -0.5]}}
  - {name: prob, op: softmax}
"""


def _write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_native_network(tmp_path):
    graph = load_graph(_write(tmp_path, NET))
    assert [n.op for n in graph.nodes] == ["conv2d", "relu", "conv2d", "maxpool", "add",
                                           "global_avgpool", "reshape", "dense", "softmax"]
    layers = {l.name: l for l in lower(graph)}
    assert (layers["dw"].rows, layers["dw"].cols, layers["dw"].mvms, layers["dw"].groups) == (36, 4, 16, 4)
    assert layers["fc"].sources == ("conv0", "dw")
    np.testing.assert_array_equal(layers["fc"].weight, [[1, 0], [0, 1], [1, 1], [0, 0]])
    assert graph.outputs == ["prob"] and graph.shapes["prob"] == (2,)


def test_init_is_reproducible_and_seeded(tmp_path):
    a = load_graph(_write(tmp_path, NET)).node("conv0").weights["W"]
    b = load_graph(_write(tmp_path, NET)).node("conv0").weights["W"]
    c = load_graph(_write(tmp_path, NET.replace("seed: 7}}}\n  - {name: bn0", "seed: 8}}}\n  - {name: bn0"))
                   ).node("conv0").weights["W"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(a.std() - np.sqrt(2 / 27)) < 0.1  # He scaling, fan-in 3 x 3 x 3


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip_keeps_everything(tmp_path, suffix):
    graph = load_graph(_write(tmp_path, NET), fold=False)
    save_native(graph, tmp_path / f"copy{suffix}")
    assert (tmp_path / "copy.npz").exists()
    back = load_graph(tmp_path / f"copy{suffix}", fold=False)
    assert [(n.name, n.op, n.inputs, n.outputs, n.attrs) for n in back.nodes] == \
        [(n.name, n.op, n.inputs, n.outputs, n.attrs) for n in graph.nodes]
    assert back.shapes == graph.shapes and back.outputs == graph.outputs
    for n in graph.nodes:
        for k, w in n.weights.items():
            np.testing.assert_array_equal(back.node(n.name).weights[k], w)


def test_onnx_graph_round_trips_through_native(tmp_path):
    from pathlib import Path
    lstm = Path(__file__).resolve().parents[1] / "workloads" / "ptb_lstm" / "lstm.onnx"
    graph = load_graph(lstm)
    save_native(graph, tmp_path / "lstm.yaml")
    back = load_graph(tmp_path / "lstm.yaml")
    assert [(l.name, l.rows, l.cols, l.mvms) for l in lower(back)] == \
        [(l.name, l.rows, l.cols, l.mvms) for l in lower(graph)]


def test_weights_from_npz(tmp_path):
    np.savez(tmp_path / "fc.npz", W=np.eye(3, 2, dtype=np.float32), b=np.ones(2, np.float32))
    doc = {"inputs": {"x": [3]},
           "layers": [{"name": "fc", "op": "dense", "units": 2, "weights": "fc.npz"}]}
    (layer,) = lower(load_graph(_write(tmp_path, json.dumps(doc), "net.json")))
    np.testing.assert_array_equal(layer.weight, np.eye(3, 2))
    np.testing.assert_array_equal(layer.bias, [1, 1])


def test_lstm_layer(tmp_path):
    doc = {"inputs": {"seq": [10, 6]},
           "layers": [{"name": "rnn", "op": "lstm", "hidden_size": 8, "weights": {"init": {"seed": 1}}},
                      {"name": "out", "op": "dense", "units": 3, "weights": {"init": {}}}]}
    rnn, out = lower(load_graph(_write(tmp_path, yaml.safe_dump(doc))))
    assert (rnn.rows, rnn.cols, rnn.mvms, out.mvms) == (14, 32, 10, 10)


@pytest.mark.parametrize("layers,message", [
    ([{"name": "a", "op": "deconv"}], r'net.yaml: layer "a" \(deconv\): unsupported op; supported: abs, add, '),
    ([{"name": "a", "op": "relu", "size": 3}], r'layer "a" \(relu\): unknown field \'size\''),
    ([{"name": "a", "op": "dense", "units": 2}], r'layer "a" \(dense\): needs weights'),
    ([{"name": "a", "op": "dense", "weights": {"init": {}}}], r'layer "a" \(dense\): missing field \'units\''),
    ([{"name": "a", "op": "dense", "units": 2, "weights": {"W": [[1, 2]], "b": [0, 0]}}],
     r"weight 'W' has shape \(1, 2\), expected \(4, 2\)"),
    ([{"name": "a", "op": "dense", "units": 2, "weights": {"init": {"kind": "xavier"}}}],
     r"init must be a mapping with kind one of normal, zeros"),
    ([{"name": "a", "op": "dense", "units": 2, "weights": "none.npz"}], r"cannot read weights file 'none.npz'"),
    ([{"name": "a", "op": "relu", "input": "nope"}], r"input 'nope' is not a graph input"),
    ([{"name": "a", "op": "maxpool", "kernel_shape": [9, 9]}], r'layer "a" \(maxpool\): window of 9'),
    ([{"name": "a", "op": "reshape", "shape": [3]}], r'net.yaml: layer "a" \(reshape\): cannot reshape \(4,\) to \(3,\)'),
    ([{"name": "a", "op": "relu"}, {"name": "a", "op": "relu"}], r"a node of that name already exists"),
])
def test_native_errors_name_the_layer(tmp_path, layers, message):
    doc = {"inputs": {"x": [4]}, "layers": layers}
    if layers[0]["op"] == "maxpool":
        doc["inputs"] = {"x": [1, 4, 4]}
    with pytest.raises(GraphError, match=message):
        load_graph(_write(tmp_path, yaml.safe_dump(doc)))


@pytest.mark.parametrize("text,message", [
    ("inputs: [1, 2\nlayers", r"net.yaml: not valid YAML"),
    ("- 1\n- 2\n", r"net.yaml: expected a mapping with inputs and layers"),
    ("inputs: {x: [0]}\nlayers: [{op: relu}]\n", r"net.yaml: inputs.x: expected a list of positive sizes"),
    ("inputs: {x: [2]}\nlayers: []\n", r"net.yaml: layers: expected a non-empty list"),
    ("inputs: {x: [2]}\nlayer: []\n", r"net.yaml: unknown top-level field 'layer'"),
    ("inputs: {x: [2]}\nlayers: [{op: relu}]\noutputs: [z]\n", r"net.yaml: graph output 'z' is never produced"),
])
def test_malformed_native_files(tmp_path, text, message):
    with pytest.raises(GraphError, match=message):
        load_graph(_write(tmp_path, text))


def test_example_in_the_format_reference_loads(tmp_path):
    import re
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[1] / "docs" / "graph-format.md").read_text()
    _write(tmp_path, re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))
    np.savez(tmp_path / "weights.npz", **{"conv1.W": np.ones((16, 16, 3, 3), np.float32),
                                         "conv1.b": np.zeros(16, np.float32)})
    layers = lower(load_graph(tmp_path / "net.yaml"))
    assert [(l.name, l.rows, l.cols, l.mvms) for l in layers] == \
        [("conv0", 27, 16, 1024), ("conv1", 144, 16, 1024), ("fc", 16, 2, 1)]


def test_example_in_the_readme_loads(tmp_path):
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    _write(tmp_path, re.search(r"```yaml\n(.*?)```", readme, re.S).group(1))
    layers = lower(load_graph(tmp_path / "net.yaml"))
    assert [(l.name, l.rows, l.cols, l.mvms) for l in layers] == \
        [("conv0", 9, 8, 784), ("fc", 1568, 10, 1)]
