"""`chipsim noc`: the chip's network under synthetic traffic, flit by flit, against theory."""

from __future__ import annotations

import argparse
from typing import Any

from chipsim.commands.arguments import COUNT, INDEX
from chipsim.commands.common import (add_chip_option, add_json_option, chip_from_args, print_json,
                                     progress)

PATTERN_NAMES = ("uniform", "transpose", "hotspot", "neighbour")


def rate(text: str) -> float | str:
    """`sweep`, or an offered load in (0, 1] flits per node per cycle."""
    if text == "sweep":
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"expected 'sweep' or a rate in (0, 1] flits per node per cycle, got {text!r}")
    return value


def patterns(text: str) -> list[str]:
    """One traffic pattern, or several separated by commas (for one figure)."""
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if name not in PATTERN_NAMES:
            raise argparse.ArgumentTypeError(
                f"{name!r} is not one of {', '.join(PATTERN_NAMES)}")
    return list(dict.fromkeys(names))


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1], got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "noc", help="simulate the on-chip network flit by flit under synthetic traffic",
        description="Drive the chip's network (its topology, link latency, buffer depth and "
        "routing from the description) with synthetic traffic, cycle by cycle and flit by "
        "flit: input-buffered routers, wormhole switching, credit-based flow control, "
        "arbitration as the description says (round robin in hermes64), Bernoulli injection "
        "into unbounded source queues; or, with --model event, the event model's network that "
        "simulate runs, on the same traffic. Reports the "
        "offered and accepted rate and the packet latency, next to the zero-load latency and "
        "the channel-load bound computed from the same routes. --rate sweep measures rising "
        "loads and the saturation rate: where mean latency reaches 3 x zero-load.")
    add_chip_option(p)
    p.add_argument("--pattern", type=patterns, default=["uniform"], metavar="NAME[,NAME...]",
                   help=f"traffic pattern, or several for one figure: {', '.join(PATTERN_NAMES)} "
                   "(default uniform)")
    p.add_argument("--rate", type=rate, required=True, metavar="R|sweep",
                   help="offered load in flits per node per cycle, in (0, 1], or 'sweep'")
    p.add_argument("--cycles", type=COUNT, default=5000, metavar="N",
                   help="measurement window in cycles (default 5000)")
    p.add_argument("--warmup", type=INDEX, default=1000, metavar="N",
                   help="warm-up cycles before the window (default 1000)")
    p.add_argument("--seed", type=INDEX, default=0, metavar="N", help="traffic seed (default 0)")
    p.add_argument("--packet-flits", type=COUNT, default=1, metavar="N",
                   help="flits per packet (default 1: one link-width word per packet)")
    p.add_argument("--hotspot-fraction", type=fraction, default=0.1, metavar="F",
                   help="share of every core's packets sent to the hot core (default 0.1)")
    p.add_argument("--model", choices=("flit", "event"), default="flit",
                   help="flit: the routers cycle by cycle (default); event: the event model of "
                   "simulate, on the same traffic")
    p.add_argument("--plot", metavar="FILE", default=None,
                   help="write latency against offered load as a PNG")
    add_json_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from chipsim.commands.common import output_file
    from chipsim.noc.experiment import Experiment

    if args.plot:
        output_file(args.plot, "--plot")
    chip = chip_from_args(args)
    log = progress(args)
    docs = []
    for pattern in args.pattern:
        exp = Experiment(chip, pattern, packet_flits=args.packet_flits, warmup=args.warmup,
                         cycles=args.cycles, seed=args.seed, hotspot_fraction=args.hotspot_fraction,
                         model=args.model)
        if args.rate == "sweep":
            log(f"{pattern}: sweeping offered load on {chip.name}")
            points = exp.sweep(log=log)
            docs.append(_document(exp, args) | {
                "rows": [p.as_dict() for p in points],
                "saturation_rate": exp.saturation_rate(points),
                "saturation_definition": "offered rate at which mean latency reaches 3 x the "
                "zero-load latency (linear interpolation between measured rates)",
                "peak_accepted_rate": max(p.accepted_rate for p in points),
            })
        else:
            point = exp.measure(args.rate)
            docs.append(_document(exp, args) | point.as_dict())
    if args.plot:
        from chipsim.report.plots import latency_against_load

        runs = [d if "rows" in d else d | {"rows": [d]} for d in docs]
        latency_against_load(runs, args.plot, f"{chip.name}: {docs[0]['topology']}, "
                             f"{docs[0]['routing']} routing, {args.packet_flits}-flit packets"
                             + (", the event model's network" if args.model == "event" else ""))
        log(f"wrote {args.plot}")
    if args.json:
        print_json(docs[0] if len(docs) == 1 else {"chip": chip.name, "runs": docs})
    else:
        print("\n\n".join(render(d) for d in docs))
    return 0


def _document(exp: Any, args: argparse.Namespace) -> dict[str, Any]:
    chip, net = exp.chip, exp.chip.network
    topo = net.topology
    shape = f"mesh {topo.rows} x {topo.cols}" if topo.kind == "mesh2d" else \
        f"{len(topo.links)} links"
    return {
        "chip": chip.name,
        "topology": shape,
        "routing": exp.fabric.routing,  # shortest_path where broken links leave no XY route
        "broken_links": len(chip.faults.broken_links) if chip.faults else 0,
        "model": exp.model,
        "switching": "wormhole, credit-based flow control",
        "arbitration": net.arbitration if exp.model == "flit" else
        "the event model's (send order, gaps filled)",
        "buffer_depth_flits": net.buffer_depth_flits,
        "hop_latency_cycles": net.hop_latency_cycles,
        "pattern": exp.pattern,
        "hot_core": _hot(exp),
        "packet_flits": exp.packet_flits,
        "warmup_cycles": exp.warmup,
        "measure_cycles": exp.cycles,
        "seed": exp.seed,
        "mean_hops": exp.mean_hops,
        "zero_load_latency_cycles": exp.zero_load_latency,
        "channel_load_bound": exp.channel_load_bound,
    }


def _hot(exp: Any) -> int | None:
    from chipsim.noc.traffic import hot_core

    return hot_core(exp.fabric) if exp.pattern == "hotspot" else None


def render(d: dict[str, Any]) -> str:
    lines = [
        f"{d['chip']}: {d['pattern']} traffic on a {d['topology']}, {d['routing']} routing, "
        f"{d['packet_flits']}-flit packets, {d['buffer_depth_flits']}-flit buffers, "
        f"{d['hop_latency_cycles']} cycle(s) per hop, {d['arbitration']} arbitration",
        f"  zero-load latency   {d['zero_load_latency_cycles']:.3f} cycles "
        f"({d['mean_hops']:.3f} hops x {d['hop_latency_cycles']} + {d['packet_flits'] - 1})",
        f"  channel-load bound  {d['channel_load_bound']:.4f} flits/node/cycle",
        "  offered  accepted  latency mean  p50    p99   packets  (flits/node/cycle; cycles)",
    ]
    for r in d.get("rows", [d]):
        mark = "" if r["complete"] else "  incomplete: not all measured packets delivered"
        if r["latency_mean_cycles"] is None:
            latency = f"{'-':>12}  {'-':>5}  {'-':>5}"
        else:
            latency = (f"{r['latency_mean_cycles']:12.2f}  {r['latency_p50_cycles']:5.0f}  "
                       f"{r['latency_p99_cycles']:5.0f}")
        lines.append(f"  {r['offered_rate']:7.4f}  {r['accepted_rate']:8.4f}  {latency}  "
                     f"{r['packets_measured']:7d}{mark}")
    if "rows" in d:
        sat = d["saturation_rate"]
        if sat is None:
            lines.append("  saturation rate     not reached by the sweep")
        else:
            lines.append(f"  saturation rate     {sat:.4f} flits/node/cycle "
                         f"({sat / d['channel_load_bound']:.2f} of the bound): mean latency "
                         "reaches 3 x zero-load")
        lines.append(f"  peak accepted rate  {d['peak_accepted_rate']:.4f} flits/node/cycle")
    return "\n".join(lines)
