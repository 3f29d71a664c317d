"""Tiling and the placement strategies: every block placed once per copy, no cell used twice,
and each strategy better than the baseline where it claims to be."""

from __future__ import annotations

from dataclasses import dataclass

import functools

import numpy as np
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from chipsim.arch import load_chip, parse_chip
from chipsim.arch.loader import BUILTIN_DIR
from chipsim.errors import MappingError
from chipsim.mapping import STRATEGIES, Block, check_mapping, summarize, tile


def small_chip(rows: int, cols: int, grid_rows: int, grid_cols: int):
    """hermes64's description with fewer, smaller cores on a grid_rows x grid_cols mesh."""
    doc = yaml.safe_load((BUILTIN_DIR / "hermes64.yaml").read_text())
    doc["name"] = f"mesh{grid_rows}x{grid_cols}"
    doc["cores"].update(count=grid_rows * grid_cols, rows=rows, cols=cols)
    doc["cores"]["adc"]["per_core"] = cols
    doc["network"]["topology"] = {"kind": "mesh2d", "rows": grid_rows, "cols": grid_cols}
    doc["global_units"].update(count=1, attach_cores=[0])
    return parse_chip(yaml.safe_dump(doc), "small.yaml")


_small_chip = functools.lru_cache(maxsize=None)(small_chip)


@dataclass(frozen=True)
class Layer:
    name: str
    rows: int
    cols: int
    mvms: int
    sources: tuple[str, ...] = ()


def chain(shapes: list[tuple[int, int, int]]) -> list[Layer]:
    return [Layer(f"l{i}", r, c, m, (f"l{i - 1}",) if i else ()) for i, (r, c, m) in enumerate(shapes)]


HERMES = load_chip("hermes64")
# The chip paper's ResNet-9 weight matrices (reference/hermes64.md); MVMs = output pixels of a
# 32x32 input with the paper's max-pools after Conv1, Conv4 and Conv5.
RESNET9 = chain([(27, 56, 1024), (504, 112, 1024), (1008, 112, 256), (1008, 112, 256),
                 (1008, 224, 256), (2016, 224, 64), (2016, 224, 16), (2016, 224, 16), (224, 10, 1)])


def cover_counts(mapping, layers, chip):
    """Independent recount: how often each weight of each copy, and each crossbar cell, is used."""
    weights = {(l.name, r): np.zeros((l.rows, l.cols), int)
               for l in layers for r in range(mapping.replication[l.name])}
    cells = np.zeros((chip.cores.count, chip.cores.rows, chip.cores.cols), int)
    row_users = np.zeros((chip.cores.count, chip.cores.rows), int)
    col_users = np.zeros((chip.cores.count, chip.cores.cols), int)
    for p in mapping.placements:
        b = p.block
        weights[b.layer, p.replica][b.row_start:b.row_stop, b.col_start:b.col_stop] += 1
        cells[p.core, p.row_offset:p.row_offset + b.rows, p.col_offset:p.col_offset + b.cols] += 1
        row_users[p.core, p.row_offset:p.row_offset + b.rows] += 1
        col_users[p.core, p.col_offset:p.col_offset + b.cols] += 1
    return weights, cells, row_users, col_users


def test_tile_cuts_a_matrix_into_crossbar_blocks_row_block_by_row_block():
    blocks = tile(Layer("fc", 600, 300, 1), 256, 256)
    assert blocks == [Block("fc", 0, 256, 0, 256), Block("fc", 0, 256, 256, 300),
                      Block("fc", 256, 512, 0, 256), Block("fc", 256, 512, 256, 300),
                      Block("fc", 512, 600, 0, 256), Block("fc", 512, 600, 256, 300)]


def test_resnet9_takes_forty_cores_one_block_per_core():
    # the reference says "about 40 cores of 256x256 without replication"
    mapping = STRATEGIES["sequential"].place(RESNET9, HERMES)
    assert mapping.cores_used == 40
    assert [p.core for p in mapping.placements] == list(range(40))


@st.composite
def cases(draw):
    """A small chip and a chain of 1-4 layers of up to 2 x 2 blocks each."""
    rows, cols = draw(st.integers(4, 16)), draw(st.integers(4, 16))
    chip = _small_chip(rows, cols, draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    shapes = draw(st.lists(st.tuples(st.integers(1, 2 * rows), st.integers(1, 2 * cols), st.integers(1, 50)),
                           min_size=1, max_size=4))
    return chain(shapes), chip


@settings(max_examples=100, deadline=None)
@given(cases(), st.sampled_from(sorted(STRATEGIES)))
def test_every_block_placed_once_per_copy_and_no_cell_used_twice(case, name):
    layers, chip = case
    try:
        mapping = STRATEGIES[name].place(layers, chip)
    except MappingError as err:
        needed = int(str(err).split("needs ")[1].split()[0])
        assert needed > chip.cores.count and f"the chip has {chip.cores.count}" in str(err)
        return
    weights, cells, row_users, col_users = cover_counts(mapping, layers, chip)
    assert all((count == 1).all() for count in weights.values())
    assert cells.max() <= 1
    assert row_users.max() <= 1 and col_users.max() <= 1  # the sharing rule: disjoint rows and columns
    check_mapping(mapping, chip, layers)  # and the file validator agrees


@settings(max_examples=40, deadline=None)
@given(cases())
def test_each_strategy_never_worse_than_sequential_at_its_own_goal(case):
    layers, chip = case
    try:
        seq = summarize(STRATEGIES["sequential"].place(layers, chip), layers, chip)
    except MappingError:
        return
    loc = summarize(STRATEGIES["locality"].place(layers, chip), layers, chip)
    bal = summarize(STRATEGIES["balanced"].place(layers, chip), layers, chip)
    pk = summarize(STRATEGIES["packed"].place(layers, chip), layers, chip)
    assert loc["hop_weighted_traffic"] <= seq["hop_weighted_traffic"]
    assert bal["max_stage_mvms"] <= seq["max_stage_mvms"]
    assert pk["cores_used"] <= seq["cores_used"]


def test_locality_cuts_resnet9_traffic():
    seq = summarize(STRATEGIES["sequential"].place(RESNET9, HERMES), RESNET9, HERMES)
    loc = summarize(STRATEGIES["locality"].place(RESNET9, HERMES), RESNET9, HERMES)
    assert loc["hop_weighted_traffic"] < seq["hop_weighted_traffic"]
    assert loc["traffic_bits"] == seq["traffic_bits"]  # same messages, shorter trips


def test_balanced_replicates_the_early_resnet9_layers_onto_spare_cores():
    mapping = STRATEGIES["balanced"].place(RESNET9, HERMES)
    figures = summarize(mapping, RESNET9, HERMES)
    assert figures["max_stage_mvms"] < 1024
    assert mapping.replication["l0"] > 1 and mapping.replication["l1"] > 1
    assert mapping.replication["l8"] == 1  # the dense layer runs once per image
    assert figures["cores_used"] <= 64


def test_balanced_stage_is_mvms_over_copies_rounded_up():
    layers = chain([(4, 4, 10), (4, 4, 3)])
    chip = small_chip(4, 4, 2, 2)
    mapping = STRATEGIES["balanced"].place(layers, chip)
    # 2 free cores: l0 gets 2 more copies (10 -> 4 MVMs per copy), then l1 (3) is not slowest
    assert mapping.replication == {"l0": 3, "l1": 1}
    assert summarize(mapping, layers, chip)["max_stage_mvms"] == 4


def test_packed_puts_small_blocks_on_a_crossbar_diagonal():
    layers = chain([(100, 60, 1), (100, 60, 1), (56, 100, 1)])
    mapping = STRATEGIES["packed"].place(layers, HERMES)
    assert mapping.cores_used == 1
    spans = sorted((p.row_offset, p.row_offset + p.block.rows, p.col_offset, p.col_offset + p.block.cols)
                   for p in mapping.placements)
    assert spans == [(0, 100, 0, 60), (100, 200, 60, 120), (200, 256, 120, 220)]


def test_traffic_counts_outputs_and_partial_sums_times_hops():
    # l0 and l1: 8 x 4 each, so two row blocks each, on a line of four cores 0-1-2-3
    layers = chain([(8, 4, 5), (8, 4, 7)])
    chip = small_chip(4, 4, 1, 4)
    assert chip.cores.dac.bits == 8 and chip.cores.ldpu.precision == "fp16"  # 8-bit outputs, 16-bit sums
    figures = summarize(STRATEGIES["sequential"].place(layers, chip), layers, chip)
    psum_l0 = (4 * 5 * 16) * 1       # 4 partial sums x 5 MVMs x 16 bits, core 1 -> core 0
    out_l0 = (2 * 5 * 8) * (2 + 3)   # l0 outputs 0:2 feed l1 rows 0:4 (core 2), outputs 2:4 rows 4:8 (core 3)
    psum_l1 = (4 * 7 * 16) * 1       # core 3 -> core 2
    assert figures["hop_weighted_traffic"] == psum_l0 + out_l0 + psum_l1
    assert figures["traffic_bits"] == 4 * 5 * 16 + 2 * 2 * 5 * 8 + 4 * 7 * 16


def test_empty_graph_is_an_error():
    with pytest.raises(MappingError, match="no weight layers"):
        STRATEGIES["sequential"].place([], HERMES)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_network_too_big_for_the_chip_says_how_many_cores_it_needs(name):
    layers = chain([(2016, 2016, 1)] * 2)  # 8 x 8 blocks each: 128 cores
    with pytest.raises(MappingError, match=r"needs 128 cores .*the chip has 64"):
        STRATEGIES[name].place(layers, HERMES)


def test_balanced_never_copies_a_recurrent_layer():
    @dataclass(frozen=True)
    class Recurrent(Layer):
        op: str = "lstm"

    layers = [Recurrent("lstm", 632, 2016, 32), Layer("dense", 504, 50, 32, ("lstm",))]
    mapping = STRATEGIES["balanced"].place(layers, HERMES)
    assert mapping.replication == {"lstm": 1, "dense": 1}  # the dense layer ties with the chain
