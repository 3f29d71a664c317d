"""Faults of one chip instance: stuck devices, dead cores and broken links, as data.

A chip description may carry a `faults:` section, or a faults file (the same fields at its top
level) is laid over a description for a study (`--faults FILE`). The rest of chipsim asks this
module what the faults mean:

* stuck devices: `stuck_states(chip, core)` gives, for every device of a core's crossbar, 0
  (working), STUCK_SET (at g_max, whatever is programmed) or STUCK_RESET (at zero). Fractions
  are drawn per core from the faults' seed with chipsim's counter-based generator, so a core's
  stuck devices do not depend on which other cores a study looks at; `stuck_devices` entries
  are laid on top;
* dead cores hold no weights and compute nothing; their routers still forward packets (a dead
  router is its links, listed as broken);
* broken links carry nothing: `chipsim.arch.network` leaves them out of the network graph, so
  packets take the shortest path that is left. Broken links may cut the network apart: the part
  with the most cores is the chip, and cores and global units outside it are unreachable.

Strategies place on `usable_cores` only; `draw_faults` makes the faults of one fault rate for
the faults study.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import yaml

from chipsim.arch.network import core_links, network_graph
from chipsim.arch.schema import Chip, Faults
from chipsim.errors import DescriptionError
from chipsim.kernels import rng

WORKING, STUCK_SET, STUCK_RESET = 0, 1, 2
KINDS = ("stuck", "cores", "links")  # what a fault rate of `draw_faults` applies to


def unusable_cores(chip: Chip) -> dict[int, str]:
    """Cores that cannot hold weights, each with why: "dead" or "unreachable"."""
    faults = chip.faults
    if not faults:
        return {}
    why = {core: "dead" for core in faults.dead_cores}
    part = _main_part(chip)
    for core in range(chip.cores.count):
        if core not in part:
            why.setdefault(core, "unreachable")
    return dict(sorted(why.items()))


def usable_cores(chip: Chip) -> list[int]:
    """Cores a strategy may place on, in increasing order (all of them on a healthy chip)."""
    lost = unusable_cores(chip)
    return [core for core in range(chip.cores.count) if core not in lost]


def reachable_units(chip: Chip) -> list[str]:
    """Names of the global units ("gdpu0", ...) that the usable cores can reach."""
    units = [f"gdpu{i}" for i in range(chip.global_units.count)]
    if not chip.faults:
        return units
    part = _main_part(chip)
    return [unit for unit in units if unit in part]


def describe_unusable(chip: Chip) -> str:
    """'dead: 3, 17; unreachable: 5' (empty when every core is usable)."""
    lost = unusable_cores(chip)
    parts = []
    for why in ("dead", "unreachable"):
        cores = [str(c) for c, w in lost.items() if w == why]
        if cores:
            parts.append(f"{why}: {', '.join(cores)}")
    return "; ".join(parts)


def _main_part(chip: Chip) -> set:
    """Nodes of the connected part of the network with the most cores (ties: lowest core)."""
    parts = nx.connected_components(network_graph(chip))
    return max(parts, key=lambda p: (sum(isinstance(n, int) for n in p),
                                     -min((n for n in p if isinstance(n, int)), default=0)))


def stuck_states(chip: Chip, core: int) -> np.ndarray | None:
    """int8 (2 polarities, devices, rows, cols): WORKING, STUCK_SET or STUCK_RESET for every
    device of `core`'s crossbar (polarity 0 is G+); None when none is stuck."""
    faults = chip.faults
    if not faults or not (faults.stuck_set or faults.stuck_reset or
                          any(s.core == core for s in faults.stuck_devices)):
        return None
    c = chip.cores
    n = c.unit_cell.devices_per_polarity
    states = np.zeros((2, n, c.rows, c.cols), dtype=np.int8)
    if faults.stuck_set or faults.stuck_reset:
        # one uniform per device, laid out as the tile lays out its per-device draws
        u = rng.uniform_table(faults.seed, core, rng.STUCK_DEVICES, c.rows, 2 * n * c.cols)
        u = u.reshape(c.rows, 2, n, c.cols).transpose(1, 2, 0, 3)
        states[u < faults.stuck_set] = STUCK_SET
        states[(u >= faults.stuck_set) & (u < faults.stuck_set + faults.stuck_reset)] = STUCK_RESET
    for s in faults.stuck_devices:
        if s.core == core:
            states[0 if s.polarity == "positive" else 1, s.device, s.row, s.col] = \
                STUCK_SET if s.state == "set" else STUCK_RESET
    return states if states.any() else None


def with_faults(chip: Chip, faults: Faults | dict | None, source: str = "<faults>") -> Chip:
    """`chip` with `faults` in place of its own, validated against it (a fresh Chip: nothing
    derived from the healthy network, such as its hop distances, is carried over); a fault
    that names no core, link or device of the chip is a DescriptionError naming `source`."""
    from chipsim.arch.loader import validate_chip

    if isinstance(faults, Faults):
        faults = faults.model_dump()
    try:
        return validate_chip({**chip.model_dump(), "faults": faults}, source)
    except DescriptionError as err:  # a faults file's fields sit at its top level
        raise DescriptionError(str(err).replace(f"{source}: faults.", f"{source}: ")) from None


def load_faults(chip: Chip, path: str | Path) -> Chip:
    """`chip` with the faults of a faults file (its own `faults:` section replaced); a bad
    file is a DescriptionError that names the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise DescriptionError(f"{path.name}: cannot read the faults file ({err})") from None
    except yaml.YAMLError as err:
        raise DescriptionError(f"{path.name}: not valid YAML: {err}".replace("\n", " ")) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DescriptionError(f"{path.name}: expected a mapping of fault fields "
                               f"({', '.join(Faults.model_fields)}), got {type(data).__name__}")
    return with_faults(chip, data, path.name)


def draw_faults(chip: Chip, rate: float, seed: int = 0, kinds: tuple[str, ...] = KINDS) -> Faults:
    """The faults of fault rate `rate`: each device stuck with probability `rate` (half at SET,
    half at RESET), each core dead and each link broken with probability `rate`, for the
    `kinds` asked. The draws are one uniform per core and per link from `seed`, so a higher
    rate breaks everything a lower one broke, and more."""
    if not 0 <= rate <= 1:
        raise ValueError(f"fault rate {rate} outside 0..1")
    links = core_links(chip)
    u = rng.uniform_table(seed, 0, rng.FAULT_DRAWS, 2, max(chip.cores.count, len(links)))
    dead = tuple(int(c) for c in np.flatnonzero(u[0, :chip.cores.count] < rate)) \
        if "cores" in kinds else ()
    broken = tuple(links[i] for i in np.flatnonzero(u[1, :len(links)] < rate)) \
        if "links" in kinds else ()
    stuck = rate / 2 if "stuck" in kinds else 0.0
    return Faults(seed=seed, stuck_set=stuck, stuck_reset=stuck, dead_cores=dead,
                  broken_links=broken)


def faults_summary(chip: Chip) -> dict[str, Any]:
    """What a report says about a chip's faults (all zeros and empty on a healthy chip)."""
    faults = chip.faults or Faults()
    return {"stuck_set": faults.stuck_set, "stuck_reset": faults.stuck_reset,
            "stuck_devices": len(faults.stuck_devices), "dead_cores": list(faults.dead_cores),
            "broken_links": [list(link) for link in faults.broken_links],
            "unreachable_cores": [c for c, why in unusable_cores(chip).items()
                                  if why == "unreachable"],
            "usable_cores": len(usable_cores(chip))}


__all__ = ["WORKING", "STUCK_SET", "STUCK_RESET", "KINDS", "unusable_cores",
           "usable_cores", "reachable_units", "describe_unusable", "stuck_states", "with_faults",
           "load_faults", "draw_faults", "faults_summary"]
