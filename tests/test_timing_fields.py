"""Description fields the timed model reads since issue 17: power gating of unused cores, ADC
kind, and what the global units can hold and do, each against a hand count."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import yaml

from chipsim.arch.loader import read_description, validate_chip
from chipsim.errors import MappingError
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES
from chipsim.timing.simulate import simulate

BASE = yaml.safe_load(read_description("hermes64")[1])


def chip_with(**fields):
    data = copy.deepcopy(BASE)
    for dotted, value in fields.items():
        node = data
        *keys, last = dotted.split("__")
        for key in keys:
            node = node[key]
        node[last] = value
    return validate_chip(data, "test")


def graph_of(tmp_path, layers, inputs):
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump({"name": "net", "inputs": inputs, "layers": layers}))
    return load_graph(path)


def run(graph, chip, x, strategy="sequential"):
    layers = lower(graph)
    mapping = STRATEGIES[strategy].place(layers, chip)
    return simulate(graph, layers, chip, mapping, x, compare=False)[0]


def dense_net(tmp_path):
    return graph_of(tmp_path, [{"name": "fc", "op": "dense", "units": 8,
                                "weights": {"init": {"kind": "normal", "seed": 0}}}], {"x": [16]})


def pooled_net(tmp_path, channels=16):
    return graph_of(tmp_path, [
        {"name": "c0", "op": "conv2d", "out_channels": channels, "kernel_shape": [3, 3],
         "pads": [1, 1, 1, 1], "weights": {"init": {"kind": "normal", "seed": 1}}},
        {"name": "p", "op": "maxpool", "kernel_shape": [2, 2], "strides": [2, 2]}],
        {"x": [3, 8, 8]})


def test_gated_unused_cores_draw_no_static_power(tmp_path):
    graph = dense_net(tmp_path)
    x = np.random.default_rng(0).random((3, 16), dtype=np.float32)
    powered = run(graph, chip_with(), x)
    gated = run(graph, chip_with(energy__unused_cores="gated"), x)
    assert powered.cores_used == 1 and powered.inferences_per_s == gated.inferences_per_s
    e = BASE["energy"]
    ratio = (1 * e["static_core_mw"] + e["static_rest_mw"]) / (
        64 * e["static_core_mw"] + e["static_rest_mw"])
    s0, s1 = powered.energy_by_component["static"], gated.energy_by_component["static"]
    assert s1 == pytest.approx(s0 * ratio, rel=1e-12)
    # everything but static energy is the same
    rest = {k: v for k, v in powered.energy_by_component.items() if k != "static"}
    assert rest == {k: v for k, v in gated.energy_by_component.items() if k != "static"}


def test_a_cco_adc_costs_less_when_a_data_window_ends_early(tmp_path):
    graph = dense_net(tmp_path)
    # every input code 32 of 127 (the uncalibrated input range is 1)
    x = np.full((1, 16), 32 / 127, dtype=np.float32)
    kinds = {kind: run(graph, chip_with(cores__dac__window="data", cores__adc__kind=kind), x)
             for kind in ("cco", "sar")}
    c = BASE["cores"]
    phases = len(BASE["read_modes"][BASE["default_read_mode"]]["phases"])
    sar = 8 * phases * BASE["energy"]["adc_conversion_pj"]  # 8 columns, every phase
    conversion = math.ceil(8 / c["adc"]["per_core"]) * c["adc"]["conversion_ns"]
    # each phase lasts the vector's 32 steps (the largest code) instead of the full 127
    cco = sar * (32 * c["dac"]["step_ns"] + conversion) / (127 * c["dac"]["step_ns"] + conversion)
    assert kinds["sar"].energy_by_component["adc"] == pytest.approx(sar)
    assert kinds["cco"].energy_by_component["adc"] == pytest.approx(cco)


def test_a_layer_whose_working_set_exceeds_the_unit_memory_is_an_error(tmp_path):
    graph = pooled_net(tmp_path, channels=16)
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    # one output row of c0: 8 pixels x 16 channels x 16-bit values = 256 bytes
    run(graph, chip_with(global_units__memory__size_bytes=256), x)
    with pytest.raises(MappingError, match=r"layer c0: .*256 bytes.*size_bytes = 255"):
        run(graph, chip_with(global_units__memory__size_bytes=255), x)
    with pytest.raises(MappingError, match=r"layer c0: .*512 bytes"):  # fp32 values
        run(graph, chip_with(global_units__memory__size_bytes=256,
                             global_units__precision="fp32"), x)


def test_a_layer_needing_an_op_the_units_lack_is_an_error(tmp_path):
    graph = pooled_net(tmp_path)
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    ops = [op for op in BASE["global_units"]["ops"] if op != "max"]
    with pytest.raises(MappingError, match=r"layer c0: its maxpool needs max on a global unit"):
        run(graph, chip_with(global_units__ops=ops), x)
