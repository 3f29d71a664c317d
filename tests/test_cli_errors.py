"""Every user mistake is one line on stderr and exit status 2 (issue 19, "Seen"), for every
subcommand: output paths, option values, weights out of range, unsupported casts, a mapping made
for another graph; and what is not a mistake (times before t0, an old mapping file) says so.

Runs go through `chipsim.cli.main` in a fresh temporary folder; every mistake here is found
before any measuring starts, so the whole file runs in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from chipsim.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")
MLP_HWA = str(ROOT / "workloads/digits_mlp/mlp_hwa.onnx")
MAPPING = str(ROOT / "mappings/digits_mlp/mlp-sequential.yaml")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("a file, not a folder")
    (tmp_path / "adir").mkdir()
    return tmp_path


def one_error(capsys, argv: list[str]) -> str:
    """Run `argv`: exit 2, nothing on stdout, one line on stderr; returns that line's message."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.err.endswith("\n"), captured.err
    assert lines[0].startswith("chipsim: error: ")
    return lines[0][len("chipsim: error: "):]


# -- "Seen": the exact line each mistake of the issue now gets ----------------------------------
SEEN = [
    # output paths
    (["map", MLP, "-o", "afile/m.yaml"], "-o/--output afile/m.yaml: afile is a file, not a folder"),
    (["map", MLP, "-o", "adir"], "-o/--output adir: is a folder; give a file name"),
    (["calibrate", MLP, "--mapping", MAPPING, "--data", "digits", "-o", "adir"],
     "-o/--output adir: is a folder; give a file name"),
    (["simulate", MLP, "--out", "afile"], "--out afile: exists and is not a folder"),
    (["accuracy", MLP, "--data", "digits", "--out", "afile"],
     "--out afile: exists and is not a folder"),
    (["report", MLP, "--out", "afile/r"], "--out afile/r: afile is a file, not a folder"),
    (["compare", MLP, "--out", "afile"], "--out afile: exists and is not a folder"),
    # option values
    (["accuracy", MLP, "--data", "digits", "--times", "-1h"],
     "--times: bad time '-1h': times count from programming and are >= 0"),
    (["accuracy", MLP, "--data", "digits", "--seeds", "abc"],
     "--seeds: expected a positive integer, got 'abc'"),
    (["report", MLP, "--inputs", "abc"], "--inputs: expected a positive integer, got 'abc'"),
    (["simulate", MLP, "--inputs", "abc"], "--inputs: expected a positive integer, got 'abc'"),
    (["simulate", MLP, "--trace-inputs", "-1"],
     "--trace-inputs: expected a non-negative integer, got -1"),
    (["accuracy", MLP, "--data", "digits", "--times", "1h,1d,1h"],
     "--times: bad time list '1h,1d,1h': 1h is given twice"),
    (["report", MLP, "--times", "1h,60m"],
     "--times: bad time list '1h,60m': 1h is given twice (1h and 60m)"),
    # argparse's own errors
    (["accuracy", MLP, "--data", "digits", "--gdc", "maybe"],
     "--gdc: 'maybe' is not one of 'on', 'off', 'both'"),
    (["accuracy", MLP, "--data", "digits", "--bogus"],
     "unrecognized arguments: --bogus (see chipsim accuracy --help)"),
    (["calibrate", MLP, "-o", "c.yaml"], "the following arguments are required: --mapping "
                                         "(see chipsim calibrate --help)"),
    (["linalg", "pca", "synthetic", "--rows", "x"], "--rows: expected an integer, got 'x'"),
    (["report", MLP, "--mapping", "m.yaml", "--strategy", "packed"],
     "--strategy: not allowed with argument --mapping"),
    (["nonsense"], "COMMAND: 'nonsense' is not one of 'info', 'map', 'accuracy', 'simulate', "
                   "'calibrate', 'report', 'compare', 'sweep', 'nas', 'faults', 'noc', 'linalg', "
                   "'train'"),
    ([], "the following arguments are required: COMMAND (see chipsim --help)"),
]


@pytest.mark.parametrize("argv, line", SEEN, ids=[" ".join(a[:1] + a[2:]) for a, _ in SEEN])
def test_seen_mistakes_are_one_line(argv, line, capsys):
    assert one_error(capsys, argv) == line


def test_a_missing_value_names_the_option_and_what_it_takes(capsys):
    line = one_error(capsys, ["accuracy", MLP, "--data", "digits", "--times"])
    assert line.startswith("--times: missing value; expected LIST: times after programming")


def test_an_output_folder_that_cannot_be_made_is_one_line(capsys, monkeypatch):
    """What a folder without write permission, a read-only or virtual file system answers
    (permission bits alone do not tell: root writes anyway), the probe turns into one line."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    assert one_error(capsys, ["report", MLP, "--out", "new/r"]) == \
        "--out new/r: cannot write in . (Permission denied)"
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert one_error(capsys, ["map", MLP, "-o", "adir/m.yaml"]) == \
        "-o/--output adir/m.yaml: cannot write in adir (Permission denied)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_folder_without_write_permission(capsys, in_tmp):
    (in_tmp / "locked").mkdir(mode=0o500)
    assert "cannot write in locked" in one_error(capsys, ["map", MLP, "-o", "locked/m.yaml"])


def test_the_output_checks_leave_nothing_behind(capsys, in_tmp):
    before = sorted(p.name for p in in_tmp.rglob("*"))
    one_error(capsys, ["simulate", MLP, "--out", "new/sim", "--inputs", "0"])
    one_error(capsys, ["map", "nope.onnx", "-o", "adir/m.yaml"])
    assert sorted(p.name for p in in_tmp.rglob("*")) == before


# -- numbers out of the physical range -----------------------------------------------------------
def _mlp_with(tmp_path: Path, value: float, index: int = 0) -> str:
    model = onnx.load(MLP)
    init = model.graph.initializer[index]
    weights = numpy_helper.to_array(init).copy()
    weights.flat[3] = value
    init.CopyFrom(numpy_helper.from_array(weights, init.name))
    path = tmp_path / "odd.onnx"
    onnx.save(model, str(path))
    return str(path)


def test_a_weight_that_overflows_the_conductance_scale_names_the_node(capsys, in_tmp):
    model = _mlp_with(in_tmp, 3e38)
    line = one_error(capsys, ["accuracy", model, "--data", "digits", "--times", "1h"])
    assert line == ('odd.onnx: node "/fc1/Gemm" (Gemm): weight \'W\' holds 3e+38, which is '
                    "beyond the |w| <= 1e+18 the chip's float32 column scales hold")


@pytest.mark.parametrize("value, words", [(np.nan, "holds nan, which is not a number"),
                                          (-np.inf, "holds -inf, which is infinite")])
def test_non_finite_weights_name_the_node(value, words, capsys, in_tmp):
    line = one_error(capsys, ["map", _mlp_with(in_tmp, value, index=2), "-o", "m.yaml"])
    assert line.startswith('odd.onnx: node "/fc2/Gemm" (Gemm): weight \'W\' ') and words in line


def test_a_large_but_representable_weight_still_runs(capsys, in_tmp):
    assert main(["map", _mlp_with(in_tmp, 1e6), "-o", "m.yaml", "--json"]) == 0


# -- times before the device model's t0 ----------------------------------------------------------
def test_times_before_t0_run_and_say_what_the_model_does_there(capsys):
    argv = ["accuracy", MLP, "--data", "digits", "--mapping", MAPPING, "--limit", "8",
            "--seeds", "1", "--gdc", "on", "--out", "acc", "--json"]
    assert main(argv + ["--times", "0s,1s,1h"]) == 0
    err = capsys.readouterr().err
    assert ("note: --times 0s, 1s: before t0 = 20 s of hermes64's PCM model, whose statistics "
            "start there; run as written: drift factor ((t + t0) / t0)^-nu, not yet the 2^-nu "
            "of t0 (README: Times after programming)\n") in err
    assert main(argv + ["--times", "1h"]) == 0
    assert "t0" not in capsys.readouterr().err


# -- a Cast on a graph input ---------------------------------------------------------------------
def _cast_model(tmp_path: Path, to: int) -> str:
    nodes = [helper.make_node("Cast", ["x"], ["c"], name="c", to=to),
             helper.make_node("Cast", ["c"], ["d"], name="d", to=TensorProto.FLOAT),
             helper.make_node("Gemm", ["d", "w"], ["y"], name="fc")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(np.ones((4, 3), np.float32), "w")])
    path = tmp_path / "cast.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def test_a_cast_of_a_graph_input_to_float_is_read(capsys, in_tmp):
    assert main(["map", _cast_model(in_tmp, TensorProto.DOUBLE), "-o", "m.yaml", "--json"]) == 0


def test_a_cast_of_a_graph_input_to_int_says_why_it_is_unsupported(capsys, in_tmp):
    line = one_error(capsys, ["map", _cast_model(in_tmp, TensorProto.INT64), "-o", "m.yaml"])
    assert line == ('cast.onnx: node "c" (Cast): a cast of activation \'x\' (float) to INT64 is '
                    "unsupported: chipsim casts an activation only within its kind (float to "
                    "float, integer to integer), where it changes nothing; casts of constants "
                    "are folded")


# -- a mapping made for another graph ------------------------------------------------------------
def _dense(tmp_path: Path, name: str, shapes: list[tuple[int, int]]) -> str:
    """A native graph of dense layers fc0, fc1, ... of the given (inputs, units) shapes."""
    layers = [{"name": f"fc{i}", "op": "dense", "units": units,
               "weights": {"init": {"kind": "normal", "seed": i}}}
              for i, (_, units) in enumerate(shapes)]
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"name": name, "inputs": {"x": [shapes[0][0]]},
                                    "layers": layers}))
    return str(path)


def test_a_mapping_for_another_graph_is_refused_by_its_hash(capsys, in_tmp):
    first = _dense(in_tmp, "a.yaml", [(16, 8), (8, 4)])
    other = _dense(in_tmp, "b.yaml", [(16, 8), (8, 5)])  # same layer names, another shape
    assert main(["map", first, "-o", "a-map.yaml", "--json"]) == 0
    capsys.readouterr()
    written = yaml.safe_load((in_tmp / "a-map.yaml").read_text())
    line = one_error(capsys, ["simulate", other, "--mapping", "a-map.yaml", "--inputs", "1"])
    assert line == (f"a-map.yaml: graph_hash: made for a.yaml (weight matrices "
                    f"{written['graph_hash']}), but this graph's layer names and weight shapes "
                    "hash to " + line.rsplit("hash to ", 1)[1])
    assert line.endswith(": make a mapping for it with `chipsim map`")
    assert written["graph_hash"] not in line.rsplit("hash to ", 1)[1]


def test_a_mapping_fits_a_graph_with_the_same_matrices(capsys, in_tmp):
    """mlp_hwa.onnx is mlp.onnx retrained: the same matrices, so the same mappings."""
    from chipsim.arch import load_chip
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import Mapping

    layers = lower(load_graph(MLP_HWA))
    assert Mapping.from_yaml(MAPPING, load_chip("hermes64"), layers).graph == "mlp.onnx"


def test_a_mapping_file_without_hash_runs_with_one_warning(capsys, in_tmp):
    text = Path(MAPPING).read_text()
    (in_tmp / "old.yaml").write_text("".join(line for line in text.splitlines(keepends=True)
                                             if not line.startswith("graph_hash:")))
    assert main(["calibrate", MLP, "--mapping", "old.yaml", "--data", "digits", "--samples",
                 "4", "--rows-per-tile", "8", "--input-rule", "max", "--column-rule", "none",
                 "-o", "new.yaml", "--json"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "graph_hash" in line]
    assert warnings == ["warning: old.yaml: no graph_hash (written before chipsim checked it); "
                        "it is checked against the graph by layer names and shapes only: "
                        "rewrite it with `chipsim map` or add `graph_hash: 9621820c200aef8f`"]
    assert yaml.safe_load((in_tmp / "new.yaml").read_text())["graph_hash"] == "9621820c200aef8f"


# -- energy per inference does not depend on how many inputs were asked for ------------------------
def test_energy_per_inference_is_the_same_for_one_input_and_for_eight():
    """The same input streamed once or eight times costs the same per inference: static power
    is charged for one steady-state interval per inference, not for the pipeline's fill."""
    from chipsim.arch import load_chip
    from chipsim.functional.executor import synthetic_inputs
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import STRATEGIES
    from chipsim.timing.simulate import Simulation

    graph, chip = load_graph(MLP), load_chip("hermes64")
    layers = lower(graph)
    mapping = STRATEGIES["balanced"].place(layers, chip)
    x = synthetic_inputs(graph, 1, 0)
    one, eight = (Simulation(graph, layers, chip, mapping).run(np.repeat(x, n, axis=0))[0]
                  for n in (1, 8))
    assert one.energy_by_component["static"] == pytest.approx(
        eight.energy_by_component["static"] / 8, rel=1e-12)
    # the rest differs only by the DAC's stochastic rounding, drawn per input number
    assert one.energy_per_inference_pj == pytest.approx(eight.energy_per_inference_pj, rel=1e-4)
    # the fill (first input's latency) is over 1.5 steady intervals: charged, it would show
    assert one.first_latency_ns > 1.5e9 / one.inferences_per_s


# -- property: mistakes of each kind, for every subcommand ------------------------------------------
#: per subcommand: argv up to the mistake, its integer options (least value), its time options,
#: its output options ("folder" or "file"); every part of the argv is valid
CASES: dict[str, dict] = {
    "info": dict(argv=["info", "hermes64"], ints={}, times=(), outputs={}),
    "map": dict(argv=["map", MLP, "--show"], ints={}, times=(),
                outputs={"-o": "file", "--plot": "file"}),
    "accuracy": dict(argv=["accuracy", MLP, "--data", "digits"],
                     ints={"--seeds": 1, "--batch": 1, "--limit": 1}, times=("--times",),
                     outputs={"--out": "folder"}),
    "simulate": dict(argv=["simulate", MLP], ints={"--inputs": 1, "--seed": 0,
                                                   "--trace-inputs": 0},
                     times=(), outputs={"--out": "folder"}),
    "calibrate": dict(argv=["calibrate", MLP, "--mapping", MAPPING, "--data", "digits"],
                      ints={"--samples": 1, "--rows-per-tile": 1, "--seed": 0},
                      times=("--time",), outputs={"-o": "file"}),
    "report": dict(argv=["report", MLP], ints={"--inputs": 1, "--images": 1, "--seeds": 1,
                                               "--seed": 0},
                   times=("--times",), outputs={"--out": "folder"}),
    "compare": dict(argv=["compare", MLP], ints={"--inputs": 1, "--images": 1, "--seeds": 1,
                                                 "--seed": 0},
                    times=("--times",), outputs={"--out": "folder"}),
    "sweep": dict(argv=["sweep", str(ROOT / "sweeps/adc_bits.yaml")], ints={"--workers": 1},
                  times=(), outputs={"--out": "folder"}),
    "nas": dict(argv=["nas", "--chip", "hermes64"],
                ints={"--candidates": 1, "--epochs": 1, "--images": 1, "--chips": 1,
                      "--population": 1, "--iterations": 1, "--verify": 1, "--seed": 0},
                times=(), outputs={"--out": "folder"}),
    "faults": dict(argv=["faults", MLP, "--data", "digits"],
                   ints={"--inputs": 1, "--images": 1, "--seeds": 1, "--seed": 0,
                         "--fault-seed": 0}, times=("--times",), outputs={"--out": "folder"}),
    "noc": dict(argv=["noc", "--chip", "hermes64", "--rate", "0.01"],
                ints={"--cycles": 1, "--warmup": 0, "--seed": 0, "--packet-flits": 1}, times=(),
                outputs={"--plot": "file"}),
    "linalg": dict(argv=["linalg", "pca", "synthetic"],
                   ints={"--rank": 1, "--seeds": 1, "--rows": 1, "--cols": 1, "--seed": 0},
                   times=("--time",), outputs={"--out": "folder"}),
    "train": dict(argv=["train", "--float", "--data", "digits", "--layers", "64,10"],
                  ints={"--epochs": 1, "--batch": 1, "--seeds": 1}, times=(),
                  outputs={"--out": "folder"}),
}
#: the subcommands that lay a faults file over the chip (--faults FILE)
TAKE_FAULTS = ("info", "map", "accuracy", "simulate", "calibrate", "report", "compare", "noc",
               "linalg", "nas")
#: an output that a command must write besides the one under test (a file name for -o)
NEEDS = {"calibrate": ["-o", "c.yaml"]}


def test_the_property_covers_every_subcommand():
    assert set(CASES) == set(COMMANDS)


_WORDS = st.text(alphabet="abcxyz_.%", min_size=1, max_size=6)
_BAD_TIMES = st.one_of(
    st.sampled_from(["-1h", "1x", "soon", "1h,1h", "1s,1000ms", "1h,60m", "", ",", "1h,,1d",
                     "inf", "nan", "1e400s", "-0.5d", "h"]),
    st.builds(lambda n, u: f"-{n}{u}", st.integers(1, 99), st.sampled_from("smhdy")))


@st.composite
def mistakes(draw):
    """(argv, words the one line must contain) for one mistake in one subcommand."""
    name = draw(st.sampled_from(sorted(CASES)))
    case = CASES[name]
    kinds = ["unknown option", "model file"] + (["integer"] if case["ints"] else []) \
        + (["faults file"] if name in TAKE_FAULTS else []) \
        + (["time"] if case["times"] else []) + (["output"] if case["outputs"] else [])
    kind = draw(st.sampled_from(kinds))
    argv = list(case["argv"])
    extra = list(NEEDS.get(name, []))
    if kind == "unknown option":
        option = "--no-such-" + draw(st.text(alphabet="abcxyz", min_size=1, max_size=5))
        return argv + extra + [option], [option]
    if kind == "model file":
        if name in ("info", "linalg", "train", "noc", "nas"):  # a chip, a matrix, a graph
            where = {"info": 1, "linalg": 2, "train": None, "noc": 2, "nas": 2}[name]
            missing = draw(_WORDS) + ".yaml"
            if where is None:
                return argv + ["--graph", missing] + extra, [missing]
            argv[where] = missing
            return argv + extra, [missing]
        missing = draw(_WORDS) + ".onnx"
        argv[1] = missing
        return argv + extra, [missing]
    if kind == "faults file":
        missing = draw(_WORDS) + ".yaml"
        return argv + extra + ["--faults", missing], [missing]
    if kind == "integer":
        option = draw(st.sampled_from(sorted(case["ints"])))
        least = case["ints"][option]
        value = draw(st.one_of(st.integers(max_value=least - 1).map(str), _WORDS,
                               st.sampled_from(["1.5", "1e3", "0x10", " "])))
        return argv + extra + [option, value], [option]
    if kind == "time":
        option = draw(st.sampled_from(case["times"]))
        return argv + extra + [option, draw(_BAD_TIMES)], [option]
    option = draw(st.sampled_from(sorted(case["outputs"])))
    wants = case["outputs"][option]
    target = draw(st.sampled_from(["adir", "afile/x", "afile/x/y"] if wants == "file"
                                  else ["afile", "afile/x", "afile/x/y"]))
    extra = [e for e in extra if e not in ("-o", "c.yaml")] if option == "-o" else extra
    return argv + extra + [option, target], [option, target.split("/")[0]]


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mistake=mistakes(), as_json=st.booleans())
def test_every_mistake_of_every_subcommand_is_one_line_naming_it(mistake, as_json, capsys):
    argv, words = mistake
    line = one_error(capsys, argv + (["--json"] if as_json else []))
    assert all(word in line for word in words), (argv, line)
