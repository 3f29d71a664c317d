"""On-chip traffic of a mapping: how many bits travel between blocks, and how far.

The model counts, per inference, two kinds of messages between placed blocks:

* layer outputs: the block at the top of each block column (row_start 0) adds up the column's
  partial sums and sends the finished outputs to every block of each consumer layer that reads
  them. Consumer rows are matched to producer outputs proportionally (row r of a consumer
  with R rows reads output column floor(r * C / R) of a producer with C columns), which is
  exact for dense layers and for convolutions lowered with channel-major im2col rows;
* partial sums: every other block of a column sends its partial sums to that top block.

Volume = values x MVMs x bits; a replicated layer splits its MVMs evenly over its copies, so
traffic between two replicated layers spreads evenly over all pairs of copies. Traffic to and
from the host and the global units (network input, LSTM cell) is not counted: no placement
changes it. Hop-weighted traffic multiplies each message's bits by the shortest-path hop count
between the two cores on the chip's network graph (zero when both blocks share a core).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from chipsim.mapping.tiling import Block, LayerLike

Unit = tuple[Block, int]  # a block and its replica number


PRECISION_BITS = {"int8": 8, "int16": 16, "fp16": 16, "fp32": 32}


def data_bits(chip: Any) -> tuple[int, int]:
    """(bits of one activation, bits of one partial sum) sent between cores.

    A finished output travels as the next core's input code (the DAC's bits); a partial sum
    travels in the local digital unit's number format, which adds the partial sums up.
    """
    return chip.cores.dac.bits, PRECISION_BITS[chip.cores.ldpu.precision]


def flows(units: Sequence[Unit], layers: Sequence[LayerLike], replication: dict[str, int],
          activation_bits: int, partial_sum_bits: int) -> list[tuple[int, int, float]]:
    """Messages (sender unit index, receiver unit index, bits per inference) between `units`."""
    by_name = {layer.name: layer for layer in layers}
    members: dict[str, list[int]] = defaultdict(list)
    heads: dict[str, list[int]] = defaultdict(list)
    for i, (block, _) in enumerate(units):
        members[block.layer].append(i)
        if block.row_start == 0:
            heads[block.layer].append(i)

    out: list[tuple[int, int, float]] = []
    for name, idx in members.items():
        layer, copies = by_name[name], replication.get(name, 1)
        # partial sums to the top block of the same copy and columns
        for i in idx:
            block, replica = units[i]
            if block.row_start == 0:
                continue
            for h in heads[name]:
                head, head_replica = units[h]
                overlap = min(block.col_stop, head.col_stop) - max(block.col_start, head.col_start)
                if head_replica == replica and overlap > 0:
                    out.append((i, h, overlap * layer.mvms / copies * partial_sum_bits))
        # finished outputs of each source layer to every block that reads them
        for source_name in dict.fromkeys(layer.sources):
            source = by_name.get(source_name)
            if source is None:
                continue
            share = source.mvms * activation_bits / (replication.get(source_name, 1) * copies)
            for i in idx:
                block = units[i][0]
                lo = block.row_start * source.cols // layer.rows
                hi = -(-block.row_stop * source.cols // layer.rows)
                for h in heads[source_name]:
                    head = units[h][0]
                    needed = min(hi, head.col_stop) - max(lo, head.col_start)
                    if needed > 0:
                        out.append((h, i, needed * share))
    return out


def traffic_matrix(units: Sequence[Unit], layers: Sequence[LayerLike], replication: dict[str, int],
                   chip: Any) -> np.ndarray:
    """T[i, j]: bits per inference that unit i sends to unit j."""
    t = np.zeros((len(units), len(units)))
    for i, j, bits in flows(units, layers, replication, *data_bits(chip)):
        t[i, j] += bits
    return t


def hop_matrix(chip: Any) -> np.ndarray:
    """H[a, b]: hops between cores a and b on the chip's network (from the description)."""
    return np.asarray(chip.hop_distances)


def hop_weighted(t: np.ndarray, hops: np.ndarray, cores: np.ndarray) -> float:
    """Sum of bits x hops when unit i sits on cores[i]."""
    return float((t * hops[np.ix_(cores, cores)]).sum())
