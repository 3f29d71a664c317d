"""Range calibration: deterministic, fitted on calibration data only, within g_max, invisible in
ideal mode, safe on degenerate inputs, and stored in the mapping file exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from chipsim.arch import load_chip
from chipsim.calibration import calibrate_mapping, collect_tile_inputs
from chipsim.calibration.calibrate import network_figures, rounded
from chipsim.calibration.column_ranges import choose_column_scales, column_floor, scales_for
from chipsim.calibration.input_ranges import choose_input_range, rule_ranges
from chipsim.calibration.objective import (CALIBRATION_SEED_BASE, calibration_seeds,
                                           reference_outputs, tile_error)
from chipsim.datasets import load_dataset
from chipsim.errors import DataError, MappingError
from chipsim.functional.analog import AnalogNetwork, AnalogOptions, apply_calibration, tile_config
from chipsim.functional.executor import FloatBackend, run_network
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES, Mapping
from chipsim.tile import Tile

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chip():
    return load_chip("hermes64")


def _with_cores(chip, **changes):
    return chip.model_copy(update={"cores": chip.cores.model_copy(update=changes)})


@pytest.fixture(scope="module")
def static(chip):
    """hermes64 as built in: a fixed DAC range per tile (1.0 until calibrated)."""
    assert chip.cores.dac.input_range == "calibrated"
    return chip


@pytest.fixture(scope="module")
def per_vector_chip(chip):
    """hermes64 with each input vector scaled by its own max |x| (a software option)."""
    return _with_cores(chip, dac=chip.cores.dac.model_copy(update={"input_range": "max_abs"}))


@pytest.fixture(scope="module")
def mlp(static):
    graph = load_graph(ROOT / "workloads/digits_mlp/mlp.onnx")
    layers = lower(graph)
    small = _with_cores(static, rows=40, cols=24)  # split layers
    mapping = STRATEGIES["sequential"].place(layers, small)
    x, y = load_dataset("digits", "calibration")
    return graph, layers, mapping, small, x[:48], y[:48]


@pytest.fixture(scope="module")
def calibrated(mlp):
    graph, layers, mapping, chip, x, _ = mlp
    return calibrate_mapping(graph, layers, mapping, chip, x, max_rows=200)


def _tile(chip, weights, seed=0, **options):
    """A tile of `chip` with a fixed (calibratable) DAC range unless options say otherwise."""
    options = {"input_range": "calibrated", **options}
    rows, cols = weights.shape
    return Tile(tile_config(chip, AnalogOptions(**options), rows, cols), weights, seed=seed)


def test_calibration_is_deterministic(mlp, calibrated):
    graph, layers, mapping, chip, x, _ = mlp
    again = calibrate_mapping(graph, layers, mapping, chip, x, max_rows=200)
    assert [p.calibration for p in again.mapping.placements] == \
        [p.calibration for p in calibrated.mapping.placements]
    assert all(p.calibration["input_range"] > 0 for p in again.mapping.placements)


def test_tile_input_sample_does_not_depend_on_the_batch_size(chip):
    graph = load_graph(ROOT / "workloads/mnist_cnn/cnn.onnx")
    layers = lower(graph)
    mapping = STRATEGIES["balanced"].place(layers, chip)
    assert max(mapping.replication.values()) > 1  # replicas see different MVMs
    x = np.random.default_rng(0).random((6, 1, 28, 28)).astype(np.float32)
    a = collect_tile_inputs(graph, layers, mapping, x, max_rows=10, batch=6)
    b = collect_tile_inputs(graph, layers, mapping, x, max_rows=10, batch=4)
    assert len(a) == len(mapping.placements)
    for u, v, p in zip(a, b, mapping.placements):
        assert 0 < len(u) <= 10 and u.shape[1] == p.block.rows
        np.testing.assert_array_equal(u, v)


def test_calibration_lowers_the_error_on_calibration_data(mlp, calibrated):
    graph, layers, mapping, chip, x, y = mlp
    # never worse than before (up to the 6-digit rounding of the file), better on the whole
    assert all(t.error_after <= t.error_before * (1 + 1e-4) for t in calibrated.tiles)
    assert sum(t.error_after for t in calibrated.tiles) < 0.5 * sum(t.error_before
                                                                    for t in calibrated.tiles)
    before = network_figures(graph, layers, mapping, chip, x, y, seed=0, t_seconds=3600.0)
    after = network_figures(graph, layers, calibrated.mapping, chip, x, y, seed=0,
                            t_seconds=3600.0)
    assert after["logit_error"] < before["logit_error"]


def test_a_per_vector_chip_keeps_its_scaling_unless_a_fixed_range_does_better(per_vector_chip):
    chip = per_vector_chip
    graph = load_graph(ROOT / "workloads/digits_mlp/mlp.onnx")
    layers = lower(graph)
    mapping = STRATEGIES["sequential"].place(layers, chip)
    x = load_dataset("digits", "calibration")[0][:16]
    plain = AnalogNetwork(graph, layers, mapping, chip)
    assert {t.config.input_range for t in plain.tiles} == {"max_abs"}
    # a named rule asks for a fixed range: every tile gets one
    fixed = calibrate_mapping(graph, layers, mapping, chip, x, input_rule="quantile",
                              column_rule="none", max_rows=50)
    tuned = AnalogNetwork(graph, layers, fixed.mapping, chip)
    assert {t.config.input_range for t in tuned.tiles} == {"calibrated"}
    assert [t.input_range for t in tuned.tiles] == \
        [p.calibration["input_range"] for p in fixed.mapping.placements]
    # "best" weighs the chip's own per-vector scaling against the fixed ranges, tile by tile
    best = calibrate_mapping(graph, layers, mapping, chip, x, column_rule="none", max_rows=50)
    kept = [t.input_rule == "per-vector" for t in best.tiles]
    assert [p.calibration is None or "input_range" not in p.calibration
            for p in best.mapping.placements] == kept
    tuned = AnalogNetwork(graph, layers, best.mapping, chip)
    assert [t.config.input_range == "max_abs" for t in tuned.tiles] == kept
    # never worse than the chip as it is, tile by tile (up to the file's 6-digit rounding)
    both = calibrate_mapping(graph, layers, mapping, chip, x, max_rows=50)
    assert all(t.error_after <= t.error_before * (1 + 1e-4) for t in both.tiles)


@pytest.mark.parametrize("inputs, winner", [("loud and quiet vectors", "per-vector"),
                                             ("one spike per vector", "fixed")])
def test_best_picks_per_vector_scaling_only_where_it_wins(chip, inputs, winner):
    """Vectors of very different loudness suit per-vector scaling; a spike in every vector
    wastes its max on the spike, and a fixed range that clips it does better."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((64, 8)).astype(np.float32) * 0.1
    x = rng.random((400, 64)).astype(np.float32)
    if inputs == "loud and quiet vectors":
        x *= 10.0 ** rng.uniform(-3, 0, (400, 1)).astype(np.float32)
    else:
        x *= 0.05
        x[np.arange(400), rng.integers(0, 64, 400)] = 1.0
    quiet = dict(programming_noise=False, read_noise=False, drift=False)
    fixed, dynamic = _tile(chip, w, **quiet), _tile(chip, w, input_range="max_abs", **quiet)
    choice = choose_input_range(fixed, x, per_vector=dynamic)
    assert (choice.rule == "per-vector") == (winner == "per-vector")
    assert (choice.input_range is None) == (winner == "per-vector")
    held = x[1::2]
    ref = reference_outputs(fixed, held)
    if winner == "per-vector":
        fixed.input_range = choice.candidates["search"]
        assert tile_error(dynamic, held, ref) <= tile_error(fixed, held, ref)
    else:
        assert tile_error(fixed, held, ref) < tile_error(dynamic, held, ref)


def test_the_command_reads_only_the_calibration_split(mlp, tmp_path, monkeypatch, capsys):
    import chipsim.datasets as datasets
    from chipsim.cli import main

    graph, layers, _, chip, _, _ = mlp
    path = tmp_path / "map.yaml"
    STRATEGIES["sequential"].place(layers, load_chip("hermes64")).to_yaml(path)
    splits, loads = [], []
    real_split, real_load = datasets.split_indices, datasets.load_dataset
    monkeypatch.setattr(datasets, "split_indices",
                        lambda name, split: splits.append(split) or real_split(name, split))
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda name, split, *a, **k: loads.append(split) or
                        real_load(name, split, *a, **k))
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", str(ROOT / "workloads/digits_mlp/mlp.onnx"), "--mapping", str(path),
                 "--data", "digits", "--samples", "20", "--rows-per-tile", "50", "-o", str(out),
                 "--json"]) == 0
    assert loads == ["calibration"] and set(splits) == {"calibration"}
    import json
    doc = json.loads(capsys.readouterr().out)  # one JSON document, nothing else on stdout
    assert doc["settings"]["samples"] == 20 and len(doc["tiles"]) == 2
    assert set(doc["calibration_set"]) == {"before", "after"}
    reread = Mapping.from_yaml(out, load_chip("hermes64"), layers)
    assert all(p.calibration for p in reread.placements)


def test_column_scales_stay_within_g_max(mlp, calibrated):
    _, layers, _, _, _, _ = mlp
    by_name = {layer.name: layer for layer in layers}
    for p in calibrated.mapping.placements:
        b = p.block
        w = by_name[b.layer].weight[b.row_start:b.row_stop, b.col_start:b.col_stop]
        scale = np.array(p.calibration["column_scale"])
        assert np.all(np.abs(w) / scale[None, :] <= 1.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.floats(1e-3, 1e3), st.floats(1e-3, 10.0))
def test_scaling_never_passes_g_max(seed, magnitude, alpha):
    chip = load_chip("hermes64")
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((12, 5)) * magnitude).astype(np.float32)
    w[:, 2] = 0.0  # an all-zero column too
    tile = _tile(chip, w, programming_noise=False, drift=False, read_noise=False)
    peaks = rng.random(5) * 50 * magnitude
    scale = np.array([rounded(s, up=True) for s in scales_for(tile, peaks, alpha)])
    assert np.all(scale >= column_floor(w))
    tile.column_scale = scale
    tile.program()
    assert np.abs(tile.conductance_difference).max() <= tile.config.g_cell_max * (1 + 1e-6)


def test_column_scales_do_not_change_the_ideal_output(mlp, calibrated):
    graph, layers, mapping, chip, x, _ = mlp
    want = run_network(graph, FloatBackend(layers), x)
    ideal = AnalogOptions.ideal()
    plain = AnalogNetwork(graph, layers, mapping, chip, options=ideal).run(x)
    calib = AnalogNetwork(graph, layers, calibrated.mapping, chip, options=ideal).run(x)
    np.testing.assert_allclose(calib, want, rtol=0, atol=2e-5 * np.abs(want).max())
    np.testing.assert_allclose(calib, plain, rtol=0, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize("kind", ["zero", "constant", "empty"])
def test_degenerate_inputs_get_a_safe_range(chip, kind):
    w = np.random.default_rng(1).standard_normal((16, 6)).astype(np.float32)
    x = {"zero": np.zeros((30, 16)), "constant": np.full((30, 16), -0.7),
         "empty": np.zeros((0, 16))}[kind].astype(np.float32)
    tile = _tile(chip, w)
    choice = choose_input_range(tile, x)
    assert np.isfinite(choice.input_range) and choice.input_range > 0
    if kind == "constant":
        assert choice.input_range <= 0.7 * (1 + 1e-6)  # clipping a constant costs nothing
    cols = choose_column_scales(tile, x, 3600.0)
    assert np.all(np.isfinite(cols.column_scale)) and np.all(cols.column_scale >= column_floor(w))
    tile.forward(np.ones((2, 16), np.float32))  # still usable
    if kind != "constant":  # nothing to learn: a per-vector tile keeps its per-vector scaling
        dynamic = _tile(chip, w, input_range="max_abs")
        kept = choose_input_range(_tile(chip, w), x, per_vector=dynamic)
        assert (kept.rule, kept.input_range) == ("unused", None)


def test_nan_inputs_are_refused_by_name(chip):
    w = np.ones((8, 3), np.float32)
    x = np.ones((10, 8), np.float32)
    x[3, 2] = np.nan
    tile = _tile(chip, w)
    with pytest.raises(DataError, match="tile 0: calibration inputs contain NaN"):
        choose_input_range(tile, x)
    with pytest.raises(DataError, match="tile 0: calibration inputs contain NaN"):
        choose_column_scales(tile, x, 0.0)


def test_a_per_vector_dac_has_no_range_to_calibrate(chip):
    tile = _tile(chip, np.ones((8, 3), np.float32), input_range="max_abs")
    with pytest.raises(DataError, match="no fixed input range"):
        choose_input_range(tile, np.ones((4, 8), np.float32))


def test_search_clips_heavy_tails_and_beats_the_max(chip):
    """A huge outlier: the max range wastes the DAC's steps on it, the search clips it."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((64, 8)).astype(np.float32) * 0.1
    x = rng.standard_normal((400, 64)).astype(np.float32) * 0.1
    x[0, 0] = 4.0  # one input 40 standard deviations out
    tile = _tile(chip, w, programming_noise=False, read_noise=False, drift=False,
                 output_noise=False)
    ref = reference_outputs(tile, x)
    best = choose_input_range(tile, x, "best")
    assert best.input_range < 0.5 * rule_ranges(x)["max"]
    tile.input_range = rule_ranges(x)["max"]
    assert best.error < tile_error(tile, x, ref)
    assert choose_input_range(tile, x, "quantile").input_range == \
        pytest.approx(np.quantile(np.abs(x), 0.99995))


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-30, 1e30, allow_nan=False), st.booleans())
def test_rounded_values_round_trip_through_yaml(value, up):
    r = rounded(value, up)
    assert yaml.safe_load(yaml.safe_dump([r]))[0] == r
    assert float(f"{r:.6g}") == r  # six significant digits, written as such
    assert abs(r - value) <= 1.0001e-5 * value  # one step of the 6th digit at most
    if up:
        assert r >= value


def test_mapping_file_round_trip_keeps_calibration_exactly(mlp, calibrated, tmp_path):
    graph, layers, _, chip, x, _ = mlp
    path = tmp_path / "cal.yaml"
    calibrated.mapping.to_yaml(path)
    text = path.read_text()
    assert "calibration: {input_range: " in text and "column_scale: [" in text
    back = Mapping.from_yaml(path, chip, layers)
    assert [p.calibration for p in back.placements] == \
        [p.calibration for p in calibrated.mapping.placements]
    a = AnalogNetwork(graph, layers, back, chip, seed=2)
    b = AnalogNetwork(graph, layers, calibrated.mapping, chip, seed=2)
    np.testing.assert_array_equal(a.run(x[:8]), b.run(x[:8]))


@pytest.mark.parametrize("calibration, words", [
    ({"input_range": -1.0}, "calibration.input_range: expected a number > 0"),
    ({"column_scale": [1.0, 1.0]}, "calibration.column_scale: expected 3 finite"),
    ({"column_scale": [1.0, 0.5, 1.0]}, r"calibration.column_scale\[1\] = 0.5 is below"),
    ({"gain": 2}, "calibration: unknown field 'gain'"),
])
def test_bad_calibration_entries_name_the_placement(chip, calibration, words):
    w = np.array([[1.0, 2.0, 0.5]] * 4, np.float32)
    tile = _tile(chip, w)
    with pytest.raises(MappingError, match=f"placement 7: {words}"):
        apply_calibration(tile, calibration, "mapping placement 7")


def test_calibration_programs_only_chips_of_its_own_seeds(mlp, monkeypatch):
    """The ranges are fitted to calibration chips, never to the chips a study tests (0, 1, ...)."""
    import chipsim.calibration.calibrate as calibrate

    graph, layers, mapping, chip, x, _ = mlp
    seeds = []
    real = calibrate.Tile

    def recording(config, weights, tile_id=0, seed=0, **kwargs):
        seeds.append(seed)
        return real(config, weights, tile_id=tile_id, seed=seed, **kwargs)

    monkeypatch.setattr(calibrate, "Tile", recording)
    result = calibrate_mapping(graph, layers, mapping, chip, x[:8], max_rows=20, draws=2, seed=1)
    assert set(seeds) == set(calibration_seeds(1, 2)) == set(result.settings["calibration_seeds"])
    assert min(seeds) >= CALIBRATION_SEED_BASE
    assert len(set(calibration_seeds(0, 3)) | set(calibration_seeds(1, 3))) == 6


def test_the_objective_averages_the_calibration_draws(chip):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((32, 6)).astype(np.float32)
    x = rng.standard_normal((50, 32)).astype(np.float32)
    a, b = _tile(chip, w, seed=5), _tile(chip, w, seed=6)
    ref = reference_outputs(a, x)
    assert tile_error(a, x, ref) != tile_error(b, x, ref)  # draws differ
    assert tile_error([a, b], x, ref) == pytest.approx((tile_error(a, x, ref)
                                                        + tile_error(b, x, ref)) / 2)


def test_every_draw_gets_the_chosen_ranges(chip):
    rng = np.random.default_rng(4)
    w = rng.standard_normal((32, 6)).astype(np.float32)
    x = np.abs(rng.standard_normal((80, 32))).astype(np.float32)
    tiles = [_tile(chip, w, seed=s) for s in (7, 8, 9)]
    choice = choose_input_range(tiles, x)
    assert {t.input_range for t in tiles} == {choice.input_range}
    columns = choose_column_scales(tiles, x, 3600.0)
    for t in tiles:
        np.testing.assert_array_equal(t.column_scale, columns.column_scale)
        assert t.time == 3600.0


def test_the_search_is_judged_on_rows_it_was_not_fitted_to(chip, monkeypatch):
    """`best` picks among candidates by the error on held-out rows, not on the fitting rows."""
    import chipsim.calibration.input_ranges as input_ranges

    rng = np.random.default_rng(5)
    w = rng.standard_normal((16, 4)).astype(np.float32)
    x = rng.standard_normal((40, 16)).astype(np.float32)
    judged = []
    real = input_ranges.tile_error

    def recording(tiles, rows, reference):
        first = next(k for k in range(len(x)) if np.array_equal(rows[0], x[k]))
        judged.append((rows.shape[0], first))
        return real(tiles, rows, reference)

    monkeypatch.setattr(input_ranges, "tile_error", recording)
    fit, held = input_ranges.split_rows(x)
    assert len(fit) + len(held) == len(x) and not np.shares_memory(fit, held)
    choose_input_range(_tile(chip, w), x, "best")
    # even rows while fitting, odd rows while judging, all rows for the reported error
    assert set(judged) == {(20, 0), (20, 1), (40, 0)}


def test_too_few_draws_are_refused(mlp):
    graph, layers, mapping, chip, x, _ = mlp
    with pytest.raises(DataError, match="draws must be at least 1"):
        calibrate_mapping(graph, layers, mapping, chip, x[:4], draws=0)
