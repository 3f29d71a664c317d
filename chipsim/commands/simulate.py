"""`chipsim simulate`: stream inputs through the cycle-level chip model of a mapped network."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from chipsim.commands.arguments import COUNT, INDEX
from chipsim.commands.common import (add_calibrate_option, add_chip_option, add_json_option,
                                     add_mapping_options, add_system_options, calibrate_unless_told,
                                     chip_from_args, mapping_from_args, output_folder, print_json,
                                     progress)
from chipsim.errors import DataError
from chipsim.functional.executor import synthetic_inputs


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "simulate",
        help="latency, throughput and energy of a mapped network on the cycle-level chip model",
        description="Stream inputs through the event model of the chip (cores, converters, "
        "digital units, network) running the mapped network on real data; report latency of "
        "the first input, steady-state throughput, energy per inference and TOPS/W, and check "
        "the outputs against the functional path bit for bit. To measure the throughput the "
        "stream goes on past the N inputs with timing-only ones (the same vectors again, no "
        "outputs, no energy) until the completion intervals settle. Writes figures.json, "
        "figures.csv, inputs.csv (a row per finished input, as they finish) and trace.json "
        "(Chrome trace-event format: open it in https://ui.perfetto.dev) into --out.",
    )
    p.add_argument("model", metavar="MODEL", help="graph file (.onnx, .yaml, .json)")
    add_chip_option(p)
    add_system_options(p)
    add_mapping_options(p, "balanced")
    p.add_argument("--inputs", type=COUNT, default=64, metavar="N",
                   help="inputs to stream through the chip (default 64)")
    p.add_argument("--data", metavar="NAME", default=None,
                   help="take the inputs from this data set's test split (digits, mnist); "
                   "default: synthetic inputs drawn from the seed")
    p.add_argument("--seed", type=INDEX, default=0, metavar="N",
                   help="seed of the programmed tiles and synthetic inputs (default 0)")
    add_calibrate_option(p)
    p.add_argument("--read-mode", default=None, metavar="NAME",
                   help="read mode of the chip (default: the description's default)")
    p.add_argument("--trace-inputs", type=INDEX, default=2, metavar="N",
                   help="inputs recorded in the trace (default 2)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default reports/simulate-<model>/)")
    p.add_argument("--report", action="store_true",
                   help="also write a report into --out: index.html and README.md with figures "
                   "(energy, core utilization, network traffic, timeline, mapping), results.json "
                   "and CSV tables; `chipsim report` adds the accuracy study")
    add_json_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from chipsim.graph import load_graph, lower
    from chipsim.timing.params import TimingParams
    from chipsim.timing.simulate import Simulation

    model = Path(args.model).stem
    out = output_folder(args.out or Path("reports") / f"simulate-{model}", "--out")
    chip = chip_from_args(args)
    TimingParams.from_chip(chip, args.read_mode)  # an unknown read mode fails before any work
    graph = load_graph(args.model)
    if len(graph.inputs) != 1:
        raise DataError(f"{args.model}: the model has {len(graph.inputs)} inputs; "
                        "simulate streams single-input models")
    layers = lower(graph)
    mapping = mapping_from_args(args, chip, layers, Path(args.model).name)
    if args.data:
        from chipsim.datasets import load_dataset

        x, _ = load_dataset(args.data, "test")
        if len(x) < args.inputs:
            raise DataError(f"--data {args.data}: the test split has {len(x)} inputs, "
                            f"fewer than --inputs {args.inputs}")
        x, source = x[:args.inputs], f"the first {args.inputs} {args.data} test inputs"
        from chipsim.functional.executor import check_inputs

        x = check_inputs(graph, x, f"--data {args.data}")
    else:
        x = synthetic_inputs(graph, args.inputs, args.seed)
        source = f"{args.inputs} synthetic inputs (uniform, seed {args.seed})"

    out.mkdir(parents=True, exist_ok=True)
    mapping, note = calibrate_unless_told(args, graph, layers, mapping, chip, progress(args))
    sim = Simulation(graph, layers, chip, mapping, read_mode=args.read_mode, seed=args.seed,
                     model=model)
    log = open(out / "inputs.csv", "w", newline="")
    writer = csv.writer(log)
    writer.writerow(["input", "start_ns", "finish_ns", "latency_ns"])
    ns = 1.0 / chip.clock_ghz

    def on_finish(n: int, start: int, end: int) -> None:
        writer.writerow([n, start * ns, end * ns, (end - start) * ns])
        log.flush()

    if not args.json:
        print(f"{model} on {chip.name} ({sim.params.read_mode}, {mapping.strategy} mapping, "
              f"{mapping.cores_used} cores): streaming {source}", file=sys.stderr)
    try:
        result, trace, outputs = sim.run(x, trace_inputs=args.trace_inputs, on_finish=on_finish)
    finally:
        log.close()
    result.outputs_match_functional = bool(np.array_equal(outputs, sim.functional(x)))
    if not result.steady_state and not args.json:
        print(f"note: {result.notes[0]}", file=sys.stderr)
    result.notes.append(f"inputs: {source}")
    if note:
        result.notes.append(f"range calibration: {note}")
    result.extra.update({"strategy": mapping.strategy, "data": args.data or "synthetic",
                         "seed": args.seed})
    result.write(out)
    trace.write(out / "trace.json")
    if args.report:
        from chipsim.mapping import summarize
        from chipsim.report import write_run_report
        from chipsim.report.measure import assemble

        results = assemble(model=model, graph_file=str(args.model), chip=chip.name,
                           strategy=mapping.strategy, seed=args.seed, inputs=source,
                           mapping=summarize(mapping, layers, chip, graph),
                           timing=result.to_json(),
                           accuracy=None)
        results["range_calibration"] = note
        write_run_report(results, out, chip=chip, mapping=mapping, trace=trace.to_json())

    if args.json:
        print_json(result.to_json())
        return 0
    print(f"inputs:                  {source}")
    print(f"first-input latency:     {result.first_latency_ns / 1e3:.2f} us")
    if result.inferences_per_s is not None:
        extra = (f", {result.timing_only_inputs} timing-only inputs streamed after yours"
                 if result.timing_only_inputs else "")
        print(f"throughput:              {result.inferences_per_s:,.0f} inferences/s "
              f"({'steady state' if result.steady_state else 'NOT settled'} over "
              f"{result.steady_inputs} completions{extra}; bound by "
              f"{result.bottleneck['kind']} {result.bottleneck['name']})")
    else:
        print("throughput:              not measured")
    print(f"energy per inference:    {result.energy_per_inference_pj / 1e6:.3f} uJ in steady "
          f"state (arrays+DACs+ADCs {result.paper_energy_per_inference_pj / 1e6:.3f} uJ; static "
          "power over one steady-state interval, the pipeline's fill not charged)")
    if result.tops is not None:
        print(f"TOPS:                    {result.tops:.2f}")
    print(f"TOPS/W:                  {result.tops_per_w:.2f} as the chip paper counts "
          f"(arrays, DACs, ADCs); {result.whole_chip_tops_per_w:.2f} whole chip")
    print(f"network traffic:         {result.traffic_bit_hops_per_inference / 1e3:,.1f} "
          "kbit-hops per inference")
    print(f"cores used:              {result.cores_used}; simulated MVMs {result.simulated_mvms:,} "
          f"({result.mvms_per_inference:,.0f} per inference over {result.streamed_inputs} inputs "
          "streamed)")
    if "system" in result.extra:
        system = result.extra["system"]
        print(f"chips:                   {system['chips_used']} of {system['chips']} "
              f"{system['chip']} used; {system['interchip_bits_per_inference'] / 1e3:,.1f} kbit "
              f"per inference over chip-to-chip links, "
              f"{system['interchip_energy_per_inference_pj'] / 1e3:,.2f} nJ (per chip: "
              "figures.json, key chips)")
    print(f"outputs match functional path: {result.outputs_match_functional}")
    print(f"wrote {out}/figures.json, figures.csv, inputs.csv, trace.json"
          + (", index.html, README.md and the report's figures" if args.report else ""))
    return 0
