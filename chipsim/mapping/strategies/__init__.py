"""Placement strategies, each `place(layers, chip) -> Mapping`, found by name in `STRATEGIES`."""

from chipsim.mapping.strategies.base import STRATEGIES, Strategy
from chipsim.mapping.strategies.sequential import Sequential
from chipsim.mapping.strategies.locality import Locality
from chipsim.mapping.strategies.balanced import Balanced
from chipsim.mapping.strategies.packed import Packed

__all__ = ["STRATEGIES", "Strategy", "Sequential", "Locality", "Balanced", "Packed"]
