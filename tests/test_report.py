"""`chipsim report`: the folder it writes, and that every number on its pages is the JSON's."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chipsim.cli import main
from chipsim.report.document import Document, Table
from chipsim.report.tables import fmt

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")


class Page(HTMLParser):
    """The images and table cells of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("report") / "mlp"
    assert main(["report", MLP, "--data", "digits", "--strategy", "sequential", "--inputs", "4",
                 "--images", "40", "--seeds", "2", "--times", "1s,1h", "--out", str(out)]) == 0
    return out, json.loads((out / "results.json").read_text())


def test_folder_holds_pages_figures_tables_and_trace(report):
    out, _ = report
    for name in ("index.html", "README.md", "results.json", "trace.json", "summary.csv",
                 "energy_by_component.csv", "energy_by_layer.csv", "cores.csv", "links.csv",
                 "accuracy.csv", "mapping.png", "energy.png", "cores.png", "network.png",
                 "timeline.png", "accuracy.png"):
        assert (out / name).stat().st_size > 0, name


def test_every_image_the_html_references_exists_and_markdown_shows_the_same(report):
    out, _ = report
    images = parse(out / "index.html").images
    assert len(images) == 6
    assert all((out / src).is_file() and (out / src).stat().st_size > 5000 for src in images)
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "README.md").read_text()) == images


def test_summary_table_numbers_equal_results_json(report):
    out, results = report
    summary = list(results["summary"].values())
    html_rows = parse(out / "index.html").tables[0][1:]
    assert [row[0] for row in html_rows] == [s["figure"] for s in summary]
    for row, s in zip(html_rows, summary):
        assert row[1] == fmt(s["value"]) and row[2] == s["unit"]
        # and the printed value is the JSON's to its 4 significant digits
        assert float(row[1].replace(",", "")) == pytest.approx(s["value"], rel=1e-3, abs=1e-9)
    md = (out / "README.md").read_text()
    for s in summary:
        assert f"| {s['figure']} | {fmt(s['value'])} | {s['unit']} |" in md


def test_summary_is_read_from_the_models_figures(report):
    _, r = report
    timing, accuracy, summary = r["timing"], r["accuracy"], r["summary"]
    assert summary["first_latency_us"]["value"] == timing["first_latency_ns"] / 1e3
    assert summary["energy_per_inference_uj"]["value"] == timing["energy_per_inference_pj"] / 1e6
    assert summary["cores_used"]["value"] == timing["cores_used"] == r["mapping"]["cores_used"]
    assert summary["network_kbit_hops"]["value"] == pytest.approx(
        sum(link["bits"] for link in timing["links"]) / timing["inputs"] / 1e3)
    one_hour = next(row for row in accuracy["rows"] if row["time_s"] == 3600)
    assert summary["accuracy_pct_1h"]["value"] == 100 * one_hour["accuracy_mean"]
    assert summary["accuracy_pct_1h"]["figure"] == "test accuracy at 1h (GDC on)"
    assert summary["float_accuracy_pct"]["value"] == 100 * accuracy["float_accuracy"]
    assert accuracy["metric"] == "test accuracy" and accuracy["images"] == 40
    assert [row["time_s"] for row in accuracy["rows"]] == [1.0, 3600.0]


def test_csv_tables_hold_the_json_numbers_exactly(report):
    out, r = report
    timing = r["timing"]
    with open(out / "energy_by_component.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["component"] for row in rows] == list(timing["energy_by_component_pj"])
    total = sum(float(row["energy per inference (µJ)"]) for row in rows)
    assert total == pytest.approx(timing["energy_per_inference_pj"] / 1e6, rel=1e-9)
    with open(out / "cores.csv") as f:
        cores = list(csv.DictReader(f))
    assert {int(c["core"]) for c in cores} == {int(k) for k in timing["core_utilization"]}
    with open(out / "summary.csv") as f:
        values = [float(row["value"]) for row in csv.DictReader(f)]
    assert values == [s["value"] for s in r["summary"].values()]


def test_same_seed_same_report_numbers(report, tmp_path):
    out, results = report
    again = tmp_path / "again"
    assert main(["report", MLP, "--data", "digits", "--strategy", "sequential", "--inputs", "4",
                 "--images", "40", "--seeds", "2", "--times", "1s,1h", "--out", str(again),
                 "--json"]) == 0
    assert json.loads((again / "results.json").read_text())["summary"] == results["summary"]


def test_document_renders_marked_cells_in_both_formats():
    doc = Document("t")
    doc.table(Table(["a", "b"], [["x", "1.5"], ["y", "2"]], {(1, 1)}))
    assert "| y | **2** |" in doc.to_markdown()
    assert '<td class="num best">2</td>' in doc.to_html()


@pytest.mark.parametrize("value, text", [(None, "n/a"), (True, "yes"), (1234567, "1,234,567"),
                                         (0.0, "0"), (12345.6, "12,346"), (3.14159, "3.142"),
                                         (0.000123456, "0.0001235")])
def test_fmt(value, text):
    assert fmt(value) == text
