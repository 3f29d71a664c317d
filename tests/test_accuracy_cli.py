"""`chipsim accuracy` end to end: text, --json, files written, user errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from chipsim.cli import main
from chipsim.functional.result import read_csv
from chipsim.functional.switches import NON_IDEALITIES

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")


def test_text_output_and_files(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["accuracy", MLP, "--data", "digits", "--times", "1h", "--seeds", "2",
                 "--limit", "50", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test accuracy: float network" in text and "1h" in text
    rows = read_csv(out / "accuracy.csv")
    assert [(r.time_s, r.gdc, r.seeds) for r in rows] == [(3600.0, True, 2), (3600.0, False, 2)]
    assert (out / "accuracy.png").stat().st_size > 1000


def test_json_is_the_only_stdout(tmp_path, capsys):
    assert main(["accuracy", MLP, "--data", "digits", "--times", "0,1d", "--seeds", "1",
                 "--gdc", "off", "--limit", "30", "--strategy", "packed", "--json",
                 "--out", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "mlp" and doc["chip"] == "hermes64" and doc["data"] == "digits"
    assert [(r["time_s"], r["gdc"]) for r in doc["rows"]] == [(0.0, False), (86400.0, False)]
    for r in doc["rows"]:
        assert 0 <= r["accuracy_mean"] <= 1 and r["logit_error_mean"] > 0


def test_without_data_it_scores_agreement_with_float(tmp_path, capsys):
    """A graph without a data set runs on synthetic inputs, labelled by the float network."""
    args = ["accuracy", MLP, "--times", "1h", "--seeds", "1", "--gdc", "on", "--limit", "40",
            "--json"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["data"] == "synthetic" and doc["images"] == 40
    assert doc["metric"] == "top-1 agreement with the float network"
    assert doc["float_accuracy"] == 1.0  # the float network agrees with itself
    (row,) = doc["rows"]
    assert 0 < row["accuracy_mean"] <= 1 and row["logit_error_mean"] > 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0  # same seed, same numbers
    assert json.loads(capsys.readouterr().out)["rows"] == doc["rows"]


def _fails(args, capsys, *words):
    assert main(["accuracy", MLP, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("chipsim: error:")
    for word in words:
        assert word in err, err


def test_user_errors_exit_2_with_one_line(tmp_path, capsys):
    out = ["--out", str(tmp_path)]
    _fails(["--data", "cifar", *out], capsys, "unknown data set 'cifar'")
    _fails(["--data", "digits", "--times", "1h,2x", *out], capsys, "bad time '2x'")
    _fails(["--data", "mnist", "--limit", "5", *out], capsys, "do not fit the model input")
    _fails(["--data", "digits", "--strategy", "nope", *out], capsys, "unknown strategy 'nope'")
    _fails(["--data", "digits", "--seeds", "0", *out], capsys, "--seeds")
    cnn_map = tmp_path / "cnn.yaml"
    assert main(["map", str(ROOT / "workloads/mnist_cnn/cnn.onnx"), "--strategy", "sequential",
                 "-o", str(cnn_map)]) == 0
    capsys.readouterr()
    _fails(["--data", "digits", "--mapping", str(cnn_map), *out], capsys, "cnn.yaml")


def test_an_error_budget_switches_non_idealities_off(tmp_path, capsys):
    """With every non-ideality off and per-vector inputs the chip is the float network; with
    a fixed range of 1 and no calibration the hidden layer clips and the error grows."""
    def run(*extra):
        assert main(["accuracy", MLP, "--data", "digits", "--times", "1h", "--seeds", "1",
                     "--gdc", "on", "--limit", "60", "--json", "--out", str(tmp_path),
                     *extra]) == 0
        return json.loads(capsys.readouterr().out)

    everything = ",".join(n.replace("_", "-") for n in NON_IDEALITIES)
    ideal = run("--without", everything, "--input-range", "per-vector")
    assert ideal["switched_off"] == list(NON_IDEALITIES) and ideal["input_range"] == "per-vector"
    assert ideal["rows"][0]["accuracy_mean"] == ideal["float_accuracy"]
    assert ideal["rows"][0]["logit_error_mean"] < 1e-5
    per_vector = run("--input-range", "per-vector")
    clipped = run("--input-range", "fixed")
    chip = run()  # hermes64 converts a fixed range: the same as --input-range fixed
    assert chip["switched_off"] == [] and chip["input_range"] == "chip"
    assert chip["rows"] == clipped["rows"]
    assert clipped["rows"][0]["logit_error_mean"] > 2 * per_vector["rows"][0]["logit_error_mean"]


def test_an_uncalibrated_mapping_on_a_fixed_range_chip_warns_once(tmp_path, capsys):
    """hermes64 converts a fixed input range: `accuracy` on a mapping without ranges warns once
    on stderr and names the command that calibrates; a calibrated mapping runs silently."""
    args = ["accuracy", MLP, "--data", "digits", "--times", "1h", "--seeds", "1", "--gdc", "on",
            "--limit", "20", "--out", str(tmp_path)]
    assert main(args + ["--strategy", "sequential"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "chipsim calibrate" in err, err
    assert main(args + ["--input-range", "per-vector"]) == 0
    assert "warning:" not in capsys.readouterr().err
    calibrated = ROOT / "mappings/digits_mlp/mlp-sequential.yaml"
    assert main(args + ["--mapping", str(calibrated)]) == 0
    assert "warning:" not in capsys.readouterr().err


def test_error_budget_options_are_checked(tmp_path, capsys):
    out = ["--out", str(tmp_path)]
    _fails(["--data", "digits", "--without", "drift,noise", *out], capsys,
           "--without", "'noise'", "read-noise")
    _fails(["--data", "digits", "--without", "drift", "--calibration-study", *out], capsys,
           "--calibration-study")
