"""The on-chip network as a graph.

A chip description gives its network as data: a named generator (`mesh2d`, a grid whose cores
link to their four neighbours) or an explicit list of links. Here that data becomes a networkx
graph (cores are the integers 0..count-1, global units are "gdpu0", "gdpu1", ...) whose edges
carry the link width and per-hop latency, plus the hop-distance matrix the mapper uses to keep
communicating layers close. Think of a city map: the description lists the streets, this module
draws the map and the table of distances between every two addresses.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

if TYPE_CHECKING:
    from chipsim.arch.schema import Chip


def mesh_links(rows: int, cols: int) -> list[tuple[int, int]]:
    """The links of a rows x cols mesh numbered row by row, each once as (a, b) with a < b."""
    links = []
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            if c + 1 < cols:
                links.append((k, k + 1))
            if r + 1 < rows:
                links.append((k, k + cols))
    return links


def core_links(chip: Chip) -> list[tuple[int, int]]:
    """Every core-to-core link once, as (a, b) with a < b."""
    topo = chip.network.topology
    if topo.kind == "mesh2d":
        return mesh_links(topo.rows, topo.cols)
    return sorted({(min(a, b), max(a, b)) for a, b in topo.links})


def working_links(chip: Chip) -> list[tuple[int, int]]:
    """The core-to-core links that carry packets: all of them but those the faults break."""
    links = core_links(chip)
    if chip.faults is None or not chip.faults.broken_links:
        return links
    broken = {(min(a, b), max(a, b)) for a, b in chip.faults.broken_links}
    return [link for link in links if link not in broken]


def core_position(chip: Chip, core: int) -> tuple[int, int]:
    """(row, col) of a core: its grid place for a mesh, else the given or a row-major layout."""
    if not 0 <= core < chip.cores.count:
        raise IndexError(f"core {core} outside 0..{chip.cores.count - 1}")
    topo = chip.network.topology
    if topo.kind == "mesh2d":
        return divmod(core, topo.cols)
    if topo.positions is not None:
        return tuple(topo.positions[core])
    return divmod(core, math.ceil(math.sqrt(chip.cores.count)))


def network_graph(chip: Chip) -> nx.Graph:
    """Cores and global units as nodes; links as edges with `width_bits` and `latency_cycles`."""
    net = chip.network
    attrs = {"width_bits": net.link_width_bits, "latency_cycles": net.hop_latency_cycles}
    graph = nx.Graph(name=chip.name)
    for core in range(chip.cores.count):
        graph.add_node(core, kind="core", position=core_position(chip, core))
    for unit, core in enumerate(chip.global_units.attach_cores):
        graph.add_node(f"gdpu{unit}", kind="gdpu")
        graph.add_edge(f"gdpu{unit}", core, **attrs)
    graph.add_edges_from(working_links(chip), **attrs)
    return graph


def hop_distances(chip: Chip) -> np.ndarray:
    """Hops between every two cores along working core-to-core links (read-only int32 matrix;
    -1 where broken links leave no path).

    XY routing on a mesh takes a shortest path, so both routing rules give the same counts;
    around broken links packets take the shortest path that is left.
    """
    n = chip.cores.count
    cores = nx.Graph()
    cores.add_nodes_from(range(n))
    cores.add_edges_from(working_links(chip))
    dist = np.full((n, n), -1, dtype=np.int32)
    for src, lengths in nx.all_pairs_shortest_path_length(cores):
        for dst, hops in lengths.items():
            dist[src, dst] = hops
    dist.setflags(write=False)
    return dist


def unreachable_cores(count: int, links: tuple[tuple[int, int], ...]) -> list[int]:
    """Cores that no chain of links joins to core 0 (empty when the network is connected)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(count))
    graph.add_edges_from(links)
    return sorted(set(range(count)) - nx.node_connected_component(graph, 0))
