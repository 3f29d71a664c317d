"""The report's figures, drawn from the results dictionary (and the chip, for where things sit).

Every plot has a title, labelled axes with units, and colours readable with any common
colour-vision deficiency: the Okabe-Ito palette for categories, viridis for quantities. Each
function writes one PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: Okabe & Ito's eight colours, distinguishable by colour-blind readers
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
             "#000000")
DPI = 110


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def _colours(count: int) -> list:
    """Okabe-Ito for up to 8 categories, evenly spaced viridis beyond."""
    if count <= len(OKABE_ITO):
        return list(OKABE_ITO[:count])
    from matplotlib import colormaps

    return [colormaps["viridis"](v) for v in np.linspace(0, 0.95, count)]


def _stack(ax, x: float, parts: dict[str, float], colours: dict[str, Any], width: float = 0.6,
           label: bool = True) -> None:
    bottom = 0.0
    for name, value in parts.items():
        ax.bar(x, value, width, bottom=bottom, color=colours[name], edgecolor="white",
               linewidth=0.5, label=name if label else None)
        bottom += value


def energy_breakdown(timing: dict[str, Any], path: str | Path) -> Path:
    """Two stacked bars of the same total energy per inference: by component, by layer."""
    inputs = timing["inputs"]
    by_component = {k: v / inputs / 1e6 for k, v in timing["energy_by_component_pj"].items()}
    by_layer = {k: v / inputs / 1e6 for k, v in timing["energy_by_layer_pj"].items()}
    fig = _figure(10, 4.8)
    for k, (title, parts) in enumerate((("by component", by_component), ("by layer", by_layer))):
        ax = fig.add_subplot(1, 2, k + 1)
        colours = dict(zip(parts, _colours(len(parts))))
        _stack(ax, 0, parts, colours)
        ax.set_xticks([0], [title])
        ax.set_xlim(-0.6, 0.6)
        ax.set_ylabel("energy per inference (µJ)")
        ax.set_title(f"energy {title}")
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle(f"{timing['model']} on {timing['chip']}: "
                 f"{timing['energy_per_inference_pj'] / 1e6:.4g} µJ per inference")
    fig.tight_layout()
    return _save(fig, path)


def _grid(chip: Any) -> tuple[dict[int, tuple[int, int]], int, int]:
    positions = {core: chip.core_position(core) for core in range(chip.cores.count)}
    return positions, 1 + max(r for r, _ in positions.values()), 1 + max(c for _, c in positions.values())


def core_heatmap(timing: dict[str, Any], chip: Any, path: str | Path) -> Path:
    """The core grid as on the die, each core coloured by the share of the run it was busy."""
    positions, rows, cols = _grid(chip)
    grid = np.full((rows, cols), np.nan)
    for core, use in timing["core_utilization"].items():
        r, c = positions[int(core)]
        grid[r, c] = 100 * use
    fig = _figure(1.0 + 0.75 * cols, 0.8 + 0.7 * rows)
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["viridis"].with_extremes(bad="#E0E0E0")
    image = ax.imshow(grid, cmap=cmap, vmin=0, vmax=max(1.0, float(np.nanmax(grid, initial=0))))
    for core, (r, c) in positions.items():
        value = grid[r, c]
        text = f"{core}\n" + ("idle" if np.isnan(value) else f"{value:.0f}%")
        dark = np.isnan(value) or value > 0.6 * image.norm.vmax
        ax.text(c, r, text, ha="center", va="center", fontsize=6,
                color="black" if dark else "white")
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xlabel("core column")
    ax.set_ylabel("core row")
    ax.set_title(f"core utilization (% of the {timing['run_ns'] / 1e3:.4g} µs run busy); grey: unused")
    fig.colorbar(image, ax=ax, label="busy (% of run)", shrink=0.8)
    return _save(fig, path)


def _node_positions(chip: Any, graph: Any) -> dict[Any, tuple[float, float]]:
    """(x, y) of every network node: cores on their grid, other units beside their neighbours."""
    positions, rows, cols = _grid(chip)
    xy: dict[Any, tuple[float, float]] = {core: (float(c), float(r)) for core, (r, c) in positions.items()}
    centre = np.array([(cols - 1) / 2, (rows - 1) / 2])
    for node in graph.nodes:
        if node in xy:
            continue
        near = [np.array(xy[n]) for n in graph.neighbors(node) if n in xy]
        if not near:
            continue
        at = np.mean(near, axis=0)
        away = at - centre  # step out of the grid along the axis the neighbour is nearest an edge
        step = np.array([np.sign(away[0]) or 1.0, 0.0]) if abs(away[0]) >= abs(away[1]) \
            else np.array([0.0, np.sign(away[1])])
        xy[node] = tuple(at + 0.7 * step)
    return xy


def link_traffic(timing: dict[str, Any], chip: Any, path: str | Path) -> Path:
    """The network topology with each link's width and colour showing the bits it carried."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.cm import ScalarMappable

    graph = chip.network_graph()
    xy = _node_positions(chip, graph)
    names = {str(n): n for n in graph.nodes}
    traffic: dict[frozenset, float] = {}
    for link in timing["links"]:
        a, b = (names.get(part, part) for part in link["link"].split("->"))
        key = frozenset((a, b))
        traffic[key] = traffic.get(key, 0.0) + link["bits"] / timing["inputs"] / 1e3
    top = max(traffic.values(), default=0.0) or 1.0
    cmap, norm = colormaps["viridis"], Normalize(0, top)
    positions, rows, cols = _grid(chip)
    fig = _figure(2.0 + 0.8 * cols, 1.2 + 0.75 * rows)
    ax = fig.add_subplot()
    for a, b in graph.edges:
        if a not in xy or b not in xy:
            continue
        (x0, y0), (x1, y1) = xy[a], xy[b]
        bits = traffic.get(frozenset((a, b)), 0.0)
        if bits > 0:
            ax.plot([x0, x1], [y0, y1], color=cmap(norm(bits)), linewidth=1 + 5 * bits / top,
                    solid_capstyle="round", zorder=2)
        else:
            ax.plot([x0, x1], [y0, y1], color="#CCCCCC", linewidth=0.6, linestyle=":", zorder=1)
    for node, (x, y) in xy.items():
        core = isinstance(node, int)
        ax.scatter([x], [y], s=90 if core else 60, marker="s" if core else "D",
                   color="white", edgecolor="#444444", zorder=3)
        ax.text(x, y, str(node) if core else str(node).replace("gdpu", "G"), ha="center",
                va="center", fontsize=5.5, zorder=4)
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.axis("off")
    ax.set_title(f"network traffic per inference on the topology (cores: squares; global "
                 f"digital units: G)\n{sum(traffic.values()):.4g} kbit·hops per inference in all")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7,
                 label="kbit per inference, both directions")
    return _save(fig, path)


def gantt(trace: dict[str, Any], path: str | Path, title: str) -> Path:
    """A Gantt chart of the traced inputs: one row per core, one colour per input."""
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["pid"] == 1]
    tracks = sorted({e["tid"] for e in spans}, key=lambda t: int(names[(1, t)].split()[-1]))
    row = {tid: k for k, tid in enumerate(tracks)}
    inputs = sorted({e["args"]["input"] for e in spans})
    colours = dict(zip(inputs, _colours(len(inputs))))
    fig = _figure(10, 1.2 + 0.16 * max(1, len(tracks)))
    ax = fig.add_subplot()
    for n in inputs:
        by_row: dict[int, list[tuple[float, float]]] = {}
        for e in spans:
            if e["args"]["input"] == n:
                by_row.setdefault(row[e["tid"]], []).append((e["ts"], e["dur"]))
        for k, (r, segments) in enumerate(by_row.items()):
            ax.broken_barh(segments, (r - 0.4, 0.8), facecolors=colours[n], alpha=0.85,
                           label=f"input {n}" if k == 0 else None)
    ax.set_yticks(range(len(tracks)), [names[(1, t)] for t in tracks], fontsize=5)
    ax.invert_yaxis()
    ax.set_xlabel("time since the first input entered (µs)")
    ax.set_ylabel("core")
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    if inputs:
        ax.legend(loc="upper right", fontsize=7)
    return _save(fig, path)


def accuracy_vs_time(accuracy: dict[str, Any], path: str | Path) -> Path:
    """Accuracy (mean ± std over seeds) against time after programming, log time axis."""
    from chipsim.functional.times import format_time

    rows = sorted((r for r in accuracy["rows"] if r["gdc"]), key=lambda r: r["time_s"])
    fig = _figure(6.5, 4.2)
    ax = fig.add_subplot()
    t = np.array([max(r["time_s"], 1.0) for r in rows])
    mean = np.array([100 * r["accuracy_mean"] for r in rows])
    std = np.array([100 * r["accuracy_std"] for r in rows])
    ax.errorbar(t, mean, yerr=std, color=OKABE_ITO[4], marker="o", capsize=3,
                label=f"analog chip, GDC on ({len(accuracy['seeds'])} seeds)")
    reference = 100 * accuracy["float_accuracy"]
    ax.axhline(reference, color="black", linestyle="--", linewidth=1,
               label=f"float network ({reference:.4g} %)")
    ax.set_xscale("log")
    ax.set_xticks(t, [format_time(r["time_s"]) for r in rows])
    ax.set_xlabel("time after programming (log scale)")
    ax.set_ylabel(f"{accuracy['metric']} (%)")
    ax.set_title(f"{accuracy['model']} on {accuracy['chip']}: {accuracy['metric']} over drift "
                 f"({accuracy['images']} inputs)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def comparison_bars(names: Sequence[str], columns: Sequence[tuple[str, str, Sequence[float | None]]],
                    best: dict[str, list[str]], path: str | Path, title: str) -> Path:
    """One small bar chart per figure (label, key, values per strategy); best bars hatched."""
    count = len(columns)
    ncols = min(3, count)
    nrows = -(-count // ncols)
    fig = _figure(4.0 * ncols, 3.0 * nrows)
    colours = dict(zip(names, _colours(len(names))))
    for k, (label, key, values) in enumerate(columns):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        for i, (name, value) in enumerate(zip(names, values)):
            if value is None:
                continue
            winner = name in best.get(key, [])
            ax.bar(i, value, color=colours[name], edgecolor="black" if winner else "white",
                   hatch="//" if winner else "", linewidth=1.2 if winner else 0.5)
        ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title + " (hatched: best)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def tradeoff(names: Sequence[str], energy_uj: Sequence[float], throughput: Sequence[float],
             pareto: Sequence[str], path: str | Path, title: str) -> Path:
    """Throughput against energy per inference, one point per strategy, Pareto set ringed."""
    fig = _figure(6.0, 4.2)
    ax = fig.add_subplot()
    for colour, name, e, ips in zip(_colours(len(names)), names, energy_uj, throughput):
        ax.scatter([e], [ips], s=70, color=colour, zorder=3, label=name)
        if name in pareto:
            ax.scatter([e], [ips], s=220, facecolors="none", edgecolors="black", zorder=2)
        ax.annotate(name, (e, ips), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_xlabel("energy per inference (µJ, lower is better)")
    ax.set_ylabel("throughput (inferences/s, higher is better)")
    ax.set_title(title + "\nringed: Pareto-optimal over every compared figure", fontsize=9)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def energy_by_strategy(runs: dict[str, dict[str, Any]], path: str | Path, title: str) -> Path:
    """One stacked bar per strategy: energy per inference by component."""
    components = list(dict.fromkeys(c for run in runs.values()
                                    for c in run["timing"]["energy_by_component_pj"]))
    colours = dict(zip(components, _colours(len(components))))
    fig = _figure(1.5 + 1.3 * len(runs), 4.2)
    ax = fig.add_subplot()
    for i, run in enumerate(runs.values()):
        timing = run["timing"]
        parts = {c: timing["energy_by_component_pj"].get(c, 0.0) / timing["inputs"] / 1e6
                 for c in components}
        _stack(ax, i, parts, colours, label=i == 0)
    ax.set_xticks(range(len(runs)), list(runs), rotation=20)
    ax.set_ylabel("energy per inference (µJ)")
    ax.set_title(title, fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              frameon=False)
    return _save(fig, path)


def latency_against_load(runs: Sequence[dict[str, Any]], path: str | Path, title: str) -> Path:
    """Mean packet latency against offered load, one curve per traffic pattern (`chipsim noc`).

    Each run's zero-load latency is a dotted line and its channel-load bound a dashed vertical
    line in the curve's colour, so the reader sees where theory says latency starts and where
    throughput must end.
    """
    fig = _figure(6.4, 4.4)
    ax = fig.add_subplot()
    top = 0.0
    # Okabe-Ito without its yellow, which vanishes as a thin line on white
    palette = [c for c in OKABE_ITO if c != "#F0E442"] if len(runs) < len(OKABE_ITO) else \
        _colours(len(runs))
    for colour, run in zip(palette, runs):
        rows = run["rows"]
        x = [r["offered_rate"] for r in rows]
        y = [r["latency_mean_cycles"] for r in rows]
        ax.plot(x, y, "o-", color=colour, ms=3.5, label=run["pattern"])
        ax.axhline(run["zero_load_latency_cycles"], color=colour, ls=":", lw=1)
        ax.axvline(run["channel_load_bound"], color=colour, ls="--", lw=1)
        top = max(top, 8 * run["zero_load_latency_cycles"])
    ax.set_ylim(0, top)
    ax.set_xlim(0, None)
    ax.set_xlabel("offered load (flits per node per cycle)")
    ax.set_ylabel("mean packet latency (cycles)")
    ax.set_title(title + "\ndotted: zero-load latency; dashed: channel-load bound", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)
