"""`chipsim train --data text` and `--study gokmen`: the character LSTM on the arrays (or in
float), one run or Gokmen et al.'s study table (docs/training.md)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from chipsim.commands.common import print_json, progress
from chipsim.commands.train import _sizes, bound_overrides, cell_csv, logged_run
from chipsim.errors import ChipsimError


def _spec(args: argparse.Namespace, config=None):
    from chipsim.training.charlm import TextSpec

    for name in ("train_chars", "test_chars"):
        if getattr(args, name) < 2:
            raise ChipsimError(f"--{name.replace('_', '-')}: expected at least 2 characters, "
                               f"got {getattr(args, name)}")
    hidden = tuple(_sizes(args.lstm, "lstm"))
    if not hidden or min(hidden) < 1:
        raise ChipsimError(f"--lstm {args.lstm!r}: expected hidden sizes >= 1")
    return TextSpec(hidden=hidden, seq_len=args.seq_len, epochs=args.epochs, lr=args.lr,
                    batch=args.batch, seed=args.seed, train_chars=args.train_chars,
                    test_chars=args.test_chars, tile_config=config)


def _dac_bits(text: str) -> list[int | None]:
    bits = []
    for part in (v.strip() for v in text.split(",") if v.strip()):
        if part == "none":
            bits.append(None)
        elif part.isdigit() and 2 <= int(part) <= 16:
            bits.append(int(part))
        else:
            raise ChipsimError(f"--dac-bits {text!r}: expected bits 2..16 or none, "
                               f"comma-separated")
    return bits


def run_text(args: argparse.Namespace, chip) -> int:
    if args.zero_shift or args.graph:
        raise ChipsimError(f"--{'zero-shift' if args.zero_shift else 'graph'}: not available "
                           f"for the character LSTM (--data text, --study gokmen)")
    if args.study == "gokmen":
        return _run_gokmen(args, chip)
    from chipsim.training import training_tile_config
    from chipsim.training.charlm import train_text
    from chipsim.training.text import load_corpus

    config = None if args.float else training_tile_config(chip, up_down=args.up_down,
                                                          **bound_overrides(args))
    spec = _spec(args, config)
    corpus = load_corpus(spec.train_chars, spec.test_chars)
    out = Path(args.out) if args.out else Path("reports") / "train-text"
    settings = {"chip": "float numpy" if args.float else chip.name, "lstm": args.lstm,
                "seq_len": args.seq_len, "lr": args.lr, "batch": args.batch, "seed": args.seed,
                "up_down": config.training.device.up_down if config else None,
                "bound": args.bound, **corpus.describe()}
    return logged_run(args, out, f"Character LSTM {args.lstm} on Python source text", settings,
                      lambda **hooks: train_text(spec, corpus=corpus, **hooks),
                      lambda r: f"test cross-entropy {r.test_loss:.4f} nats/char, next-character "
                                f"accuracy {100 * r.test_accuracy:.2f} %",
                      lambda r: f"test cross-entropy {r.test_loss:.4f} nats per character",
                      unit="seq")


def _run_gokmen(args: argparse.Namespace, chip) -> int:
    from chipsim.training.gokmen import gokmen_study
    from chipsim.training.text import load_corpus

    base = _spec(args)
    bits = _dac_bits(args.dac_bits)
    imbalances = _sizes(args.imbalances, "imbalances", float)
    if any(not -1 < u < 1 for u in imbalances):
        raise ChipsimError(f"--imbalances {args.imbalances!r}: expected values in (-1, 1)")
    seeds = list(range(args.seed, args.seed + args.seeds))
    corpus = load_corpus(base.train_chars, base.test_chars).describe()
    out = Path(args.out) if args.out else Path("reports") / "train-gokmen"
    out.mkdir(parents=True, exist_ok=True)
    say = progress(args)
    path = out / "results.csv"
    append = cell_csv(path, ["device", "dac_bits", "rounding", "up_down", "mean_test_loss",
                             "std_test_loss", "mean_accuracy", "test_losses", "seeds"])

    def write(cell) -> None:
        row = append(cell.row())
        say(f"{row['device']} dac_bits={row['dac_bits']} rounding={row['rounding']} "
            f"up_down={row['up_down']}: {row['mean_test_loss']:.4f} +- "
            f"{row['std_test_loss']:.4f} nats/char")

    t0 = time.perf_counter()
    cells = gokmen_study(chip, base, seeds, bits, imbalances, on_cell=write, on_run=say,
                         overrides=bound_overrides(args), reads=args.dac_reads)
    rows = [c.row() for c in cells]
    settings = {"study": "gokmen", "chip": chip.name, "lstm": args.lstm,
                "seq_len": args.seq_len, "epochs": args.epochs, "lr": args.lr,
                "batch": args.batch, "bound": args.bound, "dac_reads": args.dac_reads, **corpus,
                "seconds": round(time.perf_counter() - t0, 1)}
    if args.json:
        print_json({**settings, "report": str(out), "rows": rows})
        return 0
    print(f"text: python {corpus['python']} stdlib, {corpus['chars']} characters, sha256 "
          f"{corpus['sha256'][:16]}...; loss: test cross-entropy, nats per character; "
          f"DAC settings on the {args.dac_reads} read{'s' if args.dac_reads == 'both' else ''}")
    print(f"{'device':<7} {'DAC bits':>8} {'rounding':>13} {'up_down':>7} {'loss':>7} "
          f"{'std':>6}")
    for r in rows:
        b = "" if r["device"] == "float" else "none" if r["dac_bits"] is None else r["dac_bits"]
        u = "" if r["up_down"] is None else f"{r['up_down']:.2f}"
        print(f"{r['device']:<7} {b:>8} {r['rounding'] or '':>13} {u:>7} "
              f"{r['mean_test_loss']:>7.4f} {r['std_test_loss']:>6.4f}")
    print(f"wrote {path} ({settings['seconds']:.0f} s)")
    return 0
