"""Every `chipsim` subcommand end to end in a temporary folder: --json output, files, user errors.

Runs go through `chipsim.cli.main` (what the console script calls) with the working folder set
to a fresh temporary one, so default output paths land there; one test also runs the installed
entry point in a subprocess to see the exit status and the one-line message a shell sees.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chipsim.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_json(capsys, *argv: str) -> dict:
    """Run a command in --json mode: exit 0 and exactly one JSON document on stdout."""
    assert main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # fails on anything else printed there


def test_every_registered_command_is_covered_here():
    assert set(COMMANDS) == {"info", "map", "accuracy", "simulate", "calibrate", "report",
                             "compare", "sweep", "nas", "faults", "noc", "linalg", "train"}
    # linalg: tests/test_linalg.py; train: tests/test_training.py; noc: also tests/test_noc.py;
    # faults: tests/test_faults.py; sweep: tests/test_sweep.py; nas: tests/test_nas.py


def test_noc_sweep_and_plot(capsys, in_tmp):
    doc = run_json(capsys, "noc", "--rate", "sweep", "--cycles", "300", "--warmup", "100",
                   "--plot", "noc.png")
    assert doc["rows"][0]["offered_rate"] < doc["rows"][-1]["offered_rate"]
    assert doc["saturation_rate"] is None or 0 < doc["saturation_rate"] <= 1
    assert (in_tmp / "noc.png").is_file()


def test_linalg_default_report_folder(capsys, in_tmp):
    doc = run_json(capsys, "linalg", "lstsq", "synthetic", "--rows", "128", "--cols", "8")
    assert doc["report"] == "reports/linalg-lstsq-synthetic" and doc["refinement_steps"] >= 1
    assert (in_tmp / "reports" / "linalg-lstsq-synthetic" / "residual.png").is_file()


def test_info(capsys):
    doc = run_json(capsys, "info", "hermes64")
    assert json.dumps(doc) and "hermes64" in json.dumps(doc)


def test_map_then_calibrate_then_simulate_and_report_with_that_mapping(capsys, in_tmp):
    doc = run_json(capsys, "map", MLP, "--strategy", "packed", "-o", "m.yaml")
    assert doc["strategy"] == "packed" and (in_tmp / "m.yaml").is_file()
    doc = run_json(capsys, "calibrate", MLP, "--mapping", "m.yaml", "--data", "digits",
                   "--samples", "32", "-o", "c.yaml")
    assert (in_tmp / "c.yaml").is_file() and isinstance(doc, dict)
    doc = run_json(capsys, "simulate", MLP, "--mapping", "c.yaml", "--inputs", "4")
    assert doc["outputs_match_functional"] is True and doc["inferences_per_s"] > 0
    assert (in_tmp / "reports" / "simulate-mlp" / "figures.json").is_file()
    assert main(["simulate", MLP, "--mapping", "c.yaml", "--inputs", "4", "--report", "--out",
                 "sim"]) == 0
    assert "index.html" in capsys.readouterr().out
    images = re.findall(r'src="([^"]+)"', (in_tmp / "sim" / "index.html").read_text())
    assert len(images) >= 5 and all((in_tmp / "sim" / i).is_file() for i in images)
    doc = run_json(capsys, "report", MLP, "--mapping", "c.yaml", "--data", "digits",
                   "--inputs", "4", "--images", "20", "--seeds", "1", "--times", "1h")
    out = in_tmp / "reports" / "mlp-packed"
    assert doc["report"] == str(Path("reports") / "mlp-packed")
    assert doc["strategy"] == "packed" and (out / "index.html").is_file()
    assert doc["summary"] == json.loads((out / "results.json").read_text())["summary"]


def test_accuracy(capsys, in_tmp):
    doc = run_json(capsys, "accuracy", MLP, "--data", "digits", "--times", "1h", "--seeds", "1",
                   "--limit", "20", "--gdc", "on")
    assert doc["rows"][0]["time_s"] == 3600.0
    assert (in_tmp / "reports" / "accuracy-mlp" / "accuracy.csv").is_file()


def test_report_and_compare_default_paths_and_synthetic_inputs(capsys, in_tmp):
    doc = run_json(capsys, "report", MLP, "--inputs", "3", "--images", "16", "--seeds", "1",
                   "--times", "1h")
    assert doc["accuracy"]["metric"] == "top-1 agreement with the float network"
    assert "synthetic" in doc["inputs"]
    assert (in_tmp / "reports" / "mlp-balanced" / "README.md").is_file()
    doc = run_json(capsys, "compare", MLP, "--strategies", "sequential,locality", "--inputs",
                   "3", "--images", "16", "--seeds", "1")
    assert doc["finished"] == ["sequential", "locality"]
    assert (in_tmp / "reports" / "compare-mlp" / "index.html").is_file()


def test_report_text_mode_prints_the_summary(capsys, in_tmp):
    assert main(["report", MLP, "--strategy", "sequential", "--inputs", "3", "--images", "16",
                 "--seeds", "1", "--times", "1h", "--out", "r"]) == 0
    captured = capsys.readouterr()
    assert "first-input latency" in captured.out and "wrote r/index.html" in captured.out
    assert "event model" in captured.err  # progress goes to stderr


ERRORS = [
    (["report", "nope.onnx"], "nope.onnx: no such file"),
    (["report", MLP, "--chip", "nochip"], "nochip: no such built-in chip"),
    (["report", MLP, "--strategy", "bogus"], "unknown strategy 'bogus'"),
    (["report", MLP, "--mapping", "missing.yaml"], "missing.yaml: cannot read mapping file"),
    (["report", MLP, "--times", "1x"], "bad time '1x'"),
    (["report", MLP, "--inputs", "0"], "--inputs: expected a positive integer, got 0"),
    (["report", MLP, "--images", "-3"], "--images: expected a positive integer, got -3"),
    (["report", MLP, "--seeds", "0"], "--seeds: expected a positive integer, got 0"),
    (["report", MLP, "--seed", "-1"], "--seed: expected a non-negative integer, got -1"),
    (["report", MLP, "--data", "nope"], "unknown data set 'nope'"),
    (["report", MLP, "--data", "digits", "--images", "100000"], "fewer than the 100000 asked for"),
    (["report", MLP, "--data", "mnist"], "do not fit the model input"),
    (["report", MLP, "--out", "afile"], "--out afile: exists and is not a folder"),
    (["compare", MLP, "--strategies", "sequential,bogus"], "unknown strategy 'bogus'"),
    (["compare", MLP, "--strategies", "sequential,,packed"], "expected comma-separated names"),
    (["compare", MLP, "--strategies", "packed,packed"], "a strategy is named twice"),
    (["compare", MLP, "--inputs", "0"], "--inputs: expected a positive integer"),
    (["compare", "nope.onnx"], "nope.onnx: no such file"),
    (["simulate", MLP, "--inputs", "0"], "--inputs: expected a positive integer"),
    (["simulate", MLP, "--strategy", "bogus"], "unknown strategy 'bogus'"),
    (["accuracy", MLP, "--data", "nope"], "unknown data set 'nope'"),
    (["accuracy", MLP, "--data", "digits", "--times", "soon"], "bad time 'soon'"),
    (["map", "nope.onnx"], "nope.onnx: no such file"),
    (["info", "nochip"], "nochip: no such built-in chip"),
    (["calibrate", MLP, "--mapping", "missing.yaml", "--data", "digits", "-o", "c.yaml"],
     "missing.yaml"),
]


@pytest.mark.parametrize("argv, message", ERRORS, ids=[" ".join(a[:1] + a[2:]) for a, _ in ERRORS])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_user_errors_exit_2_with_one_line(argv, message, as_json, capsys, in_tmp):
    (in_tmp / "afile").write_text("not a folder")
    assert main(argv + (["--json"] if as_json else [])) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing on stdout, not even in --json mode
    assert captured.err.startswith("chipsim: error: ") and captured.err.count("\n") == 1
    assert message in captured.err


def test_option_clashes_are_usage_errors_with_status_2(capsys):
    assert main(["report", MLP, "--mapping", "m.yaml", "--strategy", "packed"]) == 2
    assert capsys.readouterr().err == ("chipsim: error: --strategy: not allowed with argument "
                                       "--mapping\n")


def test_the_console_entry_point_reports_a_user_error_in_one_line(in_tmp):
    done = subprocess.run([sys.executable, "-m", "chipsim.cli", "compare", MLP, "--strategies",
                           "sideways"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "chipsim: error: --strategies: unknown strategy 'sideways'; strategies: "
        "sequential, locality, balanced, packed"]
