"""`chipsim accuracy`: test accuracy and logit error of a mapped network over drift time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chipsim.commands.arguments import COUNT, times
from chipsim.commands.common import (DRIFT_TIMES, add_chip_option, add_json_option,
                                     add_mapping_options, add_system_options, chip_from_args,
                                     mapping_from_args, note_early_times, output_folder, print_json)
from chipsim.errors import ChipsimError
from chipsim.functional.inputs import SYNTHETIC_INPUTS
from chipsim.functional.switches import NON_IDEALITIES

#: --input-range choices -> the DAC rule of chipsim.tile.TileConfig
DAC_RULES = {"per-vector": "max_abs", "fixed": "calibrated"}
#: the non-idealities as --without spells them
WITHOUT_CHOICES = ", ".join(name.replace("_", "-") for name in NON_IDEALITIES)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "accuracy",
        help="accuracy and logit error of a mapped network vs float, over drift time",
        description="Run a network on the analog chip as mapped, on a test set (or synthetic "
        "inputs scored against the float network, for a graph without a data set), at several "
        "times after programming and several seeds, with and without global drift "
        "compensation; report accuracy and relative logit error against the float network. "
        "Writes accuracy.csv (a row per finished cell) and accuracy.png into --out (with "
        "--calibration-study: calibration.csv and calibration.png).",
    )
    p.add_argument("model", metavar="MODEL", help="graph file (.onnx, .yaml, .json)")
    add_chip_option(p)
    add_system_options(p)
    add_mapping_options(p, "sequential")
    p.add_argument("--data", default=None, metavar="NAME",
                   help="test data set (digits, mnist, ...); without it, synthetic inputs "
                   "scored against the float network's own predictions (accuracy is then "
                   "agreement with float)")
    p.add_argument("--times", type=times, default=DRIFT_TIMES, metavar="LIST",
                   help="times after programming, comma-separated, units s/m/h/d/y "
                   f"(default {DRIFT_TIMES})")
    p.add_argument("--seeds", type=COUNT, default=5, metavar="N",
                   help="independently programmed chips per cell (default 5)")
    p.add_argument("--gdc", choices=("on", "off", "both"), default="both",
                   help="global drift compensation (default both)")
    p.add_argument("--batch", type=COUNT, default=256, metavar="N", help="images per batch (default 256)")
    p.add_argument("--limit", type=COUNT, default=None, metavar="N",
                   help="use the first N test images (without --data: N synthetic inputs, "
                   f"default {SYNTHETIC_INPUTS})")
    p.add_argument("--without", default="", metavar="LIST",
                   help="non-idealities to switch off, comma-separated, for an error budget: "
                   f"{WITHOUT_CHOICES}")
    p.add_argument("--input-range", choices=tuple(DAC_RULES), default=None,
                   help="DAC input scaling instead of the chip's: per-vector (each vector by "
                   "its own max |x|, a software option) or fixed (the mapping's calibrated "
                   "ranges, 1 where none, as the silicon runs)")
    p.add_argument("--calibration-study", action="store_true",
                   help="instead: compare per-vector input scaling (alone and with column "
                   "ranges calibrated), an uncalibrated fixed-range chip and input-range, "
                   "column-range and both calibrations (chipsim calibrate, on the data set's "
                   "calibration split), GDC on; writes calibration.csv and calibration.png")
    p.add_argument("--backend", choices=("cpu", "gpu"), default="cpu",
                   help="where the tiles run: cpu (default), or gpu: every seed, time and GDC "
                   "setting at once on a CUDA GPU (needs numba-cuda and CuPy; digital ops run "
                   "there too), the same numbers to float round-off")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default reports/accuracy-<model>/); a rerun "
                   "with the same settings into the same folder continues from the cells a stopped "
                   "run finished")
    add_json_option(p)
    return p


def analog_options(args: argparse.Namespace):
    """The AnalogOptions that --without and --input-range ask for (a clear error otherwise)."""
    from chipsim.functional.analog import AnalogOptions

    off = [name.strip().replace("-", "_") for name in args.without.split(",") if name.strip()]
    unknown = [name for name in off if name not in NON_IDEALITIES]
    if unknown:
        raise ChipsimError(f"--without: unknown non-ideality {unknown[0].replace('_', '-')!r}; "
                           f"choose from {WITHOUT_CHOICES}")
    if args.calibration_study and (off or args.input_range):
        raise ChipsimError("--without and --input-range do not apply to --calibration-study, "
                           "whose variants set the DAC scaling themselves")
    return AnalogOptions(input_range=DAC_RULES.get(args.input_range),
                         **{name: False for name in off})


def warn_uncalibrated(args: argparse.Namespace, mapping, chip, options) -> None:
    """One line on stderr when a fixed-range chip runs a mapping without input ranges: its
    tiles convert |x| <= 1 and clip, which is the uncalibrated baseline, not the chip as run."""
    from chipsim.calibration.auto import uncalibrated_tiles

    missing = uncalibrated_tiles(mapping, chip, options)
    if not missing:
        return
    source = args.mapping or f"{Path(args.model).stem}.yaml (chipsim map {args.model} -o ...)"
    print(f"warning: {missing} of {len(mapping.placements)} tiles have no calibrated input "
          f"range, and {chip.name} converts a fixed range (|x| <= 1 until calibrated); this is "
          f"the uncalibrated chip. Calibrate with: chipsim calibrate {args.model} --mapping "
          f"{source}{f' --data {args.data}' if args.data else ''} -o CALIBRATED.yaml", file=sys.stderr)


def finished_rows(args: argparse.Namespace, out: Path) -> list:
    """The cells that an earlier run with these settings wrote to accuracy.csv in `out` before
    it was stopped: a rerun computes only the others. Times and GDC choose cells, so a rerun
    that asks for more times reuses what it can."""
    from chipsim.commands.resume import Resume, settings_of
    from chipsim.functional.result import read_csv

    csv_path = out / "accuracy.csv"
    resume = Resume(out, "accuracy", settings_of(args, ("model", "chip", "system", "mapping"),
                                                 drop=("times", "gdc")))
    if not resume.matched or not csv_path.is_file():
        return []
    wanted = {(float(t), g) for t in args.times
              for g in {"on": (True,), "off": (False,), "both": (True, False)}[args.gdc]}
    rows = {(r.time_s, r.gdc): r for r in read_csv(csv_path, finished=True)
            if (r.time_s, r.gdc) in wanted and r.seeds == args.seeds}
    resume.report(len(rows), len(wanted))
    return list(rows.values())


def run(args: argparse.Namespace) -> int:
    from chipsim.functional.inputs import inputs_phrase, scored_inputs
    from chipsim.functional.result import CsvLog
    from chipsim.functional.study import accuracy_study
    from chipsim.graph import load_graph, lower

    times = args.times
    options = analog_options(args)
    model = Path(args.model).stem
    out = output_folder(args.out or Path("reports") / f"accuracy-{model}", "--out")
    chip = chip_from_args(args)
    graph = load_graph(args.model)
    layers = lower(graph)
    mapping = mapping_from_args(args, chip, layers, Path(args.model).name)
    # before any file is written
    scored = scored_inputs(graph, layers, args.data, args.limit, seed=0)
    x, y, data = scored.x, scored.labels, scored.data

    note_early_times(times, chip, "--times", DRIFT_TIMES)
    quiet = args.json
    done = [] if args.calibration_study else finished_rows(args, out)
    log = CsvLog(out / "accuracy.csv", keep=done)
    if not args.calibration_study:
        warn_uncalibrated(args, mapping, chip, options)
    if not quiet:
        print(f"{model}: {inputs_phrase(len(y), data)}, {len(mapping.placements)} tiles "
              f"({mapping.strategy} mapping), seeds {args.seeds}, writing {out}/", file=sys.stderr)
    if args.calibration_study:
        from chipsim.calibration.study import study_from_data

        study = study_from_data(
            graph, layers, mapping, chip, args.data, x, y, times=times, seeds=args.seeds,
            batch=args.batch, csv_path=out / "calibration.csv", names=(model, chip.name, data),
            log=None if quiet else lambda text: print(text, file=sys.stderr),
            backend=args.backend)
        study.plot(out / "calibration.png")
        if args.json:
            print_json(study.to_json())
        else:
            print(study.table())
            print(f"wrote {out / 'calibration.csv'} and {out / 'calibration.png'}",
                  file=sys.stderr)
        return 0
    result = accuracy_study(
        graph, layers, mapping, chip, x, y, times=times, seeds=args.seeds,
        gdc={"on": (True,), "off": (False,), "both": (True, False)}[args.gdc],
        options=options,
        batch=args.batch, progress=not quiet and sys.stderr.isatty(),
        names=(model, chip.name, data), on_row=log.append, done=done, metric=scored.metric,
        backend=args.backend,
    )
    result.plot(out / "accuracy.png")
    if args.json:
        off = [name for name in NON_IDEALITIES if not getattr(options, name)]
        print_json({**result.to_json(), "switched_off": off,
                    "input_range": args.input_range or "chip"})
    else:
        print(result.table())
        print(f"wrote {log.path} and {out / 'accuracy.png'}")
    return 0
