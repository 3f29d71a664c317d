"""Gokmen, Rasch and Haensch's study (arXiv 1806.00166): a character LSTM trained on the arrays,
its test cross-entropy against the input resolution of the reads and the devices' asymmetry.

Two trends of the paper: inputs (forward activations and backward errors through the DAC) need
at least 7 bits with rounding to the nearest code, but 5 bits suffice with stochastic rounding;
and a few percent of up/down asymmetry already raises the test error. The table: the float
reference; DAC bits x rounding on the chip's devices (no asymmetry); the chip's own DAC
(7 bits, deterministic on rpu_train) at each asymmetry u (a+ = dw_min (1 + u), a- = dw_min
(1 - u)). Each cell runs several seeds and is one row (mean and sample std of the final test
cross-entropy per character, nats).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from chipsim.training.charlm import TextSpec, train_text
from chipsim.training.matrices import training_tile_config
from chipsim.training.text import load_corpus

ROUNDINGS = ("deterministic", "stochastic")
# which reads a cell's DAC bits and rounding apply to; the other read is left unquantized
READS = {"both": {}, "forward": dict(backward_dac_quantization=False),
         "backward": dict(dac_quantization=False, backward_dac_quantization=True)}


@dataclass(frozen=True)
class GokmenCell:
    """One row: the reads' DAC (bits, None: no quantization; rounding), the asymmetry, and
    every seed's final test cross-entropy (nats per character) and next-character accuracy."""

    device: str  # "float" (the numpy reference) or "tiles"
    dac_bits: int | None
    rounding: str | None
    up_down: float | None
    losses: tuple[float, ...]
    accuracies: tuple[float, ...]
    seeds: tuple[int, ...]

    def row(self) -> dict:
        loss = np.array(self.losses)
        return {"device": self.device, "dac_bits": self.dac_bits, "rounding": self.rounding,
                "up_down": self.up_down, "mean_test_loss": float(loss.mean()),
                "std_test_loss": float(loss.std(ddof=1)) if len(loss) > 1 else 0.0,
                "mean_accuracy": float(np.mean(self.accuracies)),
                "test_losses": list(self.losses), "seeds": list(self.seeds)}


def plan(chip, bits: list[int | None], imbalances: list[float]) -> list[tuple]:
    """(device, dac bits, rounding, up_down) of every cell: float, the DAC grid at u = 0, then
    the chip's own DAC at each nonzero u (its u = 0 cell is in the grid already, or first)."""
    own = (chip.cores.dac.bits, chip.cores.dac.rounding)
    cells = [("float", None, None, None)]
    for b in bits:
        for rounding in (ROUNDINGS if b is not None else (None,)):
            cells.append(("tiles", b, rounding, 0.0))
    if 0.0 in imbalances and ("tiles", *own, 0.0) not in cells:
        cells.append(("tiles", *own, 0.0))
    cells += [("tiles", *own, float(u)) for u in imbalances if u != 0]
    return cells


def gokmen_study(chip, base: TextSpec, seeds: list[int], bits: list[int | None],
                 imbalances: list[float], on_cell: Callable[[GokmenCell], None] | None = None,
                 on_run: Callable[[str], None] | None = None,
                 overrides: dict | None = None, reads: str = "both") -> list[GokmenCell]:
    """Every cell of `plan` over every seed, with the spec's model, text and schedule;
    `overrides` sets fields of the chip's pulsed device (e.g. its bounds); `reads` (a key of
    READS) which reads the cells' DAC settings quantize: both, or only the forward or the
    transposed (backward) read, the other one unquantized."""
    if reads not in READS:
        raise ValueError(f"reads {reads!r}: expected one of {', '.join(READS)}")
    corpus = load_corpus(base.train_chars, base.test_chars)
    cells = []
    for device, b, rounding, u in plan(chip, bits, imbalances):
        config = None
        if device == "tiles":
            config = training_tile_config(chip, up_down=u, **(overrides or {}))
            config = config.replace(dac_quantization=False) if b is None else \
                config.replace(dac_bits=b, dac_rounding=rounding, **READS[reads])
        losses, accuracies = [], []
        for seed in seeds:
            if on_run is not None:
                on_run(f"{device} dac_bits={b} rounding={rounding} up_down={u} seed={seed}")
            spec = dataclasses.replace(base, seed=seed, tile_config=config)
            last = train_text(spec, corpus=corpus)[-1]
            losses.append(last.test_loss)
            accuracies.append(last.test_accuracy)
        cell = GokmenCell(device, b, rounding, u, tuple(losses), tuple(accuracies), tuple(seeds))
        cells.append(cell)
        if on_cell is not None:
            on_cell(cell)
    return cells
