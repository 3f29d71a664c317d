"""Every field of the built-in description acts: change it, and a reported figure moves.

Issue 17, item 3. The walk changes one leaf of hermes64 at a time to a valid nearby value and
compares the figures of `chipsim info --json` and of a small timed simulation (a conv, pooling
on a global unit, a dense layer split over two cores; the locality mapping, which uses some
cores, not all, and routes in both directions of the mesh), and for the network's fields of
`chipsim noc` near saturation, with those of the unchanged chip. An error
raised by the changed chip counts as acting too (a memory too small for a layer's working set).
Fields that move nothing must be in `chipsim.arch.descriptive.DESCRIPTIVE_ONLY` with a reason.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import numpy as np
import pytest
import yaml

from chipsim.arch.descriptive import DESCRIPTIVE_ONLY
from chipsim.arch.loader import read_description, validate_chip
from chipsim.commands.info import summarise
from chipsim.errors import ChipsimError
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES
from chipsim.noc.experiment import Experiment
from chipsim.timing.simulate import Simulation

ROOT = Path(__file__).resolve().parent.parent
BASE = yaml.safe_load(read_description("hermes64")[1])
# `info` fields that echo the description rather than compute from it
ECHOES = {"chip", "default_read_mode", "global_units"}
NETWORK_ECHOES = {"topology", "link_width_bits", "hop_latency_cycles", "routing"}

# Leaves whose nearby value is not a number: an explicit valid alternative, or a joint change
# where one field constrains another (the mesh must hold cores.count cores).
ALTERNATIVES = {
    "cores.unit_cell.polarity": "single",
    "cores.unit_cell.weight_scale": "column",
    "cores.dac.window": "data",
    "cores.dac.input_range": "max_abs",
    "cores.adc.kind": "sar",
    "cores.ldpu.ops": ["affine", "add", "multiply", "mac", "max"],  # no relu: to a global unit
    "cores.ldpu.precision": "fp32",
    "network.routing": "shortest_path",
    "network.arbitration": "oldest_first",
    "global_units.ops": ["tanh", "sigmoid", "add", "multiply", "mac", "lut"],  # no max
    "global_units.memory.size_bytes": 128,  # less than a pooled row of the walk's conv
    "global_units.precision": "fp32",
    "global_units.attach_cores": [0, 8, 16, 24, 32, 40, 48, 56],
    "global_units.count": 4,  # with four attach cores, below
    "default_read_mode": "one_phase",
    "energy.unused_cores": "gated",
    "read_modes.one_phase.phases.0.inputs": "positive",
    "read_modes.one_phase.phases.0.weights": "positive",
    "read_modes.four_phase.phases.0.inputs": "both",
    "read_modes.four_phase.phases.0.weights": "both",
    "read_modes.four_phase.phases.1.inputs": "negative",
    "read_modes.four_phase.phases.1.weights": "positive",
    "read_modes.four_phase.phases.2.inputs": "positive",
    "read_modes.four_phase.phases.2.weights": "negative",
    "read_modes.four_phase.phases.3.inputs": "positive",
    "read_modes.four_phase.phases.3.weights": "positive",
}
EAST_OF_7_ROWS = [6, 13, 20, 27, 34, 41, 48, 55]  # attach cores that a 56-core chip has
JOINT = {
    "cores.count": {"network.topology.rows": 7, "global_units.attach_cores": EAST_OF_7_ROWS},
    "network.topology.rows": {"cores.count": 56, "global_units.attach_cores": EAST_OF_7_ROWS},
    "network.topology.cols": {"cores.count": 56, "global_units.attach_cores": EAST_OF_7_ROWS},
    "cores.cols": {"cores.adc.per_core": 128},
    "global_units.count": {"global_units.attach_cores": [7, 23, 39, 55]},
}
COUNT_CHANGE = {"cores.count": 56, "network.topology.rows": 7, "network.topology.cols": 7}
# leaves that act only in a context: fields changed on both sides of the comparison
CONTEXT = {"cores.adc.kind": {"cores.dac.window": "data"},
           # the walk's traffic meets little contention; with 2-cycle hops the credit round
           # trip is 4 cycles, so 2 places halve a link's rate while 4 keep it full
           "network.buffer_depth_flits": {"network.hop_latency_cycles": 2}}


def leaves(node, path=()):
    """(dotted path, value) of every leaf; a list of scalars is one leaf."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, path + (str(key),))
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        for i, value in enumerate(node):
            yield from leaves(value, path + (str(i),))
    else:
        yield ".".join(path), node


def put(data, dotted, value):
    keys = dotted.split(".")
    for key in keys[:-1]:
        data = data[int(key)] if isinstance(data, list) else data[key]
    data[keys[-1]] = value


def nearby(path, value):
    if path in ALTERNATIVES:
        return ALTERNATIVES[path]
    if path in COUNT_CHANGE:
        return COUNT_CHANGE[path]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value // 2 if value > 2 else value + 1
    if isinstance(value, float):
        return value * 1.5 if value else 0.5
    return None


def net_graph(tmp):
    layers = [
        {"name": "c0", "op": "conv2d", "out_channels": 16, "kernel_shape": [3, 3],
         "pads": [1, 1, 1, 1], "weights": {"init": {"kind": "normal", "seed": 1}}},
        {"name": "r0", "op": "relu"},
        {"name": "p", "op": "maxpool", "kernel_shape": [2, 2], "strides": [2, 2]},
        {"name": "c1", "op": "conv2d", "out_channels": 32, "kernel_shape": [3, 3],
         "pads": [1, 1, 1, 1], "weights": {"init": {"kind": "normal", "seed": 2}}},
        {"name": "r1", "op": "relu"},
        {"name": "flat", "op": "reshape", "shape": [32 * 4 * 4]},
        {"name": "fc", "op": "dense", "units": 10, "weights": {"init": {"kind": "normal", "seed": 3}}},
    ]
    path = tmp / "walk.yaml"
    path.write_text(yaml.safe_dump({"name": "walk", "inputs": {"x": [3, 8, 8]}, "layers": layers}))
    return load_graph(path)


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    graph = net_graph(tmp_path_factory.mktemp("walk"))
    layers = lower(graph)
    # signed inputs, so that the phases reading negative inputs see some
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)

    @functools.lru_cache(maxsize=None)
    def of(changes: tuple, noc: bool = False) -> dict:
        data = copy.deepcopy(BASE)
        for path, value in changes:
            put(data, path, yaml.safe_load(value))
        chip = validate_chip(data, "walk")  # the change itself must be valid
        info = {k: v for k, v in summarise(chip).items() if k not in ECHOES}
        info["network"] = {k: v for k, v in info["network"].items() if k not in NETWORK_ECHOES}
        if noc:  # the routers under uniform traffic near saturation, 1,000 cycles
            info["noc"] = Experiment(chip, "uniform", warmup=200, cycles=800).measure(0.35)
        try:
            mapping = STRATEGIES["locality"].place(layers, chip)
            sim = Simulation(graph, layers, chip, mapping, seed=0)
            r, _, y = sim.run(x, trace_inputs=0)
        except ChipsimError as err:
            return {"info": info, "error": str(err)}
        return {"info": info, "latency": r.first_latency_cycles, "rate": r.inferences_per_s,
                "energy": r.energy_by_component, "busy": r.core_utilization,
                "units": r.units, "links": r.links, "outputs": y.tobytes()}
    return of


def changes_for(path, value):
    context = CONTEXT.get(path, {})
    base = tuple((k, yaml.safe_dump(v)) for k, v in context.items())
    new = nearby(path, value)
    if new is None:
        return base, None
    moved = dict(context)
    moved[path] = new
    moved.update(JOINT.get(path, {}))
    return base, tuple((k, yaml.safe_dump(v)) for k, v in moved.items())


FIELDS = list(leaves(BASE))


@pytest.mark.parametrize("path,value", FIELDS, ids=[p for p, _ in FIELDS])
def test_changing_a_field_moves_a_figure(path, value, figures):
    if path in DESCRIPTIVE_ONLY:
        pytest.skip(f"descriptive only: {DESCRIPTIVE_ONLY[path]}")
    base, changed = changes_for(path, value)
    assert changed is not None, f"{path}: no nearby value to try"
    noc = path.startswith("network.")
    assert figures(changed, noc) != figures(base, noc), f"{path}: changing it moved no figure"


def test_descriptive_fields_exist_and_are_documented():
    paths = {p for p, _ in FIELDS}
    doc = (ROOT / "docs" / "chip-description.md").read_text()
    for path, reason in DESCRIPTIVE_ONLY.items():
        assert path in paths and reason
        assert f"`{path}`" in doc, f"{path} missing from docs/chip-description.md"
