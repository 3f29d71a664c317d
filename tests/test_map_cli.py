"""`chipsim map` end to end, and the strategies on the bundled workloads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

from chipsim.arch import load_chip
from chipsim.cli import main
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES, Mapping, summarize

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted(p for p in (ROOT / "workloads").glob("*/*.onnx") if p.parent.name != "zoo")
RESNET9 = ROOT / "workloads" / "cifar_resnet9" / "resnet9.onnx"


@pytest.fixture
def mlp(tmp_path) -> Path:
    """A 300-100-10 MLP as ONNX: two row blocks in the first layer, so partial sums travel."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((300, 100)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((100, 10)).astype(np.float32), "w2")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
         helper.make_node("Relu", ["h"], ["a"], name="relu"),
         helper.make_node("MatMul", ["a", "w2"], ["y"], name="fc2")],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 300])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], [w1, w2])
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_map_writes_a_mapping_that_loads_and_prints_one_json_document(mlp, tmp_path, capsys, strategy):
    out = tmp_path / "m.yaml"
    assert main(["map", str(mlp), "--strategy", strategy, "-o", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    figures = json.loads(captured.out)
    assert captured.err == ""
    assert {"strategy", "cores_used", "blocks", "hop_weighted_traffic", "max_stage_mvms"} <= set(figures)
    chip, layers = load_chip("hermes64"), lower(load_graph(mlp))
    mapping = Mapping.from_yaml(out, chip, layers)
    assert mapping.strategy == strategy and mapping.graph == "mlp.onnx"
    assert figures == {**summarize(mapping, layers, chip), "mapping_file": str(out)}


def test_show_prints_the_core_table_and_saves_the_picture(mlp, tmp_path, capsys):
    out = tmp_path / "m.yaml"
    assert main(["map", str(mlp), "--strategy", "packed", "-o", str(out), "--show"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["core", "tile", "layer", "rows", "cols", "replica", "cells", "%"]
    assert "fc1" in text and "fc2" in text and "2 cores used, 62 free" in text
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_output_the_file_goes_to_mappings(mlp, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["map", str(mlp), "--strategy", "locality"]) == 0
    assert (tmp_path / "mappings" / "mlp-locality.yaml").exists()
    assert "wrote mappings/mlp-locality.yaml" in capsys.readouterr().out


def test_a_network_too_big_is_one_line_and_status_2(tmp_path, capsys):
    w = numpy_helper.from_array(np.zeros((4096, 4096), np.float32), "w")  # 256 blocks
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="huge")], "big",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4096])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4096])], [w])
    path = tmp_path / "big.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert main(["map", str(path), "-o", str(tmp_path / "m.yaml")]) == 2
    err = capsys.readouterr().err
    assert err == "chipsim: error: big.onnx does not fit chip hermes64: it needs 256 cores " \
                  "(256 blocks, one per core), the chip has 64; it would need 4 chips of " \
                  "hermes64: use --chips 4 (or a --system file of 4 chips)\n"


def test_bad_model_and_chip_are_one_line_errors(tmp_path, capsys):
    assert main(["map", str(tmp_path / "nothing.onnx")]) == 2
    assert main(["map", str(tmp_path / "nothing.onnx"), "--chip", "nochip"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("chipsim: error: ") for line in lines)


def test_the_bundled_workloads_are_there():
    assert RESNET9 in BUNDLED and len(BUNDLED) >= 3


@pytest.mark.parametrize("model", BUNDLED, ids=lambda p: p.parent.name)
def test_locality_never_has_more_traffic_than_sequential_on_bundled_graphs(model):
    chip, layers = load_chip("hermes64"), lower(load_graph(model))
    seq = summarize(STRATEGIES["sequential"].place(layers, chip), layers, chip)
    loc = summarize(STRATEGIES["locality"].place(layers, chip), layers, chip)
    pk = summarize(STRATEGIES["packed"].place(layers, chip), layers, chip)
    assert loc["hop_weighted_traffic"] <= seq["hop_weighted_traffic"]
    assert pk["cores_used"] <= seq["cores_used"]


def test_balanced_lowers_the_slowest_stage_of_resnet9():
    chip, layers = load_chip("hermes64"), lower(load_graph(RESNET9))
    seq = summarize(STRATEGIES["sequential"].place(layers, chip), layers, chip)
    bal = summarize(STRATEGIES["balanced"].place(layers, chip), layers, chip)
    assert 38 <= seq["cores_used"] <= 42  # "about 40 cores of 256x256 without replication"
    assert bal["max_stage_mvms"] < seq["max_stage_mvms"]
    assert seq["cores_used"] < bal["cores_used"] <= 64


@pytest.mark.parametrize("path", sorted((ROOT / "mappings").glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_bundled_mapping_files_match_their_graphs(path):
    """mappings/<workload>/<graph>-<strategy>[-calibrated].yaml loads against its graph."""
    graph = yaml.safe_load(path.read_text())["graph"]
    model = ROOT / "workloads" / path.parent.name / graph
    chip, layers = load_chip("hermes64"), lower(load_graph(model))
    mapping = Mapping.from_yaml(path, chip, layers)
    assert path.stem.startswith(f"{model.stem}-{mapping.strategy}")


def test_placement_is_deterministic():
    chip, layers = load_chip("hermes64"), lower(load_graph(RESNET9))
    assert all(STRATEGIES[s].place(layers, chip) == STRATEGIES[s].place(layers, chip) for s in STRATEGIES)
