"""The benchmarks' shared command line: every script takes --threads and --json, and --json
prints the rows as one JSON document on stdout and nothing else."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("bench_*.py"))


def _load_common():
    """benchmarks/common.py, loaded from its file (the scripts import it as their neighbour)."""
    spec = importlib.util.spec_from_file_location("benchmarks_common", ROOT / "benchmarks/common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load_common()
ROWS = [{"case": "a", "ratio": 0.5}, {"case": "b", "ratio": 1.25}]


def _table(rows):
    return "\n".join(f"{r['case']} {r['ratio']:.2f}" for r in rows)


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_takes_the_shared_options(script):
    # run apart: importing a benchmark settles the process's thread count
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--threads" in out and "--json" in out


def test_parser_reads_the_shared_options_and_the_docstring_title():
    parser = common.benchmark_parser("Speed of something.\n\nMore words.")
    assert parser.description == "Speed of something."
    args = parser.parse_args(["--threads", "2", "--json"])
    assert (args.threads, args.json) == (2, True)
    assert (parser.parse_args([]).threads, parser.parse_args([]).json) == (1, False)


def test_json_mode_prints_the_rows_as_one_document_and_nothing_else(capsys):
    common.print_rows(ROWS, True, _table)
    assert json.loads(capsys.readouterr().out) == ROWS


def test_table_mode_prints_the_benchmarks_table(capsys):
    common.print_rows(ROWS, False, _table)
    assert capsys.readouterr().out == "a 0.50\nb 1.25\n"


def test_blas_info_names_the_kernel_numpy_runs():
    import numpy  # noqa: F401  (threadpoolctl sees BLAS libraries once loaded)

    info = common.blas_info()
    assert set(info) == {"internal_api", "version", "architecture", "threads"}
    assert info["internal_api"] != "unknown"  # threadpoolctl comes with the test extra
    assert info["architecture"] in common.blas_line(info)


def test_bench_tile_rows_and_table_carry_the_blas_kernel():
    script = subprocess.run(  # a tiny run in its own process: importing it settles threads
        [sys.executable, "-c",
         "import json, sys; sys.argv = ['bench_tile.py']; sys.path.insert(0, 'benchmarks');"
         "import bench_tile as b; b.SHAPES = ((256, 256),); b.BATCHES = (1, 64);"
         "b.BUDGET_S = 0.01; rows = b.run(); print(json.dumps(rows)); print(b.table(rows))"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()
    rows = json.loads(script[0])
    assert min(r["ratio"] for r in rows if r["batch"] >= 64) > 0
    assert all(r["blas"] == rows[0]["blas"] and "architecture" in r["blas"] for r in rows)
    assert script[-1] == common.blas_line(rows[0]["blas"])
