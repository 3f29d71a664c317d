"""The network as the chip runs it: every placement of a Mapping is its own crossbar tile.

A mapped layer is a grid of blocks, possibly in several copies (replicas). Each placement
becomes a `chipsim.tile.Tile` whose tile id is the placement's index in the mapping, programmed
from the run's seed: its own conductances, programming noise, drift exponents, read noise,
input range and output noise. MVM number g of a layer runs on replica g % R; within that replica
every block computes its part with g as the tile's input number, the partial sums of a column
of blocks are added in float32 in ascending row-block order, then the bias (docs/contracts.md).
`AnalogNetwork.layer_forward` is that step, reusable by the cycle-level model so that both give
the same bits.

`AnalogOptions` switches the non-idealities one by one; `AnalogOptions.ideal()` turns them all
off, and then the analog network equals the float reference to round-off.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from chipsim.arch.faults import stuck_states, unusable_cores
from chipsim.errors import ChipsimWarning, MappingError
from chipsim.functional.executor import run_network
from chipsim.functional.switches import NON_IDEALITIES
from chipsim.tile import Tile, TileConfig

F32 = np.float32


@dataclass(frozen=True)
class AnalogOptions:
    """Which non-idealities of the tiles are on (all by default)."""

    programming_noise: bool = True
    drift: bool = True
    read_noise: bool = True
    dac_quantization: bool = True
    adc_quantization: bool = True
    output_noise: bool = True
    adc_saturation: bool = True
    #: DAC input range rule ("max_abs" or "calibrated"); None keeps the chip description's
    input_range: str | None = None
    #: one weight scale per tile ("tile", s = g_max / max|W|) or per column ("column");
    #: None keeps the tile layer's default
    weight_scaling: str | None = None
    #: DAC rounding ("deterministic" or "stochastic"); None keeps the chip description's
    dac_rounding: str | None = None

    @classmethod
    def ideal(cls) -> "AnalogOptions":
        """Every non-ideality off: the tiles compute x @ W to float32 round-off.

        The input range follows each vector (max |x|), so no input is clipped either.
        """
        return cls(input_range="max_abs", **{name: False for name in NON_IDEALITIES})

    @classmethod
    def io_only(cls) -> "AnalogOptions":
        """Only the converters and output noise: exact weights (no programming noise or drift)."""
        return cls(programming_noise=False, drift=False, read_noise=False)


def placement_stuck(chip: Any, placement: Any) -> np.ndarray | None:
    """The stuck-device map of the cells a placement occupies on its core (None: none stuck)."""
    states = stuck_states(chip, placement.core)
    if states is None:
        return None
    (r0, r1), (c0, c1) = placement.row_range, placement.col_range
    part = states[:, :, r0:r1, c0:c1]
    return part if part.any() else None


def tile_config(chip: Any, options: AnalogOptions, rows: int, cols: int) -> TileConfig:
    """The tile settings of `chip` for a block of rows x cols, with `options` applied."""
    changes = {name: getattr(options, name) for name in NON_IDEALITIES}
    for name in ("input_range", "weight_scaling", "dac_rounding"):
        if getattr(options, name) is not None:
            changes[name] = getattr(options, name)
    return TileConfig.from_chip(chip, rows=rows, cols=cols, **changes)


@dataclass
class _Part:
    """One block of one replica: its rows of the layer input and its tile."""

    row_start: int
    row_stop: int
    tile: Tile


@dataclass
class _ColumnBlock:
    """The blocks of one replica that produce output columns col_start..col_stop."""

    col_start: int
    col_stop: int
    parts: list[_Part]  # ascending row_start: the order partial sums are added in


class AnalogNetwork:
    """A lowered network placed on a chip by `mapping`, programmed from `seed`.

    `drift(t)` reads all tiles t seconds after programming; `run(x)` classifies a data set;
    `layer_forward(name, x_rows, mvm_indices)` is one layer's MVMs. With `read_once` the
    tiles keep only what reads right after programming need (`Tile.release_device_state`):
    no drift, and a fraction of the memory.
    """

    def __init__(self, graph, layers: Sequence, mapping, chip: Any, seed: int = 0,
                 options: AnalogOptions | None = None, read_once: bool = False) -> None:
        self.graph, self.seed = graph, int(seed)
        self.options = options or AnalogOptions()
        self.layers = {layer.name: layer for layer in layers}
        self.replication = {name: int(mapping.replication.get(name, 1)) for name in self.layers}
        self.tiles: list[Tile] = []
        #: tile ids on cores the chip's faults killed or cut off: they add nothing
        self.silent: list[int] = []
        lost = unusable_cores(chip)
        plans: dict[str, dict[int, dict[tuple[int, int], list[_Part]]]] = {}
        for tile_id, placement in enumerate(mapping.placements):
            block = placement.block
            layer = self.layers.get(block.layer)
            if layer is None:
                raise MappingError(f"mapping placement {tile_id}: layer {block.layer!r} is not in "
                                   f"the graph (layers: {', '.join(self.layers)})")
            weights = layer.weight[block.row_start:block.row_stop, block.col_start:block.col_stop]
            config = tile_config(chip, self.options, block.rows, block.cols)
            if (placement.calibration or {}).get("input_range") is not None \
                    and self.options.input_range is None:
                config = config.replace(input_range="calibrated")  # a calibrated DAC range
            tile = Tile(config, weights, tile_id=tile_id, seed=self.seed,
                        stuck=placement_stuck(chip, placement))
            if placement.calibration:
                apply_calibration(tile, placement.calibration, f"mapping placement {tile_id}")
            if read_once:
                tile.release_device_state()
            self.tiles.append(tile)
            columns = plans.setdefault(block.layer, {}).setdefault(placement.replica, {})
            parts = columns.setdefault((block.col_start, block.col_stop), [])
            if placement.core in lost:  # a dead or cut-off core: its partial sums never arrive
                self.silent.append(tile_id)
            else:
                parts.append(_Part(block.row_start, block.row_stop, tile))
        self._plan: dict[str, list[list[_ColumnBlock]]] = {}
        for name, layer in self.layers.items():
            replicas = plans.get(name, {})
            if sorted(replicas) != list(range(self.replication[name])):
                raise MappingError(f"mapping: layer {name!r} has replicas {sorted(replicas)}, "
                                   f"expected 0..{self.replication[name] - 1}")
            self._plan[name] = [
                [_ColumnBlock(c0, c1, sorted(parts, key=lambda p: p.row_start))
                 for (c0, c1), parts in sorted(replicas[r].items())]
                for r in range(self.replication[name])
            ]
        self._gdc_factors = [tile.gdc_factor for tile in self.tiles]
        self._gdc = True
        if self.silent:
            cores = sorted({mapping.placements[i].core for i in self.silent})
            warnings.warn(f"{len(self.silent)} placements sit on cores the chip's faults made "
                          f"unusable ({', '.join(f'{c} {lost[c]}' for c in cores)}): their "
                          f"outputs are lost (zeros); remap with --faults to avoid them",
                          ChipsimWarning, stacklevel=2)

    # ------------------------------------------------------------------ device state
    def drift(self, t_seconds: float) -> None:
        """Read every tile `t_seconds` after programming (drift and read noise at that time)."""
        for tile in self.tiles:
            tile.drift(float(t_seconds))
        self._gdc_factors = [tile.gdc_factor for tile in self.tiles]
        self.set_gdc(self._gdc)

    def set_gdc(self, on: bool) -> None:
        """Global drift compensation on or off, without reprogramming or re-reading the tiles."""
        self._gdc = bool(on)
        for tile, factor in zip(self.tiles, self._gdc_factors):
            tile.set_gdc_factor(factor if self._gdc else 1.0)

    # ------------------------------------------------------------------ computing
    def layer_forward(self, name: str, x_rows: np.ndarray, mvm_indices: np.ndarray) -> np.ndarray:
        """MVMs `mvm_indices` (k,) of layer `name` on inputs x_rows (k, rows) -> (k, cols).

        Each MVM g goes to replica g % R; blocks' partial sums are added in float32 in ascending
        row-block order, then the bias. Blocks of one replica that read the same input rows
        with the same DAC settings share one conversion of them, as the tiles' `dac` allows.
        """
        layer = self.layers[name]
        x_rows = np.asarray(x_rows, dtype=F32)
        mvm_indices = np.ascontiguousarray(mvm_indices, dtype=np.int64)
        out = np.empty((x_rows.shape[0], layer.cols), dtype=F32)
        replicas = self._plan[name]
        for r, column_blocks in enumerate(replicas):
            if len(replicas) == 1:
                x, idx, sel = x_rows, mvm_indices, slice(None)
            else:
                sel = np.flatnonzero(mvm_indices % len(replicas) == r)
                if sel.size == 0:
                    continue
                x, idx = x_rows[sel], mvm_indices[sel]
            converted: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
            for cb in column_blocks:
                acc = np.zeros((len(idx), cb.col_stop - cb.col_start), dtype=F32)
                for n, part in enumerate(cb.parts):  # ascending row blocks: fixed sum order
                    tile = part.tile
                    key = (part.row_start, part.row_stop, tile.dac_settings())
                    if key not in converted:
                        converted[key] = tile.dac(x[:, part.row_start:part.row_stop], indices=idx)
                    tile.convert(*converted[key], out=acc, add=n > 0, indices=idx)
                out[sel, cb.col_start:cb.col_stop] = acc
        if layer.bias is not None:
            out += np.asarray(layer.bias, dtype=F32)
        return out

    def run(self, x: np.ndarray, batch: int = 256, gdc: bool | None = None,
            progress: bool = False, desc: str = "") -> np.ndarray:
        """The network's output for every sample of x (GDC as last set unless `gdc` is given)."""
        if gdc is not None:
            self.set_gdc(gdc)
        return run_network(self.graph, self, x, batch=batch, progress=progress, desc=desc)


CALIBRATION_KEYS = ("input_range", "column_scale")


def apply_calibration(tile: Tile, calibration: dict, where: str) -> None:
    """Give `tile` a placement's calibration (chipsim.calibration writes it) and reprogram it.

    `input_range`: the DAC's full-scale |x| (used when the DAC range is fixed, not per vector);
    `column_scale`: weight units per full-scale conductance, one per column, at least the
    column's max |w| so no conductance passes g_max; the ADC output is scaled back digitally.
    """
    unknown = sorted(set(calibration) - set(CALIBRATION_KEYS))
    if unknown:
        raise MappingError(f"{where}: calibration: unknown field {unknown[0]!r} "
                           f"(fields: {', '.join(CALIBRATION_KEYS)})")
    if calibration.get("input_range") is not None:
        r = calibration["input_range"]
        # YAML integers are unbounded: np.isfinite(2**70) raises TypeError, float(10**400) overflows
        number = isinstance(r, (int, float)) and not isinstance(r, bool)
        value = float(r) if number and (isinstance(r, float) or abs(r) < 2**1000) else math.inf
        if not number or not (math.isfinite(value) and value > 0):
            shown = repr(r) if len(repr(r)) <= 40 else repr(r)[:37] + "..."
            raise MappingError(f"{where}: calibration.input_range: expected a number > 0, "
                               f"got {shown}")
        tile.input_range = value
    if calibration.get("column_scale") is not None:
        try:
            scale = np.asarray(calibration["column_scale"], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an integer of 400 digits
            scale = np.empty(0)
        if scale.shape != (tile.config.cols,) or not np.isfinite(scale).all():
            raise MappingError(f"{where}: calibration.column_scale: expected {tile.config.cols} "
                               f"finite numbers, one per column of the block")
        floor = np.abs(tile.weights.astype(np.float64)).max(axis=0)
        low = np.flatnonzero((scale < floor) | (scale <= 0))
        if low.size:
            j = int(low[0])
            raise MappingError(f"{where}: calibration.column_scale[{j}] = {scale[j]:g} is below "
                               f"the column's max |w| {floor[j]:g}: conductances would pass g_max")
        tile.column_scale = scale
        tile.program()
