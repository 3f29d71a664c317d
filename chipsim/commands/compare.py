"""`chipsim compare`: the same network under several mapping strategies, one report side by side."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chipsim.commands.arguments import times
from chipsim.commands.common import (add_chip_option, add_json_option, add_system_options,
                                     calibrate_unless_told, chip_from_args, note_early_times,
                                     output_folder, print_json, progress)
from chipsim.commands.report import add_measure_options
from chipsim.commands.resume import Resume, settings_of
from chipsim.errors import ChipsimError, MappingError

#: --times when not given: the accuracy columns of the comparison
TIMES = "1h"


def add_parser(sub) -> argparse.ArgumentParser:
    from chipsim.mapping import STRATEGIES

    p = sub.add_parser(
        "compare",
        help="compare mapping strategies on latency, throughput, energy, traffic and accuracy",
        description="Map MODEL with each strategy, run each mapping through the event model "
        "and the accuracy study (at 1 h after programming unless --times says otherwise) with "
        "the same seeds, and write one report: a side-by-side table marking the best value of "
        "each figure and the Pareto-optimal strategies, plots, results.json and compare.csv, plus each strategy's "
        "full report in a subfolder. Results are written as each strategy finishes. On a chip "
        "whose DACs convert a fixed input range, an uncalibrated network is calibrated once "
        "first and every strategy gets the same ranges.",
    )
    p.add_argument("model", metavar="MODEL", help="graph file (.onnx, .yaml, .json)")
    add_chip_option(p)
    add_system_options(p)
    p.add_argument("--strategies", default=",".join(STRATEGIES), metavar="LIST",
                   help=f"comma-separated strategies (default {','.join(STRATEGIES)})")
    add_measure_options(p, seeds=2)
    p.add_argument("--times", type=times, default=TIMES, metavar="LIST",
                   help="times after programming at which accuracy is compared, comma-separated, "
                   f"units s/m/h/d/y (default {TIMES}); each is a column")
    p.add_argument("--calibration", default=None, metavar="FILE",
                   help="a calibrated mapping file of the same network (`chipsim calibrate`; "
                   "the bundled mappings/ are): every strategy takes its input and column "
                   "ranges from it, block by block, instead of being calibrated here")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default reports/compare-<model>/); a rerun "
                   "with the same settings into the same folder continues from the cells a stopped "
                   "run finished")
    add_json_option(p)
    return p


def parse_strategies(text: str) -> list[str]:
    from chipsim.mapping import STRATEGIES

    names = [n.strip() for n in text.split(",")]
    if not names or any(not n for n in names):
        raise ChipsimError(f"--strategies: expected comma-separated names, got {text!r}")
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise MappingError(f"--strategies: unknown strategy {unknown[0]!r}; strategies: "
                           f"{', '.join(STRATEGIES)}")
    if len(set(names)) != len(names):
        raise ChipsimError(f"--strategies: a strategy is named twice in {text!r}")
    return names


def finished_run(resume, out: Path, name: str) -> dict | None:
    """The results of strategy `name` that an earlier run with the same settings finished
    (its whole report written) before it was stopped, or None: it is to be run."""
    if not resume.done(name):
        return None
    try:
        return json.loads((out / name / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # removed or damaged since: run it again
        return None


def run(args: argparse.Namespace) -> int:
    from chipsim.report import Workload, measure_run, write_comparison, write_run_report
    from chipsim.mapping import STRATEGIES

    names = parse_strategies(args.strategies)
    if args.calibration and args.no_calibrate:
        raise ChipsimError("--calibration and --no-calibrate: give one of them")
    times = args.times
    if args.out:
        output_folder(args.out, "--out")
    chip = chip_from_args(args)
    work = Workload.load(args.model, chip, data=args.data, inputs=args.inputs,
                         images=args.images, seed=args.seed)
    mappings = {n: STRATEGIES[n].place(work.layers, chip, graph=Path(args.model).name)
                for n in names}
    out = output_folder(args.out or Path("reports") / f"compare-{work.model}", "--out")
    seeds = list(range(args.seed, args.seed + args.seeds))
    say = progress(args)
    note_early_times(times, chip, "--times", TIMES)
    if args.calibration:  # ranges fitted before, in a calibrated mapping of the same network
        from chipsim.mapping import Mapping

        first = Mapping.from_yaml(args.calibration, chip, work.layers)
        note = (f"input and column ranges taken from {args.calibration}, block by block, for "
                "every strategy")
        say(note)
    else:  # calibrated once; every strategy holds the same blocks
        first, note = calibrate_unless_told(args, work.graph, work.layers, mappings[names[0]],
                                            chip, say)
        if note and first is not mappings[names[0]]:
            note += "; the same ranges for every strategy, block by block"
    if first is not mappings[names[0]]:
        from chipsim.calibration.auto import transfer_calibration

        mappings = {n: transfer_calibration(first, m) for n, m in mappings.items()}
    meta = {"model": work.model, "graph_file": work.graph_file, "chip": chip.name,
            "seeds": seeds, "seed": args.seed, "inputs": work.source, "times": list(times),
            "range_calibration": note}
    runs: dict = {}
    resume = Resume(out, "compare", settings_of(args, ("model", "chip", "system", "calibration"),
                                                drop=("strategies",)))
    reused = 0
    for k, name in enumerate(names, 1):
        results = finished_run(resume, out, name)
        if results is not None:
            reused += 1
            say(f"[{k}/{len(names)}] {name}: read back from {out / name}/results.json")
        else:
            say(f"[{k}/{len(names)}] {name}")
            results, trace = measure_run(work, mappings[name], times=times, seeds=seeds,
                                         seed=args.seed, log=say)
            results["range_calibration"] = note
            write_run_report(results, out / name, chip=chip, mapping=mappings[name], trace=trace)
            resume.finish(name)
        runs[name] = results
        files = write_comparison(runs, out, meta=meta, planned=names)
        say(f"[{k}/{len(names)}] {name} done: {out / name}/index.html")
    resume.report(reused, len(names))
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    if args.json:
        print_json({"report": str(out), "files": [str(f) for f in files], **data})
        return 0
    from chipsim.report.tables import fmt

    width = max(len(n) for n in names)
    print(" " * width + "  " + "  ".join(f"{c['label']:>18}" for c in data["columns"]))
    for n in names:
        cells = [fmt(c["values"][n]) + ("*" if n in data["best"][c["key"]] else " ")
                 for c in data["columns"]]
        print(f"{n:<{width}}  " + "  ".join(f"{cell:>18}" for cell in cells))
    print(f"* best in its column; Pareto-optimal: {', '.join(data['pareto'])}")
    print(f"wrote {out}/index.html, README.md, results.json, compare.csv")
    return 0
