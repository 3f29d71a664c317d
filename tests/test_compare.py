"""`chipsim compare`: strategies side by side, best values, Pareto set, partial results kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chipsim.report.measure
from chipsim.cli import main
from chipsim.report.comparison import best_of, pareto_front
from chipsim.report.tables import fmt
from test_report import parse

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")
FAST = ["--inputs", "4", "--images", "30", "--seeds", "2"]


def column(values: dict[str, float], higher: bool, key: str = "k") -> dict:
    return {"key": key, "label": key, "unit": "", "higher_is_better": higher, "values": values}


def test_best_and_pareto_on_a_hand_made_table():
    speed = column({"a": 10.0, "b": 5.0, "c": 10.04, "d": 4.0}, higher=True)
    cost = column({"a": 3.0, "b": 1.0, "c": 3.0, "d": 2.0}, higher=False)
    assert best_of(speed) == ["a", "c"]  # equal at 3 significant digits
    assert best_of(cost) == ["b"]
    # d is beaten by b on both; a and c tie, so neither dominates the other
    assert pareto_front([speed, cost]) == ["a", "b", "c"]


def _dominates(columns, a, b) -> bool:
    """Dominance written out from the definition: figures compared at 3 significant digits."""
    pairs = [(float(f"{c['values'][a]:.3g}"), float(f"{c['values'][b]:.3g}"), c["higher_is_better"])
             for c in columns]
    at_least = all((x >= y) if h else (x <= y) for x, y, h in pairs)
    better = any((x > y) if h else (x < y) for x, y, h in pairs)
    return at_least and better


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1.0, 2.0, 2.001, 3.0]), st.floats(0.1, 100),
                          st.integers(1, 4)), min_size=1, max_size=6))
def test_pareto_set_is_exactly_the_undominated_and_never_empty(points):
    names = [f"s{k}" for k in range(len(points))]
    columns = [column({n: float(p[axis]) for n, p in zip(names, points)}, higher=axis == 0,
                      key=str(axis)) for axis in range(3)]
    front = pareto_front(columns)
    assert front
    for n in names:
        assert (n in front) == (not any(_dominates(columns, o, n) for o in names if o != n))
    for c in columns:
        best = best_of(c)
        assert best and all(not _dominates([c], o, b) for b in best for o in names)


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("compare")
    assert main(["compare", MLP, "--data", "digits", "--strategies", "sequential,balanced,packed",
                 *FAST, "--out", str(out)]) == 0
    return out, json.loads((out / "results.json").read_text())


def test_compare_writes_one_report_with_every_strategy(compared):
    out, data = compared
    assert data["finished"] == data["strategies"] == ["sequential", "balanced", "packed"]
    assert data["complete"] is True and data["seeds"] == [0, 1]
    page = parse(out / "index.html")
    assert len(page.images) >= 4
    assert all((out / src).is_file() for src in page.images)
    for name in data["strategies"]:
        assert (out / name / "index.html").is_file() and f"{name}/mapping.png" in page.images
    keys = {c["key"] for c in data["columns"]}
    assert {"first_latency_us", "inferences_per_s", "energy_per_inference_uj", "cores_used",
            "network_kbit_hops", "accuracy_pct_1h", "logit_error"} <= keys


def test_compare_table_equals_json_and_marks_best(compared):
    out, data = compared
    html = (out / "index.html").read_text()
    table = parse(out / "index.html").tables[0]
    body = table[1:]
    assert [row[0] for row in body] == data["strategies"]
    for k, col in enumerate(data["columns"], 1):
        for r, name in enumerate(data["strategies"]):
            assert body[r][k] == fmt(col["values"][name])
            # the same number in that strategy's own report
            run = json.loads((out / name / "results.json").read_text())
            assert run["summary"][col["key"]]["value"] == col["values"][name]
    for r, name in enumerate(data["strategies"]):
        assert body[r][-1] == ("yes" if name in data["pareto"] else "no")
    bold = html.count('class="num best"') + html.count('class="best"')
    assert bold == sum(len(v) for v in data["best"].values())
    # every strategy ran with the same accuracy seeds
    assert all(run["accuracy"]["seeds"] == [0, 1] for run in data["runs"].values())


def test_an_interrupted_compare_keeps_the_finished_strategies(tmp_path, monkeypatch, capsys):
    real = chipsim.report.measure.measure_run
    calls = []

    def stop_on_second(work, mapping, **kw):
        calls.append(mapping.strategy)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(work, mapping, **kw)

    monkeypatch.setattr("chipsim.report.measure_run", stop_on_second)
    assert main(["compare", MLP, "--data", "digits", "--strategies", "packed,sequential",
                 *FAST, "--out", str(tmp_path)]) == 130
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["finished"] == ["packed"] and data["complete"] is False
    assert "Unfinished: sequential" in (tmp_path / "README.md").read_text()
    assert (tmp_path / "packed" / "index.html").is_file()
