"""The training run: data, network, optional zero-shifting, then epochs of SGD.

Each epoch visits the training images in an order drawn from a numpy Generator of the seed, and
ends with the test accuracy and loss; `on_epoch` hears of each finished epoch at once, so a
caller can write it out before the next starts (a killed run keeps its finished epochs).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from chipsim.datasets import load_dataset
from chipsim.errors import DataError
from chipsim.training.chain import Chain
from chipsim.training.network import Network, build_network


@dataclass(frozen=True)
class TrainSpec:
    """What to train and how: `layers` the sizes of an MLP or a `Chain` of layer shapes;
    `tile_config` None: the float numpy reference."""

    layers: tuple[int, ...] | Chain = (784, 256, 128, 10)
    data: str = "mnist"
    activation: str = "sigmoid"
    epochs: int = 1
    lr: float = 0.1
    batch: int = 1
    seed: int = 0
    zero_shift_pairs: int = 0  # 0: no zero-shifting
    train_limit: int | None = None  # use only the first N training images (quick runs)
    tile_config: object | None = field(default=None, compare=False)


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    train_loss: float
    test_accuracy: float
    test_loss: float
    seconds: float

    def row(self) -> dict:
        return asdict(self)


def spec_chain(spec: TrainSpec) -> Chain:
    return spec.layers if isinstance(spec.layers, Chain) else Chain.mlp(list(spec.layers))


def load_data(spec: TrainSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test images, flat for a chain that starts on vectors, else as images."""
    chain = spec_chain(spec)
    layout = "flat" if len(chain.input) == 1 else "image"
    x_train, y_train = load_dataset(spec.data, "train", layout=layout)
    x_test, y_test = load_dataset(spec.data, "test", layout=layout)
    if spec.train_limit is not None:
        x_train, y_train = x_train[:spec.train_limit], y_train[:spec.train_limit]
    if x_train.shape[1:] != tuple(chain.input) or chain.shapes()[-1][0] <= int(y_train.max()):
        inputs = "x".join(map(str, x_train.shape[1:]))
        raise DataError(f"layers {chain.describe()}: data set {spec.data} has {inputs} "
                        f"inputs and {int(y_train.max()) + 1} classes")
    return x_train, y_train, x_test, y_test


def make_network(spec: TrainSpec) -> Network:
    """The spec's network, zero-shifted first when asked (tiles only)."""
    net = build_network(spec_chain(spec), spec.activation, spec.seed, spec.tile_config)
    if spec.zero_shift_pairs > 0:
        for matrix in net.tile_matrices():
            matrix.zero_shift(spec.zero_shift_pairs)
    return net


def run_epoch(net: Network, x: np.ndarray, y: np.ndarray, lr: float, batch: int,
              rs: np.random.Generator, on_batch: Callable[[int], None] | None = None) -> float:
    """One pass over (x, y) in an order drawn from rs; returns the mean training loss."""
    order = rs.permutation(len(x))
    total = 0.0
    for k0 in range(0, len(x), batch):
        idx = order[k0:k0 + batch]
        total += net.train_step(x[idx], y[idx], lr)
        if on_batch is not None:
            on_batch(len(idx))
    return total / len(x)


def check_schedule(spec) -> None:
    """A spec's epochs, batch and learning rate, checked before any work."""
    if spec.epochs < 1 or spec.batch < 1 or not (np.isfinite(spec.lr) and spec.lr > 0):
        raise DataError(f"epochs and batch must be >= 1 and lr > 0, got {spec.epochs}, "
                        f"{spec.batch}, {spec.lr}")


def fit(model, train_set: tuple, test_set: tuple, spec,
        on_epoch: Callable[[EpochResult], None] | None = None,
        on_batch: Callable[[int], None] | None = None) -> list[EpochResult]:
    """The spec's epochs of SGD on a model with `train_step` and `evaluate` (an MLP, a CNN, a
    character LSTM), the sample order drawn from a Generator of the seed; each epoch ends with
    the test figures, handed to `on_epoch` at once."""
    rs = np.random.default_rng(spec.seed)
    results = []
    for epoch in range(1, spec.epochs + 1):
        t0 = time.perf_counter()
        loss = run_epoch(model, *train_set, spec.lr, spec.batch, rs, on_batch)
        accuracy, test_loss = model.evaluate(*test_set, tag=epoch)
        result = EpochResult(epoch, loss, accuracy, test_loss, time.perf_counter() - t0)
        results.append(result)
        if on_epoch is not None:
            on_epoch(result)
    return results


def train(spec: TrainSpec, on_epoch: Callable[[EpochResult], None] | None = None,
          on_batch: Callable[[int], None] | None = None,
          data: tuple | None = None) -> list[EpochResult]:
    """Train the spec's network; `data` (x_train, y_train, x_test, y_test) saves a reload."""
    check_schedule(spec)
    x_train, y_train, x_test, y_test = load_data(spec) if data is None else data
    return fit(make_network(spec), (x_train, y_train), (x_test, y_test), spec, on_epoch,
               on_batch)
