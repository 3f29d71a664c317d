"""A fixed-range chip is measured calibrated: report, compare and simulate calibrate an
uncalibrated mapping first (--no-calibrate keeps it), and one calibration serves every strategy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chipsim.arch import load_chip
from chipsim.calibration.auto import (calibrate_for_run, transfer_calibration,
                                      uncalibrated_tiles)
from chipsim.cli import main
from chipsim.errors import MappingError
from chipsim.functional.analog import AnalogOptions
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES, Mapping

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")
FAST = ["--inputs", "8", "--images", "40", "--seeds", "1"]


@pytest.fixture(scope="module")
def mlp():
    graph = load_graph(MLP)
    return graph, lower(graph), load_chip("hermes64")


def test_only_a_fixed_range_chip_without_ranges_needs_calibrating(mlp):
    graph, layers, chip = mlp
    bare = STRATEGIES["sequential"].place(layers, chip)
    assert uncalibrated_tiles(bare, chip) == len(bare.placements)
    assert uncalibrated_tiles(bare, chip, AnalogOptions(input_range="max_abs")) == 0
    bundled = Mapping.from_yaml(ROOT / "mappings/digits_mlp/mlp-sequential.yaml", chip, layers)
    assert uncalibrated_tiles(bundled, chip) == 0  # the bundled mappings are calibrated
    same, note = calibrate_for_run(graph, layers, bundled, chip, data="digits")
    assert same is bundled and note is None


def test_replicas_share_their_block_calibration_and_strategies_share_it_too():
    graph = load_graph(ROOT / "workloads/mnist_cnn/cnn.onnx")
    layers, chip = lower(graph), load_chip("hermes64")
    balanced = STRATEGIES["balanced"].place(layers, chip)
    assert len(balanced.placements) > len({p.block for p in balanced.placements})  # replicas
    calibrated, note = calibrate_for_run(graph, layers, balanced, chip, data="mnist",
                                         samples=32)
    assert "32 mnist calibration images" in note and uncalibrated_tiles(calibrated, chip) == 0
    by_block = {}
    for p in calibrated.placements:
        assert by_block.setdefault(p.block, p.calibration) == p.calibration
    packed = transfer_calibration(calibrated, STRATEGIES["packed"].place(layers, chip))
    assert all(p.calibration == by_block[p.block] for p in packed.placements)
    with pytest.raises(MappingError, match="has no calibration"):
        transfer_calibration(STRATEGIES["sequential"].place(layers, chip), packed)


def _run(args, capsys) -> tuple[dict, str]:
    assert main(args + ["--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_compare_calibrates_once_and_no_calibrate_keeps_the_baseline(tmp_path, capsys):
    args = ["compare", MLP, "--data", "digits", "--strategies", "sequential,balanced", *FAST]
    calibrated, _ = _run(args + ["--out", str(tmp_path / "a")], capsys)
    assert "calibrated on 256 digits calibration images" in calibrated["range_calibration"]
    assert "same ranges for every strategy" in calibrated["range_calibration"]
    raw, _ = _run(args + ["--no-calibrate", "--out", str(tmp_path / "b")], capsys)
    assert raw["range_calibration"].startswith("uncalibrated (--no-calibrate)")
    error = {name: next(c["values"] for c in run["columns"] if c["key"] == "logit_error")
             for name, run in (("cal", calibrated), ("raw", raw))}
    # the uncalibrated chip clips the hidden layer at |x| <= 1 (pcm-noise.md: error about 0.5)
    assert all(error["cal"][s] < 0.5 * error["raw"][s] for s in error["cal"]), error
    page = (tmp_path / "a" / "README.md").read_text()
    assert "Range calibration:" in page


def test_report_calibrates_a_mapping_file_without_ranges(tmp_path, capsys):
    bare = tmp_path / "bare.yaml"
    assert main(["map", MLP, "--strategy", "sequential", "-o", str(bare)]) == 0
    capsys.readouterr()
    args = ["report", MLP, "--mapping", str(bare), "--data", "digits", "--times", "1h", *FAST]
    done, _ = _run(args + ["--out", str(tmp_path / "a")], capsys)
    assert "calibrated" in done["range_calibration"]
    kept, _ = _run(args + ["--no-calibrate", "--out", str(tmp_path / "b")], capsys)
    assert "uncalibrated" in kept["range_calibration"]
    assert done["summary"]["logit_error"]["value"] < 0.5 * kept["summary"]["logit_error"]["value"]
    bundled, _ = _run(["report", MLP, "--mapping",
                       str(ROOT / "mappings/digits_mlp/mlp-sequential.yaml"), "--data",
                       "digits", "--times", "1h", *FAST, "--out", str(tmp_path / "c")], capsys)
    assert bundled["range_calibration"] is None  # already calibrated: used as it is


def test_simulate_says_how_the_ranges_were_set(tmp_path, capsys):
    result, _ = _run(["simulate", MLP, "--strategy", "sequential", "--inputs", "4",
                      "--out", str(tmp_path)], capsys)
    assert any("synthetic calibration inputs" in n for n in result["notes"])
    assert result["outputs_match_functional"] is True
