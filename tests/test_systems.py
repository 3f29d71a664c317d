"""Systems of several chips: the system file, the partition between chips, the mapping file,
the event model's chip-to-chip links and their energy, and the commands' --chips / --system."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from chipsim.arch.loader import load_chip
from chipsim.arch.system import DEFAULT_SYSTEM, system_of
from chipsim.cli import main
from chipsim.errors import DescriptionError, MappingError
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES, Mapping, summarize
from chipsim.mapping.partition import cut_bits, fill_order, layer_traffic, place_runs, runs

ROOT = Path(__file__).resolve().parents[1]

# A chain whose first layer narrows to 8 values and whose other layers pass 32 on: 5 blocks of
# a 32 x 32 crossbar, one more than a chip of 4 cores holds.
CHAIN = """\
name: chain
inputs:
  x: [32]
layers:
  - {name: a, op: dense, units: 8, bias: false, weights: {init: {kind: normal, seed: 1}}}
  - {name: b, op: dense, units: 32, bias: false, weights: {init: {kind: normal, seed: 2}}}
  - {name: rb, op: relu}
  - {name: c, op: dense, units: 32, bias: false, weights: {init: {kind: normal, seed: 3}}}
  - {name: d, op: dense, units: 32, bias: false, weights: {init: {kind: normal, seed: 4}}}
  - {name: e, op: dense, units: 32, bias: false, weights: {init: {kind: normal, seed: 5}}}
"""


@pytest.fixture
def files(tmp_path):
    """A 4-core chip of 32 x 32 crossbars (hermes64 otherwise) and the chain graph."""
    doc = yaml.safe_load((ROOT / "chipsim/arch/chips/hermes64.yaml").read_text())
    doc["name"] = "tiny4"
    doc["cores"].update(count=4, rows=32, cols=32)
    doc["cores"]["adc"]["per_core"] = 32
    doc["network"]["topology"] = {"kind": "mesh2d", "rows": 2, "cols": 2}
    doc["global_units"].update(count=1, attach_cores=[3])
    chip = tmp_path / "tiny4.yaml"
    chip.write_text(yaml.safe_dump(doc))
    graph = tmp_path / "chain.yaml"
    graph.write_text(CHAIN)
    return chip, graph


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out


def test_too_large_for_one_chip_names_the_chips_it_needs(files, tmp_path, capsys):
    chip, graph = files
    code, out = _run(capsys, "map", graph, "--chip", chip, "-o", tmp_path / "m.yaml")
    assert code == 2
    assert out.err == ("chipsim: error: chain.yaml does not fit chip tiny4: it needs 5 cores (5 "
                       "blocks, one per core), the chip has 4; it would need 2 chips of tiny4: "
                       "use --chips 2 (or a --system file of 2 chips)\n")


def test_a_system_with_too_few_chips_names_the_count(files, tmp_path, capsys):
    chip, graph = files
    doc = yaml.safe_load(CHAIN)
    doc["layers"].append({"name": "f", "op": "dense", "units": 64, "bias": False,
                          "weights": {"init": {"kind": "normal", "seed": 6}}})
    doc["layers"].append({"name": "g", "op": "dense", "units": 32, "bias": False,
                          "weights": {"init": {"kind": "normal", "seed": 7}}})
    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(yaml.safe_dump(doc))  # 5 + 2 + 2 blocks: 3 chips of 4 cores
    code, out = _run(capsys, "map", bigger, "--chip", chip, "--chips", 2, "-o", tmp_path / "m.yaml")
    assert code == 2
    err = out.err.strip().splitlines()
    assert len(err) == 1 and "it needs 3 chips of tiny4" in err[0] and "use --chips 3" in err[0]


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_maps_on_two_chips(files, tmp_path, capsys, strategy):
    chip, graph = files
    out_file = tmp_path / "m.yaml"
    code, out = _run(capsys, "map", graph, "--chip", chip, "--chips", 2, "--strategy", strategy,
                     "-o", out_file, "--json")
    assert code == 0, out.err
    d = json.loads(out.out)
    assert d["chips_used"] == 2 and d["chips"] == 2 and d["cores_available"] == 8
    # the cut after layer a: its 8 outputs of 8 bits cross once per inference
    assert d["interchip_traffic_bits"] == 64.0
    entries = yaml.safe_load(out_file.read_text())["placements"]
    assert {e["chip"] for e in entries} == {0, 1}
    assert all(0 <= e["core"] < 4 for e in entries)
    # the file reads back to the same mapping
    system = system_of(str(chip), 2)
    layers = lower(load_graph(graph))
    again = Mapping.from_yaml(out_file, system, layers)
    assert again.placements == STRATEGIES[strategy].place(layers, system, graph="chain.yaml").placements


def test_single_chip_map_json_adds_chips_used_only(files, tmp_path, capsys):
    code, out = _run(capsys, "map", ROOT / "workloads/digits_mlp/mlp.onnx", "-o", tmp_path / "m.yaml",
                     "--json")
    d = json.loads(out.out)
    assert code == 0 and d["chips_used"] == 1 and "chips" not in d
    assert all("chip" not in e for e in yaml.safe_load((tmp_path / "m.yaml").read_text())["placements"])


def test_partition_sends_no_more_between_chips_than_filling_chips_in_order(files):
    chip_file, graph = files
    system = system_of(str(chip_file), 2)
    chip = system.system.chip
    layers = lower(load_graph(graph))
    strategy = STRATEGIES["sequential"]
    best = strategy.place(layers, system, graph="chain")
    naive = place_runs(strategy, layers, system, fill_order(runs(strategy, layers, chip), layers, chip),
                       "chain")
    best_bits = summarize(best, layers, system)["interchip_traffic_bits"]
    naive_bits = summarize(naive, layers, system)["interchip_traffic_bits"]
    # filling chip 0 first cuts after d (32 values of 8 bits); the partition cuts after a (8)
    assert (best_bits, naive_bits) == (64.0, 256.0)
    crossing = cut_bits(layer_traffic(layers, chip))
    assert list(crossing) == [0.0, 64.0, 256.0, 256.0, 256.0, 0.0]


def test_simulated_outputs_match_and_chip_traffic_is_priced(files, tmp_path, capsys):
    chip, graph = files
    code, out = _run(capsys, "simulate", graph, "--chip", chip, "--chips", 2, "--inputs", 3,
                     "--json", "--out", tmp_path / "sim")
    assert code == 0, out.err
    d = json.loads(out.out)
    assert d["outputs_match_functional"] is True
    assert d["chip"] == "tiny4x2" and d["cores_used"] == 5
    link = yaml.safe_load(DEFAULT_SYSTEM.read_text())["link"]
    # 64 bits per inference cross the one link between the chips, at the link's energy per bit
    assert d["system"]["interchip_bits_per_inference"] == 64.0
    assert d["system"]["interchip_energy_per_inference_pj"] == pytest.approx(64 * link["energy_pj_per_bit"])
    assert d["energy_by_component_pj"]["interchip"] == pytest.approx(3 * 64 * link["energy_pj_per_bit"])
    crossing = [row for row in d["links"] if row["interchip"]]
    assert [row["link"] for row in crossing] == ["0->4"] and crossing[0]["bits"] == 3 * 64
    # every picojoule goes to one chip
    chips = d["chips"]
    assert [c["cores_used"] for c in chips] == [1, 4]
    assert sum(c["energy_per_inference_pj"] for c in chips) == pytest.approx(d["energy_per_inference_pj"])
    assert chips[0]["first_input_end_ns"] <= chips[1]["first_input_end_ns"]
    assert 0 < chips[1]["core_utilization_mean"] <= chips[1]["core_utilization_max"] <= 1


def test_a_slower_link_delays_the_first_input(files, tmp_path, capsys):
    chip, graph = files
    latencies = []
    for ns in (2.0, 500.0):
        system = tmp_path / f"sys{ns}.yaml"
        system.write_text(yaml.safe_dump({
            "name": "pair", "chip": str(chip), "count": 2, "topology": {"kind": "ring"},
            "link": {"bandwidth_gbps": 64.0, "latency_ns": ns, "energy_pj_per_bit": 1.0}}))
        code, out = _run(capsys, "simulate", graph, "--system", system, "--inputs", 1, "--json",
                         "--out", tmp_path / f"sim{ns}")
        assert code == 0, out.err
        d = json.loads(out.out)
        assert d["chip"] == "pair" and d["outputs_match_functional"] is True
        assert d["system"]["link"]["latency_cycles"] == int(ns)
        latencies.append(d["first_latency_ns"])
    assert latencies[1] - latencies[0] == pytest.approx(498.0)


def test_compare_and_report_take_the_system_options(files, tmp_path, capsys):
    chip, graph = files
    code, out = _run(capsys, "compare", graph, "--chip", chip, "--chips", 2, "--strategies",
                     "sequential,packed", "--seeds", 1, "--inputs", 2, "--images", 4, "--times", "1h",
                     "--out", tmp_path / "cmp", "--json")
    assert code == 0, out.err
    d = json.loads(out.out)
    assert d["finished"] == ["sequential", "packed"] and d["chip"] == "tiny4x2"
    code, out = _run(capsys, "report", graph, "--chip", chip, "--chips", 2, "--seeds", 1,
                     "--inputs", 2, "--images", 4, "--times", "1h", "--out", tmp_path / "rep", "--json")
    assert code == 0, out.err
    rows = (tmp_path / "rep" / "chips.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("0,1,") and rows[2].startswith("1,4,")
    assert "## Chips" in (tmp_path / "rep" / "README.md").read_text()


BAD = [
    ({"link": {"bandwidth_gbps": -1.0, "latency_ns": 2.0, "energy_pj_per_bit": 0.5}},
     "sys.yaml: link.bandwidth_gbps: expected a number > 0, got -1.0"),
    ({"topology": {"kind": "torus"}},
     'sys.yaml: topology: expected a mapping whose kind is one of "line", "ring", "all_to_all", "mesh2d"'),
    ({"topology": {"kind": "mesh2d", "rows": 2, "cols": 2}},
     'sys.yaml: topology: expected rows x cols = count = 3, got "2 x 2"'),
    ({"chips": 3}, "sys.yaml: chips: expected one of the keys name, title, chip, count, topology, "
                   "port_core, link, got unknown key \"chips\""),
    ({"count": 0}, "sys.yaml: count: expected an integer from 1 to 256, got 0"),
    ({"port_core": 9}, "sys.yaml: port_core: expected a core id from 0 to 3 of chip tiny4, got 9"),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m.split(":")[1].strip() for _, m in BAD])
def test_bad_system_files_are_one_line_errors(files, tmp_path, capsys, change, message):
    chip, graph = files
    doc = {"name": "trio", "chip": str(chip), "count": 3, "topology": {"kind": "line"},
           "link": {"bandwidth_gbps": 256.0, "latency_ns": 2.0, "energy_pj_per_bit": 0.5}}
    doc.update(change)
    path = tmp_path / "sys.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(DescriptionError) as err:
        system_of("hermes64", None, str(path))
    assert str(err.value).startswith(message)
    code, out = _run(capsys, "map", graph, "--system", path, "-o", tmp_path / "m.yaml")
    lines = out.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0] == f"chipsim: error: {err.value}"


def test_mapping_file_entries_name_chips_that_exist(files, tmp_path, capsys):
    chip, graph = files
    out_file = tmp_path / "m.yaml"
    assert main(["map", str(graph), "--chip", str(chip), "--chips", "2", "-o", str(out_file)]) == 0
    doc = yaml.safe_load(out_file.read_text())
    doc["placements"][0]["chip"] = 5
    out_file.write_text(yaml.safe_dump(doc))
    layers = lower(load_graph(graph))
    with pytest.raises(MappingError, match=r"placements\[0\]\.chip: chip 5 does not exist "
                                           r"\(system tiny4x2 has 2\)"):
        Mapping.from_yaml(out_file, system_of(str(chip), 2), layers)
    doc["placements"][0].update(chip=0, core=4)
    out_file.write_text(yaml.safe_dump(doc))
    with pytest.raises(MappingError, match=r"placements\[0\]\.core: core 4 does not exist"):
        Mapping.from_yaml(out_file, system_of(str(chip), 2), layers)


def test_one_chip_is_the_chip_itself():
    assert system_of("hermes64", 1) == load_chip("hermes64")


def test_accuracy_and_calibrate_take_the_system_options(tmp_path, capsys):
    doc = yaml.safe_load((ROOT / "chipsim/arch/chips/hermes64.yaml").read_text())
    doc["name"] = "tri"
    doc["cores"].update(count=3, rows=64, cols=64)
    doc["cores"]["adc"]["per_core"] = 64
    doc["network"]["topology"] = {"kind": "mesh2d", "rows": 1, "cols": 3}
    doc["global_units"].update(count=1, attach_cores=[2])
    chip = tmp_path / "tri.yaml"
    chip.write_text(yaml.safe_dump(doc))
    mlp = ROOT / "workloads/digits_mlp/mlp.onnx"  # 2 + 2 blocks of 64 x 64: two chips of 3 cores
    mapping = tmp_path / "m.yaml"
    code, out = _run(capsys, "map", mlp, "--chip", chip, "--chips", 2, "-o", mapping, "--json")
    assert code == 0 and json.loads(out.out)["chips_used"] == 2
    code, out = _run(capsys, "calibrate", mlp, "--chip", chip, "--chips", 2, "--mapping", mapping,
                     "--data", "digits", "--samples", 16, "-o", tmp_path / "cal.yaml", "--json")
    assert code == 0, out.err
    code, out = _run(capsys, "accuracy", mlp, "--chip", chip, "--chips", 2, "--mapping",
                     tmp_path / "cal.yaml", "--data", "digits", "--times", "1h", "--seeds", 1,
                     "--limit", 50, "--out", tmp_path / "acc", "--json")
    assert code == 0, out.err
    # a system's mapping does not read on one chip
    code, out = _run(capsys, "accuracy", mlp, "--chip", chip, "--mapping", tmp_path / "cal.yaml",
                     "--data", "digits", "--times", "1h", "--seeds", 1, "--limit", 50, "--out",
                     tmp_path / "acc1")
    assert code == 2 and ("mapping was made for chip 'trix2', not 'tri' (a system of 2 chips: "
                          "add --chips 2)") in out.err


def test_the_python_api_runs_a_system(files):
    from chipsim import api

    chip, graph_file = files
    system = api.load_system(chip=str(chip), chips=2)
    graph = api.load_graph(graph_file)
    mapping = api.map_network(graph, system, "packed")
    assert mapping.chips_used == 2 and mapping.cores_per_chip == 4
    result = api.simulate(graph, mapping, system, inputs=2)
    assert result.outputs_match_functional is True
    assert result.extra["system"]["interchip_bits_per_inference"] == 64.0


@pytest.mark.parametrize("topology,pairs,path", [
    ({"kind": "line"}, [(0, 1), (1, 2), (2, 3)], [0, 1, 2, 3]),
    ({"kind": "ring"}, [(0, 1), (1, 2), (2, 3), (0, 3)], [0, 1, 2, 3]),
    ({"kind": "all_to_all"}, [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)], [0, 1, 2, 3]),
    ({"kind": "mesh2d", "rows": 2, "cols": 2}, [(0, 1), (0, 2), (1, 3), (2, 3)], [0, 1, 3, 2]),
])
def test_topologies_link_port_cores_and_runs_follow_links(files, tmp_path, topology, pairs, path):
    from chipsim.mapping.partition import chip_path

    chip, _ = files
    system = tmp_path / "sys.yaml"
    system.write_text(yaml.safe_dump({
        "name": "four", "chip": str(chip), "count": 4, "topology": topology, "port_core": 3,
        "link": {"bandwidth_gbps": 100.0, "latency_ns": 1.5, "energy_pj_per_bit": 1.0}}))
    pool = system_of("hermes64", None, str(system))
    assert sorted(pool.system.chip_links) == sorted(pairs)
    graph = pool.network_graph()
    crossing = sorted((a, b) for a, b, d in graph.edges(data=True) if d.get("interchip"))
    assert crossing == sorted((4 * a + 3, 4 * b + 3) for a, b in pairs)
    assert {(graph.edges[e]["width_bits"], graph.edges[e]["latency_cycles"]) for e in crossing} == {(100, 2)}
    steps = list(zip(path, path[1:]))
    assert chip_path(pool.system) == path and all(tuple(sorted(s)) in pairs for s in steps)


def test_a_layer_larger_than_a_chip_spreads_over_chips(files, tmp_path, capsys):
    chip, _ = files
    graph = tmp_path / "wide.yaml"
    graph.write_text("""\
name: wide
inputs:
  x: [64]
layers:
  - {name: big, op: dense, units: 96, bias: false, weights: {init: {kind: normal, seed: 1}}}
  - {name: small, op: dense, units: 8, bias: false, weights: {init: {kind: normal, seed: 2}}}
""")  # big: 2 x 3 blocks, over two chips of 4 cores; small: 3 blocks, a third chip
    code, out = _run(capsys, "map", graph, "--chip", chip, "--chips", 2, "-o", tmp_path / "m.yaml")
    assert code == 2 and "it needs 3 chips of tiny4" in out.err and "use --chips 3" in out.err
    code, out = _run(capsys, "simulate", graph, "--chip", chip, "--chips", 3, "--strategy",
                     "packed", "--inputs", 2, "--json", "--out", tmp_path / "sim")
    assert code == 0, out.err
    d = json.loads(out.out)
    assert d["outputs_match_functional"] is True
    assert [c["cores_used"] for c in d["chips"]] == [4, 2, 3]
    # big's partial sums cross from chip 1 to chip 0 and its outputs from chip 0 to chip 2
    # (via chip 1): the link figures and the energy agree
    bits = d["system"]["interchip_bits_per_inference"]
    assert bits > 0 and d["system"]["interchip_energy_per_inference_pj"] == pytest.approx(0.5 * bits)
