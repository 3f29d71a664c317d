"""The accuracy study: what does running a network on the analog chip cost in accuracy?

For each time after programming (drift makes the conductances fade), each seed (an
independently programmed chip: programming noise, drift exponents and read noise all differ)
and with global drift compensation on and off, the mapped network classifies the test images;
we record its accuracy and how far its logits are from the float network's (relative L2 error
per image, then the mean over images). Each (time, GDC) cell becomes one row with the mean and
std over seeds, handed to `on_row` the moment it is finished, so a long study can save as it
goes.

Accuracy counts predictions, not inputs: the class axis is the last axis of an output (a dense
layer's units), so a classifier's (N, classes) makes one prediction per input and a sequence
model's (N, steps, classes) one per input and step, each scored against its own label.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from chipsim.errors import DataError
from chipsim.functional.analog import AnalogNetwork, AnalogOptions
from chipsim.functional.executor import FloatBackend, run_network
from chipsim.functional.inputs import TEST_ACCURACY
from chipsim.functional.result import AccuracyResult, AccuracyRow
from chipsim.functional.times import format_time


def relative_logit_error(analog: np.ndarray, reference: np.ndarray) -> float:
    """Mean over inputs of ||y_analog - y_float|| / ||y_float|| (norms over each input's logits)."""
    a = analog.reshape(analog.shape[0], -1).astype(np.float64)
    f = reference.reshape(reference.shape[0], -1).astype(np.float64)
    norm = np.linalg.norm(f, axis=1)
    return float(np.mean(np.linalg.norm(a - f, axis=1) / np.where(norm > 0, norm, 1.0)))


def _class_scores(logits: np.ndarray) -> np.ndarray:
    """`logits` as (N, ..., classes): size-1 axes dropped (an (N, 10, 1, 1) output is a
    classifier's), so that the class axis is the last one left."""
    per_input = [size for size in logits.shape[1:] if size != 1] or [1]
    return logits.reshape([logits.shape[0]] + per_input)


def predicted_labels(logits: np.ndarray) -> np.ndarray:
    """The class of every prediction, shaped as the labels of `logits` are: (N,) for a
    classifier, (N, steps) for a sequence model; the float network's are the labels that the
    analog chip is scored against when there is no data set."""
    return _class_scores(logits).argmax(axis=-1)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of predictions (one per input, or per input and step) whose largest logit is
    the label."""
    predicted = predicted_labels(logits)
    labels = np.asarray(labels)
    if labels.shape != predicted.shape:
        raise DataError(f"labels of shape {labels.shape} do not fit outputs of shape "
                        f"{logits.shape}: expected one label per prediction, shape "
                        f"{predicted.shape}")
    return float(np.mean(predicted == labels))


BACKENDS = ("cpu", "gpu")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise DataError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    return backend


def gpu_scores(graph, layers, mapping, chip, x, y, reference, seeds, times, gdc, options
                ) -> dict[tuple[float, bool], list[tuple[float, float]]]:
    """(accuracy, logit error) of every seed, per (time, GDC) cell, all states in one pass."""
    from chipsim.functional.analog_gpu import StackedNetwork

    if not times:
        return {}
    net = StackedNetwork(graph, layers, mapping, chip, seeds, options)
    net.read(times, gdc)
    logits = net.run(x)
    scores: dict[tuple[float, bool], list[tuple[float, float]]] = {}
    state = 0
    for t in times:
        for g in gdc:
            cell = scores.setdefault((float(t), bool(g)), [])
            for _ in seeds:
                cell.append((accuracy(logits[state], y),
                             relative_logit_error(logits[state], reference)))
                state += 1
    return scores


def accuracy_study(
    graph, layers, mapping, chip, x: np.ndarray, y: np.ndarray, *,
    times: Sequence[float], seeds: int | Sequence[int] = 5, gdc: Sequence[bool] = (True, False),
    options: AnalogOptions | None = None, batch: int = 256, progress: bool = False,
    names: tuple[str, str, str] = ("model", "chip", "data"),
    on_row: Callable[[AccuracyRow], None] | None = None,
    done: Sequence[AccuracyRow] = (), metric: str = TEST_ACCURACY,
    backend: str = "cpu",
) -> AccuracyResult:
    """Run the study; `names` are (model, chip, data) as the result should show them, and
    `metric` what the accuracy against `y` means (`chipsim.functional.inputs`).

    `backend` "gpu" runs every chip, time and GDC setting at once on the GPU
    (`chipsim.functional.analog_gpu`), the same numbers to float round-off; rows then arrive
    together at the end, not cell by cell.

    `done`: cells finished by an interrupted run of the same study, taken as they are and not
    handed to `on_row` again. Each cell's numbers depend only on its time, GDC and the seeds
    (read noise has its own stream per time), so skipping cells changes none of the others."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    options = options or AnalogOptions()
    reference = run_network(graph, FloatBackend(layers), x, batch=batch)
    result = AccuracyResult(*names, float_accuracy=accuracy(reference, y), images=int(len(y)),
                            metric=metric)
    nets: dict[int, AnalogNetwork] = {}  # one programmed chip per seed, read at every time
    finished = {(row.time_s, row.gdc): row for row in done}
    on_gpu = check_backend(backend) == "gpu"
    if on_gpu:
        pending = [t for t in times if any((float(t), bool(g)) not in finished for g in gdc)]
        on_gpu_scores = gpu_scores(graph, layers, mapping, chip, x, y, reference, seed_list,
                                   pending, gdc, options)
    for t in times:
        missing = [g for g in gdc if (float(t), bool(g)) not in finished]
        scores: dict[bool, list[tuple[float, float]]] = {g: [] for g in missing}
        if on_gpu:
            scores = {g: on_gpu_scores[float(t), bool(g)] for g in missing}
        for seed in seed_list if missing and not on_gpu else ():
            if seed not in nets:
                nets[seed] = AnalogNetwork(graph, layers, mapping, chip, seed=seed,
                                           options=options)
            net = nets[seed]
            net.drift(t)
            for g in missing:
                logits = net.run(x, batch=batch, gdc=g, progress=progress,
                                 desc=f"t={format_time(t)} seed={seed} gdc={'on' if g else 'off'}")
                scores[g].append((accuracy(logits, y), relative_logit_error(logits, reference)))
        for g in gdc:
            if g not in missing:
                result.rows.append(finished[(float(t), bool(g))])
                continue
            row = AccuracyRow.from_seeds(t, g, [s[0] for s in scores[g]], [s[1] for s in scores[g]])
            result.rows.append(row)
            if on_row is not None:
                on_row(row)
    return result
