"""The GPU backend against the CPU, on Numba's CUDA simulator (no GPU needed): a tile's states
and a small network's logits, bit for bit in ideal mode and with every non-ideality on.

The simulator is chosen by NUMBA_ENABLE_CUDASIM before numba is imported, so each check runs
in its own process (`python tests/test_gpu.py CHECK`), leaving this one's numba as it is.
Shapes are tiny: the simulator runs every GPU thread as a Python thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

NET = """
name: tiny
inputs:
  image: [1, 5, 5]
layers:
  - {name: conv0, op: conv2d, out_channels: 3, kernel_shape: [3, 3], pads: [1, 1, 1, 1],
     weights: {init: {kind: normal, seed: 3}}}
  - {name: relu0, op: relu}
  - {name: pool, op: maxpool, kernel_shape: [2, 2], strides: [2, 2]}
  - {name: flat, op: reshape, shape: [12]}
  - {name: fc, op: dense, units: 3, weights: {init: {kind: normal, seed: 4}}}
"""


def _simulated(check: str, *args: str) -> str:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    run = subprocess.run([sys.executable, __file__, check, *args], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


@pytest.mark.parametrize("mode", ["ideal", "all", "stochastic", "half"])
def test_tile_states_equal_cpu_tiles_bit_for_bit(mode):
    """`half`: 66 rows, a grid of at most 1,999 levels, so codes and grid go to the tensor
    cores' float16 GEMM (kernels.cublas); the others keep float32."""
    assert _simulated("tile", mode).split() == ["equal"]


@pytest.mark.parametrize("mode", ["ideal", "all"])
def test_network_on_the_gpu_equals_the_cpu_network(tmp_path, mode):
    (tmp_path / "net.yaml").write_text(NET)
    assert _simulated("network", mode, str(tmp_path / "net.yaml")).split() == ["equal"]


def test_gpu_tile_names_an_input_with_nan():
    assert "tile 2: input 9 contains NaN or infinity" in _simulated("nan")


def test_gpu_backend_without_a_gpu_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    run = subprocess.run([sys.executable, "-m", "chipsim.cli", "accuracy",
                          "workloads/digits_mlp/mlp.onnx", "--data", "digits", "--limit", "2",
                          "--seeds", "1", "--times", "1h", "--backend", "gpu", "--json",
                          "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                         text=True)
    if run.returncode == 0:  # a machine with a GPU (and CuPy): the study ran there
        assert '"rows"' in run.stdout
    else:
        assert "--backend gpu: no CUDA GPU found" in run.stderr or "needs CuPy" in run.stderr


# ------------------------------------------------------------------ the checks, run simulated
def _tile_check(mode: str) -> None:
    import numpy as np

    from chipsim.tile import Tile, TileConfig
    from chipsim.tile_gpu import TileStack

    rows = 66 if mode == "half" else 7
    config = {"ideal": TileConfig.ideal(rows=rows, cols=5), "all": TileConfig(rows=rows, cols=5),
              "half": TileConfig(rows=rows, cols=5),
              "stochastic": TileConfig(rows=rows, cols=5, dac_rounding="stochastic",
                                       devices_per_polarity=2)}[mode]
    rs = np.random.default_rng(0)
    w = rs.normal(0, 0.3, (rows, 5)).astype(np.float32)
    tiles = [Tile(config, w, tile_id=3, seed=s) for s in (0, 5)]
    stack = TileStack(tiles)
    assert stack._half == (mode == "half")
    times = (0.0, 3600.0)
    stack.read(times, (True, False))
    for first in (7, 30):  # a second call of the same size reuses forward's buffers
        x = rs.uniform(-1, 1, (3, rows)).astype(np.float32)
        got = stack.forward(x[None], first_index=first)
        want, grids = [], []
        for t in times:
            for gdc in (True, False):
                for tile in tiles:
                    tile.drift(t)
                    if not gdc:
                        tile.set_gdc_factor(1.0)
                    want.append(tile.forward(x, first_index=first))
                    grids.append(tile._grid)
        assert np.array_equal(stack._grid, np.stack(grids))  # the exact GEMM's input
        assert np.array_equal(got, np.stack(want)), np.abs(got - np.stack(want)).max()
        assert not np.array_equal(got[0], got[1]) or mode == "ideal"  # chips differ
    print("equal")


def _network_check(mode: str, path: str) -> None:
    import numpy as np

    from chipsim.arch import load_chip
    from chipsim.functional.analog import AnalogNetwork, AnalogOptions
    from chipsim.functional.study import accuracy_study
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import STRATEGIES

    graph = load_graph(path)
    layers = lower(graph)
    chip = load_chip("hermes64")  # 4 x 4 crossbars: conv0 (9 rows) and fc split into blocks
    chip = chip.model_copy(update={"cores": chip.cores.model_copy(update={"rows": 4, "cols": 4})})
    mapping = STRATEGIES["packed"].place(layers, chip, graph="net.yaml")
    options = AnalogOptions.ideal() if mode == "ideal" else AnalogOptions()
    x = np.random.default_rng(1).random((2, 1, 5, 5)).astype(np.float32)
    y = np.array([0, 2])
    kwargs = dict(times=[0.0, 86400.0], seeds=2, gdc=(True, False), options=options)
    gpu = accuracy_study(graph, layers, mapping, chip, x, y, backend="gpu", **kwargs)
    cpu = accuracy_study(graph, layers, mapping, chip, x, y, backend="cpu", **kwargs)
    assert gpu.rows == cpu.rows, (gpu.rows, cpu.rows)
    from chipsim.functional.analog_gpu import StackedNetwork

    net = StackedNetwork(graph, layers, mapping, chip, [4], options)
    net.read([60.0], [True])
    want = AnalogNetwork(graph, layers, mapping, chip, seed=4, options=options)
    want.drift(60.0)
    assert np.array_equal(net.run(x)[0], want.run(x, gdc=True))
    print("equal")


def _nan_check() -> None:
    import numpy as np

    from chipsim.errors import DataError
    from chipsim.tile import Tile, TileConfig
    from chipsim.tile_gpu import TileStack

    stack = TileStack([Tile(TileConfig(rows=4, cols=3), np.ones((4, 3), np.float32), 2, 0)])
    x = np.ones((1, 5, 4), np.float32)
    x[0, 2, 1] = np.nan
    try:
        stack.forward(x, first_index=7)
    except DataError as err:
        print(err)


if __name__ == "__main__":
    check = sys.argv[1]
    if check == "tile":
        _tile_check(sys.argv[2])
    elif check == "network":
        _network_check(sys.argv[2], sys.argv[3])
    elif check == "nan":
        _nan_check()
