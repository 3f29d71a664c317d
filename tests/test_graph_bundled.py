"""The bundled graphs load and lower to the chip paper's matrix shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from chipsim.graph import load_graph, lower

WORKLOADS = Path(__file__).resolve().parents[1] / "workloads"

# Le Gallo et al., Nature Electronics 2023: ResNet-9 weight matrices (rows x cols), 1,866,536 weights.
RESNET9 = {"conv0": (27, 56), "conv1": (504, 112), "conv2": (1008, 112), "conv3": (1008, 112),
           "conv4": (1008, 224), "conv5": (2016, 224), "conv6": (2016, 224),
           "conv7": (2016, 224), "dense": (224, 10)}
# Output pixels per conv for 32x32 inputs, after the 2x2 pools following conv1, conv4, conv5.
RESNET9_MVMS = {"conv0": 1024, "conv1": 1024, "conv2": 256, "conv3": 256, "conv4": 256,
                "conv5": 64, "conv6": 16, "conv7": 16, "dense": 1}


def test_resnet9_matches_the_paper():
    graph = load_graph(WORKLOADS / "cifar_resnet9" / "resnet9.onnx")
    layers = lower(graph)
    assert {l.name: (l.rows, l.cols) for l in layers} == RESNET9
    assert {l.name: l.mvms for l in layers} == RESNET9_MVMS
    assert sum(l.rows * l.cols for l in layers) == 1_866_536 == graph.weight_count()
    assert all(l.bias is not None for l in layers)  # batch norms folded into biases
    assert not any(n.op == "batchnorm" for n in graph.nodes)
    by_name = {l.name: l for l in layers}
    assert by_name["conv4"].sources == ("conv1", "conv3")  # residual skip around conv2/conv3
    assert by_name["dense"].sources == ("conv5", "conv7")
    assert by_name["conv7"].digital_ops == {"relu": 3584, "add": 3584, "maxpool": 3584}


def test_lstm_matches_the_paper():
    graph = load_graph(WORKLOADS / "ptb_lstm" / "lstm.onnx")
    lstm, dense = lower(graph)
    assert (lstm.op, lstm.rows, lstm.cols, lstm.mvms) == ("lstm", 128 + 504, 2016, 32)
    assert (dense.op, dense.rows, dense.cols, dense.mvms, dense.sources) == ("dense", 504, 50, 32, ("lstm",))
    assert lstm.digital_ops == {"embedding": 32 * 128, "lstm_cell": 32 * 504}
    assert graph.inputs == {"chars": (32,)} and graph.input_dtypes["chars"] == "int"


@pytest.mark.parametrize("builder,file", [("resnet9", "cifar_resnet9/resnet9.onnx"),
                                          ("lstm", "ptb_lstm/lstm.onnx")])
def test_build_script_is_deterministic_and_made_the_bundled_file(builder, file):
    import importlib.util
    spec = importlib.util.spec_from_file_location("build_graphs", WORKLOADS / "build_graphs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    make = getattr(module, builder)
    assert make().SerializeToString() == (WORKLOADS / file).read_bytes()
    assert make(seed=1).SerializeToString() != make().SerializeToString()
