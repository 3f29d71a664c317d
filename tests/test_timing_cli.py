"""`chipsim simulate` end to end: text, --json, files written, user errors exit 2."""

from __future__ import annotations

import json

from chipsim.cli import main

MLP = "workloads/digits_mlp/mlp.onnx"


def test_json_prints_one_object_and_writes_files(tmp_path, capsys):
    code = main(["simulate", MLP, "--inputs", "8", "--json", "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    d = json.loads(out.out)
    for key in ("first_latency_ns", "inferences_per_s", "energy_per_inference_pj", "tops",
                "tops_per_w", "cores_used", "simulated_mvms"):
        assert d[key] > 0
    assert d["outputs_match_functional"] is True
    assert out.err == ""
    for name in ("figures.json", "figures.csv", "inputs.csv", "trace.json"):
        assert (tmp_path / name).stat().st_size > 0
    trace = json.loads((tmp_path / "trace.json").read_text())
    assert any(e["ph"] == "X" and e["pid"] == 1 for e in trace["traceEvents"])
    assert len((tmp_path / "inputs.csv").read_text().splitlines()) == 1 + 8
    assert d["steady_state"] is True


def test_one_input_gets_the_steady_state_throughput(tmp_path, capsys):
    assert main(["simulate", MLP, "--inputs", "1", "--json", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    d = json.loads(out.out)
    assert d["steady_state"] is True and d["inferences_per_s"] > 0 and d["tops"] > 0
    assert d["timing_only_inputs"] > 0 and d["inputs"] == 1
    assert d["outputs_match_functional"] is True and d["first_latency_ns"] > 0
    assert len((tmp_path / "inputs.csv").read_text().splitlines()) == 1 + 1
    assert main(["simulate", MLP, "--inputs", "1", "--out", str(tmp_path)]) == 0
    assert "timing-only inputs streamed after yours" in capsys.readouterr().out


def test_text_output(tmp_path, capsys):
    assert main(["simulate", MLP, "--inputs", "2", "--strategy", "sequential",
                 "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "TOPS/W" in text and "synthetic" in text and "latency" in text


def test_user_errors_exit_2(tmp_path, capsys):
    for args in (["--strategy", "nonsense"], ["--inputs", "0"], ["--data", "mnist"],
                 ["--read-mode", "seven_phase"]):
        assert main(["simulate", MLP, "--out", str(tmp_path), *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("chipsim: error:")
