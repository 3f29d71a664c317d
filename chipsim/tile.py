"""A crossbar tile: one array of PCM unit cells with its converters and digital correction.

A tile holds one weight matrix W (rows x cols) as conductances. An input vector x enters through
the DAC (each value becomes a signed pulse-width code within the tile's input range), the array
multiplies it by the conductances in one step (currents add along each column), the column's
result picks up noise, the ADC turns it into a code (saturating at its full scale), and a small
digital unit scales the code back to weight units: y ~= x @ W. Think of a water-meter reading:
the meter is coarse and a little noisy, and the bill is the reading times a known price.

Units: "normalized" means inputs scaled to |x| <= 1 by the input range and weights scaled to
|w| <= 1 by the column scale, so one full-scale input through one full-scale weight gives 1.
The ADC full scale (`out_bound`) and the output noise are given in these units.

Read modes (one phase, four phases, ...) are timing and energy only: the chip's CCO ADC counters
integrate over all phases of a read mode, so one MVM is one conversion of the full signed result
(one GEMM with the conductance difference, one output-noise draw per output), whatever the mode.

The array's read-out resolution: at each drift() the effective conductance differences are
stored on an integer grid of at most (2^24 - 1) / (max DAC code x rows) levels (516 for 256 rows
and 8-bit inputs, about 0.05 uS for 25 uS devices, far below the PCM noise). DAC codes are small
integers too, so the float32 GEMM of the two is exact in any summation order: a batch of one and
a batch of 1,000 give the same bits, whatever BLAS kernel runs. Small batches therefore run
through one fused Numba kernel (DAC, MVM loop, ADC), large ones through a BLAS GEMM between two
kernels spread over threads, with identical results. With DAC quantization off (`ideal`) the
GEMM runs in float64 instead (equal to float32 round-off, not bit for bit across batch sizes).

Large batches go through in chunks of rows, each chunk's codes and sums in per-thread scratch
buffers reused from call to call. A fresh array of a megabyte often comes straight from the
operating system (the C allocator hands large blocks back after use) and then costs a page fault
for every 4 KiB first written: with codes and sums fresh on every call that was a third of a
256 x 256 tile's time at batch 1024. Chunks keep the scratch a fixed size whatever the batch.
A chunk of 1,024 rows per thread reads a large matrix's conductances half as often as one of
512 (2048 x 2048 weights at batch 1024: 0.82 of numpy against 0.69); 2,048 is slower again.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from chipsim.arch.faults import STUCK_RESET, STUCK_SET
from chipsim.device import pcm, pulsed
from chipsim.errors import DataError, DescriptionError
from chipsim.kernels import rng
from chipsim.kernels import tile as kernels
from chipsim.kernels.threads import run_rows, thread_count
from chipsim.tile_update import PulsedArray, UpdateConfig

_EXACT = 2**24 - 1  # largest integer up to which every float32 integer sum is exact
_PARALLEL_BATCH = 32  # from this batch size on: BLAS GEMM, kernels spread over threads
_MIN_LEVELS = 32  # coarsest read-out grid accepted (levels per max |conductance difference|)
_CHUNK_ROWS = 1024  # rows per thread of a large batch converted together (module docstring)


@dataclass(frozen=True)
class TileConfig:
    """The periphery and device settings of one crossbar tile, and which non-idealities are on."""

    rows: int = 256
    cols: int = 256
    dac_bits: int = 8  # signed: codes -(2^(b-1)-1) .. 2^(b-1)-1 (pcm-noise.md setting: 8 bit)
    adc_bits: int = 8  # signed, over [-out_bound, out_bound] (pcm-noise.md setting: 8 bit)
    input_range: Literal["max_abs", "calibrated"] = "max_abs"  # each vector's max |x|, or the tile's
    out_bound: float = 12.0  # ADC full scale, normalized units (IBM RPU convention: 12)
    output_noise_std: float = 0.06  # normalized units (pcm-noise.md reference setting)
    device: pcm.PCMParams = field(default_factory=pcm.PCMParams)
    devices_per_polarity: int = 1  # parallel devices whose currents add, programmed in turn
    weight_scaling: Literal["tile", "column"] = "column"  # one max |W| per tile, or per column
    gdc: bool = True  # global drift compensation
    programming_noise: bool = True
    drift: bool = True
    read_noise: bool = True
    dac_quantization: bool = True
    # how the DAC rounds x / step to a code (forward and transposed reads): to the nearest code,
    # or up with probability equal to the fraction (unbiased; Gokmen et al.'s 5-bit inputs)
    dac_rounding: Literal["deterministic", "stochastic"] = "deterministic"
    # whether the transposed read (backward) quantizes its inputs; None: as dac_quantization.
    # Apart only to tell which read an input resolution matters in (Gokmen et al.'s study)
    backward_dac_quantization: bool | None = None
    adc_quantization: bool = True
    output_noise: bool = True
    adc_saturation: bool = True  # clip at +-out_bound
    # a training tile: pulsed devices hold the weights (see chipsim.tile_update), None: PCM
    training: UpdateConfig | None = None
    bound_management: bool = True  # backward: halve the inputs and repeat while the ADC saturates

    def __post_init__(self) -> None:
        checks = [
            ("rows", self.rows >= 1), ("cols", self.cols >= 1),
            ("dac_bits", 2 <= self.dac_bits <= 16), ("adc_bits", 2 <= self.adc_bits <= 24),
            ("input_range", self.input_range in ("max_abs", "calibrated")),
            ("out_bound", self.out_bound > 0), ("output_noise_std", self.output_noise_std >= 0),
            ("devices_per_polarity", self.devices_per_polarity >= 1),
            ("weight_scaling", self.weight_scaling in ("tile", "column")),
            ("dac_rounding", self.dac_rounding in ("deterministic", "stochastic")),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"TileConfig.{name}: invalid value {getattr(self, name)!r}")
        levels = _EXACT // (self.dac_max_code * self.rows)
        if levels < _MIN_LEVELS:
            raise ValueError(f"TileConfig: {self.rows} rows x {self.dac_bits}-bit inputs leave "
                             f"{levels} conductance levels for exact float32 sums "
                             f"(at least {_MIN_LEVELS} needed): use fewer rows per tile")

    @classmethod
    def ideal(cls, rows: int = 256, cols: int = 256, **kwargs: Any) -> TileConfig:
        """A tile without noise, drift or quantization: forward(x) == x @ W to float32 round-off."""
        off = dict(programming_noise=False, drift=False, read_noise=False, dac_quantization=False,
                   adc_quantization=False, output_noise=False, adc_saturation=False, gdc=False)
        return cls(rows=rows, cols=cols, **{**off, **kwargs})

    def replace(self, **changes: Any) -> TileConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_chip(cls, chip: Any, **overrides: Any) -> TileConfig:
        """The tile of one core of `chip` (a `chipsim.arch.Chip`). Settings the description does
        not hold (the non-ideality switches) keep their defaults unless given in `overrides`.
        The read mode does not enter: it sets only time and energy (see the module docstring)."""
        cores = chip.cores
        if cores.unit_cell.polarity != "differential":
            raise DescriptionError(f"{chip.name}: cores.unit_cell.polarity: the tile models "
                                   f"differential cells only, got {cores.unit_cell.polarity!r}")
        if not cores.dac.signed:
            raise DescriptionError(f"{chip.name}: cores.dac.signed: the tile models signed "
                                   f"inputs only, got false")
        for key, conv in (("dac", cores.dac), ("adc", cores.adc)):
            if conv.bits < 2:
                raise DescriptionError(f"{chip.name}: cores.{key}.bits: the tile models signed "
                                       f"codes of at least 2 bits (a sign and a magnitude), "
                                       f"got {conv.bits}")
        dev, coef = cores.device, cores.device.coefficients
        given = {name: tuple(getattr(coef, name)) for name in
                 ("prog_noise", "drift_nu_mean", "drift_nu_std", "read_noise")
                 if getattr(coef, name) is not None}
        device = pcm.PCMParams(g_max=dev.g_max_us, t0=dev.t0_s, t_read=dev.t_read_s, **given)
        settings = dict(
            rows=cores.rows, cols=cores.cols, dac_bits=cores.dac.bits, adc_bits=cores.adc.bits,
            input_range=cores.dac.input_range, dac_rounding=cores.dac.rounding,
            out_bound=cores.adc.full_scale,
            output_noise_std=cores.adc.noise_std, device=device,
            devices_per_polarity=cores.unit_cell.devices_per_polarity,
            weight_scaling=cores.unit_cell.weight_scale,
        )
        if chip.training is not None:
            t = chip.training
            settings["training"] = UpdateConfig(
                device=pulsed.PulsedParams(**t.device.model_dump()), bl=t.bl,
                update_management=t.update_management)
        config = {**settings, **overrides}
        dac_max = 2 ** (config["dac_bits"] - 1) - 1
        if dac_max * config["rows"] * _MIN_LEVELS > _EXACT:
            raise DescriptionError(
                f"{chip.name}: cores.dac.bits: {config['rows']} rows of {config['dac_bits']}-bit "
                f"inputs leave fewer than {_MIN_LEVELS} conductance levels for exact float32 "
                f"sums; at most {_EXACT // (dac_max * _MIN_LEVELS)} rows per tile at this "
                f"resolution (fewer DAC bits or fewer cores.rows)")
        return cls(**config)

    @property
    def backward_quantized(self) -> bool:
        """Whether the transposed read rounds its inputs to DAC codes."""
        return self.dac_quantization if self.backward_dac_quantization is None else \
            self.backward_dac_quantization

    @property
    def dac_max_code(self) -> int:
        return 2 ** (self.dac_bits - 1) - 1

    @property
    def adc_max_code(self) -> int:
        return 2 ** (self.adc_bits - 1) - 1

    @property
    def g_cell_max(self) -> float:
        """Largest conductance of one polarity of a cell (uS): its devices add."""
        return self.devices_per_polarity * self.device.g_max


class Tile:
    """One crossbar holding `weights` (rows x cols): program(), drift(t), forward(x), and the
    training cycles backward(d) and update(x, d, lr).

    With `config.training` the weights live in pulsed devices (`chipsim.tile_update`), in
    normalized units (column scale 1), without drift; else in PCM conductances.
    """

    def __init__(self, config: TileConfig, weights: np.ndarray, tile_id: int = 0, seed: int = 0,
                 stuck: np.ndarray | None = None):
        w = np.asarray(weights, dtype=np.float32)
        if w.shape != (config.rows, config.cols):
            raise DataError(f"tile {tile_id}: weights of shape {w.shape}, "
                            f"expected ({config.rows}, {config.cols})")
        if not np.all(np.isfinite(w)):
            raise DataError(f"tile {tile_id}: weights contain NaN or infinity")
        if tile_id < 0 or seed < 0:
            raise ValueError(f"tile_id and seed must be >= 0, got {tile_id} and {seed}")
        self.config, self.weights, self.tile_id, self.seed = config, w, tile_id, seed
        #: None, or per device (polarity, device, row, col) whether it is stuck
        #: (`chipsim.arch.faults`: WORKING, STUCK_SET at g_max, STUCK_RESET at zero); programming
        #: cannot move a stuck device
        self.stuck = None if stuck is None else self._check_stuck(stuck)
        max_abs = np.abs(w).max(axis=0) if config.weight_scaling == "column" else \
            np.full(config.cols, np.abs(w).max(), dtype=np.float32)
        if config.training is not None:  # device units are weight units
            max_abs = np.ones(config.cols, dtype=np.float32)
        self._array = None if config.training is None else \
            PulsedArray(config.training, w, tile_id, seed)
        self._stale = False  # the read-out grid lags the pulsed devices (after an update)
        #: weight units per unit of normalized conductance, per column; calibration may change
        #: it, and the next program() writes the weights with it
        self.column_scale = np.where(max_abs > 0, max_abs, 1.0).astype(np.float64)
        self._key_out = rng.key(seed, tile_id, rng.OUTPUT_NOISE)
        self._key_dac = rng.key(seed, tile_id, rng.DAC_ROUNDING)
        self._flags = np.array([config.input_range == "max_abs", config.dac_quantization,
                                config.adc_quantization, self._stochastic], dtype=np.int64)
        self._params = np.zeros(7, dtype=np.float64)
        self.column_offset = np.zeros(config.cols, dtype=np.float32)
        self.input_range = 1.0
        self.program()

    def _check_stuck(self, stuck: np.ndarray) -> np.ndarray:
        c = self.config
        shape = (2, c.devices_per_polarity, c.rows, c.cols)
        stuck = np.asarray(stuck, dtype=np.int8)
        if stuck.shape != shape:
            raise DataError(f"tile {self.tile_id}: stuck-device map of shape {stuck.shape}, "
                            f"expected {shape}")
        if c.training is not None:
            raise DataError(f"tile {self.tile_id}: stuck devices are modelled on PCM tiles only, "
                            f"not on pulsed training devices")
        return stuck

    @property
    def _stochastic(self) -> bool:
        """Whether the DAC rounds stochastically (only where it quantizes at all)."""
        return self.config.dac_quantization and self.config.dac_rounding == "stochastic"

    @property
    def input_range(self) -> float:
        """Full-scale |x| of the DAC when config.input_range == "calibrated"."""
        return self._input_range

    @input_range.setter
    def input_range(self, value: float) -> None:
        if not (np.isfinite(value) and value > 0):
            raise DataError(f"tile {self.tile_id}: input_range must be > 0, got {value}")
        self._input_range = float(value)
        self._params[kernels.P_RANGE] = value

    @property
    def column_offset(self) -> np.ndarray:
        """Added to each column's output in weight units (digital offset correction)."""
        return self._column_offset

    @column_offset.setter
    def column_offset(self, value: np.ndarray) -> None:
        offset = np.array(value, dtype=np.float32).reshape(-1)
        if offset.shape != (self.config.cols,) or not np.isfinite(offset).all():
            raise DataError(f"tile {self.tile_id}: column_offset needs {self.config.cols} "
                            f"finite values")
        offset.flags.writeable = False  # set it whole, so the kernels see every change
        self._column_offset = offset

    # ---------------------------------------------------------------------- device physics
    def program(self) -> None:
        """Write the weights as conductances (with programming noise) and read them at t = 0.

        Several devices per polarity are written one after another, each correcting from the
        verify read-outs of those before it (`_program_devices`), as the HERMES chip does.
        """
        c, p = self.config, self.config.device
        self._programmed_scale = np.array(self.column_scale, dtype=np.float64)
        if self._array is not None:  # pulsed devices: written exactly, read without noise
            self._array.write(self.weights)
            self._refresh(force=True)
            self.set_gdc_factor(1.0)
            return
        w_norm = self.weights / self._programmed_scale[None, :]
        cell_targets = pcm.differential_targets(w_norm, c.g_cell_max)
        target, self._g_prog = self._program_devices(cell_targets)
        self._nu = pcm.drift_exponents(target, self._device_normals(rng.DRIFT_NU), p)
        self._settle(0.0)
        self._gdc_baseline = self._gdc_readout()
        self.set_gdc_factor(1.0)

    def _program_devices(self, cell_targets: tuple[np.ndarray, np.ndarray]
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Device targets and programmed conductances, shape (2 polarities, n devices, rows,
        cols), for the (G+, G-) targets of the cells.

        Several devices of one polarity are programmed in turn, each from the verify read-outs
        of those before it (`pcm.program_in_turn`); the verify reads carry read noise when
        read_noise is on. Without programming noise each device gets an even, exact share.
        """
        c = self.config
        n = c.devices_per_polarity
        stuck = self._stuck_conductances()
        if not c.programming_noise and stuck is None:
            target = np.stack([pcm.split_targets(g, n) for g in cell_targets])
            return target, target
        if c.programming_noise:
            z_prog = self._device_normals(rng.PROGRAMMING)
        else:  # exact shares, the devices after a stuck one making up for it
            z_prog = np.zeros((2, n, c.rows, c.cols))
        verified = c.programming_noise and c.read_noise and n > 1  # one device: nothing to verify
        z_verify = self._device_normals(rng.VERIFY_READ) if verified else (None, None)
        stuck = (None, None) if stuck is None else stuck
        polarities = [pcm.program_in_turn(g, z_p, z_v, c.device, s)
                      for g, z_p, z_v, s in zip(cell_targets, z_prog, z_verify, stuck)]
        return (np.stack([target for target, _ in polarities]),
                np.stack([g_prog for _, g_prog in polarities]))

    def _stuck_conductances(self) -> np.ndarray | None:
        """Per device the conductance it is stuck at (uS), NaN where it works; None: none stuck."""
        if self.stuck is None or not self.stuck.any():
            return None
        g = np.full(self.stuck.shape, np.nan)
        g[self.stuck == STUCK_SET] = self.config.device.g_max
        g[self.stuck == STUCK_RESET] = 0.0
        return g

    def release_device_state(self) -> None:
        """Keep only what reads at the present time need: drop the programmed conductances and
        drift exponents (which only a later `drift` reads) and, when the DAC quantizes, the
        float conductances too (reads use the integer grid). A network read at one time, as
        the event model's is, then holds one float32 grid per tile: memory that grows with the
        weights, not with several float64 copies of them."""
        if self._array is not None or getattr(self, "_g_prog", None) is None:
            return
        self.row_conductances()  # the energy model reads them later
        self._g_prog = self._nu = None
        if self.config.dac_quantization:
            self.conductance_difference = None

    def drift(self, t_seconds: float) -> None:
        """Let the conductances drift to `t_seconds` after programming and read them there."""
        if not (np.isfinite(t_seconds) and t_seconds >= 0):
            raise DataError(f"tile {self.tile_id}: drift time must be >= 0 s, got {t_seconds}")
        if self._array is None and self._g_prog is None:
            raise DataError(f"tile {self.tile_id}: its device state was released "
                            "(release_device_state): it reads at one time only")
        if self._array is not None:  # pulsed devices are modelled without drift
            self.time = float(t_seconds)
            return
        self._settle(float(t_seconds))
        if self.config.gdc:
            now = self._gdc_readout()
            self.set_gdc_factor(self._gdc_baseline / now if now > 0 else 1.0)

    def set_gdc_factor(self, factor: float) -> None:
        """Scale this tile's outputs by `factor` (drift() sets it when GDC is on; 1.0: none)."""
        self.gdc_factor = factor
        self._col_factor = (self._programmed_scale * factor).astype(np.float32)

    def _device_normals(self, purpose: int, key: np.uint64 | None = None) -> np.ndarray:
        """One normal per device: index = crossbar row, element = (polarity, device, column)."""
        c = self.config
        n = c.devices_per_polarity
        key = rng.key(self.seed, self.tile_id, purpose) if key is None else key
        z = rng.normals(key, c.rows, 2 * n * c.cols).astype(np.float64)
        return z.reshape(c.rows, 2, n, c.cols).transpose(1, 2, 0, 3)

    def _settle(self, t: float) -> None:
        """Effective conductances at time t, and their integer grid for the exact GEMM."""
        c, p = self.config, self.config.device
        g = pcm.drifted(self._g_prog, self._nu, t, p) if c.drift else self._g_prog
        if c.read_noise:  # one draw per device and time: its own stream for each t
            key = rng.subkey(rng.key(self.seed, self.tile_id, rng.READ_NOISE),
                             int(np.float64(t).view(np.int64)))
            g = pcm.read(self._g_prog, g, self._device_normals(rng.READ_NOISE, key), t, p)
        self.time = t
        g_pos, g_neg = g[0].sum(axis=0), g[1].sum(axis=0)  # uS, (rows, cols): devices add
        self._load(g_pos - g_neg, g_pos, g_neg)

    def _refresh(self, force: bool = False) -> None:
        """Read the pulsed devices again when an update has changed them since the last read."""
        if not (self._stale or force):
            return
        self._stale = False
        self.weights = self._array.weights()
        self.time = 0.0
        # each cell's G+ or G- holds the whole weight, the other 0: the difference is g itself
        self._load(self.weights.astype(np.float64) * self.config.g_cell_max)

    def _load(self, difference: np.ndarray, g_pos: np.ndarray | None = None,
              g_neg: np.ndarray | None = None) -> None:
        """The array's conductances (uS) as its reads see them, G+ - G-, and their integer grid;
        `g_pos` and `g_neg` where they are not just the two signs of the difference."""
        c = self.config
        # per-row sums for the array's energy; for a pulsed array, when the event model asks
        self._row_conductances = None if g_pos is None else (g_pos.sum(axis=1), g_neg.sum(axis=1))
        self._g_norm64 = None  # worked out when a read without DAC quantization needs it
        self.conductance_difference = difference
        levels = _EXACT // (c.dac_max_code * c.rows)
        g_abs_max = float(np.abs(self.conductance_difference).max())
        g_unit = g_abs_max / levels if g_abs_max > 0 else 1.0
        self._grid = np.rint(self.conductance_difference / g_unit).astype(np.float32)
        prm = self._params
        prm[kernels.P_DAC_MAX] = c.dac_max_code
        prm[kernels.P_ANALOG_SCALE] = g_unit / (c.dac_max_code * c.g_cell_max) \
            if c.dac_quantization else 1.0 / c.dac_max_code
        prm[kernels.P_NOISE_STD] = c.output_noise_std if c.output_noise else 0.0
        prm[kernels.P_STEP] = c.out_bound / c.adc_max_code
        prm[kernels.P_ADC_MAX] = c.adc_max_code if c.adc_saturation else np.inf
        prm[kernels.P_CLIP] = c.out_bound if c.adc_saturation else np.inf

    def row_conductances(self) -> tuple[np.ndarray, np.ndarray]:
        """Per crossbar row, the summed conductance (uS, float64) of all its G+ devices and of
        all its G- devices, as the array reads them now (drift and read noise included)."""
        if self._row_conductances is None:  # a pulsed array: each cell is G+ or G-
            d = self.conductance_difference
            self._row_conductances = (np.maximum(d, 0.0).sum(axis=1),
                                      np.maximum(-d, 0.0).sum(axis=1))
        return self._row_conductances

    @property
    def _g_norm(self) -> np.ndarray:
        """Normalized conductance differences in float64: the read path without DAC codes."""
        if self._g_norm64 is None:
            self._g_norm64 = self.conductance_difference / self.config.g_cell_max
        return self._g_norm64

    def _gdc_readout(self) -> float:
        """Mean |output| of the tile's GDC read: each crossbar row driven alone at full scale.

        The read goes through the converters (output noise, ADC) as on the chip, where nothing
        else can read the array; its noise draws come from one fixed stream, so the factor is
        exactly 1 when the conductances have not changed.
        """
        c = self.config
        codes = np.eye(c.rows, dtype=np.float32) * np.float32(c.dac_max_code)
        if c.dac_quantization:
            acc = codes @ self._grid
        else:
            acc = (codes.astype(np.float64) @ self._g_norm).astype(np.float32)
        out = np.empty((c.rows, c.cols), dtype=np.float32)
        kernels.adc(acc, rng.key(self.seed, self.tile_id, rng.GDC_REFERENCE), 0, _NO_INDICES,
                    self._params, self._flags, np.ones(c.rows, np.float32),
                    np.ones(c.cols, np.float32), np.zeros(c.cols, np.float32), out, False, 0,
                    c.rows)
        return float(np.abs(out.astype(np.float64)).mean())

    # ---------------------------------------------------------------------- periphery
    def forward(self, x: np.ndarray, first_index: int = 0, out: np.ndarray | None = None,
                add: bool = False, indices: np.ndarray | None = None) -> np.ndarray:
        """y ~= x @ W for x of shape (batch, rows) or (rows,); input k is number first_index + k
        (or indices[k] where given: global input numbers in any order).

        With `out` (batch, cols), results are written there (added to it with `add`).
        """
        c = self.config
        x, single = self._batch(x, c.rows, "input")
        numbers = _NO_INDICES if indices is None else _input_numbers(indices, x.shape[0])
        if out is None:
            out = np.empty((x.shape[0], c.cols), dtype=np.float32)
        if c.dac_quantization and x.shape[0] < _PARALLEL_BATCH:
            self._forward_small(np.ascontiguousarray(x), first_index, numbers, out, add)
        else:
            x = np.ascontiguousarray(x)
            for k0, k1 in _chunks(x.shape[0]):
                part = numbers[k0:k1] if numbers.size else numbers
                converted = self._dac_into(x[k0:k1], _scratch("codes", k1 - k0, c.rows),
                                           first_index + k0, part)
                self._convert_rows(*converted, first_index + k0, part, out[k0:k1], add)
        return out[0] if single else out

    def _batch(self, v: np.ndarray, width: int, what: str) -> tuple[np.ndarray, bool]:
        """`v` as a float32 batch (k, width), and whether it came as one vector."""
        v = np.asarray(v, dtype=np.float32)
        single = v.ndim == 1
        if single:
            v = v[None, :]
        if v.ndim != 2 or v.shape[1] != width:
            raise DataError(f"tile {self.tile_id}: {what} of shape {v.shape}, "
                            f"expected (batch, {width}) or ({width},)")
        return v, single

    def _forward_small(self, x: np.ndarray, first_index: int, numbers: np.ndarray,
                       out: np.ndarray, add: bool) -> None:
        """`forward` of a small batch (x contiguous, checked) through the fused kernel."""
        self._refresh()
        bad = kernels.forward_small(x, self._grid, self._key_out, first_index, numbers,
                                    self._params, self._flags, self._col_factor,
                                    self._column_offset, out, add, self._key_dac)
        if bad >= 0:
            self._refuse(int(numbers[bad]) if numbers.size else first_index + bad)

    def _refuse(self, index: int) -> None:
        raise DataError(f"tile {self.tile_id}: input {index} contains NaN or infinity")

    def dac_settings(self) -> tuple:
        """What the DAC's codes depend on besides the input: tiles that agree share codes.
        Stochastic rounding draws from the tile's own stream, so such a tile shares with none."""
        c = self.config
        own = (self.seed, self.tile_id) if self._stochastic else None
        return (c.rows, c.input_range, self._input_range, c.dac_bits, c.dac_quantization, own)

    def dac(self, x: np.ndarray, first_index: int = 0,
            indices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Input codes (batch, rows) and each vector's range, for x of shape (batch, rows)
        (input numbers as in `forward`; they name the input in an error)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        numbers = _NO_INDICES if indices is None else _input_numbers(indices, x.shape[0])
        return self._dac_into(x, np.empty(x.shape, dtype=np.float32), first_index, numbers)

    def _dac_into(self, x: np.ndarray, codes: np.ndarray, first_index: int,
                  numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`dac` writing the codes of x (contiguous float32) into `codes` (same shape)."""
        c = self.config
        ranges = np.empty(x.shape[0], dtype=np.float32)
        if self._stochastic:  # draws at each vector's global input number
            firsts = run_rows(kernels.dac_stochastic, x.shape[0], x, self._input_range,
                              c.input_range == "max_abs", float(c.dac_max_code), self._key_dac,
                              first_index, numbers, codes, ranges)
        else:
            firsts = run_rows(kernels.dac, x.shape[0], x, self._input_range,
                              c.input_range == "max_abs", float(c.dac_max_code),
                              c.dac_quantization, codes, ranges)
        bad = [k for k in firsts if k >= 0]  # each part's first bad row, parts in row order
        if bad:
            self._refuse(int(numbers[bad[0]]) if numbers.size else first_index + bad[0])
        return codes, ranges

    def convert(self, codes: np.ndarray, ranges: np.ndarray, first_index: int = 0,
                out: np.ndarray | None = None, add: bool = False,
                indices: np.ndarray | None = None) -> np.ndarray:
        """The array, output noise, ADC and digital correction for codes from `dac`."""
        numbers = _NO_INDICES if indices is None else _input_numbers(indices, codes.shape[0])
        if out is None:
            out = np.empty((codes.shape[0], self.config.cols), dtype=np.float32)
        for k0, k1 in _chunks(codes.shape[0]):
            self._convert_rows(codes[k0:k1], ranges[k0:k1], first_index + k0,
                               numbers[k0:k1] if numbers.size else numbers, out[k0:k1], add)
        return out

    def _convert_rows(self, codes: np.ndarray, ranges: np.ndarray, first_index: int,
                      numbers: np.ndarray, out: np.ndarray, add: bool) -> None:
        """`convert` of one chunk, its sums in this thread's scratch."""
        self._refresh()
        c = self.config
        acc = _scratch("sums", codes.shape[0], c.cols)
        if c.dac_quantization:  # integer codes x integer grid: exact in float32
            np.matmul(codes, self._grid, out=acc)
        else:
            acc[...] = codes.astype(np.float64) @ self._g_norm
        run_rows(kernels.adc, codes.shape[0], acc, self._key_out, first_index, numbers,
                 self._params, self._flags, ranges, self._col_factor, self._column_offset, out, add)

    # ---------------------------------------------------------------------- training cycles
    def backward(self, d: np.ndarray, first_index: int = 0) -> np.ndarray:
        """z ~= d @ W.T for d of shape (batch, cols) or (cols,): the transposed read.

        The same converters as `forward`, driven from the columns: noise management scales each
        vector by its own max |d| (the papers' rule, whatever `input_range` says for forward),
        and bound management (`bound_management`) halves the inputs of every vector whose
        outputs saturate the ADC and reads it again, up to 2^-8 of full scale. Output noise of
        vector k's attempt a is drawn at index k, element i of stream (BACKWARD_NOISE, a); with
        stochastic DAC rounding its uniforms likewise from stream (BACKWARD_ROUNDING, a).
        """
        self._refresh()
        c = self.config
        d, single = self._batch(d, c.cols, "error")
        if not np.isfinite(d).all():
            self._refuse(first_index + int(np.nonzero(~np.isfinite(d).all(axis=1))[0][0]))
        d = d * self._col_factor[None, :]  # the column scales and GDC, digitally, before the DAC
        ranges = np.abs(d).max(axis=1)
        ranges[ranges == 0] = 1.0
        out = np.empty((d.shape[0], c.rows), dtype=np.float32)
        todo = np.arange(d.shape[0])
        retries = _BOUND_RETRIES if (c.bound_management and c.adc_saturation) else 0
        for attempt in range(retries + 1):
            part = self._backward_read(d[todo], ranges[todo], todo + first_index, attempt)
            out[todo] = part
            if attempt == retries:
                break
            limit = np.float32(c.out_bound * (1 - 1e-6)) * ranges[todo, None]
            saturated = (np.abs(part) >= limit).any(axis=1)
            if not saturated.any():
                break
            todo = todo[saturated]
            ranges[todo] *= 2.0  # halve the inputs: the DAC codes use twice the range
        return out[0] if single else out

    def _backward_read(self, d: np.ndarray, ranges: np.ndarray, numbers: np.ndarray,
                       attempt: int) -> np.ndarray:
        """One transposed read of the vectors d (scaled by their ranges into the DAC)."""
        c = self.config
        codes = np.clip(d * (np.float32(c.dac_max_code) / ranges)[:, None], -c.dac_max_code,
                        c.dac_max_code)
        if c.backward_quantized and c.dac_rounding == "stochastic":
            codes = np.ascontiguousarray(codes, dtype=np.float32)
            key = rng.subkey(rng.key(self.seed, self.tile_id, rng.BACKWARD_ROUNDING), attempt)
            run_rows(kernels.round_stochastic, d.shape[0], codes, key, 0,
                     np.ascontiguousarray(numbers, np.int64))
        elif c.backward_quantized:
            codes = np.rint(codes).astype(np.float32)
        if c.dac_quantization and c.backward_quantized:  # integers on the grid: exact
            acc = np.ascontiguousarray(codes @ self._grid.T)
        else:  # the array in float64, on the grid the forward read's settings chose
            g = self._grid.T.astype(np.float64) if c.dac_quantization else self._g_norm.T
            acc = np.ascontiguousarray((codes.astype(np.float64) @ g).astype(np.float32))
        key = rng.subkey(rng.key(self.seed, self.tile_id, rng.BACKWARD_NOISE), attempt)
        out = np.empty((d.shape[0], c.rows), dtype=np.float32)
        ones = np.ones(c.rows, np.float32)
        run_rows(kernels.adc, d.shape[0], acc, key, 0, np.ascontiguousarray(numbers, np.int64),
                 self._params, self._flags, ranges.astype(np.float32), ones,
                 np.zeros(c.rows, np.float32), out, False)
        return out

    def update(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        """Pulsed update W -= lr * outer(x, d) (about; stochastic), for x of shape (rows,) and
        d of shape (cols,), or batches of both applied one rank-1 update after another: the
        stochastic pulse scheme of `chipsim.tile_update`. Only a training tile can do it."""
        if self._array is None:
            raise DataError(f"tile {self.tile_id}: a PCM tile cannot be updated by pulses "
                            f"(its configuration has no training device)")
        self._array.update(x, d, lr)
        self._stale = True

    def zero_shift(self, pairs: int, averaged: int | None = None) -> np.ndarray:
        """Kim et al.'s zero-shifting of every device (`PulsedArray.zero_shift`); returns the
        references, the devices' measured symmetry points."""
        if self._array is None:
            raise DataError(f"tile {self.tile_id}: a PCM tile has no pulsed devices to shift")
        self._stale = True
        return self._array.zero_shift(pairs, averaged)

    @property
    def pulsed(self) -> PulsedArray | None:
        """The pulsed devices of a training tile (None for a PCM tile)."""
        return self._array


_BOUND_RETRIES = 8  # bound management halves the inputs at most this often
_NO_INDICES = np.empty(0, dtype=np.int64)
_scratch_buffers = threading.local()  # each thread its own: tiles may run in several threads


def _chunks(batch: int) -> list[tuple[int, int]] | tuple[tuple[int, int]]:
    """Row ranges of a large batch, each to go through the whole tile at once."""
    step = _CHUNK_ROWS * thread_count()  # run_rows gives each thread a full part
    if batch <= step:
        return ((0, batch),)
    return [(k0, min(k0 + step, batch)) for k0 in range(0, batch, step)]


def _scratch(name: str, rows: int, width: int) -> np.ndarray:
    """This thread's float32 buffer `name` of `width` columns, as a (rows, width) array; reused
    by the next call asking for it, so its contents last only until then."""
    buffers = _scratch_buffers.__dict__  # this thread's own
    buffer = buffers.get((name, width))
    if buffer is None or buffer.shape[0] < rows:
        buffer = buffers[name, width] = np.empty((rows, width), dtype=np.float32)
    return buffer[:rows]


def _input_numbers(indices: np.ndarray, batch: int) -> np.ndarray:
    numbers = np.ascontiguousarray(indices, dtype=np.int64).reshape(-1)
    if numbers.shape != (batch,) or (batch and numbers.min() < 0):
        raise DataError(f"indices: expected {batch} input numbers >= 0, got shape {numbers.shape}")
    return numbers


class TiledMatrix:
    """A matrix larger than one crossbar, split over tiles; partial sums are added digitally.

    Block (i, j) covers rows i*R .. and columns j*C .. (R x C the crossbar size, edge blocks
    smaller) and is tile number first_tile_id + i * (column blocks) + j. Partial sums of one
    column block are added in row-block order, so the result is deterministic. Tiles of one row
    block with the same DAC settings share one conversion of their input slice.
    """

    def __init__(self, config: TileConfig, weights: np.ndarray, first_tile_id: int = 0,
                 seed: int = 0):
        w = np.asarray(weights, dtype=np.float32)
        if w.ndim != 2:
            raise DataError(f"matrix of shape {w.shape}: expected 2 dimensions")
        self.shape = w.shape
        self.row_starts = list(range(0, w.shape[0], config.rows))
        self.col_starts = list(range(0, w.shape[1], config.cols))
        self.tiles: list[list[Tile]] = []
        for i, r0 in enumerate(self.row_starts):
            line = []
            for j, c0 in enumerate(self.col_starts):
                block = w[r0:r0 + config.rows, c0:c0 + config.cols]
                cfg = config.replace(rows=block.shape[0], cols=block.shape[1])
                tile_id = first_tile_id + i * len(self.col_starts) + j
                line.append(Tile(cfg, block, tile_id, seed))
            self.tiles.append(line)

    def program(self) -> None:
        for tile in self.all_tiles():
            tile.program()

    def drift(self, t_seconds: float) -> None:
        for tile in self.all_tiles():
            tile.drift(t_seconds)

    def all_tiles(self) -> list[Tile]:
        return [tile for line in self.tiles for tile in line]

    def blocks(self) -> list[tuple[slice, slice, Tile]]:
        """(rows, columns, tile) of every block, row blocks in order, columns within each."""
        return [(slice(r0, r0 + tile.config.rows), slice(c0, c0 + tile.config.cols), tile)
                for r0, line in zip(self.row_starts, self.tiles)
                for c0, tile in zip(self.col_starts, line)]

    def forward(self, x: np.ndarray, first_index: int = 0) -> np.ndarray:
        """y ~= x @ W for x of shape (batch, R) or (R,)."""
        x = np.asarray(x, dtype=np.float32)
        single = x.ndim == 1
        if single:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.shape[0]:
            raise DataError(f"input of shape {x.shape}, expected (batch, {self.shape[0]})")
        if x.shape[0] < _PARALLEL_BATCH and self.tiles[0][0].config.dac_quantization:
            # the fused per-vector kernel, tile by tile; one contiguous buffer per column block
            # (kernels run fastest on contiguous rows)
            parts = [np.empty((x.shape[0], line.config.cols), dtype=np.float32)
                     for line in self.tiles[0]]
            for i, r0 in enumerate(self.row_starts):  # row blocks in order: deterministic sums
                x_block = np.ascontiguousarray(x[:, r0:r0 + self.tiles[i][0].config.rows])
                for j, tile in enumerate(self.tiles[i]):
                    tile._forward_small(x_block, first_index, _NO_INDICES, parts[j], i > 0)
            y = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        else:  # chunk by chunk through every tile, in scratch: one large array, the result
            y = np.empty((x.shape[0], self.shape[1]), dtype=np.float32)
            for k0, k1 in _chunks(x.shape[0]):
                self._forward_rows(x[k0:k1], first_index + k0, y[k0:k1])
        return y[0] if single else y

    def _forward_rows(self, x: np.ndarray, first_index: int, y: np.ndarray) -> None:
        """One chunk of a large batch into `y`, row block by row block (a fixed sum order);
        tiles of one row block with the same DAC settings share one conversion of their input
        slice. Several column blocks add up in contiguous scratch, copied into y at the end."""
        one = len(self.col_starts) == 1
        parts = [y if one else _scratch(f"out{j}", x.shape[0], tile.config.cols)
                 for j, tile in enumerate(self.tiles[0])]
        for i, r0 in enumerate(self.row_starts):
            rows = self.tiles[i][0].config.rows
            x_block = x[:, r0:r0 + rows]
            if not x_block.flags.c_contiguous:
                x_block = _scratch("inputs", x.shape[0], rows)
                x_block[...] = x[:, r0:r0 + rows]
            shared: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
            for j, tile in enumerate(self.tiles[i]):
                settings = tile.dac_settings()
                if settings not in shared:
                    codes = _scratch(f"codes{len(shared)}", x.shape[0], rows)
                    shared[settings] = tile._dac_into(x_block, codes, first_index, _NO_INDICES)
                tile._convert_rows(*shared[settings], first_index, _NO_INDICES, parts[j],
                                   add=i > 0)
        if not one:
            for c0, part in zip(self.col_starts, parts):
                y[:, c0:c0 + part.shape[1]] = part
