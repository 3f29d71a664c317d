"""One measurement at one offered load, and a sweep of loads up to saturation.

A measurement runs in three phases, as Dally and Towles prescribe (ch. 23): a warm-up, so that
queues reach their steady state; a measurement window, whose packets are labelled; and a drain,
during which injection continues (the labelled packets must see the same load to the end) until
every labelled packet is delivered, or until a cap of `cycles` further cycles (then the point is
reported as incomplete: the network is past saturation and its latency grows without bound).

Figures:

- offered rate: the Bernoulli rate asked for, flits per node per cycle;
- accepted rate: flits ejected during the measurement window, per node per cycle;
- latency: per labelled packet, the cycle its tail flit is ejected minus the cycle it was created
  (source queueing included), averaged over the delivered labelled packets.

Saturation rate (of a sweep): the offered rate at which the mean latency reaches 3 x the
zero-load latency, interpolated linearly between the two measured rates around it; None when no
rate of the sweep reached it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from chipsim.arch.schema import Chip
from chipsim.noc.event import EventNetwork
from chipsim.noc.fabric import Fabric, build_fabric
from chipsim.noc.router import Network
from chipsim.noc.theory import channel_load_bound, mean_hops, zero_load_latency
from chipsim.noc.traffic import HOTSPOT_FRACTION, BernoulliTraffic, traffic_matrix

SATURATION_FACTOR = 3.0
#: sweep rates as fractions of the pattern's channel-load bound (finer near saturation)
SWEEP_FRACTIONS = (0.02, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
                   1.0, 1.05, 1.1)
#: a sweep stops after the first rate whose mean latency exceeds this many zero-load latencies
SWEEP_STOP_FACTOR = 6.0


@dataclass(frozen=True)
class Point:
    """The figures of one offered load."""

    offered_rate: float
    injected_rate: float
    accepted_rate: float
    latency_mean_cycles: float
    latency_p50_cycles: float
    latency_p99_cycles: float
    hops_mean: float
    packets_measured: int
    packets_delivered: int
    complete: bool
    cycles_run: int

    def as_dict(self) -> dict:
        """The figures as a JSON-ready dict (no latency when no packet was measured: None)."""
        return {k: None if isinstance(v, float) and v != v else v for k, v in asdict(self).items()}


class Experiment:
    """A chip's network under one traffic pattern: theory figures and measured points."""

    def __init__(self, chip: Chip, pattern: str, packet_flits: int = 1, warmup: int = 1000,
                 cycles: int = 5000, seed: int = 0, hotspot_fraction: float = HOTSPOT_FRACTION,
                 model: str = "flit"):
        self.chip, self.pattern = chip, pattern
        self.model = model  # "flit": the routers cycle by cycle; "event": `simulate`'s network
        self.fabric: Fabric = build_fabric(chip)
        self.matrix = traffic_matrix(pattern, chip, self.fabric, hotspot_fraction)
        self.packet_flits, self.warmup, self.cycles, self.seed = packet_flits, warmup, cycles, seed
        self.zero_load_latency = zero_load_latency(self.fabric, self.matrix, packet_flits)
        self.channel_load_bound = channel_load_bound(self.fabric, self.matrix)
        self.mean_hops = mean_hops(self.fabric, self.matrix)

    def measure(self, rate: float) -> Point:
        """Warm up, measure and drain at `rate` flits per node per cycle."""
        traffic = BernoulliTraffic(self.matrix, rate, self.packet_flits, self.seed)
        net = Network(self.fabric) if self.model == "flit" else EventNetwork(self.chip)
        start, stop = self.warmup, self.warmup + self.cycles
        created: list[int] = []
        hops = self.fabric.hops
        first = last = None  # ids of the labelled packets: first .. last - 1
        latencies: dict[int, int] = {}
        injected = ejected_in_window = hop_sum = 0
        t = 0
        for t in range(stop + self.cycles):
            if t == start:
                first = len(created)
            if t == stop:
                last = len(created)
            for src, dst in traffic.at(t):
                if start <= t < stop:
                    injected += self.packet_flits
                    hop_sum += int(hops[src, dst])
                net.inject(len(created), src, dst, self.packet_flits)
                created.append(t)
            ejected, delivered = net.step()
            if start <= t < stop:
                ejected_in_window += ejected
            for packet in delivered:
                if first is not None and packet >= first and (last is None or packet < last):
                    latencies[packet] = t - created[packet]
            if last is not None and len(latencies) == last - first:
                break
        measured = last - first
        values = np.fromiter(latencies.values(), dtype=np.float64, count=len(latencies))
        window = self.fabric.nodes * self.cycles
        return Point(
            offered_rate=rate,
            injected_rate=injected / window,
            accepted_rate=ejected_in_window / window,
            latency_mean_cycles=float(values.mean()) if values.size else float("nan"),
            latency_p50_cycles=float(np.percentile(values, 50)) if values.size else float("nan"),
            latency_p99_cycles=float(np.percentile(values, 99)) if values.size else float("nan"),
            hops_mean=hop_sum / measured if measured else float("nan"),
            packets_measured=measured,
            packets_delivered=len(latencies),
            complete=len(latencies) == measured,
            cycles_run=t + 1,
        )

    def sweep_rates(self) -> list[float]:
        """The offered rates of a sweep: fractions of the bound, none above 1 flit per cycle."""
        return sorted({round(min(1.0, f * self.channel_load_bound), 4) for f in SWEEP_FRACTIONS})

    def sweep(self, rates: list[float] | None = None,
              log: Callable[[str], None] = lambda m: None) -> list[Point]:
        """Measure rising rates until latency passes SWEEP_STOP_FACTOR x zero-load."""
        points = []
        for rate in rates or self.sweep_rates():
            point = self.measure(rate)
            points.append(point)
            log(f"rate {rate:.4f}: accepted {point.accepted_rate:.4f}, "
                f"latency {point.latency_mean_cycles:.1f} cycles")
            if not point.complete or \
                    point.latency_mean_cycles > SWEEP_STOP_FACTOR * self.zero_load_latency:
                break
        return points

    def saturation_rate(self, points: list[Point]) -> float | None:
        """Offered rate where mean latency reaches 3 x zero-load (linear interpolation)."""
        limit = SATURATION_FACTOR * self.zero_load_latency
        below = None
        for point in points:
            latency = point.latency_mean_cycles if point.complete else float("inf")
            if latency >= limit:
                if below is None:
                    return point.offered_rate
                if not np.isfinite(latency):
                    return point.offered_rate
                x0, y0 = below.offered_rate, below.latency_mean_cycles
                return x0 + (limit - y0) * (point.offered_rate - x0) / (latency - y0)
            below = point
        return None
