"""Kim et al.'s study (arXiv 1907.10228): accuracy against the devices' up/down imbalance, with
and without zero-shifting.

The paper's 3-layer MLP (784-256-128-10, sigmoid, SGD with mini-batch 1) trains on MNIST 5k on
soft-bound devices whose up and down steps differ: a+ = dw_min (1 + u), a- = dw_min (1 - u)
(the device description's `up_down` u, so a+/a- = (1 + u)/(1 - u)). Imbalance moves each
device's symmetry point to about u * b, where SGD on the array pulls every weight; zero-shifting
moves the reference there. The chip's device runs as soft bounds here (the paper's model), with
the description's other figures (steps, bounds, variations). Each cell (u, zero-shift) runs several seeds; a cell is one row.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from chipsim.training.loop import TrainSpec, load_data, train
from chipsim.training.matrices import training_tile_config

KIM_LAYERS = (784, 256, 128, 10)
KIM_DEVICE = "soft_bounds"  # the paper's device model, whatever kind the chip's device is


@dataclass(frozen=True)
class KimCell:
    """One row of the table: a device imbalance, zero-shifting on or off, every seed's result."""

    device: str  # "float" (the numpy reference) or "tiles"
    up_down: float | None
    zero_shift: bool
    accuracies: tuple[float, ...]
    seeds: tuple[int, ...]

    def row(self) -> dict:
        acc = np.array(self.accuracies)
        ratio = None if self.up_down is None else (1 + self.up_down) / (1 - self.up_down)
        return {"device": self.device, "up_down": self.up_down, "a_up_over_a_down": ratio,
                "zero_shift": self.zero_shift, "mean_accuracy": float(acc.mean()),
                "std_accuracy": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                "accuracies": list(self.accuracies), "seeds": list(self.seeds)}


def kim_study(chip, imbalances: list[float], seeds: list[int], epochs: int, lr: float,
              zero_shift_pairs: int, train_limit: int | None = None,
              on_cell: Callable[[KimCell], None] | None = None,
              on_run: Callable[[str], None] | None = None,
              overrides: dict | None = None) -> list[KimCell]:
    """The float reference, then every (imbalance, zero-shift) cell over every seed; `overrides`
    sets further fields of the chip's pulsed device (e.g. its bounds)."""
    base = TrainSpec(layers=KIM_LAYERS, data="mnist", activation="sigmoid", epochs=epochs,
                     lr=lr, batch=1, train_limit=train_limit)
    data = load_data(base)
    plan = [("float", None, False)] + [("tiles", u, zs) for u in imbalances for zs in (False, True)]
    cells = []
    for device, u, zs in plan:
        accuracies = []
        for seed in seeds:
            if on_run is not None:
                on_run(f"{device} up_down={u} zero_shift={zs} seed={seed}")
            config = None if device == "float" else training_tile_config(
                chip, up_down=u, **{"kind": KIM_DEVICE, **(overrides or {})})
            spec = dataclasses.replace(base, seed=seed, tile_config=config,
                                       zero_shift_pairs=zero_shift_pairs if zs else 0)
            accuracies.append(train(spec, data=data)[-1].test_accuracy)
        cell = KimCell(device, u, zs, tuple(accuracies), tuple(seeds))
        cells.append(cell)
        if on_cell is not None:
            on_cell(cell)
    return cells
