"""`chipsim train`: train a dense network on a training chip's tiles (or in float), a character
LSTM (`--data text`), and the Kim et al. and Gokmen et al. studies (`--study kim|gokmen`)."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from chipsim.commands.common import (add_chip_option, add_json_option, output_folder,
                                     print_json, progress)
from chipsim.errors import ChipsimError

STUDIES = ("kim", "gokmen")
# defaults that differ between the MLP (and the Kim study) and the character LSTM
_DEFAULTS = {"mlp": dict(imbalances="0,0.2,0.5", seeds=2, epochs=1, lr=0.1),
             # lr 0.02: inside the pulsed update's unbiased range, lr x_max d_max <= BL dw_min
             # (docs/training.md, Gokmen et al. study)
             "text": dict(imbalances="0,0.02,0.05,0.1", seeds=3, epochs=3, lr=0.02)}


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train a network on the chip's arrays (pulsed updates), or the Kim et al. study",
        description="Train an MLP (or a CNN from --graph) with SGD on the crossbars of a training "
        "chip (a chip description with a `training` section, e.g. the built-in rpu_train): "
        "forward and backward are reads of the tiles through their converters, updates are the "
        "tiles' "
        "stochastic pulse trains; activations, loss and biases are digital. Each finished "
        "epoch is appended to results.csv and the report (curve.png, README.md, index.html) "
        "in --out is redrawn, so a killed run keeps its finished epochs. "
        "`--study kim` runs Kim et al.'s study instead: the MLP 784-256-128-10 (sigmoid, "
        "mini-batch 1) on MNIST 5k, at several up/down imbalances, with and without "
        "zero-shifting, several seeds; one row per cell (docs/training.md). `--data text` "
        "trains a character LSTM language model (one array per LSTM layer) on Python "
        "standard-library source text; `--study gokmen` runs Gokmen et al.'s study on it: test "
        "cross-entropy against DAC bits and rounding, and device asymmetry.",
    )
    add_chip_option(p, faults=False)  # pulsed training devices are modelled without faults
    p.set_defaults(chip="rpu_train")
    p.add_argument("--layers", default="784,256,128,10", metavar="N,N,...",
                   help="layer sizes, inputs first (default 784,256,128,10: Kim et al.'s MLP)")
    p.add_argument("--graph", default=None, metavar="FILE",
                   help="take the layers from a graph file (.onnx or native .yaml/.json): "
                   "a chain of conv2d, maxpool, flatten and dense layers, hidden ones with "
                   "--activation; instead of --layers; its weights are not used")
    p.add_argument("--data", default="mnist", choices=("mnist", "digits", "text"),
                   help="data set (default mnist: the 5k subset, 4,000 train / 1,000 test; "
                   "text: a character LSTM on Python standard-library sources)")
    p.add_argument("--activation", default="sigmoid", choices=("sigmoid", "relu"),
                   help="hidden-layer activation (default sigmoid)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs (default 1; 3 for the character LSTM)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default 0.1; 0.02 for the character LSTM)")
    p.add_argument("--batch", type=int, default=1, help="mini-batch size (default 1, the papers')")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--train-limit", type=int, default=None, metavar="N",
                   help="train on the first N training images only (quick runs)")
    p.add_argument("--up-down", type=float, default=None, metavar="U",
                   help="override the device's up/down imbalance: a+/a- = (1+U)/(1-U)")
    p.add_argument("--bound", type=float, default=None, metavar="B",
                   help="override the device's mean bounds: w_max = B, w_min = -B")
    p.add_argument("--zero-shift", action="store_true",
                   help="zero-shift every tile before training (Kim et al.)")
    p.add_argument("--zero-shift-pairs", type=int, default=2000, metavar="N",
                   help="alternating up/down pulse pairs of the zero-shifting (default 2000)")
    p.add_argument("--float", action="store_true",
                   help="train the same network with float numpy products (the reference)")
    text = p.add_argument_group("the character LSTM (--data text, --study gokmen)")
    text.add_argument("--lstm", default="64", metavar="H,H,...",
                      help="hidden sizes of the LSTM layers (default 64; the paper: 64,64)")
    text.add_argument("--seq-len", type=int, default=25,
                      help="characters per training sequence (BPTT length, default 25)")
    text.add_argument("--train-chars", type=int, default=20000, metavar="N",
                      help="train on the first N characters of the training text (default "
                      "20000)")
    text.add_argument("--test-chars", type=int, default=5000, metavar="N",
                      help="test on the first N characters of the test text (default 5000)")
    text.add_argument("--dac-bits", default="5,6,7,8,none", metavar="B,B,...",
                      help="DAC resolutions of the Gokmen study; none: no quantization "
                      "(default 5,6,7,8,none)")
    text.add_argument("--dac-reads", choices=("both", "forward", "backward"), default="both",
                      help="the reads the Gokmen study's DAC bits and rounding apply to, the "
                      "other read unquantized (default both: the forward and the transposed "
                      "read)")
    study = p.add_argument_group("the studies (--study kim|gokmen)")
    study.add_argument("--study", choices=STUDIES, default=None,
                       help="run a study instead of one training run")
    study.add_argument("--imbalances", default=None, metavar="U,U,...",
                       help="up/down imbalances U of the study (default kim 0,0.2,0.5; "
                       "gokmen 0,0.02,0.05,0.1)")
    study.add_argument("--seeds", type=int, default=None,
                       help="seeds per cell, --seed and up (default kim 2, gokmen 3)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default reports/train-<data>/ or reports/train-<study>/)")
    add_json_option(p)
    return p


def _sizes(text: str, name: str, kind=int) -> list:
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ChipsimError(f"--{name} {text!r}: expected comma-separated numbers") from None


def _check(args: argparse.Namespace) -> None:
    lstm = args.study == "gokmen" or (args.study is None and args.data == "text")
    for name, value in _DEFAULTS["text" if lstm else "mlp"].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("epochs", "batch", "seeds", "zero_shift_pairs", "seq_len"):
        if getattr(args, name) < 1:
            raise ChipsimError(f"--{name.replace('_', '-')}: expected a positive integer, "
                               f"got {getattr(args, name)}")
    if args.seed < 0 or not args.lr > 0:
        raise ChipsimError(f"--seed must be >= 0 and --lr > 0, got {args.seed} and {args.lr}")
    if args.bound is not None and not args.bound > 0:
        raise ChipsimError(f"--bound: expected a positive number, got {args.bound}")
    if args.train_limit is not None and args.train_limit < 1:
        raise ChipsimError(f"--train-limit: expected a positive integer, got {args.train_limit}")


def run(args: argparse.Namespace) -> int:
    from chipsim.arch import load_chip

    _check(args)
    chip = None if args.float and args.study is None else load_chip(args.chip)
    if args.study == "kim":
        return _run_kim(args, chip)
    if args.study == "gokmen" or args.data == "text":
        from chipsim.commands.train_text import run_text

        return run_text(args, chip)
    from chipsim.training import TrainSpec, train, training_tile_config

    config = None if args.float else training_tile_config(chip, up_down=args.up_down,
                                                          **bound_overrides(args))
    if args.graph:  # a chain of conv, maxpool, flatten and dense shapes
        from chipsim.training.shapes import network_chain

        layers = network_chain(args.graph)
        args.layers = layers.describe()
    else:
        layers = tuple(_sizes(args.layers, "layers"))
    spec = TrainSpec(layers=layers, data=args.data,
                     activation=args.activation, epochs=args.epochs, lr=args.lr,
                     batch=args.batch, seed=args.seed, train_limit=args.train_limit,
                     zero_shift_pairs=args.zero_shift_pairs if args.zero_shift else 0,
                     tile_config=config)
    out = output_folder(args.out or Path("reports") / f"train-{args.data}", "--out")
    settings = {"chip": "float numpy" if args.float else chip.name, "layers": args.layers,
                "data": args.data, "activation": args.activation, "lr": args.lr,
                "batch": args.batch, "seed": args.seed, "up_down": config.training.device.up_down
                if config else None, "bound": args.bound, "zero_shift": args.zero_shift,
                "train_limit": args.train_limit}
    return logged_run(args, out, f"Training {args.layers} on {args.data}", settings,
                      lambda **hooks: train(spec, **hooks),
                      lambda r: f"test accuracy {100 * r.test_accuracy:.2f} %, test loss "
                                f"{r.test_loss:.4f}",
                      lambda r: f"test accuracy {100 * r.test_accuracy:.2f} %")


def logged_run(args: argparse.Namespace, out: Path, title: str, settings: dict, run, epoch_line,
               final_line, unit: str = "img") -> int:
    """One training run with its report: every finished epoch appended to results.csv in `out`
    (curve and pages redrawn), a line on stderr and a progress bar; at the end the JSON
    document or a final line. `run(on_epoch=..., on_batch=...)` trains."""
    from chipsim.report.training import EpochLog

    log = EpochLog(out, title, settings)
    say = progress(args)
    bar = _bar(args, unit)
    results = run(on_epoch=lambda r: (log.add(r.row()), say(
        f"epoch {r.epoch}: {epoch_line(r)}, {r.seconds:.1f} s")),
        on_batch=None if bar is None else bar.update)
    if bar is not None:
        bar.close()
    if args.json:
        print_json({"report": str(out), "settings": settings,
                    "epochs": [r.row() for r in results]})
        return 0
    print(f"final {final_line(results[-1])} after {args.epochs} epoch(s); wrote "
          f"{out}/results.csv, curve.png, README.md, index.html")
    return 0


def bound_overrides(args: argparse.Namespace) -> dict:
    """The device-bound overrides of --bound (none without it)."""
    return {} if args.bound is None else {"w_max": args.bound, "w_min": -args.bound}


def _bar(args: argparse.Namespace, unit: str = "img"):
    """A tqdm bar over the training samples of all epochs on stderr (none in --json mode)."""
    if args.json:
        return None
    from tqdm import tqdm

    return tqdm(total=None, desc="training", unit=unit, file=sys.stderr, leave=False)


def cell_csv(path: Path, header: list[str]):
    """Start results.csv of a study with its header; returns a function that appends one
    cell's row at once (lists space-separated) and hands the row back."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerow(header)

    def append(row: dict) -> dict:
        with open(path, "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([row[h] if not isinstance(row[h], list) else
                                    " ".join(map(str, row[h])) for h in header])
        return row

    return append


def _run_kim(args: argparse.Namespace, chip) -> int:
    from chipsim.training.kim import kim_study

    imbalances = _sizes(args.imbalances, "imbalances", float)
    seeds = list(range(args.seed, args.seed + args.seeds))
    out = output_folder(args.out or Path("reports") / "train-kim", "--out")
    out.mkdir(parents=True, exist_ok=True)
    say = progress(args)
    path = out / "results.csv"
    append = cell_csv(path, ["device", "up_down", "a_up_over_a_down", "zero_shift",
                             "mean_accuracy", "std_accuracy", "accuracies", "seeds"])

    def write(cell) -> None:
        row = append(cell.row())
        say(f"{row['device']} up_down={row['up_down']} zero_shift={row['zero_shift']}: "
            f"{100 * row['mean_accuracy']:.2f} +- {100 * row['std_accuracy']:.2f} %")

    cells = kim_study(chip, imbalances, seeds, args.epochs, args.lr, args.zero_shift_pairs,
                      train_limit=args.train_limit, on_cell=write, on_run=say,
                      overrides=bound_overrides(args))
    rows = [c.row() for c in cells]
    if args.json:
        print_json({"study": "kim", "chip": chip.name, "bound": args.bound,
                    "epochs": args.epochs, "lr": args.lr,
                    "zero_shift_pairs": args.zero_shift_pairs, "report": str(out),
                    "rows": rows})
        return 0
    print(f"{'device':<7} {'up_down':>7} {'a+/a-':>6} {'zero-shift':>10} {'accuracy %':>11} "
          f"{'std':>6}")
    for r in rows:
        u = "" if r["up_down"] is None else f"{r['up_down']:.2f}"
        ratio = "" if r["a_up_over_a_down"] is None else f"{r['a_up_over_a_down']:.2f}"
        print(f"{r['device']:<7} {u:>7} {ratio:>6} {str(r['zero_shift']):>10} "
              f"{100 * r['mean_accuracy']:>11.2f} {100 * r['std_accuracy']:>6.2f}")
    print(f"wrote {path}")
    return 0
