"""The Python API: the steps of the command line as a few calls, on real types.

    chip = load_chip("hermes64")
    graph = load_graph("workloads/mnist_cnn/cnn.onnx")
    mapping = map_network(graph, chip, "sequential")   # or on load_system(chips=3)
    mapping = calibrate(graph, mapping, chip, data="mnist")
    print(accuracy(graph, mapping, chip, data="mnist", times=["1h", "1d"], seeds=3).table())
    print(simulate(graph, mapping, chip, data="mnist", inputs=16).inferences_per_s)

Each call does what its command does, with the same defaults and the same errors
(`chipsim.errors`); a script holds the objects between steps instead of files. Times are
seconds or strings such as "1h" (units s, m, h, d, y).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from chipsim.arch import Chip, load_chip
from chipsim.errors import MappingError
from chipsim.functional.analog import AnalogOptions
from chipsim.functional.result import AccuracyResult
from chipsim.graph import Graph, load_graph, lower
from chipsim.mapping import STRATEGIES, Mapping
from chipsim.timing.results import SimResult

__all__ = ["accuracy", "calibrate", "load_chip", "load_graph", "load_mapping", "load_system",
           "map_network", "simulate", "write_report"]


def load_system(path: str | Path | None = None, *, chip: str = "hermes64",
                chips: int | None = None) -> Chip:
    """A system of several chips, as one chip whose cores are all of theirs (docs/systems.md):
    the system file at `path`, or `chips` copies of `chip` on the built-in chip-to-chip link;
    every call below takes it where it takes a chip."""
    from chipsim.arch.system import system_of

    if (path is None) == (chips is None):
        raise ValueError("load_system: give a system file or a number of chips, not both")
    return system_of(chip, chips, None if path is None else str(path))


def map_network(graph: Graph, chip: Chip, strategy: str = "balanced") -> Mapping:
    """Place `graph` on `chip` with a mapping strategy (sequential, locality, balanced, packed)."""
    if strategy not in STRATEGIES:
        raise MappingError(f"unknown strategy {strategy!r}; strategies: {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy].place(lower(graph), chip,
                                      graph=Path(graph.source).name or graph.name)


def _model(graph: Graph) -> str:
    """The name results carry: the graph file's stem, as the commands name it."""
    return Path(graph.source).stem or graph.name


def load_mapping(path: str | Path, chip: Chip, graph: Graph) -> Mapping:
    """A mapping file (from `chipsim map` or `Mapping.to_yaml`), checked against chip and graph."""
    return Mapping.from_yaml(path, chip, lower(graph))


def calibrate(graph: Graph, mapping: Mapping, chip: Chip, *, data: str | np.ndarray | None,
              samples: int = 256, seed: int = 0, input_rule: str = "best",
              column_rule: str = "best") -> Mapping:
    """The mapping with every tile's input range and column ranges calibrated, as `chipsim
    calibrate` does: on the first `samples` of a data set's calibration split (never test
    data), on the array of calibration inputs given, or (None) on synthetic ones."""
    from chipsim.calibration.auto import calibration_inputs
    from chipsim.calibration.calibrate import calibrate_mapping
    from chipsim.functional.executor import check_inputs

    if data is None or isinstance(data, str):
        x, _ = calibration_inputs(graph, data, samples, seed)
    else:
        x = check_inputs(graph, np.asarray(data), name="calibration inputs")
    return calibrate_mapping(graph, lower(graph), mapping, chip, x, input_rule=input_rule,
                             column_rule=column_rule, seed=seed).mapping


def accuracy(graph: Graph, mapping: Mapping, chip: Chip, *, data: str | None = None,
             times: Sequence[float | str] = ("1h",), seeds: int | Sequence[int] = 5,
             images: int | None = None, gdc: Sequence[bool] = (True,),
             options: AnalogOptions | None = None, seed: int = 0,
             backend: str = "cpu") -> AccuracyResult:
    """Test accuracy and relative logit error against float over drift time and seeds, on the
    first `images` of the data set's test split (all by default); without a data set, on
    `images` (default 256) synthetic inputs drawn from `seed`, where accuracy is agreement with
    the float network (the result's `metric` says which). Warns when a fixed-range chip runs a
    mapping without input ranges (the uncalibrated baseline). `backend` "gpu" runs all seeds
    and times at once on a CUDA GPU (`chipsim accuracy --backend gpu`)."""
    from chipsim.calibration.auto import uncalibrated_tiles
    from chipsim.functional.inputs import scored_inputs
    from chipsim.functional.study import accuracy_study

    layers = lower(graph)
    scored = scored_inputs(graph, layers, data, images, seed)
    if missing := uncalibrated_tiles(mapping, chip, options):
        warnings.warn(f"{missing} of {len(mapping.placements)} tiles have no calibrated input "
                      f"range and {chip.name} converts a fixed range (|x| <= 1): this is the "
                      "uncalibrated chip; chipsim.calibrate(...) sets the ranges", stacklevel=2)
    return accuracy_study(graph, layers, mapping, chip, scored.x, scored.labels,
                          times=_seconds(times), seeds=seeds, gdc=tuple(gdc), options=options,
                          names=(_model(graph), chip.name, scored.data), metric=scored.metric,
                          backend=backend)


def simulate(graph: Graph, mapping: Mapping, chip: Chip, *, data: str | None = None,
             inputs: int | np.ndarray = 32, seed: int = 0,
             read_mode: str | None = None) -> SimResult:
    """Stream inputs through the cycle-level model: the first `inputs` of the data set's test
    split, synthetic ones drawn from `seed`, or the array given. The result's figures:
    `first_latency_ns`, `inferences_per_s`, `energy_per_inference_pj`, `tops_per_w`, ...;
    `outputs_match_functional` says whether the outputs equal the accuracy path's bit for bit."""
    from chipsim.functional.executor import check_inputs, synthetic_inputs
    from chipsim.timing.simulate import Simulation

    if isinstance(inputs, np.ndarray):
        x = inputs
    elif data is not None:
        from chipsim.datasets import load_dataset

        x = load_dataset(data, "test")[0][:inputs]
    else:
        x = synthetic_inputs(graph, inputs, seed)
    x = check_inputs(graph, x, name="inputs")
    sim = Simulation(graph, lower(graph), chip, mapping, read_mode=read_mode, seed=seed,
                     model=_model(graph))
    result, _, outputs = sim.run(x)
    result.outputs_match_functional = bool(np.array_equal(outputs, sim.functional(x)))
    return result


def write_report(model: str | Path, chip: Chip, out: str | Path, *,
                 mapping: Mapping | None = None, strategy: str = "balanced",
                 data: str | None = None, times: Sequence[float | str] = ("1s", "1h", "1d", "1y"),
                 seeds: int = 2, images: int = 32, inputs: int = 32, seed: int = 0,
                 calibrate: bool = True, progress: bool = False) -> Path:
    """Measure the graph file `model` with both models and write a report folder (`index.html`,
    `README.md`, figures, `results.json`); as `chipsim report`, an uncalibrated mapping on a
    fixed-range chip is calibrated first unless `calibrate` is False. Returns `out`."""
    from chipsim.calibration.auto import calibrate_for_run
    from chipsim.report import Workload, measure_run, write_run_report

    log = (lambda m: print(m, file=sys.stderr, flush=True)) if progress else (lambda m: None)
    work = Workload.load(model, chip, data=data, inputs=inputs, images=images, seed=seed)
    mapping = mapping or map_network(work.graph, chip, strategy)
    note = None
    if calibrate:
        mapping, note = calibrate_for_run(work.graph, work.layers, mapping, chip, data=data,
                                          seed=seed, log=log)
    results, trace = measure_run(work, mapping, times=_seconds(times),
                                 seeds=range(seed, seed + seeds), seed=seed, log=log)
    results["range_calibration"] = note
    write_run_report(results, out, chip=chip, mapping=mapping, trace=trace)
    return Path(out)


def _seconds(times: Sequence[float | str]) -> list[float]:
    from chipsim.functional.times import parse_time

    if isinstance(times, (str, int, float)):
        times = [times]
    return [parse_time(t) if isinstance(t, str) else float(t) for t in times]
