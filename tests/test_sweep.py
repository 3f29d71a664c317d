"""`chipsim sweep`: spec errors, cell keys, the store, Dask runs, kills, --json and --plot.

One local Dask cluster of two single-threaded workers serves the whole module (starting one
costs seconds); the command line runs in subprocesses that join it with --scheduler. The cells
are the digits MLP on a few images: a fraction of a second each.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

import chipsim
from chipsim.cli import main
from chipsim.sweep import Store, dask_client, expand, load_spec, make_rows, run_cells

ROOT = Path(__file__).resolve().parent.parent
MLP = ROOT / "workloads" / "digits_mlp" / "mlp.onnx"


def write_spec(folder: Path, name: str = "spec.yaml", **changes) -> Path:
    """A small sweep: ADC bits 6 and 8 x two strategies of the digits MLP (4 cells)."""
    spec = {"chip": "hermes64", "vary": {"cores.adc.bits": [6, 8]},
            "networks": [{"graph": str(MLP), "data": "digits"}],
            "strategies": ["sequential", "balanced"], "times": ["1h"], "seeds": [0],
            "images": 24, "inputs": 16, "calibration_samples": 16}
    spec.update(changes)
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


def workers(client) -> list[str]:
    return sorted(client.scheduler_info()["workers"])


def stored(path: Path) -> int:
    """Cells in a store, read as another process would."""
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=5)
    try:
        return db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not made yet
        return 0
    finally:
        db.close()


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chipsim.cli", "sweep", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


# -- the spec -----------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"vary": {"cores.adc.bits": 0}},
     "vary cores.adc.bits=0 of hermes64.yaml: cores.adc.bits: expected an integer"),
    ({"vary": {"cores.adcc.bits": [8]}}, "cores.adcc.bits: the description has no field cores.adcc"),
    ({"vary": {"cores.adc.bitz": [8]}}, "cores.adc.bitz: expected one of the keys"),
    ({"networks": [{"graph": "nowhere.onnx", "data": "digits"}]},
     "networks[0].graph: no such file nowhere.onnx"),
    ({"networks": [{"graph": str(MLP), "data": "imagenet"}]}, "networks[0].data: unknown data set"),
    ({"networks": []}, "networks: List should have at least 1 item"),
    ({"strategies": ["fastest"]}, "strategies[0]: unknown strategy 'fastest'"),
    ({"times": ["soon"]}, "times[0]: "),
    ({"seeds": [0, 0]}, "seeds: 0 is listed twice"),
    ({"images": 0}, "images: Input should be greater than or equal to 1"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"cells": [{"strategy": "packed"}]}, "cells[0].strategy: \"packed\" is not among its values"),
    ({"cells": [{"adc": 6}]}, "cells[0].adc: not an axis of this sweep"),
    ({"vary": {"seed": [1]}}, "vary.seed: seed is an axis of every sweep"),
])
def test_spec_errors_name_file_and_field(tmp_path, capsys, changes, message):
    spec = write_spec(tmp_path, "bad.yaml", **changes)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"chipsim: error: {spec}: "), err
    assert message in err, err
    assert not (tmp_path / "out").exists()  # nothing started


def test_spec_not_yaml(tmp_path, capsys):
    spec = tmp_path / "broken.yaml"
    spec.write_text("networks: [\n")
    assert main(["sweep", str(spec)]) == 2
    assert f"{spec}: line" in capsys.readouterr().err


def test_cells_subset(tmp_path):
    spec = load_spec(write_spec(tmp_path, cells=[{"strategy": "balanced", "cores.adc.bits": 6},
                                                 {"cores.adc.bits": 8}]))
    assert [c.fields for c in expand(spec)] == [
        {"cores.adc.bits": 6, "network": "mlp", "strategy": "balanced", "seed": 0},
        {"cores.adc.bits": 8, "network": "mlp", "strategy": "sequential", "seed": 0},
        {"cores.adc.bits": 8, "network": "mlp", "strategy": "balanced", "seed": 0}]


# -- cell keys ----------------------------------------------------------------------------------

def keys(folder: Path, **changes) -> list[str]:
    return [c.key for c in expand(load_spec(write_spec(folder, **changes)))]


def test_cell_keys_stable_and_sensitive(tmp_path, monkeypatch):
    base = keys(tmp_path)
    assert len(set(base)) == 4 and keys(tmp_path) == base
    # what does not determine a number does not change a key: the network's label, where the
    # graph file lies, a field set to the value it has
    moved = tmp_path / "elsewhere.onnx"
    moved.write_bytes(MLP.read_bytes())
    assert keys(tmp_path, networks=[{"graph": str(moved), "data": "digits", "name": "x"}]) == base
    assert keys(tmp_path, vary={"cores.adc.bits": [8]}) == base[2:]  # hermes64's own 8 bits
    assert keys(tmp_path, vary={}) == base[2:]
    for change in ({"vary": {"cores.adc.bits": [7, 8]}}, {"strategies": ["locality", "balanced"]},
                   {"times": ["1d"]}, {"seeds": [1]}, {"images": 25}, {"inputs": 17},
                   {"calibrate": False}, {"calibration_samples": 17},
                   {"networks": [{"graph": str(moved), "data": "mnist"}]}):
        assert keys(tmp_path, **change)[0] != base[0], change
    edited = tmp_path / "edited.onnx"
    edited.write_bytes(MLP.read_bytes() + b"\0")
    assert keys(tmp_path, networks=[{"graph": str(edited), "data": "digits"}])[0] != base[0]
    monkeypatch.setattr(chipsim, "__version__", "9.9.9")
    assert keys(tmp_path)[0] != base[0]


# -- runs on Dask -------------------------------------------------------------------------------

def test_store_skips_finished_cells(tmp_path, client):
    cells = expand(load_spec(write_spec(tmp_path)))
    store = Store(tmp_path / "sweep.sqlite")
    first = run_cells(cells, store, client)
    assert (first.computed, first.reused) == (4, 0)
    again = run_cells(cells, store, client)
    assert (again.computed, again.reused) == (0, 4)  # no task submitted
    assert again.results == first.results
    assert all("figures" in r for r in first.results)
    rows = make_rows(cells, first.results)
    assert rows[0]["cores.adc.bits"] == 6 and rows[0]["energy_per_inference_uj"] > 0


def test_same_results_on_one_and_two_workers(tmp_path, client):
    cells = expand(load_spec(write_spec(tmp_path, seeds=[0, 1], vary={"cores.adc.bits": [6]})))
    one = run_cells(cells, Store(tmp_path / "one.sqlite"), client, workers=workers(client)[:1])
    two = run_cells(cells, Store(tmp_path / "two.sqlite"), client)
    assert one.computed == two.computed == 4
    assert one.results == two.results


def test_cli_json_and_plot(tmp_path, client):
    spec = write_spec(tmp_path)
    done = cli(str(spec), "--scheduler", client.scheduler.address, "--out", str(tmp_path / "o"),
               "--json", "--plot", "x=adc.bits,y=energy_per_inference,hue=strategy")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["cells"] == len(doc["rows"]) == 4 and doc["computed"] == 4
    assert {"cores.adc.bits", "network", "strategy", "seed", "accuracy_pct_1h",
            "energy_per_inference_uj"} <= set(doc["rows"][0])
    plot = Path(doc["plot"])
    assert plot.name == "sweep-energy_per_inference_uj-vs-cores.adc.bits-by-strategy.png"
    assert plot.read_bytes()[:4] == b"\x89PNG"
    table = cli(str(spec), "--scheduler", client.scheduler.address, "--out", str(tmp_path / "o"))
    assert table.returncode == 0 and "4 cells: 0 computed, 4 read back" in table.stdout


def test_plot_option_errors(tmp_path, capsys):
    spec = write_spec(tmp_path)
    assert main(["sweep", str(spec), "--plot", "x=adc.bits"]) == 2
    assert "--plot: expected x=FIELD,y=FIGURE[,hue=FIELD]" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--plot", "x=bits,y=energy,hue=colour"]) == 2
    assert "--plot hue: no column 'colour'; columns: cores.adc.bits, network" in \
        capsys.readouterr().err


def test_killed_client_resumes_with_identical_results(tmp_path, client):
    spec = write_spec(tmp_path, vary={"cores.adc.bits": [6, 7, 8]}, seeds=[0, 1], images=200,
                      strategies=["sequential", "balanced"])
    address = client.scheduler.address
    cells = expand(load_spec(spec))
    whole = make_rows(cells, run_cells(cells, Store(tmp_path / "whole.sqlite"), client).results)
    store = tmp_path / "cut" / "sweep.sqlite"
    run = subprocess.Popen([sys.executable, "-m", "chipsim.cli", "sweep", str(spec), "--scheduler",
                            address, "--out", str(tmp_path / "cut"), "--json"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while stored(store) == 0 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    kept = stored(store)
    assert 0 < kept < 12, kept  # killed after the first cell, before the last
    rerun = cli(str(spec), "--scheduler", address, "--out", str(tmp_path / "cut"), "--json")
    assert rerun.returncode == 0, rerun.stderr
    doc = json.loads(rerun.stdout)
    assert (doc["computed"], doc["reused"]) == (12 - kept, kept)
    assert doc["rows"] == whole


def test_worker_killed_mid_run_loses_nothing(tmp_path, client):
    """Last in the module: it kills one of the shared cluster's workers (its nanny restarts it)."""
    cells = expand(load_spec(write_spec(tmp_path, vary={"cores.adc.bits": [6, 7, 8]},
                                        seeds=[0, 1], images=200)))
    reference = run_cells(cells, Store(tmp_path / "reference.sqlite"), client).results
    path = tmp_path / "killed.sqlite"
    outcome = {}

    def sweep() -> None:
        outcome["run"] = run_cells(cells, Store(path), client)

    thread = threading.Thread(target=sweep)
    thread.start()
    deadline = time.monotonic() + 60
    while stored(path) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    busy = [pid for pid in client.run(os.getpid).values()]
    os.kill(busy[0], signal.SIGKILL)  # a worker dies, most likely mid-task
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert outcome["run"].computed == 12
    assert outcome["run"].results == reference


def test_sweep_on_the_gpu_backend_equals_the_cpu(tmp_path):
    """`--backend gpu` on Numba's CUDA simulator (tests/test_gpu.py): the cells' accuracy
    equals the CPU's, and the stored cells are read back by a CPU run."""
    spec = write_spec(tmp_path, vary={"cores.adc.bits": [8]}, strategies=["balanced"],
                      images=8)
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    runs = {}
    for backend in ("gpu", "cpu"):
        done = subprocess.run([sys.executable, "-m", "chipsim.cli", "sweep", str(spec),
                               "--workers", "1", "--out", str(tmp_path / backend), "--json",
                               "--backend", backend], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        runs[backend] = json.loads(done.stdout)
    assert runs["gpu"]["computed"] == runs["cpu"]["computed"] == 1
    assert runs["gpu"]["rows"] == runs["cpu"]["rows"]
