"""The flit arithmetic of the event model's network (`chipsim.timing.network`), compiled.

The rules (wormhole switching, credits, one flit per cycle per link) and the reasoning behind the
closed forms are in `chipsim.timing.network`'s docstring and in the docstrings below. The state
of the links lives in arrays so that one packet is one compiled call, not a few hundred Python
operations: a mapping study sends a packet for almost every MVM it simulates.

`state` holds a row per channel (the directed links, then every node's ejection port), with the
columns FREE (the cycle after the last flit crossed), BUSY (flits carried), HELD (cycles packets
held it: busy plus the cycles a blocked packet kept it), JOBS (packets) and, from LEFT on, the
cycles the last `depth` flits left the buffer at its far end, oldest first (an ejection port
uses FREE only). `paths` holds a row per route: hops, the destination's ejection row, then the
rows of the links crossed in order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FREE, BUSY, HELD, JOBS, LEFT = 0, 1, 2, 3, 4
NEVER = -(1 << 40)  # a departure long before cycle 0: its credit is back
RING = 8  # bookings a channel remembers, to find the gaps between them


def new_state(channels: int, depth: int) -> np.ndarray:
    """Rows of `channels` idle channels: free at 0, nothing carried, every credit back.

    After the departures (LEFT + depth on) come the bookings remembered: the largest end and
    tail departure of those forgotten, the ring's next slot, then RING x (start, end, the
    tail's departure from the far buffer) of the latest bookings."""
    state = np.zeros((channels, LEFT + depth + 3 + 3 * RING), dtype=np.int64)
    state[:, LEFT:] = NEVER
    state[:, LEFT + depth + 2] = 0
    return state


@njit(cache=True)
def _remember(state, c, depth, start, end, depart):
    """Put a booking of channel row `c` in its ring, forgetting the oldest."""
    base = LEFT + depth
    col = base + 3 + 3 * state[c, base + 2]
    state[c, base] = max(state[c, base], state[c, col + 1])
    state[c, base + 1] = max(state[c, base + 1], state[c, col + 2])
    state[c, col], state[c, col + 1], state[c, col + 2] = start, end, depart
    state[c, base + 2] = (state[c, base + 2] + 1) % RING


@njit(cache=True)
def _next_fit(state, c, depth, t, flits, lat, link):
    """The earliest cycle from t on that the bookings of channel row `c` seen so far leave room
    for `flits` flits crossing at t, t + 1, ... (t itself when they fit) and, on a link, for
    them to leave its far buffer as they land: every flit that crossed before has left."""
    base = LEFT + depth
    if t < state[c, base]:
        return state[c, base]  # among the bookings forgotten
    later, before = t, state[c, base + 1]
    for r in range(RING):
        col = base + 3 + 3 * r
        if state[c, col + 1] > t:
            if state[c, col] < t + flits:
                later = max(later, state[c, col + 1])
        elif state[c, col + 2] > before:
            before = state[c, col + 2]
    if link and before >= t + lat:
        later = max(later, before + 1 - lat)
    return later


@njit(cache=True)
def send_packet(state, bits, paths, pid, head, flits, lat, depth, credit_bound, carried,
                times):
    """Book a packet of `flits` flits on route `pid` whose head may leave its source at `head`,
    behind the traffic already booked. Returns (the cycle the source's port is free again, the
    cycle after its tail was ejected); `times[0, i]` and `times[1, i]` are the cycles the
    packet started and stopped holding hop i. `carried` bits are added to every link crossed."""
    hops = paths[pid, 0]
    eject = paths[pid, 1]
    # the cheap test first: every link free when the head comes, and the packet ahead out of
    # each buffer by then (its credits, one a cycle, are then back in time too)
    late = credit_bound or state[eject, FREE] > head + hops * lat
    if not late:
        t = head
        for i in range(hops):
            c = paths[pid, 2 + i]
            if state[c, FREE] > t or state[c, LEFT + depth - 1] >= t + lat:
                late = True
                break
            t += lat
    if not late or not credit_bound and \
            _earliest_gap(state, paths, pid, head, flits, lat, depth, head + 1) == head:
        # behind the packets ahead, or through the gaps they leave, unhindered
        return _book_gaps(state, bits, paths, pid, head, flits, lat, depth, carried, times)
    free_at = np.empty(hops + 1, dtype=np.int64)
    left = np.empty((hops, depth), dtype=np.int64)
    for i in range(hops):
        c = paths[pid, 2 + i]
        free_at[i] = state[c, FREE]
        left[i] = state[c, LEFT:LEFT + depth]
    free_at[hops] = state[eject, FREE]
    if credit_bound:
        status, first, tail, rows = flit_times(head, free_at, left, flits, lat, depth)
    else:
        status, first, tail, rows = stream_times(head, free_at, left, flits, lat, depth)
    until = tail[hops] - hops * lat - flits + 1  # waiting longer delivers it no sooner
    if status and not credit_bound and until > head + 1:
        # or waiting at the source for a gap, if that delivers it sooner
        start = _earliest_gap(state, paths, pid, head + 1, flits, lat, depth, until)
        if start >= 0:
            return _book_gaps(state, bits, paths, pid, start, flits, lat, depth, carried,
                              times)
    if status:
        _book(state, bits, paths, pid, first, tail, rows, status == 2, flits, depth,
              carried)
        for i in range(hops):
            times[0, i] = first[i]
            times[1, i] = tail[i] + 1
        return tail[0] + 1, tail[hops] + 1
    # it meets no traffic ahead after all
    return _book_gaps(state, bits, paths, pid, head, flits, lat, depth, carried, times)


@njit(cache=True)
def _earliest_gap(state, paths, pid, t, flits, lat, depth, until):
    """The earliest cycle in [t, until) from which the packet streams unhindered through the
    gaps on its route (flit k crossing hop i at that cycle + i lat + k), or -1."""
    hops = paths[pid, 0]
    while t < until:
        fits = True
        for i in range(hops + 1):
            c = paths[pid, 2 + i] if i < hops else paths[pid, 1]
            later = _next_fit(state, c, depth, t + i * lat, flits, lat, i < hops) - i * lat
            if later > t:
                t, fits = later, False
                break
        if fits:
            return t
    return -1


@njit(cache=True)
def _book_gaps(state, bits, paths, pid, head, flits, lat, depth, carried, times):
    """Book a packet that streams unhindered (flit k crosses hop i at head + i lat + k), behind
    the bookings or through a gap between them. It delays none of them: on links at full rate (depth >= 2 lat) the
    credits its flits take are back before a later booking's flits need them, and it has left
    every buffer before they land. Departures from a buffer stay the latest `depth` in time."""
    hops = paths[pid, 0]
    eject = paths[pid, 1]
    t = head
    for i in range(hops):
        c = paths[pid, 2 + i]
        times[0, i] = t
        times[1, i] = t + flits
        state[c, FREE] = max(state[c, FREE], t + flits)
        state[c, BUSY] += flits
        state[c, HELD] += flits
        state[c, JOBS] += 1
        bits[c] += carried
        # merge its last departures (t + lat + k) into the latest `depth`, from the top
        mine, q = t + lat + flits - 1, depth - 1
        theirs = np.empty(depth, dtype=np.int64)
        theirs[:] = state[c, LEFT:LEFT + depth]
        r, taken = depth - 1, 0
        while q >= 0:
            if taken < flits and (r < 0 or mine - taken > theirs[r]):
                state[c, LEFT + q] = mine - taken
                taken += 1
            else:
                state[c, LEFT + q] = theirs[r]
                r -= 1
            q -= 1
        _remember(state, c, depth, t, t + flits, t + lat + flits - 1)
        t += lat
    state[eject, FREE] = max(state[eject, FREE], t + flits)
    _remember(state, eject, depth, t, t + flits, t + flits - 1)
    return head + flits, t + flits


@njit(cache=True)
def _book(state, bits, paths, pid, first, tail, rows, has_rows, flits, depth, carried):
    """Book a packet whose flit times the slow path worked out: `first` and `tail`, the head's
    and the tail's cycle at every hop; `rows`, the times of its last min(flits, depth) flits
    (unless `has_rows` is False: the tail's less 1, 2, ... cycles)."""
    hops = paths[pid, 0]
    for i in range(hops):
        c = paths[pid, 2 + i]
        end = tail[i] + 1
        state[c, FREE] = end
        state[c, BUSY] += flits
        state[c, HELD] += end - first[i]
        state[c, JOBS] += 1
        bits[c] += carried
        if not has_rows:
            for q in range(depth):
                state[c, LEFT + q] = tail[i + 1] + 1 - depth + q
        else:
            m = rows.shape[0]
            for q in range(depth - m):
                state[c, LEFT + q] = state[c, LEFT + q + m]
            for q in range(m):
                state[c, LEFT + depth - m + q] = rows[q, i + 1]
        _remember(state, c, depth, first[i], end, tail[i + 1])
    eject = paths[pid, 1]
    state[eject, FREE] = tail[hops] + 1
    _remember(state, eject, depth, first[hops], tail[hops] + 1, tail[hops])


@njit(cache=True)
def flit_times(head, free_at, left, flits, lat, depth):
    """Flit times of one packet behind the traffic already booked, flit by flit: (2, the head's
    row, the tail's row, the rows of the last min(flits, depth) flits), row k holding the cycle
    flit k crosses each hop i (i = hops is the ejection into the destination).

    `head` is the earliest cycle the head may leave the source; `free_at[i]` the cycle hop i
    is free (the last hop: the ejection port); `left[i]` the departures of the last `depth`
    flits from link i's far buffer. Row k is the longest path of the rules:

        t[k][i] >= t[k-1][i] + 1             one flit per cycle per link
        t[k][i] >= t[k][i-1] + lat           it must have arrived (t[k][-1] = head)
        t[0][i] >= free_at[i]                the link is held by the packets ahead
        t[0][i] >= left[i-1][-1] + 1         first in, first out: behind the last one ahead
        t[k][i] >= left[i][k] + lat          credits of the packets ahead (k < depth)
        t[k][i] >= t[k-depth][i+1] + lat     its own credits (k >= depth)

    Once k >= 2 depth and `depth` rows in a row have each been their row `depth` earlier plus
    one same shift d, every later row is too (the rules are shift-invariant there), so the
    loop stops and the rest follow in closed form.
    """
    hops = left.shape[0]
    grid = np.empty((flits, hops + 1), dtype=np.int64)
    shift, has_shift, run, known = 0, False, 0, flits
    for k in range(flits):
        t = head
        for i in range(hops + 1):
            if k == 0:
                t = max(t, free_at[i])
                if i:
                    t = max(t, left[i - 1, depth - 1] + 1)
            else:
                t = max(t, grid[k - 1, i] + 1)
            if i < hops:
                t = max(t, (left[i, k] if k < depth else grid[k - depth, i + 1]) + lat)
            grid[k, i] = t
            t += lat
        if k >= 2 * depth:
            d = grid[k, 0] - grid[k - depth, 0]
            same = True
            for i in range(hops + 1):
                if grid[k, i] - grid[k - depth, i] != d:
                    same = False
                    break
            if has_shift and d == shift and same:
                run += 1
            else:
                has_shift, shift, run = same, d, 1 if same else 0
            if run >= depth:
                known = k + 1
                break
    m = min(flits, depth)
    rows = np.empty((m, hops + 1), dtype=np.int64)
    base = known - depth  # rows base .. known-1 repeat with period depth, shifted by `shift`
    for j in range(m):
        k = flits - m + j
        if known == flits:
            rows[j] = grid[k]
        else:
            periods, r = divmod(k - base, depth)
            rows[j] = grid[base + r] + periods * shift
    return 2, grid[0].copy(), rows[m - 1].copy(), rows


@njit(cache=True)
def stream_times(head, free_at, left, flits, lat, depth):
    """`flit_times` in closed form, for links that run at full rate (depth >= 2 x latency):
    (status, head's row, tail's row, rows of the last flits), status 0 when the packet meets
    no traffic ahead (flit k crosses hop i at head + i lat + k), 1 when the last flits' rows are
    the tail's less 1, 2, ... cycles (not given), 2 when they are given.

    A bound that the traffic ahead sets at hop j (the link's free cycle, the packet ahead in
    the buffer, a credit of flit k0 < depth) delays the packet's free schedule there by some
    excess e. Along the longest paths of the rules it delays every flit k >= k0 at the hops
    downstream (i >= j) by e, and, through credits, flit k at hop i < j by
    e - (j - i)(depth - 2 lat) once k - k0 >= (j - i) depth (the buffers in between are full).
    Turning back and forth costs 2 lat per depth flits, never more than depth cycles of
    streaming, so these are the longest paths, and a bound the free schedule meets delays
    nothing. A flit's delay at a hop is the largest of these excesses. Departures from a buffer
    are one a cycle at most, so of a hop's credits the last (k0 = depth - 1) has the largest
    excess, the first (k0 = 0) the largest for the head.
    """
    hops = left.shape[0]
    drop = depth - 2 * lat
    first = np.zeros(hops + 1, dtype=np.int64)  # the head's row
    at = np.zeros(hops + 1, dtype=np.int64)  # per hop, the largest excess for the last flits
    fore = np.zeros(hops + 1, dtype=np.int64)  # and the largest at it or before it
    run_head = run = 0
    base, reach = head, 0  # reach: hops back that some excess delays
    ahead = 0  # the last departure from the buffer before this hop, plus 1
    for j in range(hops + 1):
        bound = free_at[j]
        if j and ahead > bound:
            bound = ahead  # behind the packet ahead in the buffer
        e_head = e = bound - base
        if j < hops:
            last_left = left[j, depth - 1]
            ahead = last_left + 1
            e_head = max(e_head, left[j, 0] + lat - base)
            e = max(e, last_left - depth + 1 + lat - base)
        if e > 0:
            run_head = max(run_head, e_head)
            run = max(run, e)
            back = j if drop == 0 or (e - 1) // drop > j else (e - 1) // drop
            reach = max(reach, back)
            at[j] = e
        first[j] = base + run_head
        fore[j] = run
        base += lat
    none = np.empty((0, hops + 1), dtype=np.int64)
    if not run:
        return 0, first, first, none
    if flits - 2 * depth + 1 < reach * depth:  # some bounds reach only some of the last flits
        return _short_stream_times(head, free_at, left, flits, lat, depth)
    last = np.empty(hops + 1, dtype=np.int64)
    ramp, t = 0, head + flits - 1 + hops * lat
    for i in range(hops, -1, -1):  # the ramps coming back from later hops
        last[i] = t + max(fore[i], ramp)
        ramp = max(ramp, at[i]) - drop
        t -= lat
    return 1, first, last, none


@njit(cache=True)
def _short_stream_times(head, free_at, left, flits, lat, depth):
    """`stream_times` of a packet too short for every bound to reach all of its last flits:
    the bounds one by one, flit by flit."""
    hops = left.shape[0]
    # the bounds that delay it, (hop j, flit k0, excess e), less those that an earlier one
    # (j' <= j, k0' <= k0, e' >= e) covers everywhere: `covered[k0]` is the largest such e'
    source = np.empty(((hops + 1) * (depth + 1), 3), dtype=np.int64)
    n = 0
    covered = np.zeros(depth, dtype=np.int64)
    base = head
    for j in range(hops + 1):
        bound = free_at[j]
        if j and left[j - 1, depth - 1] + 1 > bound:
            bound = left[j - 1, depth - 1] + 1  # behind the packet ahead in the buffer
        if bound - base > covered[0]:
            e = bound - base
            source[n, 0], source[n, 1], source[n, 2] = j, 0, e
            n += 1
            for q in range(depth):
                covered[q] = max(covered[q], e)
        if j < hops and left[j, depth - 1] + lat - base > covered[0]:
            for k0 in range(depth):
                e = left[j, k0] + lat - k0 - base
                if e > covered[k0]:
                    source[n, 0], source[n, 1], source[n, 2] = j, k0, e
                    n += 1
                    for q in range(k0, depth):
                        covered[q] = max(covered[q], e)
        base += lat
    none = np.empty((0, hops + 1), dtype=np.int64)
    if n == 0:
        return 0, free_at, free_at, none
    drop = depth - 2 * lat
    low = max(0, flits - depth)
    rows = np.empty((flits - low + 1, hops + 1), dtype=np.int64)  # the head's row last
    for r in range(rows.shape[0]):
        k = low + r if r < flits - low else 0
        delay = np.zeros(hops + 1, dtype=np.int64)
        for s in range(n):
            j, k0, e = source[s, 0], source[s, 1], source[s, 2]
            if k < k0:
                continue
            for i in range(j, hops + 1):
                delay[i] = max(delay[i], e)
            i, e, reach = j - 1, e - drop, k - k0 - depth
            while i >= 0 and reach >= 0 and e > 0:
                delay[i] = max(delay[i], e)
                i, e, reach = i - 1, e - drop, reach - depth
        for i in range(hops + 1):
            rows[r, i] = head + k + i * lat + delay[i]
    last = rows[:flits - low]
    return 2, rows[flits - low].copy(), last[flits - low - 1].copy(), last.copy()
