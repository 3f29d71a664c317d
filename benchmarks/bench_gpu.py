"""The GPU backend: tile forward against the same GPU's float32 GEMM, the ResNet-9 accuracy study
against 2 CPU cores, and how closely GPU and CPU agree. Needs a CUDA GPU, numba-cuda and CuPy.

tile_vs_gemm: 256 x 256 tiles on CHIPS chips (seeds), every non-ideality on, drifted to 1 h with
GDC, batch 1024 inputs per chip (and 4096, a second row): `TileStack.forward` (DAC kernel, one
batched cuBLAS GEMM of float16 integer codes and grids on the tensor cores, accumulated in
float32, exact: chipsim.kernels.cublas; output-noise and ADC kernel) against
`cupy.matmul` of the same inputs with every chip's float32 weights (one batched SGEMM; CuPy's
default, no TF32). Both sides run
in this process on the same inputs, interleaved, best of several repeats, each call synchronized
(the ratio rules of bench_tile.py; the CPU's BLAS is named as there, though only the study uses
it). Ratio = GEMM time / tile time; each row also gives the tile's phases alone (dac; the
integer_gemm; convert = integer GEMM, output noise and ADC).

study_speedup_vs_cpu: the accuracy study of the calibrated ResNet-9 (workloads/mnist_resnet9/
resnet9_hwa.onnx, mappings/mnist_resnet9/resnet9_hwa-packed.yaml with its calibration), the
MNIST test set (1,000 images), 4 drift times (1h, 1d, 1w, 1y), GDC on and off, 100 chips, end to
end (programming on the CPU included) with --backend gpu, after one small warm-up run that
compiles the kernels. The CPU side runs the CPU backend in a child process pinned to 2 cores with
2 threads, on CPU_SEEDS chips; its time is scaled linearly to 100 chips: the float reference
once, plus 100 / CPU_SEEDS times the rest (every chip is programmed once and runs the same 8
cells of the same size).

half_gemm_exact: that float16 GEMM against the float32 one, bit for bit, at the largest sums the
tile allows (every code 127, every grid value 516, 256 rows: 16,776,192, just under 2^24) and
on random integers of that range.

agreement: GPU against CPU tiles (256 x 256, 3 chips, 2 times, GDC on and off, 256 inputs) in
ideal mode and with every non-ideality on, and the ResNet-9's logits (2 chips, 2 times, GDC on and
off, 64 images): the share of outputs equal bit for bit, the largest difference relative to the
largest |output|, and the share of integer-grid conductances equal.

    python benchmarks/bench_gpu.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from chipsim.kernels.threads import threads_from_argv  # noqa: E402  (imports no numpy)

THREADS = threads_from_argv(sys.argv, default=2)

import numpy as np  # noqa: E402

from common import benchmark_parser, best_seconds, blas_info, blas_line  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "workloads/mnist_resnet9/resnet9_hwa.onnx"
MAPPING = ROOT / "mappings/mnist_resnet9/resnet9_hwa-packed.yaml"
TIMES = (3600.0, 86400.0, 7 * 86400.0, 365 * 86400.0)
CHIPS = 100
CPU_SEEDS = 2
BATCHES = (1024, 4096)  # inputs per chip; tile_vs_gemm is the first
BUDGET_S = 3.0


def _study_inputs():
    from chipsim.arch import load_chip
    from chipsim.datasets import load_dataset
    from chipsim.functional.executor import check_inputs
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import Mapping

    graph = load_graph(MODEL)
    layers = lower(graph)
    chip = load_chip("hermes64")
    mapping = Mapping.from_yaml(MAPPING, chip, layers)
    x, y = load_dataset("mnist", "test")
    return graph, layers, chip, mapping, check_inputs(graph, x), y


def _study(backend: str, seeds: int, times=TIMES, images: int | None = None) -> float:
    """Seconds of the whole accuracy study (float reference included)."""
    from chipsim.functional.study import accuracy_study

    graph, layers, chip, mapping, x, y = _study_inputs()
    x, y = x[:images], y[:images]
    t0 = time.perf_counter()
    accuracy_study(graph, layers, mapping, chip, x, y, times=times, seeds=seeds,
                   gdc=(True, False), backend=backend)
    return time.perf_counter() - t0


def cpu_study(seeds: int) -> dict:
    """The CPU side (run in the pinned child): study seconds and float-reference seconds."""
    from chipsim.functional.executor import FloatBackend, run_network

    graph, layers, _, _, x, _ = _study_inputs()
    t0 = time.perf_counter()
    run_network(graph, FloatBackend(layers), x)
    reference = time.perf_counter() - t0
    return {"study_s": _study("cpu", seeds), "reference_s": reference, "seeds": seeds,
            "cores": sorted(os.sched_getaffinity(0)), "threads": THREADS, "blas": blas_info()}


def tile_vs_gemm(batch: int) -> dict:
    """One row: the ratio at `batch` inputs per chip, and the tile's time by phase."""
    import cupy

    from chipsim.kernels.cuda import synchronize
    from chipsim.tile import Tile, TileConfig
    from chipsim.tile_gpu import TileStack

    rs = np.random.default_rng(0)
    w = rs.normal(0, 0.05, (256, 256)).astype(np.float32)
    stack = TileStack([Tile(TileConfig(), w, seed=s) for s in range(CHIPS)])
    stack.read([3600.0], [True])
    x = cupy.asarray(rs.uniform(-1, 1, (CHIPS, batch, 256)).astype(np.float32))
    weights = cupy.asarray(np.broadcast_to(w, (CHIPS, 256, 256)).copy())
    indices = cupy.asarray(np.empty(0, dtype=np.int64))
    codes, ranges = stack.dac(x, indices)
    out = cupy.empty((CHIPS, batch, 256), dtype=np.float32)

    def timed(call):
        def run():
            call()
            synchronize()
        return run

    cases = {"tile": timed(lambda: stack.forward(x)),
             "gemm": timed(lambda: cupy.matmul(x, weights)),
             "dac": timed(lambda: stack.dac(x, indices)),
             "integer_gemm": timed(lambda: stack.integer_gemm(codes)),
             "convert": timed(lambda: stack.convert(codes, ranges, indices, out, False))}
    for case in cases.values():
        case()
    best = best_seconds(cases, BUDGET_S, min_rounds=5, max_rounds=500)
    vectors = CHIPS * batch
    return {"chips": CHIPS, "batch": batch, "rows": 256, "cols": 256,
            "tile_vectors_per_s": vectors / best["tile"],
            "gemm_vectors_per_s": vectors / best["gemm"], "ratio": best["gemm"] / best["tile"],
            "seconds": best}


def half_gemm_exact() -> dict:
    import cupy

    from chipsim.kernels.cublas import integer_matmul

    rs = np.random.default_rng(2)
    worst_codes = np.full((4, 512, 256), 127, np.float32)
    worst_grid = np.full((4, 256, 256), 516, np.float32)
    worst_codes[1] *= -1
    worst_grid[2, ::2] *= -1
    cases = {"largest_sums": (worst_codes, worst_grid),
             "random": (rs.integers(-127, 128, (CHIPS, 1024, 256)).astype(np.float32),
                        rs.integers(-516, 517, (CHIPS, 256, 256)).astype(np.float32))}
    out = {}
    for name, (codes, grid) in cases.items():
        codes, grid = cupy.asarray(codes), cupy.asarray(grid)
        half = integer_matmul(codes.astype(np.float16), grid.astype(np.float16), cupy)
        out[name] = bool((half == cupy.matmul(codes, grid)).all())
    return out


def _compare(got: np.ndarray, want: np.ndarray) -> dict:
    scale = float(np.abs(want).max()) or 1.0
    return {"bit_equal_fraction": float(np.mean(got == want)),
            "max_diff_relative": float(np.abs(got.astype(np.float64) - want).max() / scale)}


def tile_agreement() -> dict:
    from chipsim.kernels.cuda import to_numpy
    from chipsim.tile import Tile, TileConfig
    from chipsim.tile_gpu import TileStack

    rs = np.random.default_rng(1)
    w = rs.normal(0, 0.05, (256, 256)).astype(np.float32)
    x = rs.uniform(-1, 1, (256, 256)).astype(np.float32)
    times, seeds = (0.0, 86400.0), (0, 1, 2)
    out = {}
    for name, config in (("ideal", TileConfig.ideal()), ("all_nonidealities", TileConfig())):
        tiles = [Tile(config, w, tile_id=5, seed=s) for s in seeds]
        stack = TileStack(tiles)
        stack.read(times, (True, False))
        got = to_numpy(stack.forward(stack.xp.asarray(x[None]), first_index=11))
        grids = to_numpy(stack._grid)
        want, want_grids = [], []
        for t in times:
            for gdc in (True, False):
                for tile in tiles:
                    tile.drift(t)
                    if not gdc:
                        tile.set_gdc_factor(1.0)
                    want.append(tile.forward(x, first_index=11))
                    want_grids.append(tile._grid)
        out[name] = {**_compare(got, np.stack(want)),
                     "grid_equal_fraction": float(np.mean(grids == np.stack(want_grids)))}
    return out


def network_agreement() -> dict:
    from chipsim.functional.analog import AnalogNetwork
    from chipsim.functional.analog_gpu import StackedNetwork

    graph, layers, chip, mapping, x, y = _study_inputs()
    x = x[:64]
    seeds, times = (0, 1), (3600.0, 365 * 86400.0)
    net = StackedNetwork(graph, layers, mapping, chip, seeds)
    net.read(times, (True, False))
    got = net.run(x)
    want = []
    for t in times:
        for gdc in (True, False):
            for seed in seeds:
                cpu = AnalogNetwork(graph, layers, mapping, chip, seed=seed)
                cpu.drift(t)
                want.append(cpu.run(x, gdc=gdc))
    want = np.stack(want)
    return {**_compare(got, want),
            "same_prediction_fraction": float(np.mean(got.argmax(-1) == want.argmax(-1)))}


def study_speedup() -> dict:
    _study("gpu", 1, times=TIMES[:1], images=8)  # warm-up: compiles the kernels
    gpu_s = _study("gpu", CHIPS)
    child = subprocess.run(
        [sys.executable, __file__, "--cpu-study", str(CPU_SEEDS), "--threads", "2"],
        capture_output=True, text=True, check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {0, 1}))
    cpu = json.loads(child.stdout)
    cpu_s = cpu["reference_s"] + (cpu["study_s"] - cpu["reference_s"]) * CHIPS / CPU_SEEDS
    return {"gpu_s": gpu_s, "cpu_s_scaled": cpu_s, "cpu_measured": cpu, "chips": CHIPS,
            "times": list(TIMES), "images": 1000, "speedup": cpu_s / gpu_s}


def _name(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--cpu-study", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cpu_study is not None:
        print(json.dumps(cpu_study(args.cpu_study)))
        return 0
    from chipsim.commands.common import print_json
    from chipsim.kernels.cuda import cuda

    print(f"  {blas_line(blas_info())}", file=sys.stderr)
    agreement = {"tile": tile_agreement(), "resnet9": network_agreement(),
                 "half_gemm_exact": half_gemm_exact()}
    print(f"  agreement {agreement}", file=sys.stderr)
    tiles = [tile_vs_gemm(batch) for batch in BATCHES]
    print(f"  tile_vs_gemm {[round(t['ratio'], 3) for t in tiles]}", file=sys.stderr)
    study = study_speedup()
    print(f"  study speedup {study['speedup']:.1f}", file=sys.stderr)
    result = {"tile_vs_gemm": tiles[0]["ratio"], "study_speedup_vs_cpu": study["speedup"],
              "tile": tiles, "study": study, "agreement": agreement,
              "device": _name(cuda.get_current_device().name),
              "targets": {"tile_vs_gemm": 0.5, "study_speedup_vs_cpu": 20.0}}
    if args.json:
        print_json(result)
    else:
        for key in ("tile_vs_gemm", "study_speedup_vs_cpu"):
            print(f"{key}: {result[key]:.2f} (target {result['targets'][key]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
