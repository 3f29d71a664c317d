"""What each tile sees: a bounded, deterministic sample of its input rows on calibration data.

Calibration needs the inputs that reach every crossbar. We run the calibration samples through
the network on the float path (exact matrix products), so the ranges describe the activations
the network was trained to produce, do not depend on any one programmed chip, and one calibrated
mapping serves every seed. A layer's MVMs are far too many to keep (a convolution makes one per
output pixel), so each (layer, replica) keeps a bottom-k sample: every MVM number g gets a
pseudo-random priority hash(g), and the `max_rows` MVMs of lowest priority are kept. Like a
raffle where each ticket's number is printed on it in advance, the winners do not depend on the
order or the batches in which the tickets arrive. A tile's inputs are its rows of that sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from chipsim.errors import DataError
from chipsim.functional.executor import FloatBackend, run_network

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def priority(mvm_numbers: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64 finaliser of (MVM number, salt): a fixed pseudo-random uint64 per MVM."""
    with np.errstate(over="ignore"):
        z = (np.asarray(mvm_numbers, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             + np.uint64(salt) * np.uint64(0xD1B54A32D192ED03)) & _MASK
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@dataclass
class _Sample:
    """The kept rows of one (layer, replica), at most `size` of them."""

    size: int
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    mvms: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    rows: np.ndarray | None = None

    def add(self, keys: np.ndarray, mvms: np.ndarray, rows: np.ndarray) -> None:
        if keys.size > self.size:  # only this batch's own lowest priorities can be kept
            pre = np.argpartition(keys, self.size - 1)[:self.size]
            keys, mvms, rows = keys[pre], mvms[pre], rows[pre]
        keys = np.concatenate([self.keys, keys])
        mvms = np.concatenate([self.mvms, mvms])
        rows = rows if self.rows is None else np.concatenate([self.rows, rows])
        keep = np.argsort(keys)[:self.size]  # priorities are distinct: a bijection of g
        self.keys, self.mvms, self.rows = keys[keep], mvms[keep], rows[keep]


class RecordingBackend(FloatBackend):
    """The float network that also keeps a bounded sample of every layer's input rows.

    Its products are FloatBackend's, float64 rounded to float32, so the rows do not depend on
    how the samples are batched.
    """

    def __init__(self, layers: Sequence, replication: dict[str, int], max_rows: int) -> None:
        super().__init__(layers)
        self.replication = replication
        self.salts = {layer.name: k for k, layer in enumerate(layers)}
        self.samples: dict[tuple[str, int], _Sample] = {}
        self.max_rows = max_rows

    def layer_forward(self, name: str, x_rows: np.ndarray, mvm_indices: np.ndarray) -> np.ndarray:
        x_rows = np.asarray(x_rows, dtype=np.float32)
        mvm_indices = np.asarray(mvm_indices, dtype=np.int64)
        copies = self.replication.get(name, 1)
        keys = priority(mvm_indices, self.salts[name])
        for r in range(copies):
            sel = np.flatnonzero(mvm_indices % copies == r)
            if sel.size:
                sample = self.samples.setdefault((name, r), _Sample(self.max_rows))
                sample.add(keys[sel], mvm_indices[sel], x_rows[sel])
        return super().layer_forward(name, x_rows, mvm_indices)  # float64 products, rounded


def collect_tile_inputs(graph, layers: Sequence, mapping, x: np.ndarray, max_rows: int = 1000,
                        batch: int = 256) -> list[np.ndarray]:
    """Input rows (k <= max_rows, block rows) of every placement of `mapping`, in tile-id order.

    Rows are sorted by MVM number, so the result is the same for any `batch`. Raises DataError
    if a tile's inputs hold NaN or infinity (an overflowing layer), naming the tile and layer.
    """
    if max_rows < 1:
        raise DataError(f"calibration: rows per tile must be at least 1, got {max_rows}")
    replication = {layer.name: int(mapping.replication.get(layer.name, 1)) for layer in layers}
    backend = RecordingBackend(layers, replication, max_rows)
    run_network(graph, backend, x, batch=batch)
    out = []
    for tile_id, placement in enumerate(mapping.placements):
        b = placement.block
        sample = backend.samples.get((b.layer, placement.replica))
        if sample is None or sample.rows is None:
            out.append(np.zeros((0, b.rows), np.float32))
            continue
        order = np.argsort(sample.mvms, kind="stable")
        rows = np.ascontiguousarray(sample.rows[order, b.row_start:b.row_stop])
        if not np.isfinite(rows).all():
            raise DataError(f"calibration: tile {tile_id} (layer {b.layer!r}): its inputs on the "
                            f"calibration data contain NaN or infinity")
        out.append(rows)
    return out
