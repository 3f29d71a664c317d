"""Grouped and depthwise convolutions stored compactly: whole groups share a crossbar on
disjoint rows and columns, all-zero blocks are never placed, utilization counts weights only."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.cli import main
from chipsim.graph import load_graph, lower
from chipsim.errors import MappingError
from chipsim.mapping import STRATEGIES, summarize, tile
from chipsim.mapping.mapping import Placement
from chipsim.mapping.tiling import Block, weight_cells
from chipsim.mapping.validate import check_mapping

# a MobileNet-style block: 3x3 conv, depthwise 3x3 over 64 channels, pointwise, classifier
NET = """
name: mobile_block
inputs:
  image: [8, 8, 8]
layers:
  - {name: stem, op: conv2d, out_channels: 64, kernel_shape: [3, 3], pads: [1, 1, 1, 1],
     weights: {init: {kind: normal, seed: 1}}}
  - {name: relu0, op: relu}
  - {name: dw, op: conv2d, out_channels: 64, kernel_shape: [3, 3], group: 64,
     pads: [1, 1, 1, 1], weights: {init: {kind: normal, seed: 2}}}
  - {name: relu1, op: relu}
  - {name: pw, op: conv2d, out_channels: 32, kernel_shape: [1, 1],
     weights: {init: {kind: normal, seed: 3}}}
  - {name: gap, op: global_avgpool}
  - {name: flat, op: reshape, shape: [32]}
  - {name: fc, op: dense, units: 10, weights: {init: {kind: normal, seed: 4}}}
"""

HERMES = load_chip("hermes64")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "mobile_block.yaml"
    path.write_text(NET)
    return path


@pytest.fixture(scope="module")
def layers(net):
    return {layer.name: layer for layer in lower(load_graph(net))}


def test_whole_groups_share_a_crossbar_and_no_block_is_empty(layers):
    dw = layers["dw"]  # 576 x 64, block-diagonal: 64 groups of 9 rows x 1 column
    blocks = tile(dw, 256, 256)
    # 28 groups (252 rows, 28 columns) per 256 x 256 crossbar: 28 + 28 + 8 groups
    assert [(b.row_start, b.row_stop, b.col_start, b.col_stop) for b in blocks] == [
        (0, 252, 0, 28), (252, 504, 28, 56), (504, 576, 56, 64)]
    for b in blocks:
        assert weight_cells(b, dw) == b.cols * 9  # each column holds its own group's 9 weights
        assert np.count_nonzero(dw.weight[b.row_start:b.row_stop, b.col_start:b.col_stop]) \
            == weight_cells(b, dw)
    assert sum(weight_cells(b, dw) for b in blocks) == dw.weights == 576
    # the cells left out are the structural zeros, and nothing else
    kept = np.zeros(dw.weight.shape, bool)
    for b in blocks:
        kept[b.row_start:b.row_stop, b.col_start:b.col_stop] = True
    assert not np.any(dw.weight[~kept])


def test_a_group_larger_than_a_crossbar_is_cut_as_its_own_grid(layers):
    class Wide:  # 2 groups of 300 x 200: each needs 2 x 1 blocks of 256 x 256
        name, rows, cols, mvms, sources, groups = "wide", 600, 400, 1, (), 2

    blocks = tile(Wide, 256, 256)
    assert [(b.row_start, b.row_stop, b.col_start, b.col_stop) for b in blocks] == [
        (0, 256, 0, 200), (256, 300, 0, 200), (300, 556, 200, 400), (556, 600, 200, 400)]
    assert sum(weight_cells(b, Wide) for b in blocks) == 2 * 300 * 200


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_places_only_weight_blocks(layers, strategy):
    mapping = STRATEGIES[strategy].place(list(layers.values()), HERMES)
    check_mapping(mapping, HERMES, list(layers.values()))
    dw_blocks = [p.block for p in mapping.placements if p.block.layer == "dw"]
    copies = mapping.replication.get("dw", 1)
    assert len(dw_blocks) == 3 * copies  # not the 3 x 1 block-diagonal grid of 576 x 64


def test_utilization_counts_weights_not_structural_zeros(layers):
    mapping = STRATEGIES["sequential"].place(list(layers.values()), HERMES)
    summary = summarize(mapping, list(layers.values()), HERMES)
    weights = sum(layer.weights for layer in layers.values())
    assert summary["utilization"] == round(weights / (summary["cores_used"] * 256 * 256), 4)


def test_a_block_diagonal_mapping_file_still_validates(layers):
    """A mapping written before compact storage (full grid, zero blocks included) stays valid;
    one that leaves out a block with weights is refused, naming the layer."""
    dw = layers["dw"]
    full = [Block("dw", r, min(r + 256, 576), 0, 64) for r in range(0, 576, 256)]
    assert sum(weight_cells(b, dw) for b in full) == 576
    mapping = STRATEGIES["sequential"].place(list(layers.values()), HERMES)
    kept = [p for p in mapping.placements if p.block.layer != "dw"]
    used = max(p.core for p in kept) + 1
    grid = dataclasses.replace(mapping, placements=tuple(kept) + tuple(
        Placement(b, 0, used + i) for i, b in enumerate(full)))
    check_mapping(grid, HERMES, list(layers.values()))
    short = dataclasses.replace(mapping, placements=tuple(kept) + tuple(
        Placement(b, 0, used + i) for i, b in enumerate(full[:2])))
    with pytest.raises(MappingError, match="blocks missing for layer 'dw' .* in 64 groups"):
        check_mapping(short, HERMES, list(layers.values()))


def test_simulated_outputs_equal_the_functional_path(net, tmp_path, capsys):
    out = tmp_path / "map.yaml"
    assert main(["map", str(net), "--strategy", "packed", "-o", str(out), "--json"]) == 0
    mapped = json.loads(capsys.readouterr().out)
    assert mapped["blocks"] == 6  # stem, 3 depthwise, pointwise, fc
    assert main(["simulate", str(net), "--mapping", str(out), "--inputs", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs_match_functional"] is True
