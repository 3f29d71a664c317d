"""A figure of a sweep against a swept field: `--plot x=cores.adc.bits,y=energy_per_inference`.

One line per value of `hue` (optional, each shifted a little along x so equal values stay
visible), the mean over seeds at each x with the seeds' standard deviation as error bars when
there are several; one panel per combination of the other swept fields that
take more than one value (the networks, say), since their figures need not share a scale.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from chipsim.errors import ChipsimError
from chipsim.sweep.rows import column, columns_of

MAX_PANELS = 12


def parse_plot(text: str) -> dict[str, str]:
    """`x=FIELD,y=FIGURE[,hue=FIELD]` as a dict; a clear error otherwise."""
    parts = {}
    for item in text.split(","):
        name, eq, value = item.partition("=")
        if not eq or name.strip() not in ("x", "y", "hue") or not value.strip():
            raise ChipsimError(f"--plot: expected x=FIELD,y=FIGURE[,hue=FIELD], got {text!r}")
        parts[name.strip()] = value.strip()
    if "x" not in parts or "y" not in parts:
        raise ChipsimError(f"--plot: expected x=FIELD,y=FIGURE[,hue=FIELD], got {text!r}")
    return parts


def plot_file(axes: dict[str, str]) -> str:
    """The PNG's name: sweep-<y>-vs-<x>[-by-<hue>].png."""
    name = f"sweep-{axes['y']}-vs-{axes['x']}" + (f"-by-{axes['hue']}" if "hue" in axes else "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png"


def resolve(request: dict[str, str], rows: Sequence[dict[str, Any]],
            fields: Sequence[str]) -> dict[str, str]:
    """The full column names of a --plot request (x and hue swept fields, y a figure)."""
    figures = [c for c in columns_of(rows) if c not in fields and c != "error"]
    out = {"x": column(request["x"], fields, "--plot x"),
           "y": column(request["y"], figures, "--plot y")}
    if "hue" in request:
        out["hue"] = column(request["hue"], fields, "--plot hue")
    return out


def plot_sweep(rows: Sequence[dict[str, Any]], axes: dict[str, str], fields: Sequence[str],
               units: dict[str, str], path: str | Path, title: str) -> Path:
    """Draw `axes["y"]` against `axes["x"]` and write the PNG `path`."""
    from chipsim.report.plots import _colours, _figure, _save

    x, y, hue = axes["x"], axes["y"], axes.get("hue")
    rows = [r for r in rows if r.get(y) is not None]
    if not rows:
        raise ChipsimError(f"--plot: no cell has the figure {y}")
    others = [f for f in fields if f not in (x, hue, "seed")
              and len({_key(r.get(f)) for r in rows}) > 1]
    panels = list(dict.fromkeys(tuple(r.get(f) for f in others) for r in rows))
    if len(panels) > MAX_PANELS:
        raise ChipsimError(f"--plot: {len(panels)} panels (one per value of "
                           f"{', '.join(others)}); at most {MAX_PANELS}: use hue= or cells:")
    hues = list(dict.fromkeys(r.get(hue) for r in rows)) if hue else [None]
    colours = dict(zip(hues, _colours(len(hues))))
    xs = list(dict.fromkeys(r[x] for r in rows))
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
    # lines of equal values would hide each other: each hue is shifted a little along x
    step = min(np.diff(sorted(xs)), default=1) if numeric else 1
    shift = {h: (i - (len(hues) - 1) / 2) * 0.05 * step for i, h in enumerate(hues)}
    cols = min(len(panels), 3)
    fig = _figure(4.2 * cols, 3.2 * ((len(panels) + cols - 1) // cols))
    fig.set_layout_engine("constrained")
    unit = units.get(y)
    for n, panel in enumerate(panels):
        ax = fig.add_subplot((len(panels) + cols - 1) // cols, cols, n + 1)
        mine = [r for r in rows if tuple(r.get(f) for f in others) == panel]
        for h in hues:
            points = [r for r in mine if hue is None or r.get(hue) == h]
            at = [v for v in xs if any(r[x] == v for r in points)]
            values = [[r[y] for r in points if r[x] == v] for v in at]
            pos = [(v if numeric else xs.index(v)) + shift[h] for v in at]
            ax.errorbar(pos, [np.mean(v) for v in values],
                        yerr=[np.std(v) if len(v) > 1 else 0 for v in values], marker="o",
                        capsize=3, color=colours[h], label=None if h is None else str(h))
        if not numeric:
            ax.set_xticks(range(len(xs)), [str(v) for v in xs])
        elif all(isinstance(v, int) for v in xs):
            ax.set_xticks(xs)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_xlabel(x)
        ax.set_ylabel(f"{y} ({unit})" if unit else y)
        if others:
            ax.set_title(", ".join(f"{f}={v}" for f, v in zip(others, panel)), fontsize=9)
        ax.grid(alpha=0.3)
        if hue and n == 0:
            ax.legend(title=hue, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _key(value: Any) -> str:
    return repr(value)
