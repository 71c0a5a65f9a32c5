"""`sweep`: many runs over a grid of scenario fields and seeds, in parallel, resumable.

Each run is independent, so a sweep is a map over points. By default the points run on a thread
pool as wide as the machine: `kmapsim.run` releases the GIL, so threads use every core without
copying anything between processes. Any `concurrent.futures.Executor` can be passed instead
(a process pool, or a Dask cluster through ``Client.get_executor()``). The result never depends
on how the points were run: rows come back in grid order, and every row is a pure function of
(scenario, seed, cycles).
"""

from __future__ import annotations

import concurrent.futures as cf
import html
import itertools
import math
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Collection, Generator, Iterable, Mapping, Sequence, Sized
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import numpy as np

from kmapsim import _core
from kmapsim._frozen import CopiedField, FrozenList, freeze_mapping, owned_frames, sealed
from kmapsim._numbers import as_int
from kmapsim._quote import did_you_mean, quote
from kmapsim.errors import KmapsimError, ScenarioError, ScenarioTypeError, bad_name
from kmapsim.outputs import PARQUET_SUFFIXES, output_file, writing
from kmapsim.result import TASK_STATES, task_state_shares
from kmapsim.runner import MAX_CYCLES, MAX_SEED, Mode, _check_mode, _flag, _int_arg, run
from kmapsim.scenario import Scenario, _check_names
from kmapsim.store import Store, check_path, run_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_POINTS", "PoolExecutor", "SweepResult", "row_of", "run_point", "sweep"]

#: Most points (grid combinations x seeds) one sweep takes. Each point's row is held in memory
#: until the frame is built (about 12 kB as a dict), so this bounds a sweep near 1.5 GB; a
#: bigger study is several sweeps sharing one store.
MAX_POINTS = 100_000

#: The columns most often summarised, listed first when `SweepResult.summary` refuses one.
_USUAL_VALUES = (
    "throughput",
    "kmaps_per_second",
    "mb_per_second",
    "stale_accesses",
    "kmap_lock_wait_mean",
    "kmap_lock_wait_p99",
    "share_kmap_spin",
)

#: Quantiles of the kmap_lock wait and hold histograms kept in each row.
_QUANTILES = (0.5, 0.99)


def row_of(result: Any) -> dict[str, Any]:
    """One tidy row for a `RunResult`: scenario fields (a program in its one-line form,
    `Scenario.program_text`, and only when the scenario has one), seed, cycles, every counter,
    the share of all CPU cycles in each category, the share of all task cycles in each task
    state (``task_share_running``, ... ``task_share_pool_sleep``), throughput, lock-time
    summaries, and ``kmap_lock``'s lockmeter figures (``kmap_lock_util_pct``,
    ``kmap_lock_contended_pct``, ``kmap_lock_hold_mean_us``, ...
    `kmapsim.lockstat.LOCKMETER_FIGURES`). Plain
    JSON values."""
    r = result
    row: dict[str, Any] = dict(r.scenario.to_dict())
    if "program" in row:
        row["program"] = r.scenario.program_text
    row["seed"] = r.seed
    row["cycles"] = r.cycles
    row.update({k: int(v) for k, v in r.counters.items()})
    total = float(r.breakdown.to_numpy().sum())
    for cat, cycles in r.breakdown.sum().items():
        row[f"share_{cat}"] = float(cycles) / total if total else 0.0
    shares = task_state_shares(r.task_breakdown_rows)
    for state, share in zip(TASK_STATES, shares, strict=True):
        row[f"task_share_{state}"] = share
    row["throughput"] = r.throughput
    row["kmaps_per_second"] = r.kmaps_per_second
    row["mb_per_second"] = r.mb_per_second
    for name in ("kmap_lock_wait", "kmap_lock_hold", "flush_duration", "shootdown"):
        h = r.histograms[name]
        row[f"{name}_mean"] = h.mean if h.count else None
        for q in _QUANTILES:
            row[f"{name}_p{round(q * 100)}"] = h.quantile(q) if h.count else None
    # kmap_lock's lockmeter figures (RunResult.lock_stats), as lockmeter prints them.
    row.update(kmap_lock_columns(r))
    # The whole kmap_lock wait distribution (log2 buckets, see Histogram), for plots.
    row["kmap_lock_wait_counts"] = [int(x) for x in r.histograms["kmap_lock_wait"].counts]
    row["events"] = r.events
    return row


def kmap_lock_columns(result: Any) -> dict[str, float | None]:
    """``kmap_lock_util_pct``, ... for `row_of`: None for a result saved without lock stats."""
    from kmapsim.lockstat import LOCKMETER_FIGURES, lock_stat_rows

    rows = lock_stat_rows(result.lock_stats_rows, result.cycles, result.scenario.cpu_mhz)
    kmap = next((r for r in rows if r["lock"] == "kmap_lock"), None)
    return {f"kmap_lock_{k}": None if kmap is None else kmap[k] for k in LOCKMETER_FIGURES}


def run_point(
    scenario: Mapping[str, Any],
    seed: int,
    cycles: int,
    mode: str,
    cancel: _core.CancelToken | None = None,
    point: str = "sweep point",
    stop_file: str | None = None,
) -> dict[str, Any]:
    """Run one point and return its row. Module-level and pickle-friendly, for process pools
    and Dask workers; ``cancel`` (threads) or ``stop_file`` (processes: the point stops once
    that file exists) stops it when its sweep stops.

    An error of the run (`DeadlockError`, `KernelBug`, ... `MemoryError`) keeps its type and
    details, and says which point failed: its message starts with ``point`` (the grid values)
    and the seed, and it carries ``.scenario`` (a dict) and ``.seed`` to reproduce it alone.
    The message keeps its first lines within `MAX_ERROR_CHARS` (a deadlock's full wait-for
    graph stays in ``.chain`` and ``.edges``), so that no executor replaces the error."""
    sc = Scenario.from_dict(scenario)
    token = cancel
    if token is None and stop_file is not None:
        token = _core.CancelToken()
    _Watcher.start(stop_file, token)
    try:
        result = run(sc, cycles=cycles, seed=seed, mode=mode, cancel=token)  # type: ignore[arg-type]
    except (KmapsimError, MemoryError) as e:
        _name_point(e, scenario, seed, point)
        raise
    finally:
        _Watcher.forget(token)
    return row_of(result)


class _Watcher:
    """One thread per worker process that stops its points when their sweep stops (the
    sweep's stop file appears) and exits the process when its parent dies: a sweep killed with
    SIGKILL cannot stop its workers, and a point of 2**40 cycles would otherwise run on as an
    orphan. Polls every `POLL` seconds.

    Only points given a stop file are watched, and the parent only in a process that runs a
    point for a sweep of another process (a worker): the sweep's own process (an in-process
    executor) and a process running a serial or threaded sweep are never exited. The thread
    ends once it has no point and no parent to watch."""

    POLL = 0.1
    _lock = threading.Lock()
    #: The process whose thread watches: a forked child inherits the value, not the thread.
    _pid: ClassVar[int | None] = None
    #: id(token) -> (stop file, token) of the points running in this process.
    _points: ClassVar[dict[int, tuple[str, _core.CancelToken]]] = {}
    #: The parent process to watch (this process is a sweep's worker), or None.
    _parent: ClassVar[Any] = None
    #: stop file -> the pid of the sweep that made it (a worker forked from it inherits this).
    _sweeps: ClassVar[dict[str, int]] = {}

    @classmethod
    def own(cls, stop_file: str) -> None:
        """``stop_file`` belongs to a sweep of this process: its points here are not a worker's."""
        with cls._lock:
            cls._sweeps[stop_file] = os.getpid()

    @classmethod
    def disown(cls, stop_file: str) -> None:
        with cls._lock:
            cls._sweeps.pop(stop_file, None)

    @classmethod
    def start(cls, stop_file: str | None, token: _core.CancelToken | None) -> None:
        if stop_file is None or token is None:
            return  # a serial or threaded sweep's point: nothing to watch
        with cls._lock:
            # (A forked child starts afresh: `_after_fork`.)
            cls._points[id(token)] = (stop_file, token)
            if cls._sweeps.get(stop_file) != os.getpid() and cls._parent is None:
                cls._parent = multiprocessing.parent_process()
            if cls._pid is None:
                cls._pid = os.getpid()
                watch = threading.Thread(target=cls._watch, name="kmapsim-sweep-watch", daemon=True)
                watch.start()

    @classmethod
    def _after_fork(cls) -> None:
        """In a forked child: a fresh lock (the parent's watcher may have held it at the fork)
        and none of the parent's points, thread or parent; its sweeps' stop files stay known."""
        cls._lock = threading.Lock()
        cls._pid, cls._points, cls._parent = None, {}, None

    @classmethod
    def forget(cls, token: _core.CancelToken | None) -> None:
        with cls._lock:
            cls._points.pop(id(token), None)

    @classmethod
    def _watch(cls) -> None:
        while True:
            with cls._lock:
                parent = cls._parent
                points = list(cls._points.values())
                if parent is None and not points:
                    cls._pid = None  # the next watched point starts a thread again
                    return
            if parent is not None and not parent.is_alive():
                os._exit(1)
            for path, token in points:
                if os.path.exists(path):
                    token.cancel()
            time.sleep(cls.POLL)


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_Watcher._after_fork)


def _name_point(e: BaseException, scenario: Mapping[str, Any], seed: int, point: str) -> None:
    """Prefix ``e``'s message with the point and seed, and give it the scenario and seed as an
    `InternalError` has them: in a sweep of thousands of runs, the failing one must be found.
    Changed in place, so that the exception's type, attributes and traceback stay its own
    (kmapsim's errors pickle their attributes, so this crosses process boundaries too)."""
    label = f"{point}, seed {seed}"
    e.args = (_bounded(f"{label}: {e.args[0]}", e), *e.args[1:]) if e.args else (label,)
    if not hasattr(e, "scenario"):
        e.scenario = dict(scenario)  # type: ignore[attr-defined]
        e.seed = seed  # type: ignore[attr-defined]


#: The longest message of a sweep point's error, in characters: a 256-CPU deadlock lists
#: one line per CPU (about 20,000 characters), and an executor may refuse long messages (Dask
#: replaces an error of more than ``distributed.admin.max-error-length``, 10,000 by default,
#: with a plain Exception, losing its type).
MAX_ERROR_CHARS = 4000


def _bounded(message: str, e: BaseException) -> str:
    """``message`` cut to its first lines within `MAX_ERROR_CHARS`, saying how many lines are
    omitted (a deadlock's edges: all of them stay in its ``.edges``)."""
    if len(message) <= MAX_ERROR_CHARS:
        return message
    lines = message.split("\n")
    what = "edges (all in .edges)" if hasattr(e, "edges") else "lines"
    room = MAX_ERROR_CHARS - 80  # for the line saying what is omitted
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > room:
            break
        kept.append(line)
        size += len(line) + 1
    if not kept:  # one long line: cut it
        return message[: MAX_ERROR_CHARS - 30] + f" ... ({len(message)} characters)"
    return "\n".join([*kept, f"  ... {len(lines) - len(kept)} more {what} omitted"])


def _point_label(grid: Collection[str], sc: Scenario) -> str:
    """``grid point cpus=4, strategy='sync'``: the point's grid values, as the scenario holds
    them (what `_points` names a bad point by)."""
    if not grid:
        return "sweep point (the base scenario)"
    return "grid point " + ", ".join(f"{n}={quote(getattr(sc, n))}" for n in grid)


@sealed
@dataclass(frozen=True, repr=False, eq=False)
class SweepResult:
    """The rows of a sweep, one per (grid point, seed), in grid order.

    A value: ``frame`` returns a fresh copy on each access, ``grid`` is a read-only dict of
    read-only lists and ``seeds`` a read-only list. Two results are equal when their fields
    are (the frames compared with ``DataFrame.equals``); they are not hashable, as they hold
    a DataFrame.

    Its repr is a short summary (runs, grid points, seeds, cycles, runs reused from a store,
    the grid's fields, and throughput and stale accesses per strategy); notebooks show the
    same as HTML (``_repr_html_``). `summary` tabulates any column per grid point.
    """

    frame: pd.DataFrame
    #: The grid as given: field name -> values.
    grid: Mapping[str, Sequence[Any]]
    seeds: Sequence[int]
    cycles: int
    #: How many rows were read from the store rather than run.
    reused: int = 0

    def __post_init__(self) -> None:
        # The repr and summary read grid and seeds: they must not change in place.
        grid = freeze_mapping({k: FrozenList(v) for k, v in self.grid.items()})
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "seeds", FrozenList(self.seeds))

    # Defining __eq__ makes instances unhashable, which suits a value holding a DataFrame.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SweepResult):
            return NotImplemented
        plain = (self.grid, self.seeds, self.cycles, self.reused)
        if plain != (other.grid, other.seeds, other.cycles, other.reused):
            return False
        return bool(self.__dict__["frame"].equals(other.__dict__["frame"]))

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write the frame as Parquet to ``path`` (ending in ``.parquet`` or ``.pq``); a path
        that cannot be written raises ScenarioFileError naming it (`kmapsim.outputs`)."""
        p = output_file("path", path, PARQUET_SUFFIXES, "a .parquet or .pq file")
        with writing("path", p):
            self.frame.to_parquet(p, index=False)
        return p

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the frame as CSV to ``path`` (ending in ``.csv``); a path that cannot be
        written raises ScenarioFileError naming it (`kmapsim.outputs`)."""
        p = output_file("path", path, (".csv",), "a .csv file")
        with writing("path", p):
            self.frame.to_csv(p, index=False)
        return p

    def summary(self, value: str = "throughput") -> pd.DataFrame:
        """Mean, standard deviation, min and max of ``value`` across seeds, per grid point
        (index: the grid's fields, or ``strategy`` for a sweep without a grid), and
        ``stale_accesses``, the stale accesses summed over the seeds: a table that compares
        strategies shows their safety too (``async`` is fast because it corrupts data).

        ``value`` is a numeric column of `frame`; another is a ScenarioError (field
        ``"value"``) listing them."""
        import pandas as pd

        numeric = [
            str(c) for c in self.frame.columns if pd.api.types.is_numeric_dtype(self.frame[c])
        ]
        if not isinstance(value, str) or value not in numeric:
            usual = [c for c in _USUAL_VALUES if c in numeric]
            text = ", ".join([*usual, *(c for c in numeric if c not in usual)])
            raise bad_name(
                "value",
                value,
                f"got {quote(value)}, not a numeric column of the frame"
                + did_you_mean(value, numeric),
                "one of " + (text if len(text) <= 600 else text[:597] + "..."),
            )
        keys = list(self.grid) or ["strategy"]
        groups = self.frame.groupby(keys, sort=False)
        table = groups[value].agg(["mean", "std", "min", "max"])
        if "stale_accesses" in self.frame.columns:
            table["stale_accesses"] = groups["stale_accesses"].sum().astype("int64")
        return table

    def by_strategy(self) -> pd.DataFrame:
        """Per strategy (in order of first appearance), over every grid point and seed: runs,
        throughput mean, min and max, and stale accesses summed. What the repr shows."""
        f = self.frame
        groups = f.groupby("strategy", sort=False)
        table = groups["throughput"].agg(["count", "mean", "min", "max"])
        table.columns = ["runs", "throughput_mean", "throughput_min", "throughput_max"]
        if "stale_accesses" in f.columns:
            table["stale_accesses"] = groups["stale_accesses"].sum().astype("int64")
        return table

    def _headline(self) -> str:
        n = len(self.seeds)
        runs = len(self.frame)
        # A frame `sweep` made has a row per point and seed; one assembled otherwise may not.
        points = runs // n if n and runs % n == 0 else math.prod(map(len, self.grid.values()))
        return (
            f"{runs:,} run{'' if runs == 1 else 's'} = "
            f"{points:,} grid point{'' if points == 1 else 's'} x "
            f"{n:,} seed{'' if n == 1 else 's'} x {self.cycles:,} cycles; "
            f"{self.reused:,} reused from a store"
        )

    def _grid_text(self) -> str:
        if not self.grid:
            return "none (one point: the base scenario)"
        parts = []
        for name, values in self.grid.items():
            shown = ", ".join(quote(v, 20) if isinstance(v, str) else str(v) for v in values[:6])
            more = ", ..." if len(values) > 6 else ""
            parts.append(f"{name} ({len(values)}: {shown}{more})")
        return "; ".join(parts)

    def _strategy_rows(self) -> tuple[list[str], list[list[str]]]:
        header = ["strategy", "runs", "mean", "min", "max"]
        if not {"strategy", "throughput"} <= set(self.frame.columns):
            return header, []  # not a frame `sweep` made: nothing to tabulate
        table = self.by_strategy()
        stale = "stale_accesses" in table.columns
        if stale:
            header.append("stale accesses")
        rows = []
        for name, r in table.iterrows():
            row = [
                str(name),
                f"{int(r['runs']):,}",
                f"{r['throughput_mean']:,.1f}",
                f"{r['throughput_min']:,.1f}",
                f"{r['throughput_max']:,.1f}",
            ]
            if stale:
                row.append(f"{int(r['stale_accesses']):,}")
            rows.append(row)
        return header, rows

    def __repr__(self) -> str:
        header, rows = self._strategy_rows()
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [
            f"SweepResult: {self._headline()}",
            f"  grid: {self._grid_text()}",
            f"  frame: {len(self.frame):,} rows x {len(self.frame.columns)} columns; "
            ".summary() gives each grid point",
            "  throughput (kmaps per million cycles) and stale accesses (summed), per strategy, "
            + (
                "pooled over every grid point (compare strategies with .summary()):"
                if set(self.grid) - {"strategy"}
                else "over the seeds:"
            ),
        ]
        for r in [header, *rows]:
            cells = [
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ]
            lines.append("    " + "  ".join(cells))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """A small HTML summary for notebooks: the repr's lines and table, escaped."""
        header, rows = self._strategy_rows()
        esc = html.escape
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
        return (
            f"<div><p><b>SweepResult</b>: {esc(self._headline())}<br>"
            f"grid: {esc(self._grid_text())}<br>"
            f"frame: {len(self.frame):,} rows x {len(self.frame.columns)} columns</p>"
            "<table><caption>throughput (kmaps per million cycles) and stale accesses "
            f"(summed), per strategy</caption><tr>{head}</tr>{body}</table></div>"
        )


SweepResult.frame = CopiedField("frame", "The rows (a copy on each access).")  # type: ignore[assignment]


class PoolExecutor(cf.Executor):
    """A `concurrent.futures.Executor` over anything with ``multiprocessing.Pool``'s
    ``apply_async`` (the standard library's pools, or Ray's ``ray.util.multiprocessing.Pool``):

        with ray.util.multiprocessing.Pool() as pool:
            kmapsim.sweep(base, grid=..., cycles=..., executor=kmapsim.PoolExecutor(pool))

    The pool stays the caller's to close. Raises ScenarioError (field ``pool``) for an object
    without a callable ``apply_async``; a pool that is closed is refused by `sweep` (field
    ``executor``), as a shut-down executor is.
    """

    def __init__(self, pool: Any) -> None:
        if not callable(getattr(pool, "apply_async", None)):
            raise ScenarioTypeError.of(
                "pool",
                f"got {_describe(pool)}, which has no apply_async",
                "a pool with multiprocessing.Pool's apply_async (the standard library's "
                "multiprocessing.Pool, or Ray's ray.util.multiprocessing.Pool)",
            )
        self._pool = pool

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Schedule ``fn(*args, **kwargs)`` on the pool (``apply_async``); a Future of its
        result, or of the exception it raised. ``fn`` and its arguments must pickle for a
        process pool."""
        fut: cf.Future[Any] = cf.Future()
        fut.set_running_or_notify_cancel()
        try:
            self._pool.apply_async(
                fn, args, kwargs, callback=fut.set_result, error_callback=fut.set_exception
            )
        except ValueError as e:  # multiprocessing's "Pool not running": closed or terminated
            raise RuntimeError(f"the pool takes no more work: {e}") from e
        return fut


#: Grid values and seed lists that are refused: strings and bytes (iterable, but meant as one
#: value), mappings (they iterate over their keys) and sets (no order, so no grid order).
_NOT_A_LIST = (str, bytes, Mapping, AbstractSet)
_VALUES = "a non-empty list, tuple, range or 1-D numpy array of values"
_SEEDS = f"a count in [1, {MAX_POINTS:,}], or a non-empty list of distinct integers in [0, 2**64-1]"


def _describe(value: object) -> str:
    return f"{type(value).__name__} {quote(value, 40)}"


def _sized(field: str, values: object, allowed: str) -> Collection[Any]:
    """``values`` as something whose length is known without running through it: a generator
    is read, but never past MAX_POINTS + 1 items, which is already too many."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ScenarioError.of(field, f"a {values.ndim}-D numpy array", allowed)
        return values
    if isinstance(values, _NOT_A_LIST) or not isinstance(values, Iterable):
        raise ScenarioTypeError.of(field, f"got {_describe(values)}", allowed)
    if isinstance(values, Sized):
        try:
            len(values)
        except OverflowError:  # range(10**300): longer than any sweep
            raise ScenarioError.of(field, "more values than a sweep can hold", allowed) from None
        return cast(Collection[Any], values)
    return list(itertools.islice(values, MAX_POINTS + 1))


def _plain(values: Iterable[Any]) -> list[Any]:
    """numpy scalars as Python ones, so that the grid and seeds are plain (JSON-ready) values.
    A numpy time or duration is left as it is, for the field's check to refuse: its ``item()``
    is a plain int, which would pass as a count."""
    if isinstance(values, np.ndarray) and values.dtype.kind not in "mM":
        return list(values.tolist())
    return [v.item() if isinstance(v, np.generic) and not _is_time(v) else v for v in values]


def _is_time(v: np.generic) -> bool:
    return isinstance(v, (np.timedelta64, np.datetime64))


def _grid_sources(base: Scenario, grid: object) -> dict[str, Collection[Any]]:
    """Field name -> its values, each name checked and each list's length known."""
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise ScenarioTypeError.of(
            "grid", f"got {_describe(grid)}", "a mapping of field names to lists of values"
        )
    names = "one of " + ", ".join(base.to_dict())
    out: dict[str, Collection[Any]] = {}
    for name, values in grid.items():
        if not isinstance(name, str):
            raise ScenarioTypeError.of("grid", f"field name {quote(name)} is not a string", names)
        if not name.strip():
            raise ScenarioError.of("grid", f"field name {quote(name)} is empty", names)
        _check_names({name: None})  # an unknown name, with "did you mean"
        out[name] = _sized(name, values, _VALUES)
        if len(out[name]) == 0:
            raise ScenarioError.of(name, "no grid values", _VALUES)
    return out


def _seed_source(seeds: object) -> Collection[Any]:
    if isinstance(seeds, (bool, np.bool_)):
        raise ScenarioTypeError.of("seeds", f"got {_describe(seeds)}", _SEEDS)
    count = as_int(seeds)  # any integer (an object with __index__) is a count
    if count is not None:
        if not 1 <= count <= MAX_POINTS:
            # quote: a count of 10**5000 is shown by its size, not in full.
            raise ScenarioError.of("seeds", f"a count of {quote(count)}", _SEEDS)
        return range(count)
    source = _sized("seeds", seeds, _SEEDS)
    if len(source) == 0:
        raise ScenarioError.of("seeds", "an empty list", _SEEDS)
    return source


def _check_size(grid: Mapping[str, Collection[Any]], seeds: Collection[Any]) -> None:
    """Refuse a sweep of more than MAX_POINTS points, counted before anything is built."""
    combos = math.prod(len(v) for v in grid.values())
    points = combos * len(seeds)
    if points <= MAX_POINTS:
        return
    field = "seeds" if len(seeds) > MAX_POINTS or not grid else "grid"
    raise ScenarioError.of(
        field,
        f"{points:,} points ({combos:,} grid combinations x {len(seeds):,} "
        f"seed{'' if len(seeds) == 1 else 's'}) are too many",
        f"at most {MAX_POINTS:,} points (sweep.MAX_POINTS); split the sweep into several that "
        "share one store",
    )


def _seed_list(seeds: Collection[Any]) -> list[int]:
    """Every seed an integer in [0, 2**64-1], none twice; the bad one is named."""
    out: list[int] = []
    seen: set[int] = set()
    for i, value in enumerate(_plain(seeds)):
        s = as_int(value)
        if s is None:
            raise ScenarioError.of("seeds", f"seeds[{i}] is {_describe(value)}", _SEEDS)
        if not 0 <= s <= MAX_SEED:
            raise ScenarioError.of("seeds", f"seeds[{i}] = {quote(s)} is out of range", _SEEDS)
        if s in seen:
            raise ScenarioError.of("seeds", f"seeds[{i}] = {s} repeats a seed", _SEEDS)
        seen.add(s)
        out.append(s)
    return out


def _points(
    base: Scenario, grid: Mapping[str, list[Any]], seeds: list[int]
) -> list[tuple[Scenario, int]]:
    """Every (scenario, seed) in grid order; each grid scenario is built, so validated, here.

    A value listed twice in one field, compared as the scenario holds it (so 8 and 8.0 in a
    float field are the same value), is a `ScenarioError` naming the field and the value."""
    names = list(grid)
    out: list[tuple[Scenario, int]] = []
    # The value each grid position holds once normalised by the scenario, per field.
    held: dict[str, dict[int, Any]] = {n: {} for n in names}
    for index in itertools.product(*(range(len(grid[n])) for n in names)):
        changes = {n: grid[n][i] for n, i in zip(names, index, strict=True)}
        try:
            sc = base.replace(**changes)
        except ScenarioError as e:
            # The field alone may not say which combination broke a rule that spans fields.
            point = ", ".join(f"{k}={quote(v)}" for k, v in changes.items())
            raise e.within(f"grid point {point}") from None
        for n, i in zip(names, index, strict=True):
            held[n].setdefault(i, getattr(sc, n))
        out.extend((sc, s) for s in seeds)
    for n in names:
        _no_repeats(n, grid[n], held[n])
    _program_runs(base, grid, out)
    return out


def _program_runs(
    base: Scenario, grid: Mapping[str, list[Any]], points: list[tuple[Scenario, int]]
) -> None:
    """The base's program runs at the points whose workload is custom (`Scenario.replace`
    drops it at the others); one that runs at no point is refused, as `Scenario` refuses a
    program with another workload, rather than silently dropped."""
    if base.program is None or "program" in grid or any(sc.program for sc, _ in points):
        return
    workloads = ", ".join(dict.fromkeys(sc.workload for sc, _ in points))
    raise ScenarioError.of(
        "program",
        f"the base scenario's program runs at no grid point (their workloads: {workloads})",
        "a program only when some grid point's workload is custom",
    )


def _no_repeats(name: str, values: list[Any], held: Mapping[int, Any]) -> None:
    """Refuse a grid field that lists a value twice (``held``: position -> normalised value)."""
    first: dict[Any, int] = {}
    for i in range(len(values)):
        value = held[i]
        j = first.setdefault(value, i)
        if j != i:
            shown = quote(held[j])
            if quote(values[i]) != shown or quote(values[j]) != shown:
                shown += f" (given as {quote(values[j])} and {quote(values[i])})"
            raise ScenarioError.of(
                name,
                f"the value {shown} is listed twice (positions {j} and {i})",
                "each value once",
            )


def _check_run_args(cycles: object, mode: object, executor: object) -> int:
    """The arguments of every run, checked before the first; returns ``cycles`` as an int."""
    _check_mode(mode)
    serial = isinstance(executor, str) and executor == "serial"
    if not (executor is None or serial or isinstance(executor, cf.Executor)):
        raise ScenarioTypeError.of(
            "executor",
            f"got {_describe(executor)}{did_you_mean(executor, ['serial'])}",
            'None (a thread pool, one thread per core), "serial" (this thread), '
            "or a concurrent.futures.Executor",
        )
    if isinstance(executor, cf.Executor) and _shut_down(executor):
        raise ScenarioError.of("executor", "the executor is shut down", _OPEN_EXECUTOR)
    return _int_arg("cycles", cycles, 1, MAX_CYCLES)


_OPEN_EXECUTOR = "an executor that is not shut down (nor broken), or None for a thread pool"


def _shut_down(executor: cf.Executor) -> bool:
    """Whether a standard-library pool can take no more work (found before the store is made,
    rather than by the first ``submit``); other executors tell at their first submit."""
    if isinstance(executor, cf.ThreadPoolExecutor):
        return bool(executor._shutdown or executor._broken)
    if isinstance(executor, cf.ProcessPoolExecutor):
        return bool(executor._shutdown_thread or executor._broken)
    return False


def _submit(pool: cf.Executor, *args: Any) -> cf.Future[dict[str, Any]]:
    """``pool.submit(run_point, *args)``, with an executor's refusal to take work (shut down,
    broken) as the ScenarioError naming it."""
    try:
        return pool.submit(run_point, *args)
    except (RuntimeError, cf.BrokenExecutor) as e:
        raise ScenarioError.of("executor", f"it refused the work ({e})", _OPEN_EXECUTOR) from e


def sweep(
    base: Scenario,
    *,
    grid: Mapping[str, Iterable[Any]] | None = None,
    seeds: int | Iterable[int] = 1,
    cycles: int,
    executor: cf.Executor | Literal["serial"] | None = None,
    progress: bool = True,
    store: str | os.PathLike[str] | None = None,
    mode: Mode = "skip",
) -> SweepResult:
    """Run ``base`` with every combination of the ``grid`` values, for each seed.

    ``grid`` maps scenario field names to their values: a list, tuple, range or 1-D numpy
    array (numpy scalars are fine). ``workload`` and ``tasks`` are fields like any other; so
    is ``program``, whose values are programs (one-line strings or lists of steps: each point's
    workload is then custom). A workload other than ``custom`` drops the base's program for its
    points (`Scenario.replace`), so ``grid={"workload": ["dbench", "custom"]}`` on a base with
    a program compares the two; a base program that no point runs (a grid of built-in
    workloads only) is a `ScenarioError`. ``seeds`` is a count (seeds
    0..n-1) or a list of distinct seeds in [0, 2**64-1]. ``executor``: None runs on a thread
    pool with one thread per core this process may use (`kmapsim.checker.cores`); "serial" runs
    in this thread; any
    `concurrent.futures.Executor` (e.g. ``dask.distributed.Client(...).get_executor()``) runs
    the points there. ``store`` names an SQLite file (see `kmapsim.store`): finished runs are
    written one transaction each and skipped when the same sweep runs again, so a killed sweep
    resumes where it stopped; several sweeps may share one store, even while they run.
    ``progress`` shows a tqdm bar.

    On Ctrl-C or an error of a point, every point not yet started is cancelled, on any
    executor, and the running points stop before the exception is raised: on a thread pool
    (the default or a ``ThreadPoolExecutor`` of yours) by the sweep's `CancelToken`; in worker
    processes on this machine (a ``ProcessPoolExecutor``, `PoolExecutor`) by a stop file they
    poll, waiting for them at most `STOP_WAIT` seconds; a remote worker's point (Dask on another
    machine) runs to its end. A worker process exits at once when its parent process dies
    (killed with SIGKILL, say).

    Everything is checked before any run starts: every seed, every grid value (every scenario
    of the grid is built), ``cycles``, ``mode``, ``executor`` (a shut-down pool is refused),
    the size, and the store (opened and found writable; a new store's path is checked, and the
    file made once the executor has taken every point, so that an executor refusing them leaves
    no empty store behind, and a store that cannot be made stops them). A sweep has at most
    `MAX_POINTS` (100,000) points, grid combinations times seeds, counted before anything is
    built.

    Raises `ScenarioError` naming the bad argument or field (``grid``, a field name, ``seeds``,
    ``cycles``, ``mode``, ``executor``), `StoreError` for a store that cannot be used,
    `ScenarioTypeError` (a TypeError) when ``base`` is not a Scenario, and what a run raises
    (e.g. `DeadlockError`, naming the point and seed). A stored run that fails its integrity
    check is run again with a `StoreWarning`.
    """
    if not isinstance(base, Scenario):
        raise ScenarioTypeError.got("base", base, "a kmapsim.Scenario")
    # Everything is checked, and every scenario built, before the store is opened and long
    # before the first run: a bad last seed must not cost the runs before it.
    n = _check_run_args(cycles, mode, executor)
    show = _flag("progress", progress)  # "no" is truthy: it must not draw a bar
    sources = _grid_sources(base, grid)
    seed_source = _seed_source(seeds)
    _check_size(sources, seed_source)
    grid_lists = {name: _plain(values) for name, values in sources.items()}
    seed_list = _seed_list(seed_source)
    points = _points(base, grid_lists, seed_list)
    keys = [run_key(sc, s, n) for sc, s in points]

    # A new store holds nothing to reuse: it is made once the executor has taken the work, so
    # that an executor refusing it (a closed Dask client) leaves no empty store behind.
    fresh = store is not None and not check_path(store).exists()
    db = Store(store) if store is not None and not fresh else None
    try:
        rows: dict[str, dict[str, Any]] = db.get(keys) if db is not None else {}
        reused = len(rows)
        todo = [(k, sc, s) for k, (sc, s) in zip(keys, points, strict=True) if k not in rows]
        # Two points with the same key (a grid listing a value twice) run once.
        todo = list({k: (k, sc, s) for k, sc, s in todo}.values())
        results = _execute(todo, n, mode, executor, list(grid_lists))
        next(results)  # every point submitted
        if fresh and store is not None:
            db = _made_store(store, results)
        with progress_bar(len(keys), reused, show) as bar:
            for done in results:
                assert done is not None  # only the first item is None
                key, seed, row = done
                if db is not None:
                    db.put(key, seed, n, row)
                rows[key] = row
                bar.update(1)
    finally:
        if db is not None:
            db.close()
    import pandas as pd

    frame = pd.DataFrame([rows[k] for k in keys])
    with owned_frames():  # the frame was built for the result: no copy of it
        return SweepResult(frame=frame, grid=grid_lists, seeds=seed_list, cycles=n, reused=reused)


def _made_store(store: str | os.PathLike[str], results: Generator[Any, None, None]) -> Store:
    """The new store, or, if it cannot be made, the submitted points stopped and its error."""
    try:
        return Store(store)
    except BaseException:
        results.close()  # GeneratorExit at its first yield: `_stop`
        raise


#: What `_execute` yields: a finished point's key, seed and row (None first, once submitted).
_Done = tuple[str, int, dict[str, Any]] | None


def _execute(
    todo: list[tuple[str, Scenario, int]],
    cycles: int,
    mode: str,
    executor: cf.Executor | Literal["serial"] | None,
    grid: list[str],
) -> Generator[_Done, None, None]:
    """Run the points: yield None once every point is submitted (the executor took them all),
    then each point as it finishes (in this, the calling, thread)."""
    if isinstance(executor, str) or not todo:  # "serial" (sweep checked the value)
        yield None
        for key, sc, seed in todo:
            yield (
                key,
                seed,
                run_point(sc.to_dict(), seed, cycles, mode, None, _point_label(grid, sc)),
            )
        return
    own = executor is None
    pool = executor if executor is not None else cf.ThreadPoolExecutor(_core.cores())
    # Runs in this process's threads share one token: stopping this sweep stops them and no
    # other run in the process (another thread's run, another sweep). A token does not cross
    # a process boundary: a process pool's running points finish (see `_stop`).
    token = _core.CancelToken() if isinstance(pool, cf.ThreadPoolExecutor) else None
    # Other executors' workers are processes: they watch for a file that this sweep creates
    # to stop them (on this machine; a remote worker's points run to their end).
    stops = None if token is not None else tempfile.TemporaryDirectory(prefix="kmapsim-sweep-")
    stop_file = None if stops is None else os.path.join(stops.name, "stop")
    futures: dict[cf.Future[dict[str, Any]], tuple[str, int]] = {}
    if stop_file is not None:
        _Watcher.own(stop_file)
    try:
        for key, sc, seed in todo:
            args = (sc.to_dict(), seed, cycles, mode, token, _point_label(grid, sc), stop_file)
            futures[_submit(pool, *args)] = (key, seed)
        yield None
        for fut in cf.as_completed(futures):
            key, seed = futures[fut]
            yield key, seed, fut.result()
    except BaseException:
        _stop(futures, token, stop_file)
        raise
    finally:
        if own:
            pool.shutdown(wait=False)
        if stops is not None:
            stops.cleanup()
        if stop_file is not None:
            _Watcher.disown(stop_file)


def _stop(
    futures: Collection[cf.Future[Any]], token: _core.CancelToken | None, stop_file: str | None
) -> None:
    """Ctrl-C or an error (of a point or of this thread): drop every point not started, and
    stop the running ones (worker threads and processes never see the signal), waiting the
    moment they take to stop, so that nothing of the sweep runs on once it has raised.
    Finished runs are already in the store. Threads stop by the token; worker processes on
    this machine by the stop file (`_Watcher`), within a few tenths of a second; a remote
    worker's point is not waited for past `STOP_WAIT`."""
    for fut in futures:
        fut.cancel()
    if token is not None:
        token.cancel()
        cf.wait(futures)
    elif stop_file is not None:
        with open(stop_file, "w"):
            pass
        cf.wait(futures, timeout=STOP_WAIT)


#: How long a stopping sweep waits for the running points of worker processes to stop.
STOP_WAIT = 5.0


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress_bar(total: int, done: int, enabled: bool, desc: str = "kmapsim sweep") -> Any:
    """A tqdm bar of runs (``done`` of ``total`` already there), or a stand-in doing nothing."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="run", desc=desc, dynamic_ncols=True)
