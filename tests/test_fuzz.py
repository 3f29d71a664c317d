"""Fuzzing (issue 19, item 2): ONNX graphs, chip descriptions and mapping files mutated field by
field must either load or fail with a `ChipsimError`; any other exception is a bug in chipsim.

Each strategy starts from a bundled file that loads, and changes one or two things a user (or a
broken exporter) could: delete a field, give it another type, a non-finite or out-of-range
number, a wrong shape, a dangling name, or cut the file short. Examples are small and
`derandomize=True` keeps the suite deterministic; the whole file runs in seconds.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chipsim.api import load_chip, load_graph, load_mapping, map_network, simulate
from chipsim.arch.loader import BUILTIN_DIR, parse_chip
from chipsim.cli import main
from chipsim.errors import ChipsimError
from chipsim.functional.analog import AnalogNetwork
from chipsim.functional.executor import FloatBackend, run_network, synthetic_inputs
from chipsim.graph import lower

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "workloads/digits_mlp/mlp.onnx"
CNN = ROOT / "workloads/mnist_cnn/cnn.onnx"
MAPPINGS = {MLP: ROOT / "mappings/digits_mlp/mlp-sequential.yaml",
            CNN: ROOT / "mappings/mnist_cnn/cnn-packed.yaml"}
CHIPS = ("hermes64", "rpu_train")

# CHIPSIM_FUZZ_EXAMPLES=2000 (and CHIPSIM_FUZZ_RANDOM=1 for new inputs) for a longer hunt; the
# suite runs the default, the same examples every time
FUZZ = settings(max_examples=int(os.environ.get("CHIPSIM_FUZZ_EXAMPLES", 40)), deadline=None,
                derandomize=not os.environ.get("CHIPSIM_FUZZ_RANDOM"), database=None,
                suppress_health_check=list(HealthCheck))


def survives(call: Callable[[], Any]) -> None:
    """The property: `call` returns, or raises a ChipsimError with a message; nothing else."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except ChipsimError as err:
            assert str(err) and "Traceback" not in str(err)


# -- field-by-field mutation of plain data (YAML documents) ------------------------------------

def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a YAML document, containers included, in a stable order."""
    out = [prefix]
    if isinstance(doc, dict):
        for k in doc:
            out += _paths(doc[k], prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:4]):  # long lists (column scales): their first items
            out += _paths(v, prefix + (i,))
    return out


ODD_VALUES = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 1, 2**31, 10**30, -(10**30), 0.0, -0.5, 1e-300,
                     math.nan, math.inf, -math.inf, "", "x", "8", [], {}, [[]], [None],
                     list(range(300))]),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(-3, 3), max_size=4),
)


@st.composite
def mutated(draw, original: Any, edits: int = 2) -> Any:
    """A deep copy of `original` with one or two fields deleted, replaced or emptied."""
    doc = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, edits))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        how = draw(st.sampled_from(["delete", "replace", "replace", "rename"]))
        if how == "delete":
            del parent[key]
        elif how == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["", "x", "count", "0", "layer"]))] = parent.pop(key)
        else:
            parent[key] = draw(ODD_VALUES)
    return doc


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# -- chip descriptions --------------------------------------------------------------------------

GRAPHS = {path: load_graph(path) for path in MAPPINGS}
CHIP_DOCS = {name: yaml.safe_load((BUILTIN_DIR / f"{name}.yaml").read_text()) for name in CHIPS}


@st.composite
def chip_texts(draw) -> str:
    """Mostly one edit: a description broken twice stops at the first schema error."""
    return _dump(draw(mutated(CHIP_DOCS[draw(st.sampled_from(CHIPS))], edits=1)))


X = np.random.default_rng(0).uniform(-1, 1, (2, 64)).astype(np.float32)


def with_field(doc: dict, path: tuple, value: Any) -> str:
    """The YAML text of `doc` with the field at `path` set to `value` (doc itself unchanged)."""
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return _dump(doc)


def chip_with(name: str, path: tuple, value: Any) -> str:
    """The text of built-in chip `name` with the field at `path` set to `value`."""
    return with_field(CHIP_DOCS[name], path, value)


@FUZZ
@given(text=chip_texts())
@example(text=chip_with("hermes64", ("cores", "adc", "bits"), 1))
@example(text=chip_with("hermes64", ("cores", "dac", "bits"), 16))
@example(text=chip_with("hermes64", ("cores", "adc", "conversion_ns"), 2**61))
def test_fuzzed_chip_description_loads_or_names_the_field(text):
    """A mutated description loads, or fails with DescriptionError; a chip that loads maps,
    programs, reads and simulates a small network (or says why it cannot)."""
    def call():
        chip = parse_chip(text, "fuzz.yaml")
        graph = GRAPHS[MLP]
        mapping = map_network(graph, chip, "sequential")
        net = AnalogNetwork(graph, lower(graph), mapping, chip)
        net.drift(3600.0)
        net.run(X)
        simulate(graph, mapping, chip, inputs=X)
    survives(call)


# -- mapping files ------------------------------------------------------------------------------

INPUTS = {path: synthetic_inputs(graph, 2, 0) for path, graph in GRAPHS.items()}
MAP_DOCS = {path: yaml.safe_load(m.read_text()) for path, m in MAPPINGS.items()}
HERMES = load_chip("hermes64")


@st.composite
def mapping_cases(draw):
    path = draw(st.sampled_from(sorted(MAPPINGS)))
    return path, _dump(draw(mutated(MAP_DOCS[path])))


def mapping_with(path: tuple, value: Any) -> str:
    """The MLP's mapping file with the field at `path` set to `value`."""
    return with_field(MAP_DOCS[MLP], path, value)


@FUZZ
@given(case=mapping_cases())
@example(case=(MLP, mapping_with(("placements", 0, "calibration", "input_range"), 2**70)))
@example(case=(MLP, mapping_with(("placements", 0, "calibration", "input_range"), 10**400)))
@example(case=(MLP, mapping_with(("placements", 1, "calibration", "column_scale"), [10**400] * 10)))
def test_fuzzed_mapping_file_loads_or_names_the_entry(case, tmp_path_factory):
    """A mutated mapping loads against its graph and chip and programs the chip, or fails with
    MappingError."""
    path, text = case
    file = tmp_path_factory.mktemp("map") / "m.yaml"
    file.write_text(text)
    graph = GRAPHS[path]

    def call():
        mapping = load_mapping(file, HERMES, graph)
        net = AnalogNetwork(graph, lower(graph), mapping, HERMES)
        net.run(INPUTS[path])
    survives(call)


# -- ONNX protobufs -----------------------------------------------------------------------------

MODELS = {path: onnx.load(str(path)) for path in MAPPINGS}


def _names(model: onnx.ModelProto) -> list[str]:
    g = model.graph
    return sorted({t for n in g.node for t in (*n.input, *n.output) if t}
                  | {i.name for i in g.initializer} | {i.name for i in g.input})


MUTATIONS = ("drop_node", "dangling_input", "rename_output", "attr_value", "drop_attr",
             "init_dims", "init_values", "init_type", "input_dim", "input_type", "swap_inputs",
             "op_type", "drop_input", "drop_graph_output", "duplicate_node", "extra_graph_input",
             "drop_graph_input")
ODD_DIMS = st.lists(st.integers(0, 300), max_size=4)


def mutate_onnx(model: onnx.ModelProto, what: str, node_i: int, pick: int, value: Any) -> bytes:
    """`model` with one field changed (`what` at node `node_i`, item `pick`, to `value`),
    serialized. The arguments are small so that a failing example prints short."""
    m = copy.deepcopy(model)
    g = m.graph
    node = g.node[node_i % len(g.node)]
    names = _names(m)
    number = value if isinstance(value, int) else pick  # an integer for integer fields
    if what == "drop_node":
        g.node.remove(node)
    elif what == "duplicate_node":
        g.node.append(copy.deepcopy(node))
    elif what == "dangling_input" and node.input:
        node.input[pick % len(node.input)] = value if isinstance(value, str) else names[pick % len(names)]
    elif what == "rename_output" and node.output:
        node.output[0] = value if isinstance(value, str) else names[pick % len(names)]
    elif what in ("attr_value", "drop_attr") and node.attribute:
        attr = node.attribute[pick % len(node.attribute)]
        if what == "drop_attr":
            node.attribute.remove(attr)
        elif attr.type == onnx.AttributeProto.INTS:
            del attr.ints[:]
            attr.ints.extend(value if isinstance(value, list) else [number] * 2)
        elif attr.type == onnx.AttributeProto.INT:
            attr.i = value[0] if isinstance(value, list) and value else number
        elif attr.type == onnx.AttributeProto.FLOAT:
            attr.f = value if isinstance(value, (int, float)) else math.nan
    elif what.startswith("init_") and g.initializer:
        init = g.initializer[pick % len(g.initializer)]
        if what == "init_dims":
            del init.dims[:]
            init.dims.extend(value if isinstance(value, list) else [abs(number) % 300])
        elif what == "init_type":
            init.data_type = onnx.TensorProto.INT64 if pick % 2 else onnx.TensorProto.DOUBLE
        else:
            arr = onnx.numpy_helper.to_array(init).copy()
            if arr.size and isinstance(value, float) and arr.dtype.kind == "f":
                arr.flat[pick % arr.size] = value
            elif arr.size and isinstance(value, int):
                arr.flat[pick % arr.size] = min(value, 2**31)
            init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
    elif what in ("input_dim", "input_type") and g.input:
        tt = g.input[0].type.tensor_type
        if what == "input_type":
            tt.elem_type = (onnx.TensorProto.INT64, onnx.TensorProto.BOOL,
                            onnx.TensorProto.STRING, onnx.TensorProto.UINT8)[pick % 4]
        elif tt.shape.dim:
            dim = tt.shape.dim[pick % len(tt.shape.dim)]
            if isinstance(value, list):
                tt.shape.dim.remove(dim)
            elif isinstance(value, str):
                dim.dim_param = value
            else:
                dim.dim_value = number
    elif what == "swap_inputs" and len(node.input) > 1:
        node.input[0], node.input[1] = node.input[1], node.input[0]
    elif what == "op_type":
        node.op_type = ("Relu", "Conv", "Gemm", "MatMul", "Reshape", "Flatten", "MaxPool",
                        "Softmax", "Add", "Nope", "LSTM", "Gather", "Transpose")[pick % 13]
    elif what == "drop_input" and node.input:
        del node.input[-1]
    elif what == "extra_graph_input" and g.input:
        extra = copy.deepcopy(g.input[0])
        extra.name = value if isinstance(value, str) and value else "extra"
        g.input.append(extra)
    elif what == "drop_graph_input" and g.input:
        g.input.remove(g.input[0])
    elif what == "drop_graph_output" and g.output:
        g.output.remove(g.output[0])
    return m.SerializeToString()


ONNX_VALUES = st.one_of(
    st.sampled_from([0, -1, 1, 2**40, math.nan, math.inf, -math.inf, 3e38, "", "nowhere", "N"]),
    st.integers(-5, 300), ODD_DIMS)


@st.composite
def onnx_cases(draw):
    path = draw(st.sampled_from(sorted(MODELS)))
    spec = (draw(st.sampled_from(MUTATIONS)), draw(st.integers(0, 30)), draw(st.integers(0, 30)),
            draw(ONNX_VALUES))
    # then, sometimes, cut short (None: whole) at a fraction of the length, or corrupt a byte
    cut = draw(st.one_of(st.none(), st.tuples(st.floats(0, 1), st.integers(-1, 255))))
    return path.name, spec, cut


def onnx_bytes(name: str, spec: tuple, cut: tuple | None) -> bytes:
    data = mutate_onnx(MODELS[next(p for p in MODELS if p.name == name)], *spec)
    if cut is not None:
        at = int(cut[0] * len(data))
        data = data[:at] if cut[1] < 0 else data[:at] + bytes([cut[1]]) + data[at + 1:]
    return data


@FUZZ
@given(case=onnx_cases())
@example(case=("mlp.onnx", ("init_dims", 0, 1, -1), None))
@example(case=("mlp.onnx", ("extra_graph_input", 0, 0, 0), None))
@example(case=("mlp.onnx", ("drop_graph_output", 0, 0, 0), None))
def test_fuzzed_onnx_graph_loads_or_names_the_node(case, tmp_path_factory):
    """A mutated ONNX file imports, lowers, maps and runs in float, or fails with GraphError
    naming the file and node."""
    name, spec, cut = case
    file = tmp_path_factory.mktemp("onnx") / name
    file.write_bytes(onnx_bytes(name, spec, cut))

    def call():
        graph = load_graph(file)
        layers = lower(graph)
        map_network(graph, HERMES, "packed")
        run_network(graph, FloatBackend(layers), synthetic_inputs(graph, 2, 0))
    survives(call)


# -- what the fuzzing found: each now one clear line --------------------------------------------

@pytest.mark.parametrize("key, bits, message", [
    ("adc", 1, "hermes64: cores.adc.bits: the tile models signed codes of at least 2 bits"),
    ("dac", 1, "hermes64: cores.dac.bits: the tile models signed codes of at least 2 bits"),
    ("dac", 16, "hermes64: cores.dac.bits: 64 rows of 16-bit inputs leave fewer than 32 "
                "conductance levels"),
])
def test_converter_bits_the_tile_cannot_model_name_the_field(key, bits, message):
    """The schema allows 1..16 bits, the tile model needs a sign bit and exact float32 sums:
    these escaped as ValueError("TileConfig.adc_bits: invalid value 1")."""
    chip = parse_chip(chip_with("hermes64", ("cores", key, "bits"), bits), "fuzz.yaml")
    graph = GRAPHS[MLP]
    with pytest.raises(ChipsimError) as err:
        AnalogNetwork(graph, lower(graph), map_network(graph, chip, "sequential"), chip)
    assert str(err.value).startswith(message)


def test_initializer_whose_data_does_not_fit_its_dims_names_it(tmp_path):
    """Escaped as numpy's ValueError("cannot reshape array of size 128 into shape (1,)")."""
    file = tmp_path / "mlp.onnx"
    file.write_bytes(onnx_bytes("mlp.onnx", ("init_dims", 0, 1, [1]), None))
    with pytest.raises(ChipsimError, match=r"^mlp.onnx: initializer 'fc1.bias' \(dims \[1\]\): "
                                           r"cannot read its data: cannot reshape array"):
        load_graph(file)


# -- the command line: exit 0 or 2, and then one line -------------------------------------------

def run_cli(capsys, argv: list[str]) -> int:
    """`chipsim argv` exits 0, or 2 with one `chipsim: error:` line; never a traceback."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), err
    if code == 2:
        # progress lines may come first; the error is one line, the last
        errors = [line for line in err.splitlines() if line.startswith("chipsim: error: ")]
        assert len(errors) == 1 and err.splitlines()[-1] == errors[0], err
    return code


CLI = settings(FUZZ, max_examples=int(os.environ.get("CHIPSIM_FUZZ_EXAMPLES", 40)) // 5)


@CLI
@given(kind=st.sampled_from(["onnx", "chip"]), onnx_case=onnx_cases(), chip_text=chip_texts())
def test_fuzzed_files_through_chipsim_map(kind, onnx_case, chip_text, tmp_path_factory, capsys):
    """`chipsim map` on a mutated graph or chip description."""
    tmp = tmp_path_factory.mktemp("cli")
    model, chip = str(MLP), "hermes64"
    if kind == "onnx":
        name, spec, cut = onnx_case
        (tmp / name).write_bytes(onnx_bytes(name, spec, cut))
        model = str(tmp / name)
    else:
        (tmp / "chip.yaml").write_text(chip_text)
        chip = str(tmp / "chip.yaml")
    run_cli(capsys, ["map", model, "--chip", chip, "-o", str(tmp / "out.yaml")])


@CLI
@given(text=mutated(MAP_DOCS[MLP]))
@example(text=MAP_DOCS[MLP])  # the file as shipped: measures, exit 0
def test_fuzzed_mapping_through_chipsim_accuracy(text, tmp_path_factory, capsys):
    """`chipsim accuracy` with a mutated mapping file of the MLP, on 8 digits, one seed, one time; the
    file as shipped must measure (exit 0), so the property is not passing on refusals alone."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "m.yaml").write_text(_dump(text))
    assert run_cli(capsys, ["accuracy", str(MLP), "--mapping", str(tmp / "m.yaml"), "--data", "digits",
                     "--times", "1h", "--seeds", "1", "--limit", "8", "--gdc", "on",
                     "--out", str(tmp / "out")]) == 0 or _dump(text) != _dump(MAP_DOCS[MLP])


def test_a_step_too_long_for_the_simulators_clock_names_the_field():
    """Escaped from the event queue as ValueError("Negative delay -9223372036854775808")."""
    chip = parse_chip(chip_with("hermes64", ("cores", "adc", "conversion_ns"), 2**61), "x.yaml")
    graph = GRAPHS[MLP]
    with pytest.raises(ChipsimError, match=r"^hermes64: cores.adc.conversion_ns: one step lasts "
                                           r"2.31e\+18 cycles at 1 GHz; the simulator takes at "
                                           r"most 1.1e\+12 \(2\^40\) per step$"):
        simulate(graph, map_network(graph, chip, "sequential"), chip, inputs=X)


def test_a_huge_integer_input_range_is_a_number_or_names_the_entry(tmp_path):
    """2**70 escaped as numpy's TypeError ("ufunc 'isfinite' not supported") and now is the
    (finite) range it says; 10**400 does not fit a float and is refused."""
    file = tmp_path / "m.yaml"
    graph = GRAPHS[MLP]
    file.write_text(mapping_with(("placements", 0, "calibration", "input_range"), 2**70))
    net = AnalogNetwork(graph, lower(graph), load_mapping(file, HERMES, graph), HERMES)
    assert net.tiles[0].input_range == 2.0**70
    file.write_text(mapping_with(("placements", 0, "calibration", "input_range"), 10**400))
    mapping = load_mapping(file, HERMES, graph)
    with pytest.raises(ChipsimError, match=r"^mapping placement 0: calibration.input_range: "
                                           r"expected a number > 0, got 10{36}\.\.\.$"):
        AnalogNetwork(graph, lower(graph), mapping, HERMES)


def test_a_graph_without_outputs_is_refused_on_load(tmp_path):
    """Loaded, then escaped from the executor as IndexError("list index out of range")."""
    file = tmp_path / "mlp.onnx"
    file.write_bytes(onnx_bytes("mlp.onnx", ("drop_graph_output", 0, 0, 0), None))
    with pytest.raises(ChipsimError, match="^mlp.onnx: the graph has no outputs; chipsim needs "
                                           "at least one$"):
        load_graph(file)


def test_synthetic_inputs_for_a_graph_of_two_inputs_say_why_not(tmp_path):
    """`chipsim simulate` without --data escaped as ValueError("too many values to unpack")."""
    file = tmp_path / "mlp.onnx"
    file.write_bytes(onnx_bytes("mlp.onnx", ("extra_graph_input", 0, 0, 0), None))
    with pytest.raises(ChipsimError, match=r"^mlp.onnx: the model has 2 inputs \(input, extra\); "
                                           r"only single-input models take a data set$"):
        synthetic_inputs(load_graph(file), 2, 0)
    graph = load_graph(file)
    with pytest.raises(ChipsimError):
        simulate(graph, map_network(graph, HERMES, "sequential"), HERMES, inputs=2)
