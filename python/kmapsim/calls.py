"""Call lists: drive the tasks from a log of kernel calls instead of their program, and record
the calls a run makes (docs/model.md, section 15).

A call list has one row per kernel call of one task, run in order:

===========  ===============================================================================
column       meaning
===========  ===============================================================================
task         the task (0 .. tasks-1; with ``tasks = 0``, one task per CPU, task i starts on
             CPU i)
op           ``kmap``, ``kunmap``, ``access``, ``block``, ``yield`` or ``irq_section``
page         the page (``kmap``, ``kunmap``, ``access``), the lock (``irq_section``, -1 for any)
             or -1 (none)
work         cycles of work before the call; for ``block`` and ``irq_section`` their length
===========  ===============================================================================

``kmap`` maps the page into a free handle of the task (at most 8 held at once); ``kunmap`` and
``access`` use the task's latest mapping of the page, which it must hold at that point (a list
that kunmaps a page it does not hold is refused before the run, naming the task and call);
``access`` makes the scenario's ``copy_lookups`` lookups over ``copy_cycles``. A task runs its
list once and then exits (its CPU runs another task or idles). The scenario's ``workload`` must
be ``dbench`` (the default): the list replaces the program. So a bpftrace or ftrace log of
``kmap_high``/``kunmap_high`` (with the gaps between calls as ``work``) drives the model with
mappings held across calls, sleeps and tasks.

As a CSV file: a header naming the four columns (any order), one row per call; ``#`` starts a
comment. As a DataFrame with those columns. As a mapping task -> list of rows, each a mapping
with ``op`` and optionally ``page`` (default -1) and ``work`` (default 0).

A run with ``record_calls=True`` returns `RunResult.calls`: one row per completed ``kmap`` or
``kunmap`` with ``cycle`` (when it returned), ``task``, ``cpu``, ``op``, ``page``, ``slot``,
``slept`` (the kmap slept on ``pkmap_map_wait``) and ``flushed`` (the kmap ran
``flush_all_zero_pkmaps``). Under the ``local`` strategy ``slot`` is the CPU's kmap_local slot,
numbered ``last_pkmap + handle`` (past the pool, as in traces and stale-access records).

Errors are `ScenarioError` with field ``"replay_calls"``, naming the row where it came from
(``FILE line N`` for a CSV file, ``row I`` from 0 for a DataFrame, ``task T, call J`` for a
mapping) and the allowed values, with the scenario's own (``pages``, ``irq_locks``, its task
count); a file that cannot be read as a call list raises its subclass `ScenarioFileError`
(``.path``), with the line in the message. Every number is an integer, in every form: ``1.0``
is refused as a page in a DataFrame as in a CSV file.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kmapsim import _core
from kmapsim._frozen import sealed
from kmapsim._quote import did_you_mean, quote
from kmapsim.errors import ScenarioError, ScenarioFileError, ScenarioTypeError
from kmapsim.fileio import as_path, csv_lines, decode_utf8, read_file_bytes

if TYPE_CHECKING:  # pandas loads on first use only: `import kmapsim` stays light
    import pandas as pd

__all__ = ["CALL_COLUMNS", "CALL_OPS", "RECORD_COLUMNS", "engine_calls", "read_calls"]

#: The columns of a call list, the operations it may hold, and the columns of recorded calls.
CALL_COLUMNS: tuple[str, ...] = tuple(_core.CALL_COLUMNS)
CALL_OPS: tuple[str, ...] = tuple(_core.CALL_OPS)
RECORD_COLUMNS: tuple[str, ...] = tuple(_core.CALL_RECORD_COLUMNS)

#: Largest call-list file read (bytes).
MAX_CALLS_FILE_BYTES = 256 * 1024 * 1024

_FIELD = "replay_calls"
_ALLOWED = f"columns {', '.join(CALL_COLUMNS)}: task >= 0, op one of {', '.join(CALL_OPS)}, "
_ALLOWED += "page >= -1, work >= 0 (integers: 1.0 is none)"

Columns = tuple[list[int], list[str], list[int], list[int]]


def _error(where: str, problem: str) -> ScenarioError:
    return ScenarioError.of(_FIELD, f"{where}: {problem}", _ALLOWED)


def _int(value: object, name: str, where: str, low: int, high: int = 2**63) -> int:
    """``value`` as an integer in [``low``, ``high``), or the error naming it. A float, even a
    whole one, is refused, as the CSV reader refuses ``1.0`` and integer fields refuse 1.0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _error(where, f"{name} {quote(value)}")
    number = int(value)
    if number < low or number >= high:
        # As given: 1e300 stays 1e+300, not a 301-digit integer.
        raise _error(where, f"{name} {quote(value)}")
    return number


def _row(out: Columns, task: object, op: object, page: object, work: object, where: str) -> None:
    if not isinstance(op, str) or op not in CALL_OPS:
        raise _error(where, f"op {quote(op)}{did_you_mean(op, CALL_OPS)}")
    out[0].append(_int(task, "task", where, 0, 2**32))
    out[1].append(op)
    out[2].append(_int(page, "page", where, -1, 2**32 - 1))
    out[3].append(_int(work, "work", where, 0))


#: The engine's errors about one row (``row I: ...``) and about one task's call (``task T,
#: call J (OP): ...``), which `CallList.located` names by where the row came from.
_ENGINE_ROW = re.compile(r"row (\d+): (.*)", re.DOTALL)
_ENGINE_CALL = re.compile(r"task (\d+), call (\d+) \((\w+)\): (.*)", re.DOTALL)


@sealed
@dataclass(frozen=True)
class CallList:
    """A call list as the engine's columns, and where each row came from: a CSV file's lines,
    a DataFrame's rows, or a mapping's (task, call); so that an error the engine finds against
    the scenario (a task past the count, a page past ``pages``, a kunmap of a page not held)
    names the file and line, as the Python checks do."""

    columns: Columns
    path: Path | None = None
    lines: list[int] | None = None
    by_task: bool = False

    def where(self, i: int) -> str:
        """Where row ``i`` came from."""
        if self.path is not None and self.lines is not None:
            return f"{self.path} line {self.lines[i]}"
        if self.by_task:
            task = self.columns[0][i]
            return f"task {task}, call {self.columns[0][:i].count(task)}"
        return f"row {i}"

    def located(self, e: ScenarioError) -> ScenarioError:
        """The engine's error ``e`` naming its row as `where` does (``e`` if it names none)."""
        row = _ENGINE_ROW.fullmatch(e.problem)
        call = _ENGINE_CALL.fullmatch(e.problem)
        if row is not None:
            problem = f"{self.where(int(row[1]))}: {row[2]}"
        elif call is not None and not self.by_task:  # a mapping's rows are named so already
            task, j, op, rest = int(call[1]), int(call[2]), call[3], call[4]
            at = self.where(self._index(task, j))
            problem = f"{at} (task {task}, call {j}, {op}): {rest}"
        else:
            return e
        return ScenarioError.of(e.field, problem, e.allowed)

    def _index(self, task: int, call: int) -> int:
        """The row of ``task``'s call number ``call``."""
        seen = -1
        for i, t in enumerate(self.columns[0]):
            seen += t == task
            if seen == call:
                return i
        raise AssertionError(f"no call {call} of task {task}")  # the engine named a real one


def _from_frame(frame: pd.DataFrame) -> Columns:
    missing = [c for c in CALL_COLUMNS if c not in frame.columns]
    if missing:
        raise ScenarioError.of(_FIELD, f"no column {', '.join(missing)}", _ALLOWED)
    out: Columns = ([], [], [], [])
    rows = zip(*(frame[c].tolist() for c in CALL_COLUMNS), strict=True)
    for i, (task, op, page, work) in enumerate(rows):
        _row(out, task, op, page, work, f"row {i}")
    return out


def _from_mapping(calls: Mapping[Any, Any]) -> Columns:
    out: Columns = ([], [], [], [])
    for task, rows in calls.items():
        if isinstance(rows, (str, bytes, Mapping)) or not hasattr(rows, "__iter__"):
            raise _error(f"task {quote(task)}", "not a list of calls")
        for j, row in enumerate(rows):
            where = f"task {quote(task)}, call {j}"
            if not isinstance(row, Mapping):
                raise _error(where, f"got {type(row).__name__}, not a mapping")
            unknown = set(row) - {"op", "page", "work"}
            if unknown:
                first = sorted(map(str, unknown))[0]
                hint = did_you_mean(first, ["op", "page", "work"])
                raise _error(where, f"unknown column {quote(first)}{hint}")
            _row(out, task, row.get("op"), row.get("page", -1), row.get("work", 0), where)
    return out


def read_calls(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a call list from CSV (this module's format) as a DataFrame with int64 ``task``,
    ``page`` and ``work`` and str ``op``; raises `ScenarioFileError` naming the file and line."""
    import pandas as pd

    cols = _read_file(path).columns
    return pd.DataFrame(
        {
            "task": np.asarray(cols[0], np.int64),
            "op": cols[1],
            "page": np.asarray(cols[2], np.int64),
            "work": np.asarray(cols[3], np.int64),
        }
    )


def _read_file(path: object) -> CallList:
    p = as_path(path, _FIELD)
    raw = read_file_bytes(p, limit=MAX_CALLS_FILE_BYTES, field=_FIELD, kind="CSV call list")
    text = decode_utf8(p, raw, field=_FIELD)
    lines = csv_lines(text)
    reader = csv.reader(lines, skipinitialspace=True, strict=True)
    try:
        return _read_rows(p, reader)
    except csv.Error as e:
        problem = f"{p} line {reader.line_num} is not valid CSV: {e}"
        raise ScenarioFileError.at(p, problem, "CSV", field=_FIELD) from None


def _read_rows(p: Path, reader: Any) -> CallList:
    names = [name.strip() for name in next((row for row in reader if row), [])]
    if sorted(names) != sorted(CALL_COLUMNS):
        problem = f"{p} line {reader.line_num}: header {quote(names)}"
        raise ScenarioFileError.at(
            p, problem, "a header naming " + ", ".join(CALL_COLUMNS), field=_FIELD
        )
    out: Columns = ([], [], [], [])
    lines: list[int] = []
    for row in reader:
        if not row:
            continue
        lines.append(reader.line_num)
        where = f"{p} line {reader.line_num}"
        if len(row) != len(names):
            allowed = f"{len(names)} fields, as the header has"
            problem = f"{where} has {len(row)} fields"
            raise ScenarioFileError.at(p, problem, allowed, field=_FIELD)
        cell = dict(zip(names, (c.strip() for c in row), strict=True))
        values = [_cell(cell[c], c, where) for c in ("task", "page", "work")]
        _row(out, values[0], cell["op"], values[1], values[2], where)
    return CallList(out, p, lines)


def _cell(text: str, name: str, where: str) -> int:
    # ASCII digits only: Python's int() would also take "1_000" and full-width digits.
    body = text[1:] if text.startswith("-") else text
    if not (body.isascii() and body.isdigit()):
        raise _error(where, f"{name} {quote(text)}")
    return int(text)


def engine_calls(calls: Any) -> Columns:
    """The engine's columns ``(task, op, page, work)`` of ``calls``: a DataFrame, a mapping
    task -> rows, or the path of a CSV file. The engine then checks them against the scenario
    (tasks, pages, held pages, locks), naming the task and call."""
    return call_list(calls).columns


def call_list(calls: Any) -> CallList:
    """`engine_calls`, with where each row came from (`CallList.located`)."""
    if isinstance(calls, (str, bytes, os.PathLike)):
        return _read_file(calls)
    # A DataFrame can only come from a caller that has imported pandas already.
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(calls, pd.DataFrame):
        return CallList(_from_frame(calls))
    if isinstance(calls, Mapping):
        return CallList(_from_mapping(calls), by_task=True)
    allowed = "a DataFrame, a mapping task -> list of calls, or a CSV path"
    raise ScenarioTypeError.got(_FIELD, calls, allowed)


def calls_frame(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """Recorded calls (`RawResult.calls`) as a DataFrame with `RECORD_COLUMNS`."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(RECORD_COLUMNS))
    for c in ("cycle", "task", "cpu", "page", "slot"):
        frame[c] = frame[c].astype(np.int64)
    for c in ("slept", "flushed"):
        frame[c] = frame[c].astype(bool)
    frame["op"] = frame["op"].astype(str)
    return frame
