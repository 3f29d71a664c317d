"""Running the cells of a sweep on Dask, each finished cell stored the moment it arrives.

The client submits every cell the store lacks as one task (`Client.map`, the task's key made
from the cell's key) and takes results in the order they finish (`as_completed`), committing
each to the store at once. Dask does the rest: it spreads tasks over workers, reruns the task
of a worker that died (losing only that task), and retries a task that raised once more
(`retries`). A killed client loses only the cells still running; the next run of the same spec
finds the others in the store and submits the rest. A cell's numbers depend only on its job
(`chipsim.sweep.task`), never on the worker or how many there are.
"""

from __future__ import annotations

import logging
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from chipsim.errors import ChipsimError
from chipsim.sweep.cells import Cell
from chipsim.sweep.store import Store

#: how often a task that raised is tried again (a worker that dies does not count: the
#: scheduler reruns its tasks by itself)
RETRIES = 1


def default_workers() -> int:
    """One single-threaded worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client: of the cluster at `scheduler`, or of a LocalCluster started here with
    `workers` single-threaded worker processes (closed again on leaving)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise ChipsimError(f"--scheduler {scheduler}: cannot connect ({err})") from None
        try:
            yield client
        finally:
            client.close()
        return
    with LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                      processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


@dataclass
class Outcome:
    """What a run did: the result of every cell (in the sweep's order), and how many cells
    were submitted as tasks and how many read back from the store."""

    results: list[dict[str, Any]]
    computed: int
    reused: int


def run_cells(cells: Sequence[Cell], store: Store, client: Any, *,
              on_start: Callable[[int, int], None] = lambda reused, todo: None,
              on_cell: Callable[[Cell, dict[str, Any]], None] = lambda cell, result: None,
              retries: int = RETRIES, workers: Sequence[str] | None = None,
              task: Callable[[dict[str, Any]], tuple[dict[str, Any], float]] | None = None
              ) -> Outcome:
    """Compute the cells `store` lacks on `client`'s cluster, storing each as it finishes;
    then every cell's result, read back from the store (so a rerun reads the same numbers).
    `on_start` hears how many cells the store had and how many tasks go out; `on_cell` hears
    each cell as it is stored. `workers` (addresses) keeps the tasks to those workers. `task`
    computes one cell's job (default: a sweep cell, `chipsim.sweep.task.run_cell`)."""
    from distributed import as_completed

    from chipsim.sweep.task import run_cell

    task = task or run_cell
    stored = store.results(c.key for c in cells)
    todo = list({c.key: c for c in cells if c.key not in stored}.values())  # one task a key
    reused = sum(1 for c in cells if c.key in stored)
    on_start(reused, len(todo))
    run = uuid.uuid4().hex[:8]  # this run's tasks never stand for an earlier run's
    futures = client.map(task, [c.job for c in todo],
                         key=[f"chipsim-cell-{c.key}-{run}" for c in todo], retries=retries,
                         workers=workers)
    by_future = {f.key: cell for f, cell in zip(futures, todo)}
    try:
        for future in as_completed(futures):
            result, seconds = future.result()
            cell = by_future[future.key]
            store.put(cell.key, cell.fields, result, seconds)
            on_cell(cell, result)
    finally:
        for future in futures:  # on an error: nothing left running for this client
            future.cancel()
    final = store.results(c.key for c in cells)
    return Outcome([final[c.key] for c in cells], computed=len(todo), reused=reused)
