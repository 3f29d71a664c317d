"""The report's tables, taken from the results dictionary: raw numbers for CSV, formatted for pages.

Each table function returns a header and rows of plain values read from the results; the CSV
files hold them exactly, and `fmt` writes the same values for the pages (4 significant digits,
thousands separated), so a page and its CSV differ only in rounding.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from chipsim.report.document import Table

Rows = tuple[list[str], list[list[Any]]]


def fmt(value: Any) -> str:
    """A number as a report prints it: "n/a" for missing, 4 significant digits, 1,234 grouping."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def page_table(rows: Rows, caption: str = "", marked: set[tuple[int, int]] | None = None) -> Table:
    header, values = rows
    return Table(header, [[fmt(v) for v in row] for row in values], marked or set(), caption)


def write_csv(path: str | Path, rows: Rows) -> Path:
    header, values = rows
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(values)
    return path


def summary_rows(results: dict[str, Any]) -> Rows:
    return (["figure", "value", "unit"],
            [[s["figure"], s["value"], s["unit"]] for s in results["summary"].values()])


def _energy(parts: dict[str, float], inputs: int, name: str) -> Rows:
    total = sum(parts.values())
    return ([name, "energy per inference (µJ)", "share (%)"],
            [[k, v / inputs / 1e6, 100 * v / total if total else 0.0] for k, v in parts.items()])


def energy_by_component_rows(timing: dict[str, Any]) -> Rows:
    return _energy(timing["energy_by_component_pj"], timing["inputs"], "component")


def energy_by_layer_rows(timing: dict[str, Any]) -> Rows:
    return _energy(timing["energy_by_layer_pj"], timing["inputs"], "layer")


def core_rows(timing: dict[str, Any]) -> Rows:
    energy = timing["energy_by_core_pj"]
    cores = sorted(timing["core_utilization"], key=int)
    return (["core", "busy (% of run)", "energy per inference (µJ)"],
            [[int(c), 100 * timing["core_utilization"][c],
              energy.get(c, 0.0) / timing["inputs"] / 1e6] for c in cores])


def link_rows(timing: dict[str, Any]) -> Rows:
    return (["link", "traffic (kbit/inference, user's inputs)", "busy (% of run)"],
            [[link["link"], link["bits"] / timing["inputs"] / 1e3, 100 * link["utilization"]]
             for link in timing["links"]])


def chip_rows(timing: dict[str, Any]) -> Rows:
    """One row per chip of a system (`chipsim.timing.interchip.system_figures`)."""
    return (["chip", "cores used", "energy (uJ/inference)", "chip-to-chip energy (nJ/inference)",
             "core utilization mean (%)", "max (%)", "alone could do (inferences/s)",
             "first input: first MVM (us)", "last MVM (us)"],
            [[c["chip"], c["cores_used"], c["energy_per_inference_pj"] / 1e6,
              c["interchip_energy_per_inference_pj"] / 1e3, 100 * c["core_utilization_mean"],
              100 * c["core_utilization_max"], c["bound_inferences_per_s"],
              c["first_input_start_ns"] / 1e3 if "first_input_start_ns" in c else None,
              c["first_input_end_ns"] / 1e3 if "first_input_end_ns" in c else None]
             for c in timing["chips"]])


def accuracy_rows(accuracy: dict[str, Any]) -> Rows:
    from chipsim.functional.times import format_time

    metric = accuracy["metric"]
    return (["time after programming", "GDC", f"{metric} mean (%)", "std (%)",
             "relative logit error mean", "std", "seeds"],
            [[format_time(r["time_s"]), "on" if r["gdc"] else "off", 100 * r["accuracy_mean"],
              100 * r["accuracy_std"], r["logit_error_mean"], r["logit_error_std"], r["seeds"]]
             for r in accuracy["rows"]])


def calibration_rows(study: dict[str, Any]) -> Rows:
    """The calibration study's rows with the columns `StudyCsv` streams them in, so the file a
    finished report rewrites is the file the run wrote as it went."""
    from chipsim.calibration.study import StudyCsv

    return (list(StudyCsv.COLUMNS), [[r[c] for c in StudyCsv.COLUMNS] for r in study["rows"]])


def calibration_page_rows(study: dict[str, Any]) -> Rows:
    """Times down; float and each variant across, as "mean ± std" test accuracy (%)."""
    from chipsim.calibration.study import study_grid, variant_label
    from chipsim.functional.times import format_time

    variants, times, cell = study_grid(study["rows"])

    def spread(row: dict[str, Any] | None) -> str:
        if row is None:
            return "n/a"
        return f"{fmt(100 * row['accuracy_mean'])} ± {fmt(100 * row['accuracy_std'])}"

    return (["time after programming", "float (%)"]
            + [f"{variant_label(v, study)} (%)" for v in variants],
            [[format_time(t), 100 * study["float_accuracy"]]
             + [spread(cell.get((v, t))) for v in variants] for t in times])
