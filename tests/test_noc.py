"""The flit-level network model (`chipsim noc`): hand-counted flow control, theory, saturation.

The small networks below are timed by hand in the comments: every flit's departure follows from
the rules in `chipsim.noc.router` (a flit may leave a buffer in the cycle it lands; a hop takes
hop_latency_cycles; a credit returns hop_latency_cycles after its flit left the buffer).
"""

from __future__ import annotations

import json

import pytest
import yaml

from chipsim.arch import parse_chip
from chipsim.arch.loader import BUILTIN_DIR
from chipsim.cli import main
from chipsim.errors import NocError
from chipsim.noc.experiment import Experiment
from chipsim.noc.fabric import build_fabric
from chipsim.noc.router import HEAD, TAIL, Network
from chipsim.noc.theory import channel_load_bound, mean_hops, zero_load_latency
from chipsim.noc.traffic import traffic_matrix

HERMES = yaml.safe_load((BUILTIN_DIR / "hermes64.yaml").read_text())


def chip_with(cores: int, topology: dict, routing: str, depth: int = 4, latency: int = 1,
              arbitration: str = "round_robin"):
    """hermes64 with another core count and network (global units on core 0)."""
    data = yaml.safe_load(yaml.safe_dump(HERMES))
    data["name"] = "test-noc"
    data["cores"]["count"] = cores
    data["global_units"]["count"] = 1
    data["global_units"]["attach_cores"] = [0]
    data["network"].update(topology=topology, routing=routing, buffer_depth_flits=depth,
                           hop_latency_cycles=latency, arbitration=arbitration)
    return parse_chip(yaml.safe_dump(data), "test-noc")


def line(depth: int, arbitration: str = "round_robin"):
    """Three cores in a line, 0 - 1 - 2."""
    return chip_with(3, {"kind": "links", "links": [[0, 1], [1, 2]]}, "shortest_path", depth,
                     arbitration=arbitration)


def mesh(k: int, latency: int = 1, depth: int = 4):
    return chip_with(k * k, {"kind": "mesh2d", "rows": k, "cols": k}, "xy", depth, latency)


def run(net: Network, packets: list[tuple[int, int, int, int]], limit: int = 200) -> dict[int, int]:
    """Inject (id, src, dst, flits) at cycle 0; the cycle each packet's tail is ejected."""
    for packet, src, dst, flits in packets:
        net.inject(packet, src, dst, flits)
    done = {}
    while len(done) < len(packets) and net.cycle < limit:
        t = net.cycle
        for packet in net.step()[1]:
            done[packet] = t
    return done


def sends(net: Network, node: int, packet: int) -> list[int]:
    return [t for t, n, _, p, _ in net.trace if n == node and p == packet]


# ----------------------------------------------------------------------------- flow control


def test_two_packets_contending_for_one_link_wait_the_hand_counted_cycles():
    # A (0 -> 2) and B (1 -> 2), 4 flits each, both created at cycle 0. B takes link 1->2 at
    # cycles 0..3 (its tail ejected at 4 = 1 hop + 3). A's head lands at core 1 at cycle 1, finds
    # the link held by B until B's tail left at 3, goes at 4 and 5, 6, 7 behind it: A's tail
    # lands at core 2 at 8, where alone it would at 2 hops + 3 = 5. A waits 3 cycles.
    net = Network(build_fabric(line(depth=4)), trace=True)
    done = run(net, [(0, 0, 2, 4), (1, 1, 2, 4)])
    assert done == {1: 4, 0: 8}
    fabric = net.fabric
    link_12 = fabric.channels.index((1, 2))
    assert [t for t, n, out, p, _ in net.trace if out == link_12 and p == 0] == [4, 5, 6, 7]
    assert [t for t, n, out, p, _ in net.trace if out == link_12 and p == 1] == [0, 1, 2, 3]


def test_a_full_buffer_stalls_its_upstream_for_the_hand_counted_cycles():
    # Buffers of 2 flits. X (1 -> 2, 8 flits) holds link 1->2 at cycles 0..7. Y (0 -> 2, 4
    # flits) sends flits 0 and 1 at cycles 0 and 1, which fill core 1's buffer: core 0 has no
    # credit left. Y's head leaves core 1 at 8 (after X's tail at 7), its credit reaches core 0
    # at 9; flit 1 leaves at 9, its credit arrives at 10. So core 0 sends Y at 0, 1, 9, 10: flit
    # 2 was stalled from cycle 2 to 9, 7 cycles, by back-pressure. Y's tail leaves core 1 at 11
    # and is ejected at core 2 at 12.
    net = Network(build_fabric(line(depth=2)), trace=True)
    done = run(net, [(0, 1, 2, 8), (1, 0, 2, 4)])
    assert sends(net, 0, 1) == [0, 1, 9, 10]
    assert sends(net, 1, 1) == [8, 9, 10, 11]
    assert done == {0: 8, 1: 12}
    # the same with 4-flit buffers: no stall at core 0, only the wait at core 1
    net = Network(build_fabric(line(depth=4)), trace=True)
    run(net, [(0, 1, 2, 8), (1, 0, 2, 4)])
    assert sends(net, 0, 1) == [0, 1, 2, 3]


def test_oldest_first_grants_the_older_packet_round_robin_may_not():
    # X (1 -> 2, 1 flit), B (1 -> 2) and A (0 -> 2), 2 flits each, created in this order at
    # cycle 0. X crosses 1->2 at 0 and is ejected at 1. Both B's head (behind X in node 1's
    # source queue) and A's (after its hop) ask for 1->2 at cycle 1. Round robin grants the
    # port after the last one it granted (the source queue, for X): A crosses at 1, 2 and is
    # ejected at 2, 3; B at 3, 4, ejected at 4, 5. Oldest first grants B, created earlier.
    def order(arbitration: str) -> dict[int, int]:
        net = Network(build_fabric(line(depth=4, arbitration=arbitration)))
        return run(net, [(0, 1, 2, 1), (1, 1, 2, 2), (2, 0, 2, 2)])

    assert order("round_robin") == {0: 1, 2: 3, 1: 5}
    assert order("oldest_first") == {0: 1, 1: 3, 2: 5}


def test_one_packet_alone_takes_exactly_the_zero_load_formula():
    chip = mesh(3, latency=2)
    fabric = build_fabric(chip)
    for src in range(9):
        for dst in range(9):
            net = Network(fabric)
            done = run(net, [(0, src, dst, 3)])
            assert done == {0: fabric.hops[src, dst] * 2 + 3 - 1}, (src, dst)


def test_credit_round_trip_longer_than_the_buffer_throttles_a_lone_packet():
    # hop latency 2, buffers of 2: a credit returns 4 cycles after its flit was sent, so core 0
    # sends 2 flits every 4 cycles (0, 1, then 4, 5) on a line with nothing else.
    net = Network(build_fabric(chip_with(3, {"kind": "links", "links": [[0, 1], [1, 2]]},
                                         "shortest_path", depth=2, latency=2)), trace=True)
    run(net, [(0, 0, 2, 4)])
    assert sends(net, 0, 0) == [0, 1, 4, 5]


def test_wormhole_deadlock_on_a_ring_is_an_error():
    # five cores in a ring, each sending 8 flits two hops clockwise: every packet holds the link
    # the next one needs (shortest-path routing without virtual channels is not deadlock-free)
    chip = chip_with(5, {"kind": "links", "links": [[i, (i + 1) % 5] for i in range(5)]},
                     "shortest_path", depth=2)
    net = Network(build_fabric(chip))
    with pytest.raises(NocError, match="deadlocked"):
        run(net, [(i, i, (i + 2) % 5, 8) for i in range(5)])


def test_flit_flags_mark_head_and_tail():
    net = Network(build_fabric(line(4)))
    net.inject(0, 0, 2, 3)
    net.inject(1, 0, 2, 1)
    assert [f[2] for f in net.buffers[net.fabric.injection(0)]] == [HEAD, 0, TAIL, HEAD | TAIL]


# ------------------------------------------------------------------------------------ theory


@pytest.mark.parametrize("k", [4, 6, 8])
def test_uniform_channel_load_bound_is_4_over_k_and_mean_hops_match(k):
    chip = mesh(k)
    fabric = build_fabric(chip)
    uniform = traffic_matrix("uniform", chip, fabric)
    assert channel_load_bound(fabric, uniform) == pytest.approx(4 / k)
    # mean distance between two uniform places on a line of k, twice: 2 (k^2 - 1) / 3k
    assert mean_hops(fabric, uniform) == pytest.approx(2 * (k * k - 1) / (3 * k))
    # transpose under XY: the row link into the last column carries k - 1 sources
    transpose = traffic_matrix("transpose", chip, fabric)
    assert channel_load_bound(fabric, transpose) == pytest.approx(1 / (k - 1))


def test_hotspot_bound_is_the_hot_cores_ejection_port():
    # every core sends f of its packets to the hot core and (1 - f) / N of them to each core:
    # the hot core ejects N f + (1 - f) times what one core offers
    chip = mesh(8)
    fabric = build_fabric(chip)
    hotspot = traffic_matrix("hotspot", chip, fabric, hotspot_fraction=0.1)
    assert channel_load_bound(fabric, hotspot) == pytest.approx(1 / (64 * 0.1 + 0.9))


def test_zero_load_latency_formula():
    chip = mesh(4, latency=3)
    fabric = build_fabric(chip)
    uniform = traffic_matrix("uniform", chip, fabric)
    assert zero_load_latency(fabric, uniform, 5) == pytest.approx(2 * 15 / 12 * 3 + 4)


def test_transpose_needs_a_square_floorplan():
    # five cores drawn row-major on 3 columns: core 2 at (0, 2) has no partner at (2, 0)
    chip = chip_with(5, {"kind": "links", "links": [[i, i + 1] for i in range(4)]}, "shortest_path")
    with pytest.raises(NocError, match="square floorplan"):
        Experiment(chip, "transpose")


# ------------------------------------------------------------------------------- experiments


def test_low_load_latency_is_the_zero_load_latency():
    exp = Experiment(mesh(4), "uniform", packet_flits=4, cycles=4000)
    point = exp.measure(0.01)
    assert point.complete
    assert point.latency_mean_cycles == pytest.approx(exp.zero_load_latency, rel=0.05)


def test_same_seed_same_numbers_other_seed_others():
    exp = Experiment(mesh(4), "hotspot", cycles=500, warmup=100)
    a, b = exp.measure(0.3), exp.measure(0.3)
    assert a == b
    other = Experiment(mesh(4), "hotspot", cycles=500, warmup=100, seed=1).measure(0.3)
    assert other != a


def test_uniform_saturates_within_the_band_and_transpose_below_it():
    chip = mesh(6)
    uniform = Experiment(chip, "uniform", cycles=1000, warmup=300)
    sat = uniform.saturation_rate(uniform.sweep())
    assert 0.6 * uniform.channel_load_bound <= sat <= uniform.channel_load_bound
    transpose = Experiment(chip, "transpose", cycles=1000, warmup=300)
    assert transpose.saturation_rate(transpose.sweep()) < sat


@pytest.mark.parametrize("rate,within", [(0.05, 0.03), (0.2, 0.1)])
def test_the_event_model_comes_close_to_the_routers_below_saturation(rate, within):
    """`simulate`'s network (`--model event`) on the same uniform traffic as the routers, 4-flit
    packets on a 6 x 6 mesh: mean latency within 3 % at 7 % of the channel-load bound, within
    10 % at 30 % (docs/validation.md has the whole curve on hermes64)."""
    chip = mesh(6)
    flit = Experiment(chip, "uniform", packet_flits=4, cycles=1500, warmup=300).measure(rate)
    event = Experiment(chip, "uniform", packet_flits=4, cycles=1500, warmup=300,
                       model="event").measure(rate)
    assert event.complete and event.packets_measured == flit.packets_measured
    assert event.latency_mean_cycles == pytest.approx(flit.latency_mean_cycles, rel=within)


# ---------------------------------------------------------------------------------------- CLI


def test_cli_json_has_the_figures(capsys):
    assert main(["noc", "--pattern", "neighbour", "--rate", "0.05", "--cycles", "500",
                 "--warmup", "100", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("offered_rate", "accepted_rate", "latency_mean_cycles", "zero_load_latency_cycles",
                "channel_load_bound"):
        assert isinstance(doc[key], float), key
    assert doc["zero_load_latency_cycles"] == 1.0 and doc["offered_rate"] == 0.05
    assert (doc["model"], doc["arbitration"]) == ("flit", "round_robin")


def test_cli_event_model_runs_the_same_traffic(capsys):
    argv = ["noc", "--pattern", "neighbour", "--rate", "0.05", "--cycles", "500", "--warmup",
            "100", "--json"]
    assert main(argv) == 0
    flit = json.loads(capsys.readouterr().out)
    assert main(argv + ["--model", "event"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert event["model"] == "event"
    assert event["packets_measured"] == flit["packets_measured"]  # the same packets
    assert event["latency_mean_cycles"] == pytest.approx(flit["latency_mean_cycles"], rel=0.02)


@pytest.mark.parametrize("argv, words", [
    (["--rate", "2"], "--rate: expected 'sweep' or a rate in (0, 1]"),
    (["--rate", "fast"], "--rate: expected 'sweep' or a rate in (0, 1]"),
    (["--rate", "0.1", "--pattern", "tornado"], "--pattern: 'tornado' is not one of"),
])
def test_cli_bad_rate_or_pattern_is_one_line_exit_2(capsys, argv, words):
    assert main(["noc", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
