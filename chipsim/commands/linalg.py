"""`chipsim linalg`: randomized PCA, low-rank approximation and least squares on the arrays."""

from __future__ import annotations

import argparse
from pathlib import Path

from chipsim.commands.arguments import time
from chipsim.commands.common import (add_chip_option, add_json_option, chip_from_args,
                                     output_folder, print_json, progress)
from chipsim.errors import ChipsimError

EXPERIMENTS = ("pca", "lowrank", "lstsq")


def add_parser(sub) -> argparse.ArgumentParser:
    from chipsim.linalg.algorithms import SKETCHES
    from chipsim.linalg.matrices import DECAYS, NAMED

    p = sub.add_parser(
        "linalg",
        help="randomized linear algebra with its matrix products on the arrays",
        description="Run a randomized linear-algebra algorithm whose large matrix products go "
        "to the chip's crossbars (noise, drift, converters) and whose small factorizations and "
        "residuals run in float64: PCA and low-rank approximation by randomized SVD, least "
        "squares by sketch-and-solve and sketch-preconditioned iterative refinement. Reports the "
        "accuracy against the digital answer, and the time and energy of analog + digital "
        "against all-digital (the arrays' share from the event model). Writes results.json, "
        "README.md, index.html and a figure into --out.",
    )
    p.add_argument("experiment", choices=EXPERIMENTS)
    p.add_argument("matrix", metavar="MATRIX",
                   help=f"{', '.join(NAMED)}, or a .npy / .npz (A, b) / .csv file")
    add_chip_option(p)
    p.add_argument("--rank", type=int, default=10, metavar="K",
                   help="rank of the PCA or approximation (default 10)")
    p.add_argument("--oversample", type=int, default=10, metavar="P",
                   help="extra sketch columns of the randomized SVD (default 10)")
    p.add_argument("--power", type=int, default=2, metavar="Q",
                   help="power passes of the randomized SVD (default 2)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="independently programmed chips (default 1)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="first seed (default 0)")
    p.add_argument("--time", type=time, default="1h", metavar="T",
                   help="time after programming the arrays are read at (default 1h)")
    p.add_argument("--read-mode", default="one_phase", metavar="NAME",
                   help="read mode of the arrays (default one_phase: the chip's efficient mode)")
    synth = p.add_argument_group("synthetic matrices and least squares")
    synth.add_argument("--rows", type=int, default=1024, help="rows m (default 1024)")
    synth.add_argument("--cols", type=int, default=64, help="columns n (default 64)")
    synth.add_argument("--cond", type=float, default=1e4, help="condition number (default 1e4)")
    synth.add_argument("--decay", choices=DECAYS, default="fast",
                       help="singular values geometric (fast) or linear (slow)")
    synth.add_argument("--noise", type=float, default=1e-3,
                       help="relative size of b's part outside range(A) (default 1e-3)")
    synth.add_argument("--target", choices=("last",), default=None,
                       help="a .csv's last column is b")
    synth.add_argument("--sketch", choices=SKETCHES, default="gaussian",
                       help="the random embedding (default gaussian)")
    synth.add_argument("--sketch-rows", type=int, default=None, metavar="S",
                       help="rows of the embedding (default min(m, 4n))")
    synth.add_argument("--rounds", type=int, default=2,
                       help="sketches that build the preconditioner (default 2)")
    synth.add_argument("--steps", type=int, default=30, help="most refinement steps (default 30)")
    synth.add_argument("--inner", type=int, default=12,
                       help="CGLS iterations per refinement step (default 12)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default reports/linalg-<experiment>-<matrix>/)")
    add_json_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from chipsim.linalg import load_problem, lstsq_study, svd_study
    from chipsim.report.linalg import write_linalg_report
    from chipsim.timing.params import TimingParams

    for name in ("rank", "seeds", "rows", "cols", "steps", "inner", "rounds"):
        if getattr(args, name) < 1:
            raise ChipsimError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    for name in ("oversample", "power", "seed"):
        if getattr(args, name) < 0:
            raise ChipsimError(f"--{name}: expected an integer >= 0, got {getattr(args, name)}")
    if not 0 <= args.noise < 1:
        raise ChipsimError(f"--noise: expected a number in [0, 1), got {args.noise}")
    t = args.time
    if args.out:
        output_folder(args.out, "--out")
    chip = chip_from_args(args)
    TimingParams.from_chip(chip, args.read_mode)  # an unknown read mode fails before any work
    problem = load_problem(args.matrix, rows=args.rows, cols=args.cols, cond=args.cond,
                           decay=args.decay, noise=args.noise, seed=args.seed,
                           target=args.target)
    out = output_folder(args.out or Path("reports") / f"linalg-{args.experiment}-{problem.name}",
                        "--out")
    say = progress(args)
    if args.experiment == "lstsq":
        result = lstsq_study(problem, chip, sketch=args.sketch, sketch_rows=args.sketch_rows,
                             rounds=args.rounds, steps=args.steps, inner=args.inner,
                             seed=args.seed, t_seconds=t, read_mode=args.read_mode, log=say)
    else:
        result = svd_study(problem, chip, rank=args.rank, centre=args.experiment == "pca",
                           oversample=args.oversample, power=args.power, seeds=args.seeds,
                           seed=args.seed, t_seconds=t, read_mode=args.read_mode, log=say)
    files = write_linalg_report(result, out)
    if args.json:
        print_json({"report": str(out), **result})
        return 0
    keys = (("condition_number", "digital_rel_residual", "sketch_and_solve_rel_residual",
             "rel_residual", "residual_ratio", "refinement_steps")
            if args.experiment == "lstsq" else
            ("explained_variance_rel_err", "subspace_angle_deg", "approx_rel_err"))
    for key in keys + ("analog_energy_pj", "digital_energy_pj", "all_digital_energy_pj",
                       "energy_ratio", "analog_time_ns", "digital_time_ns",
                       "all_digital_time_ns"):
        print(f"{key:<32} {result[key]:.6g}")
    print(f"wrote {out}/index.html, README.md, results.json and {len(files) - 3} more files")
    return 0
