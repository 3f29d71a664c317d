"""A sweep spec: the YAML file that says which runs a sweep is made of.

    chip: hermes64                    # built-in name, or a description file
    vary:                             # description fields by key path, and the values to try
      cores.adc.bits: [6, 7, 8]
    networks:                         # graph files (paths relative to the spec) and data sets
      - {graph: ../workloads/digits_mlp/mlp.onnx, data: digits}
    strategies: [sequential, balanced]
    times: [1h, 1d]                   # accuracy at these times after programming: figures of a cell
    seeds: [0, 1]                     # programmed chips: one cell each
    images: 64                        # accuracy inputs; inputs: event-model inputs
    cells:                            # optional: only these combinations of the product
      - {network: mlp, strategy: balanced}

A cell is one combination of the varied fields, a network, a strategy and a seed. Every mistake
is one `SpecError` naming the spec file and the field: `adc.yaml: networks[0].graph: no such
file`. Validation runs before any cell does, the varied chips included.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt,
                      StrictStr, ValidationError)

from chipsim.errors import ChipsimError, SpecError

#: the axes of a sweep besides the varied description fields, as rows and `cells:` name them
AXES = ("network", "strategy", "seed")


def _listed(value: Any) -> Any:
    """One value where a list is expected is a list of one (`cores.adc.bits: 8`)."""
    return value if isinstance(value, list) else [value]


Listed = Annotated[list[Any], BeforeValidator(_listed), Field(min_length=1)]


class _Network(BaseModel):
    model_config = ConfigDict(extra="forbid")
    graph: StrictStr
    data: StrictStr | None = None
    name: StrictStr | None = None  # the row's label; default: the graph file's stem


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chip: StrictStr = "hermes64"
    vary: dict[StrictStr, Listed] = {}
    networks: Annotated[list[_Network], Field(min_length=1)]
    strategies: Annotated[list[StrictStr], BeforeValidator(_listed),
                          Field(min_length=1)] = ["balanced"]
    times: Annotated[list[StrictStr | float], BeforeValidator(_listed)] = ["1h"]
    seeds: Annotated[list[Annotated[StrictInt, Field(ge=0)]], BeforeValidator(_listed),
                     Field(min_length=1)] = [0]
    images: Annotated[StrictInt, Field(ge=1)] = 32
    inputs: Annotated[StrictInt, Field(ge=1)] = 32
    calibrate: StrictBool = True
    calibration_samples: Annotated[StrictInt, Field(ge=1)] = 256
    cells: list[dict[StrictStr, Any]] | None = None


@dataclass(frozen=True)
class Network:
    name: str
    graph: Path  # absolute
    data: str | None


@dataclass(frozen=True)
class ChipVariant:
    """One chip of the sweep: the varied fields' values and the validated description text."""

    changes: dict[str, Any]
    text: str
    source: str  # what error messages call it
    digest: str  # chip_digest of the validated chip


@dataclass(frozen=True)
class Spec:
    path: Path
    chips: list[ChipVariant]
    vary: dict[str, list[Any]]
    networks: list[Network]
    strategies: list[str]
    times: list[float]
    seeds: list[int]
    images: int
    inputs: int
    calibrate: bool
    calibration_samples: int
    cells: list[dict[str, Any]] | None = field(default=None)

    @property
    def axes(self) -> list[str]:
        """The fields every row carries: the varied description fields, then AXES."""
        return [*self.vary, *AXES]


def load_spec(path: str | Path) -> Spec:
    """The validated spec in the YAML file `path`; a SpecError (or the description's own
    DescriptionError, prefixed with the spec and the change) names what is wrong."""
    path = Path(path)
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"{where}: cannot read the sweep spec "
                        f"({getattr(err, 'strerror', None) or err})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" line {mark.line + 1}:" if mark else ""
        raise SpecError(f"{where}:{at} not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping with chip, vary, networks, strategies, "
                        "times, seeds, ...")
    try:
        doc = _File.model_validate(raw)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        got = json.dumps(first.get("input"), default=str)
        got = got if len(got) <= 60 else got[:57] + "..."
        raise SpecError(f"{where}: {_loc(first['loc'])}: {first['msg']}, got {got}") from None
    folder = path.parent
    networks = _networks(doc, folder, where)
    strategies = _strategies(doc, where)
    times = _times(doc, where)
    _distinct(doc.seeds, f"{where}: seeds")
    for key, values in doc.vary.items():
        if key in AXES:
            raise SpecError(f"{where}: vary.{key}: {key} is an axis of every sweep, not a "
                            "description field; list it under its own key")
        _distinct(values, f"{where}: vary.{key}")
    chips = _chips(doc, folder, where)
    spec = Spec(path, chips, dict(doc.vary), networks, strategies, times, list(doc.seeds),
                doc.images, doc.inputs, doc.calibrate, doc.calibration_samples, doc.cells)
    _check_cells(spec, where)
    return spec


def _loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _distinct(values: list[Any], where: str) -> None:
    seen = set()
    for value in values:
        key = json.dumps(value, sort_keys=True, default=str)
        if key in seen:
            raise SpecError(f"{where}: {key} is listed twice")
        seen.add(key)


def _networks(doc: _File, folder: Path, where: str) -> list[Network]:
    from chipsim.datasets import dataset_info

    networks = []
    for i, net in enumerate(doc.networks):
        graph = (folder / net.graph).resolve()
        if not graph.is_file():
            raise SpecError(f"{where}: networks[{i}].graph: no such file {net.graph} "
                            f"(paths are relative to the spec's folder, {folder})")
        if net.data is not None:
            try:
                dataset_info(net.data)
            except ChipsimError as err:
                raise SpecError(f"{where}: networks[{i}].data: {err}") from None
        networks.append(Network(net.name or graph.stem, graph, net.data))
    names = [n.name for n in networks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise SpecError(f"{where}: networks[{i}]: a second network named {name!r}; give "
                            "each a distinct name: key")
    return networks


def _strategies(doc: _File, where: str) -> list[str]:
    from chipsim.mapping import STRATEGIES

    for i, name in enumerate(doc.strategies):
        if name not in STRATEGIES:
            raise SpecError(f"{where}: strategies[{i}]: unknown strategy {name!r}; strategies: "
                            f"{', '.join(STRATEGIES)}")
    _distinct(doc.strategies, f"{where}: strategies")
    return list(doc.strategies)


def _times(doc: _File, where: str) -> list[float]:
    from chipsim.functional.times import TimeError, parse_time

    times = []
    for i, value in enumerate(doc.times):
        try:
            seconds = parse_time(value) if isinstance(value, str) else float(value)
        except TimeError as err:
            raise SpecError(f"{where}: times[{i}]: {err}") from None
        if seconds < 0:
            raise SpecError(f"{where}: times[{i}]: times count from programming and are >= 0, "
                            f"got {value}")
        times.append(seconds)
    _distinct(times, f"{where}: times (in seconds)")
    return times


def _chips(doc: _File, folder: Path, where: str) -> list[ChipVariant]:
    """Every combination of the varied fields, written into the base description and
    validated as a description file is."""
    from chipsim.arch import parse_chip
    from chipsim.arch.loader import read_description
    from chipsim.sweep.vary import chip_digest, varied_text

    local = folder / doc.chip
    try:
        base, text = read_description(local if local.is_file() else doc.chip)
    except ChipsimError as err:
        raise SpecError(f"{where}: chip: {err}") from None
    chips = []
    for values in itertools.product(*doc.vary.values()):
        changes = dict(zip(doc.vary, values))
        said = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in changes.items())
        source = f"{where}: vary {said} of {base.name}" if changes else base.name
        text_now = varied_text(text, changes, f"{where}: vary") if changes else text
        chip = parse_chip(text_now, source)
        chips.append(ChipVariant(changes, text_now, source, chip_digest(chip)))
    return chips


def _check_cells(spec: Spec, where: str) -> None:
    """Each entry of `cells:` names axes of this sweep, with values the sweep has."""
    if spec.cells is None:
        return
    values = {**spec.vary, "network": [n.name for n in spec.networks],
              "strategy": spec.strategies, "seed": spec.seeds}
    for i, entry in enumerate(spec.cells):
        for key, value in entry.items():
            if key not in values:
                raise SpecError(f"{where}: cells[{i}].{key}: not an axis of this sweep; axes: "
                                f"{', '.join(values)}")
            if value not in values[key]:
                raise SpecError(f"{where}: cells[{i}].{key}: {json.dumps(value, default=str)} is "
                                f"not among its values {json.dumps(values[key], default=str)}")
