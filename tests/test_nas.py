"""AnalogNAS: the search space, sampling and mutation, the surrogate and the search under
constraints, and `chipsim nas` end to end (with PyTorch) including a resumed run."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.cli import main
from chipsim.nas.cores import packed_cores
from chipsim.nas.search import Constraints, search
from chipsim.nas.space import (BASELINE, BLOCK, GENES, Architecture, latin_hypercube, matrices,
                               mutate, weights)
from chipsim.nas.study import MONTH, pareto, verdict
from chipsim.nas.surrogate import RANK, Surrogate, held_out_tau

HERMES = load_chip("hermes64")


def test_genes_name_one_network_each():
    for arch in latin_hypercube(20, 3) + [BASELINE]:
        assert Architecture.from_genes(arch.genes()) == arch
        assert 1 <= len(arch.blocks) <= 3


def test_latin_hypercube_uses_every_choice_evenly():
    n = 24
    samples = latin_hypercube(n, seed=5)
    for g, (_, choices) in enumerate(GENES[:3]):  # stem genes are always live
        counts = Counter(a.genes()[g] for a in samples)
        assert set(counts) == set(range(len(choices)))
        assert max(counts.values()) - min(counts.values()) <= 1
    assert latin_hypercube(n, seed=5) == samples and latin_hypercube(n, seed=6) != samples


def test_mutation_changes_one_gene_that_matters():
    rng = np.random.default_rng(0)
    for arch in latin_hypercube(30, 1):
        child = mutate(arch, rng)
        live = 3 + len(BLOCK) * max(len(arch.blocks), len(child.blocks))
        changed = [i for i, (a, b) in enumerate(zip(arch.genes(), child.genes())) if a != b]
        assert child != arch
        # one gene, or the block count, which also zeroes the genes of blocks it removes
        assert len(changed) == 1 or changed[0] == 2
        assert all(i < live for i in changed)


def test_the_baseline_and_its_cost():
    assert BASELINE.name() == "c16k3-basic1x1w1-basic1x1w2-basic1x1w2"
    assert weights(BASELINE) == 77072
    assert packed_cores(BASELINE, HERMES) == 7


def _synthetic(archs):
    """Figures that depend on the genes in a known way: the surrogate should rank them."""
    out = []
    for a in archs:
        acc = 0.8 + 0.01 * a.genes()[0] + 0.02 * len(a.blocks)
        out.append({RANK: acc, "accuracy_1s": acc + 0.01,
                    "accuracy_2.592e+06s": acc - 0.001 * a.genes()[1]})
    return out


def test_the_surrogate_ranks_what_it_can_learn():
    archs = latin_hypercube(40, 2)
    tau, held = held_out_tau(archs, _synthetic(archs))
    assert held == 10 and tau > 0.6


def test_search_keeps_to_the_constraints_and_is_deterministic():
    archs = latin_hypercube(40, 2)
    surrogate = Surrogate.fit(archs, _synthetic(archs))
    limits = Constraints(max_weights=50_000, max_cores=5)
    cores = lambda a: packed_cores(a, HERMES)  # noqa: E731
    found = search(surrogate, limits, cores, population=12, iterations=60, top=3, seed=4)
    assert found and found == search(surrogate, limits, cores, population=12, iterations=60,
                                     top=3, seed=4)
    for arch, _ in found:
        assert weights(arch) <= 50_000 and cores(arch) <= 5
    assert [f for _, f in found] == sorted((f for _, f in found), reverse=True)


def _row(name, role, month, std, cores, energy, latency=100.0):
    return {"architecture": name, "role": role, MONTH: month, f"{MONTH}_std": std,
            "cores": cores, "energy_per_inference_uj": energy, "first_latency_us": latency}


def test_pareto_front_and_the_verdict_against_the_baseline():
    rows = [_row("base", "baseline", 0.95, 0.01, 7, 10.0),
            _row("cheaper", "found", 0.945, 0.005, 5, 12.0),   # within the spread, fewer cores
            _row("worse", "sampled", 0.90, 0.01, 5, 9.0),       # less accurate, cheaper
            _row("costly", "sampled", 0.99, 0.01, 9, 20.0)]     # better but dearer
    assert pareto(rows, "energy_per_inference_uj") == {"base", "worse", "costly"}
    assert verdict(rows)["dominating"] == [{"architecture": "cheaper", "role": "found"}]


def test_matrices_are_the_networks_crossbar_layers():
    torch = pytest.importorskip("torch")
    from chipsim.nas.network import build_network

    for arch in latin_hypercube(8, 7) + [BASELINE]:
        net = build_network(arch)
        shapes = [(int(np.prod(m.weight.shape[1:])), m.weight.shape[0]) for m in net.modules()
                  if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        assert sorted(shapes) == sorted(matrices(arch))
        assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_bad_constraint_is_one_line(capsys):
    assert main(["nas", "--max-drop", "2"]) == 2
    assert "--max-drop" in capsys.readouterr().err


def test_nas_end_to_end_then_resumed(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    args = ["nas", "--candidates", "5", "--epochs", "1", "--images", "40", "--chips", "1",
            "--population", "8", "--iterations", "20", "--verify", "1", "--workers", "1",
            "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    roles = Counter(r["role"] for r in doc["rows"])
    assert roles["baseline"] == 1 and roles["sampled"] >= 4 and roles["found"] <= 1
    assert -1 <= doc["kendall_tau"] <= 1 and doc["held_out"] == 3
    measured = [r for r in doc["rows"] if "error" not in r]
    for r in measured:  # the cores the search counted are the cores the mapping took
        assert r["cores"] == packed_cores(Architecture.from_genes(r["genes"]), HERMES)
        assert 0 <= r[MONTH] <= 1 and r["energy_per_inference_uj"] > 0
    for name in ("index.html", "README.md", "pareto.png", "candidates.csv", "nas.sqlite"):
        assert (tmp_path / name).stat().st_size > 100
    # a rerun trains nothing again and gives the same numbers
    assert main(args) == 0
    again = capsys.readouterr()
    assert json.loads(again.out)["rows"] == doc["rows"]
    assert "0 to train and measure" in again.err and "to train and measure" in captured.err


def test_chips_counts_programmed_chips_not_a_system_of_chips():
    """`nas --chips N` is the chips each accuracy is averaged over; the chip itself stays one
    (other commands' --chips N builds a system of N chips)."""
    from chipsim.cli import build_parser
    from chipsim.commands.common import chip_from_args

    args = build_parser().parse_args(["nas", "--chips", "3"])
    assert args.programmed_chips == 3
    assert chip_from_args(args).name == "hermes64"
