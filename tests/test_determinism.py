"""Every command prints the same numbers at 1 and 2 threads and for any batch size (issue 19).

Each test runs one command's --json twice: once at 1 thread with the default batching, once at
2 threads with every implementation-only split made small, so that even these tiny workloads
take the other code paths: rows split over the threads from 1 row on (instead of 256), tile
chunks of a few rows, networks run a few inputs per batch (below the tile's fused-kernel
threshold). Wall-clock times and output paths are dropped; every other number must be equal.
`train` is covered by tests/test_training*.py (bit-identical training at 1 and 2 threads).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import chipsim.functional.executor as executor
import chipsim.kernels.threads as threads
import chipsim.tile as tile
from chipsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "workloads/digits_mlp/mlp.onnx")
MAPPING = str(ROOT / "mappings/digits_mlp/mlp-sequential.yaml")
_WALL_CLOCK = {"seconds"}


@pytest.fixture(autouse=True)
def _restore_threads():
    before = threads.thread_count()
    yield
    threads.limit_threads(before)


def _small_splits(monkeypatch, batch: int) -> None:
    """The other side of every split that must not change a number."""
    monkeypatch.setattr(threads, "_MIN_ROWS_PER_PART", 1)
    monkeypatch.setattr(tile, "_CHUNK_ROWS", 4)
    batches = executor.batches
    monkeypatch.setattr(executor, "batches",
                        lambda count, _batch, *rest: batches(count, batch, *rest))


def _scrub(value, out: str):
    if isinstance(value, dict):
        return {k: _scrub(v, out) for k, v in value.items() if k not in _WALL_CLOCK}
    if isinstance(value, list):
        return [_scrub(v, out) for v in value]
    if isinstance(value, str):
        return value.replace(out, "<out>")
    return value


def _json(capsys, argv: list[str], out: Path) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return _scrub(json.loads(capsys.readouterr().out), str(out))


def _same_at_both_settings(capsys, monkeypatch, tmp_path, argv, *, out_flag="--out",
                           small_batch=5, small_argv=()):
    """argv's --json figures at (1 thread, default splits) and (2 threads, small splits)."""
    docs = []
    for n, extra in ((1, []), (2, list(small_argv))):
        out = tmp_path / f"run{n}"
        threads.limit_threads(n)
        with monkeypatch.context() as m:
            if n == 2:
                _small_splits(m, small_batch)
            docs.append(_json(capsys, [*argv, *extra, "--json", out_flag, str(out)], out))
    assert docs[0] == docs[1]
    return docs[0]


def test_map(capsys, monkeypatch, tmp_path):
    doc = _same_at_both_settings(capsys, monkeypatch, tmp_path,
                                 ["map", MLP, "--strategy", "balanced"], out_flag="-o")
    assert doc["cores_used"] >= 2


def test_accuracy(capsys, monkeypatch, tmp_path):
    """--batch is images per batch: 256 (one batch) against 5 (the small-batch kernel)."""
    doc = _same_at_both_settings(
        capsys, monkeypatch, tmp_path,
        ["accuracy", MLP, "--mapping", MAPPING, "--data", "digits", "--limit", "24",
         "--seeds", "2", "--times", "1s,1d", "--gdc", "both", "--batch", "256"],
        small_argv=["--batch", "5"])
    assert len(doc["rows"]) == 4 and doc["rows"][0]["logit_error_mean"] > 0


def test_calibrate(capsys, monkeypatch, tmp_path):
    doc = _same_at_both_settings(
        capsys, monkeypatch, tmp_path,
        ["calibrate", MLP, "--mapping", MAPPING, "--data", "digits", "--samples", "40"],
        out_flag="-o")
    assert [t["error_after"] > 0 for t in doc["tiles"]] == [True, True]


def test_simulate(capsys, monkeypatch, tmp_path):
    doc = _same_at_both_settings(
        capsys, monkeypatch, tmp_path,
        ["simulate", MLP, "--mapping", MAPPING, "--inputs", "12", "--data", "digits"])
    assert doc["outputs_match_functional"] is True and doc["energy_per_inference_pj"] > 0


def test_report(capsys, monkeypatch, tmp_path):
    doc = _same_at_both_settings(
        capsys, monkeypatch, tmp_path,
        ["report", MLP, "--mapping", MAPPING, "--inputs", "20", "--images", "12",
         "--seeds", "2", "--times", "1h"])
    assert doc["timing"]["energy_per_inference_pj"] > 0


def test_compare(capsys, monkeypatch, tmp_path):
    doc = _same_at_both_settings(
        capsys, monkeypatch, tmp_path,
        ["compare", MLP, "--strategies", "sequential,packed", "--inputs", "20",
         "--images", "12", "--seeds", "2", "--calibration", MAPPING])
    assert doc["complete"] is True


@pytest.mark.parametrize("experiment", ["pca", "lstsq"])
def test_linalg(capsys, monkeypatch, tmp_path, experiment):
    shape = ["--rows", "96", "--cols", "16"] if experiment == "lstsq" else ["--rank", "4"]
    argv = ["linalg", experiment, "synthetic", *shape, "--steps", "3", "--seeds", "2"]
    doc = _same_at_both_settings(capsys, monkeypatch, tmp_path, argv)
    assert doc
