"""The mapped network as a pipeline on the chip: chunks fire when their inputs have arrived.

Think of an assembly line where every station is a block of a layer on some core. An input
(image, sequence) enters; each layer's work is cut into chunks (`chunks.py`: a conv layer's
output row, an LSTM step); a chunk fires as soon as the chunks of its source layers that it
reads have arrived, and its MVMs go to the cores holding the layer's blocks: MVM g on replica
g % R, every block of that replica working on its slice of the vector. The blocks of one
column that hold different rows send their partial sums over the network to the top block's
core, whose local digital unit adds them, applies bias and element-wise activations; the
finished outputs go on, through a global digital unit when the layer is followed by pooling, a
residual add or an LSTM cell, to the cores of each consumer layer that read them. Which
messages go where is the mapping's message model (`chipsim.mapping.traffic.Routes`): the model
sends exactly those, so its counted traffic is the mapper's. Several inputs are on the
chip at once (`in_flight`), so layers of different inputs overlap; when one leaves, the next
enters. Values are the functional path's own (`ActivityRecorder`), computed a group of inputs
at a time because the kernels are batch-invariant; time and energy are accounted MVM by MVM.

Host I/O is outside the model: an input is in the first layers' buffers when it enters and
leaves when its last chunk is done. Inputs arrive as a stream, not in bursts: the next input
enters when the cores have done every MVM of the one before it in the layers that read the
network input (those input vectors are consumed, the buffers free) and fewer than `in_flight`
inputs are on the chip. Computing values a `group` of inputs at a time does not touch the timing.

Throughput is measured as on a bench: the stream keeps going. The user's inputs are computed
and checked; after them the model keeps admitting timing-only inputs, the same vectors again in
order (input n re-uses the activity of input n % N, `ActivityRecorder.replay`; no values are
computed), until the completion intervals have settled (`results.steady_rate`) or `bound`
inputs have entered. Timing-only inputs charge no energy and leave no trace.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Callable, Sequence

import simpy

from chipsim.errors import DescriptionError
from chipsim.mapping.traffic import Routes
from chipsim.timing.activity import ActivityRecorder
from chipsim.timing.buffers import InputBuffers
from chipsim.timing.chunks import LayerPlan
from chipsim.timing.core import Core, MvmJob
from chipsim.mapping.digital import runs_on_core
from chipsim.timing.digital import GlobalUnit, LocalUnit, check_global_work
from chipsim.timing.energy import EnergyLedger
from chipsim.timing.interchip import network_class
from chipsim.timing.params import TimingParams
from chipsim.timing.results import steady_rate
from chipsim.timing.trace import Trace


class _Flight:
    """One input on the chip: which chunks fired, which source chunks arrived."""

    __slots__ = ("n", "start", "next", "arrived", "prefix", "sinks_left", "entry_left")

    def __init__(self, n: int, start: int, sinks_left: int, entry_left: int) -> None:
        self.n, self.start, self.sinks_left = n, start, sinks_left
        self.entry_left = entry_left  # chunks of the input-reading layers with MVMs to do
        self.next: dict[str, int] = defaultdict(int)
        self.arrived: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.prefix: dict[tuple[str, str], int] = defaultdict(int)


class ChipModel:
    """Cores, network and digital units of one chip running one mapped network."""

    def __init__(self, params: TimingParams, layers: Sequence[Any], mapping: Any,
                 plans: dict[str, LayerPlan], recorder: ActivityRecorder, network_graph: Any,
                 positions: dict[int, tuple[int, int]], compute: Callable[[int, int], None],
                 inputs: int, routes: Routes, in_flight: int | None = None, group: int = 8,
                 trace_inputs: int = 2,
                 on_finish: Callable[[int, int, int], None] | None = None,
                 keep_streaming: bool = True) -> None:
        self.p = params
        self.env = simpy.Environment()
        self.ledger = EnergyLedger(real_inputs=inputs)
        self.trace = Trace(params.clock_ghz, min(trace_inputs, inputs))
        self.layers = {layer.name: layer for layer in layers}
        self.plans, self.recorder, self.compute = plans, recorder, compute
        self.on_finish = on_finish
        self.inputs, self.group = inputs, group
        self.in_flight = in_flight or len(layers) + 1
        # inputs that may enter in all: the user's, then up to 8 pipelines full of timing-only
        # ones (replicas can make the intervals repeat only every dozen inputs or so)
        self.bound = inputs + (8 * self.in_flight if keep_streaming else 0)
        self.min_gaps = self.in_flight  # a settled window spans a pipeline full at least
        self.replicas = {name: mapping.replication.get(name, 1) for name in self.layers}
        self.network = network_class(network_graph)(network_graph, params.routing,
                                                    params.pj_per_bit_hop, self.ledger,
                                                    self.trace, positions,
                                                    params.buffer_depth_flits)
        core_ids = sorted({pl.core for pl in mapping.placements})
        self.cores = {c: Core(self.env, c, params, self.ledger, self.trace, self.network)
                      for c in core_ids}
        self.ldpus = {c: LocalUnit(c, params, self.ledger, self.trace) for c in core_ids}
        self.buffers = None if params.input_buffer_bits is None else \
            InputBuffers(params.input_buffer_bits, core_ids, self.trace)
        self.gdpus = [GlobalUnit(i, core, params, self.ledger, self.trace)
                      for i, core in enumerate(params.gdpu_attach)]
        # per layer: the placements (recorder order), their cores, and the top core of each
        # (replica, column range), which adds that column's partial sums
        self.routes = routes
        self.core_of: dict[str, list[int]] = defaultdict(list)
        self.head = {name: {key: h.core for key, h in heads.items()}
                     for name, heads in routes.head.items()}
        self.parts: dict[str, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
        for pl in mapping.placements:
            b = pl.block
            self.core_of[b.layer].append(pl.core)
            self.parts[b.layer][(pl.replica, b.col_start)] += 1
        self.col_start = {name: [mapping.placements[s.index].block.col_start for s in specs]
                          for name, specs in recorder.blocks.items()}
        self.consumers = routes.consumers
        self._messages: dict[tuple, list] = {}  # `Routes.outputs`, per recurring chunk pattern
        # per layer, per placement (recorder order): (index, replica, column group, cols, core)
        self._blocks = {name: [(k, s.replica, (s.replica, self.col_start[name][k]), s.cols,
                                self.core_of[name][k]) for k, s in enumerate(specs)]
                        for name, specs in recorder.blocks.items()}
        self.sinks = [n for n in self.layers if not [c for c in self.consumers[n] if c != n]]
        self.entries = [n for n, plan in plans.items() if not plan.needs]  # read the input
        self.entry_set = set(self.entries)
        self.local_ops, self.global_ops = {}, {}
        for layer in layers:
            ops = getattr(layer, "digital_ops", {}) or {}
            local = {k: runs_on_core(k, params.ldpu_ops) for k in ops}
            self.local_ops[layer.name] = sum(v for k, v in ops.items() if local[k])
            self.global_ops[layer.name] = sum(v for k, v in ops.items() if not local[k])
        units = {u.name: u for u in self.gdpus}
        self.unit_of = {name: units.get(routes.unit[name]) for name in self.layers}
        check_global_work(self.layers.values(), self.unit_of, plans, params)
        self.flights: dict[int, _Flight] = {}
        self.finished: dict[int, int] = {}  # input -> cycle its last chunk was done
        self.started: dict[int, int] = {}
        self.simulated_mvms = 0
        self._next_input = 0
        self._entry_busy = False  # the last input admitted still has MVMs in the input layers
        self.settled = False  # the completion intervals have settled: admit no more
        self.filled: int | None = None  # inputs that had entered when the first one left
        self.stream_end: int | None = None  # the cycle one more input would have entered
        # records of the user's inputs that timing-only ones may re-use: input n % N for n < bound
        self._kept: dict[tuple[int, str], Any] | None = {} if keep_streaming else None

    def steady_ends(self) -> list[int]:
        """When the inputs that entered a full pipeline (after the first had left) left."""
        return [t for n, t in self.finished.items() if n >= self.filled]

    @property
    def timing_only_inputs(self) -> int:
        """Inputs streamed past the user's to measure the steady state (values not computed)."""
        return max(0, self._next_input - self.inputs)

    def sources_of(self, name: str) -> list[str]:
        """The layers whose outputs `name` reads (itself too for a recurrent layer)."""
        return [s for s in self.layers if name in self.consumers[s]]

    # -- time helpers ----------------------------------------------------------------------
    def at(self, cycle: int, action: Callable[[], None]) -> None:
        """Run `action` at `cycle` (now or later), with one event."""
        ev = self.env.timeout(max(0, cycle - self.env.now))
        ev.callbacks.append(lambda _ev: action())

    # -- inputs entering and leaving ---------------------------------------------------------
    def run(self) -> None:
        self._admit()
        self.env.run()
        missing = sum(n not in self.finished for n in range(self.inputs))
        stalled = self.buffers.stalled() if self.buffers is not None and missing else None
        if stalled:
            raise DescriptionError(stalled)
        if missing:
            raise RuntimeError(f"timed model stalled with {missing} inputs unfinished")

    def _admit(self) -> None:
        """Let the next input in, if the input layers are free and the window has room."""
        n = self._next_input
        if self._entry_busy or len(self.flights) >= self.in_flight:
            return
        if n >= self.inputs and (self.settled or n >= self.bound):
            if self.stream_end is None:
                self.stream_end = int(self.env.now)
            return
        self._next_input += 1
        self._entry_busy = True
        if n < self.inputs and n % self.group == 0:
            self.compute(n, min(self.group, self.inputs - n))
        flight = _Flight(n, self.env.now, sum(self.plans[s].chunks for s in self.sinks),
                         sum(self.plans[s].chunks for s in self.entries))
        self.flights[n] = flight
        self.started[n] = self.env.now
        for name in self.entries:
            self._try_fire(flight, name)

    def _finish(self, flight: _Flight) -> None:
        n = flight.n
        self.finished[n] = self.env.now
        del self.flights[n]
        if self.buffers is not None:
            self.buffers.forget(int(self.env.now), n)
        if n < self.inputs:
            if self.on_finish is not None:
                self.on_finish(n, flight.start, self.env.now)
            self.recorder.forget(n)
        if self.filled is None:
            self.filled = self._next_input
        if not self.settled and self._next_input >= self.inputs:
            # stop streaming at an exact repeat only (or at the bound): a near one may hide a
            # longer pattern that more inputs would show
            self.settled = steady_rate(self.steady_ends(), self.env.now,
                                       self.p.clock_ghz, self.min_gaps, tolerance=0.0)[2]
            if self.settled and self._next_input == self.inputs:
                self._kept = None  # no timing-only input will need them
        self._admit()

    def _activity(self, n: int, name: str) -> Any:
        """The per-MVM record of layer `name` for input n (a replayed one for timing-only n)."""
        if n < self.inputs:
            act = self.recorder.take(n, name)
            if self._kept is not None and n < self.bound - self.inputs:
                self._kept[(n, name)] = act
            return act
        source = n % self.inputs
        act = self._kept.get((source, name)) or self._activity(source, name)
        return self.recorder.replay(act, name, source, n)

    # -- chunks --------------------------------------------------------------------------------
    def _try_fire(self, flight: _Flight, name: str) -> None:
        plan = self.plans[name]
        while flight.next[name] < plan.chunks:
            c = flight.next[name]
            if any(flight.prefix[(name, s)] < need[c] for s, need in plan.needs.items()):
                return
            if plan.recurrent and flight.prefix[(name, name)] < c:
                return
            flight.next[name] = c + 1
            self._fire(flight, name, c)

    def _fire(self, flight: _Flight, name: str, c: int) -> None:
        n, plan = flight.n, self.plans[name]
        p0, p1 = plan.bounds[c], plan.bounds[c + 1]
        replicas = self.replicas[name]
        act = self._activity(n, name)
        base = n * plan.mvms
        groups: dict[tuple[int, int], list] = {}
        chunk = {"left": 0, "end": self.env.now, "heads": [], "jobs": 0}
        # each block's figures for MVMs p0..p1-1, all blocks at once (prefix sums)
        cycles = (act.cycles[:, p1] - act.cycles[:, p0]).tolist()
        array = (act.array_pj[:, p1] - act.array_pj[:, p0]).tolist()
        dac = (act.dac_pj[:, p1] - act.dac_pj[:, p0]).tolist()
        adc = (act.adc_pj[:, p1] - act.adc_pj[:, p0]).tolist()
        dones: dict[tuple[int, int], Callable] = {}  # one hand-back per column group
        cores = self.cores
        for k, replica, key, cols, core in self._blocks[name]:
            if replicas == 1:
                count = p1 - p0
            else:  # the MVMs p0 <= p < p1 with p % replicas == r0
                r0 = (replica - base) % replicas
                count = max(0, (p1 - r0 + replicas - 1) // replicas) - \
                    max(0, (p0 - r0 + replicas - 1) // replicas)
            if count == 0:
                continue
            done = dones.get(key)
            if done is None:
                groups[key] = [self.parts[name][key], 0, count, cols, key[1]]
                chunk["left"] += 1
                done = dones[key] = self._block_done(flight, name, c, key, groups, chunk)
            job = MvmJob(name, n, cols, cycles[k], count, array[k], dac[k], adc[k], done)
            self.simulated_mvms += count
            chunk["jobs"] += 1
            cores[core].submit(job)

    def _block_done(self, flight: _Flight, name: str, c: int, key: tuple[int, int],
                    groups: dict, chunk: dict) -> Callable[[MvmJob, int, int], None]:
        group = groups[key]
        head = self.head[name][key]
        psum_bits = self.routes.partial_sum_bits

        def done(job: MvmJob, core: int, t: int) -> None:
            arrival = t if core == head else self.network.send(
                t, core, head, job.mvms * job.cols * psum_bits, name, flight.n)
            chunk["jobs"] -= 1
            if chunk["jobs"] == 0 and name in self.entry_set:
                self._entry_chunk_done(flight)
            group[0] -= 1
            if arrival > group[1]:
                group[1] = arrival
            if group[0] == 0:
                self.at(group[1], lambda: self._accumulate(flight, name, c, key, group, chunk))
        return done

    def _entry_chunk_done(self, flight: _Flight) -> None:
        flight.entry_left -= 1
        if flight.entry_left == 0:  # its input vectors are consumed: the next input may enter
            self._entry_busy = False
            self._admit()

    def _accumulate(self, flight: _Flight, name: str, c: int, key: tuple[int, int], group: list,
                    chunk: dict) -> None:
        """The top core's LDPU adds partial sums, bias and local ops of one column range."""
        layer = self.layers[name]
        _, _, count, cols, col_start = group
        values = count * cols
        parts = self.parts[name][key]
        local = self.local_ops[name] * count * cols / (layer.mvms * layer.cols)
        ops = values * parts + int(round(local))  # (parts - 1) adds + 1 affine per value
        head = self.head[name][key]
        end = self.ldpus[head].run(self.env.now, name, flight.n, values, ops)
        chunk["heads"].append((head, count, col_start, col_start + cols))
        chunk["end"] = max(chunk["end"], end)
        chunk["left"] -= 1
        if chunk["left"] == 0:
            self.at(chunk["end"], lambda: self._chunk_done(flight, name, c, chunk["heads"]))

    def _chunk_done(self, flight: _Flight, name: str, c: int, heads: list) -> None:
        now, layer = self.env.now, self.layers[name]
        if self.buffers is not None:
            self._free_inputs(flight.n, name, c)
        unit = self.unit_of[name]
        if unit is not None:
            bits = self.routes.activation_bits
            arrive = max(self.network.send(now, h, unit.name, k * (c1 - c0) * bits, name, flight.n)
                         for h, k, c0, c1 in heads)
            plan = self.plans[name]
            count = plan.bounds[c + 1] - plan.bounds[c]  # MVMs of the chunk, all replicas
            ops = int(round(self.global_ops[name] * count / layer.mvms))
            self.at(arrive, lambda: self._unit(flight, name, c, unit, count, ops))
            return
        self._deliver(flight, name, c, heads)

    def _unit(self, flight: _Flight, name: str, c: int, unit: GlobalUnit, count: int,
              ops: int) -> None:
        bits = count * self.layers[name].cols * self.p.gdpu_value_bits
        end = unit.run(self.env.now, name, flight.n, ops, bits, bits)
        senders = [(unit.name, count, 0, self.layers[name].cols)]
        self.at(end, lambda: self._deliver(flight, name, c, senders))

    def _free_inputs(self, n: int, name: str, c: int) -> None:
        """Chunk c of `name` is done: free the rows of its inputs that no later chunk reads
        (`buffers.py`)."""
        plan, now = self.plans[name], int(self.env.now)
        last = c + 1 >= plan.chunks
        for source in self.sources_of(name):
            firsts = plan.firsts.get(source)
            # an LSTM's own state: step c + 1 reads step c
            below = math.inf if last else (firsts[c + 1] if firsts is not None else c)
            self.buffers.free(now, (n, name, source), below)

    def _deliver(self, flight: _Flight, name: str, c: int, senders: list) -> None:
        """Send a finished chunk to the cores of each consumer that read it (`Routes`); the
        sink's output leaves."""
        now, routes, plan = self.env.now, self.routes, self.plans[name]
        send, n = self.network.send, flight.n
        for consumer in self.consumers[name]:
            copies = routes.copies_reading(name, consumer, n, plan.bounds[c], plan.bounds[c + 1])
            key = (name, consumer, tuple(senders), tuple(copies))
            messages = self._messages.get(key)
            if messages is None:  # the same few patterns recur chunk after chunk
                messages = self._messages[key] = [
                    (m.src, m.dst, m.bits) for m in routes.outputs(name, consumer, senders, copies)]
            if self.buffers is not None:
                self._deliver_bounded(flight, name, consumer, c, messages)
                continue
            arrive = now
            for src, dst, bits in messages:
                t = send(now, src, dst, bits, name, n)
                if t > arrive:
                    arrive = t
            self.at(arrive, lambda consumer=consumer: self._arrived(flight, consumer, name, c))
        if name in self.sinks:
            flight.sinks_left -= 1
            if flight.sinks_left == 0:
                self._finish(flight)

    def _deliver_bounded(self, flight: _Flight, name: str, consumer: str, c: int,
                         messages: list) -> None:
        """`_deliver`'s messages to one consumer, each sent once its core's input buffer has
        room; the consumer hears of the chunk when the last of them has arrived."""
        n, buffers, key = flight.n, self.buffers, (flight.n, consumer, name)
        state = [len(messages), int(self.env.now)]  # messages not yet sent, latest arrival

        def send(src: Any, dst: Any, bits: float) -> None:
            t = self.network.send(int(self.env.now), src, dst, bits, name, n)
            if t > state[1]:
                state[1] = t
            state[0] -= 1
            if state[0] == 0:
                self.at(state[1], lambda: self._arrived(flight, consumer, name, c))

        if not messages:
            self.at(state[1], lambda: self._arrived(flight, consumer, name, c))
        for src, dst, bits in messages:
            if buffers.admit(int(self.env.now), dst, bits, key, c,
                             lambda src=src, dst=dst, bits=bits: send(src, dst, bits)):
                send(src, dst, bits)

    def _arrived(self, flight: _Flight, consumer: str, source: str, c: int) -> None:
        key = (consumer, source)
        got = flight.arrived[key]
        got.add(c)
        while flight.prefix[key] in got:
            got.discard(flight.prefix[key])
            flight.prefix[key] += 1
        if flight.n in self.flights:
            self._try_fire(flight, consumer)

