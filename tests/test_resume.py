"""Interrupted runs: a rerun into the same --out reads the finished cells back, computes only
the rest, and ends with the numbers of a run that was never stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chipsim.cli import main
from chipsim.functional.analog import AnalogNetwork

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")
MAPPING = str(ROOT / "mappings/digits_mlp/mlp-sequential.yaml")
ACCURACY = ["accuracy", MLP, "--mapping", MAPPING, "--data", "digits", "--limit", "40",
            "--seeds", "2", "--times", "1h,1d", "--json"]


class Killed(Exception):
    """Stands for SIGKILL: the run stops where it is, leaving what it wrote."""


@pytest.fixture
def runs(monkeypatch):
    """Counts the analog network's runs (one per seed and cell) and kills the command at the
    run numbered `runs.kill_at`, if set."""
    original = AnalogNetwork.run

    class Counter:
        count, kill_at = 0, None

    def counted(self, *args, **kwargs):
        Counter.count += 1
        if Counter.kill_at is not None and Counter.count >= Counter.kill_at:
            raise Killed
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AnalogNetwork, "run", counted)
    return Counter


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_accuracy_resumes_after_a_kill_with_the_same_numbers(tmp_path, capsys, runs):
    assert main([*ACCURACY, "--out", str(tmp_path / "whole")]) == 0
    whole = _json(capsys)
    assert runs.count == 2 * 2 * 2  # times x seeds x GDC

    runs.count, runs.kill_at = 0, 6  # killed in the second time, after its first two cells
    with pytest.raises(Killed):
        main([*ACCURACY, "--out", str(tmp_path / "cut")])
    capsys.readouterr()
    lines = (tmp_path / "cut/accuracy.csv").read_text().splitlines()
    assert len(lines) == 1 + 2  # the header and the two cells of 1h

    runs.count, runs.kill_at = 0, None
    assert main([*ACCURACY, "--out", str(tmp_path / "cut")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == whole
    assert runs.count == 2 * 2  # only 1d ran
    assert "2 of 4 cells reused" in captured.err
    assert (tmp_path / "cut/accuracy.csv").read_text() == \
        (tmp_path / "whole/accuracy.csv").read_text()


def test_accuracy_drops_a_line_cut_short_and_recomputes_it(tmp_path, capsys, runs):
    out = tmp_path / "rep"
    assert main([*ACCURACY, "--out", str(out)]) == 0
    whole = _json(capsys)
    text = (out / "accuracy.csv").read_text()
    cut = text.index("86400.0,True") + 20  # the kill came in the middle of the third cell
    (out / "accuracy.csv").write_text(text[:cut])

    runs.count = 0
    assert main([*ACCURACY, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == whole
    assert runs.count == 2 * 2
    assert "2 of 4 cells reused" in captured.err


def test_accuracy_with_other_settings_starts_over(tmp_path, capsys, runs):
    out = tmp_path / "rep"
    assert main([*ACCURACY, "--out", str(out)]) == 0
    capsys.readouterr()
    runs.count = 0
    assert main([*ACCURACY, "--seeds", "3", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert runs.count == 2 * 3 * 2  # nothing reused
    assert "other settings; starting over" in captured.err
    assert all(r["seeds"] == 3 for r in json.loads(captured.out)["rows"])


def test_accuracy_rerun_with_more_times_reuses_the_finished_ones(tmp_path, capsys, runs):
    out = tmp_path / "rep"
    assert main([*ACCURACY, "--out", str(out)]) == 0
    first = _json(capsys)
    runs.count = 0
    assert main([*ACCURACY, "--times", "1h,1d,1y", "--out", str(out)]) == 0
    more = _json(capsys)
    assert runs.count == 2 * 2
    assert more["rows"][:4] == first["rows"]
    assert [r["time_s"] > 86400 for r in more["rows"][4:]] == [True, True]
