"""What the crossbars actually see: per MVM, its PWM length and its data-dependent energy.

The timed model does not guess how long an MVM takes or what it costs: it watches the real
input vectors go through the tiles. `ActivityRecorder` sits in front of the functional path's
matrix backend (the same tiles, the same kernels, so the values are the functional path's to the
bit) and, for every block of every MVM, turns the input slice into the DAC codes the tile
applies and keeps four numbers:

- cycles: from the PWM steps of that vector (its largest |code|, or the full window) x phases;
- DAC energy: pJ per PWM step per driven row, summed over the rows each phase drives;
- ADC energy: per column and phase, following the window for a CCO ADC (`TimingParams.adc_pj`);
- array energy: each conducting device dissipates V_read^2 G per ns, so one phase costs
  sum_i |code_i| x step_ns x (sum_j G_ij over the devices that phase reads) x the description's
  pJ per (uS x ns). The conductances are those the array reads at the tile's drift time
  (programmed, drifted, with read noise): `Tile.row_conductances`.

Records are kept per (inference, layer) as prefix sums over the layer's MVMs, so the model can
ask "how many cycles do MVMs p0..p1 of this block take" with two lookups, and are dropped when
the inference leaves the chip.

A timing-only input (one the model streams past the user's inputs to measure the steady state)
re-uses the record of a real one (`replay`): the same vectors, so the same PWM steps and energy
per MVM. Only which replica of a replicated layer takes each MVM differs (MVM g goes to replica
g % R, and g counts on across inputs), so each MVM's figures move to the replica that takes it
this time, read from the block that holds the same rows and columns there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from chipsim.timing.params import TimingParams


@dataclass
class BlockSpec:
    """One placement as the recorder needs it."""

    index: int  # tile id = index in mapping.placements
    replica: int
    row_start: int
    row_stop: int
    cols: int
    tile: Any
    g_pos: np.ndarray  # (block rows,) uS
    g_neg: np.ndarray
    col_start: int = 0


@dataclass
class LayerActivity:
    """Prefix sums over a layer's MVMs of one inference, one row per placement of the layer."""

    cycles: np.ndarray  # (placements, mvms + 1) int64
    array_pj: np.ndarray  # (placements, mvms + 1)
    dac_pj: np.ndarray
    adc_pj: np.ndarray


class ActivityRecorder:
    """A matrix backend that forwards to `backend` and records what each block's MVMs cost."""

    def __init__(self, backend: Any, layers: Sequence[Any], mapping: Any, tiles: Sequence[Any],
                 params: TimingParams) -> None:
        self.backend = backend
        self.params = params
        self.layers = {layer.name: layer for layer in layers}
        self.replicas = {layer.name: mapping.replication.get(layer.name, 1) for layer in layers}
        self.blocks: dict[str, list[BlockSpec]] = {layer.name: [] for layer in layers}
        for i, pl in enumerate(mapping.placements):
            gp, gn = (g.astype(np.float32) for g in tiles[i].row_conductances())
            b = pl.block
            self.blocks[b.layer].append(BlockSpec(i, pl.replica, b.row_start, b.row_stop,
                                                  b.col_stop - b.col_start, tiles[i], gp, gn,
                                                  b.col_start))
        self._windows: dict[str, list[_Window]] = {layer.name: [] for layer in layers}
        self._siblings = {name: _siblings(specs, self.replicas[name])
                          for name, specs in self.blocks.items()}
        self.done: dict[tuple[int, str], LayerActivity] = {}
        # (input sign, weight polarity) pairs read in each phase
        self._phase_pairs = [(s, w) for ins, ws in params.phases
                             for s in ("positive", "negative") if ins in (s, "both")
                             for w in ("positive", "negative") if ws in (w, "both")]
        self._drives = {s: sum(ins in (s, "both") for ins, _ in params.phases)
                        for s in ("positive", "negative")}

    def layer_forward(self, name: str, x_rows: np.ndarray, mvm_indices: np.ndarray) -> np.ndarray:
        y = self.backend.layer_forward(name, x_rows, mvm_indices)
        self.record(name, np.asarray(x_rows, dtype=np.float32), np.asarray(mvm_indices))
        return y

    def record(self, name: str, x_rows: np.ndarray, g: np.ndarray) -> None:
        """Account the MVMs numbered `g` (docs/contracts.md) of layer `name` on input rows x."""
        p = self.params
        mvms, replicas = self.layers[name].mvms, self.replicas[name]
        window = self._window(name, int(g.min()) // mvms, int(g.max()) // mvms + 1)
        at = g - window.first * mvms
        for k, b in enumerate(self.blocks[name]):
            sel = slice(None) if replicas == 1 else np.flatnonzero(g % replicas == b.replica)
            x = x_rows[sel, b.row_start:b.row_stop]
            if not len(x):
                continue
            codes, _ = b.tile.dac(x, int(g[sel][0]))
            pos = np.maximum(codes, 0)
            neg = np.maximum(-codes, 0)
            if p.window == "data":
                steps = np.ceil(np.maximum(pos.max(axis=1), neg.max(axis=1)) - 1e-3)
            else:
                steps = np.zeros(len(codes))
            sums = {"positive": pos, "negative": neg}
            gw = {"positive": b.g_pos, "negative": b.g_neg}
            dac = sum(self._drives[s] * sums[s].sum(axis=1, dtype=np.float64) for s in sums)
            array = sum(sums[s] @ gw[w] for s, w in self._phase_pairs)
            pwm = p.pwm_steps(steps)
            window.cycles[k, at[sel]] = p.mvm_cycles(pwm, b.cols)
            window.adc_pj[k, at[sel]] = p.adc_pj(pwm, b.cols)
            window.array_pj[k, at[sel]] = array * (p.step_ns * p.array_pj_per_us_ns)
            window.dac_pj[k, at[sel]] = dac * p.dac_pj_per_row_step

    def _window(self, name: str, first: int, stop: int) -> "_Window":
        for window in self._windows[name]:
            if window.first <= first and stop <= window.stop:
                return window
        window = _Window(first, stop, len(self.blocks[name]), self.layers[name].mvms)
        self._windows[name].append(window)
        return window

    def take(self, inference: int, name: str) -> LayerActivity:
        """The record of one layer of one inference, as prefix sums over its MVMs."""
        key = (inference, name)
        if key not in self.done:
            mvms = self.layers[name].mvms
            window = next(w for w in self._windows[name] if w.first <= inference < w.stop)
            cut = slice((inference - window.first) * mvms, (inference - window.first + 1) * mvms)

            def prefix(a: np.ndarray) -> np.ndarray:
                out = np.zeros((a.shape[0], mvms + 1), dtype=a.dtype)
                np.cumsum(a[:, cut], axis=1, out=out[:, 1:])
                return out

            self.done[key] = LayerActivity(prefix(window.cycles), prefix(window.array_pj),
                                           prefix(window.dac_pj), prefix(window.adc_pj))
        return self.done[key]

    def replay(self, act: LayerActivity, name: str, source: int, target: int) -> LayerActivity:
        """The record `act` of input `source` of layer `name`, as input `target` would leave it
        with the same vectors: each MVM charged to the replica that takes it for `target`."""
        replicas, mvms = self.replicas[name], self.layers[name].mvms
        if (target - source) * mvms % replicas == 0:
            return act
        p = np.arange(mvms)
        siblings = self._siblings[name]  # (placements, replicas): same block, each replica
        own = np.array([b.replica for b in self.blocks[name]])[:, None]
        rows = siblings[:, (source * mvms + p) % replicas]  # who did MVM p for `source`
        takes = (target * mvms + p) % replicas == own  # who does it for `target`

        def moved(prefix: np.ndarray) -> np.ndarray:
            per_mvm = np.diff(prefix, axis=1)[rows, p]
            out = np.zeros_like(prefix)
            np.cumsum(np.where(takes, per_mvm, 0), axis=1, out=out[:, 1:])
            return out

        return LayerActivity(moved(act.cycles), moved(act.array_pj), moved(act.dac_pj),
                             moved(act.adc_pj))

    def forget(self, inference: int) -> None:
        """Drop every record of an inference that has left the chip."""
        for name in self.layers:
            self.done.pop((inference, name), None)
            for window in self._windows[name]:
                if window.first <= inference < window.stop:
                    window.left -= 1
            self._windows[name] = [w for w in self._windows[name] if w.left > 0]


def _siblings(specs: Sequence[BlockSpec], replicas: int) -> np.ndarray:
    """Per placement and replica r: the placement of the same rows and columns in replica r
    (the placement itself where replica r tiles the layer differently)."""
    where = {(b.replica, b.row_start, b.row_stop, b.col_start, b.cols): k
             for k, b in enumerate(specs)}
    return np.array([[where.get((r, b.row_start, b.row_stop, b.col_start, b.cols), k)
                      for r in range(replicas)] for k, b in enumerate(specs)], dtype=np.int64)


class _Window:
    """Per-MVM records of one layer for the inputs first .. stop - 1, one row per placement."""

    def __init__(self, first: int, stop: int, placements: int, mvms: int) -> None:
        self.first, self.stop, self.left = first, stop, stop - first
        size = (placements, (stop - first) * mvms)
        self.cycles = np.zeros(size, dtype=np.int64)
        self.array_pj = np.zeros(size)
        self.dac_pj = np.zeros(size)
        self.adc_pj = np.zeros(size)
