"""Systems of several chips: N copies of one chip joined by chip-to-chip links.

A system description (YAML, docs/systems.md) names a chip, how many copies of it, the topology
that joins them (a line, a ring, a 2-D mesh of chips, or every chip to every other) and what one
chip-to-chip link is: its bandwidth each way, its latency and its energy per bit. The links
attach at one core of each chip (`port_core`).

The rest of chipsim sees a system as one chip with a larger pool of cores (`SystemChip`): core
i of chip k is core k x C + i (C cores per chip), each chip keeps its own on-chip links, global
units and static power, and every chip-to-chip link is one more link of the network, between
the two chips' port cores, carrying its own width, latency and energy per bit. So the accuracy
path, the message model and the event model run a system as they run a chip; what differs is
placement (`chipsim.mapping.partition` puts whole layers on chips so little crosses between
them) and the figures per chip (`chipsim.timing.interchip`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal, Union

import networkx as nx
from pydantic import Field, model_validator

from chipsim.arch.schema import (Chip, Name, NonNegInt, NonNegNum, PosInt, PosNum, _FieldProblem,
                                 _Model)
from chipsim.arch.network import mesh_links
from chipsim.errors import DescriptionError

SYSTEMS_DIR = Path(__file__).parent / "systems"
DEFAULT_SYSTEM = SYSTEMS_DIR / "default.yaml"  # the link and topology of `--chips N`


class ChipLink(_Model):
    """One chip-to-chip link, alike in both directions."""

    bandwidth_gbps: PosNum  # each way
    latency_ns: PosNum  # from a flit leaving one chip's port core to its arrival at the other's
    energy_pj_per_bit: NonNegNum


class Line(_Model):
    """Chip k links to chip k + 1."""

    kind: Literal["line"]


class Ring(_Model):
    """A line whose last chip also links to the first."""

    kind: Literal["ring"]


class AllToAll(_Model):
    """Every chip links to every other."""

    kind: Literal["all_to_all"]


class ChipMesh(_Model):
    """A rows x cols grid of chips; chip r * cols + c links to its 4 neighbours."""

    kind: Literal["mesh2d"]
    rows: PosInt
    cols: PosInt


SystemTopology = Annotated[Union[Line, Ring, AllToAll, ChipMesh], Field(discriminator="kind")]


class SystemDescription(_Model):
    """A system file: which chip, how many, joined how."""

    name: Name
    title: str = ""
    chip: Name  # a built-in chip or a chip description file (relative to the system file)
    count: Annotated[PosInt, Field(le=256)]
    topology: SystemTopology
    port_core: NonNegInt = 0  # the core of each chip where its chip-to-chip links attach
    link: ChipLink

    @model_validator(mode="after")
    def _grid_holds_the_chips(self) -> SystemDescription:
        topo = self.topology
        if isinstance(topo, ChipMesh) and topo.rows * topo.cols != self.count:
            raise _FieldProblem(("topology",), f"rows x cols = count = {self.count}",
                                f"{topo.rows} x {topo.cols}")
        return self


class SystemInfo(_Model):
    """What a `SystemChip` knows of the system it pools."""

    name: Name
    chip: Chip  # one chip of the system, its faults included (every chip has the same)
    count: PosInt
    topology: str
    grid_cols: PosInt = 1  # chips per row of a mesh of chips
    port_core: NonNegInt
    link: ChipLink
    chip_links: tuple[tuple[NonNegInt, NonNegInt], ...]  # (chip a, chip b), a < b

    @property
    def cores_per_chip(self) -> int:
        return self.chip.cores.count


class SystemChip(Chip):
    """The cores of every chip of a system as one pool: core k x C + i is core i of chip k."""

    system: SystemInfo

    def chip_of(self, core: int) -> int:
        """The chip that holds a core of the pool."""
        return int(core) // self.system.cores_per_chip

    def chip_of_node(self, node: object) -> int:
        """The chip of a network node: a core id, or a global unit ("gdpu7")."""
        if isinstance(node, str):
            node = self.global_units.attach_cores[int(node.removeprefix("gdpu"))]
        return self.chip_of(node)

    def link_cycles(self) -> tuple[int, int]:
        """A chip-to-chip link's (bits per clock cycle, latency in whole cycles); the bits are
        rounded down (at least 1) and the latency up."""
        link, clock = self.system.link, self.clock_ghz
        return max(1, int(link.bandwidth_gbps / clock)), max(1, math.ceil(link.latency_ns * clock - 1e-9))

    def interchip_links(self) -> list[tuple[int, int]]:
        """The chip-to-chip links as (core, core) pairs of the pool: port core to port core."""
        c, port = self.system.cores_per_chip, self.system.port_core
        return [(a * c + port, b * c + port) for a, b in self.system.chip_links]

    def network_graph(self) -> nx.Graph:
        """The chip's graph, with each chip-to-chip link's own width and latency, its energy per
        bit (`pj_per_bit`) and `interchip=True` on its edge."""
        graph = super().network_graph()
        width, latency = self.link_cycles()
        for a, b in self.interchip_links():
            if graph.has_edge(a, b):  # broken links are left out, as on a chip
                graph.edges[a, b].update(width_bits=width, latency_cycles=latency, interchip=True,
                                         pj_per_bit=self.system.link.energy_pj_per_bit)
        return graph


def chip_pairs(topology: object, count: int) -> list[tuple[int, int]]:
    """The chips each chip-to-chip link joins, as (a, b) with a < b."""
    kind = topology.kind
    if kind == "all_to_all":
        return [(a, b) for a in range(count) for b in range(a + 1, count)]
    if kind == "mesh2d":
        return mesh_links(topology.rows, topology.cols)
    pairs = [(k, k + 1) for k in range(count - 1)]
    if kind == "ring" and count > 2:
        pairs.append((0, count - 1))
    return pairs


def load_system(path: str | Path) -> SystemDescription:
    """The validated system description of a YAML file (errors name the file and the field)."""
    from chipsim.arch.loader import read_description, validate_model, yaml_mapping

    path = Path(path)
    if not path.exists():
        raise DescriptionError(f"{path}: no such system file")
    _, text = read_description(path)
    return validate_model(SystemDescription, yaml_mapping(text, path.name, "system fields"), path.name)


def default_system(chip_name: str, count: int) -> SystemDescription:
    """`count` copies of a chip on the built-in link and topology (`systems/default.yaml`)."""
    from chipsim.arch.loader import validate_model, yaml_mapping

    data = yaml_mapping(DEFAULT_SYSTEM.read_text(encoding="utf-8"), DEFAULT_SYSTEM.name, "system fields")
    data.update(chip=chip_name, count=count)
    return validate_model(SystemDescription, data, DEFAULT_SYSTEM.name)


def pool(chip: Chip, system: SystemDescription, source: str = "system") -> SystemChip:
    """The system of `system.count` copies of `chip` as one `SystemChip`. `source` names the
    system file in errors."""
    from chipsim.arch.network import core_links
    from chipsim.arch.loader import validate_model

    c, n = chip.cores.count, system.count
    if system.port_core >= c:
        raise DescriptionError(f"{source}: port_core: expected a core id from 0 to {c - 1} of "
                               f"chip {chip.name}, got {system.port_core}")
    pairs = chip_pairs(system.topology, n)
    data = chip.model_dump()
    data["name"] = system.name
    data["title"] = system.title or f"{n} x {chip.name}"
    data["cores"]["count"] = n * c
    port = system.port_core
    links = [(a + k * c, b + k * c) for k in range(n) for a, b in core_links(chip)]
    links += [(a * c + port, b * c + port) for a, b in pairs]
    data["network"]["topology"] = {"kind": "links", "links": links,
                                   "positions": _positions(chip, system)}
    data["network"]["routing"] = "shortest_path"
    units = data["global_units"]
    units["count"] = n * chip.global_units.count
    units["attach_cores"] = [core + k * c for k in range(n) for core in chip.global_units.attach_cores]
    data["energy"]["static_rest_mw"] = n * chip.energy.static_rest_mw  # every chip's own
    if chip.faults is not None:
        f = data["faults"]
        f["dead_cores"] = [core + k * c for k in range(n) for core in chip.faults.dead_cores]
        f["broken_links"] = [(a + k * c, b + k * c) for k in range(n) for a, b in chip.faults.broken_links]
        f["stuck_devices"] = [{**s, "core": s["core"] + k * c} for k in range(n)
                              for s in f["stuck_devices"]]
    data["system"] = {"name": system.name, "chip": chip, "count": n,
                      "topology": system.topology.kind, "port_core": port,
                      "grid_cols": getattr(system.topology, "cols", 1), "link": system.link,
                      "chip_links": pairs}
    return validate_model(SystemChip, data, source)


def _positions(chip: Chip, system: SystemDescription) -> list[tuple[int, int]]:
    """Floorplan places of the pool's cores: each chip's own layout, the chips side by side
    (or in their grid) with one empty row and column between them."""
    places = [chip.core_position(core) for core in range(chip.cores.count)]
    height = max(r for r, _ in places) + 2
    width = max(col for _, col in places) + 2
    per_row = system.topology.cols if system.topology.kind == "mesh2d" else system.count
    return [(r + (k // per_row) * height, col + (k % per_row) * width)
            for k in range(system.count) for r, col in places]


def system_of(chip_name: str, chips: int | None = None, system_file: str | None = None,
              faults: str | None = None) -> Chip:
    """The chip of `--chip` (and `--faults`) alone, or as `--chips N` copies on the default
    link, or the system of `--system FILE` (whose own `chip` is then the chip)."""
    from chipsim.arch.faults import load_faults
    from chipsim.arch.loader import load_chip

    if system_file is not None:
        system = load_system(system_file)
        where = Path(system_file).parent / system.chip
        chip = load_chip(where if where.suffix and where.exists() else system.chip)
        source = Path(system_file).name
    else:
        chip = load_chip(chip_name)
        system, source = (default_system(chip.name, chips), DEFAULT_SYSTEM.name) if chips else (None, "")
    if faults:
        chip = load_faults(chip, faults)
    if system is None or system.count == 1:
        return chip
    if system_file is None:
        system = system.model_copy(update={"name": f"{chip.name}x{system.count}",
                                           "title": f"{system.count} x {chip.name}, {system.title}"})
    return pool(chip, system, source)
