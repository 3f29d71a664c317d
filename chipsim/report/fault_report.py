"""The faults study written up: a table per figure against the fault rate, plots, CSV, JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from chipsim.report.document import Document, Table
from chipsim.report.plots import OKABE_ITO, _figure, _save
from chipsim.report.tables import Rows, fmt, write_csv

#: (key, label, unit) of the event model's figures in a cell
TIMING = (("first_latency_us", "first-input latency", "µs"),
          ("inferences_per_s", "throughput", "inferences/s"),
          ("energy_per_inference_uj", "energy per inference", "µJ"))


def csv_rows(cells: Sequence[dict[str, Any]]) -> Rows:
    """One row per cell: rate, variant, faults, cores, accuracy per time, timing figures."""
    times = list(cells[0]["accuracy"]) if cells else []
    header = ["fault_rate", "variant", "dead_cores", "broken_links", "unreachable_cores",
              "usable_cores", "cores_used", "lost_tiles"]
    header += [f"accuracy_{t}s_{part}" for t in times for part in ("mean", "std")]
    header += [key for key, _, _ in TIMING]
    rows: list[list[Any]] = []
    for c in cells:
        rows.append([c["rate"], c["variant"], len(c["dead_cores"]), len(c["broken_links"]),
                     len(c["unreachable_cores"]), c["usable_cores"], c["cores_used"],
                     c["lost_tiles"]]
                    + [c["accuracy"][t][part] for t in times for part in ("mean", "std")]
                    + [c[key] for key, _, _ in TIMING])
    return header, rows


def plot(cells: Sequence[dict[str, Any]], meta: dict[str, Any], path: Path) -> Path:
    """Accuracy (first time) and throughput against the fault rate, one line per variant."""
    variants = list(dict.fromkeys(c["variant"] for c in cells))
    first = next(iter(cells[0]["accuracy"]))
    fig = _figure(10.0, 3.8)
    colours = dict(zip(variants, (OKABE_ITO[4], OKABE_ITO[5], OKABE_ITO[2])))
    rates = sorted({c["rate"] for c in cells})
    shown = {r: max(r, rates[1] / 3) if len(rates) > 1 else 1e-4 for r in rates}  # 0 on log axis
    ax_acc, ax_ips = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for variant in variants:
        mine = [c for c in cells if c["variant"] == variant]
        x = [shown[c["rate"]] for c in mine]
        ax_acc.errorbar(x, [100 * c["accuracy"][first]["mean"] for c in mine],
                        yerr=[100 * c["accuracy"][first]["std"] for c in mine], marker="o",
                        capsize=3, color=colours[variant], label=variant)
        timed = [(shown[c["rate"]], c["inferences_per_s"]) for c in mine
                 if c["inferences_per_s"] is not None]
        if timed and variant != "recalibrated":  # ranges do not move the timing much
            ax_ips.plot(*zip(*timed), marker="o", color=colours[variant], label=variant)
    for ax in (ax_acc, ax_ips):
        ax.set_xscale("log")
        ax.set_xticks([shown[r] for r in rates], [f"{r:g}" for r in rates])
        ax.set_xlabel("fault rate (0 drawn at the left)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_acc.axhline(100 * meta["float_accuracy"], color="black", linestyle="--", linewidth=1)
    ax_acc.set_ylabel(f"{meta['metric']} at {meta['time_labels'][0]} (%)")
    ax_ips.set_ylabel("throughput (inferences/s)")
    fig.suptitle(f"{meta['model']} on {meta['chip']} ({meta['strategy']}): faults at rate r "
                 f"(devices stuck, cores dead, links broken; fault seed {meta['fault_seed']})",
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def write_fault_report(cells: Sequence[dict[str, Any]], meta: dict[str, Any],
                       out: Path) -> list[Path]:
    """index.html, README.md, faults.png, faults.csv and results.json in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    files = [write_csv(out / "faults.csv", csv_rows(cells))]
    (out / "results.json").write_text(json.dumps({**meta, "cells": list(cells)}, indent=2),
                                      encoding="utf-8")
    files.append(out / "results.json")
    doc = Document(f"Faults study: {meta['model']} on {meta['chip']}")
    doc.paragraph(
        f"Fault rates {', '.join(f'{r:g}' for r in meta['rates'])}. At fault rate r every device is stuck with probability "
        "r (half at SET, g_max; half at RESET, zero), every core is dead and every link broken "
        f"with probability r ({', '.join(meta['kinds'])}; draws from fault seed "
        f"{meta['fault_seed']}, nested: a higher rate breaks everything a lower one broke). "
        f"Strategy {meta['strategy']}; accuracy is {meta['metric']} on {meta['images']} inputs, "
        f"mean ± std over {len(meta['seeds'])} chip(s), GDC on; the float network scores "
        f"{100 * meta['float_accuracy']:.4g} %. Timing: {meta['inputs']}. "
        f"Calibration: {meta['range_calibration']}.")
    doc.bullets([
        "as mapped: the healthy chip's mapping and calibration on the faulty chip; blocks on "
        "dead or cut-off cores deliver zeros, and such a mapping is not timed (empty cells)",
        "remapped: the strategy run again on the faulty chip (never on a dead or cut-off core; "
        "packets route around broken links), calibration carried over block by block",
        "recalibrated: the remapped network with its input and column ranges fitted again on "
        "the faulty chip",
    ])
    if cells:
        doc.figure("faults.png", "Accuracy (left) and throughput (right) against the fault rate.")
        plot(cells, meta, out / "faults.png")
        files.append(out / "faults.png")
        header = (["fault rate", "variant", "dead / unreachable cores", "broken links",
                   "cores used", "tiles lost"]
                  + [f"accuracy at {label} (%)" for label in meta["time_labels"]]
                  + [f"{label} ({unit})" for _, label, unit in TIMING])
        rows = []
        for c in cells:
            rows.append([f"{c['rate']:g}", c["variant"],
                         f"{len(c['dead_cores'])} / {len(c['unreachable_cores'])}",
                         str(len(c["broken_links"])), str(c["cores_used"]), str(c["lost_tiles"])]
                        + [f"{100 * a['mean']:.4g} ± {100 * a['std']:.2g}"
                           for a in c["accuracy"].values()]
                        + [fmt(c[key]) if c[key] is not None else "—" for key, _, _ in TIMING])
        doc.table(Table(header, rows, caption="Each cell of the study (faults.csv holds the same "
                                              "numbers unrounded)."))
    files += doc.write(out)
    return files
