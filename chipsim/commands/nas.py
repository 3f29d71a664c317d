"""`chipsim nas`: AnalogNAS with the emulator in the loop, its candidates as Dask tasks."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from chipsim.commands.arguments import COUNT, INDEX
from chipsim.commands.common import (add_chip_option, add_cluster_options, add_json_option,
                                     chip_from_args, output_folder, print_json, progress)
from chipsim.commands.resume import Resume
from chipsim.errors import ChipsimError

STORE = "nas.sqlite"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "nas", help="AnalogNAS: search ResNet-like networks for the chip, emulator in the loop",
        description="Sample candidates of AnalogNAS's ResNet-like space by Latin hypercube, "
        "train each with noise injection (PyTorch: pip install chipsim[nas]), map, calibrate "
        "and measure it on the chip (accuracy at 1 s, 1 h, 1 day, 30 days; latency, "
        "throughput, energy, cores), fit a gradient-boosted surrogate, search it by evolution "
        "under constraints, and evaluate the best found candidates for real. Candidates run "
        "as Dask tasks and are stored as they finish in DIR/nas.sqlite: a rerun trains no "
        "finished candidate again. Writes a report (index.html, README.md, pareto.png, "
        "candidates.csv, results.json).",
    )
    add_chip_option(p)
    p.add_argument("--data", default="digits", metavar="NAME",
                   help="data set to train and test on (default digits; mnist for the 5,000 "
                   "MNIST images)")
    budget = p.add_argument_group("budget")
    budget.add_argument("--candidates", type=COUNT, default=24, metavar="N",
                        help="candidates sampled and evaluated for the surrogate (default 24)")
    budget.add_argument("--epochs", type=COUNT, default=10, metavar="N",
                        help="training epochs per candidate (default 10)")
    budget.add_argument("--images", type=COUNT, default=540, metavar="N",
                        help="test images per accuracy (default 540)")
    budget.add_argument("--chips", type=COUNT, default=2, metavar="N", dest="programmed_chips",
                        help="programmed chips per accuracy (default 2)")
    budget.add_argument("--population", type=COUNT, default=50, metavar="N",
                        help="population of the evolutionary search (default 50)")
    budget.add_argument("--iterations", type=COUNT, default=500, metavar="N",
                        help="evolution steps on the surrogate (default 500)")
    budget.add_argument("--verify", type=COUNT, default=3, metavar="N",
                        help="best found candidates evaluated for real (default 3)")
    limits = p.add_argument_group("constraints")
    limits.add_argument("--max-weights", type=COUNT, default=None, metavar="N",
                        help="most weights a found network may have (default: the baseline "
                        "ResNet's)")
    limits.add_argument("--max-cores", type=COUNT, default=None, metavar="N",
                        help="most cores its packed mapping may take (default: the baseline "
                        "ResNet's)")
    limits.add_argument("--max-drop", type=float, default=None, metavar="X",
                        help="largest predicted accuracy drop from 1 s to 30 days (fraction)")
    p.add_argument("--seed", type=INDEX, default=0, metavar="N",
                   help="seed of sampling, training, search and chips (default 0)")
    add_cluster_options(p, "its workers need chipsim with the nas extra")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder and candidate store (default reports/nas-<data>/)")
    add_json_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from chipsim.nas.cores import packed_cores
    from chipsim.nas.evaluate import evaluate_candidate
    from chipsim.nas.space import BASELINE, weights
    from chipsim.nas.search import Constraints
    from chipsim.nas.study import Budget, candidate_cell, run_nas
    from chipsim.report.nas_report import write_nas_report
    from chipsim.sweep import Store, dask_client, run_cells

    if args.max_drop is not None and not 0 <= args.max_drop <= 1:
        raise ChipsimError(f"--max-drop: expected a fraction from 0 to 1, got {args.max_drop}")
    from chipsim.datasets import dataset_info
    dataset_info(args.data)  # an unknown data set is a one-line error, before any work
    out = output_folder(args.out or Path("reports") / f"nas-{args.data}", "--out")
    chip = chip_from_args(args)
    missing = [m for m in ("torch", "sklearn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ChipsimError(f"chipsim nas needs PyTorch and scikit-learn ({', '.join(missing)} "
                           "missing): pip install 'chipsim[nas]'")
    chip_text = chip.model_dump_json()
    budget = Budget(candidates=args.candidates, epochs=args.epochs, images=args.images,
                    chips=args.programmed_chips, population=args.population,
                    iterations=args.iterations, verify=args.verify)
    constraints = Constraints(args.max_weights or weights(BASELINE),
                              args.max_cores or packed_cores(BASELINE, chip), args.max_drop)
    say = progress(args)
    store = Store(out / STORE)
    with dask_client(args.workers, args.scheduler) as client:
        def evaluate(archs):
            cells = [candidate_cell(a, chip, chip_text, f"{chip.name} (nas)", args.data, budget,
                                    args.seed) for a in archs]
            outcome = run_cells(
                cells, store, client, task=evaluate_candidate,
                on_start=lambda reused, todo: Resume.note(  # even in --json mode
                    f"{reused} read back from {store.path}, {todo} to train and measure"),
                on_cell=lambda cell, result: say(f"  {cell.fields['architecture']}: "
                                                 + ("done" if "figures" in result else
                                                    result["error"])))
            return outcome.results

        doc = run_nas(chip, chip_text, f"{chip.name} (nas)", data=args.data, budget=budget,
                      constraints=constraints, seed=args.seed, evaluate=evaluate, log=say)
    store.close()
    doc = {"chip": chip.name, "data": args.data, "epochs": args.epochs,
           "chips": args.programmed_chips, "seed": args.seed, "budget": vars(budget),
           "constraints": {k: v for k, v in vars(constraints).items() if v is not None},
           "store": str(out / STORE), **doc}
    files = write_nas_report(doc, out)
    if args.json:
        print_json({"report": str(out), "files": [str(f) for f in files], **doc})
        return 0
    month = "accuracy_2.592e+06s"
    print(f"surrogate Kendall tau {doc['kendall_tau']:.3f} on {doc['held_out']} held-out "
          "candidates")
    for r in doc["rows"]:
        if r["role"] != "sampled" and "error" not in r:
            print(f"{r['role']:<8} {r['architecture']:<48} 30 d {100 * r[month]:6.2f} %  "
                  f"cores {r['cores']:>3}  {r['energy_per_inference_uj']:8.3f} µJ")
    dominating = ", ".join(d["architecture"] for d in doc["verdict"]["dominating"])
    print(f"dominating the baseline: {dominating or 'none'}")
    print(f"wrote {out}/index.html, README.md, pareto.png, candidates.csv, results.json")
    return 0
