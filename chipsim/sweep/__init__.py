"""Sweeps: many runs of the chip model, one per combination of chips, networks, strategies and
seeds, as Dask tasks, with every finished cell kept in a result store.

    spec = load_spec("sweeps/adc_bits.yaml")        # spec.py: the YAML, validated
    cells = expand(spec)                            # cells.py: each cell and its content key
    with dask_client(workers=2) as client:          # runner.py: LocalCluster or a scheduler
        outcome = run_cells(cells, Store("out/sweep.sqlite"), client)
    rows = make_rows(cells, outcome.results)        # rows.py: swept fields + figures

`chipsim sweep` (chipsim/commands/sweep.py) is these calls with a progress bar, a table or
--json, and --plot (chipsim/report/sweep_plot.py).
"""

from chipsim.sweep.cells import Cell, cell_key, expand
from chipsim.sweep.rows import make_rows
from chipsim.sweep.runner import Outcome, dask_client, run_cells
from chipsim.sweep.spec import Spec, load_spec
from chipsim.sweep.store import Store

__all__ = ["Cell", "Outcome", "Spec", "Store", "cell_key", "dask_client", "expand", "load_spec",
           "make_rows", "run_cells"]
