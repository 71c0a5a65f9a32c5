"""The Perfetto / Chrome trace-event export of a traced run (`kmapsim.perfetto`).

The checks read the written JSON as Perfetto does: timestamps from their decimal text, turned
into whole nanoseconds by dropping digits after the third decimal, each of ``ts`` and ``dur`` on
its own. Slices must nest or be disjoint on each track in those nanoseconds, since Perfetto drops
a slice that partly overlaps another.
"""

from __future__ import annotations

import itertools
import json
import tracemalloc
from collections import Counter, defaultdict
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_process import kmapsim_cli

import kmapsim
from kmapsim import Scenario
from kmapsim.perfetto import PHASES, PID, to_trace_events, write

CONTENDED = Scenario(
    cpus=4, last_pkmap=8, pages=64, hot_pages=4, work_cycles=500, ipi_latency=800, strategy="sync"
)
CYCLES = 300_000


def _ns(value: Decimal | int) -> int:
    """A JSON microsecond value in nanoseconds, truncated as Perfetto's importer does."""
    return int((Decimal(value) * 1000).to_integral_value(rounding=ROUND_DOWN))


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    return doc


def _written(result: kmapsim.RunResult, tmp_path: Path, name: str = "t.json") -> dict[str, Any]:
    return _load(write(result, tmp_path / name))


def check_trace(doc: dict[str, Any], cpus: int) -> dict[str, list[dict[str, Any]]]:
    """Assert that ``doc`` is a well-formed trace; returns its events by phase."""
    assert doc["displayTimeUnit"] == "ns"
    events = doc["traceEvents"]
    assert events
    by_phase: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ev in events:
        assert ev["ph"] in PHASES, ev
        assert type(ev["pid"]) is int and ev["pid"] == PID, ev
        assert type(ev["tid"]) is int and 0 <= ev["tid"] < cpus, ev
        assert isinstance(ev["name"], str) and ev["name"], ev
        if ev["ph"] != "M":
            assert isinstance(ev["ts"], (int, Decimal)) and ev["ts"] >= 0, ev
        by_phase[ev["ph"]].append(ev)

    # Metadata: the process and one named, sorted thread per CPU.
    meta = by_phase["M"]
    assert any(m["name"] == "process_name" and "kmapsim (" in m["args"]["name"] for m in meta)
    names = {m["tid"]: m["args"]["name"] for m in meta if m["name"] == "thread_name"}
    assert names == {c: f"cpu {c}" for c in range(cpus)}
    sort = {m["tid"]: m["args"]["sort_index"] for m in meta if m["name"] == "thread_sort_index"}
    assert sort == {c: c for c in range(cpus)}

    # Slices nest on each track, in Perfetto's nanoseconds.
    tracks: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for x in by_phase["X"]:
        assert isinstance(x["dur"], (int, Decimal)) and x["dur"] >= 0, x
        start = _ns(x["ts"])
        tracks[x["tid"]].append((start, start + _ns(x["dur"])))
    for tid, spans in tracks.items():
        spans.sort(key=lambda s: (s[0], -s[1]))
        open_ends: list[int] = []
        for start, end in spans:
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1], f"cpu {tid}: partial overlap at {start}"
            open_ends.append(end)

    # Every flow start has exactly one end, with the same name and category, not earlier.
    starts = Counter(ev["id"] for ev in by_phase["s"])
    ends = Counter(ev["id"] for ev in by_phase["f"])
    assert all(type(i) is int for i in [*starts, *ends])
    assert set(starts.values()) <= {1} and set(ends.values()) <= {1}
    assert set(starts) == set(ends)
    start_of = {ev["id"]: ev for ev in by_phase["s"]}
    for f in by_phase["f"]:
        s = start_of[f["id"]]
        assert (s["name"], s["cat"]) == (f["name"], f["cat"])
        assert f["bp"] == "e"
        assert _ns(f["ts"]) >= _ns(s["ts"])
        assert f["id"] == f["args"]["call"] * cpus + f["tid"]

    # Every flow end sits on an IPI-handler slice that starts at the same time on its track.
    handler_starts = {(x["tid"], _ns(x["ts"])) for x in by_phase["X"] if x["name"] == "ipi_handler"}
    for f in by_phase["f"]:
        assert (f["tid"], _ns(f["ts"])) in handler_starts, f
    # ... and every flow start inside a slice of the sender.
    for s in by_phase["s"]:
        t = _ns(s["ts"])
        assert any(a <= t < b for a, b in tracks[s["tid"]]), s

    # Counters: non-negative integers.
    for ev in by_phase["C"]:
        assert ev["args"], ev
        for v in ev["args"].values():
            assert type(v) is int and v >= 0, ev

    # Instants: thread-scoped.
    for ev in by_phase["i"]:
        assert ev["s"] == "t"

    # Written in time order, as the importer sorts them anyway.
    times = [_ns(ev["ts"]) for ev in events if ev["ph"] != "M"]
    assert times == sorted(times)

    md = doc["metadata"]
    assert md["trace_dropped"] >= 0 and md["trace_events"] > 0
    return by_phase


@pytest.mark.parametrize("strategy", ["sync", "async"])
def test_contended_trace_is_valid(strategy: str, tmp_path: Path) -> None:
    sc = CONTENDED.replace(strategy=strategy)
    r = kmapsim.run(sc, cycles=CYCLES, seed=1, trace=1_000_000)
    assert r.trace_dropped == 0
    doc = _written(r, tmp_path)
    by = check_trace(doc, sc.cpus)
    md = doc["metadata"]
    assert (md["seed"], md["cycles"], md["trace_dropped"]) == (1, CYCLES, 0)
    assert md["scenario"]["strategy"] == strategy and md["trace_events"] == len(r.trace)
    assert md["window_start_cycle"] == 0 and "export_notes" not in md

    # A slice per CPU state: the slices of each track cover the whole run, cycle for cycle
    # (the handlers nested inside), and add up to the breakdown.
    per_cpu: dict[int, Counter[str]] = defaultdict(Counter)
    for x in by["X"]:
        per_cpu[x["tid"]][x["name"]] += x["args"]["cycles"]
    for c in range(sc.cpus):
        handler = per_cpu[c]["ipi_handler"]
        assert sum(per_cpu[c].values()) - handler <= CYCLES
        expected = {k: int(v) for k, v in r.breakdown.loc[c].items() if v}
        # A handler's cycles are counted in its own slice and in the slice it interrupted.
        got = dict(per_cpu[c])
        assert got.get("ipi_handler", 0) == expected.get("ipi_handler", 0)
        assert sum(got.values()) - got.get("ipi_handler", 0) == CYCLES

    # One flow per IPI: all sends are in the window and the run is long enough for the handlers
    # of all but the last flush to have started.
    sent = (r.trace["event"] == "ipi_sent").sum()
    handled = (r.trace["event"] == "ipi_handler").sum()
    assert len(by["s"]) == handled and handled >= sent - (sc.cpus - 1) and handled > 10
    assert md["flows"] == handled

    # Handler slices are nested: deeper than the slice they interrupted.
    assert any(x["name"] == "ipi_handler" for x in by["X"])

    names = {ev["name"] for ev in by["i"]}
    assert {"mapped", "unmapped", "flush_begin"} <= names
    if r.counters["stale_accesses"]:
        stale = [ev for ev in by["i"] if ev["name"] == "STALE READ"]
        assert len(stale) == r.counters["stale_accesses"]
        assert {"slot", "expected", "actual"} <= set(stale[0]["args"])


def test_nesting_on_the_engine_trace() -> None:
    """The handler slices sit inside the slice of the category they interrupted, which has the
    same name before and after; the state slices of a track do not overlap."""
    r = kmapsim.run(CONTENDED.replace(strategy="async"), cycles=CYCLES, seed=1, trace=1_000_000)
    doc = to_trace_events(r)
    xs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    for tid in range(CONTENDED.cpus):
        mine = [e for e in xs if e["tid"] == tid]
        outer = sorted(
            (e["args"]["start_cycle"], e["args"]["start_cycle"] + e["args"]["cycles"])
            for e in mine
            if e["name"] != "ipi_handler"
        )
        assert outer[0][0] == 0 and outer[-1][1] == CYCLES
        assert all(a[1] == b[0] for a, b in itertools.pairwise(outer)), "gap or overlap"
        for h in (e for e in mine if e["name"] == "ipi_handler"):
            s, n = h["args"]["start_cycle"], h["args"]["cycles"]
            assert any(a <= s and s + n <= b for a, b in outer)
            assert h["args"]["call"] >= 1


def test_counter_tracks(tmp_path: Path) -> None:
    r = kmapsim.run(CONTENDED, cycles=CYCLES, seed=1, trace=1_000_000)
    if not (r.trace["event"] == "lock_queue").any():
        pytest.skip("the installed engine records no lock_queue events (rebuild it)")
    by = check_trace(_written(r, tmp_path), CONTENDED.cpus)
    counters: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ev in by["C"]:
        counters[ev["name"]].append(ev)
    assert {"kmap_lock queue", "free slots", "IPIs in flight"} <= set(counters)
    queue = [ev["args"]["waiters"] for ev in counters["kmap_lock queue"]]
    assert max(queue) >= 1 and max(queue) <= CONTENDED.cpus
    free = [ev["args"]["count"] for ev in counters["free slots"]]
    assert max(free) <= CONTENDED.last_pkmap and min(free) == 0  # the pool runs dry
    in_flight = [ev["args"]["count"] for ev in counters["IPIs in flight"]]
    assert in_flight[0] == 0 and max(in_flight) == CONTENDED.cpus - 1
    # One value per counter and time.
    for evs in counters.values():
        times = [ev["ts"] for ev in evs]
        assert len(times) == len(set(times))


def test_small_cap_on_a_long_run_is_still_valid(tmp_path: Path) -> None:
    for strategy in ("sync", "async"):
        r = kmapsim.run(CONTENDED.replace(strategy=strategy), cycles=2_000_000, seed=3, trace=200)
        assert len(r.trace) == 200 and r.trace_dropped > 0
        doc = _written(r, tmp_path, f"{strategy}.json")
        check_trace(doc, CONTENDED.cpus)
        md = doc["metadata"]
        assert md["trace_dropped"] == r.trace_dropped and md["trace_events"] == 200
        assert md["window_start_cycle"] == int(r.trace["cycle"].iloc[0]) > 0
        # No slice starts before the window.
        for ev in doc["traceEvents"]:
            if ev["ph"] == "X":
                assert ev["args"]["start_cycle"] >= md["window_start_cycle"]


@pytest.mark.parametrize("cap", [1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
def test_any_window_is_valid(cap: int) -> None:
    """Windows that cut a handler, a send or a flow anywhere still give a valid trace."""
    sc = CONTENDED.replace(strategy="async", cpus=3, ipi_latency=50)
    r = kmapsim.run(sc, cycles=150_000, seed=cap, trace=cap)
    check_trace(json.loads(json.dumps(to_trace_events(r)), parse_float=Decimal), sc.cpus)


def test_trace_memory_stays_under_the_cap() -> None:
    """A long run keeps exactly the cap: the newest events, the older ones counted as drops."""
    sc = Scenario.preset("pIII-8way-2001", cpus=8)
    tracemalloc.start()
    try:
        r = kmapsim.run(sc, cycles=5_000_000, seed=1, trace=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(r.trace) == 1000 and r.trace_dropped > 0
    # Python-side allocations of the whole traced run stay small (the engine's own buffer is a
    # ring of at most `trace` events).
    assert peak < 20_000_000
    full = kmapsim.run(sc, cycles=5_000_000, seed=1, trace=kmapsim.runner.MAX_TRACE)
    assert full.trace_dropped == 0
    assert len(full.trace) == 1000 + r.trace_dropped
    tail = full.trace.iloc[-1000:].reset_index(drop=True)
    assert tail[["cycle", "cpu", "event", "detail"]].equals(
        r.trace[["cycle", "cpu", "event", "detail"]]
    )
    doc = to_trace_events(r)
    assert doc["metadata"]["trace_dropped"] == r.trace_dropped
    assert doc["metadata"]["trace_events"] == 1000


def test_untraced_run_is_refused() -> None:
    r = kmapsim.run(CONTENDED, cycles=10_000, seed=1)
    with pytest.raises(ValueError, match="trace="):
        to_trace_events(r)


def test_fractional_clock_keeps_nesting(tmp_path: Path) -> None:
    """At a clock rate that is no whole number of MHz, and at one above 1 GHz (several cycles
    to a nanosecond), slices still nest in Perfetto's nanoseconds."""
    for mhz in (733.333, 3000.0):
        sc = CONTENDED.replace(strategy="async", cpu_mhz=mhz)
        r = kmapsim.run(sc, cycles=100_000, seed=2, trace=100_000)
        check_trace(_written(r, tmp_path, f"{mhz}.json"), sc.cpus)


def test_cli_writes_a_trace(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    p = kmapsim_cli(
        "trace",
        "--preset", "pIII-8way-2001",
        "--cpus", "4",
        "--strategy", "async",
        "--set", "last_pkmap=16",
        "--cycles", "3_000_000",
        "--seed", "2",
        "--cap", "5000",
        "-o", str(out),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "https://ui.perfetto.dev" in p.stdout and "5,000 engine events" in p.stdout
    assert f"{out.stat().st_size:,} bytes" in p.stdout
    doc = _load(out)
    check_trace(doc, 4)
    md = doc["metadata"]
    assert md["scenario"]["last_pkmap"] == 16 and md["scenario"]["strategy"] == "async"
    assert md["trace_events"] == 5000 and md["trace_dropped"] > 0


def test_cli_trace_bad_cap(tmp_path: Path) -> None:
    p = kmapsim_cli("trace", "--cycles", "1000", "--cap", "0", "-o", str(tmp_path / "x.json"))
    assert p.returncode == 2 and "--cap" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "x.json").exists()


def _synthetic(
    events: list[tuple[int, int, str, dict[str, Any]]], cycles: int, dropped: int
) -> kmapsim.RunResult:
    """A real (untraced) result of 2 CPUs given a hand-written trace."""
    r = kmapsim.run(CONTENDED.replace(cpus=2), cycles=cycles, seed=1)
    d = {**r.to_dict(), "trace": [list(e) for e in events], "trace_dropped": dropped}
    return kmapsim.RunResult.from_dict(d)


def _slices(doc: dict[str, Any]) -> set[tuple[int, str, int, int]]:
    return {
        (e["tid"], e["name"], e["args"]["start_cycle"], e["args"]["cycles"])
        for e in doc["traceEvents"]
        if e["ph"] == "X"
    }


def test_handler_nests_and_zero_length_visits_vanish() -> None:
    """The engine's order within a cycle: a handler that ends with the slice it interrupted,
    zero-length visits, and the flow from the send to the handler."""
    events: list[tuple[int, int, str, dict[str, Any]]] = [
        (3, 1, "state", {"category": "copy"}),
        (7, 0, "ipi_sent", {"to": 1, "arrival": 11, "call": 1}),
        (7, 0, "state", {"category": "ipi_send"}),
        (10, 0, "state", {"category": "ipi_wait"}),
        (11, 1, "ipi_arrived", {"call": 1, "taken": 1}),
        (11, 1, "ipi_handler", {"call": 1, "arrived": 11}),
        (11, 1, "state", {"category": "ipi_handler"}),
        (20, 1, "tlb_flush", {"why": "handler"}),
        (20, 1, "state", {"category": "copy"}),
        (20, 1, "state", {"category": "work"}),
        (20, 1, "state", {"category": "kmap_spin"}),
    ]
    doc = to_trace_events(_synthetic(events, 30, 0))
    assert _slices(doc) == {
        (0, "work", 0, 7),
        (0, "ipi_send", 7, 3),
        (0, "ipi_wait", 10, 20),
        (1, "work", 0, 3),
        (1, "copy", 3, 17),
        (1, "ipi_handler", 11, 9),
        (1, "kmap_spin", 20, 10),
    }
    check_trace(json.loads(json.dumps(doc), parse_float=Decimal), 2)
    s, f = (next(e for e in doc["traceEvents"] if e["ph"] == ph) for ph in "sf")
    assert (s["tid"], s["id"], s["ts"]) == (0, 1 * 2 + 1, 0.01)  # cycle 7 at 700 MHz = 10 ns
    assert (f["tid"], f["id"], f["ts"]) == (1, 3, 0.016)  # cycle 11 = 15.71 ns, rounded
    assert "handler" not in {e["name"] for e in doc["traceEvents"] if e["ph"] == "i"}
    assert doc["metadata"]["flows"] == 1


def test_window_cutting_a_handler_and_a_flow() -> None:
    """A trace that begins inside a handler, with the send of that IPI dropped, and an IPI sent
    in the window whose handler is not: no slice before the window, no half flow."""
    events: list[tuple[int, int, str, dict[str, Any]]] = [
        (100, 1, "tlb_flush", {"why": "handler"}),
        (100, 1, "state", {"category": "kmap_spin"}),
        (105, 0, "state", {"category": "flush_scan"}),
        (110, 0, "ipi_sent", {"to": 1, "arrival": 150, "call": 9}),
        (110, 0, "state", {"category": "ipi_send"}),
        (120, 0, "state", {"category": "local_flush"}),
    ]
    doc = to_trace_events(_synthetic(events, 140, 1234))
    assert _slices(doc) == {
        (1, "kmap_spin", 100, 40),
        (0, "flush_scan", 105, 5),
        (0, "ipi_send", 110, 10),
        (0, "local_flush", 120, 20),
    }
    assert not [e for e in doc["traceEvents"] if e["ph"] in "sf"]
    md = doc["metadata"]
    assert (md["flows"], md["flows_outside_window"], md["trace_dropped"]) == (0, 1, 1234)
    assert md["window_start_cycle"] == 100
    flight = [e["args"]["count"] for e in doc["traceEvents"] if e["name"] == "IPIs in flight"]
    assert flight == [0, 1]
    check_trace(json.loads(json.dumps(doc), parse_float=Decimal), 2)


@pytest.mark.parametrize("strategy", ["sync", "async", "guarded", "lazy", "targeted", "local"])
def test_every_strategy(strategy: str) -> None:
    sc = CONTENDED.replace(strategy=strategy)
    r = kmapsim.run(sc, cycles=200_000, seed=4, trace=1_000_000)
    doc = to_trace_events(r)
    by = check_trace(json.loads(json.dumps(doc), parse_float=Decimal), sc.cpus)
    assert "export_notes" not in doc["metadata"]
    assert (len(by["s"]) > 0) == (strategy not in ("lazy", "local"))


def test_pending_ipis_and_back_to_back_handlers() -> None:
    """Interrupts-off kmaps and long interrupts-off sections keep IPIs pending; they are taken
    when interrupts come back on, one handler right after another."""
    sc = CONTENDED.replace(
        strategy="async", kmap_irqs_off_prob=0.5, irq_section_prob=0.8, irq_hold_cycles=10_000
    )
    r = kmapsim.run(sc, cycles=400_000, seed=1, trace=1_000_000)
    tr = r.trace
    handler_end = tr[(tr["event"] == "tlb_flush") & (tr["detail"] == "why=handler")]
    handler_start = tr[tr["event"] == "ipi_handler"]
    ends = set(zip(handler_end["cycle"], handler_end["cpu"], strict=True))
    assert any(k in ends for k in zip(handler_start["cycle"], handler_start["cpu"], strict=True))
    doc = to_trace_events(r)
    by = check_trace(json.loads(json.dumps(doc), parse_float=Decimal), sc.cpus)
    assert "export_notes" not in doc["metadata"]
    assert len(by["s"]) == (r.trace["event"] == "ipi_handler").sum()
