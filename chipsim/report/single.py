"""The report of one run: a mapped network's latency, throughput, energy, traffic and accuracy.

`write_run_report` writes `results.json` first, reads it back, and draws everything else from
what it read: CSV tables, PNG figures, then `index.html` and `README.md` with the same content.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chipsim.functional.inputs import TEST_ACCURACY
from chipsim.report import plots
from chipsim.report import tables as t
from chipsim.report.document import Document


def save_json(path: Path, data: Any) -> dict[str, Any]:
    """Write `data` as JSON and return what the file now holds (what every page is drawn from)."""
    path.write_text(json.dumps(data, indent=2, default=_plain), encoding="utf-8")
    return json.loads(path.read_text(encoding="utf-8"))


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_run_report(results: dict[str, Any], out: str | Path, *, chip: Any, mapping: Any,
                     trace: dict[str, Any] | None = None) -> list[Path]:
    """Write the report folder `out` for one run; returns the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "results.json"]
    results = save_json(files[0], results)
    timing, accuracy = results["timing"], results["accuracy"]
    calibration = results.get("calibration")
    if trace is not None:
        (out / "trace.json").write_text(json.dumps(trace), encoding="utf-8")
        files.append(out / "trace.json")

    csvs = {"summary.csv": t.summary_rows(results),
            "energy_by_component.csv": t.energy_by_component_rows(timing),
            "energy_by_layer.csv": t.energy_by_layer_rows(timing),
            "cores.csv": t.core_rows(timing), "links.csv": t.link_rows(timing)}
    if "chips" in timing:
        csvs["chips.csv"] = t.chip_rows(timing)
    if accuracy is not None:
        csvs["accuracy.csv"] = t.accuracy_rows(accuracy)
    if calibration is not None:
        csvs["calibration.csv"] = t.calibration_rows(calibration)
    files += [t.write_csv(out / name, rows) for name, rows in csvs.items()]

    from chipsim.mapping.show import draw_cores

    title = f"{results['model']} on {results['chip']}: {results['strategy']} mapping"
    doc = Document(title)
    doc.paragraph(f"Inputs: {results['inputs']}. Seed {results['seed']}; read mode "
                  f"{timing['read_mode']}, clock {timing['clock_ghz']:g} GHz. Every number on this "
                  "page is read from `results.json`; the tables are also in CSV files.")
    if results.get("range_calibration"):
        doc.paragraph(f"Range calibration: {results['range_calibration']}.")
    doc.heading("Summary")
    doc.table(t.page_table(t.summary_rows(results), "summary.csv"))
    bottleneck = timing["bottleneck"]
    doc.paragraph(f"Throughput is bound by {bottleneck['kind']} {bottleneck['name']} "
                  f"({t.fmt(100 * bottleneck['utilization'])} % busy"
                  + (f", layer {', '.join(bottleneck['layers'])}" if bottleneck["layers"] else "")
                  + ").")

    doc.heading("Mapping")
    m = results["mapping"]
    doc.paragraph(f"{m['blocks']} blocks on {m['cores_used']} of {m['cores_available']} cores, "
                  f"{t.fmt(100 * m['utilization'])} % of their crossbar cells used; slowest stage "
                  f"{t.fmt(m['max_stage_mvms'])} MVMs per inference.")
    doc.figure(draw_cores(mapping, chip, out / "mapping.png").name,
               "Mapping: each core's crossbar with the blocks placed on it, coloured by layer")

    doc.heading("Energy")
    doc.figure(plots.energy_breakdown(timing, out / "energy.png").name,
               "Energy per inference, stacked by component (left) and by layer (right)")
    doc.table(t.page_table(csvs["energy_by_component.csv"], "energy_by_component.csv"))
    doc.table(t.page_table(csvs["energy_by_layer.csv"], "energy_by_layer.csv"))

    doc.heading("Cores and network")
    doc.figure(plots.core_heatmap(timing, chip, out / "cores.png").name,
               "Core utilization on the core grid (per-core figures in cores.csv)")
    doc.figure(plots.link_traffic(timing, chip, out / "network.png").name,
               "Traffic on the network links per inference (per-link figures in links.csv)")

    if "chips" in timing:
        system = timing["system"]
        link = system["link"]
        doc.heading("Chips")
        doc.paragraph(f"{system['chips_used']} of {system['chips']} chips of {system['chip']} "
                      f"({system['topology']}), joined by links of {t.fmt(link['bandwidth_gbps'])} "
                      f"Gb/s each way, {t.fmt(link['latency_ns'])} ns and "
                      f"{t.fmt(link['energy_pj_per_bit'])} pJ/bit: "
                      f"{t.fmt(system['interchip_bits_per_inference'] / 1e3)} kbit per inference "
                      f"cross them, {t.fmt(system['interchip_energy_per_inference_pj'] / 1e3)} nJ.")
        doc.table(t.page_table(csvs["chips.csv"], "chips.csv"))

    if trace is not None:
        traced = json.loads((out / "trace.json").read_text(encoding="utf-8"))
        doc.heading("Timeline")
        doc.figure(plots.gantt(traced, out / "timeline.png",
                               f"{results['model']}: the first inputs through the cores").name,
                   "Gantt chart of the first inputs across the cores, from the event model's "
                   "trace (trace.json opens in https://ui.perfetto.dev)")

    if accuracy is not None:
        doc.heading("Accuracy over drift time")
        doc.figure(plots.accuracy_vs_time(accuracy, out / "accuracy.png").name,
                   f"{accuracy['metric']} against time after programming")
        doc.table(t.page_table(csvs["accuracy.csv"], "accuracy.csv"))
    if calibration is not None:
        calibration_section(doc, calibration, out)
    files += [out / name for name in doc.images()]
    return files + doc.write(out)


def calibration_section(doc: Document, study: dict[str, Any], out: Path) -> None:
    """The range-calibration study: what each variant is, its figure and its table."""
    from chipsim.calibration.study import VARIANTS, plot_study

    fitted = study.get("calibration_images")
    metric = study.get("metric", TEST_ACCURACY)
    doc.heading("Range calibration")
    doc.paragraph("Post-training range calibration (Lammie et al., ISCAS 2024): each tile's DAC "
                  "input range and each column's conductance range are fitted on "
                  + (f"{fitted} " if fitted else "")
                  + ("synthetic calibration inputs (their own seed)" if study["data"] ==
                     "synthetic" else f"{study['data']} calibration-split images (never test "
                     "data)")
                  + f", then tested on the {study['images']} accuracy inputs with the accuracy "
                  "study's seeds and times, GDC on. Variants:")
    doc.bullets([f"`{name}`: {VARIANTS[name].about}"
                 + (f"; **{study['chip']} as it runs** after `chipsim calibrate`"
                    if name == study.get("chip_variant") else "")
                 for name in dict.fromkeys(r["variant"] for r in study["rows"])])
    doc.figure(plot_study(study, out / "calibration.png").name,
               f"{metric.capitalize()} of each calibration variant against time after "
               "programming (mean ± std over seeds); dashed: the float network")
    doc.table(t.page_table(t.calibration_page_rows(study),
                           f"{metric} (%), mean ± std over seeds; every row in "
                           "calibration.csv"))
