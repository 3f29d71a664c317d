"""Mapping strategies side by side: which is fastest, leanest, most accurate, and which trade off.

Each strategy's run is a results dictionary (`measure.measure_run`). The comparison reads the
same headline figures from each run's summary, marks the best value of every figure, and finds
the Pareto-optimal strategies: those no other strategy matches or beats on every figure while
beating them on at least one. Figures are compared at 3 significant digits (`DIGITS`): the
event model's throughput over a few inputs is not finer than that, and a strategy should not
look Pareto-optimal for a rounding-level edge. `write_comparison` may be called after every finished strategy:
it rewrites the folder with what is finished so far, so an interrupted run keeps it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from chipsim.report import plots
from chipsim.report import tables as t
from chipsim.report.document import Document, Table
from chipsim.report.measure import headline_row
from chipsim.report.single import save_json

#: significant digits at which figures are compared (closer values count as equal)
DIGITS = 3

#: (summary key, short label, unit, whether higher is better) of every compared figure
COLUMNS = (
    ("first_latency_us", "latency", "µs", False),
    ("inferences_per_s", "throughput", "inferences/s", True),
    ("energy_per_inference_uj", "energy/inference", "µJ", False),
    ("cores_used", "cores used", "cores", False),
    ("network_kbit_hops", "network traffic", "kbit·hops/inference", False),
)


def compare_rows(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The compared figures, each with its value per strategy (None where a run lacks it):
    the event model's, then accuracy at every time of the study and the logit error at the
    headline time."""
    columns = []
    for key, label, unit, higher in COLUMNS + accuracy_columns(runs):
        values = {name: run["summary"].get(key, {}).get("value") for name, run in runs.items()}
        if any(v is not None for v in values.values()):
            columns.append({"key": key, "label": label, "unit": unit,
                            "higher_is_better": higher, "values": values})
    return columns


def accuracy_columns(runs: dict[str, dict[str, Any]]) -> tuple[tuple[str, str, str, bool], ...]:
    """(key, label, unit, higher is better) of accuracy at each time the runs measured (GDC
    on), named for what it is: test accuracy, or agreement with a float network that has no
    labels (a random-weight graph), then the headline logit error."""
    from chipsim.functional.times import format_time

    studies = [run["accuracy"] for run in runs.values() if run.get("accuracy")]
    if not studies:
        return ()
    what = "accuracy" if studies[0]["metric"] == "test accuracy" else "agreement with float"
    times = sorted({r["time_s"] for s in studies for r in s["rows"] if r["gdc"]})
    columns = tuple((f"accuracy_pct_{format_time(t)}", f"{what} at {format_time(t)}", "%", True)
                    for t in times)
    head = headline_row(studies[0])
    if head is None:
        return columns
    return columns + (("logit_error", f"logit error at {format_time(head['time_s'])}", "ratio",
                       False),)


def _score(value: float, higher_is_better: bool) -> float:
    """The value rounded to `DIGITS` significant digits, signed so that higher is better."""
    rounded = float(f"{value:.{DIGITS}g}")
    return rounded if higher_is_better else -rounded


def best_of(column: dict[str, Any]) -> list[str]:
    """Strategies holding the best value of one figure (ties at `DIGITS` digits all count)."""
    scores = {n: _score(v, column["higher_is_better"]) for n, v in column["values"].items()
              if v is not None}
    return [n for n, v in scores.items() if v == max(scores.values())]


def pareto_front(columns: Sequence[dict[str, Any]]) -> list[str]:
    """Strategies that no other strategy dominates on the figures every strategy has."""
    full = [c for c in columns if all(v is not None for v in c["values"].values())]
    names = list(columns[0]["values"]) if columns else []
    score = {n: [_score(c["values"][n], c["higher_is_better"]) for c in full] for n in names}

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))

    return [n for n in names if not any(dominates(score[o], score[n]) for o in names if o != n)]


def write_comparison(runs: dict[str, dict[str, Any]], out: str | Path, *, meta: dict[str, Any],
                     planned: Sequence[str]) -> list[Path]:
    """Write the comparison report of the finished `runs` (name -> results) into `out`.

    `meta` holds model, chip, seeds and inputs as the page states them; `planned` lists every
    strategy asked for, so an unfinished comparison says what is missing. Each run's own report
    is expected in `out/<strategy>/` (its mapping picture is shown, its page linked).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    columns = compare_rows(runs)
    pareto = pareto_front(columns)
    data = {**meta, "strategies": list(planned), "finished": list(runs),
            "complete": list(runs) == list(planned),
            "columns": columns, "best": {c["key"]: best_of(c) for c in columns},
            "pareto": pareto, "runs": runs}
    data = save_json(out / "results.json", data)  # the page is drawn from what the file holds
    columns, best, runs = data["columns"], data["best"], data["runs"]
    names = list(runs)

    header = ["strategy"] + [f"{c['label']} ({c['unit']})" for c in columns] + ["Pareto-optimal"]
    raw = [[n] + [c["values"][n] for c in columns] + [n in data["pareto"]] for n in names]
    files = [out / "results.json", t.write_csv(out / "compare.csv", (header, raw))]
    marked = {(r, k + 1) for k, c in enumerate(columns) for r, n in enumerate(names)
              if n in best[c["key"]]}

    title = f"{data['model']} on {data['chip']}: mapping strategies compared"
    doc = Document(title)
    doc.paragraph(f"Strategies {', '.join(data['strategies'])}, each run with the same seeds "
                  f"({', '.join(map(str, data['seeds']))}; the event model uses seed "
                  f"{data['seed']}). Inputs: {data['inputs']}. Per-inference figures count "
                  "one inference: energy and network traffic of the inputs above over their "
                  "number (the timing-only inputs streamed to measure the throughput are left "
                  "out), static power over one steady-state interval. Every number here is "
                  "read from `results.json`; the table is also in `compare.csv`.")
    if data.get("range_calibration"):
        doc.paragraph(f"Range calibration: {data['range_calibration']}.")
    floats = {run["summary"].get("float_accuracy_pct", {}).get("value") for run in runs.values()}
    if len(floats) == 1 and None not in floats:
        doc.paragraph(f"The float network's test accuracy on the same inputs: "
                      f"{t.fmt(floats.pop())} %.")
    if not data["complete"]:
        missing = [n for n in data["strategies"] if n not in runs]
        doc.paragraph(f"Unfinished: {', '.join(missing)} not run yet.")
    doc.heading("Side by side")
    doc.table(Table(header, [[t.fmt(v) for v in row] for row in raw], marked,
                    "bold: best in its column; Pareto-optimal: no other strategy is at least as "
                    "good on every figure and better on one (figures compared at 3 significant "
                    "digits)"))
    bars = [(f"{c['label']} ({c['unit']}, {'higher' if c['higher_is_better'] else 'lower'} is "
             "better)", c["key"], [c["values"][n] for n in names]) for c in columns]
    doc.figure(plots.comparison_bars(names, bars, best, out / "compare.png",
                                     f"{data['model']} on {data['chip']}").name,
               "Each figure per strategy; the best bar of each panel is hatched")
    summary = {c["key"]: c["values"] for c in columns}
    if "energy_per_inference_uj" in summary and "inferences_per_s" in summary:
        doc.figure(plots.tradeoff(names, [summary["energy_per_inference_uj"][n] for n in names],
                                  [summary["inferences_per_s"][n] for n in names],
                                  data["pareto"], out / "tradeoff.png",
                                  "throughput against energy per inference").name,
                   "Throughput against energy per inference; Pareto-optimal strategies ringed")
    doc.figure(plots.energy_by_strategy(runs, out / "energy.png",
                                        "energy per inference by component").name,
               "Energy per inference by component, per strategy")
    doc.heading("Mappings")
    for name in names:
        if (out / name / "mapping.png").exists():
            doc.figure(f"{name}/mapping.png", f"{name}: blocks on the cores, coloured by layer")
    doc.bullets([f"{name}: full report in `{name}/index.html` (`{name}/README.md`)"
                 for name in names])
    files += [out / name for name in doc.images() if "/" not in name]
    return files + doc.write(out)
