"""AnalogNAS written up: the Pareto fronts, the surrogate's rank correlation, found against
baseline, every evaluated candidate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.ticker import FormatStrFormatter

from chipsim.report.document import Document, Table
from chipsim.report.plots import OKABE_ITO, _figure, _save
from chipsim.report.tables import fmt, write_csv

MONTH = "accuracy_2.592e+06s"
COLUMNS = (("architecture", "architecture"), ("role", "role"), ("weights", "weights"),
           ("cores", "cores"), ("float_accuracy", "float acc."),
           ("accuracy_86400s", "acc. 1 day"), (MONTH, "acc. 30 days"), ("drop_30d", "drop 1 s-30 d"),
           ("energy_per_inference_uj", "energy/inf. (µJ)"), ("first_latency_us", "latency (µs)"),
           ("inferences_per_s", "inferences/s"))
ROLE_STYLE = {"sampled": (OKABE_ITO[1], "o"), "found": (OKABE_ITO[5], "*"),
              "baseline": ("black", "s")}


def plot(rows: list[dict[str, Any]], meta: dict[str, Any], path: Path) -> Path:
    fig = _figure(10.0, 4.0)
    for k, (cost, label) in enumerate((("energy_per_inference_uj", "energy per inference (µJ)"),
                                       ("first_latency_us", "first-input latency (µs)"))):
        ax = fig.add_subplot(1, 2, k + 1)
        for role, (colour, marker) in ROLE_STYLE.items():
            mine = [r for r in rows if r["role"] == role and "error" not in r]
            ax.scatter([r[cost] for r in mine], [100 * r[MONTH] for r in mine], color=colour,
                       marker=marker, s=90 if role != "sampled" else 30, label=role, zorder=3)
        front = sorted((r for r in rows if r.get(f"pareto_{cost}")), key=lambda r: r[cost])
        ax.step([r[cost] for r in front], [100 * r[MONTH] for r in front], where="post",
                color="grey", linewidth=1, label="Pareto front")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.set_xlabel(label + ", log scale")
        ax.set_ylabel("test accuracy 30 days after programming (%)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"AnalogNAS on {meta['chip']} ({meta['data']}, {meta['epochs']} epochs per "
                 f"candidate, {meta['chips']} chips per accuracy)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def write_nas_report(doc: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    rows = doc["rows"]
    (out / "results.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    keys = [k for k, _ in COLUMNS]
    files = [out / "results.json",
             write_csv(out / "candidates.csv", (keys + ["error"],
                                                [[r.get(k) for k in keys + ["error"]] for r in rows]))]
    page = Document(f"AnalogNAS on {doc['chip']}")
    v = doc["verdict"]
    page.paragraph(
        f"{doc['budget']['candidates']} candidates sampled by Latin hypercube and the baseline "
        f"ResNet were trained with noise injection ({doc['epochs']} epochs on {doc['data']}), "
        f"mapped with the packed strategy, calibrated and measured on {doc['chip']}: test "
        f"accuracy at 1 s, 1 h, 1 day and 30 days after programming ({doc['chips']} chips, "
        "GDC on), latency, throughput and energy from the event model. A gradient-boosted "
        f"surrogate ranks candidates by 1-day accuracy: Kendall tau {doc['kendall_tau']:.3f} on "
        f"{doc['held_out']} held-out candidates. Evolution on it (constraints: "
        f"{doc['constraints']}) found the candidates marked 'found', then evaluated for real.")
    dominating = ", ".join(f"{d['architecture']} ({d['role']})" for d in v["dominating"])
    page.paragraph(f"Baseline {v['baseline']}: dominated by " + (dominating or "no candidate")
                   + " (at least as accurate at 30 days within the seed spread with fewer "
                   "cores or less energy per inference, or more accurate at no higher cost).")
    page.figure("pareto.png", "30-day accuracy against energy per inference and against "
                "latency; the grey steps are the Pareto fronts of the evaluated candidates.")
    files.append(plot(rows, doc, out / "pareto.png"))
    shown = sorted(rows, key=lambda r: ({"found": 0, "baseline": 1}.get(r["role"], 2),
                                        -r.get(MONTH, -1)))
    page.table(Table([label for _, label in COLUMNS],
                     [[fmt(r.get(k)) if k not in ("architecture", "role") else r[k]
                       for k, _ in COLUMNS] for r in shown],
                     caption="Every evaluated candidate (candidates.csv holds the numbers "
                     "unrounded; candidates that did not fit the chip have an error there)."))
    files += page.write(out)
    return files
