"""One timed run: a mapped network streaming real inputs through the chip model.

`simulate` ties the layers together: the functional path's `AnalogNetwork` (the tiles, programmed
from the seed) computes the values, an `ActivityRecorder` in front of it notes what every MVM
costs, `ChipModel` accounts time and energy, and the result is compared bit for bit with the
functional path run on its own over the same inputs.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chipsim.functional.analog import AnalogNetwork, AnalogOptions
from chipsim.functional.executor import check_inputs, run_graph
from chipsim.mapping.traffic import Routes
from chipsim.mapping.validate import check_usable
from chipsim.timing.activity import ActivityRecorder
from chipsim.timing.chunks import plan_layers
from chipsim.timing.params import TimingParams
from chipsim.timing.pipeline import ChipModel
from chipsim.timing.results import SETTLED, SimResult, steady_rate
from chipsim.timing.trace import Trace


class Simulation:
    """A mapped network on a chip, tiles programmed, ready to stream inputs (`run`)."""

    def __init__(self, graph: Any, layers: Sequence[Any], chip: Any, mapping: Any, *,
                 read_mode: str | None = None, seed: int = 0,
                 options: AnalogOptions | None = None, link_width_scale: float = 1.0,
                 model: str = "") -> None:
        self.graph, self.layers, self.chip, self.mapping = graph, list(layers), chip, mapping
        self.seed, self.options = seed, options
        self.model = model or getattr(graph, "name", "")
        check_usable(mapping, chip)
        self.params = TimingParams.from_chip(chip, read_mode, link_width_scale)
        # read right after programming only: tiles keep their grids, not their device state
        self.net = AnalogNetwork(graph, layers, mapping, chip, seed=seed, options=options,
                                 read_once=True)
        self.positions = {c: chip.core_position(c) for c in range(chip.cores.count)}
        self.plans = plan_layers(layers, graph)
        self.routes = Routes(mapping, layers, chip, graph)  # the messages the model sends

    def run(self, x: np.ndarray, *, in_flight: int | None = None, group: int = 8,
            trace_inputs: int = 2, keep_outputs: bool = True,
            on_finish: Any = None,
            keep_streaming: bool = True) -> tuple[SimResult, Trace, np.ndarray | None]:
        """Stream `x` (batch first) through the chip; returns figures, trace and the outputs.

        With `keep_streaming` timing-only inputs follow `x` until the throughput settles
        (`pipeline.py`); without, the stream ends with `x` and a short one may not settle.
        `on_finish(input, start_cycle, end_cycle)` is called as each input of `x` leaves.
        """
        x = check_inputs(self.graph, x)
        (input_name,) = self.graph.inputs
        recorder = ActivityRecorder(self.net, self.layers, self.mapping, self.net.tiles,
                                    self.params)
        outputs: list[np.ndarray] = []

        def compute(first: int, count: int) -> None:
            y = run_graph(self.graph, recorder, {input_name: x[first:first + count]}, first)[0]
            if keep_outputs:
                outputs.append(y)

        timed = ChipModel(self.params, self.layers, self.mapping, self.plans, recorder,
                          self.chip.network_graph(), self.positions, compute, inputs=len(x),
                          routes=self.routes, in_flight=in_flight, group=group,
                          trace_inputs=trace_inputs, on_finish=on_finish,
                          keep_streaming=keep_streaming)
        timed.run()
        result = summarize(timed, self.layers, self.mapping, self.model)
        if getattr(self.chip, "system", None) is not None:  # several chips: figures per chip
            from chipsim.timing.interchip import system_figures
            result.extra.update(system_figures(timed, result, self.chip))
        return result, timed.trace, np.concatenate(outputs) if keep_outputs else None

    def functional(self, x: np.ndarray) -> np.ndarray:
        """The functional path on its own (freshly programmed tiles, same seed), batched."""
        reference = AnalogNetwork(self.graph, self.layers, self.mapping, self.chip,
                                  seed=self.seed, options=self.options, read_once=True)
        return reference.run(check_inputs(self.graph, x), batch=max(1, min(256, len(x))))


def simulate(graph: Any, layers: Sequence[Any], chip: Any, mapping: Any, x: np.ndarray, *,
             read_mode: str | None = None, seed: int = 0, options: AnalogOptions | None = None,
             in_flight: int | None = None, group: int = 8, trace_inputs: int = 2,
             link_width_scale: float = 1.0, compare: bool = True,
             model: str = "") -> tuple[SimResult, Trace]:
    """Stream the inputs `x` through the mapped network on the chip's timed model.

    With `compare`, the outputs are checked bit for bit against the functional path
    (`outputs_match_functional`).
    """
    sim = Simulation(graph, layers, chip, mapping, read_mode=read_mode, seed=seed,
                     options=options, link_width_scale=link_width_scale, model=model)
    result, trace, outputs = sim.run(x, in_flight=in_flight, group=group,
                                     trace_inputs=trace_inputs, keep_outputs=compare)
    if compare:
        result.outputs_match_functional = bool(np.array_equal(outputs, sim.functional(x)))
    return result, trace


def summarize(timed: ChipModel, layers: Sequence[Any], mapping: Any, model: str) -> SimResult:
    """Turn a finished `ChipModel` run into figures.

    Static power (of every core, or of the used ones when `energy.unused_cores` is gated, and of
    the rest of the chip) is charged per inference over one steady-state interval (1 / throughput): what
    each inference costs a chip that streams, so energy per inference does not depend on how
    many inputs were simulated (the pipeline's fill is not charged). Without a rate it falls
    back to the time the user's inputs took, from the start until the last of them left.
    """
    p, env = timed.p, timed.env
    cycles = int(env.now)
    inputs, finished = timed.inputs, timed.finished
    timed.network.charge()
    first_latency = finished[0] - timed.started[0]
    horizon = cycles if timed.stream_end is None else timed.stream_end
    ips, steady, settled = steady_rate(timed.steady_ends(), horizon, p.clock_ghz, timed.min_gaps)
    static_cycles = (inputs * p.clock_ghz * 1e9 / ips if ips
                     else max(finished[n] for n in range(inputs)))
    timed.ledger.charge("static", "(chip)", "chip",
                        static_cycles * p.static_pj_per_cycle_using(len(timed.cores)))
    notes = [] if settled else [
        f"throughput not settled: the intervals between the {steady} completions in the "
        f"steady window did not repeat within {SETTLED:.0%} after {len(finished)} inputs in "
        "all (the stream's bound); the rate given is that window's mean"
        if ips is not None else "no throughput: fewer than 3 inputs finished in a full pipeline"]
    ops = float(sum(2 * layer.rows * layer.cols * layer.mvms for layer in layers))
    utilization = {c: core.busy_cycles / max(1, cycles) for c, core in timed.cores.items()}
    busiest = [("core", c, core.busy_cycles) for c, core in timed.cores.items()]
    busiest += [("ldpu", u.server.name, u.server.busy_cycles) for u in timed.ldpus.values()]
    busiest += [("gdpu", u.name, u.server.busy_cycles) for u in timed.gdpus]
    busiest += [("link", f"{a}->{b}", s.busy_cycles) for (a, b), s in timed.network.links.items()]
    kind, name, busy = max(busiest, key=lambda t: t[2])
    layers_on = sorted({pl.block.layer for pl in mapping.placements if pl.core == name}) \
        if kind == "core" else []
    bottleneck = {"kind": kind, "name": name,
                  "busy_cycles_per_inference": busy / len(finished),
                  "utilization": busy / max(1, cycles), "layers": layers_on}
    from chipsim.timing.buffers import summary as buffer_summary
    from chipsim.timing.digital import unit_report
    return SimResult(
        chip=p.chip, model=model, read_mode=p.read_mode, inputs=inputs, clock_ghz=p.clock_ghz,
        cycles=cycles, first_latency_cycles=int(first_latency), inferences_per_s=ips,
        ops_per_inference=ops, simulated_mvms=timed.simulated_mvms,
        core_mvms={c: core.mvms for c, core in timed.cores.items()},
        cores_used=len(timed.cores), energy_pj=timed.ledger.total(),
        energy_by_component=timed.ledger.by_component(), energy_by_layer=timed.ledger.by_layer(),
        energy_by_core=timed.ledger.by_core(), core_utilization=utilization,
        links=timed.network.link_report(cycles),
        units=unit_report(list(timed.ldpus.values()) + timed.gdpus, cycles),
        bottleneck=bottleneck, notes=notes, steady_inputs=steady, steady_state=settled,
        timing_only_inputs=timed.timing_only_inputs,
        # cycles each core waited, its job done, for its output port (every input streamed)
        extra={"core_stall_cycles": {c: core.stall_cycles for c, core in timed.cores.items()
                                     if core.stall_cycles}, **buffer_summary(timed.buffers)})
