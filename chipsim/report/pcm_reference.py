"""The digits MLP against the PCM reference tables, under both DAC rules.

    python -m chipsim.report.pcm_reference [--seeds 5] [--json]

`shared/reference/pcm-noise.md` gives the relative logit error of a 64-128-10 MLP on
scikit-learn's digits under the published PCM model, computed with IBM's aihwkit 1.2, in two
tables that differ in how inputs reach the DAC: rule 1 scales each input vector by its own max
|x| (aihwkit's default, a software option); rule 2 converts a fixed range per tile, the max |x|
of the tile's inputs over the training split (as the silicon runs). This module runs the
bundled `workloads/digits_mlp/mlp.onnx` on hermes64 (sequential mapping) the same way and
prints both tables, ours next to the reference; `tests/test_accuracy_study.py` holds every cell
within 15 %.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HOUR, DAY, YEAR = 3600.0, 86400.0, 365 * 86400.0

#: rule -> condition -> (time, or None for the converters alone; with GDC; without GDC)
REFERENCE = {
    "per-vector": {"io": (None, 0.026, 0.026), "t0": (0.0, 0.074, 0.072),
                   "1h": (HOUR, 0.097, 0.418), "1d": (DAY, 0.121, 0.571),
                   "1y": (YEAR, 0.181, 0.756)},
    "fixed-max": {"io": (None, 0.034, 0.034), "t0": (0.0, 0.077, 0.075),
                  "1h": (HOUR, 0.097, 0.419), "1d": (DAY, 0.120, 0.571),
                  "1y": (YEAR, 0.180, 0.756)},
}
CONDITIONS = {"io": "DAC/ADC and output noise only", "t0": "programmed, t = 0",
              "1h": "1 hour", "1d": "1 day", "1y": "1 year"}


def mlp_errors(seeds: int = 5) -> dict[tuple[str, str, bool], float]:
    """(rule, condition, GDC) -> mean relative logit error over `seeds` chips."""
    from chipsim.arch import load_chip
    from chipsim.calibration import calibrate_mapping
    from chipsim.datasets import load_dataset
    from chipsim.functional.analog import AnalogNetwork, AnalogOptions
    from chipsim.functional.executor import FloatBackend, run_network
    from chipsim.functional.study import relative_logit_error
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import STRATEGIES

    chip = load_chip("hermes64")
    graph = load_graph(ROOT / "workloads/digits_mlp/mlp.onnx")
    layers = lower(graph)
    bare = STRATEGIES["sequential"].place(layers, chip)
    x_train, _ = load_dataset("digits", "train")
    fixed = calibrate_mapping(graph, layers, bare, chip, x_train, input_rule="max",
                              column_rule="none", max_rows=len(x_train)).mapping
    setups = {"per-vector": (bare, "max_abs"), "fixed-max": (fixed, "calibrated")}
    x, _ = load_dataset("digits", "test")
    reference = run_network(graph, FloatBackend(layers), x)
    errors = {}
    for rule, (mapping, dac) in setups.items():
        for name, (t, _, _) in REFERENCE[rule].items():
            exact_weights = t is None  # the converters and output noise alone
            options = AnalogOptions(input_range=dac, programming_noise=not exact_weights,
                                    drift=not exact_weights, read_noise=not exact_weights)
            runs: dict[bool, list[float]] = {True: [], False: []}
            for seed in range(seeds):
                net = AnalogNetwork(graph, layers, mapping, chip, seed=seed, options=options)
                net.drift(t or 0.0)
                for gdc in (True, False):
                    runs[gdc].append(relative_logit_error(net.run(x, gdc=gdc), reference))
            for gdc in (True, False):
                errors[rule, name, gdc] = float(np.mean(runs[gdc]))
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chipsim.report.pcm_reference",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="chips per cell (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    errors = mlp_errors(args.seeds)
    rows = [{"rule": rule, "condition": name, "gdc": gdc, "ours": errors[rule, name, gdc],
             "reference": REFERENCE[rule][name][1 if gdc else 2]}
            for rule in REFERENCE for name in REFERENCE[rule] for gdc in (True, False)]
    if args.json:
        import json

        json.dump({"seeds": args.seeds, "rows": rows}, sys.stdout, indent=2)
        print()
        return 0
    for rule in REFERENCE:
        print(f"\nrule {rule}: relative logit error, ours / reference ({args.seeds} seeds)")
        print("| condition | with GDC | without GDC |\n| --- | --- | --- |")
        for name, label in CONDITIONS.items():
            cells = [f"{errors[rule, name, g]:.3f} / {REFERENCE[rule][name][1 if g else 2]:.3f}"
                     for g in (True, False)]
            print(f"| {label} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
