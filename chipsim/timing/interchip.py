"""Chip-to-chip links in the event model, and the figures of each chip of a system.

A system of several chips (`chipsim.arch.system`) reaches the event model as one network whose
chip-to-chip links are edges marked `interchip`, with their own width (bits per cycle from the
link's bandwidth) and latency. Each chip's own links keep the flow control of
`chipsim.timing.network`; a chip-to-chip link is a server that a message crosses whole, store
and forward at the port cores (`SystemNetwork`), so two chips' traffic over one link waits its
turn. A bit over a chip-to-chip link costs the link's energy per bit, charged to the component
"interchip", instead of an on-chip hop.

`system_figures` splits a run's figures by chip: cores used, energy (every account of the ledger
goes to the chip where it was spent: a core's and a global unit's to their chip, a link's to the
chip it leaves, static power by each chip's powered cores and its share of the rest), core
utilization, the rate its busiest resource would allow, and when the trace holds the first
input, the span of that input's MVMs on the chip.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import networkx as nx

from chipsim.timing.network import Network
from chipsim.timing.server import Server


class InterchipLink(Server):
    """A chip-to-chip link: a message holds it only while it crosses (store and forward)."""

    __slots__ = ()

    @property
    def held_cycles(self) -> int:
        return self.busy_cycles


class SystemNetwork(Network):
    """The network of a system: each chip's links flow-controlled as on a chip
    (`Network`), and chip-to-chip links as servers of their own width and latency.

    A message that leaves its chip crosses each chip-to-chip link of its route store and
    forward: the port core's interface takes the whole message, sends it over the link once
    the link is free (bits / width cycles, then the link's latency), and the next chip's
    interface sends it on from the port core's router, through an injection port of its own. Its bits cost the link's energy per bit there, charged to "interchip".
    """

    def __init__(self, graph: nx.Graph, *args: Any, **kwargs: Any) -> None:
        on_chip = nx.Graph(graph)
        on_chip.remove_edges_from([(a, b) for a, b, d in graph.edges(data=True)
                                   if d.get("interchip")])
        super().__init__(on_chip, *args, **kwargs)
        self.system_graph = graph
        self.pj_per_bit: dict[tuple[Any, Any], float] = {}  # directed chip-to-chip link -> pJ/bit
        self._cycles: dict[tuple[Any, Any], tuple[int, int]] = {}  # -> (width, latency)
        for a, b, data in graph.edges(data=True):
            if data.get("interchip"):
                for link in ((a, b), (b, a)):
                    self.pj_per_bit[link] = float(data["pj_per_bit"])
                    self._cycles[link] = (int(data["width_bits"]), int(data["latency_cycles"]))
                    self.links[link] = InterchipLink(link)
        self._legs: dict[tuple[Any, Any], list[tuple[Any, Any, bool]]] = {}
        # each port core's chip-to-chip interface sends what it received into the chip through
        # an injection port beside the core's own, so forwarding never stalls the core
        for a, _ in self._cycles:
            self.injection[("interface", a)] = 0
        self._interchip_pj: defaultdict[str, float] = defaultdict(float)

    def legs(self, src: Any, dst: Any) -> list[tuple[Any, Any, bool]]:
        """The route from src to dst as legs (from, to, whether a chip-to-chip link): runs on
        one chip between the chip-to-chip links it crosses."""
        found = self._legs.get((src, dst))
        if found is None:
            nodes = nx.shortest_path(self.system_graph, src, dst)
            found, start = [], nodes[0]
            for a, b in zip(nodes[:-1], nodes[1:]):
                if (a, b) in self._cycles:
                    found += [(start, a, False), (a, b, True)]
                    start = b
            found.append((start, nodes[-1], False))
            self._legs[(src, dst)] = found = [leg for leg in found if leg[0] != leg[1]]
        return found

    def send(self, now: int, src: Any, dst: Any, bits: float, layer: str, inference: int) -> int:
        if src == dst or bits <= 0:
            return now
        legs = self.legs(src, dst)
        if len(legs) == 1 and not legs[0][2]:
            return super().send(now, src, dst, bits, layer, inference)
        counted = inference < self.ledger.real_inputs
        t, arrived = now, False
        for a, b, interchip in legs:
            if not interchip:  # after a chip-to-chip link, through the interface's own port
                t = super().send(t, a, b, bits, layer, inference,
                                 port=("interface", a) if arrived else None)
                continue
            arrived = True
            width, latency = self._cycles[(a, b)]
            ch, cycles = self.links[(a, b)], -(-int(bits) // width)
            start, end = ch.book(t, cycles)
            if counted:
                ch.bits += bits
                self._interchip_pj[layer] += bits * self.pj_per_bit[(a, b)]
            if self.trace.wants(inference):
                self.trace.span("link", f"{a}->{b}", layer, start, cycles, inference,
                                bits=bits, flits=cycles)
            t = end + latency
        return t

    def charge(self) -> None:
        for layer, pj in self._interchip_pj.items():
            self.ledger.charge("interchip", layer, "interchip", pj)
        self._interchip_pj.clear()
        super().charge()

    def link_report(self, total_cycles: int) -> list[dict[str, Any]]:
        rows = super().link_report(total_cycles)
        names = {f"{a}->{b}" for a, b in self.pj_per_bit}
        for row in rows:
            row["interchip"] = row["link"] in names
        return rows


def network_class(graph: nx.Graph) -> type[Network]:
    """`SystemNetwork` for a graph with chip-to-chip links, else the chip's `Network`."""
    if any(data.get("interchip") for _, _, data in graph.edges(data=True)):
        return SystemNetwork
    return Network


def system_figures(timed: Any, result: Any, chip: Any) -> dict[str, Any]:
    """`system` and `chips` keys for a run on a system of chips (see the module's docstring)."""
    system, p = chip.system, timed.p
    count, per_chip = system.count, system.cores_per_chip
    inputs, streamed = result.inputs, result.streamed_inputs
    energy = [0.0] * count
    net = timed.network
    for (component, _, place), pj in timed.ledger.accounts().items():
        if isinstance(place, int):
            energy[chip.chip_of(place)] += pj
        elif isinstance(place, str) and place.startswith("gdpu"):
            energy[chip.chip_of_node(place)] += pj
    interchip = [0.0] * count
    interchip_bits = 0.0
    for (a, b), server in net.links.items():
        if (a, b) in net.pj_per_bit:
            interchip[chip.chip_of_node(a)] += server.bits * net.pj_per_bit[(a, b)]
            interchip_bits += server.bits
        else:
            energy[chip.chip_of_node(a)] += server.bits * p.pj_per_bit_hop
    static = timed.ledger.by_component().get("static", 0.0)
    used = defaultdict(int)
    for core in timed.cores:
        used[chip.chip_of(core)] += 1
    powered = [used[k] if p.unused_cores == "gated" else per_chip for k in range(count)]
    weights = [n * p.static_core_mw + p.static_rest_mw / count for n in powered]
    spans = _first_input_spans(timed, chip)
    chips = []
    for k in range(count):
        cores = [c for c in timed.cores if chip.chip_of(c) == k]
        busy = [timed.cores[c].busy_cycles for c in cores]
        busy += [u.server.busy_cycles for c, u in timed.ldpus.items() if chip.chip_of(c) == k]
        busy += [u.server.busy_cycles for u in timed.gdpus if chip.chip_of(u.attach_core) == k]
        busy += [s.busy_cycles for (a, _), s in net.links.items() if chip.chip_of_node(a) == k]
        busiest = max(busy, default=0) / streamed
        util = [result.core_utilization[c] for c in cores]
        total = energy[k] + interchip[k] + static * weights[k] / sum(weights)
        chips.append({
            "chip": k, "cores_used": len(cores),
            "energy_per_inference_pj": total / inputs,
            "interchip_energy_per_inference_pj": interchip[k] / inputs,
            "core_utilization_mean": sum(util) / len(util) if util else 0.0,
            "core_utilization_max": max(util, default=0.0),
            "busiest_cycles_per_inference": busiest,
            "bound_inferences_per_s": p.clock_ghz * 1e9 / busiest if busiest else None,
            **spans.get(k, {}),
        })
    width, latency = chip.link_cycles()
    return {
        "system": {
            "name": chip.name, "chip": system.chip.name, "chips": count,
            "chips_used": sum(1 for k in range(count) if used[k]), "topology": system.topology,
            "link": {**system.link.model_dump(), "bits_per_cycle": width, "latency_cycles": latency},
            "interchip_bits_per_inference": interchip_bits / inputs,
            "interchip_energy_per_inference_pj": sum(interchip) / inputs,
        },
        "chips": chips,
    }


def _first_input_spans(timed: Any, chip: Any) -> dict[int, dict[str, float]]:
    """Per chip, from the trace: when the first input's first MVM there began and its last
    ended, in ns (nothing when the trace holds no input)."""
    trace = timed.trace.to_json()["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in trace
             if e.get("name") == "thread_name" and str(e["args"]["name"]).startswith("core ")}
    spans: dict[int, list[float]] = {}
    for e in trace:
        if e.get("ph") == "X" and e["tid"] in names and e["args"].get("input") == 0 \
                and e["pid"] == _core_pid():
            k = chip.chip_of(int(names[e["tid"]].split()[1]))
            start, end = e["ts"], e["ts"] + e["dur"]
            lo, hi = spans.get(k, (start, end))
            spans[k] = [min(lo, start), max(hi, end)]
    return {k: {"first_input_start_ns": lo * 1e3, "first_input_end_ns": hi * 1e3,
                "first_input_span_ns": (hi - lo) * 1e3} for k, (lo, hi) in spans.items()}


def _core_pid() -> int:
    from chipsim.timing.trace import GROUPS
    return GROUPS["core"]
