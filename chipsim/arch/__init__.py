"""Chip descriptions: what an analog in-memory-computing chip is made of, as validated data.

`load_chip("hermes64")` (or a path to a YAML file) gives an immutable, typed `Chip`; every layer
below the command line reads the chip from it and nothing chip-specific lives in Python.
`chip_metrics(chip)` derives peak MVM time, throughput and energy per read mode from it.
"""

from chipsim.arch.loader import builtin_chips, load_chip, parse_chip
from chipsim.arch.metrics import ModeMetrics, chip_metrics, mode_metrics
from chipsim.arch.schema import Chip

__all__ = ["Chip", "ModeMetrics", "builtin_chips", "chip_metrics", "load_chip", "mode_metrics",
           "parse_chip"]
