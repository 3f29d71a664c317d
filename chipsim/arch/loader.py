"""Loading a chip description, and saying exactly what is wrong with a bad one.

`load_chip("hermes64")` reads a built-in description from `chipsim/arch/chips/`; any other
argument is a path to a YAML file. Whatever goes wrong (bad YAML, an unknown or misspelt key, a
value of the wrong type or out of range, a cross-field rule) comes back as one
`DescriptionError` whose message reads `<file>: <key.path>: expected <what>, got <value>`,
so the user can go straight to the line to fix.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types as at
import yaml
from pydantic import BaseModel, ValidationError

from chipsim.arch.schema import Chip, _FieldProblem
from chipsim.errors import DescriptionError

BUILTIN_DIR = Path(__file__).parent / "chips"


def builtin_chips() -> list[str]:
    """Names of the chip descriptions that ship with chipsim."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def load_chip(name_or_path: str | Path) -> Chip:
    """The validated, immutable `Chip` of a built-in name or a YAML file path."""
    path, text = read_description(name_or_path)
    return parse_chip(text, path.name)


def read_description(name_or_path: str | Path) -> tuple[Path, str]:
    """The file and the text of a built-in name or a YAML file path, before validation (a
    sweep edits fields of it, then validates it with `parse_chip` as `load_chip` does)."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        if str(name_or_path) not in builtin_chips():
            raise DescriptionError(f"{name_or_path}: no such built-in chip "
                                   f"(built-in: {', '.join(builtin_chips())}) and no such file")
        path = BUILTIN_DIR / f"{name_or_path}.yaml"
    try:
        return path, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DescriptionError(f"{path.name}: cannot read the file ({err})") from None


def parse_chip(text: str, source: str = "<string>") -> Chip:
    """Validate description text; `source` names it in error messages."""
    return validate_chip(yaml_mapping(text, source, "chip fields"), source)


def yaml_mapping(text: str, source: str, what: str) -> dict:
    """The mapping at the top of YAML `text`, or a one-line DescriptionError naming `source`."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise DescriptionError(f"{source}: {where}not valid YAML: {err.problem}") from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as err:
        # PyYAML lets a few constructor errors escape as plain ValueError (e.g. a bad date)
        raise DescriptionError(f"{source}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise DescriptionError(f"{source}: expected a mapping of {what} at the top, got {_show(data)}")
    return data


def validate_chip(data: dict, source: str = "<data>") -> Chip:
    """The `Chip` of description data (parsed YAML); `source` names it in error messages."""
    return validate_model(Chip, data, source)


def validate_model(root: type[BaseModel], data: dict, source: str = "<data>") -> Any:
    """`root` (the Chip, or another description's schema) validated from `data`; every problem
    as `<source>: <key.path>: expected <what>, got <value>` in one DescriptionError."""
    try:
        return root.model_validate(data)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        # a list whose item failed is also reported "too short": keep only the deepest cause
        locs = [tuple(e["loc"]) for e in errors]
        errors = [e for e in errors if not any(len(o) > len(e["loc"]) and o[:len(e["loc"])] == tuple(e["loc"])
                                               for o in locs)]
        problems = [_describe(e, data, root) for e in errors]
        raise DescriptionError("; ".join(f"{source}: {p}" for p in problems)) from None
    except RecursionError:
        raise DescriptionError(f"{source}: nested too deeply") from None


# ---------------------------------------------------------------------- turning errors into text


def _describe(error: dict[str, Any], data: Any, root: Any = Chip) -> str:
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    problem = ctx.get("error")
    if isinstance(problem, _FieldProblem):
        path = _model_path(loc, root) + problem.path
        return f"{_dotted(path)}: expected {problem.expected}, got {_show(problem.got)}"
    path = _model_path(loc, root)
    if error["type"] == "extra_forbidden":
        parent = _annotation_at(root, path[:-1])
        models = [o for o in _options(parent) if _is_model(o)]
        known = ", ".join(models[0].model_fields) if models else "none"
        return f"{_dotted(path)}: expected one of the keys {known}, got unknown key {_show(path[-1])}"
    expected = _expected(_annotation_at(root, path))
    if error["type"] == "missing":
        what = "list too short" if path and isinstance(path[-1], int) else "missing key"
        return f"{_dotted(path)}: expected {expected}, got nothing ({what})"
    return f"{_dotted(path)}: expected {expected}, got {_show(error.get('input'))}"


def _model_path(loc: tuple, root: Any = Chip) -> tuple:
    """Drop pydantic's union-member tags (e.g. 'mesh2d' after 'topology') from a location."""
    path, ann = [], root
    for part in loc:
        member = _union_member(ann, part)
        if member is not None:
            ann = member
            continue
        path.append(part)
        ann = _step(ann, part)
    return tuple(path)


def _annotation_at(root: Any, path: tuple) -> Any:
    ann = root
    for part in path:
        ann = _step(ann, part)
    return ann


def _strip(ann: Any) -> tuple[Any, list]:
    """The bare type of an annotation and its constraints (Ge, Le, MinLen, ...)."""
    metadata = []
    while typing.get_origin(ann) is typing.Annotated:
        args = typing.get_args(ann)
        ann = args[0]
        for m in args[1:]:
            metadata.extend(getattr(m, "metadata", None) or [m])
            if getattr(m, "discriminator", None) and m not in metadata:
                metadata.append(m)
    return ann, metadata


def _options(ann: Any) -> list:
    ann, _ = _strip(ann)
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(ann) if a is not type(None)]
    return [ann]


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _union_member(ann: Any, tag: Any) -> Any:
    """The member of a discriminated union that pydantic names by its tag, if `tag` is one."""
    models = [o for o in _options(ann) if _is_model(o)]
    if len(_options(ann)) < 2 and not (len(models) == 1 and _is_tagged(ann)):
        return None
    for model in models:
        for field in model.model_fields.values():
            if typing.get_origin(field.annotation) is typing.Literal and tag in typing.get_args(field.annotation):
                return model
    return None


def _is_tagged(ann: Any) -> bool:
    _, metadata = _strip(ann)
    return any(getattr(m, "discriminator", None) for m in metadata)


def _step(ann: Any, part: Any) -> Any:
    """The annotation one key (or index) below `ann`; None when unknown."""
    for option in _options(ann):
        if _is_model(option):
            field = option.model_fields.get(part) if isinstance(part, str) else None
            if field is not None:
                return typing.Annotated[field.annotation, field]
        origin = typing.get_origin(option)
        args = typing.get_args(option)
        if origin is dict and len(args) == 2:
            return args[1]
        if origin in (tuple, list) and args:
            if len(args) == 2 and args[1] is Ellipsis:
                return args[0]
            if isinstance(part, int) and 0 <= part < len(args):
                return args[part]
    return None


def _expected(ann: Any) -> str:
    """Plain words for what a field of this annotation accepts."""
    if ann is None:
        return "a valid value"
    options = _options(ann)
    bare, metadata = _strip(ann)
    optional = typing.get_origin(bare) in (typing.Union, types.UnionType) and type(None) in typing.get_args(bare)
    if len(options) > 1 or _is_tagged(ann):
        key = next((m.discriminator for m in metadata if getattr(m, "discriminator", None)), None)
        if key is None:
            return " or ".join(_expected(o) for o in options)
        tags = [v for o in options if _is_model(o) for v in typing.get_args(o.model_fields[key].annotation)]
        return f"a mapping whose {key} is one of " + ", ".join(json.dumps(t) for t in tags)
    base = options[0]
    base_bare, base_meta = _strip(base)
    text = _expected_bare(base_bare, metadata + base_meta)
    return text + (" or null" if optional else "")


def _expected_bare(ann: Any, metadata: list) -> str:
    lo = next((m.ge for m in metadata if isinstance(m, at.Ge)), None)
    gt = next((m.gt for m in metadata if isinstance(m, at.Gt)), None)
    hi = next((m.le for m in metadata if isinstance(m, at.Le)), None)
    min_len = next((m.min_length for m in metadata if isinstance(m, at.MinLen)), None)
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if ann is bool:
        return "true or false"
    if ann in (int, float):
        noun = "an integer" if ann is int else "a number"
        if lo is not None and hi is not None:
            return f"{noun} from {lo} to {hi}"
        if gt is not None:
            return f"{noun} > {gt}"
        if lo is not None:
            return f"{noun} >= {lo}"
        return noun
    if ann is str:
        return "a non-empty string" if min_len else "a string"
    if origin is typing.Literal:
        return "one of " + ", ".join(json.dumps(a) for a in args)
    if _is_model(ann):
        return "a mapping with keys " + ", ".join(ann.model_fields)
    if origin is dict:
        return ("a non-empty mapping" if min_len else "a mapping") + " of names to " + _expected(args[1])
    if origin in (tuple, list):
        if len(args) == 2 and args[1] is Ellipsis:
            what = "a non-empty list of " if min_len else "a list of "
            return what + _plural(_expected(args[0]))
        return f"a list of {len(args)}: " + ", ".join(_expected(a) for a in args)
    return "a valid value"


def _plural(text: str) -> str:
    for article in ("an ", "a "):
        if text.startswith(article):
            return "items each " + text
    return text


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path) if path else "(top level)"


def _show(value: Any) -> str:
    """A short, exact rendering of what the user wrote."""
    if isinstance(value, str):
        text = json.dumps(value)
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
