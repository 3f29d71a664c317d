"""One cell, computed where a Dask worker runs it: the figures the tool reports for one run.

The task is `chipsim report`'s measurement of one mapped network, made small: load the graph
and its inputs, place it with the cell's strategy, calibrate it as `report` and `compare` do
(on a chip whose DACs convert a fixed range), then run the event model and the accuracy study
at the cell's drift times with the cell's seed (`chipsim.report.measure_run`), the study on
the job's backend (`sweep --backend`). It returns the
run's summary figures, the same numbers and names as `results.json`'s "summary".

A user mistake that only this cell meets (a network larger than a varied chip, say) is the
cell's result, `{"error": ...}`: it is as deterministic as a number, so it is stored and never
recomputed. Anything else is a bug and fails the task.

It reuses `chipsim.report.measure` (a face-layer module by DESIGN.md's table) rather than
repeating it: that module is where both models are run on one mapping and summarised, the
numbers every report and comparison prints.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from chipsim.errors import ChipsimError


def run_cell(job: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """The result of one cell, {"figures": {name: value}, "units": {name: unit}} or
    {"error": message}, and the seconds it took."""
    from chipsim.kernels.threads import limit_threads

    limit_threads(1)  # a worker is one thread: the cluster runs one task per core
    start = time.perf_counter()
    try:
        result = _measure(job)
    except ChipsimError as err:
        result = {"error": str(err)}
    return result, time.perf_counter() - start


def _measure(job: dict[str, Any]) -> dict[str, Any]:
    from chipsim.arch import parse_chip
    from chipsim.calibration.auto import calibrate_for_run
    from chipsim.mapping import STRATEGIES
    from chipsim.report import Workload, measure_run

    chip = parse_chip(job["chip_text"], job["chip_source"])
    seed = job["seed"]
    work = Workload.load(job["graph"], chip, data=job["data"], inputs=job["inputs"],
                         images=job["images"], seed=seed)
    mapping = STRATEGIES[job["strategy"]].place(work.layers, chip, graph=Path(job["graph"]).name)
    if job["calibrate"]:
        mapping, _ = calibrate_for_run(work.graph, work.layers, mapping, chip, data=job["data"],
                                       samples=job["calibration_samples"], seed=seed)
    results, _ = measure_run(work, mapping, times=job["times"], seeds=[seed], seed=seed,
                             trace_inputs=0, backend=job.get("backend", "cpu"))
    summary = results["summary"]
    return {"figures": {name: row["value"] for name, row in summary.items()},
            "units": {name: row["unit"] for name, row in summary.items()}}
