"""Sweeps: identical on every executor, resumable from the store, killed without loss."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import kmapsim
from kmapsim import Scenario, ScenarioError, StoreError
from kmapsim.sweep import MAX_ERROR_CHARS

BASE = Scenario(cpus=4, last_pkmap=16, pages=256, hot_pages=8)
GRID = {"cpus": [1, 2, 4], "strategy": ["sync", "lazy", "async"]}
CYCLES = 300_000


def _sweep(**kw: object) -> kmapsim.SweepResult:
    args: dict[str, object] = {"grid": GRID, "seeds": 2, "cycles": CYCLES, "progress": False}
    args.update(kw)
    return kmapsim.sweep(BASE, **args)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def serial() -> kmapsim.SweepResult:
    return _sweep(executor="serial")


def test_frame_is_tidy_and_in_grid_order(serial: kmapsim.SweepResult) -> None:
    f = serial.frame
    assert len(f) == 3 * 3 * 2
    assert list(f[["cpus", "strategy", "seed"]].itertuples(index=False, name=None))[:4] == [
        (1, "sync", 0),
        (1, "sync", 1),
        (1, "lazy", 0),
        (1, "lazy", 1),
    ]
    for name in Scenario.fields():
        assert name["name"] in f.columns
    for c in kmapsim.COUNTERS:
        assert c in f.columns
    shares = f[[f"share_{c}" for c in kmapsim.CATEGORIES]].sum(axis=1)
    assert ((shares - 1.0).abs() < 1e-9).all()
    one = kmapsim.run(BASE.replace(cpus=2, strategy="lazy"), cycles=CYCLES, seed=1)
    row = f[(f.cpus == 2) & (f.strategy == "lazy") & (f.seed == 1)].iloc[0]
    assert row["kmaps"] == one.counters["kmaps"] and row["throughput"] == one.throughput


def test_parallel_equals_serial(serial: kmapsim.SweepResult) -> None:
    pd.testing.assert_frame_equal(_sweep().frame, serial.frame)


@pytest.mark.parametrize("threads", [1, 3, 8])
def test_thread_count_does_not_matter(threads: int, serial: kmapsim.SweepResult) -> None:
    with cf.ThreadPoolExecutor(max_workers=threads) as pool:
        pd.testing.assert_frame_equal(_sweep(executor=pool).frame, serial.frame)


def test_process_pool_equals_serial(serial: kmapsim.SweepResult) -> None:
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        pd.testing.assert_frame_equal(_sweep(executor=pool).frame, serial.frame)


def test_multiprocessing_pool_through_pool_executor(serial: kmapsim.SweepResult) -> None:
    """The adapter documented for Ray's Pool, tested with the standard library's."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        frame = _sweep(executor=kmapsim.PoolExecutor(pool)).frame
    pd.testing.assert_frame_equal(frame, serial.frame)


@contextlib.contextmanager
def _dask_executor(workers: int) -> Iterator[cf.Executor]:
    """The executor of a local Dask cluster of worker processes (the test skips without
    dask)."""
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client.get_executor()


def test_dask_cluster_equals_serial(serial: kmapsim.SweepResult) -> None:
    with _dask_executor(2) as executor:
        frame = _sweep(executor=executor).frame
    pd.testing.assert_frame_equal(frame, serial.frame)


def test_store_skips_finished_runs(tmp_path: Path, serial: kmapsim.SweepResult) -> None:
    db = tmp_path / "study.sqlite"
    first = _sweep(store=db, grid={"cpus": [1, 2], "strategy": ["sync", "lazy", "async"]})
    assert first.reused == 0
    again = _sweep(store=db)
    assert again.reused == 2 * 3 * 2
    pd.testing.assert_frame_equal(again.frame, serial.frame)
    assert _sweep(store=db).reused == len(serial.frame)
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == len(serial.frame)


def test_other_cycles_are_other_runs(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    _sweep(store=db, grid={"cpus": [1]}, seeds=1)
    assert _sweep(store=db, grid={"cpus": [1]}, seeds=1, cycles=CYCLES + 1).reused == 0


KILLED = """
import sys, kmapsim
sc = kmapsim.Scenario(cpus=8)
kmapsim.sweep(sc, grid={"cpus": [2, 4, 8, 16], "strategy": ["sync", "lazy", "async", "local"]},
              seeds=3, cycles=int(sys.argv[2]), store=sys.argv[1], progress=False,
              executor="serial")
"""


def test_sigkill_mid_sweep_then_resume_has_every_point_once(tmp_path: Path) -> None:
    db = tmp_path / "killed.sqlite"
    cycles = 20_000_000
    p = subprocess.Popen([sys.executable, "-c", KILLED, str(db), str(cycles)])
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as con:
                    done = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if done >= 3:
                break
    assert p.poll() is None, "the sweep finished before it could be killed; make it longer"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert 3 <= done < 48
    grid = {"cpus": [2, 4, 8, 16], "strategy": ["sync", "lazy", "async", "local"]}
    resumed = kmapsim.sweep(
        Scenario(cpus=8), grid=grid, seeds=3, cycles=cycles, store=db, progress=False
    )
    assert resumed.reused >= done
    with sqlite3.connect(db) as con:
        keys = [r[0] for r in con.execute("SELECT key FROM runs")]
    assert len(keys) == len(set(keys)) == 48
    fresh = kmapsim.sweep(Scenario(cpus=8), grid=grid, seeds=3, cycles=cycles, progress=False)
    pd.testing.assert_frame_equal(resumed.frame, fresh.frame)


def test_progress_bar_shows_and_can_be_switched_off(capsys: pytest.CaptureFixture[str]) -> None:
    _sweep(grid={"cpus": [1]}, seeds=2, progress=True)
    assert "kmapsim sweep" in capsys.readouterr().err
    _sweep(grid={"cpus": [1]}, seeds=2, progress=False)
    assert capsys.readouterr().err == ""


def test_parquet_and_csv_round_trip(tmp_path: Path, serial: kmapsim.SweepResult) -> None:
    back = pd.read_parquet(serial.to_parquet(tmp_path / "t.parquet"))
    pd.testing.assert_frame_equal(
        back.drop(columns=["kmap_lock_wait_counts"]),
        serial.frame.drop(columns=["kmap_lock_wait_counts"]),
    )
    csv = pd.read_csv(serial.to_csv(tmp_path / "t.csv"))
    assert list(csv.columns) == list(serial.frame.columns)
    assert (csv["kmaps"] == serial.frame["kmaps"]).all()


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"grid": {"cpuz": [1]}}, "cpuz"),
        ({"grid": {"cpus": [0]}}, "cpus"),
        ({"grid": {"strategy": "sync"}}, "strategy"),
        ({"grid": {"cpus": []}}, "cpus"),
        ({"seeds": 0}, "seeds"),
        ({"seeds": [1, 1]}, "seeds"),
        ({"cycles": 0}, "cycles"),
    ],
)
def test_bad_sweeps_fail_before_running(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ScenarioError) as e:
        _sweep(**kw)
    assert e.value.field == field


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a kmapsim store"):
        _sweep(store=db)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError):
        _sweep(store=junk)


# -- an error of one point names the point, on every executor -----------------------------------

#: Deadlocks at every point (interrupts-off kmaps under sync), within a few hundred thousand
#: cycles; "lazy" only differs in the grid value named.
DEADLOCKS = BASE.replace(cpus=2, kmap_irqs_off_prob=0.5, watchdog_cycles=500_000)


def _failing_point(executor: object) -> kmapsim.DeadlockError:
    with pytest.raises(kmapsim.DeadlockError) as info:
        kmapsim.sweep(
            DEADLOCKS,
            grid={"strategy": ["sync"]},
            seeds=[7],
            cycles=10**8,
            executor=executor,  # type: ignore[arg-type]
            progress=False,
        )
    e = info.value
    assert str(e).startswith("grid point strategy='sync', seed 7: deadlock"), str(e)
    assert e.seed == 7 and e.scenario == DEADLOCKS.replace(strategy="sync").to_dict()  # type: ignore[attr-defined]
    assert e.chain and e.edges, "the wait-for chain is kept"
    return e


@pytest.mark.parametrize("kind", ["serial", "threads", "processes"])
def test_a_deadlocked_point_names_its_grid_values_and_seed(kind: str) -> None:
    if kind == "processes":
        with cf.ProcessPoolExecutor(max_workers=1) as pool:
            _failing_point(pool)
    else:
        _failing_point("serial" if kind == "serial" else None)


def test_a_deadlocked_point_is_named_on_a_dask_cluster() -> None:
    with _dask_executor(1) as executor:
        _failing_point(executor)


def test_a_kernel_bug_of_a_point_keeps_its_details_and_names_the_point() -> None:
    bad = Scenario(cpus=1, workload="custom", program="kunmap handle=a; kmap handle=a")
    with pytest.raises(kmapsim.KernelBug) as info:
        kmapsim.sweep(bad, seeds=[3], cycles=10_000, executor="serial", progress=False)
    e = info.value
    assert str(e).startswith("sweep point (the base scenario), seed 3: kernel BUG"), str(e)
    assert e.seed == 3 and e.scenario["workload"] == "custom"  # type: ignore[attr-defined]
    assert "kunmaps handle 0" in e.detail and e.cpu == 0


# -- a long error message keeps its type on every executor --------------------------------------

#: Deadlocks at once with one line per CPU in its message (about 20,000 characters).
LONG_DEADLOCK = BASE.replace(cpus=256, kmap_irqs_off_prob=1.0, watchdog_cycles=500_000)


def _long_deadlock(executor: object) -> kmapsim.DeadlockError:
    with pytest.raises(kmapsim.DeadlockError) as info:
        kmapsim.sweep(
            LONG_DEADLOCK,
            grid={"kmap_irqs_off_prob": [1.0]},
            cycles=10**6,
            executor=executor,  # type: ignore[arg-type]
            progress=False,
        )
    e = info.value
    assert str(e).startswith("grid point kmap_irqs_off_prob=1.0, seed 0: deadlock"), str(e)
    assert len(str(e)) <= MAX_ERROR_CHARS
    assert "more edges (all in .edges) omitted" in str(e)
    assert len(e.edges) == 256 and e.chain, "the full wait-for graph is kept"
    return e


def test_a_long_deadlock_message_is_bounded_and_pickles() -> None:
    e = _long_deadlock("serial")
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is kmapsim.DeadlockError
    assert (str(again), again.edges, again.chain) == (str(e), e.edges, e.chain)


def test_a_long_deadlock_message_keeps_its_type_on_dask() -> None:
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        _long_deadlock(client.get_executor())
