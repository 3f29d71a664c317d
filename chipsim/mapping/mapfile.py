"""The mapping file: a Mapping as YAML that people read and edit by hand.

One line per placement, in tile-id order, so a diff shows exactly which block moved. Reading
checks the file in three steps: its shape (pydantic: field names and types), that it was made
for this graph (`graph_hash`, a hash of the graph's layer names and weight shapes), then its
meaning against the chip and the graph (`chipsim.mapping.validate`). Errors name the file and
entry.

A file without `graph_hash` (written before chipsim checked it) is read with one warning: the
structural checks still catch a layer that is missing or has another shape, and such a file
may carry hand edits and calibration that a refusal would throw away.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from chipsim.errors import ChipsimWarning, MappingError
from chipsim.mapping.mapping import Mapping, Placement, shape_hash
from chipsim.mapping.tiling import Block, LayerLike
from chipsim.mapping.validate import check_mapping

HEADER = """\
# chipsim mapping file: which block of which layer sits on which core.
# Each placement (its position in the list is its tile id):
#   layer       name of the weight layer in the graph
#   rows, cols  [start, stop) ranges of the layer's weight matrix held by this block (stop excluded)
#   replica     which copy of the layer (0 .. replication - 1)
#   core        core id (0 .. cores - 1)
#   chip        on a system of several chips only: which chip (0 .. chips - 1); core is then
#               the core of that chip
#   row_offset, col_offset  top-left crossbar cell of the block on that core
# Every copy of every layer must be covered exactly once; blocks sharing a core must use
# disjoint crossbar rows and disjoint columns. `chipsim calibrate` adds per placement
#   calibration: {input_range: r, column_scale: [...]}   a fixed DAC range for the tile, and
#   one conductance scale per column (never above g_max); edit or delete them freely.
# graph_hash identifies the graph's weight matrices (layer names and shapes): a mapping is
# read only with a graph that has the same ones.
"""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layer: StrictStr
    rows: tuple[StrictInt, StrictInt]
    cols: tuple[StrictInt, StrictInt]
    replica: StrictInt = 0
    chip: StrictInt | None = None
    core: StrictInt
    row_offset: StrictInt = 0
    col_offset: StrictInt = 0
    calibration: dict[str, Any] | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chip: StrictStr
    strategy: StrictStr
    graph: StrictStr
    graph_hash: StrictStr | None = None
    replication: dict[StrictStr, StrictInt] = {}
    placements: list[_Entry]


def write_mapping(mapping: Mapping, path: Path) -> None:
    head = {"chip": mapping.chip, "strategy": mapping.strategy, "graph": mapping.graph,
            **({"graph_hash": mapping.graph_hash} if mapping.graph_hash else {}),
            "replication": dict(mapping.replication)}
    lines = [HEADER, yaml.safe_dump(head, sort_keys=False, width=1000).rstrip(), "placements:"]
    for tile_id, p in enumerate(mapping.placements):
        b = p.block
        entry: dict[str, Any] = {"layer": b.layer, "rows": [b.row_start, b.row_stop],
                                 "cols": [b.col_start, b.col_stop], "replica": p.replica,
                                 **_chip_and_core(mapping, p.core),
                                 "row_offset": p.row_offset, "col_offset": p.col_offset}
        if p.calibration is not None:
            entry["calibration"] = p.calibration
        flow = yaml.safe_dump(entry, sort_keys=False, default_flow_style=True, width=10**6).strip()
        lines.append(f"- {flow}  # tile {tile_id}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def read_mapping(path: Path, chip: Any, layers: Sequence[LayerLike]) -> Mapping:
    where = path.name
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise MappingError(f"{path}: cannot read mapping file ({err.strerror})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        raise MappingError(f"{where}:{at} not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: expected a mapping with chip, strategy, graph and placements")
    try:
        doc = _File.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        raise MappingError(f"{where}: {_loc(first['loc'])}: {first['msg']}") from None
    if doc.chip != chip.name:
        raise MappingError(f"{where}: chip: mapping was made for chip {doc.chip!r}, not "
                           f"{chip.name!r}{_system_hint(doc.chip, chip)}")
    _check_graph(doc, layers, where)
    replication = {layer.name: 1 for layer in layers}
    replication.update(doc.replication)
    per_chip = _cores_per_chip(doc, chip, where)
    mapping = Mapping(
        # an old file, checked below against these layers, is written back with their hash
        chip=doc.chip, strategy=doc.strategy, graph=doc.graph, graph_hash=shape_hash(layers),
        replication=replication,
        placements=tuple(
            Placement(Block(e.layer, e.rows[0], e.rows[1], e.cols[0], e.cols[1]), e.replica,
                      (e.chip or 0) * (per_chip or 0) + e.core, e.row_offset, e.col_offset,
                      e.calibration)
            for e in doc.placements),
        cores_per_chip=per_chip,
    )
    check_mapping(mapping, chip, layers, where)
    return mapping


def _system_hint(made_for: str, chip: Any) -> str:
    """How to name the chip a mapping was made for, when it is `--chips N` of this one (or
    this one is `--chips N` of it)."""
    import re

    system = getattr(chip, "system", None)
    if system is not None and made_for == system.chip.name:
        return " (a single chip: leave out --chips / --system)"
    if system is None and (match := re.fullmatch(re.escape(chip.name) + r"x(\d+)", made_for)):
        return f" (a system of {match.group(1)} chips: add --chips {match.group(1)})"
    return ""


def _chip_and_core(mapping: Mapping, core: int) -> dict[str, int]:
    """The `chip` and `core` keys of an entry: the core of its chip on a system."""
    if not mapping.cores_per_chip:
        return {"core": core}
    chip, core = divmod(core, mapping.cores_per_chip)
    return {"chip": chip, "core": core}


def _cores_per_chip(doc: _File, chip: Any, where: str) -> int | None:
    """The cores of one chip of the system a file's entries are on (None: a single chip);
    MappingError at the first entry whose chip or core does not exist."""
    system = getattr(chip, "system", None)
    for i, e in enumerate(doc.placements):
        if system is None and e.chip is not None:
            raise MappingError(f"{where}: placements[{i}].chip: chip {chip.name} is a single chip; "
                               f"give core alone (or map for a system with --chips / --system)")
        if system is not None:
            if not 0 <= (e.chip or 0) < system.count:
                raise MappingError(f"{where}: placements[{i}].chip: chip {e.chip} does not exist "
                                   f"(system {chip.name} has {system.count})")
            if not 0 <= e.core < system.cores_per_chip:
                raise MappingError(f"{where}: placements[{i}].core: core {e.core} does not exist "
                                   f"(each chip of system {chip.name} has {system.cores_per_chip})")
    return system.cores_per_chip if system is not None else None


def _check_graph(doc: _File, layers: Sequence[LayerLike], where: str) -> None:
    """MappingError when the file was made for other weight matrices; a warning when it
    cannot tell (no graph_hash)."""
    actual = shape_hash(layers)
    if doc.graph_hash is None:
        warnings.warn(f"{where}: no graph_hash (written before chipsim checked it); it is "
                      f"checked against the graph by layer names and shapes only: rewrite it "
                      f"with `chipsim map` or add `graph_hash: {actual}`", ChipsimWarning,
                      stacklevel=4)
    elif doc.graph_hash != actual:
        raise MappingError(f"{where}: graph_hash: made for {doc.graph} (weight matrices "
                           f"{doc.graph_hash}), but this graph's layer names and weight shapes "
                           f"hash to {actual}: make a mapping for it with `chipsim map`")


def _loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
