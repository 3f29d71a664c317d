"""AnalogNAS end to end: sample, evaluate on the emulator, fit the surrogate, search, verify.

1. A Latin hypercube of candidates, and the baseline ResNet, are evaluated for real
   (`chipsim.nas.evaluate`), each a Dask task whose result goes to the sweep store at once
   (`chipsim.sweep.store`), keyed by everything that determines it: a killed search rerun
   trains no finished candidate again.
2. The surrogate is fitted on them; its Kendall tau is measured on a held-out quarter.
3. Evolution on the surrogate under the constraints finds the best predicted candidates.
4. Those are evaluated for real, and every evaluated candidate is put on the Pareto fronts of
   30-day accuracy against energy per inference and against latency.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import chipsim
from chipsim.nas.search import Constraints, search
from chipsim.nas.space import BASELINE, Architecture, latin_hypercube
from chipsim.nas.surrogate import DROP, RANK, Surrogate, drop, held_out_tau
from chipsim.sweep.cells import Cell, cell_key

MONTH = "accuracy_2.592e+06s"
TIMES = (1.0, 3600.0, 86400.0, 30 * 86400.0)  # 1 s, 1 h, 1 day, 30 days (the paper's, less 10 d)


@dataclass(frozen=True)
class Budget:
    candidates: int = 24  # sampled and evaluated for the surrogate
    epochs: int = 10  # training epochs per candidate
    images: int = 540  # test inputs per accuracy
    chips: int = 2  # programmed chips per accuracy
    inputs: int = 16  # event-model inputs
    population: int = 50
    iterations: int = 500
    verify: int = 3  # best predicted candidates evaluated for real


def candidate_cell(arch: Architecture, chip: Any, chip_text: str, chip_source: str, data: str,
                   budget: Budget, seed: int) -> Cell:
    job = {"genes": list(arch.genes()), "chip_text": chip_text, "chip_source": chip_source,
           "data": data, "epochs": budget.epochs, "seed": seed, "inputs": budget.inputs,
           "images": budget.images, "chips": budget.chips, "times": list(TIMES)}
    key = cell_key({"nas": 1, "chipsim": chipsim.__version__,
                    "chip": hashlib.sha256(chip.model_dump_json().encode()).hexdigest(),
                    **{k: v for k, v in job.items() if k not in ("chip_text", "chip_source")}})
    return Cell({"architecture": arch.name()}, job, key)


def run_nas(chip: Any, chip_text: str, chip_source: str, *, data: str, budget: Budget,
            constraints: Constraints, seed: int, evaluate: Callable[[list[Architecture]], list],
            log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The whole search; `evaluate(archs)` returns each candidate's stored result."""
    from chipsim.nas.cores import packed_cores

    sampled = latin_hypercube(budget.candidates, seed)
    pool = list(dict.fromkeys(sampled + [BASELINE]))
    log(f"evaluating {len(pool)} candidates ({budget.candidates} sampled, and the baseline)")
    evaluated = dict(zip(pool, evaluate(pool)))
    good = [(a, r["figures"]) for a, r in evaluated.items() if "figures" in r]
    if len(good) < 6:
        raise chipsim.errors.ChipsimError(
            f"only {len(good)} candidates could be evaluated: raise --candidates")
    tau, held = held_out_tau([a for a, _ in good], [f for _, f in good], seed)
    surrogate = Surrogate.fit([a for a, _ in good], [f for _, f in good], seed)
    log(f"surrogate: Kendall tau {tau:.3f} on {held} held-out candidates; searching")
    found = search(surrogate, constraints, lambda a: packed_cores(a, chip),
                   population=budget.population, iterations=budget.iterations,
                   top=budget.verify, seed=seed)
    log(f"verifying {len(found)} found candidates")
    fresh = [a for a, _ in found if a not in evaluated]
    evaluated.update(zip(fresh, evaluate(fresh)))
    rows = []
    for arch, result in evaluated.items():
        row = {"architecture": arch.name(), "genes": list(arch.genes()),
               "role": "baseline" if arch == BASELINE else
               "found" if arch in {a for a, _ in found} else "sampled"}
        if "figures" in result:
            row.update(result["figures"])
            row["drop_30d"] = drop(result["figures"])
        else:
            row["error"] = result["error"]
        rows.append(row)
    measured = [r for r in rows if "error" not in r]
    for x in ("energy_per_inference_uj", "first_latency_us"):
        front = pareto(measured, x)
        for r in measured:
            r[f"pareto_{x}"] = r["architecture"] in front
    predicted = {a.name(): p for a, p in found}
    for r in rows:
        if r["architecture"] in predicted:
            r["predicted_accuracy_1d"] = predicted[r["architecture"]]
    return {"kendall_tau": tau, "held_out": held, "rank_by": RANK, "drop": list(DROP),
            "rows": rows, "verdict": verdict(rows)}


def pareto(rows: list[dict[str, Any]], cost: str) -> set[str]:
    """Names of the rows no other row beats on both 30-day accuracy (higher) and `cost`
    (lower)."""
    def beaten(r: dict) -> bool:
        return any(o[MONTH] >= r[MONTH] and o[cost] <= r[cost] and
                   (o[MONTH] > r[MONTH] or o[cost] < r[cost]) for o in rows)
    return {r["architecture"] for r in rows if not beaten(r)}


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether a found (or sampled) candidate dominates the baseline: at least as accurate at
    30 days within the seed spread, with fewer cores or less energy per inference; or more
    accurate at no more cores and energy."""
    base = next((r for r in rows if r["role"] == "baseline" and "error" not in r), None)
    if base is None:
        return {"baseline": None, "dominating": []}
    spread = base[f"{MONTH}_std"]
    out = []
    for r in rows:
        if r is base or "error" in r:
            continue
        spread_r = max(spread, r[f"{MONTH}_std"])
        as_good = r[MONTH] >= base[MONTH] - spread_r
        cheaper = r["cores"] < base["cores"] or \
            r["energy_per_inference_uj"] < base["energy_per_inference_uj"]
        better = r[MONTH] > base[MONTH] + spread_r and r["cores"] <= base["cores"] and \
            r["energy_per_inference_uj"] <= base["energy_per_inference_uj"]
        if (as_good and cheaper) or better:
            out.append({"architecture": r["architecture"], "role": r["role"]})
    return {"baseline": base["architecture"], "dominating": out}
