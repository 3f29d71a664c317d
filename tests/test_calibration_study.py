"""The calibration study's variants, its plot, and its section in `chipsim report`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_report import parse

from chipsim.calibration.study import VARIANTS, calibrated_variants, plot_study
from chipsim.cli import main
from chipsim.report.tables import fmt

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")
ORDER = ["per-vector", "per-vector + column", "uncalibrated", "input", "column", "both"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("report") / "mlp"
    assert main(["report", MLP, "--data", "digits", "--strategy", "sequential", "--inputs", "4",
                 "--images", "30", "--seeds", "2", "--times", "1h,1d", "--calibration-study",
                 "--out", str(out), "--json"]) == 0
    return out, json.loads((out / "results.json").read_text())


def test_variants_come_in_the_published_order():
    assert list(VARIANTS) == ORDER


def test_per_vector_plus_column_keeps_per_vector_dac_and_calibrates_columns():
    from chipsim.arch import load_chip
    from chipsim.datasets import load_dataset
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import STRATEGIES

    chip, graph = load_chip("hermes64"), load_graph(MLP)
    layers = lower(graph)
    mapping = STRATEGIES["sequential"].place(layers, chip, graph="mlp.onnx")
    x_cal, _ = load_dataset("digits", "calibration")
    variants = calibrated_variants(graph, layers, mapping, chip, x_cal[:16], max_rows=40)
    assert list(variants) == ORDER
    calibrated, options = variants["per-vector + column"]
    assert options.input_range == "max_abs"
    for placement in calibrated.placements:
        assert placement.calibration.get("input_range") is None
        assert len(placement.calibration["column_scale"]) == placement.block.col_stop \
            - placement.block.col_start
    assert all(p.calibration is None for p in variants["per-vector"][0].placements)
    assert variants["uncalibrated"][1].input_range is None  # the chip's range, fixed at 1
    assert all(p.calibration == {"input_range": 1.0}
               for p in variants["uncalibrated"][0].placements)


def test_plot_is_written_from_the_study_json(tmp_path):
    rows = [{"variant": v, "time_s": t, "accuracy_mean": 0.9 - 0.01 * k, "accuracy_std": 0.01,
             "logit_error_mean": 0.1, "logit_error_std": 0.01, "seeds": 2}
            for k, v in enumerate(ORDER) for t in (0.0, 3600.0, 86400.0)]
    study = {"model": "m", "chip": "c", "data": "d", "images": 10, "calibration_images": 5,
             "float_accuracy": 0.95, "rows": rows}
    path = plot_study(study, tmp_path / "sub" / "calibration.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_report_results_hold_the_study_in_order(report):
    out, results = report
    study = results["calibration"]
    assert [r["variant"] for r in study["rows"]] == [v for v in ORDER for _ in (1, 2)]
    assert {r["time_s"] for r in study["rows"]} == {3600.0, 86400.0}
    assert all(r["seeds"] == 2 for r in study["rows"])
    assert study["images"] == 30 and study["data"] == "digits"
    assert study["float_accuracy"] == results["accuracy"]["float_accuracy"]


def test_report_csv_holds_the_json_rows_exactly(report):
    out, results = report
    with (out / "calibration.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    study = results["calibration"]["rows"]
    assert [r["variant"] for r in rows] == [r["variant"] for r in study]
    assert [float(r["accuracy_mean"]) for r in rows] == [r["accuracy_mean"] for r in study]
    assert [float(r["logit_error_std"]) for r in rows] == [r["logit_error_std"] for r in study]


def test_report_section_shows_figure_and_the_json_numbers(report):
    out, results = report
    study = results["calibration"]
    page = parse(out / "index.html")
    assert "calibration.png" in page.images and (out / "calibration.png").stat().st_size > 5000
    table = next(t for t in page.tables if t[0][:2] == ["time after programming", "float (%)"])
    assert table[0][2:] == [f"{v} (hermes64) (%)" if v == "both" else f"{v} (%)" for v in ORDER]
    by_cell = {(r["variant"], r["time_s"]): r for r in study["rows"]}
    for line, t in zip(table[1:], (3600.0, 86400.0)):
        assert line[1] == fmt(100 * study["float_accuracy"])
        for variant, text in zip(ORDER, line[2:]):
            r = by_cell[(variant, t)]
            assert text == f"{fmt(100 * r['accuracy_mean'])} ± {fmt(100 * r['accuracy_std'])}"
    md = (out / "README.md").read_text()
    assert "## Range calibration" in md and "![" in md and "(calibration.png)" in md
    assert "| " + " | ".join(table[1]) + " |" in md


def test_calibration_study_without_data_scores_agreement_with_float(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["report", MLP, "--strategy", "sequential", "--calibration-study", "--images",
                 "20", "--seeds", "1", "--times", "1h", "--out", str(out)]) == 0
    capsys.readouterr()
    study = json.loads((out / "results.json").read_text())["calibration"]
    assert study["data"] == "synthetic"
    assert study["metric"] == "top-1 agreement with the float network"
    assert {r["variant"] for r in study["rows"]} >= {"uncalibrated", "both"}
    md = (out / "README.md").read_text()
    assert "synthetic calibration inputs" in md
    assert "top-1 agreement with the float network (%)" in md
