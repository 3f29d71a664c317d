"""`chipsim calibrate` and `chipsim accuracy --calibration-study` end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from chipsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")


@pytest.fixture(scope="module")
def mapping_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("map") / "map.yaml"
    assert main(["map", MLP, "--strategy", "sequential", "-o", str(path)]) == 0
    return path


def test_text_report_and_calibrated_file(mapping_file, tmp_path, capsys):
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", MLP, "--mapping", str(mapping_file), "--data", "digits",
                 "--samples", "16", "--rows-per-tile", "40", "--input-rule", "quantile",
                 "--column-rule", "stats", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "calibration set: test accuracy" in text and f"wrote {out}" in text
    assert text.count("quantile") == 2  # one line per tile
    placements = [line for line in out.read_text().splitlines() if line.startswith("- {layer:")]
    assert len(placements) == 2
    assert all("calibration: {input_range: " in line for line in placements)


def test_calibrate_without_data_uses_synthetic_inputs(mapping_file, tmp_path, capsys):
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", MLP, "--mapping", str(mapping_file), "--samples", "16",
                 "--rows-per-tile", "40", "-o", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["data"] == "synthetic"
    assert doc["metric"] == "top-1 agreement with the float network"
    assert 0 <= doc["calibration_set"]["after"]["accuracy"] <= 1
    placements = [line for line in out.read_text().splitlines() if line.startswith("- {layer:")]
    assert all("calibration: {input_range: " in line for line in placements)


def test_calibration_study_from_the_accuracy_command(mapping_file, tmp_path, capsys):
    assert main(["accuracy", MLP, "--mapping", str(mapping_file), "--data", "digits",
                 "--times", "1h", "--seeds", "2", "--limit", "30", "--calibration-study",
                 "--json", "--out", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    variants = [r["variant"] for r in doc["rows"]]
    assert variants == ["per-vector", "per-vector + column", "uncalibrated", "input", "column",
                        "both"]
    assert all(r["seeds"] == 2 and r["time_s"] == 3600.0 for r in doc["rows"])
    with (tmp_path / "calibration.csv").open() as handle:
        assert [r["variant"] for r in csv.DictReader(handle)] == variants
    assert (tmp_path / "calibration.png").stat().st_size > 5000


@pytest.mark.parametrize("args, words", [
    (["--data", "cifar"], "unknown data set 'cifar'"),
    (["--data", "digits", "--samples", "0"], "--samples: expected a positive integer"),
    (["--data", "digits", "--input-rule", "none", "--column-rule", "none", "--time", "1w"],
     "bad time '1w'"),
])
def test_user_errors_are_one_line_and_exit_2(mapping_file, tmp_path, capsys, args, words):
    assert main(["calibrate", MLP, "--mapping", str(mapping_file), *args,
                 "-o", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chipsim: error:") and "\n" not in err and words in err


def test_a_missing_mapping_file_is_named(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert main(["calibrate", MLP, "--mapping", str(missing), "--data", "digits",
                 "-o", str(tmp_path / "x.yaml")]) == 2
    assert str(missing) in capsys.readouterr().err
