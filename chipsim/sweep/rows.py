"""A sweep's results as rows, one per cell: the swept values, then the figures.

Rows are what `--json` prints, the table shows and plots draw; their column names are the
swept fields (`cores.adc.bits`, `network`, `strategy`, `seed`) and the summary figures of
`chipsim report` (`energy_per_inference_uj`, `accuracy_pct_1h`, ...). `column` lets a user
name a column by a part of its name, as the issue's `--plot x=adc.bits,y=energy_per_inference`.
"""

from __future__ import annotations

from typing import Any, Sequence

from chipsim.errors import ChipsimError
from chipsim.sweep.cells import Cell


def make_rows(cells: Sequence[Cell], results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A row per cell: its fields and its figures (or its error)."""
    rows = []
    for cell, result in zip(cells, results):
        rows.append({**cell.fields, **result.get("figures", {}),
                     **({"error": result["error"]} if "error" in result else {})})
    return rows


def units(results: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The unit of every figure the results hold."""
    out: dict[str, str] = {}
    for result in results:
        out.update(result.get("units", {}))
    return out


def column(name: str, columns: Sequence[str], option: str) -> str:
    """The column `name` stands for: itself, the only column ending in ".name" (a field by its
    last keys), or the only one starting with it (a figure without its unit suffix)."""
    if name in columns:
        return name
    for match in ([c for c in columns if c.endswith("." + name)],
                  [c for c in columns if c.startswith(name)]):
        if len(match) == 1:
            return match[0]
        if len(match) > 1:
            raise ChipsimError(f"{option}: {name!r} could be any of {', '.join(match)}")
    raise ChipsimError(f"{option}: no column {name!r}; columns: {', '.join(columns)}")


def columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every column name of the rows, in first-seen order."""
    return list(dict.fromkeys(k for row in rows for k in row))
