"""The inputs a measurement is scored on: a data set's split, or synthetic inputs.

A network users bring often has no data set chipsim can load. It is then measured on
deterministic synthetic inputs, and the float network's own top-1 predictions stand in for the
labels. "Accuracy" then means agreement with the float network, and the `metric` says so
wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: what accuracy means with labels from a data set, and without them
TEST_ACCURACY = "test accuracy"
AGREEMENT = "top-1 agreement with the float network"
#: synthetic inputs drawn when no data set and no count are given
SYNTHETIC_INPUTS = 256


@dataclass(frozen=True)
class ScoredInputs:
    x: np.ndarray
    labels: np.ndarray
    metric: str  # TEST_ACCURACY or AGREEMENT
    source: str  # where the inputs come from, in words
    data: str  # the data set's name, or "synthetic"


def scored_inputs(graph, layers, data: str | None, count: int | None, seed: int,
                  split: str = "test") -> ScoredInputs:
    """The first `count` inputs of `data`'s split (all of them when count is None) with their
    labels; without a data set, `count` (default SYNTHETIC_INPUTS) synthetic inputs drawn from
    `seed`, labelled by the float network."""
    from chipsim.functional.executor import (FloatBackend, check_inputs, run_network,
                                             synthetic_inputs)
    from chipsim.functional.study import predicted_labels

    if data:
        from chipsim.datasets import load_dataset

        x, y = load_dataset(data, split)
        x, y = x[:count], y[:count]
        x = check_inputs(graph, x, name=f"data set {data!r} ({split} split)")
        return ScoredInputs(x, np.asarray(y), TEST_ACCURACY, f"{len(x)} {data} {split} inputs",
                            data)
    count = SYNTHETIC_INPUTS if count is None else count
    x = synthetic_inputs(graph, count, seed)
    labels = predicted_labels(run_network(graph, FloatBackend(layers), x))
    return ScoredInputs(x, labels, AGREEMENT,
                        f"{count} synthetic inputs (seed {seed}): no data set, so accuracy is "
                        "top-1 agreement with the float network, not with labels", "synthetic")


def inputs_phrase(count: int, data: str) -> str:
    """'300 mnist test images', or '64 synthetic inputs': how tables and figures name them."""
    return f"{count} synthetic inputs" if data == "synthetic" else f"{count} {data} test images"
