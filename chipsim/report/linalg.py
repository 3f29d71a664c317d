"""The report of a `chipsim linalg` run: accuracy against digital, then time and energy.

`write_linalg_report` writes `results.json` first and draws the page from what it holds, as the
other reports do: the error against rank (PCA, low rank) or against refinement step (least
squares), analog + digital against all-digital, and each array product's share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chipsim.report.document import Document, Table
from chipsim.report.plots import _figure, _save
from chipsim.report.single import save_json
from chipsim.report.tables import fmt


def write_linalg_report(result: dict[str, Any], out: str | Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = save_json(out / "results.json", result)
    kind = data["experiment"]
    doc = Document(f"{kind} on {data['chip']}: {data['matrix']}")
    from chipsim.functional.times import format_time

    doc.paragraph(f"Matrix products on the arrays of {data['chip']} ({data['read_mode']} read "
                  f"mode), read {format_time(data['time_s'])} after programming, each vector "
                  "scaled by its own max |x|; the rest in float64 digital. Every number here is "
                  "read from `results.json`.")
    doc.heading("Accuracy")
    if kind == "lstsq":
        doc.table(Table(["figure", "value"], [[k, fmt(data[k])] for k in (
            "condition_number", "digital_rel_residual", "sketch_and_solve_rel_residual",
            "rel_residual", "residual_ratio", "refinement_steps", "inner_iterations")]))
        figure = _residual_plot(data, out / "residual.png")
        doc.figure(figure.name, "Relative residual ||b - A x|| / ||b|| after sketch-and-solve "
                   "(step 0) and each refinement step, against the digital solution's")
    else:
        doc.table(Table(["figure", "mean over seeds", "std"], [
            [k, fmt(data[k]), fmt(data[f"{k}_std"])] for k in (
                "explained_variance_rel_err", "subspace_angle_deg", "approx_rel_err")]))
        doc.paragraph(f"{data['seeds']} chips; the same algorithm with every product digital: "
                      f"explained variance error "
                      f"{fmt(data['digital_randomized']['explained_variance_rel_err'])}, "
                      f"subspace angle {fmt(data['digital_randomized']['subspace_angle_deg'])} "
                      "degrees, against the exact SVD.")
        figure = _rank_plot(data, out / "rank.png")
        doc.figure(figure.name, "Variance explained by the leading k directions: exact SVD "
                   "against the arrays' randomized SVD (mean over chips)")
    doc.heading("Time and energy")
    doc.table(Table(["", "energy (µJ)", "time (µs)", "multiply-adds"], [
        ["analog products (event model)", fmt(data["analog_energy_pj"] / 1e6),
         fmt(data["analog_time_ns"] / 1e3), "-"],
        ["digital work", fmt(data["digital_energy_pj"] / 1e6),
         fmt(data["digital_time_ns"] / 1e3), fmt(data["digital_macs"])],
        ["analog + digital", fmt((data["analog_energy_pj"] + data["digital_energy_pj"]) / 1e6),
         fmt((data["analog_time_ns"] + data["digital_time_ns"]) / 1e3), "-"],
        ["all-digital", fmt(data["all_digital_energy_pj"] / 1e6),
         fmt(data["all_digital_time_ns"] / 1e3), fmt(data["all_digital_macs"])]],
        caption=f"all-digital over analog + digital energy: {fmt(data['energy_ratio'])}"))
    doc.bullets([f"analog: {data['priced']['analog']}",
                 f"digital: {data['priced']['digital']}",
                 f"all-digital: {data['all_digital']}"])
    doc.table(Table(["product", "shape", "tiles", "calls", "vectors", "energy/vector (nJ)",
                     "energy (µJ)", "time (µs)"],
                    [[p["name"], f"{p['shape'][0]} x {p['shape'][1]}", str(p["tiles"]),
                      str(p["calls"]), str(p["vectors"]), fmt(p["energy_per_vector_pj"] / 1e3),
                      fmt(p["energy_pj"] / 1e6), fmt(p["time_ns"] / 1e3)]
                     for p in data["products"]], caption="the arrays' products"))
    files = [out / "results.json", figure]
    return files + doc.write(out)


def _rank_plot(data: dict[str, Any], path: Path) -> Path:
    fig = _figure(6.0, 3.6)
    ax = fig.add_subplot()
    ranks = range(1, data["rank"] + 1)
    ax.plot(ranks, [100 * v for v in data["explained_by_rank_exact"]], color="0.6", linewidth=4,
            label="exact SVD")
    ax.plot(ranks, [100 * v for v in data["explained_by_rank"]], "o-", color="#0072B2",
            label=f"arrays ({data['seeds']} chips)")
    ax.set_xlabel("rank k")
    ax.set_ylabel("variance explained (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path)


def _residual_plot(data: dict[str, Any], path: Path) -> Path:
    fig = _figure(6.0, 3.6)
    ax = fig.add_subplot()
    steps = data["rel_residual_by_step"]
    ax.semilogy(range(len(steps)), steps, "o-", color="#D55E00", label="arrays + refinement")
    ax.axhline(data["digital_rel_residual"], color="black", linestyle="--",
               label="digital (float64 lstsq)")
    ax.set_xlabel("refinement step (0: sketch-and-solve)")
    ax.set_ylabel("relative residual")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend()
    return _save(fig, path)
