"""Operation lists: drive the CPUs from recorded or measured operations instead of the random
dbench-like workload.

One row is one iteration of a CPU's program (docs/model.md, section 3):

========  ===================================================================
column    meaning
========  ===================================================================
cpu       the CPU (0 .. cpus-1); each CPU's rows run in file order
work      cycles of work before the kmap (1 .. 2^40)
irq_lock  the interrupts-off lock taken after the work, or -1 for none
irq_hold  cycles that lock is held (1 .. 2^40 when irq_lock >= 0, else ignored)
page      the highmem page kmapped (0 .. pages-1)
irqs_off  1 if the kmap is made with interrupts disabled (the misuse switch)
switch    1 if a context switch follows the kunmap
========  ===================================================================

With more tasks than CPUs (the scenario's ``tasks``), a list is a task's, not a CPU's: ``cpu``
then names the task (0 .. tasks-1), as ``record_ops`` writes it, since a task's operations go
with it from CPU to CPU.

``cpu``, ``work`` and ``page`` are required; the other columns are optional, and a row that leaves
one out (an empty CSV cell, a key missing from a row's dict, NaN or None) takes its default:
irq_lock -1, irq_hold 0, irqs_off 0, switch 0. Values are integers (a float that is a whole number,
such as 5.0, counts as one; irqs_off and switch also take bools); in a CSV file they are written in
ASCII digits, with an optional leading minus (not ``1_000`` or ``+5``, as in a CSV call list), or
as a decimal that is whole by its text (``5.0``, ``1e3``, ``0e-999``; not ``100.0000000000000001``,
which a float would round to 100), in at most 40 characters. Besides the scenario's own limits (cpu
below cpus, page below pages, irq_lock below irq_locks, checked when the list is run), cpu and page
are below 2^32, irq_lock at most 2^32 - 2, and work and irq_hold at most `MAX_OP_CYCLES` (2^40, the
limit of the scenario's cycle fields).

The copy between kmap and kunmap takes the scenario's ``copy_cycles``. A CPU whose rows run out
stays idle (category ``idle``) for the rest of the run; one without rows is idle from the start.
As a CSV file: a header line with these column names (any order), one row per operation, every
row with as many comma-separated fields as the header; ``#`` starts a comment (to the end of the
line) and blank lines are skipped; see ``examples/replay_small.csv``. As a mapping: CPU number
-> a list of rows, each a mapping column -> value without ``cpu`` (an empty list is an idle
CPU). A run with ``record_ops=True`` returns its own operations in this form
(`RunResult.ops`), and replaying them with the same scenario and seed reproduces the run.

Every error is a `ScenarioError` with field ``"replay"`` whose message names the row (the file
and line of a CSV file, ``row i`` of a DataFrame counting from 0, ``cpu C, operation J`` of a
mapping), the CPU when it is known, the column and what is allowed. A CSV file follows the rule
of `kmapsim.fileio`: one that cannot be read as an operation list (missing, unreadable, not a
regular file, larger than `MAX_OPS_FILE_BYTES` or `MAX_OPS_ROWS`, not UTF-8, not valid CSV, no
header, an unknown, repeated or missing column, a row with the wrong number of fields) raises
its subclass `ScenarioFileError` (``.path``; the line in the message); a well-formed file with
a bad value (out of range, not an integer, a required cell left empty) the plain
`ScenarioError`, whose message names the file, line, CPU and column.

From a real kernel, bpftrace probes on ``kmap_high``/``kunmap_high`` (page address, CPU, time
stamps) give ``page`` and the gaps between calls, which become ``work``.
"""

from __future__ import annotations

import csv
import dataclasses
import decimal
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from kmapsim import _core
from kmapsim._numbers import int_range
from kmapsim._quote import did_you_mean, quote
from kmapsim.errors import ScenarioError, ScenarioFileError, ScenarioTypeError
from kmapsim.fileio import as_path, csv_lines, decode_utf8, read_file_bytes
from kmapsim.outputs import output_file, writing

__all__ = [
    "MAX_OPS_FILE_BYTES",
    "MAX_OPS_ROWS",
    "MAX_OP_CYCLES",
    "OPS_COLUMNS",
    "ops_frame",
    "read_ops",
    "to_columns",
    "write_ops",
]

#: The engine's replay columns, in the order `kmapsim._core.Options` takes them (``replay=``)
#: and ``RawResult.ops`` returns them (the core's ``Op::COLUMNS``).
OPS_COLUMNS: list[str] = list(_core.OPS_COLUMNS)
_DEFAULTS = {"irq_lock": -1, "irq_hold": 0, "irqs_off": 0, "switch": 0}
_REQUIRED = ("cpu", "work", "page")
_FLAGS = ("irqs_off", "switch")

#: The most cycles of work or of an interrupts-off hold one operation may take: 2^40, the limit
#: of the scenario's cycle fields (BIG in rust/kmapsim-core/src/config.rs).
MAX_OP_CYCLES = 1 << 40

#: The largest CSV operation list read (256 MiB, some 10 million rows): a limit keeps a wrong
#: path (a disk image, /dev/zero) from being read until memory runs out.
MAX_OPS_FILE_BYTES = 256 * 1024 * 1024

#: The most operations a list may hold, whatever its form. Each costs some 100 bytes on its way
#: to the engine, so this bounds memory to about a gigabyte.
MAX_OPS_ROWS = 10_000_000

_U32 = (1 << 32) - 1
#: Each column's (lowest, highest) value, independent of any scenario. The engine keeps cpu,
#: page and irq_lock in 32 bits (irq_lock's all-ones pattern is "none").
_RANGES: dict[str, tuple[int, int]] = {
    "cpu": (0, _U32),
    "work": (1, MAX_OP_CYCLES),
    "irq_lock": (-1, _U32 - 1),
    "irq_hold": (0, MAX_OP_CYCLES),
    "page": (0, _U32),
    "irqs_off": (0, 1),
    "switch": (0, 1),
}
_ALLOWED = {
    "cpu": f"{int_range(0, _U32)} (and below the scenario's cpus)",
    "work": f"an integer number of cycles in [1, {MAX_OP_CYCLES}]",
    "irq_lock": f"-1 (no lock) or {int_range(0, _U32 - 1)} (and below irq_locks)",
    "irq_hold": f"an integer number of cycles in [0, {MAX_OP_CYCLES}], >= 1 with a lock",
    "page": f"{int_range(0, _U32)} (and below the scenario's pages)",
    "irqs_off": "0 or 1 (or a bool)",
    "switch": "0 or 1 (or a bool)",
}
_COLUMNS_ALLOWED = (
    "columns " + ", ".join(OPS_COLUMNS) + " (irq_lock, irq_hold, irqs_off, switch optional)"
)

#: CSV rows converted and checked at a time, so that a large file never exists as strings.
_CHUNK = 1 << 16

IntArray = npt.NDArray[np.int64]


# -- naming rows in errors ------------------------------------------------------------------------


@dataclasses.dataclass
class _Where:
    """Names row ``i`` of the list being checked, for error messages: ``r.csv line 7 (cpu 1)``,
    ``row 3 (cpu 0, operation 2)`` or, for a mapping, ``cpu 0, operation 2``."""

    source: str | None = None  # the file, when rows come from one
    lines: Sequence[int] | None = None  # file line of each row
    cpu: Sequence[int] | None = None  # set once the cpu column is known to be valid
    op: Sequence[int] | None = None  # index among its CPU's rows
    by_cpu: bool = False  # a mapping: rows are named by CPU and operation only

    def __call__(self, i: int) -> str:
        at = None
        if self.cpu is not None:
            at = f"cpu {self.cpu[i]}" + ("" if self.op is None else f", operation {self.op[i]}")
        if self.by_cpu and at is not None:
            return at
        head = f"row {i}" if self.lines is None else f"{self.source} line {self.lines[i]}"
        return head if at is None else f"{head} ({at})"


def _error(where: str, problem: str, allowed: str) -> ScenarioError:
    return ScenarioError.of("replay", f"{where}: {problem}", allowed)


def _bad_value(name: str, value: object, where: str) -> ScenarioError:
    shown = quote(value)
    if isinstance(value, (bool, np.bool_)):
        shown += " (a bool)"
    elif not isinstance(value, (int, float, str, np.integer, np.floating)):
        shown += f" (type {type(value).__name__})"
    return _error(where, f"{name} {shown}", _ALLOWED[name])


# -- checking one column --------------------------------------------------------------------------


def _column(name: str, raw: npt.NDArray[Any], where: _Where, offset: int = 0) -> IntArray:
    """Column ``name`` as int64, missing cells filled with the default, or a ScenarioError
    naming the first bad row (``offset`` is the index of ``raw[0]`` in the whole list).

    Integer, bool and float arrays are checked at once; anything else cell by cell."""
    kind = raw.dtype.kind
    if kind not in "biufOUS" and len(raw):  # datetimes, timedeltas: not numbers of cycles
        raise _error(where(offset), f"column {name} holds {raw.dtype}", _ALLOWED[name])
    if kind == "b":
        if name not in _FLAGS and len(raw):
            raise _bad_value(name, bool(raw[0]), where(offset))
        return raw.astype(np.int64)
    if kind in "iu":
        return _int_column(name, raw, where, offset)
    if kind == "f":
        return _float_column(name, raw, where, offset)
    return _object_column(name, raw.astype(object), where, offset)


def _int_column(name: str, raw: npt.NDArray[Any], where: _Where, offset: int) -> IntArray:
    lo, hi = _RANGES[name]
    # Compare in the array's own 64-bit type: uint64 values up to 2^64 - 1 must not wrap.
    if raw.dtype.kind == "u":
        values = raw.astype(np.uint64)
        bad = values > np.uint64(hi)
        if lo > 0:
            bad |= values < np.uint64(lo)
    else:
        values = raw.astype(np.int64)
        bad = (values < lo) | (values > hi)
    if bad.any():
        i = int(np.argmax(bad))
        raise _out_of_range(name, int(values[i]), where(offset + i))
    return values.astype(np.int64)


def _out_of_range(name: str, value: object, where: str) -> ScenarioError:
    return _error(where, f"{name} {quote(value)}", _ALLOWED[name])


def _float_column(name: str, raw: npt.NDArray[Any], where: _Where, offset: int) -> IntArray:
    # Floats come from a column with an empty cell (pandas' NaN), or from numbers written as
    # 5.0: whole ones are integers, NaN is a missing cell.
    values = raw.astype(np.float64)
    missing = np.isnan(values)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (values == np.floor(values))
    lo, hi = _RANGES[name]
    bad = ~missing & ~(whole & (values >= lo) & (values <= hi))
    if bad.any():
        i = int(np.argmax(bad))
        raise _bad_value(name, float(raw[i]), where(offset + i))
    out = np.where(missing, 0.0, values).astype(np.int64)
    return _fill(name, out, missing, where, offset)


def _fill(
    name: str, values: IntArray, missing: npt.NDArray[np.bool_], where: _Where, offset: int
) -> IntArray:
    """Missing cells take the column default; in a required column they are an error."""
    if not missing.any():
        return values
    if name in _REQUIRED:
        i = int(np.argmax(missing))
        raise _error(
            where(offset + i),
            f"column {name} has no value",
            "a value for " + ", ".join(_REQUIRED) + " in every row",
        )
    values[missing] = _DEFAULTS[name]
    return values


def _object_column(name: str, raw: npt.NDArray[Any], where: _Where, offset: int) -> IntArray:
    lo, hi = _RANGES[name]
    out = np.zeros(len(raw), dtype=np.int64)
    missing = np.zeros(len(raw), dtype=np.bool_)
    for i, value in enumerate(raw):
        try:
            n = _cell_int(name, value)
        except _WrongKind:
            raise _bad_value(name, value, where(offset + i)) from None
        if n is None:
            missing[i] = True
            continue
        if not lo <= n <= hi:
            # As given (1e300 stays 1e+300, not a 301-digit integer).
            raise _out_of_range(name, value, where(offset + i))
        out[i] = n
    return _fill(name, out, missing, where, offset)


class _WrongKind(Exception):
    """A value of no allowed kind (a string, a fraction, a bool where a number is due); the
    caller, which knows the row, turns it into the ScenarioError."""


def _cell_int(name: str, value: object) -> int | None:
    """One cell of column ``name`` as an int, None if missing; raises `_WrongKind`."""
    if _is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        if name in _FLAGS:
            return int(value)
        raise _WrongKind
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return int(value)
    raise _WrongKind


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


# -- checking a whole list ------------------------------------------------------------------------


def _check(
    columns: Mapping[str, npt.NDArray[Any]], n: int, where: _Where, offset: int = 0
) -> dict[str, IntArray]:
    """Every column of ``n`` rows checked, absent optional ones filled with their default;
    the cpu column first, so that later errors can name the CPU."""
    out = {"cpu": _column("cpu", columns["cpu"], where, offset)}
    if where.cpu is None:
        where = dataclasses.replace(where, cpu=_Rebased(out["cpu"], offset))
        if where.lines is None:  # a DataFrame: its rows are named by index, add the CPU's
            where.op = _Rebased(_per_cpu_index(out["cpu"]), offset)
    for name in OPS_COLUMNS[1:]:
        if name in columns:
            out[name] = _column(name, columns[name], where, offset)
        else:
            out[name] = np.full(n, _DEFAULTS[name], dtype=np.int64)
    locked = (out["irq_lock"] >= 0) & (out["irq_hold"] == 0)
    if locked.any():
        i = int(np.argmax(locked))
        raise _error(
            where(offset + i),
            f"irq_hold is 0 with irq_lock {out['irq_lock'][i]}",
            "irq_hold >= 1 when irq_lock >= 0",
        )
    return out


class _Rebased(Sequence[int]):
    """``values`` seen from index ``offset`` on, so that a chunk's arrays answer for the row
    numbers of the whole list."""

    def __init__(self, values: IntArray, offset: int) -> None:
        self.values, self.offset = values, offset

    def __getitem__(self, i: Any) -> Any:
        return int(self.values[i - self.offset])

    def __len__(self) -> int:
        return len(self.values) + self.offset


def _per_cpu_index(cpu: IntArray) -> IntArray:
    """Each row's index among the rows of its CPU (what the engine calls the operation)."""
    return np.asarray(pd.Series(cpu).groupby(cpu).cumcount(), dtype=np.int64)


def _columns_problem(names: Sequence[object]) -> tuple[str, str] | None:
    """What is wrong with a list of column names (duplicated, unknown, missing), or None."""
    seen: set[object] = set()
    for name in names:
        if name in seen:
            return f"column {quote(name)} is given twice", "each column once; " + _COLUMNS_ALLOWED
        seen.add(name)
    bad = [c for c in names if not (isinstance(c, str) and c in OPS_COLUMNS)]
    if bad:
        unknown = [quote(c, 40) + did_you_mean(c, OPS_COLUMNS) for c in bad]
        listed = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        return f"unknown columns [{listed}]", _COLUMNS_ALLOWED
    missing = [c for c in _REQUIRED if c not in seen]
    if missing:
        return f"missing columns {missing}", _COLUMNS_ALLOWED
    return None


def _too_many(where: str) -> ScenarioError:
    return ScenarioError.of(
        "replay", f"{where}: more than {MAX_OPS_ROWS} operations", f"at most {MAX_OPS_ROWS} rows"
    )


def _as_frame(columns: Mapping[str, IntArray]) -> pd.DataFrame:
    return pd.DataFrame({c: columns[c] for c in OPS_COLUMNS})


# -- the three forms: DataFrame, mapping, CSV -----------------------------------------------------


def _from_dataframe(frame: pd.DataFrame) -> tuple[dict[str, IntArray], _Where]:
    problem = _columns_problem(list(frame.columns))
    if problem is not None:
        raise ScenarioError.of("replay", *problem)
    if len(frame) > MAX_OPS_ROWS:
        raise _too_many("the DataFrame")
    # to_numpy: nullable and string dtypes become object arrays, checked cell by cell.
    columns = {str(c): frame[c].to_numpy() for c in frame.columns}
    out = _check(columns, len(frame), _Where())
    cpu = out["cpu"]
    return out, _Where(cpu=_Rebased(cpu, 0), op=_Rebased(_per_cpu_index(cpu), 0))


def _from_mapping(ops: Mapping[Any, Any]) -> tuple[dict[str, IntArray], _Where]:
    cells: dict[str, list[object]] = {c: [] for c in OPS_COLUMNS}
    cpus: list[int] = []
    ops_index: list[int] = []
    for key, rows in ops.items():
        cpu = _cpu_key(key)
        for j, row in enumerate(_rows_of(cpu, rows)):
            _add_row(cells, cpu, j, row)
            cpus.append(cpu)
            ops_index.append(j)
            if len(ops_index) > MAX_OPS_ROWS:
                raise _too_many("the mapping")
    where = _Where(cpu=cpus, op=ops_index, by_cpu=True)
    columns = {c: np.array(v, dtype=object) for c, v in cells.items()}
    return _check(columns, len(ops_index), where), where


def _cpu_key(key: object) -> int:
    """A mapping key as a CPU number: an int (or a string of digits, as JSON keys are)."""
    if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 10:
        key = int(key)
    lo, hi = _RANGES["cpu"]
    try:
        n = _cell_int("cpu", key)
    except _WrongKind:
        n = None
    if n is None or not lo <= n <= hi:
        raise ScenarioError.of(
            "replay", f"the mapping has the key {quote(key)}", "CPU numbers: " + _ALLOWED["cpu"]
        )
    return n


def _rows_of(cpu: int, rows: object) -> Iterator[object]:
    """The rows given for ``cpu``: a list or tuple of mappings, or a DataFrame's rows."""
    if isinstance(rows, pd.DataFrame):
        twice = rows.columns[rows.columns.duplicated()]
        if len(twice):
            problem = f"column {quote(twice[0])} is given twice"
            raise _error(f"cpu {cpu}", problem, "each column once; " + _COLUMNS_ALLOWED)
        # Rows as dicts: _add_row then checks their keys as for any other row.
        return iter(rows.to_dict("records"))
    if isinstance(rows, (list, tuple)):
        return iter(rows)
    raise _error(
        f"cpu {cpu}",
        f"its rows are {quote(rows, 40)} (type {type(rows).__name__})",
        "a list of rows, each a mapping column -> value, or a DataFrame",
    )


def _add_row(cells: dict[str, list[object]], cpu: int, j: int, row: object) -> None:
    where = f"cpu {cpu}, operation {j}"
    if not isinstance(row, Mapping):
        raise _error(
            where,
            f"the row is {quote(row, 40)} (type {type(row).__name__})",
            "a mapping column -> value, such as {'work': 5000, 'page': 7}",
        )
    for key in row:
        if not (isinstance(key, str) and key in OPS_COLUMNS) or key == "cpu":
            why = " (the mapping's key gives the CPU)" if key == "cpu" else ""
            why = why or did_you_mean(key, OPS_COLUMNS[1:])
            raise _error(
                where,
                f"unknown column {quote(key, 40)}{why}",
                "columns " + ", ".join(OPS_COLUMNS[1:]) + " (irq_lock .. switch optional)",
            )
    cells["cpu"].append(cpu)
    for name in OPS_COLUMNS[1:]:
        cells[name].append(row.get(name))


def _frame(ops: pd.DataFrame | Mapping[int, Any]) -> pd.DataFrame:
    """The operation list checked, as a DataFrame of int64 `OPS_COLUMNS` (irqs_off and switch
    0 or 1), or a ScenarioError naming the row, CPU and column."""
    return _as_frame(_checked(ops)[0])


#: What the functions taking an operation list as ``ops`` in memory accept.
_IN_MEMORY = "a DataFrame with the columns of OPS_COLUMNS, or a mapping cpu -> rows"


def _checked(
    ops: pd.DataFrame | Mapping[int, Any],
    field: str = "ops",
    allowed: str = _IN_MEMORY,
) -> tuple[dict[str, IntArray], _Where]:
    """The checked int64 columns of a DataFrame or mapping, and how to name their rows. Any
    other type is the ScenarioTypeError naming ``field``, the caller's parameter, and what it
    accepts (``allowed``)."""
    if isinstance(ops, pd.DataFrame):
        return _from_dataframe(ops)
    if isinstance(ops, Mapping):
        return _from_mapping(ops)
    raise ScenarioTypeError.got(field, ops, allowed)


def to_columns(ops: pd.DataFrame | Mapping[int, Any]) -> tuple[list[Any], ...]:
    """The engine's form: one Python list per column, in `OPS_COLUMNS` order.

    Raises `ScenarioError` (field ``"replay"``) naming the row, CPU and column of a bad value;
    ``ops`` neither a DataFrame nor a mapping is a `ScenarioTypeError` naming ``ops``."""
    return _lists(_checked(ops)[0])


def _lists(columns: Mapping[str, IntArray]) -> tuple[list[Any], ...]:
    return tuple(
        columns[c].astype(bool).tolist() if c in _FLAGS else columns[c].tolist()
        for c in OPS_COLUMNS
    )


def engine_columns(
    ops: pd.DataFrame | Mapping[int, Any] | str | bytes | os.PathLike[str],
    *,
    cpus: int,
    pages: int,
    irq_locks: int,
    tasks: int = 0,
    field: str = "ops",
) -> tuple[list[Any], ...]:
    """`to_columns` of ``ops`` (a DataFrame, a mapping, or the path of a CSV file read with
    `read_ops`), also checked against the scenario's limits: cpu below ``cpus``, page below
    ``pages``, irq_lock -1 or below ``irq_locks``. `kmapsim.run` calls it, so that these
    errors name the row as every other replay error does (the file and line of a CSV file),
    rather than the engine's own row index: ``FILE line N (cpu C): cpu 9; allowed: a CPU
    below cpus = 2``. The first bad row is reported; in it, cpu before page before irq_lock.
    ``ops`` of another type is a ScenarioTypeError naming ``field`` (the caller's argument:
    `kmapsim.run` passes ``"replay"``)."""
    if isinstance(ops, (str, bytes, os.PathLike)):
        columns, where = _read_ops_file(ops)
    else:
        columns, where = _checked(ops, field, _IN_MEMORY + ", or the path of a CSV file")
    limits = (
        # One list per task: per CPU unless the scenario sets tasks (the `cpu` column names the
        # list; with one task per CPU, task i starts on CPU i).
        ("cpu", cpus, f"a CPU below cpus = {cpus}")
        if not tasks
        else ("cpu", tasks, f"a task below tasks = {tasks} (one list per task)"),
        ("page", pages, f"a page below pages = {pages}"),
        ("irq_lock", irq_locks, f"-1 (none) or a lock below irq_locks = {irq_locks}"),
    )
    first: tuple[int, int, str, str] | None = None  # (row, order, column, allowed)
    for order, (name, limit, allowed) in enumerate(limits):
        bad = columns[name] >= limit
        if bad.any():
            i = int(np.argmax(bad))
            if first is None or i < first[0]:
                first = (i, order, name, allowed)
    if first is not None:
        i, _, name, allowed = first
        raise _error(where(i), f"{name} {quote(int(columns[name][i]))}", allowed)
    return _lists(columns)


# -- CSV ------------------------------------------------------------------------------------------


def read_ops(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an operation list from CSV (format in this module's docstring), checked as
    `to_columns` checks it, as a DataFrame of int64 `OPS_COLUMNS`.

    Raises `ScenarioFileError` (field ``"replay"``, ``.path``) for a file that cannot be read
    as a CSV operation list, naming the file (and the line); `ScenarioError` naming the file,
    line, CPU and column for a bad value (the rule of `kmapsim.fileio`). A ``path`` that is no
    path (None, a number, a list) raises `ScenarioFileError` (field ``"replay"``, ``path``
    ``""``); a `bytes` path is decoded with `os.fsdecode` (`kmapsim.fileio.as_path`)."""
    return _as_frame(_read_ops_file(path)[0])


def _read_ops_file(path: object) -> tuple[dict[str, IntArray], _Where]:
    p = as_path(path, "replay")
    raw = read_file_bytes(p, limit=MAX_OPS_FILE_BYTES, field="replay", kind="CSV operation list")
    text = decode_utf8(p, raw, field="replay")
    del raw  # the text is all that is needed: halve the peak memory of a large file
    return _read_csv(p, text)


def _file_error(p: Path, problem: str, allowed: str) -> ScenarioFileError:
    return ScenarioFileError.at(p, f"{p} {problem}", allowed, field="replay")


def _read_csv(p: Path, text: str) -> tuple[dict[str, IntArray], _Where]:
    """The checked columns of CSV ``text`` (from file ``p``, for messages), and how to name
    their rows (file, line and CPU)."""
    lines = csv_lines(text)
    reader = csv.reader(lines, skipinitialspace=True, strict=True)
    try:
        return _read_rows(p, reader)
    except csv.Error as e:  # a stray quote, a lone carriage return, a huge field
        raise _file_error(p, f"line {reader.line_num} is not valid CSV: {e}", "CSV") from None


def _read_rows(p: Path, reader: Any) -> tuple[dict[str, IntArray], _Where]:
    names = [name.strip() for name in next((row for row in reader if row), [])]
    header_line = reader.line_num
    if not names:
        raise _file_error(p, "has no header line", "a header line naming the columns")
    problem = _columns_problem(names)
    if problem is not None:
        raise _file_error(p, f"line {header_line}: {problem[0]}", problem[1])
    width = len(names)
    done: dict[str, list[IntArray]] = {c: [] for c in OPS_COLUMNS}
    chunk: list[list[str]] = []
    lines: list[int] = []
    all_lines: list[IntArray] = []
    n = 0
    for row in reader:  # kept tight: it runs once per line of a file of millions
        if not row:
            continue
        if len(row) != width:
            raise _file_error(
                p,
                f"line {reader.line_num} has {len(row)} fields, but the header "
                f"(line {header_line}) has {width}",
                "as many comma-separated fields on every line as in the header",
            )
        chunk.append(row)
        lines.append(reader.line_num)
        if len(chunk) == _CHUNK:
            n = _convert_chunk(p, names, chunk, lines, n, done)
            all_lines.append(np.array(lines, dtype=np.int64))
            chunk, lines = [], []
    _convert_chunk(p, names, chunk, lines, n, done)
    all_lines.append(np.array(lines, dtype=np.int64))
    out = {c: np.concatenate(v) if v else np.zeros(0, np.int64) for c, v in done.items()}
    lines_of = _Rebased(np.concatenate(all_lines), 0)
    return out, _Where(source=str(p), lines=lines_of, cpu=_Rebased(out["cpu"], 0))


def _convert_chunk(
    p: Path,
    names: list[str],
    chunk: list[list[str]],
    lines: list[int],
    offset: int,
    done: dict[str, list[IntArray]],
) -> int:
    """Check rows ``offset ..`` of the file (on ``lines``), add them to ``done`` and return
    how many rows have been read."""
    if offset + len(chunk) > MAX_OPS_ROWS:  # a file too large: a fault of the file
        line = lines[MAX_OPS_ROWS - offset]
        raise _file_error(
            p, f"line {line}: more than {MAX_OPS_ROWS} operations", f"at most {MAX_OPS_ROWS} rows"
        )
    if not chunk:
        return offset
    columns = {
        name: _csv_column(cells)
        for name, cells in zip(names, zip(*chunk, strict=True), strict=True)
    }
    where = _Where(source=str(p), lines=_Rebased(np.array(lines, dtype=np.int64), offset))
    for name, values in _check(columns, len(chunk), where, offset).items():
        done[name].append(values)
    return offset + len(chunk)


def _csv_column(cells: Sequence[str]) -> npt.NDArray[Any]:
    """One column of CSV text as int64 if every cell is a plain integer that fits, else as
    objects (ints, floats, bools, None for an empty cell, or the text itself) to check."""
    # numpy's int() would also take "1_000", "+5" and non-ASCII digits, which the call-list
    # reader refuses: such a column takes the cell-by-cell path, which refuses them too.
    if _PLAIN_TEXT.fullmatch("".join(cells)):
        try:
            return np.array(cells, dtype=np.int64)
        except (ValueError, OverflowError):
            pass
    return np.array([_csv_cell(c) for c in cells], dtype=object)


#: What a column of plain integers may hold: ASCII digits, minus signs and spaces (int() then
#: refuses a misplaced sign).
_PLAIN_TEXT = re.compile(r"[0-9 -]*")
#: A number cell: ASCII digits only, a leading minus, no underscore; a float such as 5.0 or 1e3
#: (whole ones count as integers) in Python's ASCII notation.
_INT_CELL = re.compile(r"-?[0-9]+")
_FLOAT_CELL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _csv_cell(text: str) -> object:
    text = text.strip()
    if not text:
        return None
    if len(text) <= 40:  # longer is no valid value, and int() of it could be slow
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if _INT_CELL.fullmatch(text):
            return int(text)
        if _FLOAT_CELL.fullmatch(text):
            return _decimal_cell(text)
    return text  # refused by the column's check, which names file, line and column


def _decimal_cell(text: str) -> object:
    """A decimal cell: an int if it is whole by its text (``5.0``, ``1e3``, ``0e999``), a float
    the column refuses if not (``2.5``), or the text itself, which the column refuses as text,
    where a float would make it whole or another number (``100.0000000000000001`` is 100.0,
    ``1e-400`` is 0.0, ``1e999999999`` is inf) or ``decimal`` cannot hold its exponent."""
    mantissa = text.lower().partition("e")[0]
    if not mantissa.strip("+-.0"):  # a zero, whatever its exponent (0e-999...9 too)
        return 0
    try:
        exact = decimal.Decimal(text)
        if exact.adjusted() > 30:  # past every range: 1e999999999 must not become an int
            return text
        if exact.adjusted() >= 0 and exact == exact.to_integral_value():
            return int(exact)
    except (decimal.InvalidOperation, ArithmeticError, ValueError):
        return text
    number = float(text)
    return text if number == int(number) else number


def write_ops(ops: pd.DataFrame | Mapping[int, Any], path: str | os.PathLike[str]) -> Path:
    """Write an operation list as CSV, readable by `read_ops` (irqs_off and switch as 0/1).

    A ``path`` that cannot be written (no path, not ending in ``.csv``, a directory, in a
    missing or read-only directory) raises `ScenarioFileError` (field ``"replay"``, as in
    `read_ops`) naming it, before anything is written (`kmapsim.outputs`). ``ops`` is a
    DataFrame or a mapping cpu -> rows (to copy a CSV file, `read_ops` it first); another type
    is a `ScenarioTypeError` naming ``ops``, a bad value a `ScenarioError` naming its row."""
    frame = _frame(ops)
    p = output_file("replay", path, (".csv",), "a .csv file")
    with writing("replay", p):
        frame.to_csv(p, index=False)
    return p


def ops_frame(rows: Sequence[tuple[int, int, int, int, int, bool, bool]]) -> pd.DataFrame:
    """Recorded ops from the engine as a frame with `OPS_COLUMNS`."""
    frame = pd.DataFrame(rows, columns=OPS_COLUMNS)
    return frame.astype({c: np.int64 for c in OPS_COLUMNS})
