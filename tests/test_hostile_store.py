"""Hostile input to sweeps and their stores, by kind: edited stores, racing writers, broken
files and disks, keys of equal scenarios, arguments checked before the first run, sweeps too
big to hold, and results that must survive `to_dict`/`from_dict` whole."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import itertools
import json
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_validation import COUNTEREXAMPLE

import kmapsim
from kmapsim import RunResult, Scenario, ScenarioError, StoreError
from kmapsim.store import STORE_FORMAT, Store, StoreWarning, run_key

#: The module, not the function that `kmapsim.sweep` names.
sweep_module = importlib.import_module("kmapsim.sweep")

BASE = Scenario(cpus=2, last_pkmap=16, pages=256, hot_pages=8)
GRID = {"cpus": [1, 2]}
SEEDS = [0, 1]
CYCLES = 20_000
#: Every key of the small sweep, in grid order.
KEYS = [run_key(BASE.replace(cpus=c), s, CYCLES) for c in GRID["cpus"] for s in SEEDS]


def small_sweep(**kw: Any) -> kmapsim.SweepResult:
    args: dict[str, Any] = {
        "grid": GRID,
        "seeds": SEEDS,
        "cycles": CYCLES,
        "progress": False,
        "executor": "serial",
    }
    args.update(kw)
    return kmapsim.sweep(BASE, **args)


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    """The small sweep's frame, run without a store."""
    return small_sweep().frame


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every (cpus, seed) the sweep runs from now on, in this process."""
    done: list[tuple[int, int]] = []
    real = sweep_module.run_point

    def counted(scenario: dict[str, Any], seed: int, *rest: Any) -> dict[str, Any]:
        done.append((int(scenario["cpus"]), seed))
        return real(scenario, seed, *rest)

    monkeypatch.setattr(sweep_module, "run_point", counted)
    return done


def stored(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as con:
        return list(con.execute("SELECT key, row FROM runs ORDER BY key"))


def edit(db: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(db) as con:
        con.execute(sql, params)


# -- 1. an edited store is not trusted ------------------------------------------------------------


def _more_kmaps(db: Path) -> list[str]:
    """The review's edit: another kmaps count in one row, JSON still valid."""
    key, text = stored(db)[0]
    kmaps = json.loads(text)["kmaps"]
    edited = text.replace(f'"kmaps": {kmaps},', f'"kmaps": {kmaps + 40},')
    assert edited != text
    edit(db, "UPDATE runs SET row=? WHERE key=?", edited, key)
    return [key]


def _broken_json(db: Path) -> list[str]:
    key, text = stored(db)[0]
    edit(db, "UPDATE runs SET row=? WHERE key=?", text[: len(text) // 2], key)
    return [key]


def _not_text(db: Path) -> list[str]:
    key, _ = stored(db)[0]
    edit(db, "UPDATE runs SET row=? WHERE key=?", 42, key)
    return [key]


def _json_array(db: Path) -> list[str]:
    key, _ = stored(db)[0]
    edit(db, "UPDATE runs SET row='[1, 2]' WHERE key=?", key)
    return [key]


def _edited_digest(db: Path) -> list[str]:
    key, _ = stored(db)[0]
    edit(db, "UPDATE runs SET digest=? WHERE key=?", "0" * 64, key)
    return [key]


def _swapped_rows(db: Path) -> list[str]:
    """Two rows exchanged: each is a genuine row, but of the other run."""
    (k1, t1), (k2, t2) = stored(db)[:2]
    edit(db, "UPDATE runs SET row=? WHERE key=?", t2, k1)
    edit(db, "UPDATE runs SET row=? WHERE key=?", t1, k2)
    return [k1, k2]


@pytest.mark.parametrize(
    "tamper",
    [_more_kmaps, _broken_json, _not_text, _json_array, _edited_digest, _swapped_rows],
    ids=lambda f: f.__name__.strip("_"),
)
def test_an_edited_row_is_run_again_with_a_warning_and_replaced(
    tmp_path: Path,
    tamper: Callable[[Path], list[str]],
    fresh: pd.DataFrame,
    runs: list[tuple[int, int]],
) -> None:
    db = tmp_path / "study.sqlite"
    small_sweep(store=db)
    bad = tamper(db)
    with sqlite3.connect(db) as con:  # SQLite itself sees nothing wrong
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    runs.clear()
    with pytest.warns(StoreWarning, match=bad[0]) as caught:
        again = small_sweep(store=db)
    [w] = caught.list
    assert isinstance(w.message, StoreWarning)
    assert w.message.path == str(db) and str(db) in str(w.message)
    assert sorted(w.message.keys) == sorted(bad)
    assert again.reused == len(KEYS) - len(bad) and len(runs) == len(bad)
    pd.testing.assert_frame_equal(again.frame, fresh)
    # Replaced: the next sweep reuses everything, silently (warnings are errors here).
    runs.clear()
    assert small_sweep(store=db).reused == len(KEYS) and runs == []
    assert sorted(k for k, _ in stored(db)) == sorted(KEYS)


# -- 2. sweeps starting together on a new store ---------------------------------------------------

#: A sweep process: for each store path read from stdin it says "ready", waits for the path's
#: .go file (so that all processes start together), runs the small sweep and reports.
WRITER = """
import os, sys, time, kmapsim
base = kmapsim.Scenario(cpus=2, last_pkmap=16, pages=256, hot_pages=8)
for line in sys.stdin:
    path = line.strip()
    print("ready", flush=True)
    while not os.path.exists(path + ".go"):
        time.sleep(0.0002)
    try:
        kmapsim.sweep(base, grid={"cpus": [1, 2]}, seeds=[0, 1], cycles=20_000, store=path,
                      progress=False, executor="serial")
        print("ok", flush=True)
    except Exception as e:
        print(f"{type(e).__name__}: {e}", flush=True)
"""


@pytest.fixture
def writers() -> Iterator[list[subprocess.Popen[str]]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    yield procs
    for p in procs:
        with p:  # closes the pipes: an end of input ends the process
            if p.stdin is not None:
                p.stdin.close()
            p.wait(timeout=30)


def test_three_writers_on_a_new_store_all_succeed_and_store_each_point_once(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    for trial in range(6):
        db = tmp_path / f"race{trial}.sqlite"
        for p in writers:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write(f"{db}\n")
            p.stdin.flush()
        assert all(p.stdout is not None and p.stdout.readline() == "ready\n" for p in writers)
        Path(f"{db}.go").touch()
        results = [p.stdout.readline().strip() for p in writers if p.stdout is not None]
        assert results == ["ok"] * 3, f"trial {trial}"
        with sqlite3.connect(db) as con:
            keys = [r[0] for r in con.execute("SELECT key FROM runs")]
        assert sorted(keys) == sorted(KEYS), f"trial {trial}"


# -- 3. a store that cannot be used: one line naming the path and what to do ----------------------


@dataclasses.dataclass
class Env:
    """What a failure's setup may use: a directory, monkeypatch, and cleanups."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    stack: contextlib.ExitStack


def _format_1(e: Env) -> Path:
    """A store of format 1, which had no digests: its rows cannot be checked, so it is refused
    (not migrated)."""
    p = e.tmp / "f1.sqlite"
    with sqlite3.connect(p) as con:
        con.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        con.execute(
            "CREATE TABLE runs (key TEXT PRIMARY KEY, seed INTEGER NOT NULL, "
            "cycles INTEGER NOT NULL, row TEXT NOT NULL, finished REAL NOT NULL)"
        )
        con.execute("INSERT INTO meta VALUES ('format', '1')")
    assert STORE_FORMAT == 2
    return p


def _truncated(e: Env) -> Path:
    t = e.tmp
    good = t / "good.sqlite"
    small_sweep(store=good, grid={"cpus": [1, 2, 3, 4]})
    with sqlite3.connect(good) as con:  # everything into the main file, then cut it
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    p = t / "cut.sqlite"
    data = good.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def _garbage(e: Env) -> Path:
    p = e.tmp / "junk.sqlite"
    p.write_bytes(b"this is not a database at all" * 100)
    return p


def _foreign(e: Env) -> Path:
    p = e.tmp / "other.sqlite"
    with sqlite3.connect(p) as con:
        con.execute("CREATE TABLE accounts (id INTEGER)")
    return p


def _read_only(e: Env) -> Path:
    """A store SQLite can only read. Tests run as root, for whom a chmod 0444 file is writable,
    so SQLite is made to open it read-only, as it does a file it may not write; the real
    permission case is `test_real_permissions_as_an_ordinary_user`."""
    p = e.tmp / "ro.sqlite"
    Store(p).close()
    real = sqlite3.connect

    def read_only(path: Any, *args: Any, **kw: Any) -> sqlite3.Connection:
        return real(f"file:{path}?mode=ro", *args, uri=True, **kw)

    e.monkeypatch.setattr(sqlite3, "connect", read_only)
    return p


def _locked(e: Env) -> Path:
    """Another process holds the write lock for longer than the store waits."""
    p = e.tmp / "busy.sqlite"
    Store(p).close()
    holder = e.stack.enter_context(contextlib.closing(sqlite3.connect(p, isolation_level=None)))
    holder.execute("BEGIN IMMEDIATE")
    e.monkeypatch.setattr("kmapsim.store.BUSY_SECONDS", 0.2)
    return p


OPEN_FAILURES: list[tuple[str, Callable[[Env], object], list[str]]] = [
    (
        "missing directory",
        lambda e: e.tmp / "nope" / "s.sqlite",
        ["directory", "nope", "does not exist", "create it"],
    ),
    ("a directory", lambda e: e.tmp, ["is a directory", "study.sqlite"]),
    ("parent is a file", lambda e: _garbage(e) / "s.sqlite", ["junk.sqlite is not a directory"]),
    ("garbage bytes", _garbage, ["junk.sqlite", "not an SQLite file", "check the path"]),
    ("truncated", _truncated, ["cut.sqlite", "not a usable kmapsim store", "delete it"]),
    ("foreign database", _foreign, ["other.sqlite", "not a kmapsim store", "choose another file"]),
    ("format 1", _format_1, ["f1.sqlite", "store format 1", "delete it"]),
    ("read-only file", _read_only, ["ro.sqlite", "read-only", "make the file"]),
    ("locked", _locked, ["busy.sqlite", "locked by another process", "let the other sweep"]),
    ("not a path", lambda e: 42, ["store: got int 42", "a file path"]),
]


@pytest.mark.parametrize(
    ("setup", "needles"), [c[1:] for c in OPEN_FAILURES], ids=[c[0] for c in OPEN_FAILURES]
)
def test_a_store_that_cannot_be_used_is_refused_before_any_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    runs: list[tuple[int, int]],
    setup: Callable[[Env], object],
    needles: list[str],
) -> None:
    with contextlib.ExitStack() as stack:
        path = setup(Env(tmp_path, monkeypatch, stack))
        runs.clear()
        with pytest.raises(StoreError) as e:
            small_sweep(store=path)
    message = str(e.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message
    assert runs == [], "the store must be refused before any run is spent"
    back = pickle.loads(pickle.dumps(e.value))  # it crosses process boundaries intact
    assert (type(back), str(back), back.path) == (StoreError, message, e.value.path)


def test_a_full_disk_stops_the_sweep_with_a_store_error_and_keeps_finished_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: pd.DataFrame
) -> None:
    """SQLITE_FULL, injected: the store may not grow past the pages it has when created."""
    db = tmp_path / "full.sqlite"
    Store(db).close()
    with sqlite3.connect(db) as con:
        pages = con.execute("PRAGMA page_count").fetchone()[0]
    real = sqlite3.connect

    def capped(*args: Any, **kw: Any) -> sqlite3.Connection:
        con = real(*args, **kw)
        con.execute(f"PRAGMA max_page_count={pages}")
        return con

    monkeypatch.setattr(sqlite3, "connect", capped)
    with pytest.raises(StoreError) as e:
        small_sweep(store=db)
    message = str(e.value)
    assert "\n" not in message and str(db) in message
    assert "disk is full" in message and "free some space" in message
    assert e.value.path == str(db)
    monkeypatch.setattr(sqlite3, "connect", real)
    kept = len(stored(db))
    assert kept < len(KEYS)
    resumed = small_sweep(store=db)
    assert resumed.reused == kept
    pd.testing.assert_frame_equal(resumed.frame, fresh)


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.close()
    for use in (store.keys, lambda: store.get(KEYS), lambda: len(store)):
        with pytest.raises(StoreError, match="the store is closed"):
            use()


#: Runs a few store paths as a user who may not write what root owns, and prints each error.
AS_USER = """
import sys, kmapsim
base = kmapsim.Scenario(cpus=2, last_pkmap=16, pages=256, hot_pages=8)
for path in sys.argv[1:]:
    try:
        kmapsim.sweep(base, seeds=1, cycles=20_000, store=path, progress=False)
        print("ran")
    except kmapsim.StoreError as e:
        print(e)
"""


def _as_ordinary_user() -> list[str]:
    """A command prefix that runs Python without root's power to write anything (the file
    permissions then apply as they do to any user), or skip when there is none."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
    caps = "-dac_override,-dac_read_search"
    prefix = [setpriv, "--bounding-set", caps, "--inh-caps", caps]
    if subprocess.run([*prefix, "true"], check=False).returncode != 0:
        pytest.skip("setpriv cannot drop capabilities here")
    return prefix


def test_real_permissions_as_an_ordinary_user(tmp_path: Path) -> None:
    prefix = _as_ordinary_user()
    ro_file = tmp_path / "ro_file" / "s.sqlite"
    ro_dir = tmp_path / "ro_dir"
    for d in (ro_file.parent, ro_dir):
        d.mkdir()
        Store(d / "s.sqlite").close()
    ro_file.chmod(0o444)
    ro_dir.chmod(0o555)
    try:
        paths = [ro_file, ro_dir / "s.sqlite", ro_dir / "new.sqlite"]
        command = [*prefix, sys.executable, "-c", AS_USER, *map(str, paths)]
        p = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    finally:
        ro_dir.chmod(0o755)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 3 and "ran" not in lines
    assert str(ro_file) in lines[0] and "read-only" in lines[0]
    for line in lines[1:]:
        assert f"directory {ro_dir} is not writable" in line
    assert len(stored(ro_file)) == 0


# -- 4. equal scenarios, equal keys ---------------------------------------------------------------

SC = Scenario(cpus=4)

EQUAL_KEYS: list[tuple[str, Any, Any]] = [
    (
        "-0.0 and 0.0",
        (SC.replace(shared_page_prob=-0.0), 1, 10),
        (SC.replace(shared_page_prob=0.0), 1, 10),
    ),
    ("int for a float field", ({**SC.to_dict(), "cpu_mhz": 700}, 1, 10), (SC, 1, 10)),
    (
        "numpy scalars",
        ({"cpus": np.int64(4), "tlb_evict_rate": np.float64(0.5)}, 1, 10),
        (SC, 1, 10),
    ),
    ("numpy -0.0", ({"cpus": 4, "kmap_irqs_off_prob": np.float64(-0.0)}, 1, 10), (SC, 1, 10)),
    ("defaults left out", ({"cpus": 4}, 1, 10), (SC, 1, 10)),
    ("numpy seed and cycles", (SC, np.uint64(1), np.int64(10)), (SC, 1, 10)),
]

OTHER_KEYS: list[tuple[str, Any, Any]] = [
    ("another field value", (SC.replace(shared_page_prob=0.5), 1, 10), (SC, 1, 10)),
    ("another seed", (SC, 2, 10), (SC, 1, 10)),
    ("other cycles", (SC, 1, 11), (SC, 1, 10)),
]


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [(a, b, True) for _, a, b in EQUAL_KEYS] + [(a, b, False) for _, a, b in OTHER_KEYS],
    ids=[c[0] for c in EQUAL_KEYS + OTHER_KEYS],
)
def test_equal_scenarios_have_equal_keys(
    a: tuple[Any, ...], b: tuple[Any, ...], equal: bool
) -> None:
    assert (run_key(*a) == run_key(*b)) is equal


def test_minus_zero_is_stored_once(tmp_path: Path, runs: list[tuple[int, int]]) -> None:
    db = tmp_path / "z.sqlite"
    first = small_sweep(store=db, grid={"shared_page_prob": [0.0]}, seeds=[0])
    assert len(first.frame) == 1 and len(runs) == 1 and len(stored(db)) == 1
    again = small_sweep(store=db, grid={"shared_page_prob": np.array([-0.0])}, seeds=[0])
    assert again.reused == 1 and len(runs) == 1 and len(stored(db)) == 1


# -- 5. everything checked before the first run ---------------------------------------------------

BAD_SWEEPS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "seed past 2**64-1",
        {"seeds": [0, 2**64]},
        "seeds",
        "seeds[1] = 18446744073709551616 is out of range",
    ),
    ("negative seed", {"seeds": [0, -1]}, "seeds", "seeds[1] = -1 is out of range"),
    ("seed twice", {"seeds": [3, 4, 3]}, "seeds", "seeds[2] = 3 repeats a seed"),
    ("float seed", {"seeds": [0, 1.5]}, "seeds", "seeds[1] is float 1.5"),
    ("bool seed", {"seeds": [0, True]}, "seeds", "seeds[1] is bool True"),
    ("seeds as a string", {"seeds": "3"}, "seeds", "got str '3'"),
    ("no seeds", {"seeds": []}, "seeds", "an empty list"),
    ("zero seeds", {"seeds": 0}, "seeds", "a count of 0"),
    # Huge ones are shown by their size (in full, 10**5000 would not even convert to text).
    ("a huge count", {"seeds": 10**300}, "seeds", "a count of <integer of about 301 digits>"),
    ("a huge seed", {"seeds": [10**5000]}, "seeds", "seeds[0] = <integer of about 5001 digits>"),
    ("a range past len()", {"seeds": range(10**300)}, "seeds", "more values than a sweep"),
    ("a grid range past len()", {"grid": {"cpus": range(1, 10**300)}}, "cpus", "more values"),
    ("seeds as a set", {"seeds": {0, 1}}, "seeds", "got set"),
    ("bad last grid value", {"grid": {"cpus": [1, 2, 0]}}, "cpus", "0 is out of range"),
    (
        "bad combination",
        {"grid": {"cpus": [1], "hot_pages": [8, 300]}},
        "hot_pages",
        "grid point cpus=1, hot_pages=300",
    ),
    ("empty field name", {"grid": {"": [1]}}, "grid", "field name '' is empty"),
    ("blank field name", {"grid": {"  ": [1]}}, "grid", "field name '  ' is empty"),
    ("field name not a string", {"grid": {3: [1]}}, "grid", "field name 3 is not a string"),
    ("unknown field", {"grid": {"cpuz": [1]}}, "cpuz", "did you mean 'cpus'"),
    ("grid not a mapping", {"grid": [("cpus", [1])]}, "grid", "got list"),
    ("grid value a string", {"grid": {"strategy": "sync"}}, "strategy", "got str 'sync'"),
    ("grid value a scalar", {"grid": {"cpus": 4}}, "cpus", "got int 4"),
    ("grid value a 0-D array", {"grid": {"cpus": np.array(2)}}, "cpus", "a 0-D numpy array"),
    (
        "grid value a 2-D array",
        {"grid": {"cpus": np.ones((2, 2), dtype=int)}},
        "cpus",
        "a 2-D numpy array",
    ),
    ("grid value a set", {"grid": {"strategy": {"sync", "lazy"}}}, "strategy", "got set"),
    ("grid value a dict", {"grid": {"cpus": {1: 2}}}, "cpus", "got dict"),
    ("no grid values", {"grid": {"cpus": np.array([], dtype=int)}}, "cpus", "no grid values"),
    ("zero cycles", {"cycles": 0}, "cycles", "0 is out of range"),
    ("float cycles", {"cycles": 1.5}, "cycles", "got float 1.5"),
    ("too many cycles", {"cycles": 2**50 + 1}, "cycles", "out of range"),
    ("unknown mode", {"mode": "fast"}, "mode", "unknown mode 'fast'"),
    ("executor by name", {"executor": "threads"}, "executor", "got str 'threads'"),
    ("executor a number", {"executor": 4}, "executor", "got int 4"),
    ("executor an array", {"executor": np.array([1, 2])}, "executor", "got ndarray"),
]


@pytest.mark.parametrize(
    ("kw", "field", "needle"), [c[1:] for c in BAD_SWEEPS], ids=[c[0] for c in BAD_SWEEPS]
)
def test_a_bad_sweep_fails_before_running_or_touching_the_store(
    tmp_path: Path, runs: list[tuple[int, int]], kw: dict[str, Any], field: str, needle: str
) -> None:
    db = tmp_path / "s.sqlite"
    with pytest.raises(ScenarioError) as e:
        small_sweep(store=db, **kw)
    assert e.value.field == field
    assert needle in str(e.value) and "allowed: " in str(e.value)
    assert runs == [] and not db.exists()


GOOD_GRIDS: list[tuple[str, dict[str, Any]]] = [
    ("numpy array", {"grid": {"cpus": np.array([1, 2])}}),
    ("numpy scalars", {"grid": {"cpus": [np.int64(1), np.int32(2)]}}),
    ("tuple", {"grid": {"cpus": (1, 2)}}),
    ("range", {"grid": {"cpus": range(1, 3)}}),
    ("generator", {"grid": {"cpus": (c for c in (1, 2))}}),
    ("pandas series", {"grid": {"cpus": pd.Series([1, 2])}}),
    ("numpy seeds", {"seeds": np.array([0, 1], dtype=np.uint64)}),
    ("seed range", {"seeds": range(2)}),
    ("numpy seed count", {"seeds": np.int64(2)}),
    ("numpy cycles", {"cycles": np.int64(CYCLES)}),
    ("own thread pool", {"executor": None}),
]


@pytest.mark.parametrize("kw", [c[1] for c in GOOD_GRIDS], ids=[c[0] for c in GOOD_GRIDS])
def test_numpy_ranges_and_tuples_are_accepted(kw: dict[str, Any], fresh: pd.DataFrame) -> None:
    result = small_sweep(**kw)
    pd.testing.assert_frame_equal(result.frame, fresh)
    assert result.grid == {"cpus": [1, 2]} and result.seeds == [0, 1]
    assert all(type(v) is int for v in [*result.grid["cpus"], *result.seeds, result.cycles])


# -- 6. sweeps too big to hold are refused before anything is built -------------------------------

TOO_BIG: list[tuple[str, dict[str, Any], str]] = [
    ("the review's seed count", {"grid": {"cpus": [1]}, "seeds": 100_000_000}, "seeds"),
    ("a seed range", {"seeds": range(10**12)}, "seeds"),
    ("an endless seed iterator", {"seeds": itertools.count()}, "seeds"),
    (
        "a huge grid",
        {"grid": {"cpus": range(1, 4097), "pages": range(1, 2**24)}, "seeds": 1},
        "grid",
    ),
    ("an endless grid", {"grid": {"cpus": itertools.cycle([1, 2])}, "seeds": 1}, "grid"),
    ("grid times seeds", {"grid": {"cpus": range(1, 1001)}, "seeds": 1000}, "grid"),
]


@pytest.mark.parametrize(("kw", "field"), [c[1:] for c in TOO_BIG], ids=[c[0] for c in TOO_BIG])
def test_a_sweep_past_max_points_is_refused_fast_and_small(
    kw: dict[str, Any], field: str, runs: list[tuple[int, int]]
) -> None:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ScenarioError) as e:
            small_sweep(**kw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.value.field == field
    assert "are too many" in str(e.value) or "a count of" in str(e.value)
    assert "100,000" in e.value.allowed
    assert time.perf_counter() - start < 5 and peak < 50_000_000 and runs == []


def test_max_points_is_the_exact_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sweep_module.MAX_POINTS == 100_000
    assert "MAX_POINTS" in (kmapsim.sweep.__doc__ or "")
    monkeypatch.setattr(sweep_module, "MAX_POINTS", len(KEYS))
    assert len(small_sweep().frame) == len(KEYS)
    with pytest.raises(ScenarioError, match="6 points") as e:
        small_sweep(seeds=[0, 1, 2])
    assert e.value.field == "grid"
    with pytest.raises(ScenarioError, match="a count of 5") as e:
        small_sweep(grid=None, seeds=5)
    assert e.value.field == "seeds"


# -- 7. a result survives to_dict / from_dict whole -----------------------------------------------

#: docs/validation.md's counterexample for `async`: a run with a stale access to keep.
STALE = COUNTEREXAMPLE

RESULTS: list[tuple[str, Callable[[], RunResult]]] = [
    (
        "traced, sampled, ops, stale",
        lambda: kmapsim.run(
            STALE, cycles=5165, seed=35, trace=40, sample_every=500, record_ops=True
        ),
    ),
    ("trace dropped", lambda: kmapsim.run(BASE, cycles=CYCLES, seed=1, trace=5)),
    ("plain", lambda: kmapsim.run(BASE, cycles=CYCLES, seed=1)),
]


@pytest.mark.parametrize("make", [c[1] for c in RESULTS], ids=[c[0] for c in RESULTS])
def test_from_dict_of_to_dict_is_exact(make: Callable[[], RunResult]) -> None:
    result = make()
    back = RunResult.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
    for f in dataclasses.fields(RunResult):
        assert getattr(back, f.name) == getattr(result, f.name), f.name
    for frame in ("breakdown", "trace", "samples"):
        pd.testing.assert_frame_equal(getattr(back, frame), getattr(result, frame))
    if result.ops is None:
        assert back.ops is None
    else:
        pd.testing.assert_frame_equal(back.ops, result.ops)


def test_round_trip_test_runs_cover_every_part() -> None:
    """The runs above must hold what is checked: otherwise the exactness test proves little."""
    full = RESULTS[0][1]()
    assert full.trace_rows and full.sample_rows and full.ops_rows and full.violations
    assert RESULTS[1][1]().trace_dropped > 0


def test_a_dict_without_the_newer_parts_reads_as_an_untraced_run() -> None:
    result = kmapsim.run(BASE, cycles=CYCLES, seed=1, trace=5)
    d = result.to_dict()
    for part in ("trace", "samples", "ops", "trace_dropped"):
        del d[part]
    back = RunResult.from_dict(d)
    assert (back.trace_rows, back.sample_rows, back.ops_rows, back.trace_dropped) == (
        [],
        [],
        None,
        0,
    )
    assert back.counters == result.counters


def test_every_valid_seed_is_stored(tmp_path: Path) -> None:
    """SQLite's integers are signed: seeds from 2**63 to 2**64 - 1 are stored too."""
    seeds = [2**64 - 1, 2**63, 5]
    db = tmp_path / "s.sqlite"
    first = kmapsim.sweep(Scenario(cpus=2), seeds=seeds, cycles=1000, store=db, progress=False)
    assert sorted(first.frame["seed"].tolist()) == sorted(seeds)
    again = kmapsim.sweep(Scenario(cpus=2), seeds=seeds, cycles=1000, store=db, progress=False)
    assert again.reused == 3


@pytest.mark.parametrize(
    ("seed", "cycles", "field"),
    [(True, 5, "seed"), (2.7, 5, "seed"), ("4", 5, "seed"), (-1, 5, "seed"), (10**300, 5, "seed"),
     (3, True, "cycles"), (3, 0, "cycles")],
)  # fmt: skip
def test_store_put_checks_seed_and_cycles(
    tmp_path: Path, seed: Any, cycles: Any, field: str
) -> None:
    with Store(tmp_path / "s.sqlite") as st, pytest.raises(ScenarioError) as e:
        st.put("k", seed, cycles, {"a": 1})
    assert e.value.field == field


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_is_prompt_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    p = tmp_path / "busy.sqlite"
    Store(p).close()
    with contextlib.closing(sqlite3.connect(p, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            Store(p)  # waits for the lock: up to BUSY_SECONDS, but not past a Ctrl-C
        assert time.monotonic() - started < 2


def test_a_store_may_be_used_from_another_thread(tmp_path: Path) -> None:
    with Store(tmp_path / "k.sqlite") as st:
        st.put("k1", 0, 10, {"a": 1})
        found: list[object] = []
        worker = threading.Thread(target=lambda: found.append((st.keys(), len(st))))
        worker.start()
        worker.join()
        assert found == [({"k1"}, 1)]


def test_no_deletion_is_advised_for_a_file_that_is_no_store(tmp_path: Path) -> None:
    notes = tmp_path / "notes.sqlite"
    notes.write_text("my notes, not a database, and long enough to be read as one " * 20)
    with pytest.raises(StoreError) as e:
        Store(notes)
    assert "delete" not in str(e.value) and "not an SQLite file" in str(e.value)
