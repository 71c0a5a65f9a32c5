"""What the benchmarks measure, shared by the pytest-benchmark tests and benches/report.py.

Every ``measure_*`` function runs one comparison and returns a flat dict of plain numbers (put in
``benchmark.extra_info`` by the tests, into the Markdown tables by report.py). Each takes
``bench``: the pytest-benchmark fixture, which then times the function the comparison is about
(its statistics appear in pytest-benchmark's table), or None to time everything by hand. Either
way both sides of a ratio are timed in the same call, one after the other, and the ratio is of
their medians.

Two clocks: ``call`` is `time.perf_counter` around the whole Python call (for kmapsim that
includes building the RunResult's pandas frames), ``engine`` is `RunResult.wall_seconds`, the
engine's own time without the Python layer.

``KMAPSIM_BENCH_SMOKE=1`` in the environment shrinks every measurement to one round of a short
run, so that CI checks that none of them rots (`SIZES`).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simpy_peer import run_peer

import kmapsim

PRESET = "pIII-8way-2001"
#: The counters the SimPy peer keeps that are compared with kmapsim's (all rule-for-rule).
AGREE_COUNTERS = (
    "kmaps",
    "kunmaps",
    "new_mappings",
    "map_hits",
    "flushes",
    "ipis_sent",
    "tlb_misses",
    "sleeps",
    "context_switches",
)
#: Largest relative difference of the seed means allowed between the SimPy peer and kmapsim.
AGREE_TOLERANCE = 0.05


def smoke_mode() -> bool:
    return os.environ.get("KMAPSIM_BENCH_SMOKE", "") not in ("", "0")


@dataclass(frozen=True)
class Sizes:
    """Run lengths and repetitions of every measurement."""

    step_skip_cycles: int
    step_rounds: int
    #: `skip` runs between two `step` runs (the two sides of a ratio are interleaved).
    skip_per_step: int
    #: SimPy agreement: the small scenario (8 CPUs), seeds and cycles. Kept full size in smoke
    #: mode, because it is an assertion (about 4 s).
    agree_cpus: int
    agree_cycles: int
    agree_seeds: tuple[int, ...]
    #: SimPy timing: the 64-CPU preset, like the other targets.
    simpy_cycles: int
    simpy_rounds: int
    kmapsim_per_simpy: int
    scaling_cpus: tuple[int, ...]
    scaling_cycles: int
    scaling_rounds: int
    sweep_runs: int
    sweep_cpus: int
    sweep_cycles: int
    sweep_rounds: int
    rss_cpus: int
    rss_cycles: tuple[int, ...]
    #: Tasks: `pte-highmem` at 64 CPUs with these task counts.
    tasks_counts: tuple[int, ...] = (64, 4096)
    tasks_cycles: int = 100_000_000
    tasks_rounds: int = 5
    #: The checker: `sync` on 2 CPUs x 2 slots x this many pages, rounds per search order.
    check_pages: int = 3
    check_rounds: int = 3

    @classmethod
    def full(cls) -> Sizes:
        return cls(
            step_skip_cycles=2_000_000,
            step_rounds=5,
            skip_per_step=7,
            agree_cpus=8,
            agree_cycles=100_000_000,
            agree_seeds=(1, 2, 3),
            simpy_cycles=20_000_000,
            simpy_rounds=3,
            kmapsim_per_simpy=5,
            scaling_cpus=(8, 64, 256, 1024),
            scaling_cycles=100_000_000,
            scaling_rounds=5,
            sweep_runs=16,
            sweep_cpus=64,
            sweep_cycles=100_000_000,
            sweep_rounds=3,
            rss_cpus=64,
            rss_cycles=(10**7, 10**8, 10**9),
        )

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(
            step_skip_cycles=200_000,
            step_rounds=1,
            skip_per_step=1,
            agree_cpus=8,
            agree_cycles=100_000_000,
            agree_seeds=(1, 2, 3),
            simpy_cycles=1_000_000,
            simpy_rounds=1,
            kmapsim_per_simpy=1,
            scaling_cpus=(8, 64, 256, 1024),
            scaling_cycles=1_000_000,
            scaling_rounds=1,
            sweep_runs=4,
            sweep_cpus=8,
            sweep_cycles=1_000_000,
            sweep_rounds=1,
            rss_cpus=64,
            rss_cycles=(10**5, 10**6),
            tasks_cycles=1_000_000,
            tasks_rounds=1,
            check_pages=2,
            check_rounds=1,
        )

    @classmethod
    def current(cls) -> Sizes:
        return cls.smoke() if smoke_mode() else cls.full()


def scenario(cpus: int) -> kmapsim.Scenario:
    return kmapsim.Scenario.preset(PRESET, cpus=cpus)


class Timed:
    """A callable that records the call time (and the engine time, if the result has one) of
    every call, for medians."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.calls: list[float] = []
        self.engine: list[float] = []
        self.result: Any = None

    def __call__(self) -> Any:
        t0 = time.perf_counter()
        r = self.fn()
        dt = time.perf_counter() - t0
        self.calls.append(dt)
        if isinstance(r, dict):
            self.engine.append(float(r.get("wall_seconds", dt)))
        else:
            self.engine.append(float(getattr(r, "wall_seconds", dt)))
        self.result = r
        return r

    def repeat(self, n: int) -> Timed:
        for _ in range(n):
            self()
        return self

    @property
    def call(self) -> float:
        return statistics.median(self.calls)

    @property
    def engine_time(self) -> float:
        return statistics.median(self.engine)


def drive(
    bench: Any, timed: Timed, rounds: int, other: Timed | None = None, per_round: int = 1
) -> Timed:
    """Call ``timed`` ``rounds`` times, through pytest-benchmark if ``bench`` is given, and
    before each call ``other`` (the other side of a ratio) ``per_round`` times, so that both
    sides see the same machine."""

    def setup() -> None:
        if other is not None:
            other.repeat(per_round)

    if bench is None:
        for _ in range(rounds):
            setup()
            timed()
    else:
        bench.pedantic(timed, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
    return timed


def _warm(timed: Timed, calls: int = 1) -> Timed:
    """``calls`` calls whose times are not kept."""
    for _ in range(calls):
        timed()
    timed.calls.clear()
    timed.engine.clear()
    return timed


def _kmapsim(cpus: int, cycles: int, seed: int = 1, mode: str = "skip") -> Timed:
    sc = scenario(cpus)
    return Timed(lambda: kmapsim.run(sc, cycles=cycles, seed=seed, mode=mode))


# -- a. skip against step ----------------------------------------------------------------------


def measure_step_vs_skip(bench: Any = None, sizes: Sizes | None = None) -> dict[str, Any]:
    """`step` and `skip` on the 2001 preset at 64 CPUs, same cycles and seed; ``bench`` times
    `step`."""
    z = sizes or Sizes.current()
    cpus, cycles = 64, z.step_skip_cycles
    skip = _warm(_kmapsim(cpus, cycles, mode="skip"))
    step = _kmapsim(cpus, cycles, mode="step")
    drive(bench, step, z.step_rounds, other=skip, per_round=z.skip_per_step)
    same = step.result.counters == skip.result.counters
    return {
        "cpus": cpus,
        "cycles": cycles,
        "events": skip.result.events,
        "step_call_s": step.call,
        "skip_call_s": skip.call,
        "step_engine_s": step.engine_time,
        "skip_engine_s": skip.engine_time,
        "ratio_engine": step.engine_time / skip.engine_time,
        "ratio_call": step.call / skip.call,
        "identical_counters": same,
    }


# -- b. the SimPy peer -------------------------------------------------------------------------


def measure_agreement(sizes: Sizes | None = None) -> dict[str, Any]:
    """Means over seeds of the SimPy peer's counters and kmapsim's, on the small scenario."""
    z = sizes or Sizes.current()
    sc = scenario(z.agree_cpus)
    peer = [run_peer(sc, cycles=z.agree_cycles, seed=s) for s in z.agree_seeds]
    ours = [kmapsim.run(sc, cycles=z.agree_cycles, seed=s).counters for s in z.agree_seeds]
    out: dict[str, Any] = {
        "cpus": z.agree_cpus,
        "cycles": z.agree_cycles,
        "seeds": len(z.agree_seeds),
        "simpy_s_per_run": statistics.median(p["wall_seconds"] for p in peer),
    }
    worst = 0.0
    for name in AGREE_COUNTERS:
        a = statistics.fmean(p[name] for p in peer)
        b = statistics.fmean(o[name] for o in ours)
        diff = 0.0 if a == b else (a - b) / max(abs(b), 1e-300)
        out[f"simpy_{name}"] = a
        out[f"kmapsim_{name}"] = b
        out[f"diff_{name}"] = diff
        worst = max(worst, abs(diff))
    out["worst_abs_diff"] = worst
    return out


def disagreements(agree: dict[str, Any], tolerance: float = AGREE_TOLERANCE) -> list[str]:
    """The counters of a `measure_agreement` result that differ by more than ``tolerance``."""
    return [
        f"{n}: SimPy {agree[f'simpy_{n}']:.1f} vs kmapsim {agree[f'kmapsim_{n}']:.1f}"
        for n in AGREE_COUNTERS
        if abs(agree[f"diff_{n}"]) > tolerance
    ]


def measure_simpy_speed(bench: Any = None, sizes: Sizes | None = None) -> dict[str, Any]:
    """The SimPy peer against kmapsim on the 2001 preset at 64 CPUs; ``bench`` times SimPy."""
    z = sizes or Sizes.current()
    cpus, cycles = 64, z.simpy_cycles
    ours = _warm(_kmapsim(cpus, cycles))
    sc = scenario(cpus)
    peer = Timed(lambda: run_peer(sc, cycles=cycles, seed=1))
    drive(bench, peer, z.simpy_rounds, other=ours, per_round=z.kmapsim_per_simpy)
    return {
        "cpus": cpus,
        "cycles": cycles,
        "simpy_s": peer.call,
        "kmapsim_call_s": ours.call,
        "kmapsim_engine_s": ours.engine_time,
        "ratio_call": peer.call / ours.call,
        "ratio_engine": peer.call / ours.engine_time,
        "simpy_kmaps": peer.result["kmaps"],
        "kmapsim_kmaps": ours.result.counters["kmaps"],
        "kmapsim_events": ours.result.events,
    }


# -- c. events per second at 8 .. 1024 CPUs ----------------------------------------------------


def measure_scaling(cpus: int, bench: Any = None, sizes: Sizes | None = None) -> dict[str, Any]:
    """Engine speed on the 2001 preset at ``cpus`` CPUs."""
    z = sizes or Sizes.current()
    cycles = z.scaling_cycles
    t = _warm(_kmapsim(cpus, cycles))
    drive(bench, t, z.scaling_rounds)
    r = t.result
    secs = t.engine_time
    return {
        "cpus": cpus,
        "cycles": cycles,
        "events": r.events,
        "events_per_cycle": r.events / cycles,
        "kmaps": r.counters["kmaps"],
        "engine_s": secs,
        "call_s": t.call,
        "events_per_s": r.events / secs,
        "ns_per_event": secs / r.events * 1e9,
        "cpu_cycles_per_s": cpus * cycles / secs,
    }


# -- f. tasks: many tasks per CPU, each holding a page-table page across I/O --------------------


def measure_tasks(tasks: int, bench: Any = None, sizes: Sizes | None = None) -> dict[str, Any]:
    """Engine speed of `pte-highmem` (docs/model.md, section 16) at 64 CPUs with ``tasks``
    tasks: engine time, and its cost per simulated kmap."""
    z = sizes or Sizes.current()
    cycles = z.tasks_cycles
    sc = kmapsim.Scenario.preset("pIII-8way-2001", cpus=64, workload="pte-highmem", tasks=tasks)
    # The 64-task run lasts a few ms: its first calls are slower by half or more (measured:
    # 7.1, 8.4, 4.7, then 3.7 ms), so it is warmed up longer than the others.
    t = _warm(Timed(lambda: kmapsim.run(sc, cycles=cycles, seed=1)), calls=3)
    drive(bench, t, z.tasks_rounds)
    r = t.result
    secs = t.engine_time
    return {
        "tasks": tasks,
        "cycles": cycles,
        "events": r.events,
        "kmaps": r.counters["kmaps"],
        "sleeps": r.counters["sleeps"],
        "engine_s": secs,
        "call_s": t.call,
        "ns_per_kmap": secs / max(r.counters["kmaps"], 1) * 1e9,
        "ns_per_event": secs / max(r.events, 1) * 1e9,
    }


# -- g. the checker's states per second ---------------------------------------------------------

#: Frontier bounds of the two search orders: breadth-first throughout, and depth-first past a
#: frontier of 100 machines (`kmapsim.check`'s ``max_frontier``).
CHECK_FRONTIERS = {"breadth-first": 100_000, "depth-first": 100}


def measure_check(bench: Any = None, sizes: Sizes | None = None) -> dict[str, Any]:
    """`kmapsim.check` of `sync` on 2 CPUs x 2 slots x ``check_pages`` pages: breadth-first
    (on the default threads, and on one where ``check`` takes ``threads``: the builds before it
    ran on one) and depth-first, one after the other each round; ``bench`` times the default
    breadth-first search."""
    z = sizes or Sizes.current()
    threads = "threads" in inspect.signature(kmapsim.check).parameters

    def search(frontier: int, one_thread: bool = False) -> Timed:
        more: dict[str, Any] = {"threads": 1} if one_thread else {}
        return Timed(
            lambda: kmapsim.check(
                strategy="sync", pages=z.check_pages, max_frontier=frontier, **more
            )
        )

    bfs, dfs = (search(f) for f in CHECK_FRONTIERS.values())
    sides = [dfs] + ([search(CHECK_FRONTIERS["breadth-first"], one_thread=True)] if threads else [])
    drive(bench, bfs, z.check_rounds, other=Timed(lambda: [side() for side in sides]))
    states = bfs.result.states
    one = sides[1] if threads else bfs
    return {
        "pages": z.check_pages,
        "verdict": bfs.result.verdict,
        "states": states,
        "transitions": bfs.result.transitions,
        "threads": kmapsim.checker.cores() if threads else 1,
        "bfs_s": bfs.call,
        "dfs_s": dfs.call,
        "bfs_states_per_s": states / bfs.call,
        "bfs_one_thread_states_per_s": one.result.states / one.call,
        "dfs_states_per_s": dfs.result.states / dfs.call,
        "same_states": dfs.result.states == states == one.result.states,
    }


# -- d. a sweep on all cores against the same sweep serial -------------------------------------


def measure_sweep(bench: Any = None, sizes: Sizes | None = None) -> dict[str, Any]:
    """``kmapsim.sweep`` on the default thread pool against ``executor="serial"``; ``bench``
    times the parallel one."""
    z = sizes or Sizes.current()
    sc = scenario(z.sweep_cpus)

    def go(executor: Any) -> Callable[[], kmapsim.SweepResult]:
        return lambda: kmapsim.sweep(
            sc, seeds=z.sweep_runs, cycles=z.sweep_cycles, executor=executor, progress=False
        )

    serial, parallel = Timed(go("serial")), Timed(go(None))
    drive(bench, parallel, z.sweep_rounds, other=serial)
    same = serial.result.frame.equals(parallel.result.frame)
    return {
        "runs": z.sweep_runs,
        "cpus": z.sweep_cpus,
        "cycles": z.sweep_cycles,
        # The default pool's threads (`kmapsim.checker.cores`; builds before it: one per CPU).
        "workers": getattr(kmapsim.checker, "cores", lambda: os.cpu_count() or 1)(),
        "serial_s": serial.call,
        "parallel_s": parallel.call,
        "speedup": serial.call / parallel.call,
        "identical_frames": same,
    }


# -- e. peak memory against cycles -------------------------------------------------------------

# Peak RSS of this process in KiB: VmHWM, the high-water mark of its own address space. Not
# ru_maxrss: on Linux that is inherited across fork and exec, so a child of a big parent (pytest
# with pandas loaded) would report at least the parent's size.
_PEAK = """
import resource
def peak_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_PACKAGE_PROBE = (
    _PEAK
    + """
import json, sys
import kmapsim
floor = peak_kb()
r = kmapsim.run(kmapsim.Scenario.from_dict(json.loads(sys.argv[1])), cycles=int(sys.argv[2]),
                seed=1)
peak = peak_kb()
print(json.dumps({"floor_kb": floor, "peak_kb": peak, "engine_s": r.wall_seconds,
                  "events": r.events}))
"""
)

# The engine alone: kmapsim._core loaded from the installed package's folder without running
# the package's __init__ (which imports pandas and pyarrow).
_ENGINE_PROBE = (
    _PEAK
    + """
import importlib.machinery, importlib.util, json, os, sys
where = importlib.util.find_spec("kmapsim").submodule_search_locations[0]
name = next(f for f in os.listdir(where) if f.startswith("_core.")
            and f.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)))
loader = importlib.machinery.ExtensionFileLoader("kmapsim._core", os.path.join(where, name))
spec = importlib.util.spec_from_loader("kmapsim._core", loader)
core = importlib.util.module_from_spec(spec)
loader.exec_module(core)
assert "pandas" not in sys.modules
floor = peak_kb()
r = core.run(core.Options(json.loads(sys.argv[1]), 1, mode="skip"), int(sys.argv[2]))
peak = peak_kb()
print(json.dumps({"floor_kb": floor, "peak_kb": peak, "engine_s": r.wall_seconds,
                  "events": r.events}))
"""
)


def rss_probe(cpus: int, cycles: int, engine_only: bool = False) -> dict[str, Any]:
    """One run in a fresh interpreter; its peak RSS (VmHWM) after importing and after the run,
    in MiB."""
    code = _ENGINE_PROBE if engine_only else _PACKAGE_PROBE
    arg = json.dumps(scenario(cpus).to_dict())
    out = subprocess.run(
        [sys.executable, "-c", code, arg, str(cycles)],
        check=True,
        capture_output=True,
        text=True,
    )
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "cpus": cpus,
        "cycles": cycles,
        "engine_only": engine_only,
        "floor_mib": raw["floor_kb"] / 1024,
        "peak_mib": raw["peak_kb"] / 1024,
        "engine_s": raw["engine_s"],
        "events": raw["events"],
    }


def measure_memory(bench: Any = None, sizes: Sizes | None = None) -> list[dict[str, Any]]:
    """Peak RSS at each cycle count, through the package and with the engine alone; ``bench``
    times the longest run through the package."""
    z = sizes or Sizes.current()
    rows: list[dict[str, Any]] = []
    longest: list[dict[str, Any]] = []
    for cycles in z.rss_cycles:
        for engine_only in (False, True):
            if bench is not None and cycles == max(z.rss_cycles) and not engine_only:
                bench.pedantic(
                    lambda c=cycles: longest.append(rss_probe(z.rss_cpus, c)),
                    rounds=1,
                    iterations=1,
                    warmup_rounds=0,
                )
                rows.append(longest[-1])
            else:
                rows.append(rss_probe(z.rss_cpus, cycles, engine_only))
    return rows


def memory_growth_mib(rows: list[dict[str, Any]]) -> dict[bool, float]:
    """Peak RSS at the most cycles minus at the fewest, per probe kind (engine_only)."""
    out: dict[bool, float] = {}
    for kind in (False, True):
        mine = sorted((r for r in rows if r["engine_only"] == kind), key=lambda r: r["cycles"])
        out[kind] = mine[-1]["peak_mib"] - mine[0]["peak_mib"]
    return out


def fmt_s(seconds: float) -> str:
    """Seconds in a readable unit."""
    if math.isnan(seconds):
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"
