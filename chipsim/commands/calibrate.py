"""`chipsim calibrate`: choose every tile's input range and column scales on calibration data."""

from __future__ import annotations

import argparse
import sys

from chipsim.commands.arguments import COUNT, INDEX, time
from chipsim.commands.common import (add_chip_option, add_json_option, add_system_options,
                                     chip_from_args, note_early_times, output_file, print_json)
from chipsim.errors import ChipsimError

#: --time when not given: when after programming candidate settings are judged
TIME = "1h"


def add_parser(sub) -> argparse.ArgumentParser:
    from chipsim.calibration.column_ranges import COLUMN_RULES, DEFAULT_L
    from chipsim.calibration.input_ranges import DEFAULT_QUANTILE, DEFAULT_STD_K, INPUT_RULES

    p = sub.add_parser(
        "calibrate",
        help="calibrate a mapping's DAC input ranges and column conductance ranges",
        description="Run calibration samples (a slice of the training data, never test data) "
        "through the mapped network, choose each tile's DAC input range and per-column "
        "conductance scale, and write the mapping with a `calibration:` entry per placement. "
        "`chipsim accuracy` and `chipsim simulate` use the calibrated mapping as it is.",
    )
    p.add_argument("model", metavar="MODEL", help="graph file (.onnx, .yaml, .json)")
    add_chip_option(p)
    add_system_options(p)
    p.add_argument("--mapping", required=True, metavar="FILE", help="mapping file to calibrate")
    p.add_argument("--data", default=None, metavar="NAME",
                   help="data set whose calibration split is used (digits, mnist, ...); without "
                   "it, synthetic calibration inputs from a seed of their own, the float "
                   "network's predictions standing in for labels")
    p.add_argument("--samples", type=COUNT, default=256, metavar="N",
                   help="calibration samples to run (default 256)")
    p.add_argument("--seed", type=INDEX, default=0, metavar="N",
                   help="the chip programmed to judge candidate settings (default 0)")
    p.add_argument("--time", type=time, default=TIME, metavar="T",
                   help=f"time after programming at which candidates are judged (default {TIME})")
    p.add_argument("--input-rule", choices=INPUT_RULES + ("none",), default="best",
                   help="input range rule (default best: the one with the smallest tile error)")
    p.add_argument("--column-rule", choices=COLUMN_RULES + ("none",), default="best",
                   help="column scale rule (default best: the one with the smallest tile error)")
    p.add_argument("--rows-per-tile", type=COUNT, default=1000, metavar="N",
                   help="input rows kept per tile (default 1000)")
    p.add_argument("--quantile", type=float, default=DEFAULT_QUANTILE, metavar="Q",
                   help=f"quantile of |x| for the quantile rule (default {DEFAULT_QUANTILE})")
    p.add_argument("--std-k", type=float, default=DEFAULT_STD_K, metavar="K",
                   help=f"k of the std rule, mean|x| + k std|x| (default {DEFAULT_STD_K:g})")
    p.add_argument("--column-L", type=float, default=DEFAULT_L, metavar="L",
                   help=f"L of the column statistic mean|y| + L std|y| (default {DEFAULT_L:g})")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="calibrated mapping file to write")
    add_json_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from chipsim.calibration.calibrate import calibrate_mapping, network_figures
    from chipsim.calibration.objective import CALIBRATION_SEED_BASE
    from chipsim.functional.inputs import scored_inputs
    from chipsim.functional.times import format_time
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import Mapping

    if not 0 < args.quantile <= 1:
        raise ChipsimError(f"--quantile: expected a number in (0, 1], got {args.quantile}")
    if not (0 <= args.std_k < float("inf") and 0 <= args.column_L < float("inf")):
        raise ChipsimError("--std-k and --column-L: expected numbers >= 0")
    t = args.time
    output = output_file(args.output, "-o/--output")
    chip = chip_from_args(args)
    graph = load_graph(args.model)
    layers = lower(graph)
    mapping = Mapping.from_yaml(args.mapping, chip, layers)
    calibration = scored_inputs(graph, layers, args.data, args.samples,
                                CALIBRATION_SEED_BASE + args.seed, split="calibration")
    x, y = calibration.x, calibration.labels
    note_early_times([t], chip, "--time", TIME)
    print(f"calibrating {len(mapping.placements)} tiles on {len(y)} {calibration.data} "
          f"calibration samples (seed {args.seed}, judged at t = {format_time(t)})",
          file=sys.stderr)
    result = calibrate_mapping(
        graph, layers, mapping, chip, x, input_rule=args.input_rule,
        column_rule=args.column_rule, seed=args.seed, t_seconds=t, max_rows=args.rows_per_tile,
        quantile=args.quantile, k=args.std_k, L=args.column_L)
    result.mapping.to_yaml(output)
    figures = {when: network_figures(graph, layers, m, chip, x, y, seed=args.seed, t_seconds=t)
               for when, m in (("before", mapping), ("after", result.mapping))}
    if args.json:
        print_json({"model": graph.name, "chip": chip.name, "data": calibration.data,
                    "metric": calibration.metric,
                    "mapping": args.mapping, "output": args.output,
                    "calibration_set": figures, **result.to_json()})
        return 0
    print(f"{'tile':>4} {'layer':<24} {'input rule':>10} {'range':>10} {'columns':>8} "
          f"{'error before':>12} {'after':>8}")
    for r in result.tiles:
        rng = "-" if r.input_range is None else f"{r.input_range:.4g}"
        print(f"{r.tile:>4} {r.layer[:24]:<24} {r.input_rule or '-':>10} {rng:>10} "
              f"{r.column_rule or '-':>8} {r.error_before:12.4f} {r.error_after:8.4f}")
    b, a = figures["before"], figures["after"]
    print(f"calibration set: {calibration.metric} {100 * b['accuracy']:.2f} % -> "
          f"{100 * a['accuracy']:.2f} %, "
          f"logit error {b['logit_error']:.4f} -> {a['logit_error']:.4f}")
    print(f"wrote {args.output}")
    return 0
