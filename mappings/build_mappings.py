"""Write the bundled mapping files: every workload graph under every strategy, calibrated.

    python mappings/build_mappings.py [--only FOLDER ...]

For each graph `workloads/<folder>/<graph>.onnx` and each strategy, `mappings/<folder>/
<graph>-<strategy>.yaml` is the mapping `chipsim map` writes, with each tile's DAC input range
and column conductance ranges calibrated as `chipsim calibrate` does by default (hermes64
converts a fixed input range per crossbar, as the silicon does). The ranges are fitted once per
graph, on 256 images of the calibration split of the graph's training data (synthetic
calibration inputs for the random-weight graphs), and every strategy gets the same ranges block
by block (`chipsim.calibration.auto.transfer_calibration`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRATEGY_ORDER = ("sequential", "locality", "balanced", "packed")
#: workload folder -> the data set its graphs were trained on (None: random weights)
DATA = {"digits_mlp": "digits", "mnist_cnn": "mnist", "mnist_resnet9": "mnist",
        "mnist32_resnet9": "mnist32", "cifar_resnet9": None, "ptb_lstm": None,
        "mnist_vit": "mnist"}


def build(graph_file: Path, data: str | None) -> list[Path]:
    """The four calibrated mapping files of one graph."""
    from chipsim.arch import load_chip
    from chipsim.calibration.auto import calibrate_for_run, transfer_calibration
    from chipsim.graph import load_graph, lower
    from chipsim.mapping import STRATEGIES

    chip = load_chip("hermes64")
    graph = load_graph(graph_file)
    layers = lower(graph)
    mappings = {s: STRATEGIES[s].place(layers, chip, graph=graph_file.name)
                for s in STRATEGY_ORDER}
    log = lambda message: print(f"  {message}", file=sys.stderr, flush=True)  # noqa: E731
    calibrated, _ = calibrate_for_run(graph, layers, mappings["sequential"], chip, data=data,
                                      log=log)
    out = ROOT / "mappings" / graph_file.parent.name
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for strategy, mapping in mappings.items():
        path = out / f"{graph_file.stem}-{strategy}.yaml"
        transfer_calibration(calibrated, mapping).to_yaml(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(DATA), metavar="FOLDER")
    args = parser.parse_args(argv)
    for folder in args.only or DATA:
        for graph_file in sorted((ROOT / "workloads" / folder).glob("*.onnx")):
            print(f"{graph_file.relative_to(ROOT)}", file=sys.stderr, flush=True)
            for path in build(graph_file, DATA[folder]):
                print(f"  wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
