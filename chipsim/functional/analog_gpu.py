"""The mapped network on many chips and drift times at once, on the GPU (`--backend gpu`).

`StackedNetwork` is `AnalogNetwork` with every tile a `TileStack`: states are (time, GDC, chip)
triples, and the network runs all of them in one pass by folding the states into the batch
(state-major: images 0..n-1 of state 0, then of state 1, ...). Digital ops act per sample, so
they run unchanged on the folded batch; on a GPU they run on CuPy arrays (numpy's functions
dispatch to CuPy), so activations never leave the GPU between layers, and only the logits come
back. Each state's MVMs keep the numbers they have in a single-chip run (the first state's
numbers, which are the unfolded run's), so state (t, g, chip) gives the logits of
`AnalogNetwork(seed=chip)` after drift(t) with GDC g, to the round-off `chipsim.tile_gpu` states.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from chipsim.functional.analog import AnalogNetwork, AnalogOptions
from chipsim.functional.executor import batches, check_inputs, run_graph
from chipsim.kernels.cuda import array_module, to_numpy
from chipsim.tile_gpu import TileStack

F32 = np.float32
FOLDED_IMAGES = 16384  # images (all states together) per pass through the network


class StackedNetwork:
    """A lowered network placed by `mapping`, programmed from each of `seeds` (on the CPU,
    as `AnalogNetwork`), its tiles stacked on the GPU; `read(times, gdc)` sets the states."""

    def __init__(self, graph, layers: Sequence, mapping, chip, seeds: Sequence[int],
                 options: AnalogOptions | None = None) -> None:
        self.xp = array_module()
        nets = [AnalogNetwork(graph, layers, mapping, chip, seed=s, options=options)
                for s in seeds]
        self.graph, self.seeds = graph, list(seeds)
        self.layers = nets[0].layers
        self.stacks = [TileStack([net.tiles[i] for net in nets])
                       for i in range(len(nets[0].tiles))]
        self._plan = nets[0]._plan  # blocks, replicas and row order, the same on every chip
        self.states = len(self.seeds)

    def read(self, times: Sequence[float], gdc: Sequence[bool]) -> None:
        """States (time, GDC, chip) for every time, GDC setting and seed, time slowest."""
        for stack in self.stacks:
            stack.read(times, gdc)
        self.states = len(times) * len(gdc) * len(self.seeds)

    def layer_forward(self, name: str, x_rows, mvm_indices: np.ndarray):
        """AnalogNetwork.layer_forward of every state: x_rows (S * k, rows), state-major."""
        xp, layer = self.xp, self.layers[name]
        states = self.states
        k = x_rows.shape[0] // states
        x = x_rows.reshape(states, k, x_rows.shape[1])
        numbers = np.ascontiguousarray(mvm_indices[:k], dtype=np.int64)  # state 0's: everyone's
        out = xp.empty((states, k, layer.cols), dtype=F32)
        replicas = self._plan[name]
        for r, column_blocks in enumerate(replicas):
            if len(replicas) == 1:
                xr, idx, sel = x, numbers, slice(None)
            else:
                sel = np.flatnonzero(numbers % len(replicas) == r)
                if sel.size == 0:
                    continue
                xr, idx = x[:, xp.asarray(sel)], numbers[sel]
                sel = xp.asarray(sel)
            idx = xp.asarray(idx)
            converted: dict[tuple, tuple] = {}
            for cb in column_blocks:
                acc = xp.zeros((states, idx.shape[0], cb.col_stop - cb.col_start), dtype=F32)
                for n, part in enumerate(cb.parts):  # ascending row blocks: fixed sum order
                    stack = self.stacks[part.tile.tile_id]
                    key = (part.row_start, part.row_stop, part.tile.dac_settings())
                    if key not in converted:  # (kernels take contiguous rows)
                        block = xp.ascontiguousarray(xr[:, :, part.row_start:part.row_stop])
                        converted[key] = stack.dac(block, idx)
                    stack.convert(*converted[key], idx, acc, n > 0)
                out[:, sel, cb.col_start:cb.col_stop] = acc
        if layer.bias is not None:
            out += xp.asarray(np.asarray(layer.bias, dtype=F32))
        return out.reshape(states * k, layer.cols)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Logits (S, N, ...) of every state for the samples x (on the host)."""
        xp = self.xp
        x = check_inputs(self.graph, x)
        (input_name,) = self.graph.inputs
        per_pass = max(1, FOLDED_IMAGES // self.states)
        outs = []
        for part in batches(x.shape[0], per_pass):
            images = xp.asarray(x[part])
            folded = xp.broadcast_to(images[None], (self.states,) + images.shape)
            folded = xp.ascontiguousarray(folded).reshape((-1,) + images.shape[1:])
            y = run_graph(self.graph, self, {input_name: folded}, part.start)[0]
            y = to_numpy(y)
            outs.append(y.reshape((self.states, part.stop - part.start) + y.shape[1:]))
        return np.concatenate(outs, axis=1)
