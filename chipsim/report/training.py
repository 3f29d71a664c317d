"""The report of a `chipsim train` run: the training curve and one row per epoch.

`EpochLog` appends each finished epoch to results.csv at once and redraws the page, so a run
killed in epoch 5 leaves epochs 1-4 on disk, curve and all.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from chipsim.report.document import Document, Table
from chipsim.report.plots import _figure, _save

COLUMNS = ("epoch", "train_loss", "test_accuracy", "test_loss", "seconds")


class EpochLog:
    """results.csv, curve.png, README.md and index.html of one run, kept up to date."""

    def __init__(self, out: str | Path, title: str, settings: dict[str, Any]):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.title, self.settings, self.rows = title, settings, []
        with open(self.out / "results.csv", "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow(COLUMNS)

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        with open(self.out / "results.csv", "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([row[c] for c in COLUMNS])
        self._write_page()

    def _write_page(self) -> None:
        _curve(self.rows, self.out / "curve.png")
        doc = Document(self.title)
        doc.paragraph("Settings: " + ", ".join(f"{k} `{v}`" for k, v in self.settings.items()))
        doc.figure("curve.png", "Test accuracy (left) and loss (right) after each epoch")
        doc.table(Table(["epoch", "train loss", "test accuracy (%)", "test loss", "time (s)"],
                        [[str(r["epoch"]), f"{r['train_loss']:.4f}",
                          f"{100 * r['test_accuracy']:.2f}", f"{r['test_loss']:.4f}",
                          f"{r['seconds']:.1f}"] for r in self.rows],
                        caption="Losses: mean softmax cross-entropy (nats). "
                                "Every row is also in results.csv."))
        doc.write(self.out)


def _curve(rows: list[dict[str, Any]], path: Path) -> Path:
    fig = _figure(8.0, 3.2)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    epochs = [r["epoch"] for r in rows]
    left.plot(epochs, [100 * r["test_accuracy"] for r in rows], "o-", color="#0072B2")
    left.set_ylabel("test accuracy (%)")
    right.plot(epochs, [r["test_loss"] for r in rows], "o-", color="#D55E00", label="test")
    right.plot(epochs, [r["train_loss"] for r in rows], "s--", color="0.5", label="train")
    right.set_ylabel("loss (nats)")
    right.legend()
    from matplotlib.ticker import MaxNLocator

    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlim(0.5, max(epochs) + 0.5)  # whole epochs, also when there is only one
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)
