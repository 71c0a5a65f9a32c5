"""A traced run as Chrome trace-event JSON, the format the Perfetto UI (https://ui.perfetto.dev)
and ``chrome://tracing`` load.

``to_trace_events(result)`` turns the event trace of a run made with ``kmapsim.run(...,
trace=N)`` into the JSON object; ``write(result, path)`` writes it. What it holds:

- one process (pid 1) and one thread per CPU (tid = the CPU's index, named ``cpu N``, sorted by
  index), carrying a complete slice (``ph: "X"``) per stretch of the CPU in one cycle category.
  A flush IPI's handler is a slice nested inside the slice of the category it interrupted, which
  goes on around it; every other state change ends one slice and starts the next. A visit that
  lasts no cycle (several state changes in one cycle) has no slice: it counts for no cycle in the
  breakdown either (docs/model.md, section 2);
- a flow arrow (``"s"`` then ``"f"``, both bound to their enclosing slice) from each flush IPI's
  send, on the sender's track, to the start of its handler on the target's track. ``id`` is
  ``call * cpus + target``. An IPI whose send or whose handler start is outside the trace
  window has no arrow;
- instant events (``ph: "i"``, thread scope) for the other engine events: stale reads (named
  ``STALE READ``), mappings, kunmaps, flush loops, lock grants and releases, IPI arrivals,
  flushes other than the handler's own, TLB fills and evictions, sleeps and wake-ups. Their
  ``args`` are the engine's fields;
- counter tracks (``ph: "C"``): ``kmap_lock queue`` (CPUs spinning on the lock), ``free slots``
  (free and clean pkmap slots) and ``IPIs in flight`` (sent and not yet in their handler: on
  the way or pending in an APIC). A counter changing several times in one cycle (above
  1000 MHz: in one nanosecond) shows the value at its end.

The engine keeps only the newest events (``trace=N``), so the window may begin in mid-run: each
CPU's first slice then begins at its first state change in the window. A complete trace (no
event dropped) begins at cycle 0, where every CPU is in ``work`` (the engine records no event for
the initial category). Slices still open at the end close at ``result.cycles``.

Time: ``ts`` and ``dur`` are microseconds at ``scenario.cpu_mhz``, i.e. ``cycle / cpu_mhz``,
rounded to the nanosecond. Perfetto keeps nanoseconds and truncates ``ts`` and ``dur``
separately, so unrounded values could make a slice that ends with its parent end one
nanosecond after it, which Perfetto reports as bad nesting and drops. Rounded, every slice that
nests in cycles nests in Perfetto too. Events are written sorted by time, and at equal times
parents before children, flows before instants, so the flows bind to the slices meant.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmapsim import _core
from kmapsim.errors import ScenarioError, ScenarioTypeError
from kmapsim.outputs import TRACE_SUFFIXES, output_file, writing
from kmapsim.result import RunResult

__all__ = ["PHASES", "PID", "to_trace_events", "write"]

#: The trace-event phases this module writes.
PHASES = frozenset({"M", "X", "i", "s", "f", "C"})
#: The process all tracks belong to.
PID = 1

#: A CPU's category at cycle 0, which the engine does not record as an event.
_INITIAL_CATEGORY = "work"
_HANDLER = "ipi_handler"
_FLOW_NAME = "flush IPI"
_FLOW_CAT = "ipi"
#: Engine events drawn otherwise than as instants (slices, flows, counters).
_NOT_INSTANTS = frozenset({"state", "ipi_sent", "ipi_handler", "lock_queue", "free_slots"})
# Sort groups for events with the same timestamp: slices first (longest first), then flows,
# then instants and counters in engine order.
_G_SLICE, _G_FLOW, _G_OTHER = 0, 1, 2


@dataclass
class _Slice:
    cpu: int
    name: str
    cat: str
    start: int
    depth: int
    args: dict[str, Any] = field(default_factory=dict)
    end: int = -1


class _Clock:
    """Cycles to whole nanoseconds at ``mhz``: monotone, so nesting in cycles survives."""

    def __init__(self, mhz: float) -> None:
        self._mhz = float(mhz)
        self._int_mhz = int(mhz) if float(mhz).is_integer() else 0

    def ns(self, cycle: int) -> int:
        m = self._int_mhz
        if m:
            return (2000 * cycle + m) // (2 * m)  # cycle * 1000 / m, rounded half up, exactly
        return round(cycle * 1000.0 / self._mhz)


@dataclass
class _Builder:
    cpus: int
    end: int
    stacks: list[list[_Slice]]
    slices: list[_Slice] = field(default_factory=list)
    #: Per CPU: the (call, arrived) of a handler that started and whose state event is due.
    handler_due: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: (call, target) -> (sender, send cycle)
    sends: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    #: (call, target) -> the handler's slice
    handlers: dict[tuple[int, int], _Slice] = field(default_factory=dict)
    #: (call, target) of IPIs seen arriving or handled: sent before the window if not in sends.
    received: set[tuple[int, int]] = field(default_factory=set)
    #: (cycle, cpu, name, cat, args) in engine order
    instants: list[tuple[int, int, str, str, dict[str, Any]]] = field(default_factory=list)
    #: counter name -> [(cycle, cpu, arg, value)] in engine order
    counters: dict[str, list[tuple[int, int, str, int]]] = field(default_factory=dict)
    #: (cycle, +1 | -1, (call, target)) for the IPIs-in-flight counter
    ipi_moves: list[tuple[int, int, tuple[int, int]]] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)

    def note(self, what: str) -> None:
        self.notes[what] = self.notes.get(what, 0) + 1

    def close(self, s: _Slice, t: int) -> None:
        s.end = t
        if t > s.start:  # a visit that lasts no cycle gets no slice
            self.slices.append(s)

    def open(self, cpu: int, name: str, cat: str, t: int, args: dict[str, Any]) -> _Slice:
        stack = self.stacks[cpu]
        s = _Slice(cpu, name, cat, t, len(stack), args)
        stack.append(s)
        return s

    def state(self, t: int, cpu: int, category: str) -> None:
        stack = self.stacks[cpu]
        if category == _HANDLER:
            # The handler interrupts whatever is open, which goes on around it.
            if stack and stack[-1].name == _HANDLER:
                self.note("handler_inside_handler")
                self.close(stack.pop(), t)
            due = self.handler_due.pop(cpu, None)
            args: dict[str, Any] = {}
            if due is not None:
                args = {"call": due[0], "arrived": due[1]}
            s = self.open(cpu, _HANDLER, _FLOW_CAT, t, args)
            if due is not None:
                self.handlers[(due[0], cpu)] = s
            return
        if stack and stack[-1].name == _HANDLER:
            self.close(stack.pop(), t)
            if stack and stack[-1].name == category:
                return  # back in the interrupted category, whose slice goes on
            if stack:
                self.note("handler_returned_elsewhere")
        while stack:
            self.close(stack.pop(), t)
        self.open(cpu, category, "state", t, {})

    def finish(self) -> None:
        for stack in self.stacks:
            while stack:
                self.close(stack.pop(), self.end)


def _events(result: RunResult) -> Iterator[tuple[int, int, str, dict[str, Any]]]:
    tr = result.trace
    columns = (
        tr["cycle"].tolist(),
        tr["cpu"].tolist(),
        tr["event"].tolist(),
        tr["fields"].tolist(),
    )
    yield from zip(*columns, strict=True)


def _build(result: RunResult) -> _Builder:
    cpus = result.scenario.cpus
    b = _Builder(cpus=cpus, end=result.cycles, stacks=[[] for _ in range(cpus)])
    if result.trace_dropped == 0:
        for c in range(cpus):
            b.open(c, _INITIAL_CATEGORY, "state", 0, {})
    for t, c, kind, f in _events(result):
        if kind == "state":
            b.state(t, c, str(f["category"]))
        elif kind == "ipi_sent":
            key = (int(f["call"]), int(f["to"]))
            b.sends[key] = (c, t)
            b.ipi_moves.append((t, +1, key))
        elif kind == "ipi_handler":
            key = (int(f["call"]), c)
            b.handler_due[c] = (key[0], int(f["arrived"]))
            b.received.add(key)
            b.ipi_moves.append((t, -1, key))
        elif kind == "lock_queue":
            name = f"{f.get('lock', 'kmap_lock')} queue"
            b.counters.setdefault(name, []).append((t, c, "waiters", int(f["waiters"])))
        elif kind == "free_slots":
            b.counters.setdefault("free slots", []).append((t, c, "count", int(f["free"])))
        if kind in _NOT_INSTANTS:
            continue
        if kind == "ipi_arrived":
            b.received.add((int(f["call"]), c))
        if kind == "tlb_flush" and f.get("why") == "handler":
            continue  # the end of the handler's slice
        b.instants.append((t, c, *_instant_name(kind, f), dict(f)))
    b.finish()
    _ipis_in_flight(b, _window_start(result))
    return b


def _window_start(result: RunResult) -> int:
    """The first cycle the trace covers: 0 if nothing was dropped."""
    return 0 if result.trace_dropped == 0 else int(result.trace["cycle"].iloc[0])


def _instant_name(kind: str, f: dict[str, Any]) -> tuple[str, str]:
    if kind == "stale_read":
        return "STALE READ", "safety"
    if kind in ("lock_acquired", "lock_released"):
        lock = str(f.get("lock", "?"))
        if "index" in f:
            lock += f"[{f['index']}]"
        return f"{kind} {lock}", "lock"
    if kind == "tlb_flush":
        return f"tlb_flush ({f.get('why', '?')})", "tlb"
    if kind in ("tlb_fill", "tlb_evict"):
        return kind, "tlb"
    if kind in ("mapped", "unmapped", "flush_begin"):
        return kind, "pkmap"
    if kind == "ipi_arrived":
        return ("IPI taken" if f.get("taken") else "IPI pending"), _FLOW_CAT
    return kind, "cpu"


def _ipis_in_flight(b: _Builder, start: int) -> None:
    """Sent and not yet in their handler, from cycle ``start`` on. IPIs that arrive or are
    handled in the window without their send in it were sent earlier: they count from the
    start."""
    if not b.ipi_moves:
        return
    before = {key for key in b.received if key not in b.sends}
    n = len(before)
    points = [(start, 0, "count", n)]
    for t, delta, key in b.ipi_moves:
        if delta < 0 and key not in b.sends and key not in before:
            continue
        n += delta
        points.append((t, key[1] if delta < 0 else b.sends[key][0], "count", n))
    b.counters["IPIs in flight"] = points


def _binding_slice(track: tuple[list[int], list[_Slice]] | None, t: int) -> _Slice | None:
    """The innermost slice of a track (its starts, its slices by start then depth) that
    contains cycle ``t``: walking back from the last slice to start by ``t``, the first that
    contains it (the slices containing ``t`` nest, so the innermost started last)."""
    if track is None:
        return None
    starts, slices = track
    i = bisect.bisect_right(starts, t) - 1
    while i >= 0:
        s = slices[i]
        if s.end > t:
            return s
        if s.depth == 0:
            return None  # earlier top-level slices, and all they contain, end before it
        i -= 1
    return None


#: An event to write: its sort key (nanoseconds, group, then within the group: slices longest
#: first, then outer first; others in the order made) and what to make it from.
_Item = tuple[int, int, int, int, int, str, Any]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The export makes millions of small acyclic objects: the cycle collector's passes over
    them would take most of the time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class _Export:
    head: list[dict[str, Any]]
    items: list[_Item]
    metadata: dict[str, Any]

    def events(self) -> Iterator[dict[str, Any]]:
        yield from self.head
        for ns, _, _, _, _, ph, p in self.items:
            ts = ns / 1000
            if ph == "X":
                s, dur = p
                args = {"start_cycle": s.start, "cycles": s.end - s.start, **s.args}
                yield {"name": s.name, "cat": s.cat, "ph": "X", "pid": PID, "tid": s.cpu,
                       "ts": ts, "dur": dur / 1000, "args": args}  # fmt: skip
            elif ph == "i":
                t, c, name, cat, args = p
                yield {"name": name, "cat": cat, "ph": "i", "s": "t", "pid": PID, "tid": c,
                       "ts": ts, "args": {"cycle": t, **args}}  # fmt: skip
            elif ph == "C":
                name, c, arg, value = p
                yield {"name": name, "cat": "counter", "ph": "C", "pid": PID, "tid": c,
                       "ts": ts, "args": {arg: value}}  # fmt: skip
            else:  # "s" or "f"
                fid, tid, args = p
                yield {"name": _FLOW_NAME, "cat": _FLOW_CAT, "ph": ph, "bp": "e", "id": fid,
                       "pid": PID, "tid": tid, "ts": ts, "args": args}  # fmt: skip


def _export(result: RunResult) -> _Export:
    traced = "a RunResult of a traced run: kmapsim.run(..., trace=N) with N > 0"
    if not isinstance(result, RunResult):
        raise ScenarioTypeError.got("result", result, traced)
    if len(result.trace) == 0:
        raise ScenarioError.of("result", "the run has no trace events", traced)
    sc = result.scenario
    ns = _Clock(sc.cpu_mhz).ns
    b = _build(result)
    items: list[_Item] = []
    add = items.append
    seq = 0

    for s in b.slices:
        start, end = ns(s.start), ns(s.end)
        add((start, _G_SLICE, start - end, s.depth, seq := seq + 1, "X", (s, end - start)))

    by_cpu: dict[int, list[_Slice]] = {}
    for s in sorted(b.slices, key=lambda s: (s.start, s.depth)):
        by_cpu.setdefault(s.cpu, []).append(s)
    tracks = {c: ([s.start for s in ss], ss) for c, ss in by_cpu.items()}
    flows = dropped_flows = 0
    for key, (sender, sent) in sorted(b.sends.items(), key=lambda kv: (kv[1][1], kv[0])):
        handler = b.handlers.get(key)
        source = _binding_slice(tracks.get(sender), sent)
        if handler is None or source is None or handler.end <= handler.start:
            dropped_flows += 1
            continue
        call, target = key
        fid = call * sc.cpus + target
        # Each end sits at the start of its slice, where that slice is the innermost open one.
        args: dict[str, Any] = {"call": call, "to": target, "sent_cycle": sent}
        add((ns(source.start), _G_FLOW, 0, 0, seq := seq + 1, "s", (fid, sender, args)))
        args = {"call": call, "from": sender, "handler_cycle": handler.start}
        add((ns(handler.start), _G_FLOW, 0, 0, seq := seq + 1, "f", (fid, target, args)))
        flows += 1

    for inst in b.instants:
        add((ns(inst[0]), _G_OTHER, 0, 0, seq := seq + 1, "i", inst))

    for name, points in b.counters.items():
        last: dict[int, tuple[str, int, str, int]] = {}
        for t, c, arg, value in points:  # the value at the end of each nanosecond
            last[ns(t)] = (name, c, arg, value)
        for at, point in last.items():
            add((at, _G_OTHER, 0, 0, seq := seq + 1, "C", point))

    items.sort()  # the sequence numbers are unique: payloads are never compared
    metadata: dict[str, Any] = {
        "generator": f"kmapsim {_core.__version__}",
        "scenario": sc.to_dict(),
        "seed": result.seed,
        "cycles": result.cycles,
        "mode": result.mode,
        "cpu_mhz": sc.cpu_mhz,
        "time_unit": "ts and dur in microseconds at cpu_mhz, rounded to the nanosecond",
        "trace_events": len(result.trace),
        "trace_dropped": result.trace_dropped,
        "window_start_cycle": _window_start(result),
        "window_end_cycle": result.cycles,
        "flows": flows,
        "flows_outside_window": dropped_flows,
    }
    if b.notes:
        metadata["export_notes"] = dict(b.notes)
    return _Export(_metadata_events(result), items, metadata)


def to_trace_events(result: RunResult) -> dict[str, Any]:
    """The traced run ``result`` as a trace-event JSON object (see the module doc):
    ``{"traceEvents": [...], "displayTimeUnit": "ns", "metadata": {...}}``, the metadata
    naming the scenario, seed, cycles and the events kept and dropped.

    Raises ScenarioError if the run was not traced (``kmapsim.run(..., trace=N)``),
    ScenarioTypeError (a TypeError) if ``result`` is no RunResult.
    """
    with _gc_paused():
        ex = _export(result)
        events = list(ex.events())
    return {"traceEvents": events, "displayTimeUnit": "ns", "metadata": ex.metadata}


def _metadata_events(result: RunResult) -> list[dict[str, Any]]:
    sc = result.scenario
    label = f"kmapsim ({sc.cpus} CPU{'' if sc.cpus == 1 else 's'}, strategy {sc.strategy})"
    out: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": PID, "tid": 0, "args": {"name": label}},
        {"name": "process_sort_index", "ph": "M", "pid": PID, "tid": 0, "args": {"sort_index": 0}},
    ]
    for c in range(sc.cpus):
        out.append(
            {"name": "thread_name", "ph": "M", "pid": PID, "tid": c, "args": {"name": f"cpu {c}"}}
        )
        out.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": PID,
                "tid": c,
                "args": {"sort_index": c},
            }
        )
    return out


def write(result: RunResult, path: str | os.PathLike[str]) -> Path:
    """Write ``to_trace_events(result)`` to ``path`` as compact JSON, event by event (the
    whole document is never in memory); returns the path.

    Raises ScenarioError if the run was not traced, ScenarioFileError if ``path`` cannot be
    written (not ending in ``.json``, a directory, in a missing or read-only directory).
    """
    encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    with _gc_paused():
        ex = _export(result)
        out = output_file("path", path, TRACE_SUFFIXES, "a .json file")
        with writing("path", out), out.open("w", encoding="utf-8") as fh:
            fh.write('{"traceEvents":[')
            chunk: list[str] = []
            sep = ""
            for ev in ex.events():
                chunk.append(encode(ev))
                if len(chunk) == 10_000:
                    fh.write(sep + ",".join(chunk))
                    sep = ","
                    chunk.clear()
            if chunk:
                fh.write(sep + ",".join(chunk))
            fh.write('],"displayTimeUnit":"ns","metadata":' + encode(ex.metadata) + "}")
    return out
