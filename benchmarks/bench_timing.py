"""Speed of the cycle-level model: simulated MVMs per wall second on ResNet-9, 64 cores.

Streams 16 and 256 synthetic CIFAR-sized inputs through ResNet-9 (workloads/cifar_resnet9,
balanced mapping on hermes64) and times the run, kernel calls on the real data included
(programming the tiles, done once per chip, is not); a short case (64 inputs or fewer, about a
second) runs 3 times and the fastest counts, since the timings of a shared machine only err
slow (seen here: 86,000 to 118,000 MVMs/s for one and the same 16-input run). Beside it, in the
same process, the cost of SimPy's cheapest event, a bare timeout, so the figure can be read on
any machine as a ratio.
Each case runs in a fresh process, so its peak resident memory is its own: memory must not grow
with the number of inputs streamed.

    python benchmarks/bench_timing.py [--json] [--inputs 16,256]

An MVM here is one crossbar MVM: one block of a layer on one core, one input vector. Simulated
MVMs count every MVM that ran, including those of the timing-only inputs that the model streams
after the real ones until the throughput settles.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

# Thread counts are settled before numpy is imported (BLAS reads them once): both sides use the
# same count, one by default; on a shared 2-core machine BLAS's threads otherwise mostly wait.
from chipsim.kernels.threads import threads_from_argv  # noqa: E402  (imports no numpy)

THREADS = threads_from_argv(sys.argv, default=1)
from common import benchmark_parser, print_rows  # noqa: E402  (benchmarks/common.py)

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "workloads" / "cifar_resnet9" / "resnet9.onnx"
REPEATS = 3  # runs of a short case (<= 64 inputs), timed alone; the fastest counts


def bare_timeouts_per_s(count: int = 200_000) -> float:
    import simpy

    env = simpy.Environment()

    def ticker(env):
        for _ in range(count):
            yield env.timeout(1)

    env.process(ticker(env))
    start = time.perf_counter()
    env.run()
    return count / (time.perf_counter() - start)


def one_case(inputs: int) -> dict:
    import numpy as np

    from chipsim.arch import load_chip
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import STRATEGIES
    from chipsim.timing.simulate import Simulation

    chip = load_chip("hermes64")
    graph = load_graph(MODEL)
    layers = lower(graph)
    mapping = STRATEGIES["balanced"].place(layers, chip)
    sim = Simulation(graph, layers, chip, mapping, seed=0)
    (shape,) = graph.inputs.values()
    x = np.random.default_rng(0).random((inputs,) + tuple(shape), dtype=np.float32)
    sim.run(x[:1], keep_outputs=False)  # compile the kernels
    wall = float("inf")
    for _ in range(REPEATS if inputs <= 64 else 1):  # the fastest of a few short runs
        start = time.perf_counter()
        result, _, _ = sim.run(x, keep_outputs=False)
        wall = min(wall, time.perf_counter() - start)
    bare = bare_timeouts_per_s()
    mvms_per_s = result.simulated_mvms / wall
    return {"case": f"cifar_resnet9 balanced, {mapping.cores_used} cores", "inputs": inputs,
            "mvms_per_s": mvms_per_s, "bare_timeouts_per_s": bare,
            "ratio": mvms_per_s / bare,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "simulated_mvms": result.simulated_mvms, "wall_s": wall}


def table(rows: list[dict]) -> str:
    """The rows as people read them."""
    lines = [f"{'case':<34} {'inputs':>6} {'MVMs/s':>10} {'timeouts/s':>11} {'ratio':>7} "
             f"{'RSS MB':>7}"]
    lines += [f"{r['case']:<34} {r['inputs']:>6} {r['mvms_per_s']:>10,.0f} "
              f"{r['bare_timeouts_per_s']:>11,.0f} {r['ratio']:>7.3f} {r['peak_rss_mb']:>7.0f}"
              for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--inputs", default="16,256", help="comma-separated input counts")
    parser.add_argument("--case", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:  # a child process: one case, one JSON line
        print(json.dumps(one_case(args.case)))
        return 0
    rows = []
    for inputs in (int(v) for v in args.inputs.split(",")):
        if not args.json:
            print(f"streaming {inputs} inputs ...", file=sys.stderr)
        out = subprocess.run([sys.executable, __file__, "--case", str(inputs),
                              "--threads", str(THREADS)], check=True,
                             capture_output=True, text=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print_rows(rows, args.json, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
