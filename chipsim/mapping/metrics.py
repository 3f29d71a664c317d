"""Figures of merit of a Mapping: how many cores, how much traffic, how long the slowest stage.

`max_stage_mvms` is the pipeline's bottleneck: a layer is one stage; its blocks work in
parallel and its copies share its MVMs, so the stage takes ceil(mvms / copies) MVM times.
Blocks that share a crossbar use disjoint rows and columns and so do not slow each other.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chipsim.mapping.mapping import Mapping
from chipsim.mapping.tiling import LayerLike
from chipsim.mapping.traffic import hop_matrix, hop_weighted, traffic_matrix


def stage_mvms(layers: Sequence[LayerLike], replication: dict[str, int]) -> dict[str, int]:
    """MVMs each layer's busiest copy does per inference."""
    return {layer.name: -(-layer.mvms // replication.get(layer.name, 1)) for layer in layers}


def summarize(mapping: Mapping, layers: Sequence[LayerLike], chip: Any) -> dict[str, Any]:
    """The figures `chipsim map --json` prints (JSON-ready: plain ints, floats and strings)."""
    units = [(p.block, p.replica) for p in mapping.placements]
    cores = np.array([p.core for p in mapping.placements], dtype=np.int64)
    traffic = traffic_matrix(units, layers, mapping.replication, chip)
    cells = sum(p.block.cells for p in mapping.placements)
    used = mapping.cores_used
    return {
        "strategy": mapping.strategy,
        "chip": mapping.chip,
        "graph": mapping.graph,
        "cores_used": used,
        "cores_available": chip.cores.count,
        "blocks": len(mapping.placements),
        "hop_weighted_traffic": round(hop_weighted(traffic, hop_matrix(chip), cores), 3),
        "traffic_bits": round(float(traffic.sum()), 3),
        "max_stage_mvms": max(stage_mvms(layers, mapping.replication).values(), default=0),
        "utilization": round(cells / (used * chip.cores.rows * chip.cores.cols), 4) if used else 0.0,
        "replication": {k: v for k, v in mapping.replication.items() if v > 1},
    }
