"""The chip description layer: loading, error messages, derived metrics, the network graph."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chipsim.arch import builtin_chips, chip_metrics, load_chip, mode_metrics, parse_chip
from chipsim.arch.loader import BUILTIN_DIR
from chipsim.errors import DescriptionError

# A chip small enough to check every derived figure by hand.
TINY = {
    "name": "tiny",
    "clock_ghz": 1.0,
    "cores": {
        "count": 4, "rows": 4, "cols": 2,
        "unit_cell": {"polarity": "differential", "devices_per_polarity": 1, "combine": "sum"},
        "device": {"model": "pcm", "g_max_us": 10.0, "t0_s": 20.0, "t_read_s": 2.5e-7},
        "dac": {"kind": "pwm", "bits": 3, "signed": True, "step_ns": 2.0, "window": "fixed",
                "input_range": "calibrated"},
        "adc": {"kind": "cco", "bits": 4, "per_core": 1, "conversion_ns": 0.5, "full_scale": 2.0,
                "noise_std": 0.01},
        "ldpu": {"ops": ["affine", "relu"], "lanes": 1, "latency_cycles": 2, "precision": "fp16"},
    },
    "read_modes": {
        "one": {"phases": [{"inputs": "both", "weights": "both"}]},
        "four": {"phases": [{"inputs": s, "weights": w} for s in ("positive", "negative")
                            for w in ("positive", "negative")]},
    },
    "default_read_mode": "one",
    "network": {"topology": {"kind": "mesh2d", "rows": 2, "cols": 2}, "link_width_bits": 8,
                "hop_latency_cycles": 1, "buffer_depth_flits": 2, "routing": "xy"},
    "global_units": {"count": 1, "ops": ["tanh"], "lanes": 1, "latency_cycles": 1, "precision": "fp16",
                     "attach_cores": [3], "memory": {"size_bytes": 64, "width_bits": 16, "latency_cycles": 1}},
    "energy": {"dac_step_row_pj": 0.1, "adc_conversion_pj": 1.0, "array_read_pj_per_us_ns": 0.01,
               "ldpu_op_pj": 0.5, "gdpu_op_pj": 0.5, "hop_bit_pj": 0.25, "sram_byte_pj": 0.1,
               "static_core_mw": 1.0, "static_rest_mw": 2.0},
}


def write(tmp_path: Path, data, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


def error_of(tmp_path: Path, data) -> str:
    with pytest.raises(DescriptionError) as info:
        load_chip(write(tmp_path, data))
    return str(info.value)


def mutated(change) -> dict:
    data = copy.deepcopy(TINY)
    change(data)
    return data


# ------------------------------------------------------------------------------------ loading


def test_builtin_hermes64_loads_with_the_published_shape():
    chip = load_chip("hermes64")
    assert (chip.name, chip.cores.count, chip.cores.rows, chip.cores.cols) == ("hermes64", 64, 256, 256)
    assert chip.cores.dac.bits == 8 and chip.cores.adc.bits == 8 and chip.cores.dac.max_code == 127
    assert set(chip.read_modes) == {"one_phase", "four_phase"}
    assert [len(m.phases) for m in chip.read_modes.values()] == [1, 4]
    assert "hermes64" in builtin_chips()


def test_every_number_in_builtin_descriptions_carries_a_comment():
    for path in BUILTIN_DIR.glob("*.yaml"):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            key, _, value = line.split("#")[0].partition(":")
            if key.strip() not in ("name", "title") and any(ch.isdigit() for ch in value):
                following = lines[i + 1] if i + 1 < len(lines) else ""
                assert "#" in line or following.strip().startswith("#"), f"{path.name}:{i + 1}: {line}"


def test_loaded_chip_is_immutable():
    chip = load_chip("hermes64")
    with pytest.raises(ValidationError):
        chip.cores.count = 3
    with pytest.raises(ValueError):
        chip.hop_distances[0, 1] = 5


def test_valid_file_loads_from_path(tmp_path):
    chip = load_chip(write(tmp_path, TINY))
    assert chip.cores.count == 4 and chip.cores.device.g_max_us == 10.0


# ----------------------------------------------------------------------------- error messages


def test_wrong_type_names_file_key_and_expectation(tmp_path):
    data = mutated(lambda d: d["cores"]["adc"].update(bits="eight"))
    assert error_of(tmp_path, data) == 'tiny.yaml: cores.adc.bits: expected an integer from 1 to 16, got "eight"'


def test_out_of_range(tmp_path):
    data = mutated(lambda d: d["cores"]["adc"].update(bits=17))
    assert error_of(tmp_path, data) == "tiny.yaml: cores.adc.bits: expected an integer from 1 to 16, got 17"
    data = mutated(lambda d: d["cores"]["device"].update(g_max_us=-1))
    assert error_of(tmp_path, data) == "tiny.yaml: cores.device.g_max_us: expected a number > 0, got -1"


def test_bool_and_float_are_not_integers(tmp_path):
    assert "cores.count: expected an integer >= 1, got true" in error_of(
        tmp_path, mutated(lambda d: d["cores"].update(count=True)))
    assert "cores.count: expected an integer >= 1, got 4.0" in error_of(
        tmp_path, mutated(lambda d: d["cores"].update(count=4.0)))
    assert 'cores.dac.signed: expected true or false, got "yes"' in error_of(
        tmp_path, mutated(lambda d: d["cores"]["dac"].update(signed="yes")))


def test_unknown_key_lists_the_known_ones(tmp_path):
    msg = error_of(tmp_path, mutated(lambda d: d["cores"].update(adcc=1)))
    assert msg.startswith("tiny.yaml: cores.adcc: expected one of the keys count, rows, cols,")
    assert msg.endswith('got unknown key "adcc"')


def test_missing_key(tmp_path):
    msg = error_of(tmp_path, mutated(lambda d: d["cores"].pop("rows")))
    assert msg == "tiny.yaml: cores.rows: expected an integer >= 1, got nothing (missing key)"


def test_several_errors_are_joined(tmp_path):
    msg = error_of(tmp_path, mutated(lambda d: (d["cores"].pop("rows"), d.update(clock_ghz="fast"))))
    assert msg.count("tiny.yaml: ") == 2 and "; " in msg
    assert 'clock_ghz: expected a number > 0, got "fast"' in msg


def test_bad_yaml_syntax_names_the_line(tmp_path):
    text = yaml.safe_dump(TINY, sort_keys=False).replace("rows: 4", "rows: [4", 1)
    msg = error_of(tmp_path, text)
    assert msg.startswith("tiny.yaml: line ") and "not valid YAML" in msg


def test_literal_and_discriminated_union_fields(tmp_path):
    msg = error_of(tmp_path, mutated(lambda d: d["read_modes"]["one"]["phases"][0].update(inputs="up")))
    assert msg == ('tiny.yaml: read_modes.one.phases.0.inputs: expected one of "positive", "negative", '
                   '"both", got "up"')
    msg = error_of(tmp_path, mutated(lambda d: d["cores"]["device"].update(model="rram")))
    assert msg.startswith('tiny.yaml: cores.device: expected a mapping whose model is one of "pcm", got')
    msg = error_of(tmp_path, mutated(lambda d: d["network"]["topology"].update(rows="2")))
    assert msg == 'tiny.yaml: network.topology.rows: expected an integer >= 1, got "2"'


def links_topology(d, links, routing="shortest_path"):
    d["network"]["topology"] = {"kind": "links", "links": links}
    d["network"]["routing"] = routing


def test_link_to_a_missing_core(tmp_path):
    msg = error_of(tmp_path, mutated(lambda d: links_topology(d, [[0, 1], [1, 9], [2, 3]])))
    assert msg == "tiny.yaml: network.topology.links.1: expected core ids from 0 to 3, got [1, 9]"


def test_links_must_connect_every_core(tmp_path):
    msg = error_of(tmp_path, mutated(lambda d: links_topology(d, [[0, 1], [2, 3]])))
    assert msg.startswith("tiny.yaml: network.topology.links: expected links that connect every core")


def test_xy_routing_needs_a_mesh(tmp_path):
    msg = error_of(tmp_path, mutated(lambda d: links_topology(d, [[0, 1], [1, 2], [2, 3]], "xy")))
    assert msg.startswith("tiny.yaml: network.routing: expected")


def test_cross_field_rules_name_their_field(tmp_path):
    assert error_of(tmp_path, mutated(lambda d: d["cores"]["adc"].update(per_core=3))) == (
        "tiny.yaml: cores.adc.per_core: expected at most cols = 2, got 3")
    assert error_of(tmp_path, mutated(lambda d: d["network"]["topology"].update(rows=3))) == (
        'tiny.yaml: network.topology: expected rows x cols = cores.count = 4, got "3 x 2"')
    assert error_of(tmp_path, mutated(lambda d: d["global_units"].update(attach_cores=[7]))) == (
        "tiny.yaml: global_units.attach_cores.0: expected a core id from 0 to 3, got 7")
    assert error_of(tmp_path, mutated(lambda d: d.update(default_read_mode="two"))) == (
        'tiny.yaml: default_read_mode: expected one of one, four, got "two"')


def test_unknown_builtin_lists_the_builtins():
    with pytest.raises(DescriptionError, match=r"hermes65: no such built-in chip \(built-in: .*hermes64"):
        load_chip("hermes65")


def test_top_level_must_be_a_mapping(tmp_path):
    assert error_of(tmp_path, "- 1\n- 2\n") == "tiny.yaml: expected a mapping of chip fields at the top, got [1, 2]"


# -------------------------------------------------- nothing but DescriptionError, whatever the input

HERMES_DATA = yaml.safe_load((BUILTIN_DIR / "hermes64.yaml").read_text())
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from paths(v, prefix + (i,))


ALL_PATHS = [p for p in paths(HERMES_DATA) if p]


def loads_or_description_error(text: str) -> None:
    try:
        parse_chip(text, "random.yaml")
    except DescriptionError as err:
        assert str(err).startswith("random.yaml: ")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text_raises_only_description_error(text):
    loads_or_description_error(text)


@settings(max_examples=200, deadline=None)
@given(values)
def test_random_documents_raise_only_description_error(doc):
    loads_or_description_error(yaml.safe_dump(doc))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_PATHS), st.sampled_from(["replace", "delete", "add"]), values)
def test_mutated_hermes64_raises_only_description_error(path, action, value):
    data = copy.deepcopy(HERMES_DATA)
    *parents, last = path
    node = data
    for key in parents:
        node = node[key]
    if action == "replace":
        node[last] = value
    elif action == "delete":
        del node[last]
    elif isinstance(node, dict):
        node["extra_key"] = value
    else:
        node.append(value)
    loads_or_description_error(yaml.safe_dump(data))


# ------------------------------------------------------------------------------------ metrics


def test_metrics_by_hand_on_the_tiny_chip(tmp_path):
    chip = load_chip(write(tmp_path, TINY))
    # window = (2^(3-1) - 1) steps x 2 ns = 6 ns; two ADC rounds (2 cols, 1 ADC) x 0.5 ns
    one, four = mode_metrics(chip, "one"), mode_metrics(chip, "four")
    assert one.mvm_ns == pytest.approx(7.0) and four.mvm_ns == pytest.approx(28.0)
    assert one.peak_tops == pytest.approx(4 * 16 / 7.0 / 1000)  # 4 cores x 2 x 4 x 2 ops
    g_mean = math.sqrt(2 / math.pi) / 3 * 0.5 * 10.0  # Gaussian |w|, one polarity of two on
    # inputs uniform over the DAC range: mean pulse 1.5 of 3 steps, i.e. 3 ns of the 6 ns window
    array = 16 * g_mean * 3.0 * 0.01  # 16 devices, each read once for the mean pulse
    assert one.adc_pj == pytest.approx(2.0) and four.adc_pj == pytest.approx(8.0)
    assert one.dac_pj == pytest.approx(4 * 1.5 * 0.1) and four.dac_pj == pytest.approx(2 * 4 * 1.5 * 0.1)
    assert one.array_pj == pytest.approx(array) and four.array_pj == pytest.approx(array)
    assert one.mvm_energy_pj == pytest.approx(2.0 + 0.6 + array)
    assert one.tops_per_w == pytest.approx(16 / (2.0 + 0.6 + array))
    # whole chip: 2 LDPU ops x 0.5 pJ, 2 outputs x 4 bits x 0.25 pJ, (4 x 1 + 2) mW x 7 ns / 4 cores
    assert one.whole_chip_mvm_energy_pj == pytest.approx(2.0 + 0.6 + array + 1.0 + 2.0 + 10.5)
    assert set(chip_metrics(chip)) == {"one", "four"}


def test_hermes64_peak_figures_against_silicon():
    """Peak throughput and efficiency predicted from component figures, within 10 % of silicon."""
    m = chip_metrics(load_chip("hermes64"))
    assert m["one_phase"].peak_tops == pytest.approx(63.1, rel=0.10)
    assert m["four_phase"].peak_tops == pytest.approx(16.1, rel=0.10)
    assert m["four_phase"].tops_per_w == pytest.approx(2.48, rel=0.10)
    assert m["one_phase"].tops_per_w == pytest.approx(9.76, rel=0.10)


# ------------------------------------------------------------------------------------ network


def test_hermes64_network_graph():
    chip = load_chip("hermes64")
    graph = chip.network_graph()
    assert set(range(64)) | {f"gdpu{i}" for i in range(8)} == set(graph.nodes)
    assert graph.number_of_edges() == 2 * 8 * 7 + 8
    assert graph.edges[0, 1] == {"width_bits": 64, "latency_cycles": 1}
    assert graph.has_edge("gdpu0", 7) and not graph.has_edge(7, 8)
    assert chip.core_position(9) == (1, 1) and chip.core_position(63) == (7, 7)


def test_hop_distances_on_a_mesh_are_manhattan():
    chip = load_chip("hermes64")
    dist = chip.hop_distances
    pos = np.array([chip.core_position(c) for c in range(64)])
    manhattan = np.abs(pos[:, None, :] - pos[None, :, :]).sum(axis=2)
    assert np.array_equal(dist, manhattan) and dist is chip.hop_distances


def test_links_topology_graph_and_distances(tmp_path):
    ring = mutated(lambda d: links_topology(d, [[0, 1], [1, 2], [2, 3], [3, 0]]))
    chip = load_chip(write(tmp_path, ring))
    assert chip.hop_distances.tolist() == [[0, 1, 2, 1], [1, 0, 1, 2], [2, 1, 0, 1], [1, 2, 1, 0]]
    assert chip.network_graph().number_of_edges() == 4 + 1
    assert chip.core_position(3) == (1, 1)
