"""The accuracy study: the PCM reference table, drift trends, and the result plumbing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.datasets import load_dataset
from chipsim.errors import DataError
from chipsim.functional.analog import AnalogOptions
from chipsim.functional.executor import FloatBackend, run_network, synthetic_inputs
from chipsim.functional.result import AccuracyRow, CsvLog, read_csv
from chipsim.functional.study import (accuracy, accuracy_study, predicted_labels,
                                      relative_logit_error)
from chipsim.functional.times import TimeError, format_time, parse_time, parse_times
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES, Mapping
from chipsim.report import pcm_reference
from chipsim.report.pcm_reference import REFERENCE

ROOT = Path(__file__).resolve().parents[1]
HOUR, DAY, YEAR = 3600.0, 86400.0, 365 * 86400.0


def test_hermes64_holds_the_reference_settings():
    """The built-in chip is set as shared/reference/pcm-noise.md's end-to-end tables: one device
    per polarity of the published PCM model (g_max 25 uS, t0 20 s, t_read 250 ns), one weight
    scale per tile, 8-bit DAC with a fixed input range per tile (rule 2, as the silicon runs),
    8-bit ADC over +-12 with output noise 0.06 (normalized units)."""
    cores = load_chip("hermes64").cores
    assert (cores.device.g_max_us, cores.device.t0_s, cores.device.t_read_s) == (25.0, 20.0, 250e-9)
    assert (cores.unit_cell.devices_per_polarity, cores.unit_cell.weight_scale) == (1, "tile")
    assert (cores.dac.bits, cores.dac.input_range) == (8, "calibrated")
    assert (cores.adc.bits, cores.adc.full_scale, cores.adc.noise_std) == (8, 12.0, 0.06)


@pytest.fixture(scope="module")
def mlp_errors():
    """Relative logit errors of the bundled digits MLP on hermes64 under both DAC rules of
    pcm-noise.md, 5 seeds as the reference (`python -m chipsim.report.pcm_reference`)."""
    return pcm_reference.mlp_errors(seeds=5)


@pytest.mark.parametrize("gdc", [True, False], ids=["gdc", "no_gdc"])
@pytest.mark.parametrize("name", list(REFERENCE["per-vector"]))
@pytest.mark.parametrize("rule", list(REFERENCE))
def test_logit_error_matches_the_reference_table(mlp_errors, rule, name, gdc):
    # GDC rows rely on the calibration read going through the converters (Tile._gdc_readout):
    # its noise floor is what makes the compensated error grow with time as in the table
    want = REFERENCE[rule][name][1 if gdc else 2]
    got = mlp_errors[rule, name, gdc]
    assert abs(got - want) <= 0.15 * want, (got, want)


def test_errors_grow_with_time_and_gdc_helps(mlp_errors):
    for rule in REFERENCE:
        for gdc in (True, False):
            series = [mlp_errors[rule, n, gdc] for n in ("t0", "1h", "1d", "1y")]
            assert series == sorted(series)
        for name in ("1h", "1d", "1y"):
            assert mlp_errors[rule, name, True] < 0.5 * mlp_errors[rule, name, False]


def test_cnn_accuracy_does_not_rise_with_drift_time_without_gdc():
    chip = load_chip("hermes64")
    graph = load_graph(ROOT / "workloads/mnist_cnn/cnn.onnx")
    layers = lower(graph)
    mapping = Mapping.from_yaml(ROOT / "mappings/mnist_cnn/cnn-sequential.yaml", chip, layers)
    x, y = load_dataset("mnist", "test")
    result = accuracy_study(graph, layers, mapping, chip, x[:150], y[:150],
                            times=[60.0, DAY, 10 * YEAR], seeds=3, gdc=(False,), batch=64)
    acc = [row.accuracy_mean for row in result.rows]
    assert acc == sorted(acc, reverse=True)
    assert acc[-1] < acc[0]
    assert [row.time_s for row in result.rows] == [60.0, DAY, 10 * YEAR]


def test_study_rows_arrive_as_cells_finish_and_go_to_csv(tmp_path):
    chip = load_chip("hermes64")
    graph = load_graph(ROOT / "workloads/digits_mlp/mlp.onnx")
    layers = lower(graph)
    mapping = STRATEGIES["sequential"].place(layers, chip)
    x, y = load_dataset("digits", "test")
    log = CsvLog(tmp_path / "a.csv")
    seen = []

    def on_row(row):
        log.append(row)
        seen.append(len(read_csv(log.path)))

    result = accuracy_study(graph, layers, mapping, chip, x[:40], y[:40], times=[1.0, HOUR],
                            seeds=2, on_row=on_row, names=("mlp", "hermes64", "digits"))
    assert seen == [1, 2, 3, 4]  # the file grows one row per finished cell
    assert read_csv(log.path) == result.rows
    assert [(r.time_s, r.gdc) for r in result.rows] == [(1.0, True), (1.0, False),
                                                        (HOUR, True), (HOUR, False)]
    doc = result.to_json()
    assert set(doc["rows"][0]) >= {"time_s", "gdc", "accuracy_mean", "accuracy_std",
                                   "logit_error_mean", "logit_error_std"}
    assert 0 <= doc["float_accuracy"] <= 1
    assert result.plot(tmp_path / "a.png").stat().st_size > 1000


def test_row_summary_is_mean_and_std_over_seeds():
    row = AccuracyRow.from_seeds(60.0, True, [0.9, 0.8], [0.1, 0.3])
    assert (row.accuracy_mean, row.logit_error_mean, row.seeds) == (pytest.approx(0.85), 0.2, 2)
    assert row.accuracy_std == pytest.approx(0.05)


def test_relative_logit_error_is_per_image_then_mean():
    ref = np.array([[3.0, 4.0], [1.0, 0.0]])
    assert relative_logit_error(ref * 1.1, ref) == pytest.approx(0.1)
    assert relative_logit_error(np.array([[3.0, 4.0], [0.0, 0.0]]), ref) == pytest.approx(0.5)


def test_a_classifier_scores_one_prediction_per_input():
    logits = np.array([[0.1, 2.0, 0.3], [5.0, 1.0, 0.0], [0.0, 0.2, 0.1], [1.0, 0.0, 3.0]])
    labels = np.array([1, 0, 2, 2])
    assert predicted_labels(logits).tolist() == [1, 0, 1, 2]
    assert accuracy(logits, labels) == 0.75
    # a classifier whose output keeps size-1 axes (N, classes, 1, 1) scores the same
    assert accuracy(logits[:, :, None, None], labels) == 0.75


def test_a_sequence_output_is_scored_per_step():
    # (inputs, steps, classes): each step is one prediction with its own label
    logits = np.array([[[0.0, 5.0, 1.0], [2.0, 0.0, 1.0]],
                       [[1.0, 0.0, 3.0], [4.0, 0.0, 0.0]]])
    assert predicted_labels(logits).tolist() == [[1, 0], [2, 0]]
    # 3 of 4 predictions agree; one argmax per input could only score 0, 0.5 or 1
    assert accuracy(logits, np.array([[1, 0], [2, 2]])) == 0.75


def test_labels_that_do_not_fit_the_predictions_are_refused():
    logits = np.zeros((2, 3, 4))
    with pytest.raises(DataError, match=r"labels of shape \(2,\).*shape \(2, 3\)"):
        accuracy(logits, np.zeros(2, dtype=int))


def test_the_lstm_on_ideal_tiles_agrees_with_float_at_every_step():
    chip = load_chip("hermes64")
    graph = load_graph(ROOT / "workloads/ptb_lstm/lstm.onnx")
    layers = lower(graph)
    mapping = STRATEGIES["sequential"].place(layers, chip)
    x = synthetic_inputs(graph, 2, seed=0)
    labels = predicted_labels(run_network(graph, FloatBackend(layers), x))
    assert labels.shape == (2, 32)  # one character predicted per step
    result = accuracy_study(graph, layers, mapping, chip, x, labels, times=[0.0], seeds=1,
                            gdc=(False,), options=AnalogOptions.ideal())
    assert result.float_accuracy == 1.0
    assert result.rows[0].accuracy_mean == 1.0


@pytest.mark.parametrize("text,seconds", [("1s", 1), ("10m", 600), ("1h", 3600), ("2d", 172800),
                                          ("1y", 365 * 86400), ("0", 0), ("0.5h", 1800), ("30", 30)])
def test_times_parse(text, seconds):
    assert parse_time(text) == seconds


def test_time_lists_and_errors():
    assert parse_times("1s,1h,1d,1y") == [1, HOUR, DAY, YEAR]
    assert [format_time(t) for t in (0, 1, 3600, 86400, YEAR, 90)] == ["0s", "1s", "1h", "1d", "1y", "90s"]
    for bad in ("1x", "-1h", "", "1h,,1d", "h", "1 hour"):
        with pytest.raises(TimeError, match="bad time"):
            parse_times(bad)
