"""Regenerate the reports shipped in `reports/` for the bundled workloads on hermes64.

    python -m chipsim.report.bundled [--only NAME ...]

Each report is made by the same `chipsim` command a user would type (listed in `RUNS` and in
`reports/README.md`), so the shipped folders show exactly what the commands give. The README's
headline table is then read from the comparison's `results.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from chipsim.cli import main as chipsim
from chipsim.report.tables import fmt

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"

def _trained(workload: str, graph: str, data: str, images: int) -> list[str]:
    """The report of a trained workload on its test data, with the range-calibration study."""
    return ["report", f"workloads/{workload}/{graph}.onnx", "--chip", "hermes64", "--mapping",
            f"mappings/{workload}/{graph}-balanced.yaml", "--data", data, "--images",
            str(images), "--calibration-study"]


#: trained workloads: folder, graph (plain; "_hwa" is the one trained with noise injection),
#: data set, test images in the report
_TRAINED = (("digits_mlp", "mlp", "digits", 540), ("mnist_cnn", "cnn", "mnist", 200),
            ("mnist_resnet9", "resnet9", "mnist", 100))
#: the chip paper's ResNet-9, reported without the calibration study (40 tiles: minutes)
_HEADLINE_NETS = ("resnet9", "resnet9_hwa")

def _drift(workload: str, graph: str, data: str) -> list[str]:
    """Test accuracy over drift time on the whole test split, 5 chips, with and without GDC."""
    return ["accuracy", f"workloads/{workload}/{graph}.onnx", "--chip", "hermes64", "--mapping",
            f"mappings/{workload}/{graph}-sequential.yaml", "--data", data, "--times",
            "1s,1h,1d,1y", "--seeds", "5"]


def _calibration(workload: str, graph: str, data: str) -> list[str]:
    """The range-calibration study on the whole test split, 5 chips."""
    return _drift(workload, graph, data) + ["--calibration-study"]


#: report folder -> the chipsim command that writes it (paths relative to the repository root)
RUNS: dict[str, list[str]] = {
    # the README's first command: the chip paper's ResNet-9, trained with noise injection
    "compare-mnist32_resnet9": [
        "compare", "workloads/mnist32_resnet9/resnet9_hwa.onnx", "--data", "mnist32",
        "--calibration", "mappings/mnist32_resnet9/resnet9_hwa-sequential.yaml", "--times",
        "1h,1y", "--images", "300", "--seeds", "1", "--strategies",
        "sequential,locality,balanced,packed"],
    # the same shapes with random weights: timing, and agreement with the float network
    "compare-cifar_resnet9": ["compare", "workloads/cifar_resnet9/resnet9.onnx", "--chip",
                              "hermes64", "--strategies", "sequential,locality,balanced,packed"],
    **{f"{folder}{variant}": _trained(folder, graph + variant, data, images)
       for folder, graph, data, images in _TRAINED for variant in ("", "_hwa")},
    # a small vision transformer (PyTorch's nn.TransformerEncoder), with its calibration study
    "mnist_vit": _trained("mnist_vit", "vit", "mnist", 200),
    "ptb_lstm": ["report", "workloads/ptb_lstm/lstm.onnx", "--chip", "hermes64", "--mapping",
                 "mappings/ptb_lstm/lstm-balanced.yaml"],
    **{f"mnist32_{graph}": ["report", f"workloads/mnist32_resnet9/{graph}.onnx", "--chip",
                            "hermes64", "--mapping",
                            f"mappings/mnist32_resnet9/{graph}-balanced.yaml", "--data",
                            "mnist32", "--images", "200", "--seeds", "2"]
       for graph in _HEADLINE_NETS},
    # networks users bring, on systems of several hermes64 chips (docs/systems.md): the
    # papers' ResNet-18 and MobileNetV2 exported from PyTorch (chipsim.zoo, random weights,
    # written to workloads/zoo/ first: 47 and 14 MB), uncalibrated (calibrating 210 and 369
    # tiles takes longer than the rest together); a transformer encoder and a GRU (tests/data)
    **{f"compare-{net}": ["compare", f"workloads/zoo/{net}.onnx", "--chip", "hermes64",
                          "--chips", str(chips), "--strategies", "sequential,balanced",
                          "--inputs", "2", "--images", "8", "--seeds", "1", "--times", "1h",
                          "--no-calibrate"]
       for net, chips in (("resnet18", 4), ("mobilenet_v2", 8))},
    **{f"compare-{net}": ["compare", f"tests/data/{net}_legacy.onnx", "--chip", "hermes64",
                          "--chips", "2", "--strategies", "sequential,locality,balanced,packed",
                          "--seeds", "2", "--times", "1h,1y"]
       for net in ("transformer", "gru")},
    # the chip paper's ResNet-9 as more of the chip fails (README, "Faults")
    "faults-mnist32_resnet9": [
        "faults", "workloads/mnist32_resnet9/resnet9_hwa.onnx", "--data", "mnist32",
        "--calibration", "mappings/mnist32_resnet9/resnet9_hwa-sequential.yaml", "--rates",
        "0,0.003,0.01,0.03", "--images", "200", "--seeds", "2", "--inputs", "16"],
    # AnalogNAS with the emulator in the loop (docs/nas.md; about 10 min on 2 cores)
    "nas-digits": ["nas", "--candidates", "64", "--epochs", "15", "--iterations", "1000",
                   "--verify", "5"],
    # randomized linear algebra on the arrays (docs/linalg.md)
    "linalg-pca-digits": ["linalg", "pca", "digits", "--rank", "10", "--seeds", "5"],
    "linalg-lowrank-digits": ["linalg", "lowrank", "digits", "--rank", "10", "--seeds", "5"],
    "linalg-lstsq-synthetic": ["linalg", "lstsq", "synthetic", "--cond", "1e4"],
    "linalg-lstsq-cond1e8": ["linalg", "lstsq", "synthetic", "--cond", "1e8"],
    "linalg-lstsq-large": ["linalg", "lstsq", "synthetic", "--rows", "4096", "--cols", "256",
                           "--cond", "1e6"],
    "linalg-lstsq-diabetes": ["linalg", "lstsq", "diabetes"],
    # the results behind the README's accuracy and calibration tables
    **{f"drift-mnist_cnn{v}": _drift("mnist_cnn", f"cnn{v}", "mnist") for v in ("", "_hwa")},
    **{f"calibration-{folder}{variant}": _calibration(folder, graph + variant, data)
       for folder, graph, data, _ in _TRAINED for variant in ("", "_hwa")},
    "calibration-mnist_vit": _calibration("mnist_vit", "vit", "mnist"),
}
HEADLINE = "compare-mnist32_resnet9"


def command(name: str) -> list[str]:
    return RUNS[name] + ["--out", f"reports/{name}"]


def readme() -> str:
    """reports/README.md: how to regenerate, what each folder is, the headline table and figure."""
    lines = ["# Reports for the bundled workloads on hermes64", "",
             "Regenerate them all (a few minutes on 2 cores):", "",
             "    python -m chipsim.report.bundled", "",
             "Each folder holds `index.html` and `README.md` side by side, PNG figures, "
             "`results.json` and CSV tables, written by:", ""]
    lines += [f"- [`{name}/`]({name}/README.md): `chipsim {' '.join(command(name))}`"
              for name in RUNS]
    headline = REPORTS / HEADLINE / "results.json"
    if headline.exists():
        data = json.loads(headline.read_text(encoding="utf-8"))
        columns = data["columns"]
        lines += ["", "## Headline: mapping strategies for the chip paper's ResNet-9 on hermes64",
                  "",
                  "Text for the top-level README (numbers read from "
                  f"`{HEADLINE}/results.json`):", "",
                  "```bash",
                  f"chipsim {' '.join(RUNS[HEADLINE])} --out reports/{HEADLINE}", "```", "",
                  "| strategy | " + " | ".join(f"{c['label']} ({c['unit']})" for c in columns)
                  + " | Pareto-optimal |",
                  "| --- |" + " ---: |" * len(columns) + " --- |"]
        for name in data["finished"]:
            cells = [(f"**{fmt(c['values'][name])}**" if name in data["best"][c["key"]]
                      else fmt(c["values"][name])) for c in columns]
            lines.append(f"| {name} | " + " | ".join(cells) + " | "
                         + ("yes" if name in data["pareto"] else "no") + " |")
        lines += ["", f"Bold: best in its column. Inputs: {data['inputs']}.", "",
                  f"![Each figure per strategy]({HEADLINE}/compare.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chipsim.report.bundled",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(RUNS), metavar="NAME",
                        help=f"regenerate only these ({', '.join(RUNS)})")
    args = parser.parse_args(argv)
    for name in args.only or RUNS:
        zoo_file = ROOT / RUNS[name][1]
        if zoo_file.parent.name == "zoo" and not zoo_file.exists():  # needs PyTorch
            from chipsim import zoo

            zoo_file.parent.mkdir(exist_ok=True)
            zoo.export(zoo_file.stem, zoo_file)
        print(f"== chipsim {' '.join(command(name))}", file=sys.stderr, flush=True)
        here = os.getcwd()
        os.chdir(ROOT)
        try:
            status = chipsim(command(name))
        finally:
            os.chdir(here)
        if status:
            return status
    (REPORTS / "README.md").write_text(readme(), encoding="utf-8")
    print(f"wrote {REPORTS / 'README.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
