"""On-chip traffic of a mapping: every message one inference sends over the network, and how far.

This module owns the message model; the event model (`chipsim.timing.pipeline`) sends exactly
these messages, a chunk of MVMs at a time, and the mapper's figures (`summarize`) add them up
per inference. Three kinds, per MVM of the sending layer:

* partial sums: every block of a block column but the top one (the lowest row_start) sends its partial
  sums, in the LDPU's number format, to the core of the top block of the same copy, whose
  LDPU adds them up;
* to a global unit: a layer followed by work that gathers values (pooling, a residual add, an
  LSTM cell; `chipsim.mapping.digital`) sends its finished outputs from each top block to one
  global unit, the one nearest the layer's lowest-numbered top core, which then sends on;
* finished outputs to the consumers: from the top blocks (or that global unit) to every core
  holding a block of each consumer layer, the source columns that core's blocks read: row r of
  a consumer with R rows reads column floor(r * C / R) of a source with C columns (exact for
  dense layers and channel-major im2col rows). Digital work between the two may shrink the
  values (a 2x2 pooling passes a quarter); that `share` is read from the graph when it is given
  (without it, nothing shrinks).

Replicas. MVM g of a layer runs on copy g % R (docs/contracts.md). Where a consumer's input
vectors do not overlap (a dense layer, an LSTM step, a convolution whose window is no wider than
its stride), each value goes to the one copy whose MVM reads it: on average a 1/R share to each
copy. A convolution's windows overlap: neighbouring output pixels read the same input pixels and
sit on different copies, so every value goes to every copy (exact inside the feature map for
ResNet-9's 3x3 convolutions and its copies; at the border, or with more copies than a window
spans, a copy may not need every value and this is an upper bound).

Per inference a copy does mvms / R of its layer's MVMs: the mapper's figures are the average
over inferences. The event model counts the MVMs each copy actually took, so over N inputs the
two agree exactly when N x mvms is a multiple of R for every copied layer, and otherwise differ
by less than one MVM's messages per copy. Traffic to and from the host is not counted.
Hop-weighted traffic multiplies each message's bits by the hops of its shortest path on the
chip's network graph (XY routing on a mesh is a shortest path; zero within a core).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence, Union

import networkx as nx
import numpy as np

from chipsim.arch.faults import reachable_units
from chipsim.graph.ops import RECURRENT_OPS
from chipsim.mapping.digital import needs_global_unit
from chipsim.mapping.mapping import Mapping, Placement
from chipsim.mapping.tiling import Block, LayerLike

Unit = tuple[Block, int]  # a block and its replica number
Node = Union[int, str]  # a core id or a global unit's name ("gdpu0")

PRECISION_BITS = {"int8": 8, "int16": 16, "fp16": 16, "fp32": 32}


class Send(NamedTuple):
    """A message: `bits` from node `src` to node `dst`, on behalf of `layer`."""

    src: Node
    dst: Node
    bits: float
    layer: str


class Head(NamedTuple):
    """The top block of one column range of one copy: it adds the partial sums, sends outputs."""

    core: int
    replica: int
    col_start: int
    col_stop: int
    row_start: int  # its block's first row: 0, or a grouped layer's first row of its groups


class Reader(NamedTuple):
    """A core holding consumer blocks, and the source columns [lo, hi) they read."""

    core: int
    ranges: tuple[tuple[int, int], ...]

    def cols(self, c0: int, c1: int) -> int:
        """How many of the source columns c0..c1-1 this core reads."""
        return sum(max(0, min(c1, hi) - max(c0, lo)) for lo, hi in self.ranges)


@dataclass(frozen=True)
class Delivery:
    """Where one source layer's finished outputs go for one consumer layer.

    `groups` holds one tuple of readers per consumer copy when `split` (each value to the copy
    whose MVM reads it), else a single tuple of every reading core (each value to every copy).
    """

    share: float  # of the source's values, the fraction that reaches the consumer
    split: bool
    groups: tuple[tuple[Reader, ...], ...]


def data_bits(chip: Any) -> tuple[int, int]:
    """(bits of one activation, bits of one partial sum) sent between cores.

    A finished output travels as the next core's input code (the DAC's bits); a partial sum
    travels in the local digital unit's number format, which adds the partial sums up.
    """
    return chip.cores.dac.bits, PRECISION_BITS[chip.cores.ldpu.precision]


def node_hops(chip: Any) -> dict[Node, dict[Node, int]]:
    """Hops of the shortest path between every two nodes (cores and global units)."""
    return dict(nx.all_pairs_shortest_path_length(chip.network_graph()))


class Routes:
    """Who sends what to whom under one mapping: the message model, built once per mapping.

    `graph` (the IR) gives how much digital work between layers shrinks the values and which
    convolutions' windows overlap; `via_units=False` sends gathered outputs straight to their
    consumers (the placement search uses it: a global unit's place does not move with a block).
    """

    def __init__(self, mapping: Mapping, layers: Sequence[LayerLike], chip: Any,
                 graph: Any | None = None, *, via_units: bool = True) -> None:
        self.layers = {layer.name: layer for layer in layers}
        self.replicas = {name: mapping.replication.get(name, 1) for name in self.layers}
        self.activation_bits, self.partial_sum_bits = data_bits(chip)
        self.placements: dict[str, list[Placement]] = defaultdict(list)
        for pl in mapping.placements:
            self.placements[pl.block.layer].append(pl)
        # the top core of each (copy, column range): its block has the smallest row_start (0,
        # but for a grouped layer's blocks, which hold their groups' rows only)
        self.head: dict[str, dict[tuple[int, int], Head]] = defaultdict(dict)
        for name, placed in self.placements.items():
            heads = self.head[name]
            for pl in placed:
                b, key = pl.block, (pl.replica, pl.block.col_start)
                if key not in heads or b.row_start < heads[key].row_start:
                    heads[key] = Head(pl.core, pl.replica, b.col_start, b.col_stop, b.row_start)
        self.consumers: dict[str, list[str]] = defaultdict(list)
        for layer in layers:
            for source in dict.fromkeys(layer.sources):
                if source in self.layers:
                    self.consumers[source].append(layer.name)
            if _recurrent(layer):  # an LSTM step reads the step before it
                self.consumers[layer.name].append(layer.name)
        self.hops = node_hops(chip)
        units = reachable_units(chip)
        ldpu_ops = tuple(chip.cores.ldpu.ops)
        self.unit: dict[str, str | None] = {}
        for name, layer in self.layers.items():
            heads = self.head[name]
            gathers = via_units and units and heads and needs_global_unit(layer, ldpu_ops)
            if gathers:
                core = min(h.core for h in heads.values())
                self.unit[name] = min(units, key=lambda u: (self.hops[core][u], u))
            else:
                self.unit[name] = None
        self.deliveries = {(source, consumer): self._delivery(source, consumer, graph)
                           for source, names in self.consumers.items() for consumer in names}

    def _delivery(self, source: str, consumer: str, graph: Any | None) -> Delivery:
        src, dst = self.layers[source], self.layers[consumer]
        share = 1.0
        if graph is not None:
            out = np.prod(graph.shapes[graph.node(source).outputs[0]])
            seen = np.prod(graph.shapes[graph.node(consumer).inputs[0]])
            share = float(min(1.0, seen / out))
        split = self.replicas[consumer] > 1 and not _windows_overlap(dst, graph)
        groups: dict[int, dict[int, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
        for pl in self.placements[consumer]:
            b = pl.block
            lo = b.row_start * src.cols // dst.rows
            hi = -(-b.row_stop * src.cols // dst.rows)
            groups[pl.replica if split else 0][pl.core].append((lo, hi))
        return Delivery(share, split, tuple(
            tuple(Reader(core, _union(ranges)) for core, ranges in sorted(groups[g].items()))
            for g in sorted(groups)))

    def copies_reading(self, source: str, consumer: str, inference: int, p0: int, p1: int
                       ) -> list[tuple[int, float]]:
        """(consumer copy, fraction of the values) for the outputs of the source's MVMs p0..p1-1
        of one inference, when the delivery is split: the consumer MVMs that read them (in
        proportion, as rows are matched) and the copy each runs on."""
        if not self.deliveries[(source, consumer)].split:
            return [(0, 1.0)]
        ms, mc = self.layers[source].mvms, self.layers[consumer].mvms
        q0 = p0 * mc // ms
        q1 = max(q0 + 1, -(-p1 * mc // ms))
        first, stop, replicas = inference * mc + q0, inference * mc + q1, self.replicas[consumer]
        counts = [_count(stop, r, replicas) - _count(first, r, replicas) for r in range(replicas)]
        return [(r, k / (stop - first)) for r, k in enumerate(counts) if k]

    def outputs(self, source: str, consumer: str, senders: Sequence[tuple[Node, float, int, int]],
                copies: Sequence[tuple[int, float]] = ((0, 1.0),)) -> list[Send]:
        """Messages carrying `senders`' outputs (node, MVMs, first column, column stop) to
        `consumer`; `copies` weights each consumer copy's group when the delivery is split."""
        d = self.deliveries[(source, consumer)]
        groups = [(d.groups[r], w) for r, w in copies] if d.split else [(d.groups[0], 1.0)]
        share, bits = d.share, self.activation_bits
        return [Send(node, reader.core, count * cols * share * bits * weight, source)
                for group, weight in groups for reader in group
                for node, count, c0, c1 in senders if (cols := reader.cols(c0, c1))]

    def per_inference(self) -> list[Send]:
        """Every message of one inference, with each copy doing mvms / R of its layer's MVMs."""
        sends: list[Send] = []
        for name, layer in self.layers.items():
            per_copy = layer.mvms / self.replicas[name]  # MVMs per inference of one copy
            for pl in self.placements[name]:
                b = pl.block
                head = self.head[name][(pl.replica, b.col_start)]
                if b.row_start != head.row_start:
                    bits = per_copy * b.cols * self.partial_sum_bits
                    sends.append(Send(pl.core, head.core, bits, name))
            heads = [(h.core, per_copy, h.col_start, h.col_stop) for h in self.head[name].values()]
            unit = self.unit[name]
            if unit is not None:
                sends += [Send(core, unit, count * (c1 - c0) * self.activation_bits, name)
                          for core, count, c0, c1 in heads]
                heads = [(unit, layer.mvms, 0, layer.cols)]
            for consumer in self.consumers[name]:
                copies = self.replicas[consumer]
                sends += self.outputs(name, consumer, heads,
                                      [(r, 1.0 / copies) for r in range(copies)])
        return sends

    def hop_weighted(self, sends: Sequence[Send] | None = None) -> float:
        """Sum of bits x hops (per inference, unless other `sends` are given)."""
        sends = self.per_inference() if sends is None else sends
        return float(sum(s.bits * self.hops[s.src][s.dst] for s in sends))


def traffic_matrix(units: Sequence[Unit], layers: Sequence[LayerLike], replication: dict[str, int],
                   chip: Any) -> np.ndarray:
    """T[i, j]: bits per inference that unit i sends to unit j, gathered outputs sent straight
    on (the placement search's cost; a global unit's place does not move with the blocks)."""
    stand_in = Mapping(chip.name, "search", "search",
                       tuple(Placement(block, replica, i) for i, (block, replica) in enumerate(units)),
                       {layer.name: replication.get(layer.name, 1) for layer in layers})
    t = np.zeros((len(units), len(units)))
    for s in Routes(stand_in, layers, chip, via_units=False).per_inference():
        t[s.src, s.dst] += s.bits
    return t


def hop_matrix(chip: Any) -> np.ndarray:
    """H[a, b]: hops between the a-th and the b-th usable core (`usable_cores`: every core of
    a chip without faults) on the chip's working network."""
    from chipsim.arch.faults import usable_cores

    usable = usable_cores(chip)
    return np.asarray(chip.hop_distances)[np.ix_(usable, usable)]


def hop_weighted(t: np.ndarray, hops: np.ndarray, cores: np.ndarray) -> float:
    """Sum of bits x hops when unit i sits on cores[i]."""
    return float((t * hops[np.ix_(cores, cores)]).sum())


def _recurrent(layer: LayerLike) -> bool:
    return getattr(layer, "op", "dense") in RECURRENT_OPS


def _windows_overlap(layer: LayerLike, graph: Any | None) -> bool:
    """Whether neighbouring MVMs of `layer` read some of the same input values (a convolution
    whose window is wider than its stride; assumed for every convolution without the graph)."""
    if getattr(layer, "op", "dense") != "conv":
        return False
    if graph is None:
        return True
    node = graph.node(layer.name)
    kernel = node.weights["W"].shape[2:]
    strides = node.attrs.get("strides", (1, 1))
    dilations = node.attrs.get("dilations", (1, 1))
    return any((int(k) - 1) * int(d) + 1 > int(s) for k, s, d in zip(kernel, strides, dilations))


def _union(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Merge overlapping [lo, hi) ranges: a core receives a value once however many of its
    blocks read it."""
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def _count(x: int, r0: int, replicas: int) -> int:
    """How many g in 0..x-1 have g % replicas == r0."""
    return max(0, (x - r0 + replicas - 1) // replicas)
