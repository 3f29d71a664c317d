"""`chipsim map`: place a network's weight blocks on a chip's cores and write the mapping file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chipsim.commands.common import (add_chip_option, add_json_option, add_system_options,
                                     chip_from_args, output_file, print_json)


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from chipsim.mapping import STRATEGIES

    parser = sub.add_parser(
        "map", help="map a network onto a chip's cores and write the mapping file",
        description="Cut every weight matrix of MODEL into crossbar-sized blocks, place them on "
        "the chip's cores with a strategy, and write the mapping as editable YAML.",
    )
    parser.add_argument("model", metavar="MODEL", help="graph file (.onnx, or chipsim's .yaml/.json format)")
    add_chip_option(parser)
    add_system_options(parser)
    parser.add_argument("--strategy", default="sequential", choices=sorted(STRATEGIES),
                        help="sequential: in order, one block per core (default); locality: low "
                        "hop-weighted traffic; balanced: copy the slowest layers onto spare cores; "
                        "packed: small blocks share crossbars, fewest cores")
    parser.add_argument("-o", "--output", metavar="FILE", type=Path,
                        help="mapping file to write (default: mappings/<model>-<strategy>.yaml "
                        "under the current directory)")
    parser.add_argument("--show", action="store_true",
                        help="print a per-core table and save a PNG of the core grid coloured by layer "
                        "(next to the mapping file, or at --plot)")
    parser.add_argument("--plot", metavar="PATH", type=Path, help="where --show saves the PNG")
    add_json_option(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import STRATEGIES, summarize
    from chipsim.mapping.show import core_table, draw_cores

    model = Path(args.model)
    output = output_file(args.output or Path("mappings") / f"{model.stem}-{args.strategy}.yaml",
                         "-o/--output")
    plot = output_file(args.plot or output.with_suffix(".png"), "--plot") if args.show else None
    chip = chip_from_args(args)
    graph = load_graph(model)
    layers = lower(graph)
    mapping = STRATEGIES[args.strategy].place(layers, chip, graph=model.name)
    mapping.to_yaml(output)
    summary = summarize(mapping, layers, chip, graph)
    summary["mapping_file"] = str(output)

    # in --json mode stdout holds the JSON document only
    text = sys.stderr if args.json else sys.stdout
    if args.show:
        print(core_table(mapping, chip), file=text)
        summary["plot"] = str(draw_cores(mapping, chip, plot))
        if not args.json:
            print(f"core grid saved to {summary['plot']}", file=text)
    if args.json:
        print_json(summary)
    else:
        if "chips" in summary:
            print(f"{summary['chips_used']} of {summary['chips']} chips used; "
                  f"{summary['interchip_traffic_bits']:.4g} bits per inference x chip-to-chip "
                  "links crossed", file=text)
        print(f"wrote {output}: {summary['cores_used']} of {summary['cores_available']} cores, "
              f"{summary['blocks']} blocks, {summary['hop_weighted_traffic']:.4g} bit-hops per inference, "
              f"slowest stage {summary['max_stage_mvms']} MVMs, {100 * summary['utilization']:.1f} % of "
              "their cells used")
    return 0
