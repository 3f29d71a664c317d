"""Flow control of the timed model's network and back-pressure on its cores, counted by hand.

Three nodes in a line, 0 - 1 - 2, links 64 bits wide with 1-cycle hops and input buffers of 4
flits unless a test says otherwise (the rules are in `chipsim.timing.network`: a flit crosses a
link in the cycle it leaves a buffer and lands `latency` later, one flit per cycle per link, the
flit at stream position s needs the credit of the one at s - depth, which comes back `latency`
after that flit left the buffer). The flit simulator of `chipsim noc` follows the same rules;
where packets reach a link in the order they were sent the two agree flit for flit.
"""

from __future__ import annotations

import networkx as nx
import pytest
import simpy
import yaml

from chipsim.arch import parse_chip
from chipsim.arch.loader import BUILTIN_DIR
from chipsim.noc.fabric import build_fabric
from chipsim.noc.router import Network as FlitNetwork
from chipsim.timing.core import Core, MvmJob
from chipsim.timing.energy import EnergyLedger
from chipsim.timing.network import Network
from chipsim.timing.trace import Trace

FLIT = 64


def network(depth: int = 4, latency: int = 1, trace: Trace | None = None,
            nodes: int = 3) -> Network:
    graph = nx.Graph()
    graph.add_edges_from([(i, i + 1) for i in range(nodes - 1)], width_bits=FLIT,
                         latency_cycles=latency)
    return Network(graph, "shortest_path", 0.0, EnergyLedger(real_inputs=1),
                   trace or Trace(1.0, 1), buffer_depth=depth)


def test_a_packet_alone_arrives_after_hops_times_latency_plus_flits():
    net = network()
    # head crosses 0->1 at 0 and 1->2 at 1; flit k is ejected at 2 + k; the tail (k = 9) at 11
    assert net.send(0, 0, 2, 10 * FLIT, "l", 0) == 12
    assert net.port_free(0) == 10  # the source sent a flit a cycle, 0..9


def test_two_packets_on_one_link_wait_by_hand():
    net = network()
    # A: 0 -> 2, 6 flits at cycle 0: crosses 1->2 at 1..6, ejected at 2..7, arrived at 8
    assert net.send(0, 0, 2, 6 * FLIT, "l", 0) == 8
    # B: 1 -> 2, 3 flits at cycle 1. Alone it would arrive at 1 + 1 + 3 = 5; the link is A's
    # until its tail has crossed (6), so B crosses at 7, 8, 9 and is ejected at 8, 9, 10:
    # it arrives at 11, a wait of 6 cycles
    assert net.send(1, 1, 2, 3 * FLIT, "l", 0) == 11
    link = net.links[(1, 2)]
    assert (link.busy_cycles, link.held_cycles, link.jobs) == (9, 9, 2)


def test_a_full_buffer_stops_the_link_behind_it_by_hand():
    net = network()
    assert net.send(0, 1, 2, 20 * FLIT, "l", 0) == 21  # A holds 1->2 over cycles 0..19
    # B: 0 -> 2, 10 flits at cycle 1. Its head crosses 0->1 at 1 and waits at node 1 for 1->2
    # (free at 20); flits 1..3 follow into node 1's 4-flit buffer (cycles 2..4); flit 4 needs
    # the credit of flit 0, which leaves at 20 and is back at 21: flits 4..9 cross 0->1 at
    # 21..26. The source's port is busy until 27 instead of 11: 16 cycles of back-pressure.
    assert net.send(1, 0, 2, 10 * FLIT, "l", 0) == 31  # ejected 21..30
    assert net.port_free(0) == 27
    assert net.links[(0, 1)].held_cycles == 26  # 1..26, for 10 flits
    # a deeper buffer takes more of the packet: with 8 places flits 8, 9 wait, at 21 and 22
    deep = network(depth=8)
    deep.send(0, 1, 2, 20 * FLIT, "l", 0)
    assert deep.send(1, 0, 2, 10 * FLIT, "l", 0) == 31
    assert deep.port_free(0) == 23


def test_a_younger_packet_streams_through_a_gap_by_hand():
    net = network()
    # A: 0 -> 2, 1 flit at cycle 0: crosses 0->1 at 0, 1->2 at 1, ejected at 2, arrived at 3
    assert net.send(0, 0, 2, FLIT, "l", 0) == 3
    # B: 1 -> 2, 1 flit, sent after A in the same cycle: 1->2 is free at 0, before A comes,
    # and node 2's ejection port at 1: B is ejected at 1 and A is not moved
    assert net.send(0, 1, 2, FLIT, "l", 0) == 2
    assert net.links[(1, 2)].free_at == 2
    # a 2-flit B would still hold 1->2 at 1, when A crosses: it goes behind A (2, 3)
    net = network()
    net.send(0, 0, 2, FLIT, "l", 0)
    assert net.send(0, 1, 2, 2 * FLIT, "l", 0) == 5


def test_a_packet_waits_at_its_source_for_a_gap_by_hand():
    """0 - 1 - 2 - 3 - 4. X holds 3->4 over cycles 0, 1; A (0 -> 4) crosses it at 3. B (2 -> 4)
    cannot stream from cycle 0 (X), and behind A it would cross 3->4 at 4 and arrive at 6; it
    waits at its source one cycle instead, crosses 2->3 at 1, 3->4 at 2, is ejected at 3 and
    arrives at 4, as with the routers of `chipsim noc` (where it waits at node 3 instead)."""
    net = network(nodes=5)
    sent = [(3, 4, 2), (0, 4, 1), (2, 4, 1)]  # (source, destination, flits), all at cycle 0
    assert [net.send(0, s, d, f * FLIT, "l", 0) for s, d, f in sent] == [3, 5, 4]
    assert net.port_free(2) == 2
    flits = FlitNetwork(build_fabric(_noc_chip(4, 1, nodes=5)))
    for i, (s, d, f) in enumerate(sent):
        flits.inject(i, s, d, f)
    ejected = {}
    while len(ejected) < 3:
        t = flits.cycle
        ejected.update({i: t + 1 for i in flits.step()[1]})
    assert [ejected[i] for i in range(3)] == [3, 5, 4]


def test_a_shallow_buffer_limits_a_link_to_its_credit_round_trip():
    # 2-cycle hops and 2 places: a credit comes back 2 + 2 cycles after its flit crossed, so
    # the source sends 2 flits per 4 cycles: flits at 0, 1, 4, 5, 8, 9 (tail at 9)
    net = network(depth=2, latency=2)
    net.send(0, 0, 2, 6 * FLIT, "l", 0)
    assert net.port_free(0) == 10
    full = network(depth=4, latency=2)
    full.send(0, 0, 2, 6 * FLIT, "l", 0)
    assert full.port_free(0) == 6


@pytest.mark.parametrize("depth,latency", [(4, 1), (2, 1), (2, 2), (3, 2), (8, 1)])
def test_flit_times_equal_the_flit_simulator_of_chipsim_noc(depth, latency):
    """Packets sent in the order they reach each link: the same ejection cycles as `noc`'s
    cycle-by-cycle routers (which count the tail's ejection cycle; the timed model the cycle
    after). Long packets exercise the closed form past the first flits."""
    packets = [(0, 1, 2, 40), (1, 0, 2, 37), (3, 0, 1, 5), (4, 2, 0, 9), (9, 1, 2, 3),
               (12, 0, 2, 1), (300, 1, 0, 60), (301, 2, 0, 11), (302, 1, 0, 2)]
    timed = network(depth, latency)
    got = [timed.send(t, s, d, f * FLIT, "l", 0) - 1 for t, s, d, f in packets]
    flits = FlitNetwork(build_fabric(_noc_chip(depth, latency)))
    want, pending = {}, sorted((t, i) for i, (t, *_rest) in enumerate(packets))
    while len(want) < len(packets) and flits.cycle < 2000:
        while pending and pending[0][0] == flits.cycle:
            i = pending.pop(0)[1]
            _, s, d, f = packets[i]
            flits.inject(i, s, d, f)
        t = flits.cycle
        for i in flits.step()[1]:
            want[i] = t
    assert got == [want[i] for i in range(len(packets))]


def _noc_chip(depth: int, latency: int, nodes: int = 3):
    """hermes64 cut down to the cores in a line of `network()`."""
    data = yaml.safe_load((BUILTIN_DIR / "hermes64.yaml").read_text())
    data["cores"]["count"] = nodes
    data["global_units"].update(count=1, attach_cores=[0])
    links = [[i, i + 1] for i in range(nodes - 1)]
    data["network"].update(topology={"kind": "links", "links": links},
                           routing="shortest_path", buffer_depth_flits=depth,
                           hop_latency_cycles=latency)
    return parse_chip(yaml.safe_dump(data), "line")


def test_a_blocked_output_port_stalls_its_core_by_hand():
    env = simpy.Environment()
    trace = Trace(1.0, 1)
    net = network(trace=trace)
    core = Core(env, 0, _Params(), EnergyLedger(real_inputs=1), trace, net)
    ends = []

    def done(job, core_id, t):
        ends.append((job.layer, t))
        if job.layer == "a":  # its results: 10 flits to node 2
            net.send(t, 0, 2, 10 * FLIT, "a", 0)

    net.send(0, 1, 2, 20 * FLIT, "x", 0)  # holds 1->2 over cycles 0..19
    for name, cycles in (("a", 1), ("b", 12), ("c", 3)):
        core.submit(MvmJob(name, 0, 1, cycles, 1, 0.0, 0.0, 0.0, done))
    env.run()
    # a ends at 1 and sends: the packet's last flits wait for the credits of node 1's buffer,
    # so they leave node 0 only at 21..26 (port free at 27, as in the test above). b computes
    # over 1..12 and may not write its results before a's have left: it stalls 27 - 13 = 14
    # cycles and ends at 27; c then runs 27..29
    assert ends == [("a", 1), ("b", 27), ("c", 30)]
    assert core.stall_cycles == 14
    stalls = [e for e in trace.to_json()["traceEvents"] if e.get("name") == "stall"]
    assert [(e["ts"], e["dur"]) for e in stalls] == [(pytest.approx(0.013), pytest.approx(0.014))]


def test_without_back_pressure_the_core_never_waits():
    env = simpy.Environment()
    net = network()
    core = Core(env, 0, _Params(), EnergyLedger(real_inputs=1), Trace(1.0, 1), net)
    ends = []

    def done(job, core_id, t):
        ends.append(t)
        net.send(t, 0, 2, 10 * FLIT, "a", 0)  # leaves over 10 cycles, before the next job ends

    for _ in range(3):
        core.submit(MvmJob("a", 0, 1, 12, 1, 0.0, 0.0, 0.0, done))
    env.run()
    assert ends == [12, 24, 36] and core.stall_cycles == 0


class _Params:
    """The core reads no figure of the description beyond its jobs' cycles."""


def test_the_closed_form_equals_the_flit_by_flit_recursion():
    """Random traffic ahead on routes of 1 to 6 hops: the closed form gives the flit times the
    row-by-row recursion gives, at every hop, for the head and the last `depth` flits (what
    booking a packet reads), short packets and long."""
    import random

    import numpy as np

    from chipsim.kernels.flits import flit_times, stream_times

    rng = random.Random(0)
    checked = [0, 0]
    for _ in range(500):
        depth, lat = rng.choice([(4, 1), (4, 2), (6, 2), (8, 3), (2, 1), (5, 1)])
        hops, head = rng.randrange(1, 7), rng.randrange(50)
        flits = rng.randrange(1, 70)
        free_at = [rng.randrange(120) for _ in range(hops + 1)]
        left = [sorted(rng.sample(range(-10, 150), depth)) for _ in range(hops)]
        if rng.random() < 0.3:  # traffic ahead that leaves this packet alone
            free_at = [min(f, head + i * lat) for i, f in enumerate(free_at)]
            left = [[min(c, head + i * lat - lat - 1 - 2 * depth + 2 * n)
                     for n, c in enumerate(row)] for i, row in enumerate(left)]
        args = (head, np.array(free_at), np.array(left).reshape(hops, depth), flits, lat, depth)
        _, *want = flit_times(*args)
        if 2 * lat > depth:
            continue  # credit-bound links: the recursion alone
        status, *got = stream_times(*args)
        checked[status == 0] += 1
        if status == 0:  # nothing ahead delays it: the free schedule
            free = np.array([[head + i * lat + k for i in range(hops + 1)]
                             for k in range(flits)])
            got = free[0], free[-1], free[max(0, flits - depth):]
        elif status == 1:  # the last rows stream behind the tail
            got[2] = np.array([got[1] - r for r in range(min(flits, depth) - 1, -1, -1)])
        assert all(np.array_equal(a, b) for a, b in zip(got, want)), args
    assert min(checked) > 50  # both kinds of packet were checked


@pytest.mark.parametrize("seed", range(3))
def test_no_two_packets_hold_a_link_at_once_on_random_traffic(seed):
    """Random traffic on a 4 x 4 mesh, heavy enough that packets meet, pass through gaps and
    wait at their sources: on every link the cycles each packet holds it (its trace bars) never
    overlap, and no packet arrives before its free-streaming time."""
    import random

    rng = random.Random(seed)
    graph = nx.grid_2d_graph(4, 4)
    graph = nx.relabel_nodes(graph, {(r, c): 4 * r + c for r, c in graph.nodes})
    nx.set_edge_attributes(graph, FLIT, "width_bits")
    nx.set_edge_attributes(graph, 1, "latency_cycles")
    trace = Trace(1.0, 1)
    net = Network(graph, "xy", 0.0, EnergyLedger(real_inputs=1), trace,
                  {n: divmod(n, 4) for n in graph.nodes}, buffer_depth=4)
    t = 0
    for k in range(600):  # the bars' names count the packets in the order they were sent
        t += rng.randrange(2)
        src, dst = rng.sample(range(16), 2)
        flits = rng.choice([1, 2, 4, 8])
        hops = abs(src // 4 - dst // 4) + abs(src % 4 - dst % 4)
        assert net.send(t, src, dst, flits * FLIT, str(k), 0) >= t + hops + flits
    bars: dict[int, list[tuple[int, int, int]]] = {}
    for e in trace.to_json()["traceEvents"]:
        if e["ph"] == "X":
            start = round(e["ts"] * 1000)
            bars.setdefault(e["tid"], []).append((start, start + round(e["dur"] * 1000),
                                                  int(e["name"])))
    assert len(bars) > 20
    passed = 0
    for spans in bars.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        passed += sum(b[2] < a[2] for a, b in zip(spans, spans[1:]))
    assert passed > 50  # younger packets went through gaps before older ones
