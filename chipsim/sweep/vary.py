"""Chip descriptions with some fields changed: the chips of a sweep.

A sweep names a base description and, for some of its fields, the values to try, each field by
its key path (`cores.adc.bits`; a number steps into a list: `read_modes.fast.phases.0`). Each
combination is written into the base description's data and validated exactly as a file
would be (`chipsim.arch.parse_chip`), so a bad value gets the description's own error, naming
the field: `cores.adc.bits: expected an integer from 1 to 16, got 0`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Mapping

import yaml

from chipsim.errors import SpecError


def set_field(data: Any, path: str, value: Any, where: str) -> None:
    """Write `value` at the dotted key path `path` of the description data `data`. A missing
    last key is added (validation then says whether the schema has it); a missing key above
    it, or a step into a number or a string, is an error naming `where` and the path."""
    parts = path.split(".")
    node = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        done = ".".join(parts[:depth + 1])
        if isinstance(node, dict):
            if last:
                node[part] = copy.deepcopy(value)
                return
            if part not in node:
                raise SpecError(f"{where}: {path}: the description has no field {done}")
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise SpecError(f"{where}: {path}: {'.'.join(parts[:depth]) or 'top level'} is "
                                f"a list of {len(node)}; expected an index 0..{len(node) - 1}, "
                                f"got {part!r}")
            if last:
                node[int(part)] = copy.deepcopy(value)
                return
            node = node[int(part)]
        else:
            raise SpecError(f"{where}: {path}: {'.'.join(parts[:depth])} is a value, not a "
                            "mapping of fields")


def varied_text(base_text: str, changes: Mapping[str, Any], where: str) -> str:
    """The description text `base_text` with the fields of `changes` set (not yet validated)."""
    data = yaml.safe_load(base_text)
    for path, value in changes.items():
        set_field(data, path, value, where)
    return yaml.safe_dump(data, sort_keys=False)


def chip_digest(chip: Any) -> str:
    """sha256 of a validated chip's content (every field, defaults filled in): two descriptions
    that differ only in comments, key order or spelled-out defaults give the same chip."""
    content = json.dumps(chip.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()
