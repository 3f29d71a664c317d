"""`chipsim info NAME|FILE`: what a chip is, and its peak figures derived from its description."""

from __future__ import annotations

import argparse
import math
from typing import Any

from chipsim.arch import Chip, chip_metrics
from chipsim.arch.faults import faults_summary
from chipsim.commands.common import add_faults_option, add_json_option, chip_from_args, print_json

MODE_KEYS = ("mvm_ns", "peak_tops", "mvm_energy_pj", "tops_per_w")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("info", help="summarise a chip description and its peak figures",
                            description="Summarise a chip: cores, array size, weight capacity, and "
                            "per read mode the MVM time, peak TOPS, energy per MVM and TOPS/W.")
    parser.add_argument("chip", metavar="NAME|FILE", help="built-in chip name (e.g. hermes64) or YAML path")
    add_faults_option(parser)
    add_json_option(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    chip = chip_from_args(args)
    summary = summarise(chip)
    if args.json:
        print_json(summary)
    else:
        print(render(chip, summary))
    return 0


def summarise(chip: Chip) -> dict[str, Any]:
    """The figures `info --json` prints: sizes, and per read mode the peak figures."""
    cores = chip.cores
    modes = {name: {k: _finite(v) for k, v in m.as_dict().items()} for name, m in chip_metrics(chip).items()}
    default = modes[chip.default_read_mode]
    return {
        "chip": chip.name,
        "cores": cores.count,
        "rows": cores.rows,
        "cols": cores.cols,
        "weight_capacity": cores.count * cores.rows * cores.cols,
        "default_read_mode": chip.default_read_mode,
        **{key: default[key] for key in MODE_KEYS},
        "read_modes": modes,
        "network": {
            "topology": chip.network.topology.kind,
            "links": chip.network_graph().number_of_edges(),
            "link_width_bits": chip.network.link_width_bits,
            "hop_latency_cycles": chip.network.hop_latency_cycles,
            "routing": chip.network.routing,
            "diameter_hops": int(chip.hop_distances.max()),
        },
        "global_units": {"count": chip.global_units.count, "ops": list(chip.global_units.ops)},
        "faults": faults_summary(chip),
    }


def render(chip: Chip, s: dict[str, Any]) -> str:
    cores, net = chip.cores, s["network"]
    topo = chip.network.topology
    shape = f"mesh {topo.rows} x {topo.cols}" if topo.kind == "mesh2d" else f"{net['links']} links"
    lines = [
        f"{chip.name}: {chip.title}" if chip.title else chip.name,
        f"  cores            {cores.count} x {cores.rows} x {cores.cols} crossbar, "
        f"{cores.unit_cell.devices_per_polarity} {cores.device.model} device(s) per polarity, "
        f"{cores.unit_cell.polarity}",
        f"  weight capacity  {s['weight_capacity']:,} weights",
        f"  clock            {chip.clock_ghz:g} GHz; DAC {cores.dac.kind} {cores.dac.bits} bit "
        f"{cores.dac.step_ns:g} ns/step; ADC {cores.adc.kind} {cores.adc.bits} bit x {cores.adc.per_core}",
        "  read mode        phases  MVM time  peak TOPS  energy/MVM  TOPS/W  (array+ADC+DAC; whole chip)",
    ]
    for name, m in s["read_modes"].items():
        mark = "*" if name == chip.default_read_mode else " "
        lines.append(f"  {mark}{name:<15} {m['phases']:>6}  {m['mvm_ns']:>6.0f} ns  {m['peak_tops']:>9.1f}"
                     f"  {_num(m['mvm_energy_pj'] / 1e3, 8.2)} nJ  {_num(m['tops_per_w'], 6.2)}"
                     f"  ({_num(m['whole_chip_tops_per_w'], 0.2)} TOPS/W whole chip)")
    lines += [
        "  (* default; energy per core MVM, inputs uniform over the DAC range, Gaussian weights)",
        f"  network          {shape}, {net['link_width_bits']}-bit links, {net['hop_latency_cycles']} "
        f"cycle(s)/hop, {net['routing']} routing, diameter {net['diameter_hops']} hops",
        f"  global units     {s['global_units']['count']} ({', '.join(s['global_units']['ops'])})",
    ]
    if chip.faults:
        f = s["faults"]
        lines.append(f"  faults           {f['usable_cores']} of {cores.count} cores usable; dead "
                     f"{f['dead_cores'] or 'none'}, unreachable {f['unreachable_cores'] or 'none'}; "
                     f"{len(f['broken_links'])} broken links; devices stuck at SET "
                     f"{f['stuck_set']:.3g}, at RESET {f['stuck_reset']:.3g}, "
                     f"{f['stuck_devices']} listed")
    return "\n".join(lines)


def _finite(value: Any) -> Any:
    """JSON has no infinity: a chip with zero energies reports null efficiency."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _num(value: float | None, spec: float) -> str:
    return "n/a" if value is None else format(value, f"{spec}f")
