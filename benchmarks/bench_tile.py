"""Throughput of the crossbar tile against plain float32 numpy matmul of the same shapes.

Every non-ideality is on: 8-bit DAC and ADC, PCM programming noise, drift to 1 hour with read
noise and global drift compensation, output noise. Matrices larger than one 256 x 256 crossbar
are split over tiles (`TiledMatrix`) with partial sums added digitally. Both sides run in this
process on the same inputs, interleaved, and the best of several repeats counts, so the ratio
holds on a busy machine better than either figure alone.

The ratio depends on which GEMM kernel numpy's BLAS runs (OpenBLAS picks one from the CPU, or
takes OPENBLAS_CORETYPE's), so every row names it under "blas" and the table's footer prints it.

    python benchmarks/bench_tile.py          # table
    python benchmarks/bench_tile.py --json   # one JSON list of rows on stdout
"""

from __future__ import annotations

import sys

# Thread counts are settled before numpy is imported (BLAS reads them once): both sides use the
# same count, one by default; on a shared 2-core machine BLAS's threads otherwise mostly wait.
from chipsim.kernels.threads import threads_from_argv  # noqa: E402  (imports no numpy)

THREADS = threads_from_argv(sys.argv, default=1)

import numpy as np

from chipsim.tile import TileConfig, TiledMatrix

from common import (benchmark_parser, best_seconds, blas_info, blas_line,  # benchmarks/common.py
                    print_rows)

SHAPES = ((256, 256), (512, 512), (2048, 2048))
BATCHES = (1, 64, 1024)
BUDGET_S = 1.5  # wall time per (shape, batch) case, both sides together


def run() -> list[dict]:
    rs = np.random.default_rng(0)
    config = TileConfig()  # 256 x 256, every non-ideality on
    blas = blas_info()
    print(f"  {blas_line(blas)}", file=sys.stderr)
    rows_out = []
    for rows, cols in SHAPES:
        w = rs.normal(0, 0.05, (rows, cols)).astype(np.float32)
        matrix = TiledMatrix(config, w, seed=1)
        matrix.drift(3600.0)
        for batch in BATCHES:
            x = rs.uniform(-1, 1, (batch, rows)).astype(np.float32)
            matrix.forward(x)  # warm-up: JIT compilation, caches
            x @ w
            best = best_seconds({"tile": lambda: matrix.forward(x), "numpy": lambda: x @ w},
                                BUDGET_S, min_rounds=3, max_rounds=2000)
            t_tile, t_numpy = best["tile"], best["numpy"]
            row = {"rows": rows, "cols": cols, "batch": batch,
                   "vectors_per_s": batch / t_tile, "numpy_vectors_per_s": batch / t_numpy,
                   "ratio": t_numpy / t_tile, "blas": blas}
            print(f"  {rows}x{cols} batch {batch}: ratio {row['ratio']:.2f}", file=sys.stderr)
            rows_out.append(row)
    return rows_out


def table(rows: list[dict]) -> str:
    """The rows as people read them, with the targets under them."""
    lines = [f"{'weights':>11} {'batch':>6} {'tile vec/s':>12} {'numpy vec/s':>12} {'ratio':>6}"]
    lines += [f"{r['rows']:>5}x{r['cols']:<5} {r['batch']:>6} {r['vectors_per_s']:>12,.0f} "
              f"{r['numpy_vectors_per_s']:>12,.0f} {r['ratio']:>6.2f}" for r in rows]
    lines.append("targets: ratio >= 0.6 at batch 64 and 1024, >= 0.3 at batch 1")
    if rows:
        lines.append(blas_line(rows[0]["blas"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = benchmark_parser(__doc__).parse_args(argv)
    print_rows(run(), args.json, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
