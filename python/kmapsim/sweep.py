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
import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kmapsim import _core
from kmapsim.api import MAX_CYCLES, Mode, run
from kmapsim.errors import ScenarioError
from kmapsim.scenario import Scenario
from kmapsim.store import Store, run_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PoolExecutor", "SweepResult", "row_of", "run_point", "sweep"]

#: Quantiles of the kmap_lock wait and hold histograms kept in each row.
_QUANTILES = (0.5, 0.99)


def row_of(result: Any) -> dict[str, Any]:
    """One tidy row for a `RunResult`: scenario fields, seed, cycles, every counter, the share of
    all CPU cycles in each category, throughput, and lock-time summaries. Plain JSON values."""
    r = result
    row: dict[str, Any] = dict(r.scenario.to_dict())
    row["seed"] = r.seed
    row["cycles"] = r.cycles
    row.update({k: int(v) for k, v in r.counters.items()})
    total = float(r.breakdown.to_numpy().sum())
    for cat, cycles in r.breakdown.sum().items():
        row[f"share_{cat}"] = float(cycles) / total
    row["throughput"] = r.throughput
    row["kmaps_per_second"] = r.kmaps_per_second
    row["mb_per_second"] = r.mb_per_second
    for name in ("kmap_lock_wait", "kmap_lock_hold", "flush_duration", "shootdown"):
        h = r.histograms[name]
        row[f"{name}_mean"] = h.mean if h.count else None
        for q in _QUANTILES:
            row[f"{name}_p{round(q * 100)}"] = h.quantile(q) if h.count else None
    # The whole kmap_lock wait distribution (log2 buckets, see Histogram), for plots.
    row["kmap_lock_wait_counts"] = [int(x) for x in r.histograms["kmap_lock_wait"].counts]
    row["events"] = r.events
    return row


def run_point(scenario: Mapping[str, Any], seed: int, cycles: int, mode: str) -> dict[str, Any]:
    """Run one point and return its row. Module-level and pickle-friendly, for process pools
    and Dask workers."""
    result = run(Scenario.from_dict(scenario), cycles=cycles, seed=seed, mode=mode)  # type: ignore[arg-type]
    return row_of(result)


@dataclass(frozen=True)
class SweepResult:
    """The rows of a sweep, one per (grid point, seed), in grid order."""

    frame: pd.DataFrame
    #: The grid as given: field name -> values.
    grid: dict[str, list[Any]]
    seeds: list[int]
    cycles: int
    #: How many rows were read from the store rather than run.
    reused: int = 0

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        self.frame.to_parquet(p, index=False)
        return p

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        self.frame.to_csv(p, index=False)
        return p

    def summary(self, value: str = "throughput") -> pd.DataFrame:
        """Mean, standard deviation, min and max of ``value`` across seeds, per grid point."""
        keys = list(self.grid) or ["strategy"]
        return self.frame.groupby(keys, sort=False)[value].agg(["mean", "std", "min", "max"])


class PoolExecutor(cf.Executor):
    """A `concurrent.futures.Executor` over anything with ``multiprocessing.Pool``'s
    ``apply_async`` (the standard library's pools, or Ray's ``ray.util.multiprocessing.Pool``):

        with ray.util.multiprocessing.Pool() as pool:
            kmapsim.sweep(base, grid=..., cycles=..., executor=kmapsim.PoolExecutor(pool))

    The pool stays the caller's to close.
    """

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        fut: cf.Future[Any] = cf.Future()
        fut.set_running_or_notify_cancel()
        self._pool.apply_async(
            fn, args, kwargs, callback=fut.set_result, error_callback=fut.set_exception
        )
        return fut


def _points(
    base: Scenario, grid: Mapping[str, Sequence[Any]], seeds: list[int]
) -> list[tuple[Scenario, int]]:
    names = list(grid)
    out: list[tuple[Scenario, int]] = []
    for values in itertools.product(*(list(grid[n]) for n in names)):
        sc = base.replace(**dict(zip(names, values, strict=True)))
        out.extend((sc, s) for s in seeds)
    return out


def _seed_list(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, (int, Iterable)):
        raise ScenarioError.of("seeds", f"got {seeds!r}", "a count >= 1 or a list of seeds")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ScenarioError.of("seeds", f"{seeds}", "a count >= 1 or a list of seeds")
        return list(range(seeds))
    out = list(seeds)
    if not out or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in out):
        raise ScenarioError.of("seeds", f"{out!r}", "a non-empty list of integers >= 0")
    if len(set(out)) != len(out):
        raise ScenarioError.of("seeds", f"{out!r} repeats a seed", "distinct seeds")
    return out


def sweep(
    base: Scenario,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    seeds: int | Iterable[int] = 1,
    cycles: int,
    executor: cf.Executor | Literal["serial"] | None = None,
    progress: bool = True,
    store: str | os.PathLike[str] | None = None,
    mode: Mode = "skip",
) -> SweepResult:
    """Run ``base`` with every combination of the ``grid`` values, for each seed.

    ``seeds`` is a count (seeds 0..n-1) or a list. ``executor``: None runs on a thread pool with
    one thread per core; "serial" runs in this thread; any `concurrent.futures.Executor` (e.g.
    ``dask.distributed.Client(...).get_executor()``) runs the points there. ``store`` names an
    SQLite file: finished runs are written one transaction each and skipped when the same sweep
    runs again, so a killed sweep resumes where it stopped. ``progress`` shows a tqdm bar.
    Every scenario is validated before any run starts.
    """
    if not isinstance(base, Scenario):
        raise TypeError(f"base must be a kmapsim.Scenario, got {type(base).__name__}")
    for name, values in (grid or {}).items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable) or not values:
            raise ScenarioError.of(name, f"grid values {values!r}", "a non-empty list of values")
    grid_lists: dict[str, list[Any]] = {k: list(v) for k, v in (grid or {}).items()}
    seed_list = _seed_list(seeds)
    if isinstance(cycles, bool) or not isinstance(cycles, int) or not 1 <= cycles <= MAX_CYCLES:
        raise ScenarioError.of("cycles", f"{cycles!r}", f"an integer in [1, {MAX_CYCLES}]")
    points = _points(base, grid_lists, seed_list)
    keys = [run_key(sc.to_dict(), s, cycles) for sc, s in points]

    db = Store(store) if store is not None else None
    try:
        rows: dict[str, dict[str, Any]] = db.get(keys) if db is not None else {}
        reused = len(rows)
        todo = [(k, sc, s) for k, (sc, s) in zip(keys, points, strict=True) if k not in rows]
        # Two points with the same key (a grid listing a value twice) run once.
        todo = list({k: (k, sc, s) for k, sc, s in todo}.values())
        with _progress(len(keys), reused, progress) as bar:
            for key, seed, row in _execute(todo, cycles, mode, executor):
                if db is not None:
                    db.put(key, seed, cycles, row)
                rows[key] = row
                bar.update(1)
    finally:
        if db is not None:
            db.close()
    import pandas as pd

    frame = pd.DataFrame([rows[k] for k in keys])
    return SweepResult(frame=frame, grid=grid_lists, seeds=seed_list, cycles=cycles, reused=reused)


def _execute(
    todo: list[tuple[str, Scenario, int]],
    cycles: int,
    mode: str,
    executor: cf.Executor | Literal["serial"] | None,
) -> Iterable[tuple[str, int, dict[str, Any]]]:
    """Run the points, yielding each as it finishes (in this, the calling, thread)."""
    if executor == "serial" or not todo:
        for key, sc, seed in todo:
            yield key, seed, run_point(sc.to_dict(), seed, cycles, mode)
        return
    own = executor is None
    pool = cf.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) if own else executor
    assert isinstance(pool, cf.Executor)
    futures = {
        pool.submit(run_point, sc.to_dict(), seed, cycles, mode): (key, seed)
        for key, sc, seed in todo
    }
    try:
        for fut in cf.as_completed(futures):
            key, seed = futures[fut]
            yield key, seed, fut.result()
    except BaseException:
        # Ctrl-C or an error: drop what has not started, and stop the runs of our own threads
        # (worker threads never see the signal). Finished runs are already in the store.
        for fut in futures:
            fut.cancel()
        if own:
            _core.cancel_running()
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        if own:
            pool.shutdown(wait=False)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _progress(total: int, done: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="run", desc="kmapsim sweep", dynamic_ncols=True)
