"""Faults as data: stuck devices in programming and read, dead cores and broken links that every
strategy maps around, the errors that name what is broken, and the faults study end to end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from chipsim.arch import load_chip
from chipsim.arch.faults import (STUCK_RESET, STUCK_SET, draw_faults, load_faults,
                                 reachable_units, stuck_states, unusable_cores, usable_cores,
                                 with_faults)
from chipsim.cli import main
from chipsim.errors import ChipsimWarning, DescriptionError, MappingError
from chipsim.functional.analog import AnalogNetwork, AnalogOptions
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES, check_mapping, check_usable, summarize
from chipsim.tile import Tile, TileConfig
from chipsim.timing.network import Network
from chipsim.timing.energy import EnergyLedger
from chipsim.timing.trace import Trace

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")
HERMES = load_chip("hermes64")


def faulty(**faults):
    return with_faults(HERMES, faults, "test")


# ------------------------------------------------------------------------------ description


@pytest.mark.parametrize("faults, words", [
    ({"dead_cores": [64]}, "dead_cores.0: expected a core id from 0 to 63, got 64"),
    ({"broken_links": [[0, 9]]}, "broken_links.0: expected a link of the network, got [0, 9]"),
    ({"stuck_devices": [{"core": 1, "row": 256, "col": 0, "polarity": "positive",
                         "state": "set"}]}, "stuck_devices.0.row: expected an index from 0 to 255"),
    ({"stuck_set": 0.7, "stuck_reset": 0.5}, "stuck_reset: expected at most 1 - stuck_set = 0.3"),
    ({"stuck_set": 1.5}, "stuck_set: expected a number from 0 to 1, got 1.5"),
    ({"dead_core": [1]}, "unknown key \"dead_core\""),
])
def test_a_bad_faults_file_names_the_file_and_the_field(tmp_path, faults, words):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(faults))
    with pytest.raises(DescriptionError) as err:
        load_faults(HERMES, path)
    assert str(err.value).startswith("broken.yaml: ") and words in str(err.value)
    assert "faults." not in str(err.value)  # the file's fields sit at its top level


def test_faults_in_the_description_are_checked_there_too():
    doc = yaml.safe_load((ROOT / "chipsim/arch/chips/hermes64.yaml").read_text())
    doc["faults"] = {"dead_cores": [99]}
    from chipsim.arch import parse_chip
    with pytest.raises(DescriptionError, match=r"mine.yaml: faults.dead_cores.0: expected a core"):
        parse_chip(yaml.safe_dump(doc), "mine.yaml")


def test_cli_faults_option_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "f.yaml"
    bad.write_text("dead_cores: [3, 3000]\n")
    assert main(["info", "hermes64", "--faults", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "f.yaml: dead_cores.1" in err
    assert main(["map", MLP, "--faults", str(tmp_path / "missing.yaml"), "-o",
                 str(tmp_path / "m.yaml")]) == 2
    assert "missing.yaml: cannot read the faults file" in capsys.readouterr().err


# ---------------------------------------------------------------------------- stuck devices


def test_stuck_fractions_come_out_as_drawn_and_per_core():
    chip = faulty(stuck_set=0.02, stuck_reset=0.05, seed=3)
    states = stuck_states(chip, 5)
    n = states.size  # 131,072 devices: binomial std of a fraction ~ 0.0006
    assert abs((states == STUCK_SET).sum() / n - 0.02) < 0.003
    assert abs((states == STUCK_RESET).sum() / n - 0.05) < 0.004
    assert np.array_equal(states, stuck_states(chip, 5))  # deterministic
    assert not np.array_equal(states, stuck_states(chip, 6))  # each core its own devices
    other_seed = stuck_states(faulty(stuck_set=0.02, stuck_reset=0.05, seed=4), 5)
    assert not np.array_equal(states, other_seed)
    assert stuck_states(HERMES, 5) is None


def test_a_listed_stuck_device_is_exactly_where_it_is_named():
    chip = faulty(stuck_devices=[{"core": 2, "row": 7, "col": 9, "polarity": "negative",
                                  "state": "reset"}])
    states = stuck_states(chip, 2)
    assert states[1, 0, 7, 9] == STUCK_RESET and states.sum() == STUCK_RESET
    assert stuck_states(chip, 3) is None


def _quiet(rows=4, cols=3, **kw):
    return TileConfig.ideal(rows, cols, gdc=False, **kw)


def test_a_device_stuck_at_set_reads_g_max_and_at_reset_zero():
    w = np.full((4, 3), 0.5, dtype=np.float32)  # G+ targets half of g_max, G- zero
    w[0] = 1.0  # each column's largest weight: one g_max
    stuck = np.zeros((2, 1, 4, 3), dtype=np.int8)
    stuck[0, 0, 1, 2] = STUCK_RESET  # G+ of cell (1, 2) cannot be written: the weight is lost
    stuck[1, 0, 3, 0] = STUCK_SET  # G- of cell (3, 0) conducts fully: the weight flips sign
    tile = Tile(_quiet(), w, stuck=stuck)
    g = tile.conductance_difference / tile.config.g_cell_max * tile.column_scale
    expected = w.astype(np.float64)
    expected[1, 2] = 0.0
    expected[3, 0] = 0.5 - 1.0
    np.testing.assert_allclose(g, expected, atol=1e-12)
    x = np.eye(4, dtype=np.float32)
    np.testing.assert_allclose(tile.forward(x), expected, atol=1e-6)


def test_the_devices_after_a_stuck_one_make_up_for_it():
    """Program-and-verify: with two devices per polarity, a device stuck at RESET leaves its
    share to the other one, so a weight within one device's range still comes out whole."""
    w = np.full((4, 3), 0.4, dtype=np.float32)  # 0.4 of a two-device cell: 0.8 of one device
    w[3] = 1.0  # each column's largest weight: both devices at g_max
    stuck = np.zeros((2, 2, 4, 3), dtype=np.int8)
    stuck[0, 0, 0, 0] = STUCK_RESET  # the first G+ device of cell (0, 0)
    stuck[0, 1, 1, 1] = STUCK_RESET  # the second G+ device of cell (1, 1): nobody after it
    tile = Tile(_quiet(devices_per_polarity=2), w, stuck=stuck)
    g = tile.conductance_difference / tile.config.g_cell_max * tile.column_scale
    assert g[0, 0] == pytest.approx(w[0, 0])  # made up for
    assert g[1, 1] == pytest.approx(w[1, 1] / 2)  # half of it lost
    assert g[2, 2] == pytest.approx(w[2, 2])


def test_output_error_grows_with_the_stuck_fraction():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.3, (256, 64)).astype(np.float32)
    x = rng.uniform(-1, 1, (32, 256)).astype(np.float32)
    exact = x @ w
    errors = []
    for rate in (0.0, 0.01, 0.05):
        chip = faulty(stuck_set=rate / 2, stuck_reset=rate / 2)
        states = stuck_states(chip, 0)
        stuck = None if states is None else states[:, :, :, :64]
        tile = Tile(TileConfig.from_chip(chip, cols=64, programming_noise=False, drift=False,
                                         read_noise=False, output_noise=False), w, stuck=stuck)
        errors.append(np.linalg.norm(tile.forward(x) - exact) / np.linalg.norm(exact))
    assert errors[0] < errors[1] < errors[2]


# ---------------------------------------------------------------- dead cores and broken links


def test_broken_links_leave_the_network_and_packets_go_around():
    chip = faulty(broken_links=[[0, 1]])
    assert not chip.network_graph().has_edge(0, 1)
    assert chip.hop_distances[0, 1] == 3 and HERMES.hop_distances[0, 1] == 1
    net = Network(chip.network_graph(), "xy", 0.0, EnergyLedger(), Trace(1.0),
                  {c: chip.core_position(c) for c in range(64)})
    route = net.route(0, 2)
    assert (0, 1) not in route and (1, 0) not in route and route[-1][1] == 2


def test_cores_cut_off_by_broken_links_are_unreachable():
    # core 0 of the 8 x 8 mesh has two links: break both
    chip = faulty(broken_links=[[0, 1], [0, 8]], dead_cores=[5])
    assert unusable_cores(chip) == {0: "unreachable", 5: "dead"}
    assert 0 not in usable_cores(chip) and len(usable_cores(chip)) == 62
    # a global unit whose core is cut off cannot be reached either
    chip = faulty(broken_links=[[7, 6], [7, 15]])
    assert "gdpu0" not in reachable_units(chip) and len(reachable_units(chip)) == 7


RESNET9 = lower(load_graph(ROOT / "workloads/mnist32_resnet9/resnet9.onnx"))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_every_strategy_maps_around_dead_cores_and_broken_links(name, rate):
    chip = with_faults(HERMES, draw_faults(HERMES, rate, seed=1, kinds=("cores", "links")))
    lost = unusable_cores(chip)
    assert lost  # the draw broke something
    try:
        mapping = STRATEGIES[name].place(RESNET9, chip)
    except MappingError as err:  # too few cores left: the error says which are gone
        assert "usable of 64 (dead: " in str(err)
        assert len(usable_cores(chip)) < 40
        return
    check_mapping(mapping, chip, RESNET9)  # every block once per copy, no cell twice
    check_usable(mapping, chip)
    assert not {p.core for p in mapping.placements} & set(lost)
    summary = summarize(mapping, RESNET9, chip)  # traffic is routed on the working links
    assert summary["hop_weighted_traffic"] > 0


def test_too_few_usable_cores_is_an_error_that_names_them():
    chip = faulty(dead_cores=list(range(30)))
    with pytest.raises(MappingError, match=r"needs 40 cores .* the chip has 34 usable of 64 "
                                           r"\(dead: 0, 1, 2"):
        STRATEGIES["sequential"].place(RESNET9, chip)


def _mlp():
    graph = load_graph(MLP)
    layers = lower(graph)
    return graph, layers, STRATEGIES["sequential"].place(layers, HERMES)


def test_blocks_on_a_dead_core_deliver_nothing():
    graph, layers, mapping = _mlp()
    dead = mapping.placements[0]
    chip = faulty(dead_cores=[dead.core])
    with pytest.warns(ChipsimWarning, match=f"{dead.core} dead"):
        net = AnalogNetwork(graph, layers, mapping, chip, options=AnalogOptions.ideal())
    layer = net.layers[dead.block.layer]
    x = np.random.default_rng(0).uniform(0, 1, (5, layer.rows)).astype(np.float32)
    y = net.layer_forward(layer.name, x, np.arange(5))
    bias = np.zeros(layer.cols, np.float32) if layer.bias is None else layer.bias
    b = dead.block
    np.testing.assert_array_equal(y[:, b.col_start:b.col_stop],
                                  np.broadcast_to(bias[b.col_start:b.col_stop], (5, b.cols)))


def test_a_mapping_on_a_dead_core_cannot_be_timed(tmp_path, capsys):
    graph, layers, mapping = _mlp()
    faults = tmp_path / "faults.yaml"
    faults.write_text(f"dead_cores: [{mapping.placements[-1].core}]\n")
    args = ["simulate", MLP, "--strategy", "sequential", "--inputs", "2", "--no-calibrate",
            "--faults", str(faults), "--out", str(tmp_path / "sim")]
    # the strategy maps around it ...
    assert main(args) == 0
    # ... a mapping made for the healthy chip does not run on it
    assert main(["map", MLP, "-o", str(tmp_path / "m.yaml")]) == 0
    capsys.readouterr()
    args[2:4] = ["--mapping", str(tmp_path / "m.yaml")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"core {mapping.placements[-1].core} is dead on this chip" in err


# ---------------------------------------------------------------------------------- study


def test_fault_draws_are_nested_in_the_rate():
    low, high = draw_faults(HERMES, 0.05, seed=2), draw_faults(HERMES, 0.2, seed=2)
    assert set(low.dead_cores) <= set(high.dead_cores)
    assert set(low.broken_links) <= set(high.broken_links)
    assert len(high.dead_cores) > len(low.dead_cores)
    assert draw_faults(HERMES, 0.0).dead_cores == () and not draw_faults(HERMES, 0.0)


def test_faults_study_end_to_end_and_resumed(tmp_path, capsys):
    out = tmp_path / "study"
    args = ["faults", MLP, "--data", "digits", "--rates", "0,0.3", "--images", "40",
            "--inputs", "4", "--seeds", "1", "--strategy", "sequential", "--out", str(out),
            "--json"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChipsimWarning)  # the study says it, in the cells
        assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    cells = {(c["rate"], c["variant"]): c for c in doc["cells"]}
    assert sorted(cells) == [(0.0, v) for v in ("as mapped", "recalibrated", "remapped")] + \
        [(0.3, v) for v in ("as mapped", "recalibrated", "remapped")]
    healthy = cells[0.0, "as mapped"]
    assert healthy["accuracy"] == cells[0.0, "remapped"]["accuracy"]  # same chip, same mapping
    assert healthy["lost_tiles"] == 0 and healthy["inferences_per_s"] > 0
    broken = cells[0.3, "as mapped"]
    assert broken["dead_cores"] and broken["usable_cores"] < 64
    if broken["lost_tiles"]:  # a lost tile: no timing, and remapping gets it back
        assert broken["inferences_per_s"] is None
    assert cells[0.3, "remapped"]["lost_tiles"] == 0
    assert cells[0.3, "remapped"]["inferences_per_s"] > 0
    for name in ("index.html", "README.md", "faults.png", "faults.csv", "results.json"):
        assert (out / name).stat().st_size > 100
    # a rerun reads every cell back and computes none
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["cells"] == doc["cells"]
    assert "6 of 6 cells reused, 0 computed" in captured.err


@pytest.mark.parametrize("option, value, words", [
    ("--rates", "0,2", "fault rates lie from 0 to 1"),
    ("--rates", "0,x", "expected comma-separated numbers"),
    ("--rates", "0.1,0.1", "a rate is given twice"),
    ("--kinds", "stuck,rust", "expected some of stuck, cores, links"),
    ("--strategy", "random", "unknown strategy 'random'"),
])
def test_faults_study_options_are_checked_in_one_line(option, value, words, capsys):
    assert main(["faults", MLP, option, value]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and option in err and words in err
