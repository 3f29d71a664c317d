"""One candidate, evaluated where a Dask worker runs it: trained, put on the chip, measured.

Training is AnalogNAS's: a fixed small budget of epochs with hardware-aware noise injection
(`chipsim.hwa`), Adam with a one-cycle schedule, on the data set's training split, seeded, on
one CPU thread (deterministic). The trained network is exported to ONNX and then measured as any
user network is: mapped with the `packed` strategy (fewest cores), calibrated on the
calibration split, its test accuracy read at every drift time on several programmed chips
(GDC on), and its latency, throughput and energy per inference from the event model. A
candidate that does not fit the chip is a result too ({"error": ...}).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from chipsim.errors import ChipsimError

STRATEGY = "packed"


def evaluate_candidate(job: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """{"figures": {...}, "units": {...}} or {"error": message}, and the seconds it took."""
    from chipsim.kernels.threads import limit_threads

    limit_threads(1)
    start = time.perf_counter()
    try:
        result = _evaluate(job)
    except ChipsimError as err:
        result = {"error": str(err)}
    return result, time.perf_counter() - start


def train(arch: Any, data: str, epochs: int, seed: int) -> Any:
    """The candidate trained with noise injection (a torch module in eval mode)."""
    import torch

    from chipsim.datasets import load_dataset
    from chipsim.hwa import HwaNoise, fit
    from chipsim.nas.network import build_network

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = build_network(arch)
    x, y = load_dataset(data, "train", "image")
    return fit(model, torch.from_numpy(x), torch.from_numpy(y), noise=HwaNoise(),
               epochs=epochs, batch_size=64, lr=3e-3, weight_decay=5e-4, seed=seed)


def export(model: Any, shape: tuple[int, ...], path: Path) -> None:
    import torch

    torch.onnx.export(model, torch.zeros((1, *shape)), str(path), dynamo=False,
                      opset_version=17, do_constant_folding=True, input_names=["input"],
                      output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def _evaluate(job: dict[str, Any]) -> dict[str, Any]:
    from chipsim.arch import parse_chip
    from chipsim.calibration.auto import calibrate_for_run
    from chipsim.datasets import DATASETS
    from chipsim.mapping import STRATEGIES
    from chipsim.nas.space import Architecture, weights
    from chipsim.report import Workload, measure_run

    arch = Architecture.from_genes(job["genes"])
    chip = parse_chip(job["chip_text"], job["chip_source"])
    model = train(arch, job["data"], job["epochs"], job["seed"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{arch.name()}.onnx"
        export(model, DATASETS[job["data"]].image_shape, path)
        work = Workload.load(path, chip, data=job["data"], inputs=job["inputs"],
                             images=job["images"], seed=job["seed"])
    mapping = STRATEGIES[STRATEGY].place(work.layers, chip, graph=arch.name())
    mapping, _ = calibrate_for_run(work.graph, work.layers, mapping, chip, data=job["data"],
                                   seed=job["seed"])
    seeds = list(range(job["seed"], job["seed"] + job["chips"]))
    results, _ = measure_run(work, mapping, times=job["times"], seeds=seeds, seed=job["seed"],
                             trace_inputs=0)
    accuracy = {f"{row['time_s']:g}": (row["accuracy_mean"], row["accuracy_std"])
                for row in results["accuracy"]["rows"]}
    timing = results["timing"]
    figures = {
        "float_accuracy": results["accuracy"]["float_accuracy"],
        **{f"accuracy_{t}s": mean for t, (mean, _) in accuracy.items()},
        **{f"accuracy_{t}s_std": std for t, (_, std) in accuracy.items()},
        "weights": weights(arch), "cores": mapping.cores_used,
        "first_latency_us": timing["first_latency_ns"] / 1e3,
        "inferences_per_s": timing["inferences_per_s"],
        "energy_per_inference_uj": timing["energy_per_inference_pj"] / 1e6,
    }
    return {"figures": figures, "architecture": arch.name()}
