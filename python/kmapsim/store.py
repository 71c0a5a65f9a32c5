"""The study store: finished runs in an embedded SQLite database, one transaction per run.

A sweep writes each run as soon as it finishes, keyed by a hash of everything that determines
its result (model version, scenario, seed, cycles). Running the same sweep again with the same
store skips what is there; a sweep killed at any moment loses at most the runs in progress, and
never leaves a run half-written. WAL journaling lets a reader (a notebook, ``sqlite3``) look at
the store while a sweep writes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kmapsim import _core
from kmapsim.errors import KmapsimError

__all__ = ["STORE_FORMAT", "Store", "StoreError", "run_key"]

#: Bumped when the table layout changes.
STORE_FORMAT = 1


class StoreError(KmapsimError, ValueError):
    """The store file is not a kmapsim store (or is damaged, or of another format)."""


def run_key(scenario: Mapping[str, object], seed: int, cycles: int) -> str:
    """The hash that identifies one run: same key, same result."""
    blob = json.dumps(
        {"model": _core.MODEL_VERSION, "scenario": dict(scenario), "seed": seed, "cycles": cycles},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class Store:
    """An open study store. Use as a context manager, or call `close()`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            # The sweep's own thread does all writes; check_same_thread guards misuse elsewhere.
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._init()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable kmapsim store ({e})") from e

    def _init(self) -> None:
        tables = {
            r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if not tables:
            with self._tx():
                self._db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
                self._db.execute(
                    "CREATE TABLE runs (key TEXT PRIMARY KEY, seed INTEGER NOT NULL, "
                    "cycles INTEGER NOT NULL, row TEXT NOT NULL, finished REAL NOT NULL)"
                )
                self._db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("format", str(STORE_FORMAT)), ("kmapsim", _core.__version__)],
                )
            return
        if not {"meta", "runs"} <= tables:
            raise StoreError(
                f"{self.path}: an SQLite database, but not a kmapsim store "
                f"(tables: {', '.join(sorted(tables))}); choose another file"
            )
        fmt = self._db.execute("SELECT value FROM meta WHERE name='format'").fetchone()
        if fmt is None or fmt[0] != str(STORE_FORMAT):
            found = fmt[0] if fmt else "none"
            raise StoreError(
                f"{self.path}: store format {found}, this kmapsim writes {STORE_FORMAT}"
            )

    def _tx(self) -> _Commit:
        # In autocommit mode, `with connection:` does not open a transaction; BEGIN does.
        self._db.execute("BEGIN IMMEDIATE")
        return _Commit(self._db)

    def keys(self) -> set[str]:
        """Keys of every finished run."""
        return {r[0] for r in self._db.execute("SELECT key FROM runs")}

    def get(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored rows of the given keys that are present."""
        out: dict[str, dict[str, Any]] = {}
        for key in keys:
            r = self._db.execute("SELECT row FROM runs WHERE key=?", (key,)).fetchone()
            if r is not None:
                out[key] = json.loads(r[0])
        return out

    def put(self, key: str, seed: int, cycles: int, row: Mapping[str, Any]) -> None:
        """Record one finished run, atomically. A key already present is left as it is.
        The row keeps its key order, so that frames built from stored rows have the columns of
        fresh ones."""
        with self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?)",
                (key, seed, cycles, json.dumps(row), time.time()),
            )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Commit:
    """Commit on success, roll back on error (a transaction opened with BEGIN)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        return self._db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
