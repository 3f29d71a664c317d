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
