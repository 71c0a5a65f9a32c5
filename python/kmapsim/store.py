"""The study store: finished runs in an embedded SQLite database, one transaction per run.

A sweep writes each run as soon as it finishes, keyed by a hash of everything that determines
its result (model version, scenario, seed, cycles). Running the same sweep again with the same
store skips what is there; a sweep killed at any moment loses at most the runs in progress, and
never leaves a run half-written. WAL journaling lets a reader (a notebook, ``sqlite3``) look at
the store while a sweep writes it, and several sweeps may share one store at once.

Each stored row carries a SHA-256 digest of its key and its JSON text. A row whose digest does
not match (the file was edited by hand, or damaged in a way SQLite does not notice) is not
reused: it is run again and replaced, with a `StoreWarning`. The digest guards against accidents,
not against someone who recomputes it.

Every failure of the file (missing or read-only directory, read-only or damaged file, full disk,
a lock held too long) raises a one-line `StoreError` naming the path and what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kmapsim import _core
from kmapsim._quote import quote
from kmapsim.errors import KmapsimError, ScenarioTypeError
from kmapsim.runner import MAX_CYCLES, MAX_SEED, _int_arg
from kmapsim.scenario import Scenario

__all__ = ["BUSY_SECONDS", "STORE_FORMAT", "Store", "StoreError", "StoreWarning", "run_key"]

#: Bumped when the table layout changes. Format 2 added the ``digest`` column; a store of
#: another format is refused with a `StoreError` (a store only caches runs: start a new one).
STORE_FORMAT = 2

#: How long an operation waits for another process's lock on the store before giving up.
BUSY_SECONDS = 30.0

#: How long SQLite itself waits for a lock before an operation tries again: the wait is cut into
#: slices this short so that Ctrl-C (which SQLite's own wait ignores) is seen between them.
_BUSY_SLICE = 0.05

#: Keys per ``SELECT ... IN (...)``: well below SQLite's limit on bound parameters.
_CHUNK = 500

#: What to do about a store that cannot be used, for the end of error messages.
_ELSEWHERE = "delete it or choose another file (a store only caches finished runs)"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, seed INTEGER NOT NULL, "
    "cycles INTEGER NOT NULL, row TEXT NOT NULL, digest TEXT NOT NULL, finished REAL NOT NULL)",
)


def _signed(seed: int) -> int:
    """A seed in [0, 2**64) as the signed 64-bit integer of its bits: SQLite's integers are
    signed, and seeds up to 2**64 - 1 are valid. Only a reader of the file sees the column: a
    run is found by its key, and its row holds the seed as given."""
    return seed - (1 << 64) if seed >= 1 << 63 else seed


class StoreError(KmapsimError, ValueError):
    """The store cannot be used: its directory is missing or not writable, the file is
    read-only, damaged, not a kmapsim store or of another format, the disk is full, or another
    process held its lock too long. ``path`` is the store file; the message says what to do."""

    path: str

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.path), self.__dict__)


_KEYS = "an iterable of run keys (strings, as run_key makes them)"


def _keys(keys: object) -> list[str]:
    """``keys`` as a list of strings; a string alone (which iterates over its characters), a
    non-iterable or a key that is no string is the ScenarioTypeError naming it."""
    if isinstance(keys, (str, bytes, Mapping)) or not isinstance(keys, Iterable):
        raise ScenarioTypeError.got("keys", keys, _KEYS)
    return [_key(k, f"keys[{i}]") for i, k in enumerate(keys)]


def _key(key: object, field: str) -> str:
    if not isinstance(key, str):
        raise ScenarioTypeError.got(field, key, "a run key (a string, as run_key makes it)")
    return key


class StoreWarning(UserWarning):
    """Stored runs failed their integrity check (the file was edited or damaged): they are not
    reused, but run again and replaced. ``path`` is the store, ``keys`` the runs' keys."""

    path: str
    keys: tuple[str, ...]

    def __init__(self, message: str, path: str = "", keys: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.keys = keys


def run_key(scenario: Scenario | Mapping[str, object], seed: int, cycles: int) -> str:
    """The hash that identifies one run: same key, same result.

    Equal scenarios give equal keys: the scenario is normalised first (defaults filled in,
    numpy scalars and integers given for float fields as Python floats, ``-0.0`` as ``0.0``),
    and so are ``seed`` and ``cycles`` (numpy integers as Python ints). A scenario's program is
    part of its key, every field of every step (`Scenario.to_dict`), so two programs that
    differ in one step key apart; the order of a step's fields does not count. One caveat: a
    step value written as an integer in one program and as the equal float in another (``1``
    and ``1.0``) leaves the scenarios equal but keys them apart, so such a run is run again
    rather than reused. Raises `ScenarioError` for a bad scenario field, seed or cycle count.
    """
    sc = scenario if isinstance(scenario, Scenario) else Scenario.from_dict(scenario)
    values = {k: _plain_zero(v) for k, v in sc.to_dict().items()}
    blob = json.dumps(
        {
            "model": _core.MODEL_VERSION,
            "scenario": values,
            "seed": _int_arg("seed", seed, 0, MAX_SEED),
            "cycles": _int_arg("cycles", cycles, 1, MAX_CYCLES),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain_zero(value: object) -> object:
    """``value`` with ``-0.0`` as ``0.0``, inside program steps too: -0.0 == 0.0 makes the
    scenarios equal, but JSON would spell them apart."""
    if isinstance(value, float) and value == 0.0:
        return 0.0
    if isinstance(value, list):
        return [{k: _plain_zero(v) for k, v in step.items()} for step in value]
    return value


def _digest(key: str, text: str) -> str:
    # The key is hex, so the newline separates the two parts unambiguously.
    return hashlib.sha256(f"{key}\n{text}".encode()).hexdigest()


def _trusted(key: str, text: object, digest: object) -> dict[str, Any] | None:
    """The stored row, or None when it cannot be trusted: wrong digest, not JSON, not an object.
    (SQLite columns take any type, so an edited file may hold anything in them.)"""
    if not isinstance(text, str) or not isinstance(digest, str) or digest != _digest(key, text):
        return None
    try:
        row = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return row if isinstance(row, dict) else None


def check_path(path: object) -> Path:
    """``path`` as a store path, checked as far as it can be without creating the file (see
    `_check_location`); a `StoreError` otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        raise StoreError(
            f"store: got {type(path).__name__} {quote(path)}; allowed: a file path "
            "(str or os.PathLike), or None for no store"
        )
    if not os.fspath(path):
        # `Path("")` is ".", the current directory: never what an empty name meant.
        raise StoreError("store: an empty path; allowed: a file path, e.g. study.sqlite")
    p = Path(path)
    try:
        _check_location(p)
    except OSError as e:  # e.g. a parent directory that may not be searched
        raise StoreError(
            f"{p}: cannot be reached ({e.strerror or e}); choose another store path", str(p)
        ) from e
    return p


class Store:
    """An open study store. Use as a context manager, or call `close()`.

    Opening checks everything that can be checked before a run is spent: the directory exists
    and is writable, the file is a kmapsim store of this format (a new or empty file becomes
    one), and the file can be written. Raises `StoreError` otherwise.

    Any thread may use it (one operation at a time). Waiting for another process's lock (up to
    `BUSY_SECONDS`) does not hold up Ctrl-C.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = check_path(path)
        self._lock = threading.RLock()
        try:
            # Any thread may use the store: the lock (taken by `_guard`) lets one at a time.
            # The timeout is one slice of the wait for another writer (`_execute`).
            self._db = sqlite3.connect(
                self.path, timeout=_BUSY_SLICE, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise _store_error(self.path, "opening it", e) from e
        try:
            with self._guard("opening it"):
                self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        # Look before touching: a foreign database must not even be switched to WAL.
        self._check_tables(self._tables(), inside_tx=False)
        self._set_wal()
        # Check and create under the write lock, so that two sweeps starting on a new store do
        # not both create it; the write also finds a read-only file before any run is spent.
        with self._tx():
            tables = self._tables()
            if self._check_tables(tables, inside_tx=True):
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.executemany(
                    "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                    [("format", str(STORE_FORMAT)), ("kmapsim", _core.__version__)],
                )
            else:
                # Rewrites a value to itself: a no-op that SQLite still refuses on a read-only
                # file (BEGIN IMMEDIATE alone does not), committed with the transaction.
                self._db.execute("UPDATE meta SET value = value WHERE name = 'format'")

    def _tables(self) -> set[str]:
        rows = self._execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {r[0] for r in rows}

    def _check_tables(self, tables: set[str], *, inside_tx: bool) -> bool:
        """True when the file has no tables yet (a new store); raise for a foreign store or one
        of another format. Before the transaction, a store that is being created by another
        process (meta without its format row yet) is left to the check inside it."""
        if not tables:
            return True
        if not {"meta", "runs"} <= tables:
            raise StoreError(
                f"{self.path}: an SQLite database, but not a kmapsim store "
                f"(tables: {', '.join(sorted(tables))}); choose another file",
                str(self.path),
            )
        fmt = self._execute("SELECT value FROM meta WHERE name='format'").fetchone()
        if fmt is None and not inside_tx:
            return False
        if fmt is None or fmt[0] != str(STORE_FORMAT):
            found = fmt[0] if fmt else "none"
            raise StoreError(
                f"{self.path}: store format {found}, this kmapsim reads and writes "
                f"{STORE_FORMAT}; {_ELSEWHERE}",
                str(self.path),
            )
        return False

    def _set_wal(self) -> None:
        # Switching a new file to WAL needs a moment alone with it; when several processes open
        # a new store together, SQLite may answer "locked" without waiting, so wait here.
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as e:
                if not _busy(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self._db.execute("PRAGMA synchronous=NORMAL")

    def _tx(self) -> _Commit:
        # In autocommit mode, `with connection:` does not open a transaction; BEGIN does.
        self._execute("BEGIN IMMEDIATE")
        return _Commit(self._db)

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn SQLite's exceptions into a `StoreError` that says what to do."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as e:
                raise _store_error(self.path, action, e) from e

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        """``execute``, waiting up to BUSY_SECONDS for another process's lock in short slices:
        SQLite's own wait does not return for a signal, so one long wait would hold Ctrl-C
        for all of it; between slices, Python raises KeyboardInterrupt."""
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                return self._db.execute(sql, tuple(params))
            except sqlite3.OperationalError as e:
                if not _busy(e) or time.monotonic() > deadline:
                    raise

    def keys(self) -> set[str]:
        """Keys of every stored run (trusted or not). Raises `StoreError`."""
        with self._guard("reading its runs"):
            return {r[0] for r in self._execute("SELECT key FROM runs")}

    def get(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored rows of the given keys that are present and pass their integrity check.

        A present row that fails it is left out (so the caller runs it again, and `put`
        replaces it), with one `StoreWarning` naming the keys and the store. Raises
        `StoreError` when the file cannot be read, `ScenarioTypeError` when ``keys`` is not an
        iterable of strings (a key is a string, as `run_key` makes it: no other value could
        match one).
        """
        wanted = list(dict.fromkeys(_keys(keys)))
        out: dict[str, dict[str, Any]] = {}
        bad: list[str] = []
        with self._guard("reading its runs"):
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, row, digest FROM runs WHERE key IN ({marks})"
                for key, text, digest in self._execute(query, chunk):
                    row = _trusted(key, text, digest)
                    if row is None:
                        bad.append(key)
                    else:
                        out[key] = row
        if bad:
            self._warn_untrusted(bad)
        return out

    def _warn_untrusted(self, bad: list[str]) -> None:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        runs = "run fails" if len(bad) == 1 else "runs fail"
        warnings.warn(
            StoreWarning(
                f"{self.path}: {len(bad)} stored {runs} the integrity check (the file was "
                f"edited or damaged) and will be run again and replaced: key {shown}",
                str(self.path),
                tuple(bad),
            ),
            stacklevel=3,
        )

    def put(self, key: str, seed: int, cycles: int, row: Mapping[str, Any]) -> None:
        """Record one finished run, atomically. A key already present with a trusted row is
        left as it is (the same key gives the same row); an untrusted one is replaced.

        The row keeps its key order, so that frames built from stored rows have the columns of
        fresh ones. Raises `ScenarioError` for a seed or cycle count `run_key` would refuse,
        and `StoreError` when the file cannot be written (e.g. the disk is full).
        """
        _key(key, "key")
        seed = _int_arg("seed", seed, 0, MAX_SEED)
        cycles = _int_arg("cycles", cycles, 1, MAX_CYCLES)
        if not isinstance(row, Mapping):
            raise ScenarioTypeError.got("row", row, "a mapping of column names to values")
        try:
            text = json.dumps(row)
        except (TypeError, ValueError) as e:
            raise StoreError(
                f"{self.path}: run {key}: the row is not JSON ({e}); nothing was written",
                str(self.path),
            ) from e
        with self._guard(f"writing run {key}"), self._tx():
            old = self._db.execute("SELECT row, digest FROM runs WHERE key=?", (key,)).fetchone()
            if old is not None and _trusted(key, old[0], old[1]) is not None:
                return
            self._db.execute(
                "INSERT OR REPLACE INTO runs (key, seed, cycles, row, digest, finished) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, _signed(seed), cycles, text, _digest(key, text), time.time()),
            )

    def __len__(self) -> int:
        with self._guard("counting its runs"):
            return int(self._execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def close(self) -> None:
        """Close the database file (a StoreError if SQLite fails to). Later calls fail."""
        with self._guard("closing it"):
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __repr__(self) -> str:
        # The path only: a repr must not touch the database (it may be closed or busy).
        return f"Store({str(self.path)!r})"

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Commit:
    """Commit on success, roll back on error (a transaction opened with BEGIN).

    SQLite may already have rolled back by itself (after "database or disk is full"), and a
    failed ROLLBACK must not hide the error that caused it, so rollback errors are dropped.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        return self._db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")


def _check_location(path: Path) -> None:
    """What can be said about the path before SQLite opens it, said plainly: SQLite itself
    reports a missing directory as "unable to open database file"."""

    def fail(problem: str) -> StoreError:
        return StoreError(f"{path}: {problem}", str(path))

    if path.is_dir():
        raise fail("is a directory; give the store a file name, e.g. " + str(path / "study.sqlite"))
    parent = path.parent
    if not parent.exists():
        raise fail(f"directory {parent} does not exist; create it or choose another store path")
    if not parent.is_dir():
        raise fail(f"{parent} is not a directory; choose another store path")
    if path.exists() and not path.is_file():
        raise fail("is not a regular file; choose another store path")
    # The directory must be writable even for an existing store: WAL keeps its -wal and -shm
    # files beside it. (For root, os.access says yes to almost anything; SQLite then tells.)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise fail(
            f"directory {parent} is not writable (the store keeps its -wal and -shm files "
            "beside it); make it writable or choose another store path"
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise fail("the store is read-only; make the file writable or choose another store path")


def _busy(e: sqlite3.Error) -> bool:
    """Whether ``e`` is another connection's lock (SQLITE_BUSY or SQLITE_LOCKED)."""
    name = getattr(e, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(e).lower()


def _store_error(path: Path, action: str, e: sqlite3.Error) -> StoreError:
    """One line saying what went wrong with the store at ``path`` and what to do about it."""
    name = getattr(e, "sqlite_errorname", "") or ""  # Python 3.11+; the text says it too
    text = str(e)
    low = text.lower()
    if isinstance(e, sqlite3.ProgrammingError) and "closed" in low:
        what = "the store is closed; open it again"
    elif name.startswith("SQLITE_READONLY") or "readonly" in low:
        what = (
            f"the store is read-only ({text}); make the file and its directory writable, "
            "or choose another store path"
        )
    elif name.startswith("SQLITE_FULL") or "is full" in low:
        what = (
            f"the disk is full ({text}) while {action}; free some space and run the same sweep "
            "again to resume (finished runs are kept), or choose another store path"
        )
    elif name.startswith("SQLITE_NOTADB") or "not a database" in low:
        # Not SQLite at all: likely some other file of the user's given by mistake, not a
        # damaged store, so deleting it is no advice to give.
        what = (
            f"not an SQLite file ({text}), so not a kmapsim store; check the path, "
            "or choose another store path"
        )
    elif (
        name.startswith("SQLITE_CORRUPT")
        or "malformed" in low
        or "no such table" in low
        or "no such column" in low
    ):
        what = f"not a usable kmapsim store: a damaged SQLite file ({text}); {_ELSEWHERE}"
    elif name.startswith("SQLITE_BUSY") or "locked" in low:
        what = (
            f"still locked by another process after {BUSY_SECONDS:.0f} s ({text}) while "
            f"{action}; let the other sweep finish, or choose another store path"
        )
    elif name.startswith("SQLITE_CANTOPEN") or "unable to open" in low:
        what = f"cannot be opened ({text}); give a path to a file you may read and write"
    elif name.startswith("SQLITE_IOERR") or "i/o" in low:
        what = (
            f"an I/O error ({text}) while {action}; check the disk, then run the same sweep "
            "again to resume"
        )
    else:
        # Nothing says the file is at fault: advise no deletion.
        what = f"{action} failed ({text})"
    return StoreError(f"{path}: {what}", str(path))
