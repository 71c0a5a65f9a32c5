"""`RunResult`: what one run reports, as pandas and numpy values with exact integers.

The engine hands back plain lists and dicts (`_core.RawResult`); this module only reshapes them
once per run, never per event. Counts stay Python ints or int64 so that totals are exact: a
breakdown row (per CPU) and a task breakdown row (per task) each sum to ``cycles`` exactly,
which is the engine's bookkeeping invariant.
"""

from __future__ import annotations

import contextvars
import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from kmapsim import _core
from kmapsim._frozen import FrozenList, copied_frame, freeze_mapping, frozen_rows, sealed
from kmapsim._numbers import as_float, as_int
from kmapsim._quote import quote
from kmapsim.errors import ScenarioError, ScenarioTypeError
from kmapsim.histogram import Histogram
from kmapsim.scenario import Scenario
from kmapsim.trace import trace_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BYTES_PER_KMAP", "TASK_STATES", "RunResult", "StaleAccess"]

#: What one kmap stands for in `RunResult.mb_per_second`: a 4 KiB page copied.
BYTES_PER_KMAP = 4096


@sealed
@dataclass(frozen=True)
class StaleAccess:
    """One TLB lookup that reached the wrong page: silent data corruption in a real kernel.

    At ``cycle``, ``cpu`` held a mapping of ``expected_page`` at pkmap ``slot`` but its lookup
    reached ``actual_page``, through a TLB entry loaded at ``entry_loaded_at``; the slot had been
    remapped at ``slot_remapped_at`` by CPU ``remapped_by`` (None when unknown).
    """

    cycle: int
    cpu: int
    slot: int
    expected_page: int
    actual_page: int
    entry_loaded_at: int
    slot_remapped_at: int
    remapped_by: int | None

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> StaleAccess:
        """From the engine's dict, where ``remapped_by`` is -1 when unknown."""
        by = int(raw["remapped_by"])
        return cls(
            cycle=int(raw["cycle"]),
            cpu=int(raw["cpu"]),
            slot=int(raw["slot"]),
            expected_page=int(raw["expected_page"]),
            actual_page=int(raw["actual_page"]),
            entry_loaded_at=int(raw["entry_loaded_at"]),
            slot_remapped_at=int(raw["slot_remapped_at"]),
            remapped_by=None if by < 0 else by,
        )

    def to_dict(self) -> dict[str, int | None]:
        """The fields as a JSON-ready dict of ints (``remapped_by`` None when unknown)."""
        return asdict(self)


#: The columns of ``RawResult.samples``, in the engine's order (the core's ``Sample::COLUMNS``).
SAMPLE_COLUMNS: list[str] = list(_core.SAMPLE_COLUMNS)
#: The states of a task, in the column order of `RunResult.task_breakdown`: running on a CPU,
#: runnable (on the run queue, waiting for a CPU), blocked (asleep in a ``block`` step, I/O),
#: and asleep on ``pkmap_map_wait`` for a free pkmap slot.
TASK_STATES: list[str] = list(_core.TASK_STATES)


def samples_frame(rows: Sequence[tuple[int, ...]]) -> pd.DataFrame:
    """The time series: the machine at the start of each sampled cycle, plus the kmap rate
    (kmaps per million cycles) over the interval that ends at each sample."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=SAMPLE_COLUMNS).astype(np.int64)
    gap = frame["cycle"].diff()
    frame["throughput"] = frame["kmaps"].diff() * 1e6 / gap
    return frame


def _breakdown_frame(
    rows: Sequence[Sequence[int]],
    columns: Sequence[str],
    index: str = "cpu",
    name: str = "category",
) -> pd.DataFrame:
    """Cycles per row (a CPU, or a task) and column (a category, or a task state), int64."""
    import pandas as pd

    data = np.array(rows, dtype=np.int64).reshape(len(rows), len(columns))
    return pd.DataFrame(
        data,
        index=pd.RangeIndex(len(rows), name=index),
        columns=pd.Index(list(columns), name=name),
    )


def task_state_shares(rows: Sequence[Sequence[int]]) -> list[float]:
    """The share of all tasks' cycles spent in each of `TASK_STATES`, from task breakdown rows
    (the mean over tasks of each task's share, since every row sums to the same cycles);
    zeros when there is no cycle. Computed without pandas."""
    totals = [sum(col) for col in zip(*rows, strict=True)] or [0] * len(TASK_STATES)
    whole = sum(totals)
    return [total / whole if whole else 0.0 for total in totals]


#: Set while `RunResult.from_raw` or `RunResult.from_dict` builds a result: a result is a
#: record of a run, not built field by field (so that ``dataclasses.replace`` cannot edit one).
_BUILDING: contextvars.ContextVar[bool] = contextvars.ContextVar("_BUILDING", default=False)

_NOT_EDITED = (
    "RunResult is a record of a run and is not built or edited field by field (as"
    " dataclasses.replace would, leaving its figures inconsistent): run again with the changed"
    " scenario, seed or cycles, or rebuild a saved one with RunResult.from_dict"
)


@sealed
@dataclass(frozen=True, eq=False, repr=False)
class RunResult:
    """The outcome of `kmapsim.run`.

    ``breakdown`` has a row per CPU (index ``cpu``) and an int64 column per cycle category, in
    `kmapsim.CATEGORIES` order; every row sums to ``cycles``. ``task_breakdown`` has a row per
    task (index ``task``; as many as CPUs when the scenario's ``tasks`` is 0) and an int64
    column per task state, in `kmapsim.TASK_STATES` order (running, runnable, blocked,
    pool_sleep); every row sums to ``cycles`` too. ``counters`` has at least the names
    in `kmapsim.COUNTERS`. ``violations`` holds the first stale accesses in detail (at most
    ``scenario.max_violation_records``); ``counters["stale_accesses"]`` counts them all.
    ``events`` and ``wall_seconds`` describe the simulation itself, not the simulated machine.
    Nothing a result exposes can be changed in place: its dicts (``counters``, ``histograms``,
    each lock stats row and trace row's fields) and lists are read-only
    (`kmapsim._frozen.FrozenDict` and ``FrozenList``: changes raise TypeError), and every
    DataFrame property (``breakdown``, ``task_breakdown``, ``lock_stats``, ``trace``,
    ``samples``, ``ops``, ``calls``) returns a fresh copy on each access, built once. Results
    compare by identity: ``wall_seconds`` differs between otherwise identical runs. A result
    is made by `kmapsim.run` (or `from_dict`), never field by field: ``RunResult(...)`` and
    ``dataclasses.replace`` (``copy.replace``) raise TypeError, as a result with a changed
    field would no longer be the record of any run.

    The repr is a few lines (CPUs, cycles, strategy, throughput, stale accesses, the three
    largest cycle categories, and for a scenario that sets ``tasks`` or another workload than
    dbench, where the tasks' time goes); notebooks show the same as a small table
    (``_repr_html_``).
    """

    scenario: Scenario
    seed: int
    cycles: int
    mode: str
    counters: Mapping[str, int]
    histograms: Mapping[str, Histogram]
    violations: Sequence[StaleAccess]
    events: int
    wall_seconds: float
    #: Per CPU, cycles per category (in `categories` order): what `breakdown` shows.
    breakdown_rows: Sequence[Sequence[int]]
    categories: Sequence[str]
    #: Older events the trace dropped to stay within its cap.
    trace_dropped: int = 0
    #: The engine's trace, time series and recorded operations, as it returned them; the
    #: DataFrame views below are built from them on first use, so that a run needs no pandas.
    trace_rows: Sequence[tuple[int, int, str, Mapping[str, Any]]] = ()
    sample_rows: Sequence[tuple[int, ...]] = ()
    ops_rows: Sequence[tuple[int, int, int, int, int, bool, bool]] | None = None
    #: Why the run stopped early, or None. `kmapsim.run` raises instead of returning such a
    #: result; a `Simulation`'s ``result()`` after a DeadlockError, KernelBug or a full record
    #: budget returns what was measured up to then, with the error's message here.
    stopped: str | None = None
    #: Per task, cycles in each state (in `TASK_STATES` order): what `task_breakdown` shows.
    task_breakdown_rows: Sequence[Sequence[int]] = ()
    #: The recorded calls (``record_calls=True``), as the engine returned them, or None.
    calls_rows: Sequence[tuple[int, int, int, str, int, int, bool, bool]] | None = None
    #: Per lock, lockmeter's sums and figures as the engine returned them: what `lock_stats`
    #: shows (`kmapsim.lockstat`).
    lock_stats_rows: Sequence[Mapping[str, Any]] = ()

    def __post_init__(self) -> None:
        if not _BUILDING.get():
            raise TypeError(_NOT_EDITED)
        # The derived figures, the repr and to_dict read these tables: a caller must not be
        # able to change them in place, so they are held as read-only dicts and tuples.
        frozen = {
            "counters": freeze_mapping(self.counters),
            "histograms": freeze_mapping(self.histograms),
            "violations": FrozenList(self.violations),
            "breakdown_rows": frozen_rows(self.breakdown_rows),
            "categories": FrozenList(self.categories),
            "trace_rows": FrozenList(
                (c, cpu, kind, freeze_mapping(f)) for c, cpu, kind, f in self.trace_rows
            ),
            "sample_rows": FrozenList(self.sample_rows),
            "ops_rows": None if self.ops_rows is None else FrozenList(self.ops_rows),
            "task_breakdown_rows": frozen_rows(self.task_breakdown_rows),
            "calls_rows": None if self.calls_rows is None else FrozenList(self.calls_rows),
            "lock_stats_rows": FrozenList(freeze_mapping(d) for d in self.lock_stats_rows),
        }
        for name, value in frozen.items():
            object.__setattr__(self, name, value)

    @copied_frame
    def breakdown(self) -> pd.DataFrame:
        """A row per CPU (index ``cpu``), an int64 column per category; rows sum to cycles."""
        return _breakdown_frame(self.breakdown_rows, self.categories)

    @copied_frame
    def task_breakdown(self) -> pd.DataFrame:
        """A row per task (index ``task``), an int64 column per task state (running, runnable,
        blocked, pool_sleep); rows sum to cycles."""
        return _breakdown_frame(self.task_breakdown_rows, TASK_STATES, "task", "state")

    @copied_frame
    def lock_stats(self) -> pd.DataFrame:
        """lockmeter's figures, a row per lock (index ``lock``: ``kmap_lock``, ``call_lock``,
        then ``irq_lock[k]``) and the columns of `kmapsim.lockstat.LOCK_STAT_COLUMNS`:
        ``acquisitions, contended, contended_pct`` (CON), ``util_pct`` (UTIL),
        ``hold_mean_us, hold_max_us`` (HOLD), ``wait_mean_us, wait_max_us`` (WAIT, per
        contended acquisition), ``spin_cpu_pct`` (all CPUs' spinning on the lock as a share of
        all CPUs' time), ``acquisitions_per_s``, and the holds and waits in cycles. Times in
        microseconds are at ``scenario.cpu_mhz``. Definitions: docs/model.md, section 9."""
        from kmapsim.lockstat import lock_stats_frame

        return lock_stats_frame(self.lock_stats_rows, self.cycles, self.scenario.cpu_mhz)

    @copied_frame
    def trace(self) -> pd.DataFrame:
        """The traced events (see `kmapsim.trace`); no rows unless the run was traced."""
        return trace_frame(self.trace_rows)

    @copied_frame
    def samples(self) -> pd.DataFrame:
        """The time series (``sample_every``): a row per sample; no rows unless sampled."""
        return samples_frame(self.sample_rows)

    @copied_frame
    def ops(self) -> pd.DataFrame | None:
        """This run's operations (``record_ops=True``), replayable with ``replay=``; else None."""
        if self.ops_rows is None:
            return None
        from kmapsim.replay import ops_frame

        return ops_frame(self.ops_rows)

    @copied_frame
    def calls(self) -> pd.DataFrame | None:
        """Every completed kmap and kunmap (``record_calls=True``; `kmapsim.calls`): columns
        ``cycle, task, cpu, op, page, slot, slept, flushed``; else None."""
        if self.calls_rows is None:
            return None
        from kmapsim.calls import calls_frame

        return calls_frame(self.calls_rows)

    @classmethod
    def from_raw(cls, scenario: Scenario, raw: _core.RawResult) -> RunResult:
        """Wrap the engine's result for ``scenario``."""
        token = _BUILDING.set(True)
        try:
            return cls._from_raw(scenario, raw)
        finally:
            _BUILDING.reset(token)

    def __replace__(self, **changes: Any) -> RunResult:
        raise TypeError(_NOT_EDITED)

    @classmethod
    def _from_raw(cls, scenario: Scenario, raw: _core.RawResult) -> RunResult:
        return cls(
            scenario=scenario,
            seed=raw.seed,
            cycles=raw.cycles,
            mode=raw.mode,
            counters={k: int(v) for k, v in raw.counters.items()},
            histograms={k: Histogram.from_raw(k, v) for k, v in raw.histograms.items()},
            violations=[StaleAccess.from_raw(v) for v in raw.violations],
            events=raw.events,
            wall_seconds=raw.wall_seconds,
            breakdown_rows=raw.breakdown,
            categories=raw.categories,
            trace_dropped=raw.trace_dropped,
            trace_rows=raw.trace,
            sample_rows=raw.samples,
            ops_rows=raw.ops,
            stopped=raw.stopped,
            task_breakdown_rows=raw.task_breakdown,
            calls_rows=raw.calls,
            lock_stats_rows=[dict(d) for d in raw.lock_stats],
        )

    # -- derived numbers ----------------------------------------------------------------------

    @property
    def cpus(self) -> int:
        """The simulated CPUs: ``scenario.cpus``."""
        return self.scenario.cpus

    @property
    def kmaps(self) -> int:
        """Completed kmaps, all CPUs together."""
        return self.counters["kmaps"]

    @property
    def simulated_seconds(self) -> float:
        """The simulated time: ``cycles`` at ``scenario.cpu_mhz``."""
        return self.cycles / (self.scenario.cpu_mhz * 1e6)

    @property
    def throughput(self) -> float:
        """kmaps per million simulated cycles, all CPUs together: the clock-free figure (0.0
        for a result of no cycle, e.g. a `Simulation` not yet advanced)."""
        return self.kmaps * 1e6 / self.cycles if self.cycles else 0.0

    @property
    def kmaps_per_second(self) -> float:
        """kmaps per simulated second, at ``scenario.cpu_mhz`` (0.0 for a result of no cycle)."""
        return self.kmaps / self.simulated_seconds if self.cycles else 0.0

    @property
    def mb_per_second(self) -> float:
        """The dbench-style figure: each kmap stands for one 4 KiB page, and MB = 10**6 bytes."""
        return self.kmaps_per_second * BYTES_PER_KMAP / 1e6

    @property
    def events_per_second(self) -> float:
        """Engine speed: events handled per wall-clock second (NaN if no time was measured)."""
        return self.events / self.wall_seconds if self.wall_seconds > 0 else math.nan

    def shares(self) -> pd.DataFrame:
        """The breakdown as fractions of ``cycles``: each row sums to 1 (up to rounding)."""
        return self.breakdown.astype(np.float64) / float(self.cycles)

    def task_shares(self) -> pd.DataFrame:
        """The task breakdown as fractions of ``cycles``: each row sums to 1 (up to rounding)."""
        return self.task_breakdown.astype(np.float64) / float(self.cycles)

    def summary(self) -> pd.Series:
        """Headline numbers, indexed by metric name (object dtype, so counts stay exact ints).

        The ``*_p99`` entries are histogram quantiles (upper bounds, see `Histogram.quantile`);
        they and the means are None when nothing was recorded.
        """
        wait = self.histograms.get("kmap_lock_wait")
        hold = self.histograms.get("kmap_lock_hold")
        c = self.counters
        values: dict[str, object] = {
            "cpus": self.cpus,
            "cycles": self.cycles,
            "kmaps": self.kmaps,
            "throughput": self.throughput,
            "kmaps_per_second": self.kmaps_per_second,
            "mb_per_second": self.mb_per_second,
            "flushes": c.get("flushes"),
            "ipis_sent": c.get("ipis_sent"),
            "stale_accesses": c.get("stale_accesses"),
            "sleeps": c.get("sleeps"),
            "kmap_lock_contended": c.get("kmap_lock_contended"),
            "kmap_lock_wait_mean": _mean(wait),
            "kmap_lock_wait_p99": _p99(wait),
            "kmap_lock_hold_mean": _mean(hold),
            "kmap_lock_hold_p99": _p99(hold),
        }
        import pandas as pd

        series = pd.Series(values, dtype=object, name="value")
        series.index.name = "metric"
        return series

    # -- display ------------------------------------------------------------------------------

    def top_categories(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` cycle categories with the largest share of all CPUs' cycles, largest
        first, as (category, share in [0, 1]). Computed without pandas. Raises
        ScenarioTypeError if ``n`` is not an integer (a bool is not one), ScenarioError if it
        is negative."""
        k = as_int(n)  # None for a bool
        if k is None:
            raise ScenarioTypeError.got("n", n, "an integer >= 0")
        if k < 0:
            raise ScenarioError.of("n", f"got {quote(n)}", "an integer >= 0")
        totals = [sum(col) for col in zip(*self.breakdown_rows, strict=True)]
        whole = sum(totals)
        if not whole:
            return []
        ranked = sorted(zip(self.categories, totals, strict=True), key=lambda ct: -ct[1])
        return [(cat, total / whole) for cat, total in ranked[:k] if total]

    def _display_rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs shown by the repr and the HTML table."""
        stale = self.counters.get("stale_accesses", 0)
        if self.cycles > 0:
            rate = f"{self.throughput:,.1f} kmaps per million cycles ({self.kmaps:,} kmaps)"
        else:
            rate = "- (no cycle simulated)"
        top = ", ".join(f"{cat} {share * 100:.1f} %" for cat, share in self.top_categories(3))
        stopped = [] if self.stopped is None else [("STOPPED", self.stopped.splitlines()[0])]
        return [
            *stopped,
            ("scenario", repr(self.scenario)),
            ("throughput", rate),
            ("stale accesses", f"{stale:,}" + (" (silent data corruption)" if stale else "")),
            ("top cycles", top or "-"),
            *self._task_rows(),
        ]

    def _task_rows(self) -> list[tuple[str, str]]:
        """Where the tasks' time goes, for a scenario with tasks or a workload of its own."""
        sc = self.scenario
        if (sc.tasks == 0 and sc.workload == "dbench") or not self.task_breakdown_rows:
            return []
        shares = task_state_shares(self.task_breakdown_rows)
        parts = ", ".join(
            f"{state} {share * 100:.1f} %" for state, share in zip(TASK_STATES, shares, strict=True)
        )
        n = len(self.task_breakdown_rows)
        return [("tasks", f"{n:,} task{'' if n == 1 else 's'}, workload {sc.workload}: {parts}")]

    def _headline(self) -> str:
        sc = self.scenario
        return (
            f"{sc.cpus} CPU{'' if sc.cpus == 1 else 's'}, strategy {sc.strategy}, "
            f"{self.cycles:,} cycles, seed {self.seed}, mode {self.mode}"
        )

    def __repr__(self) -> str:
        rows = self._display_rows()
        width = max(len(label) for label, _ in rows)
        lines = [f"RunResult: {self._headline()}"]
        lines += [f"  {label:<{width}}  {value}" for label, value in rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """A small HTML table for notebooks: the repr's numbers, escaped."""
        return _html_table(f"RunResult: {self._headline()}", self._display_rows())

    # -- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Everything the result holds, JSON-ready (``json.dumps(..., allow_nan=False)`` works).

        `from_dict` reads it back to a result whose every field is equal (scenario, counters,
        histograms, violations, breakdown, task breakdown, trace and ``trace_dropped``,
        samples, ops, calls, ``stopped``, ``events`` and ``wall_seconds``), so the DataFrames built
        from it are equal too.
        ``derived`` repeats the computed figures for readers of the JSON; it is ignored on input.
        Trace rows are ``[cycle, cpu, kind, fields]``, sample rows and ops rows lists of their
        columns (`kmapsim.result.SAMPLE_COLUMNS`, `kmapsim.replay.OPS_COLUMNS`); ``ops`` is None
        unless the run recorded them.
        """
        return {
            "scenario": self.scenario.to_dict(),
            "seed": self.seed,
            "cycles": self.cycles,
            "mode": self.mode,
            "events": self.events,
            "wall_seconds": self.wall_seconds,
            "counters": dict(self.counters),
            "categories": list(self.categories),
            "breakdown": [list(row) for row in self.breakdown_rows],
            "task_breakdown": [list(row) for row in self.task_breakdown_rows],
            "histograms": {k: h.to_dict() for k, h in self.histograms.items()},
            "lock_stats": [dict(d) for d in self.lock_stats_rows],
            "violations": [v.to_dict() for v in self.violations],
            "trace_dropped": self.trace_dropped,
            "trace": [[c, cpu, kind, dict(fields)] for c, cpu, kind, fields in self.trace_rows],
            "samples": [list(row) for row in self.sample_rows],
            "ops": None if self.ops_rows is None else [list(op) for op in self.ops_rows],
            "calls": None if self.calls_rows is None else [list(c) for c in self.calls_rows],
            "stopped": self.stopped,
            "derived": {
                "throughput": self.throughput,
                "kmaps_per_second": self.kmaps_per_second,
                "mb_per_second": self.mb_per_second,
                "simulated_seconds": self.simulated_seconds,
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunResult:
        """Rebuild a result saved with `to_dict` (e.g. from a JSON file or a study store).

        The rows come back as the tuples the engine returns. A dict written before ``trace``,
        ``samples``, ``ops`` and ``trace_dropped`` were saved reads as an untraced, unsampled
        run without recorded ops; one written before tasks, without ``task_breakdown``, has no
        task breakdown rows; one written before lock statistics, without ``lock_stats``, has an
        empty `lock_stats`. Input that is not such a dict (not a mapping, a key missing, a
        value of the wrong type) is a ScenarioError (field ``"result"``) naming the key.
        """
        if not isinstance(d, Mapping):
            raise ScenarioTypeError.of("result", f"got {type(d).__name__} {quote(d)}", _RESULT_DICT)
        ops = _read(d, "ops", lambda v: None if v is None else [_op(row) for row in v], None)
        token = _BUILDING.set(True)
        try:
            return cls._from_dict(d, ops)
        finally:
            _BUILDING.reset(token)

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any], ops: Any) -> RunResult:
        return cls(
            scenario=_read(d, "scenario", Scenario.from_dict),
            seed=_read(d, "seed", _count),
            cycles=_read(d, "cycles", _count),
            mode=_read(d, "mode", str),
            counters=_read(d, "counters", lambda v: {k: _count(x) for k, x in v.items()}),
            breakdown_rows=_read(d, "breakdown", _int_rows),
            task_breakdown_rows=_read(d, "task_breakdown", _int_rows, []),
            categories=_read(d, "categories", lambda v: [str(c) for c in v]),
            histograms=_read(
                d, "histograms", lambda v: {k: Histogram.from_raw(k, h) for k, h in v.items()}
            ),
            violations=_read(
                d,
                "violations",
                lambda v: [
                    StaleAccess.from_raw({**x, "remapped_by": _or_minus_one(x["remapped_by"])})
                    for x in v
                ],
            ),
            events=_read(d, "events", _count),
            wall_seconds=_read(d, "wall_seconds", _seconds),
            trace_dropped=_read(d, "trace_dropped", _count, 0),
            stopped=_read(d, "stopped", lambda v: None if v is None else str(v), None),
            trace_rows=_read(
                d,
                "trace",
                lambda v: [
                    (int(c), int(cpu), str(kind), dict(fields)) for c, cpu, kind, fields in v
                ],
                [],
            ),
            sample_rows=_read(
                d, "samples", lambda v: [tuple(int(x) for x in row) for row in v], []
            ),
            ops_rows=ops,
            calls_rows=_read(
                d, "calls", lambda v: None if v is None else [_call(row) for row in v], None
            ),
            lock_stats_rows=_read(d, "lock_stats", _lock_stat_rows, []),
        )


def _lock_stat_rows(v: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Saved lock statistics: the name, the exact sums as ints, the figures as floats."""
    from kmapsim.lockstat import FIGURE_KEYS, RAW_KEYS

    out = []
    for row in v:
        d: dict[str, Any] = {"lock": str(row["lock"])}
        d.update({k: int(row[k]) for k in RAW_KEYS})
        d.update({k: float(row[k]) for k in FIGURE_KEYS})
        out.append(d)
    return out


def _call(row: Sequence[Any]) -> tuple[int, int, int, str, int, int, bool, bool]:
    cycle, task, cpu, op, page, slot, slept, flushed = row
    return (
        int(cycle),
        int(task),
        int(cpu),
        str(op),
        int(page),
        int(slot),
        bool(slept),
        bool(flushed),
    )


#: What `RunResult.from_dict` accepts, for its errors.
_RESULT_DICT = "a dict written by RunResult.to_dict"
_ABSENT = object()
_T = TypeVar("_T")


def _read(
    d: Mapping[str, Any], key: str, convert: Callable[[Any], _T], default: Any = _ABSENT
) -> _T:
    """``convert(d[key])`` (or ``default`` as it is when the key is absent and has one); a missing
    key or a value ``convert`` cannot read is a ScenarioError (field ``"result"``) naming it."""
    if key not in d:
        if default is _ABSENT:
            raise ScenarioError.of("result", f"missing key {key!r}", _RESULT_DICT)
        return cast(_T, default)
    value = d[key]
    try:
        return convert(value)
    except ScenarioError as e:  # a bad scenario field: keep its message, under this key
        raise ScenarioError.of("result", f"key {key!r}: {e}", _RESULT_DICT) from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as e:
        raise ScenarioError.of(
            "result",
            f"key {key!r} holds {type(value).__name__} {quote(value)}, which cannot be read "
            f"({type(e).__name__})",
            _RESULT_DICT,
        ) from None


def _int_rows(rows: Sequence[Sequence[Any]]) -> list[list[int]]:
    return [[_count(x) for x in row] for row in rows]


def _count(x: object) -> int:
    """A saved count, seed or number of cycles: an integer in [0, 2**64) (a whole float, as
    some JSON writers give, counts; a bool, a fraction or a string does not)."""
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    n = as_int(x)
    if n is None or not 0 <= n < 1 << 64:
        raise ValueError(f"{quote(x)} is not an integer in [0, 2**64)")
    return n


def _seconds(x: object) -> float:
    """A saved wall time: a finite number of seconds >= 0 (a bool or a string is not one)."""
    f = as_float(x)
    if f is None or not 0.0 <= f < math.inf:
        raise ValueError(f"{quote(x)} is not a number of seconds")
    return f


def _or_minus_one(x: int | None) -> int:
    return -1 if x is None else x


def _op(row: Sequence[Any]) -> tuple[int, int, int, int, int, bool, bool]:
    """One recorded operation as the engine returns it: five ints, then two flags."""
    cpu, work, irq_lock, irq_hold, page, irqs_off, switch = row
    return (
        int(cpu),
        int(work),
        int(irq_lock),
        int(irq_hold),
        int(page),
        bool(irqs_off),
        bool(switch),
    )


def _mean(h: Histogram | None) -> float | None:
    return h.mean if h is not None and h.count else None


def _p99(h: Histogram | None) -> int | None:
    return h.quantile(0.99) if h is not None and h.count else None


def _html_table(caption: str, rows: Sequence[tuple[str, str]]) -> str:
    """``rows`` of (label, value) as a two-column HTML table, every string escaped."""
    body = "".join(
        f'<tr><th style="text-align:left">{html.escape(label)}</th>'
        f'<td style="text-align:left">{html.escape(value)}</td></tr>'
        for label, value in rows
    )
    return f"<table><caption>{html.escape(caption)}</caption>{body}</table>"
