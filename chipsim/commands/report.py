"""`chipsim report`: one mapped network measured by both models, written up as a report folder."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from chipsim.commands.arguments import COUNT, INDEX, times
from chipsim.commands.common import (DRIFT_TIMES, add_calibrate_option, add_chip_option,
                                     add_json_option, add_mapping_options, add_system_options,
                                     calibrate_unless_told, chip_from_args, mapping_from_args,
                                     note_early_times, output_folder, print_json, progress)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "report",
        help="measure a mapped network (latency, throughput, energy, accuracy) and write a report",
        description="Run a mapped network through the cycle-level event model and the accuracy "
        "study over drift time, then write a report folder: index.html and README.md side by "
        "side, PNG figures (energy breakdown, core utilization, network traffic, timeline, "
        "accuracy over drift, mapping), results.json and CSV tables. With --calibration-study "
        "it adds a range-calibration section (calibration.csv, calibration.png).",
    )
    p.add_argument("model", metavar="MODEL", help="graph file (.onnx, .yaml, .json)")
    add_chip_option(p)
    add_system_options(p)
    add_mapping_options(p, "balanced")
    add_measure_options(p, seeds=2)
    p.add_argument("--times", type=times, default=DRIFT_TIMES, metavar="LIST",
                   help="times after programming for the accuracy study, comma-separated, "
                   f"units s/m/h/d/y (default {DRIFT_TIMES})")
    p.add_argument("--calibration-study", action="store_true",
                   help="also run the range-calibration study: per-vector input scaling alone "
                   "and with column ranges calibrated, an uncalibrated fixed-range chip, "
                   "input-range, column-range and both calibrations, fitted on the data set's "
                   "calibration split (synthetic calibration inputs without --data), on the "
                   "--images, --seeds and --times of the accuracy study")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default reports/<model>-<strategy>/); a rerun "
                   "with the same settings into the same folder continues from the cells a stopped "
                   "run finished")
    add_json_option(p)
    return p


def add_measure_options(p: argparse.ArgumentParser, *, seeds: int) -> None:
    """Options shared by `report` and `compare`: which inputs, how many, which seeds."""
    p.add_argument("--data", metavar="NAME", default=None,
                   help="take inputs from this data set's test split (digits, mnist); default: "
                   "synthetic inputs, and accuracy becomes top-1 agreement with the float network")
    p.add_argument("--inputs", type=COUNT, default=32, metavar="N",
                   help="inputs streamed through the event model (default 32: steady-state "
                   "throughput is measured over the second half, which must span more than "
                   "the 8 inputs the model admits at once)")
    p.add_argument("--images", type=COUNT, default=32, metavar="N",
                   help="inputs of the accuracy study (default 32)")
    p.add_argument("--seeds", type=COUNT, default=seeds, metavar="N",
                   help=f"independently programmed chips in the accuracy study (default {seeds})")
    p.add_argument("--seed", type=INDEX, default=0, metavar="N",
                   help="first seed: the event model and synthetic inputs use it, the accuracy "
                   "study seeds N, N+1, ... (default 0)")
    add_calibrate_option(p)


class FinishedCells:
    """What a stopped `report` into the same --out finished, kept in report.resume.json: the
    event model's results and trace, and each accuracy cell (a time); a rerun with the same
    settings reads them back and measures the rest. The calibration study runs again whole."""

    EVENT_MODEL = "event model"

    def __init__(self, out: Path, args: argparse.Namespace):
        from chipsim.commands.resume import Resume, settings_of

        self.resume = Resume(out, "report", settings_of(args, ("model", "chip", "system", "mapping"),
                                                        drop=("times",)))
        self.rows = [row for cell, row in self.resume.data.items()
                     if cell.startswith("accuracy ") and row["time_s"] in args.times]
        self.timing = self.resume.data.get(self.EVENT_MODEL)

    @staticmethod
    def _cell(row) -> str:
        return f"accuracy {row.time_s!r} gdc={row.gdc}"

    def arguments(self) -> dict:
        from chipsim.functional.result import AccuracyRow

        done = [AccuracyRow(**row) for row in self.rows]
        return {"event_model": None if self.timing is None else
                (self.timing["timing"], self.timing["trace"]),
                "on_event_model": lambda timing, trace: self.resume.finish(
                    self.EVENT_MODEL, {"timing": timing, "trace": trace}),
                "done": done,
                "on_row": lambda row: self.resume.finish(self._cell(row), asdict(row))}

    def report(self, times: int) -> None:
        self.resume.report(len(self.rows) + (self.timing is not None), times + 1)


def run(args: argparse.Namespace) -> int:
    from chipsim.report import Workload, measure_run, write_run_report

    if args.out:  # the default folder is named after the mapping's strategy: checked below
        output_folder(args.out, "--out")
    chip = chip_from_args(args)
    work = Workload.load(args.model, chip, data=args.data, inputs=args.inputs,
                         images=args.images, seed=args.seed)
    mapping = mapping_from_args(args, chip, work.layers, Path(args.model).name)
    out = output_folder(args.out or Path("reports") / f"{work.model}-{mapping.strategy}",
                        "--out")
    seeds = range(args.seed, args.seed + args.seeds)
    note_early_times(args.times, chip, "--times", DRIFT_TIMES)
    mapping, note = calibrate_unless_told(args, work.graph, work.layers, mapping, chip, progress(args))
    cells = FinishedCells(out, args)
    results, trace = measure_run(work, mapping, times=args.times, seeds=seeds, seed=args.seed,
                                 log=progress(args), **cells.arguments())
    cells.report(len(args.times))
    results["range_calibration"] = note
    if args.calibration_study:
        from chipsim.report.measure import measure_calibration

        results["calibration"] = measure_calibration(work, mapping, times=args.times, seeds=seeds,
                                                     csv_path=out / "calibration.csv",
                                                     log=progress(args))
    files = write_run_report(results, out, chip=chip, mapping=mapping, trace=trace)
    if args.json:
        print_json({"report": str(out), "files": [str(f) for f in files], **results})
        return 0
    from chipsim.report.tables import fmt

    for row in results["summary"].values():
        print(f"{row['figure']:<55} {fmt(row['value']):>12} {row['unit']}")
    print(f"wrote {out}/index.html, README.md, results.json and {len(files) - 3} more files")
    return 0
