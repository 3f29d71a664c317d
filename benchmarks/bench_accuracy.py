"""Images per second of the analog path beside the float numpy path of the same network.

Both run the same executor (im2col, digital ops, batches); the analog path sends every MVM
through the mapped tiles with all non-idealities on, drifted to 1 h, GDC on. The figure that
matters is the ratio, measured in one process on one machine (target: analog >= 0.5 x float).

    python benchmarks/bench_accuracy.py [--batch 256] [--images 512] [--json]
"""

from __future__ import annotations

import sys
import time

# Thread counts are settled before numpy is imported (BLAS reads them once): both sides use the
# same count, one by default; on a shared 2-core machine BLAS's threads otherwise mostly wait.
from chipsim.kernels.threads import threads_from_argv  # noqa: E402  (imports no numpy)

THREADS = threads_from_argv(sys.argv, default=1)
from pathlib import Path

import numpy as np

from chipsim.arch import load_chip
from chipsim.functional.analog import AnalogNetwork
from chipsim.functional.executor import FloatBackend, run_network
from chipsim.graph import load_graph, lower
from chipsim.mapping import Mapping

from common import benchmark_parser, blas_info, blas_line, print_rows  # benchmarks/common.py

ROOT = Path(__file__).resolve().parents[1]
#: (name, graph, its bundled calibrated mapping): the chip as it runs, fixed input ranges
CASES = [("mnist_cnn", "workloads/mnist_cnn/cnn.onnx", "mappings/mnist_cnn/cnn-sequential.yaml"),
         ("mnist32_resnet9", "workloads/mnist32_resnet9/resnet9_hwa.onnx",
          "mappings/mnist32_resnet9/resnet9_hwa-sequential.yaml")]


def _best_rate(fn, images: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return images / best


def bench(name: str, path: str, mapping_file: str, batch: int, images: int,
          repeats: int) -> dict:
    chip = load_chip("hermes64")
    graph = load_graph(ROOT / path)
    layers = lower(graph)
    mapping = Mapping.from_yaml(ROOT / mapping_file, chip, layers)
    (shape,) = graph.inputs.values()
    x = np.random.default_rng(0).random((images,) + shape).astype(np.float32)
    net = AnalogNetwork(graph, layers, mapping, chip, seed=0)
    net.drift(3600.0)
    float_backend = FloatBackend(layers)
    net.run(x[:batch], batch=batch)  # compile and warm up
    run_network(graph, float_backend, x[:batch], batch=batch)
    analog = _best_rate(lambda: net.run(x, batch=batch, gdc=True), images, repeats)
    ref = _best_rate(lambda: run_network(graph, float_backend, x, batch=batch), images, repeats)
    return {"model": name, "batch": batch, "images": images, "tiles": len(mapping.placements),
            "analog_images_per_s": analog, "float_images_per_s": ref, "ratio": analog / ref,
            "blas": blas_info()}


def table(rows: list[dict]) -> str:
    """The rows as people read them."""
    lines = [f"{'model':<14} {'batch':>5} {'analog img/s':>13} {'float img/s':>12} {'ratio':>6}"]
    lines += [f"{r['model']:<14} {r['batch']:>5} {r['analog_images_per_s']:>13.1f} "
              f"{r['float_images_per_s']:>12.1f} {r['ratio']:>6.2f}" for r in rows]
    return "\n".join(lines + ([blas_line(rows[0]["blas"])] if rows else []))


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--resnet-images", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    rows = []
    for name, path, mapping_file in CASES:
        print(f"benchmarking {name} ...", file=sys.stderr)
        # ResNet-9 runs ~100x slower per image: fewer images keep the benchmark near a minute
        images = args.images if name == "mnist_cnn" else args.resnet_images
        rows.append(bench(name, path, mapping_file, min(args.batch, images), images,
                          args.repeats))
    print_rows(rows, args.json, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
