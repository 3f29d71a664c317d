"""Figures of merit of a Mapping: how many cores, how much traffic, how long the slowest stage.

`max_stage_mvms` is the pipeline's bottleneck in MVMs per inference: the busiest core's. A
layer's copies share its MVMs (copy r takes MVM g when g % R == r, so at most ceil(mvms / R));
a core works one MVM job at a time, so blocks that share its crossbar (packed) add up, as they
do in the event model (`chipsim.timing.core`). Traffic is `chipsim.mapping.traffic`'s message
model, the one the event model sends.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from chipsim.mapping.mapping import Mapping
from chipsim.mapping.tiling import LayerLike, weight_cells
from chipsim.mapping.traffic import Routes


def stage_mvms(layers: Sequence[LayerLike], replication: dict[str, int]) -> dict[str, int]:
    """MVMs each layer's busiest copy does per inference."""
    return {layer.name: -(-layer.mvms // replication.get(layer.name, 1)) for layer in layers}


def core_mvms(mapping: Mapping, layers: Sequence[LayerLike], *, busiest: bool = False
              ) -> dict[int, float]:
    """MVMs per inference each core runs, one job at a time: on average (mvms / R per block),
    or with `busiest` for the inference whose copies get the rounded-up share."""
    stages = stage_mvms(layers, mapping.replication)
    by_name = {layer.name: layer for layer in layers}
    out: dict[int, float] = defaultdict(float)
    for pl in mapping.placements:
        name = pl.block.layer
        out[pl.core] += stages[name] if busiest else \
            by_name[name].mvms / mapping.replication.get(name, 1)
    return dict(out)


def summarize(mapping: Mapping, layers: Sequence[LayerLike], chip: Any,
              graph: Any | None = None) -> dict[str, Any]:
    """The figures `chipsim map --json` prints (JSON-ready: plain ints, floats and strings).

    With the IR `graph`, traffic counts what digital work between layers shrinks (pooling);
    without it every value is sent in full (`chipsim.mapping.traffic`). Utilization counts the
    cells that hold weights (not a grouped layer's structural zeros).
    """
    routes = Routes(mapping, layers, chip, graph)
    sends = routes.per_inference()
    by_name = {layer.name: layer for layer in layers}
    cells = sum(weight_cells(p.block, by_name[p.block.layer]) for p in mapping.placements)
    used = mapping.cores_used
    return {
        "strategy": mapping.strategy,
        "chip": mapping.chip,
        "graph": mapping.graph,
        "cores_used": used,
        "cores_available": chip.cores.count,
        "blocks": len(mapping.placements),
        "hop_weighted_traffic": round(routes.hop_weighted(sends), 3),
        "traffic_bits": round(float(sum(s.bits for s in sends)), 3),
        "max_stage_mvms": int(max(core_mvms(mapping, layers, busiest=True).values(), default=0)),
        "utilization": round(cells / (used * chip.cores.rows * chip.cores.cols), 4) if used else 0.0,
        "replication": {k: v for k, v in mapping.replication.items() if v > 1},
        "chips_used": mapping.chips_used,
        **_system_figures(mapping, routes, chip, sends),
    }


def _system_figures(mapping: Mapping, routes: Routes, chip: Any, sends: Any) -> dict[str, Any]:
    """On a system of several chips: its chips, the cores of one, and the bits per inference x
    chip-to-chip links crossed (`chipsim.mapping.partition.interchip_bits`)."""
    system = getattr(chip, "system", None)
    if system is None:
        return {}
    from chipsim.mapping.partition import interchip_bits

    per_chip: dict[int, int] = defaultdict(int)
    for core in {p.core for p in mapping.placements}:
        per_chip[chip.chip_of(core)] += 1
    return {"chips": system.count, "cores_per_chip": system.cores_per_chip,
            "cores_used_per_chip": {str(k): per_chip.get(k, 0) for k in range(system.count)},
            "interchip_traffic_bits": round(interchip_bits(routes, chip, sends), 3)}
