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


COMPARE = ["compare", MLP, "--data", "digits", "--strategies", "sequential,packed",
           "--images", "20", "--inputs", "4", "--seeds", "2", "--times", "1h,1d", "--json"]


@pytest.fixture
def measured(monkeypatch):
    """Counts the strategies that `compare` measures and kills it at the one numbered
    `measured.kill_at`, if set."""
    import chipsim.report

    original = chipsim.report.measure_run

    class Counter:
        names: list = []
        kill_at = None

    def counted(work, mapping, **kwargs):
        Counter.names.append(mapping.strategy)
        if Counter.kill_at is not None and len(Counter.names) >= Counter.kill_at:
            raise Killed
        return original(work, mapping, **kwargs)

    monkeypatch.setattr(chipsim.report, "measure_run", counted)
    return Counter


def _without_paths(doc: dict, folder: Path) -> dict:
    """The document with its own folder's name taken out, to compare two folders' runs."""
    return json.loads(json.dumps(doc).replace(str(folder), "OUT"))


def test_compare_resumes_after_a_kill_with_the_same_numbers(tmp_path, capsys, measured):
    whole_out, cut_out = tmp_path / "whole", tmp_path / "cut"
    assert main([*COMPARE, "--out", str(whole_out)]) == 0
    whole = _without_paths(_json(capsys), whole_out)

    measured.names, measured.kill_at = [], 2  # killed while measuring the second strategy
    with pytest.raises(Killed):
        main([*COMPARE, "--out", str(cut_out)])
    capsys.readouterr()
    partial = json.loads((cut_out / "results.json").read_text())
    assert partial["finished"] == ["sequential"] and not partial["complete"]

    measured.names, measured.kill_at = [], None
    assert main([*COMPARE, "--out", str(cut_out)]) == 0
    captured = capsys.readouterr()
    assert _without_paths(json.loads(captured.out), cut_out) == whole
    assert measured.names == ["packed"]
    assert "1 of 2 cells reused" in captured.err
    assert json.loads((cut_out / "results.json").read_text())["complete"]


def test_compare_with_other_settings_starts_over(tmp_path, capsys, measured):
    out = tmp_path / "rep"
    assert main([*COMPARE, "--strategies", "sequential", "--out", str(out)]) == 0
    capsys.readouterr()
    measured.names = []
    assert main([*COMPARE, "--strategies", "sequential", "--seed", "1", "--out", str(out)]) == 0
    assert measured.names == ["sequential"]
    assert "other settings; starting over" in capsys.readouterr().err


def test_compare_killed_by_sigkill_resumes(tmp_path):
    """A real SIGKILL once the first strategy is finished; the rerun's table equals a whole
    run's."""
    import os
    import signal
    import subprocess
    import sys
    import time

    def command(out):
        return [sys.executable, "-m", "chipsim.cli", *COMPARE, "--out", str(out)]

    cut_out = tmp_path / "cut"
    proc = subprocess.Popen(command(cut_out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    record = cut_out / "compare.resume.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(record.read_text())["finished"]:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = json.loads(record.read_text())["finished"]
    assert finished == ["sequential"], "the kill came too late to test resuming"

    rerun = subprocess.run(command(cut_out), capture_output=True, text=True, check=True)
    assert "1 of 2 cells reused" in rerun.stderr
    whole_out = tmp_path / "whole"
    whole = subprocess.run(command(whole_out), capture_output=True, text=True, check=True)
    assert _without_paths(json.loads(rerun.stdout), cut_out) == \
        _without_paths(json.loads(whole.stdout), whole_out)


REPORT = ["report", MLP, "--data", "digits", "--images", "20", "--inputs", "4", "--seeds", "2",
          "--times", "1h,1d", "--json"]


def test_report_resumes_after_a_kill_with_the_same_numbers(tmp_path, capsys, runs, monkeypatch):
    from chipsim.commands.resume import Resume
    from chipsim.timing.simulate import Simulation

    simulated = []
    original_sim, original_finish = Simulation.run, Resume.finish
    monkeypatch.setattr(Simulation, "run",
                        lambda self, *a, **k: simulated.append(1) or original_sim(self, *a, **k))
    whole_out, cut_out = tmp_path / "whole", tmp_path / "cut"
    assert main([*REPORT, "--out", str(whole_out)]) == 0
    whole = _without_paths(_json(capsys), whole_out)
    whole_runs = runs.count

    def killed_after_two(self, cell, data=None):  # the event model and 1h are written
        original_finish(self, cell, data)
        if len(self.finished) == 2:
            raise Killed

    monkeypatch.setattr(Resume, "finish", killed_after_two)
    with pytest.raises(Killed):
        main([*REPORT, "--out", str(cut_out)])
    capsys.readouterr()
    monkeypatch.setattr(Resume, "finish", original_finish)

    simulated.clear()
    runs.count = 0
    assert main([*REPORT, "--out", str(cut_out)]) == 0
    captured = capsys.readouterr()
    assert _without_paths(json.loads(captured.out), cut_out) == whole
    assert simulated == [] and runs.count == whole_runs - 2  # neither the event model nor 1h
    assert "2 of 3 cells reused" in captured.err
