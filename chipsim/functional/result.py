"""The result of an accuracy study: one row per (time after programming, GDC on/off) cell.

Each row summarises several seeds (independently programmed chips): mean and standard deviation
of the test accuracy and of the relative logit error against the float network. The result
object is plain data; it knows how to become JSON, a CSV file and a plot, and the CSV is
written a row at a time (`CsvLog`) so an interrupted study keeps the cells it finished.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from chipsim.functional.inputs import TEST_ACCURACY, inputs_phrase
from chipsim.functional.times import format_time


@dataclass(frozen=True)
class AccuracyRow:
    """One cell of the study: `time_s` after programming, global drift compensation on or off."""

    time_s: float
    gdc: bool
    accuracy_mean: float
    accuracy_std: float
    logit_error_mean: float
    logit_error_std: float
    seeds: int

    @classmethod
    def from_seeds(cls, time_s: float, gdc: bool, accuracies: Iterable[float],
                   logit_errors: Iterable[float]) -> "AccuracyRow":
        """Summarise per-seed figures (population std: the seeds are all the chips we drew)."""
        acc = np.asarray(list(accuracies), dtype=np.float64)
        err = np.asarray(list(logit_errors), dtype=np.float64)
        return cls(float(time_s), bool(gdc), float(acc.mean()), float(acc.std()),
                   float(err.mean()), float(err.std()), int(acc.size))


@dataclass
class AccuracyResult:
    """What `chipsim accuracy` reports: the float baseline and every finished cell."""

    model: str
    chip: str
    data: str
    float_accuracy: float
    images: int
    rows: list[AccuracyRow] = field(default_factory=list)
    metric: str = TEST_ACCURACY  # or agreement with float, on synthetic inputs

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "chip": self.chip,
            "data": self.data,
            "images": self.images,
            "float_accuracy": self.float_accuracy,
            "metric": self.metric,
            "rows": [asdict(row) for row in self.rows],
        }

    def table(self) -> str:
        """A fixed-width text table for the terminal."""
        lines = [
            f"model {self.model} on {self.chip}, {inputs_phrase(self.images, self.data)}, "
            f"{self.metric}: float network {100 * self.float_accuracy:.2f} %",
            f"{'time':>6} {'GDC':>4} {'accuracy %':>16} {'logit error':>18} {'seeds':>5}",
        ]
        for row in self.rows:
            lines.append(
                f"{format_time(row.time_s):>6} {'on' if row.gdc else 'off':>4} "
                f"{100 * row.accuracy_mean:8.2f} ± {100 * row.accuracy_std:5.2f} "
                f"{row.logit_error_mean:9.4f} ± {row.logit_error_std:6.4f} {row.seeds:>5}"
            )
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Accuracy against time after programming (log axis), one line per GDC setting."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        fig, ax = plt.subplots(figsize=(6, 4))
        # Okabe-Ito colours: readable by colour-blind readers.
        styles = {True: ("#0072B2", "o", "with GDC"), False: ("#D55E00", "s", "without GDC")}
        for gdc in (True, False):
            rows = sorted((r for r in self.rows if r.gdc == gdc), key=lambda r: r.time_s)
            if not rows:
                continue
            # log axis: t = 0 (right after programming) is drawn at 1 s and labelled so.
            t = np.array([max(r.time_s, 1.0) for r in rows])
            mean = np.array([100 * r.accuracy_mean for r in rows])
            std = np.array([100 * r.accuracy_std for r in rows])
            color, marker, label = styles[gdc]
            ax.errorbar(t, mean, yerr=std, color=color, marker=marker, capsize=3, label=label)
        ax.axhline(100 * self.float_accuracy, color="black", linestyle="--", linewidth=1,
                   label=f"float ({100 * self.float_accuracy:.2f} %)")
        ax.set_xscale("log")
        ax.set_xlabel("time after programming (s, log scale; t = 0 drawn at 1 s)")
        ax.set_ylabel(f"{self.metric} (%)")
        ax.set_title(f"{self.model} on {self.chip} ({inputs_phrase(self.images, self.data)})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


CSV_COLUMNS = [f.name for f in fields(AccuracyRow)]


class CsvLog:
    """A CSV file that gets one flushed line per finished cell; `keep`: rows read back from
    an interrupted run, written first so the file again holds every finished cell."""

    def __init__(self, path: str | Path, keep: Iterable[AccuracyRow] = ()):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as handle:
            csv.writer(handle).writerow(CSV_COLUMNS)
        for row in keep:
            self.append(row)

    def append(self, row: AccuracyRow) -> None:
        with self.path.open("a", newline="") as handle:
            values = asdict(row)
            csv.writer(handle).writerow([values[name] for name in CSV_COLUMNS])


def read_csv(path: str | Path, finished: bool = False) -> list[AccuracyRow]:
    """Rows back from a CSV written by `CsvLog` (used by tests, reports and resuming);
    `finished`: stop quietly at a line cut short by a kill instead of failing on it."""
    rows = []
    with Path(path).open(newline="") as handle:
        lines = handle.read().splitlines(keepends=True)
    if finished and lines and not lines[-1].endswith("\n"):
        lines.pop()  # the kill came while this line was written
    for record in csv.DictReader(lines):
        if finished:
            try:
                rows.append(_row(record))
            except (TypeError, ValueError, KeyError):
                break
            continue
        rows.append(_row(record))
    return rows


def _row(record: dict) -> AccuracyRow:
    if None in record.values() or None in record:  # too few or too many fields
        raise ValueError(f"not a whole accuracy row: {record}")
    return AccuracyRow(
        time_s=float(record["time_s"]), gdc=record["gdc"] == "True",
        accuracy_mean=float(record["accuracy_mean"]),
        accuracy_std=float(record["accuracy_std"]),
        logit_error_mean=float(record["logit_error_mean"]),
        logit_error_std=float(record["logit_error_std"]),
        seeds=int(record["seeds"]),
    )
