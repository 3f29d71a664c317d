"""Digital units: each core's local unit (LDPU) and the chip's global units (GDPUs) with memory.

The crossbar only multiplies. Everything else is digital work, done in two places:

- the local digital processing unit next to each core's ADCs adds the partial sums of a layer
  split over several cores, applies the affine correction (scale, bias, folded batch norm) and
  element-wise activations, `lanes` values per cycle after a fixed latency;
- global digital units, shared by all cores and reached over the network, do what needs values
  from several places: pooling windows, residual adds, LSTM and GRU cells, softmax, layer norms,
  reductions and attention's products of two activations. Each reads its operands from and
  writes its results to its memory (SRAM), values in the unit's precision, then does `lanes`
  operations per cycle, an operation being what `chipsim.graph.ops.digital_ops` counts (an
  element, a value read, or a multiply-accumulate of a product of two activations). A job's
  working set (`check_global_work`) must fit in the memory. A layer whose work needs an
  operation the units lack cannot run.

Both are pipelined `Server`s, first come, first served: a job holds a unit while its operands
go in (`lanes` per cycle; for a global unit also the memory words read and written, one per
cycle each), and its results are ready after the pipeline's latencies, which do not hold the
unit (the next job's operands go in meanwhile). Which operation goes where is
decided by `runs_on_core` (`chipsim.mapping.digital`, which the mapping's traffic model reads
too): element-wise work that the LDPU supports stays on the core.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from chipsim.errors import MappingError
from chipsim.mapping.digital import UNIT_OP, runs_on_core
from chipsim.timing.energy import EnergyLedger
from chipsim.timing.params import TimingParams
from chipsim.timing.server import Server
from chipsim.timing.trace import Trace


class GlobalUnit:
    """One global digital unit: reads operands from its SRAM, computes, writes results back."""

    def __init__(self, index: int, attach_core: int, params: TimingParams,
                 ledger: EnergyLedger, trace: Trace) -> None:
        self.name = f"gdpu{index}"
        self.attach_core = attach_core
        self.params = params
        self.ledger = ledger
        self.trace = trace
        self.server = Server(self.name)
        self.ops = 0

    def cycles(self, ops: int, bits_in: float, bits_out: float) -> tuple[int, int]:
        """(cycles the job holds the unit, cycles after that until its results are written):
        the memory words read, the operations at `lanes` per cycle and the words written hold
        it; the memory's latency (read and write) and the lanes' latency follow."""
        p = self.params
        hold = (p.memory_words(int(bits_in)) + math.ceil(ops / p.gdpu_lanes)
                + p.memory_words(int(bits_out)))
        return hold, 2 * p.memory_latency_cycles + p.gdpu_latency_cycles

    def run(self, now: int, layer: str, inference: int, ops: int, bits_in: float,
            bits_out: float) -> int:
        """Book the unit for one job arriving at `now`; returns the cycle its results are ready."""
        start, end = self.server.book(now, *self.cycles(ops, bits_in, bits_out))
        p = self.params
        self.ops += ops
        self.ledger.charge("gdpu", layer, self.name, ops * p.gdpu_pj_per_op, inference)
        self.ledger.charge("sram", layer, self.name, (bits_in + bits_out) / 8 * p.sram_pj_per_byte,
                           inference)
        self.trace.span("unit", self.name, layer, start, end - start, inference, ops=ops)
        return end


class LocalUnit:
    """A core's LDPU: partial-sum adds, affine correction and activations, `lanes` per cycle."""

    def __init__(self, core: int, params: TimingParams, ledger: EnergyLedger,
                 trace: Trace) -> None:
        self.core = core
        self.params = params
        self.ledger = ledger
        self.trace = trace
        self.server = Server(f"ldpu{core}")

    def run(self, now: int, layer: str, inference: int, values: int, ops: int) -> int:
        """Book `ops` operations on `values` results arriving at `now`; returns when done."""
        p = self.params
        start, end = self.server.book(now, math.ceil(max(values, ops) / p.ldpu_lanes),
                                      p.ldpu_latency_cycles)
        self.ledger.charge("ldpu", layer, self.core, ops * self.params.ldpu_pj_per_op, inference)
        self.trace.span("unit", f"ldpu{self.core}", layer, start, end - start, inference, ops=ops)
        return end


def check_global_work(layers: Iterable[Any], unit_of: dict[str, Any], plans: dict[str, Any],
                      params: TimingParams) -> None:
    """MappingError naming the layer whose global work the chip's units cannot do: an operation
    missing from `global_units.ops`, or one chunk's operands (a conv output row, an LSTM step)
    larger than `global_units.memory.size_bytes`."""
    for layer in layers:
        ops = [op for op, n in (getattr(layer, "digital_ops", {}) or {}).items()
               if n and not runs_on_core(op, params.ldpu_ops)]
        if not ops:
            continue
        missing = sorted({UNIT_OP.get(op, "lut") for op in ops} - set(params.gdpu_ops))
        if missing:
            raise MappingError(f"layer {layer.name}: its {', '.join(sorted(ops))} needs "
                               f"{', '.join(missing)} on a global unit, which global_units.ops "
                               f"({', '.join(params.gdpu_ops) or 'none'}) lacks")
        if unit_of.get(layer.name) is None:
            continue
        bounds = plans[layer.name].bounds
        largest = max(b - a for a, b in zip(bounds[:-1], bounds[1:]))
        need = math.ceil(largest * layer.cols * params.gdpu_value_bits / 8)
        if need > params.memory_bytes:
            raise MappingError(f"layer {layer.name}: one chunk of its outputs needs {need} bytes "
                               f"in a global unit's memory ({params.gdpu_value_bits}-bit values), "
                               f"more than global_units.memory.size_bytes = {params.memory_bytes}")


def unit_report(units: list[Any], total_cycles: int) -> list[dict[str, Any]]:
    """Busy cycles and utilization of each digital unit that did any work."""
    return [{"unit": u.server.name, "jobs": u.server.jobs, "busy_cycles": u.server.busy_cycles,
             "utilization": u.server.busy_cycles / max(1, total_cycles)}
            for u in units if u.server.jobs]
