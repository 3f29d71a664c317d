"""The calibration study: how much accuracy does each calibration win back, and when?

One network, one mapping, several ways to program it. The reference point of the published
study (Lammie et al., ISCAS 2024) is a chip whose DAC range is fixed: without calibration every
tile converts |x| <= 1 (r = 1, the inputs' own unit) and writes every column at g_max
("uncalibrated"). Against it: input ranges only, column ranges only, and both. A chip that
instead scales every input vector by its own max |x| (digital per-vector scaling, IBM's "noise
management") needs no input range at all; it is shown as "per-vector", and with its column
ranges calibrated as "per-vector + column". Each is run on the test set at several times after
programming, on several independently programmed chips (seeds), with global drift compensation
on, next to the float network. The calibrations are computed once, on calibration data, and the
same mappings serve every time and seed. Rows are handed to `on_row` as they finish, so a long
study keeps what it finished; `plot_study` draws them over drift time.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from chipsim.calibration.calibrate import calibrate_mapping
from chipsim.functional.analog import AnalogNetwork, AnalogOptions
from chipsim.functional.executor import FloatBackend, run_network
from chipsim.functional.inputs import AGREEMENT, TEST_ACCURACY, inputs_phrase
from chipsim.functional.study import accuracy, check_backend, gpu_scores, relative_logit_error
from chipsim.functional.times import format_time

UNCALIBRATED_RANGE = 1.0  # the fixed DAC range of an uncalibrated tile: |x| <= 1
PER_VECTOR = AnalogOptions(input_range="max_abs")  # the DAC scales each vector by its max |x|


@dataclass(frozen=True)
class Variant:
    """How one variant programs the chip: its DAC range and the rules `calibrate_mapping` gets
    ("none" for both: no calibration at all)."""

    per_vector: bool  # DAC range per vector (max |x|); else the fixed range, 1 until calibrated
    input_rule: str
    column_rule: str
    about: str  # what it is, in words, for tables and reports

    @property
    def options(self) -> AnalogOptions:
        return PER_VECTOR if self.per_vector else AnalogOptions()

    @property
    def calibrated(self) -> bool:
        return (self.input_rule, self.column_rule) != ("none", "none")


#: the study's variants, in the order tables and plots show them
VARIANTS = {
    "per-vector": Variant(True, "none", "none", "each input vector scaled by its own max |x| "
                          "(digital per-vector scaling, IBM aihwkit's default; a software "
                          "option, the silicon has no per-vector reduction); no calibration"),
    "per-vector + column": Variant(True, "none", "best", "per-vector input scaling, column "
                                   "conductance ranges calibrated"),
    "uncalibrated": Variant(False, "none", "none", f"fixed DAC range |x| <= "
                            f"{UNCALIBRATED_RANGE:g}, every column at g_max (the paper's "
                            "baseline)"),
    "input": Variant(False, "best", "none", "fixed DAC range, calibrated per tile"),
    "column": Variant(False, "none", "best", f"fixed DAC range {UNCALIBRATED_RANGE:g}, column "
                      "conductance ranges calibrated"),
    "both": Variant(False, "best", "best", "fixed DAC range and column conductance ranges, both "
                    "calibrated"),
}


def chip_variant(chip: Any) -> str:
    """The variant that is `chip` as it runs after `chipsim calibrate`'s default: both ranges
    calibrated on a fixed-range DAC (the silicon), column ranges alone on a per-vector one."""
    return "both" if chip.cores.dac.input_range == "calibrated" else "per-vector + column"


def variant_label(name: str, study: dict[str, Any]) -> str:
    """A variant's name, marked when it is the study's chip as that chip runs."""
    return f"{name} ({study['chip']})" if name == study.get("chip_variant") else name


@dataclass(frozen=True)
class StudyRow:
    """One variant at one time: accuracy and logit error, mean and std over seeds."""

    variant: str
    time_s: float
    accuracy_mean: float
    accuracy_std: float
    logit_error_mean: float
    logit_error_std: float
    seeds: int


@dataclass
class CalibrationStudy:
    """Float accuracy and one row per (variant, time)."""

    model: str
    chip: str
    data: str
    float_accuracy: float
    images: int
    rows: list[StudyRow] = field(default_factory=list)
    calibration_images: int | None = None  # calibration samples the ranges were fitted on
    chip_variant: str | None = None  # the variant that is the chip as it runs (`chip_variant`)
    metric: str = TEST_ACCURACY  # or agreement with float, on synthetic inputs

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "chip": self.chip, "data": self.data,
                "images": self.images, "calibration_images": self.calibration_images,
                "float_accuracy": self.float_accuracy, "chip_variant": self.chip_variant,
                "metric": self.metric, "rows": [dataclasses.asdict(r) for r in self.rows]}

    def plot(self, path: str | Path) -> Path:
        """Accuracy of every variant over drift time (see `plot_study`)."""
        return plot_study(self.to_json(), path)

    def table(self) -> str:
        """A Markdown table: times down, variants across, accuracy % mean ± std over seeds."""
        study = self.to_json()
        variants, times, cell = study_grid(study["rows"])
        head = ["time", "float"] + [variant_label(v, study) for v in variants]
        lines = [f"{self.model} on {self.chip}, {inputs_phrase(self.images, self.data)}, "
                 f"{self.metric} % (mean ± std over seeds), GDC on; ({self.chip}): the chip as it "
                 "runs after `chipsim calibrate`",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for t in times:
            parts = [format_time(t), f"{100 * self.float_accuracy:.2f}"]
            for v in variants:
                r = cell.get((v, t))
                parts.append("" if r is None else
                             f"{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f}")
            lines.append("| " + " | ".join(parts) + " |")
        return "\n".join(lines)


def study_grid(rows: Sequence[dict[str, Any]]
               ) -> tuple[list[str], list[float], dict[tuple[str, float], dict[str, Any]]]:
    """The layout every view of a study shares: its variants (in the rows' order, which is
    VARIANTS'), its times (ascending) and the row of each (variant, time)."""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    times = sorted({r["time_s"] for r in rows})
    return variants, times, {(r["variant"], r["time_s"]): r for r in rows}


#: Okabe & Ito's colours (readable with colour-vision deficiencies), one per variant in order
_COLOURS = ("#E69F00", "#56B4E9", "#D55E00", "#009E73", "#CC79A7", "#0072B2")
_MARKERS = ("o", "s", "v", "^", "D", "P")


def plot_study(study: dict[str, Any], path: str | Path) -> Path:
    """Accuracy (mean ± std over seeds) of each variant against time after programming, on a
    log axis, next to the float network. It draws from a study's `to_json()`, so a report draws
    it from the very numbers in its results file."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.add_subplot()
    _draw_variants(ax, study)
    reference = 100 * study["float_accuracy"]
    ax.axhline(reference, color="black", linestyle="--", linewidth=1,
               label=f"float ({reference:.2f} %)")
    _label_axes(ax, study)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _draw_variants(ax, study: dict[str, Any]) -> None:
    """One error-bar line per variant, in the rows' order; the markers of one time are spread a
    little sideways so the bars do not hide each other; t = 0 is drawn at 1 s (log axis)."""
    variants, times, cell = study_grid(study["rows"])
    for k, name in enumerate(variants):
        mine = [cell[name, t] for t in times if (name, t) in cell]
        dodge = 10 ** (0.04 * (k - (len(variants) - 1) / 2))
        ax.errorbar([max(r["time_s"], 1.0) * dodge for r in mine],
                    [100 * r["accuracy_mean"] for r in mine],
                    yerr=[100 * r["accuracy_std"] for r in mine],
                    color=_COLOURS[k % len(_COLOURS)], marker=_MARKERS[k % len(_MARKERS)],
                    capsize=3, label=variant_label(name, study))


def _label_axes(ax, study: dict[str, Any]) -> None:
    times = sorted({r["time_s"] for r in study["rows"]})
    ax.set_xscale("log")
    ax.set_xticks([max(t, 1.0) for t in times], [format_time(t) for t in times])
    ax.minorticks_off()
    ax.set_xlabel("time after programming (log scale)")
    ax.set_ylabel(f"{study.get('metric', TEST_ACCURACY)} (%)")
    seeds = max((r["seeds"] for r in study["rows"]), default=0)
    ax.set_title(f"{study['model']} on {study['chip']}, "
                 f"{inputs_phrase(study['images'], study['data'])}: range calibration over drift\n(mean ± std over {seeds} seeds, "
                 "GDC on)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)


class StudyCsv:
    """A CSV file that gets one flushed line per finished row."""

    COLUMNS = [f.name for f in dataclasses.fields(StudyRow)]

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as handle:
            csv.writer(handle).writerow(self.COLUMNS)

    def append(self, row: StudyRow) -> None:
        with self.path.open("a", newline="") as handle:
            values = dataclasses.asdict(row)
            csv.writer(handle).writerow([values[c] for c in self.COLUMNS])


def calibrated_variants(graph, layers: Sequence, mapping, chip: Any, x_calibration: np.ndarray,
                        **calibrate_options: Any) -> dict[str, tuple[Any, AnalogOptions]]:
    """The study's variants: name -> (Mapping, AnalogOptions to run it with)."""
    bare = dataclasses.replace(mapping, placements=tuple(
        dataclasses.replace(p, calibration=None) for p in mapping.placements))
    fixed = dataclasses.replace(mapping, placements=tuple(
        dataclasses.replace(p, calibration={"input_range": UNCALIBRATED_RANGE})
        for p in mapping.placements))
    out = {}
    for name, variant in VARIANTS.items():
        start = bare if variant.per_vector else fixed
        if variant.calibrated:
            start = calibrate_mapping(graph, layers, start, chip, x_calibration,
                                      input_rule=variant.input_rule,
                                      column_rule=variant.column_rule, options=variant.options,
                                      **calibrate_options).mapping
        out[name] = (start, variant.options)
    return out


def calibration_study(
    graph, layers: Sequence, variants: dict[str, tuple[Any, AnalogOptions]], chip: Any,
    x: np.ndarray,
    y: np.ndarray, *, times: Sequence[float], seeds: int | Sequence[int] = 5, batch: int = 256,
    names: tuple[str, str, str] = ("model", "chip", "data"),
    on_row: Callable[[StudyRow], None] | None = None, backend: str = "cpu",
) -> CalibrationStudy:
    """Test accuracy of every variant (see `calibrated_variants`) over time and seeds; with
    `backend` "gpu" all seeds and times of a variant run at once on the GPU."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    reference = run_network(graph, FloatBackend(layers), x, batch=batch)
    result = CalibrationStudy(*names, float_accuracy=accuracy(reference, y), images=int(len(y)),
                              chip_variant=chip_variant(chip))
    for name, (mapping, options) in variants.items():
        on_gpu = check_backend(backend) == "gpu"
        scores = gpu_scores(graph, layers, mapping, chip, x, y, reference, seed_list, times,
                             [True], options) if on_gpu else {}
        nets = [] if on_gpu else [AnalogNetwork(graph, layers, mapping, chip, seed=s,
                                                options=options) for s in seed_list]
        for t in times:
            accs = [a for a, _ in scores.get((float(t), True), [])]
            errs = [e for _, e in scores.get((float(t), True), [])]
            for net in nets:
                net.drift(t)
                logits = net.run(x, batch=batch, gdc=True)
                accs.append(accuracy(logits, y))
                errs.append(relative_logit_error(logits, reference))
            a, e = np.array(accs), np.array(errs)
            row = StudyRow(name, float(t), float(a.mean()), float(a.std()), float(e.mean()),
                           float(e.std()), len(seed_list))
            result.rows.append(row)
            if on_row is not None:
                on_row(row)
    return result


def study_from_data(graph, layers: Sequence, mapping, chip: Any, data: str | None,
                    x: np.ndarray, y: np.ndarray, *, times: Sequence[float],
                    seeds: int | Sequence[int], batch: int = 256,
                    samples: int = 256, csv_path: str | Path | None = None,
                    names: tuple[str, str, str] = ("model", "chip", "data"),
                    log: Callable[[str], None] | None = None,
                    backend: str = "cpu") -> CalibrationStudy:
    """The whole study as `chipsim accuracy --calibration-study` runs it: calibrate on the first
    `samples` images of `data`'s calibration split (synthetic calibration inputs without a data
    set), then test on (x, y)."""
    from chipsim.calibration.auto import calibration_inputs

    x_cal, source = calibration_inputs(graph, data, samples)
    if log:
        log(f"calibrating on {source}")
    variants = calibrated_variants(graph, layers, mapping, chip, x_cal)
    on_row = StudyCsv(csv_path).append if csv_path is not None else None
    if log:
        count = seeds if isinstance(seeds, int) else len(seeds)
        log(f"testing {len(variants)} variants x {len(times)} times x {count} seeds")
    study = calibration_study(graph, layers, variants, chip, x, y, times=times, seeds=seeds,
                              batch=batch, names=names, on_row=on_row, backend=backend)
    study.calibration_images = int(len(x_cal))
    study.metric = TEST_ACCURACY if data else AGREEMENT
    return study
