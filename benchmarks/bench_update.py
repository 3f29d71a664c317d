"""Speed of the pulsed update of a training tile against numpy's float rank-1 update.

One 256 x 256 tile of soft-bound devices with the Gokmen et al. variation (30 % device to
device and cycle to cycle, rpu_train's training device) takes a stochastic pulse update of
BL = 31 slots (`Tile.update`), timed against `W += eta * np.outer(x, d)` in float32 on the same
vectors, in the same process, interleaved; the best of many repeats counts. The ratio is
numpy's time over the tile's: 1 means as fast as numpy.

`epoch_vs_float`: one epoch of Kim et al.'s MLP (784-256-128-10, sigmoid, SGD with
mini-batch 1) on rpu_train's tiles (`chipsim.training`: forward and transposed reads, pulsed
updates) over the same network's epoch with float32 numpy products, on the same first
EPOCH_IMAGES training images of MNIST 5k in the same order, in the same process (the float epoch
first, then the tiles, then the float epoch again; its faster time counts). Goal: at most 4.
Measured 1.9 on 2 cores (0.70 s against 0.37 s, one thread): the reload after an update builds
only the read-out grid of the updated tiles (the row sums for energy and the float64 read path
wait until something asks for them).

`cnn_epoch_vs_float`: the same for the shapes of workloads/mnist_cnn (two convolutions,
max-pooling, a dense layer; ReLU, lr 0.01) on rpu_train's tiles, where every image makes 980
rank-1 updates in the conv layers. Measured 3.2 on 2 shared cores (2.23 s against 0.70 s, one
thread).

`conv_update_vs_numpy`: the updates of one image in a convolution layer, the second conv of
workloads/mnist_cnn (a 72 x 16 kernel matrix, 14 x 14 = 196 output positions: 196 rank-1
pulsed updates of patches and errors) in one `Tile.update` call, against numpy's float update
of the same layer, `W -= eta * patches.T @ errors`. `conv_batched_speedup`: the same 196
updates sent one `Tile.update` call each (the only way before the batched kernel) over the one
call.

    python benchmarks/bench_update.py          # table
    python benchmarks/bench_update.py --json   # one JSON object on stdout
"""

from __future__ import annotations

import dataclasses
import sys
import time

from chipsim.kernels.threads import threads_from_argv  # noqa: E402  (imports no numpy)

THREADS = threads_from_argv(sys.argv, default=1)

import numpy as np

from chipsim.arch import load_chip
from chipsim.commands.common import print_json
from chipsim.tile import Tile, TileConfig

from common import benchmark_parser, best_seconds, blas_info, blas_line  # benchmarks/common.py

SIZE = 256
LR = 0.01
BUDGET_S = 3.0
EPOCH_IMAGES = 1000
CONV_SHAPE = (72, 16, 196)  # mnist_cnn's conv2: kernel matrix rows, cols; output positions


def run() -> dict:
    rs = np.random.default_rng(0)
    config = TileConfig.from_chip(load_chip("rpu_train"))
    tile = Tile(config, rs.uniform(-0.1, 0.1, (SIZE, SIZE)).astype(np.float32))
    x = rs.uniform(0, 1, SIZE).astype(np.float32)  # activations
    d = rs.normal(0, 0.1, SIZE).astype(np.float32)  # errors
    w = np.zeros((SIZE, SIZE), dtype=np.float32)
    eta = np.float32(LR)

    def tile_update() -> None:
        tile.update(x, d, LR)

    def numpy_update() -> None:
        w.__iadd__(eta * np.outer(x, d))

    tile_update()
    numpy_update()
    best = best_seconds({"tile": tile_update, "numpy": numpy_update}, BUDGET_S, min_rounds=5,
                        max_rounds=5000)
    best_tile, best_numpy = best["tile"], best["numpy"]
    array = tile.pulsed
    return {"case": f"{SIZE}x{SIZE} soft bounds, BL {config.training.bl}, lr {LR}",
            "tile_us": best_tile * 1e6, "numpy_us": best_numpy * 1e6,
            "update_vs_numpy": best_numpy / best_tile,
            "pulses_per_update": array.pulses / array.updates,
            "threads": THREADS, "blas": blas_info()}


def conv_update() -> dict:
    """One image's updates of a conv layer, batched and one by one, and numpy's (docstring)."""
    rs = np.random.default_rng(1)
    config = TileConfig.from_chip(load_chip("rpu_train"))
    rows, cols, positions = CONV_SHAPE
    config = config.replace(rows=rows, cols=cols)
    batched, single = (Tile(config, rs.uniform(-0.1, 0.1, (rows, cols)).astype(np.float32))
                       for _ in range(2))
    patches = rs.uniform(0, 1, (positions, rows)).astype(np.float32)
    errors = rs.normal(0, 0.1, (positions, cols)).astype(np.float32)
    w = np.zeros((rows, cols), dtype=np.float32)
    eta = np.float32(LR)

    def one_by_one() -> None:
        for k in range(positions):
            single.update(patches[k], errors[k], LR)

    cases = {"batched": lambda: batched.update(patches, errors, LR), "one_by_one": one_by_one,
             "numpy": lambda: w.__isub__(eta * (patches.T @ errors))}
    for case in cases.values():
        case()
    best = best_seconds(cases, BUDGET_S, min_rounds=5, max_rounds=2000)
    return {"conv_case": f"conv {rows}x{cols}, {positions} positions (mnist_cnn conv2), one "
                         f"image",
            "conv_tile_us": best["batched"] * 1e6, "conv_one_by_one_us": best["one_by_one"] * 1e6,
            "conv_numpy_us": best["numpy"] * 1e6,
            "conv_update_vs_numpy": best["numpy"] / best["batched"],
            "conv_batched_speedup": best["one_by_one"] / best["batched"]}


def _epoch_seconds(base) -> tuple[float, float]:
    """Seconds of one tile epoch and one float epoch of the spec `base` on its first
    EPOCH_IMAGES training images (float first, then tiles, then float again: the faster
    float time counts)."""
    from chipsim.training import training_tile_config
    from chipsim.training.loop import load_data, make_network, run_epoch

    x, y, _, _ = load_data(base)
    config = training_tile_config(load_chip("rpu_train"))

    def seconds(tile_config, images: int = EPOCH_IMAGES) -> float:
        net = make_network(dataclasses.replace(base, tile_config=tile_config))
        t0 = time.perf_counter()
        run_epoch(net, x[:images], y[:images], base.lr, base.batch,
                  np.random.default_rng(base.seed))
        return time.perf_counter() - t0

    seconds(config, 20)  # compile the kernels outside the timing
    float_s = seconds(None)
    tile_s = seconds(config)
    return tile_s, min(float_s, seconds(None))


def epoch() -> dict:
    """Seconds of one tile epoch and one float epoch of the Kim MLP (module docstring)."""
    from chipsim.training import TrainSpec
    from chipsim.training.kim import KIM_LAYERS

    tile_s, float_s = _epoch_seconds(TrainSpec(layers=KIM_LAYERS, data="mnist", lr=0.1,
                                               train_limit=EPOCH_IMAGES))
    return {"epoch_case": f"MLP 784-256-128-10, {EPOCH_IMAGES} MNIST images, batch 1",
            "epoch_tile_s": tile_s, "epoch_float_s": float_s,
            "epoch_vs_float": tile_s / float_s}


def cnn_epoch() -> dict:
    """The same for workloads/mnist_cnn's shapes (ReLU, lr 0.01; module docstring)."""
    from pathlib import Path

    from chipsim.training import TrainSpec
    from chipsim.training.shapes import network_chain

    graph = Path(__file__).resolve().parents[1] / "workloads" / "mnist_cnn" / "cnn.onnx"
    tile_s, float_s = _epoch_seconds(TrainSpec(layers=network_chain(graph), data="mnist",
                                               activation="relu", lr=0.01,
                                               train_limit=EPOCH_IMAGES))
    return {"cnn_epoch_case": f"mnist_cnn, {EPOCH_IMAGES} MNIST images, batch 1",
            "cnn_epoch_tile_s": tile_s, "cnn_epoch_float_s": float_s,
            "cnn_epoch_vs_float": tile_s / float_s}


def main() -> None:
    args = benchmark_parser(__doc__).parse_args()
    result = {**run(), **conv_update(), **epoch(), **cnn_epoch()}
    if args.json:
        print_json(result)
    else:
        print(f"{result['case']}: tile {result['tile_us']:.1f} us, numpy "
              f"{result['numpy_us']:.1f} us, update_vs_numpy {result['update_vs_numpy']:.2f} "
              f"({result['pulses_per_update']:.0f} pulses per update)")
        print(f"{result['conv_case']}: tile {result['conv_tile_us']:.0f} us in one call, "
              f"{result['conv_one_by_one_us']:.0f} us one by one, numpy "
              f"{result['conv_numpy_us']:.1f} us, conv_update_vs_numpy "
              f"{result['conv_update_vs_numpy']:.3f}, conv_batched_speedup "
              f"{result['conv_batched_speedup']:.1f}")
        print(f"{result['epoch_case']}: tiles {result['epoch_tile_s']:.2f} s, float "
              f"{result['epoch_float_s']:.2f} s, epoch_vs_float {result['epoch_vs_float']:.2f} "
              f"(goal <= 4)")
        print(f"{result['cnn_epoch_case']}: tiles {result['cnn_epoch_tile_s']:.2f} s, float "
              f"{result['cnn_epoch_float_s']:.2f} s, cnn_epoch_vs_float "
              f"{result['cnn_epoch_vs_float']:.2f}")
        print(blas_line(result["blas"]))


if __name__ == "__main__":
    main()
