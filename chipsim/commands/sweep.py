"""`chipsim sweep`: many runs from one spec, as Dask tasks, each finished cell stored at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chipsim.commands.common import (add_cluster_options, add_json_option, output_folder,
                                     print_json)
from chipsim.errors import ChipsimError

#: figures the table shows (the JSON and the store hold them all), when the cells have them
TABLE_FIGURES = ("first_latency_us", "inferences_per_s", "energy_per_inference_uj", "cores_used")
STORE = "sweep.sqlite"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "sweep",
        help="run a sweep spec (chip fields x networks x strategies x seeds) on a Dask cluster",
        description="Run every cell of SPEC (a YAML file: a base chip description, the "
        "description fields to vary by key path, networks, strategies, drift times, seeds; "
        "README: Sweeps) as a Dask task: each cell maps, calibrates and measures one network "
        "on one chip as `chipsim report` does (latency, throughput, energy per inference, "
        "accuracy at the drift times). Every finished cell is committed at once to "
        "<out>/sweep.sqlite under a hash of all that determines it, so a rerun, after a kill "
        "too, computes only the cells the store lacks, and gives the same numbers whatever "
        "the number of workers. Graph paths in SPEC are relative to SPEC's folder.",
    )
    p.add_argument("spec", metavar="SPEC", help="sweep spec (.yaml)")
    add_cluster_options(p, "its workers must see the spec's graph files at the same paths")
    p.add_argument("--out", default=None, metavar="DIR",
                   help=f"folder of the result store ({STORE}) and the plot (default "
                   "reports/sweep-<spec>/); a rerun into it computes only missing cells")
    p.add_argument("--plot", default=None, metavar="x=FIELD,y=FIGURE[,hue=FIELD]",
                   help="also draw FIGURE against the swept FIELD, a line per value of hue, "
                   "into <out>/sweep-<y>-vs-<x>[-by-<hue>].png; a name may be shortened to "
                   "its end (adc.bits) or, for a figure, its start (energy_per_inference)")
    p.add_argument("--backend", choices=("cpu", "gpu"), default="cpu",
                   help="where each cell's accuracy study runs: gpu, every drift time of the "
                   "cell at once on a CUDA GPU (numba-cuda and CuPy; the workers share it), the "
                   "same numbers to float round-off, so stored cells are read back for either; "
                   "mapping, calibration and the event model stay on the CPU")
    add_json_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from chipsim.sweep import Store, dask_client, expand, load_spec, make_rows, run_cells
    from chipsim.report.sweep_plot import parse_plot, plot_file, plot_sweep, resolve
    from chipsim.sweep.rows import column, units

    request = parse_plot(args.plot) if args.plot else None  # before any work
    spec = load_spec(args.spec)
    out = output_folder(args.out or Path("reports") / f"sweep-{Path(args.spec).stem}", "--out")
    if request:  # the swept fields are known now; the figures once cells have run
        for axis in ("x", "hue"):
            if axis in request:
                column(request[axis], spec.axes, f"--plot {axis}")
    if args.backend == "gpu":  # no GPU: the error now, not in every cell
        from chipsim.kernels.cuda import array_module

        array_module()
    cells = expand(spec, args.backend)
    if not cells:
        raise ChipsimError(f"{args.spec}: cells: no cell of the sweep matches")
    bar = _progress_bar(args)
    with dask_client(args.workers, args.scheduler) as client:
        store = Store(out / STORE)
        try:
            outcome = run_cells(cells, store, client,
                                on_start=lambda reused, todo: bar and bar.reset(total=todo),
                                on_cell=lambda cell, result: bar and bar.update())
        finally:
            store.close()
            if bar is not None:
                bar.close()
    rows = make_rows(cells, outcome.results)
    unit = units(outcome.results)
    plot = None
    if request:
        axes = resolve(request, rows, spec.axes)
        plot = plot_sweep(rows, axes, spec.axes, unit, out / plot_file(axes),
                          title=f"{Path(args.spec).name}: {len(cells)} cells")
    note = (f"{len(cells)} cells: {outcome.computed} computed, {outcome.reused} read back from "
            f"{out / STORE}")
    if args.json:
        print_json({"spec": str(args.spec), "store": str(out / STORE), "cells": len(cells),
                    "computed": outcome.computed, "reused": outcome.reused,
                    "plot": str(plot) if plot else None, "units": unit, "rows": rows})
        return 0
    print(table(rows, spec.axes, spec.times))
    print(note)
    if plot:
        print(f"wrote {plot}")
    return 0


def _progress_bar(args: argparse.Namespace):
    """A tqdm bar on stderr when a person watches (not with --json, not into a file)."""
    if args.json or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=0, unit="cell", desc="cells computed", file=sys.stderr)


def table(rows: list[dict], fields: list[str], times: list[float]) -> str:
    """The rows for people: the swept fields that vary, the headline figures, any error."""
    from chipsim.functional.times import format_time
    from chipsim.report.tables import fmt

    shown = [f for f in fields if len({repr(r.get(f)) for r in rows}) > 1] or fields[-1:]
    figures = [f"accuracy_pct_{format_time(t)}" for t in times] + list(TABLE_FIGURES)
    figures = [f for f in figures if any(f in r for r in rows)]
    header = shown + figures
    lines = [[str(r.get(f, "")) for f in shown]
             + [fmt(r[f]) if r.get(f) is not None else "-" for f in figures]
             + ([f"error: {r['error']}"] if "error" in r else []) for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    text = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    text += ["  ".join(c.rjust(w) for c, w in zip(line, widths)) + "".join(
        "  " + c for c in line[len(header):]) for line in lines]
    return "\n".join(text)
