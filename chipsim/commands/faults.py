"""`chipsim faults`: accuracy and speed of a mapped network against the chip's fault rate."""

from __future__ import annotations

import argparse
from pathlib import Path

from chipsim.commands.arguments import INDEX, times
from chipsim.commands.common import (add_chip_option, add_json_option, calibrate_unless_told,
                                     chip_from_args, note_early_times, output_folder, print_json,
                                     progress)
from chipsim.commands.report import add_measure_options
from chipsim.commands.resume import Resume, settings_of
from chipsim.errors import ChipsimError, MappingError

RATES = "0,0.001,0.003,0.01,0.03"
TIMES = "1h"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "faults",
        help="accuracy and latency against the fault rate, with and without remapping",
        description="Break the chip at each fault rate r (devices stuck at SET or RESET, cores "
        "dead, links broken, each with probability r, drawn from --fault-seed) and measure "
        "the network three ways: as mapped for the healthy chip, remapped by the same "
        "strategy around the faults, and remapped with its ranges calibrated again on the "
        "faulty chip. Writes a report folder (index.html, README.md, faults.png, faults.csv, "
        "results.json) as each cell finishes; a rerun into the same folder continues.",
    )
    p.add_argument("model", metavar="MODEL", help="graph file (.onnx, .yaml, .json)")
    add_chip_option(p, faults=False)
    p.add_argument("--strategy", default="balanced", metavar="NAME",
                   help="placement strategy, for the healthy chip and for remapping "
                   "(default balanced)")
    p.add_argument("--rates", type=_rates, default=RATES, metavar="LIST",
                   help=f"fault rates, comma-separated, each from 0 to 1 (default {RATES})")
    p.add_argument("--kinds", type=_kinds, default="stuck,cores,links", metavar="LIST",
                   help="what a fault rate breaks: stuck (devices), cores, links "
                   "(default all three)")
    p.add_argument("--fault-seed", type=INDEX, default=0, metavar="N",
                   help="seed of the fault draws (default 0)")
    add_measure_options(p, seeds=2)
    p.add_argument("--times", type=times, default=TIMES, metavar="LIST",
                   help=f"times after programming for accuracy (default {TIMES})")
    p.add_argument("--calibration", default=None, metavar="FILE",
                   help="a calibrated mapping file of the network: the healthy chip's ranges "
                   "come from it, block by block, instead of being calibrated here")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default reports/faults-<model>/)")
    add_json_option(p)
    return p


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers from 0 to 1, "
                                         f"got {text!r}") from None
    if not all(0 <= r <= 1 for r in rates):
        raise argparse.ArgumentTypeError(f"fault rates lie from 0 to 1, got {text!r}")
    if len(set(rates)) != len(rates):
        raise argparse.ArgumentTypeError(f"a rate is given twice in {text!r}")
    return sorted(rates)


def _kinds(text: str) -> list[str]:
    from chipsim.arch.faults import KINDS

    kinds = [part.strip() for part in text.split(",")]
    if not kinds or any(k not in KINDS for k in kinds):
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(KINDS)}, got {text!r}")
    return kinds


def run(args: argparse.Namespace) -> int:
    from chipsim.calibration.auto import calibration_inputs, transfer_calibration
    from chipsim.functional.executor import FloatBackend, run_network
    from chipsim.functional.study import accuracy
    from chipsim.functional.times import format_time
    from chipsim.mapping import STRATEGIES, Mapping
    from chipsim.report.fault_report import write_fault_report
    from chipsim.report.fault_study import fault_study
    from chipsim.report.measure import Workload

    if args.strategy not in STRATEGIES:
        raise MappingError(f"--strategy: unknown strategy {args.strategy!r}; strategies: "
                           f"{', '.join(STRATEGIES)}")
    if args.calibration and args.no_calibrate:
        raise ChipsimError("--calibration and --no-calibrate: give one of them")
    if args.out:
        output_folder(args.out, "--out")
    chip = chip_from_args(args)
    if chip.faults:
        raise ChipsimError(f"--chip {args.chip}: the description has faults of its own; the "
                           "study draws them (give a description without a faults section)")
    work = Workload.load(args.model, chip, data=args.data, inputs=args.inputs,
                         images=args.images, seed=args.seed)
    out = output_folder(args.out or Path("reports") / f"faults-{work.model}", "--out")
    say = progress(args)
    note_early_times(args.times, chip, "--times", TIMES)
    mapping = STRATEGIES[args.strategy].place(work.layers, chip, graph=Path(args.model).name)
    if args.calibration:
        mapping = transfer_calibration(Mapping.from_yaml(args.calibration, chip, work.layers),
                                       mapping)
        note = f"input and column ranges of the healthy chip taken from {args.calibration}"
    else:
        mapping, note = calibrate_unless_told(args, work.graph, work.layers, mapping, chip, say)
    recalibrate = not args.no_calibrate and any(p.calibration for p in mapping.placements)
    calibration_x = calibration_inputs(work.graph, work.data, seed=args.seed)[0] \
        if recalibrate else None
    reference = run_network(work.graph, FloatBackend(work.layers), work.accuracy_x)
    seeds = list(range(args.seed, args.seed + args.seeds))
    meta = {"model": work.model, "graph_file": work.graph_file, "chip": chip.name,
            "strategy": args.strategy, "rates": args.rates, "kinds": args.kinds,
            "fault_seed": args.fault_seed, "seeds": seeds, "images": len(work.accuracy_x),
            "inputs": work.source, "metric": work.metric,
            "float_accuracy": accuracy(reference, work.labels),
            "times": list(args.times), "time_labels": [format_time(t) for t in args.times],
            "range_calibration": note or "none (the chip scales each vector by its max |x|)"}
    resume = Resume(out, "faults", settings_of(args, ("model", "chip", "calibration")))
    done = dict(resume.data)
    so_far = list(done.values())  # in study order: cells finish in the order they are run

    def finished(name: str, cell: dict) -> None:
        so_far.append(cell)
        resume.finish(name, cell)
        write_fault_report(so_far, meta, out)

    cells = fault_study(work, mapping, args.strategy, rates=args.rates, times=args.times,
                        seeds=seeds, fault_seed=args.fault_seed, kinds=args.kinds,
                        seed=args.seed, calibration_x=calibration_x, done=done,
                        on_cell=finished, log=say)
    files = write_fault_report(cells, meta, out)
    resume.report(len(done), len(cells))
    if args.json:
        print_json({"report": str(out), "files": [str(f) for f in files], **meta,
                    "cells": cells})
        return 0
    first = f"{args.times[0]:g}"
    print(f"{'rate':>6}  {'variant':<13} {'cores':>5} {'lost':>4}  "
          f"{'accuracy at ' + meta['time_labels'][0]:>18}  {'inferences/s':>12}")
    for c in cells:
        a = c["accuracy"][first]
        ips = "-" if c["inferences_per_s"] is None else f"{c['inferences_per_s']:,.0f}"
        print(f"{c['rate']:>6g}  {c['variant']:<13} {c['cores_used']:>5} {c['lost_tiles']:>4}  "
              f"{100 * a['mean']:>12.2f} ± {100 * a['std']:<4.2g} {ips:>12}")
    print(f"wrote {out}/index.html, README.md, faults.png, faults.csv, results.json")
    return 0
