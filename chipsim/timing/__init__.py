"""The cycle-level chip model: a SimPy co-simulation of a mapped network on a chip description.

`simulate(graph, layers, chip, mapping, x)` streams inputs through the chip's cores (`core.py`),
network (`network.py`) and digital units (`digital.py`) as the mapping lays the network out
(`pipeline.py`, `chunks.py`), with values from the functional path's own tiles (`activity.py`),
time in clock cycles, energy in pJ (`energy.py`), a Perfetto trace (`trace.py`) and the figures
in a `SimResult` (`results.py`). `peak.py` runs the chip at full utilization against silicon.
"""

from chipsim.timing.params import TimingParams
from chipsim.timing.results import SimResult
from chipsim.timing.simulate import Simulation, simulate

__all__ = ["SimResult", "Simulation", "TimingParams", "simulate"]
