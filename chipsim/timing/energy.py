"""The energy ledger: where every picojoule of a run went.

Think of a household's electricity bill split by room and by appliance. Each event of the
timed model (a crossbar read, a DAC or ADC conversion, a digital operation, a bit crossing a
link, a memory access) charges its energy, in pJ, to one account named by three things: the
component that spent it ("array", "adc", "ldpu", ...), the network layer it served and the
core (or unit, or link) where it happened. Static power is charged once at the end of a run,
over its whole duration.

Accounts are kept aggregated (one number per account, never a list of events), so memory stays
flat however many inputs stream through. Every breakdown and the total are sums of the same
accounts, so the total always equals the sum of any breakdown.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable

# Components whose energy the chip paper's TOPS/W includes ("PCM crossbar array, ADCs and PWMs").
PAPER_SCOPE = ("array", "dac", "adc")


class EnergyLedger:
    """Energy in pJ per (component, layer, place). `place` is a core id, a link or a unit name.

    Only the first `real_inputs` inputs are billed: the timing-only inputs a run streams after
    them to measure its steady state (`pipeline.py`) spend no energy in the books.
    """

    def __init__(self, real_inputs: float = math.inf) -> None:
        self.real_inputs = real_inputs
        self._accounts: defaultdict[tuple[str, str, object], float] = defaultdict(float)

    def counts(self, inference: int) -> bool:
        """Whether energy spent on this input is billed (it is one of the real inputs)."""
        return inference < self.real_inputs

    def charge(self, component: str, layer: str, place: object, pj: float,
               inference: int = 0) -> None:
        """Add `pj` picojoules spent on `inference` to one account (negative energy is a bug in
        the caller); nothing for a timing-only input."""
        if pj < 0 or not math.isfinite(pj):
            raise ValueError(f"energy charged to {component}/{layer}/{place} must be a finite "
                             f"non-negative number of pJ, got {pj!r}")
        if inference < self.real_inputs:
            self._accounts[(component, layer, place)] += pj

    def accounts(self) -> dict[tuple[str, str, object], float]:
        """A copy of every account: (component, layer, place) -> pJ."""
        return dict(self._accounts)

    def total(self, components: Iterable[str] | None = None) -> float:
        """Total pJ, or only that of the named components."""
        keep = None if components is None else set(components)
        return math.fsum(v for (c, _, _), v in self._accounts.items() if keep is None or c in keep)

    def _by(self, axis: int) -> dict[object, float]:
        groups: defaultdict[object, list[float]] = defaultdict(list)
        for key, value in self._accounts.items():
            groups[key[axis]].append(value)
        return {k: math.fsum(v) for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))}

    def by_component(self) -> dict[str, float]:
        return self._by(0)  # type: ignore[return-value]

    def by_layer(self) -> dict[str, float]:
        return self._by(1)  # type: ignore[return-value]

    def by_place(self) -> dict[object, float]:
        return self._by(2)

    def by_core(self) -> dict[int, float]:
        """Energy spent on each core (places that are core ids)."""
        return {k: v for k, v in self._by(2).items() if isinstance(k, int)}
