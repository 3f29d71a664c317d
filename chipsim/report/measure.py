"""Measuring one mapping: the event model's figures and the accuracy over drift time, as one dict.

A `Workload` is a network with the inputs it will be measured on; `measure_run` runs it under
one `Mapping` through both models (docs/contracts.md: one mapping, two models) and returns a
JSON-ready dictionary: the event model's figures (latency, throughput, energy breakdowns,
per-core utilization, per-link traffic), the accuracy study, the mapping's own figures, and a
`summary` of the headline numbers in the units a report shows them. Reports and comparisons
render this dictionary and nothing else.

Without a data set the network may have random weights, so "accuracy" has no labels to be
measured against; it is then the top-1 agreement of the analog chip with the float network on
deterministic synthetic inputs (and the relative logit error), and every label says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from chipsim.errors import ChipsimError, DataError

#: the drift time the headline accuracy is read at when a study has it (1 hour, as in the
#: chip papers' evaluations)
HEADLINE_TIME_S = 3600.0


@dataclass
class Workload:
    """A network on a chip, with the inputs the event model streams and the accuracy inputs."""

    model: str  # short name, the graph file's stem
    graph_file: str
    graph: Any
    layers: list
    chip: Any
    timing_x: np.ndarray
    accuracy_x: np.ndarray
    labels: np.ndarray
    metric: str  # what "accuracy" means here
    source: str  # where the inputs come from, in words
    data: str | None

    @classmethod
    def load(cls, model_path: str | Path, chip: Any, *, data: str | None = None,
             inputs: int = 8, images: int = 64, seed: int = 0) -> "Workload":
        """Load the graph and pick its inputs: a data set's test split, or synthetic ones."""
        from chipsim.functional.inputs import scored_inputs
        from chipsim.graph import load_graph, lower

        for name, value in (("--inputs", inputs), ("--images", images)):
            if value < 1:
                raise ChipsimError(f"{name}: expected a positive integer, got {value}")
        graph = load_graph(model_path)
        if len(graph.inputs) != 1:
            raise DataError(f"{model_path}: the model has {len(graph.inputs)} inputs; reports "
                            "stream single-input models")
        layers = lower(graph)
        need = max(inputs, images)
        scored = scored_inputs(graph, layers, data, need, seed)
        if len(scored.x) < need:
            raise DataError(f"--data {data}: the test split has {len(scored.x)} inputs, fewer "
                            f"than the {need} asked for")
        x = scored.x
        timing_x, accuracy_x, labels = x[:inputs], x[:images], scored.labels[:images]
        metric = scored.metric
        if data:
            source = (f"the first {inputs} {data} test inputs (event model), the first {images} "
                      f"(accuracy)")
        else:
            source = (f"synthetic inputs (uniform [0, 1), seed {seed}): {inputs} through the "
                      f"event model, {images} for accuracy; no data set, so accuracy is "
                      "agreement with the float network, not with labels")
        return cls(Path(model_path).stem, str(model_path), graph, layers, chip, timing_x,
                   accuracy_x, labels, metric, source, data)


def measure_run(work: Workload, mapping: Any, *, times: Sequence[float] = (HEADLINE_TIME_S,),
                seeds: Sequence[int] = (0,), seed: int = 0, trace_inputs: int = 2,
                read_mode: str | None = None,
                log: Callable[[str], None] = lambda message: None,
                event_model: tuple[dict, dict] | None = None,
                on_event_model: Callable[[dict, dict], None] | None = None,
                done: Sequence[Any] = (), on_row: Callable[[Any], None] | None = None,
                backend: str = "cpu") -> tuple[dict[str, Any], dict]:
    """Run both models on `mapping`; returns (results dict, Chrome trace of the first inputs).
    The accuracy study runs on `backend` ("gpu": `chipsim.functional.analog_gpu`).

    The event model streams `work.timing_x` with tiles programmed from `seed`; the accuracy
    study runs every time in `times` with each seed of `seeds` (global drift compensation on).
    An empty `times` skips the accuracy study. For resuming a stopped run: `event_model` is
    the (timing, trace) it finished, `done` its finished accuracy rows; `on_event_model` and
    `on_row` get each part as it is finished.
    """
    from chipsim.mapping import summarize
    from chipsim.timing.simulate import Simulation

    chip = work.chip
    if event_model is None:
        log(f"{work.model} / {mapping.strategy}: event model, {len(work.timing_x)} inputs")
        sim = Simulation(work.graph, work.layers, chip, mapping, read_mode=read_mode, seed=seed,
                         model=work.model)
        result, events, _ = sim.run(work.timing_x, trace_inputs=trace_inputs,
                                    keep_outputs=False)
        timing, trace = result.to_json(), events.to_json()
        if on_event_model is not None:
            on_event_model(timing, trace)
    else:
        timing, trace = event_model
    accuracy = None
    if times:
        log(f"{work.model} / {mapping.strategy}: accuracy, {len(times)} time(s) x "
            f"{len(seeds)} seed(s) x {len(work.accuracy_x)} inputs")
        accuracy = _accuracy(work, mapping, times, seeds, done=done, on_row=on_row,
                             backend=backend)
    results = assemble(model=work.model, graph_file=work.graph_file, chip=chip.name,
                       strategy=mapping.strategy, seed=seed, inputs=work.source,
                       mapping=summarize(mapping, work.layers, chip, work.graph), timing=timing,
                       accuracy=accuracy)
    return results, trace


def assemble(*, model: str, graph_file: str, chip: str, strategy: str, seed: int, inputs: str,
             mapping: dict[str, Any], timing: dict[str, Any],
             accuracy: dict[str, Any] | None) -> dict[str, Any]:
    """The results dictionary of one run, from its parts (`accuracy` may be None)."""
    return {
        "model": model, "graph_file": graph_file, "chip": chip, "strategy": strategy,
        "seed": seed, "inputs": inputs, "mapping": mapping, "timing": timing,
        "accuracy": accuracy, "summary": summary(timing, accuracy),
    }


def _accuracy(work: Workload, mapping: Any, times: Sequence[float], seeds: Sequence[int],
              done: Sequence[Any] = (), on_row: Callable[[Any], None] | None = None,
              backend: str = "cpu") -> dict[str, Any]:
    from chipsim.functional.study import accuracy_study

    study = accuracy_study(work.graph, work.layers, mapping, work.chip, work.accuracy_x,
                           work.labels, times=times, seeds=list(seeds), gdc=(True,),
                           names=(work.model, work.chip.name, work.data or "synthetic"),
                           done=done, on_row=on_row, metric=work.metric, backend=backend)
    return {"seeds": list(seeds), **study.to_json()}


def measure_calibration(work: Workload, mapping: Any, *, times: Sequence[float],
                        seeds: Sequence[int], csv_path: str | Path | None = None,
                        log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """The range-calibration study (`chipsim.calibration.study`) on the accuracy inputs, with
    the same times and seeds as the accuracy study: fitted on the data set's calibration split,
    each finished row appended to `csv_path` (synthetic calibration inputs without a data set,
    where the accuracy is agreement with float). Returns the study's JSON dictionary."""
    from chipsim.calibration.study import study_from_data

    study = study_from_data(work.graph, work.layers, mapping, work.chip, work.data,
                            work.accuracy_x, work.labels, times=times, seeds=list(seeds),
                            csv_path=csv_path, names=(work.model, work.chip.name, work.data or "synthetic"),
                            log=lambda message: log(f"{work.model} / {mapping.strategy}: "
                                                    f"{message}"))
    return study.to_json()


def network_traffic_bits(timing: dict[str, Any]) -> float:
    """Bit-hops per inference: the bits that crossed links for the user's inputs, summed over
    links, over their number (timing-only inputs send the same messages and are left out, as
    from energy; `chipsim.timing.results`). It equals the mapping's `hop_weighted_traffic`."""
    return sum(link["bits"] for link in timing["links"]) / timing["inputs"]


def headline_row(accuracy: dict[str, Any]) -> dict[str, Any] | None:
    """The accuracy row at 1 h (GDC on) if the study has it, else at its first time."""
    rows = [r for r in accuracy["rows"] if r["gdc"]] or accuracy["rows"]
    if not rows:
        return None
    return next((r for r in rows if r["time_s"] == HEADLINE_TIME_S), rows[0])


def summary(timing: dict[str, Any], accuracy: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The headline figures, each {"figure": label, "value": number, "unit": unit}."""

    def row(figure: str, value: Any, unit: str) -> dict[str, Any]:
        return {"figure": figure, "value": value, "unit": unit}

    out = {
        "first_latency_us": row("first-input latency", timing["first_latency_ns"] / 1e3, "µs"),
        "inferences_per_s": row("throughput (steady state)", timing["inferences_per_s"],
                                "inferences/s"),
        "energy_per_inference_uj": row("energy per inference (whole chip)",
                                       timing["energy_per_inference_pj"] / 1e6, "µJ"),
        "tops_per_w": row("TOPS/W (arrays, DACs, ADCs, as the chip paper counts)",
                          timing["tops_per_w"], "TOPS/W"),
        "whole_chip_tops_per_w": row("TOPS/W (whole chip)", timing["whole_chip_tops_per_w"],
                                     "TOPS/W"),
        "cores_used": row("cores used", timing["cores_used"], "cores"),
        "network_kbit_hops": row("network traffic per inference (user's inputs only)",
                                 network_traffic_bits(timing) / 1e3, "kbit·hops/inference"),
    }
    if accuracy is not None and (head := headline_row(accuracy)) is not None:
        from chipsim.functional.times import format_time

        when = format_time(head["time_s"])
        if accuracy["metric"] == "test accuracy":
            out["float_accuracy_pct"] = row("float network test accuracy",
                                            100 * accuracy["float_accuracy"], "%")
        for r in accuracy["rows"]:  # one row per time, in the study's order
            if r["gdc"]:
                at = format_time(r["time_s"])
                out[f"accuracy_pct_{at}"] = row(f"{accuracy['metric']} at {at} (GDC on)",
                                                100 * r["accuracy_mean"], "%")
        out["logit_error"] = row(f"relative logit error vs float at {when}",
                                 head["logit_error_mean"], "(ratio)")
    return out
