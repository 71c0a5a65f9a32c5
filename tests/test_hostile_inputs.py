"""Hostile input to the file readers, operation lists and scenario fields, by kind of fault:
ragged CSV rows, files that are not regular files or are too large, parser exceptions (deep
nesting, huge integers), out-of-range or ill-typed replay cells, huge values quoted in messages,
empty field names, numpy scalars. Each case asserts the documented error class and that the
message names the field, file, line, row or column at fault."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_process import kmapsim_cli

import kmapsim
from kmapsim import Scenario, ScenarioError, ScenarioFileError
from kmapsim._quote import quote
from kmapsim.fileio import MAX_DOCUMENT_BYTES, MAX_NESTING, read_document
from kmapsim.replay import MAX_OP_CYCLES, MAX_OPS_FILE_BYTES, read_ops, to_columns, write_ops

ONE_CPU = Scenario(cpus=1, pages=64, hot_pages=4)
TWO_CPUS = Scenario(cpus=2, pages=64, hot_pages=4)
#: Scenario and a dict, as mypy sees them when the test passes what their types forbid.
LooseScenario: Any = Scenario
HUGE = "x" * 10_000_000  # a value far too large to copy into a message
SHORT = 2_000  # every message of a huge value stays shorter than this


def _loose(d: dict[Any, Any]) -> Any:
    return d


def _raises(call: Callable[[], object], cls: type[Exception] = ScenarioError) -> Any:
    """The exception ``call`` raises, which must be ``cls``; and its message is one line."""
    with pytest.raises(cls) as ei:
        call()
    assert "\n" not in str(ei.value)
    return ei.value


def _csv(tmp: Path, text: str, name: str = "ops.csv") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


# -- 1. CSV rows with the wrong number of fields --------------------------------------------------

RAGGED = [
    ("one field too many", "cpu,work,page\n0,1,1,5\n", "line 2 has 4 fields", "has 3"),
    ("one field too few", "cpu,work,page\n0,1,1\n0,1\n", "line 3 has 2 fields", "has 3"),
    ("a trailing comma", "cpu,work,page\n0,1,1,\n", "line 2 has 4 fields", "has 3"),
    (
        "lines counted past comments and blanks",
        "# c\n\ncpu,work,page  # header\n\n# x\n0,1,1\n0,1,1,1,1\n",
        "line 7 has 5 fields",
        "(line 3) has 3",
    ),
    ("optional columns left out", "cpu,work,page,switch\n0,1,1\n", "line 2 has 3", "has 4"),
]


@pytest.mark.parametrize(("what", "text", "line", "header"), RAGGED, ids=[r[0] for r in RAGGED])
def test_ragged_csv_rows_are_refused_naming_file_and_line(
    tmp_path: Path, what: str, text: str, line: str, header: str
) -> None:
    path = _csv(tmp_path, text)
    e = _raises(lambda: read_ops(path), ScenarioFileError)
    assert e.field == "replay" and e.path == str(path)
    assert f"{path} {line}" in str(e) and header in str(e), what


def test_the_cli_refuses_a_shifted_row(tmp_path: Path) -> None:
    path = _csv(tmp_path, "cpu,work,page\n0,1,1,5\n", "r.csv")
    p = kmapsim_cli("run", "--cpus", "2", "--cycles", "1000", "--replay", str(path))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "r.csv line 2 has 4 fields" in p.stderr


BAD_CSV_FILES: list[tuple[str, bytes, str]] = [
    ("a stray quote", b'cpu,work,page\n0,"5"x,1\n', "line 2 is not valid CSV"),
    ("a lone carriage return", b"cpu,work,page\n0,5\r,1\n", "line 2 is not valid CSV"),
    ("not UTF-8", b"cpu,w\xe9rk,page\n", "is not UTF-8 text: byte 0xe9 (at line 1, column 6)"),
    ("no header", b"# only a comment\n\n", "has no header line"),
    ("a repeated column", b"cpu,work,page,work\n", "line 1: column 'work' is given twice"),
    ("an empty column name", b"cpu,work,page,\n", "line 1: unknown columns ['']"),
]


@pytest.mark.parametrize(
    ("what", "body", "needle"), BAD_CSV_FILES, ids=[b[0] for b in BAD_CSV_FILES]
)
def test_csv_files_of_the_wrong_shape(tmp_path: Path, what: str, body: bytes, needle: str) -> None:
    path = tmp_path / "ops.csv"
    path.write_bytes(body)
    e = _raises(lambda: read_ops(path), ScenarioFileError)
    assert e.field == "replay" and e.path == str(path) and f"{path} {needle}" in str(e), what


WELL_FORMED = [
    ("comments and blank lines", "# a\n\ncpu,work,page # h\n\n0,5,1 # op\n# end\n", 1),
    ("spaces around fields", "cpu , work,page\n 0 , 5 ,1\n", 1),
    ("CRLF line ends", "cpu,work,page\r\n0,5,1\r\n1,6,2\r\n", 2),
    ("a quoted header", '"cpu","work","page"\n0,5,1\n', 1),
    ("a header alone", "cpu,work,page\n", 0),
]


@pytest.mark.parametrize(("what", "text", "rows"), WELL_FORMED, ids=[w[0] for w in WELL_FORMED])
def test_well_formed_csv_still_reads(tmp_path: Path, what: str, text: str, rows: int) -> None:
    frame = read_ops(_csv(tmp_path, text))
    assert len(frame) == rows, what
    if rows:
        assert frame.loc[0, "work"] == 5 and frame.loc[0, "page"] == 1


# -- 2. only regular files, of bounded size -------------------------------------------------------

READERS: dict[str, tuple[str, Callable[[Path], object], int]] = {
    "scenario": ("s.toml", lambda p: Scenario.from_file(p), MAX_DOCUMENT_BYTES),
    "grid": ("g.toml", lambda p: read_document(p, field="--grid-file", fmt="toml"), 0),
    "replay": ("o.csv", lambda p: read_ops(p), MAX_OPS_FILE_BYTES),
}
READER_FIELDS = {"scenario": "file", "grid": "--grid-file", "replay": "replay"}


@contextmanager
def _unblocked(fifo: Path) -> Iterator[None]:
    """Should a reader open ``fifo`` by mistake, a writer shows up and leaves at once, so that
    the test fails (no error: an empty file) instead of hanging."""
    done = threading.Event()

    def writer() -> None:
        while not done.wait(0.05):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader: as it should be
                pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _special(tmp: Path, kind: str, name: str) -> Path:
    path = tmp / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "char device":
        path.symlink_to("/dev/null")  # /dev/zero would be endless if read
    else:
        path.mkdir()
    return path


SPECIAL = [
    ("fifo", "a FIFO (named pipe)"),
    ("char device", "a character device"),
    ("directory", "a directory"),
]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/null")
@pytest.mark.parametrize(("kind", "said"), SPECIAL, ids=[s[0] for s in SPECIAL])
@pytest.mark.parametrize("reader", READERS)
def test_non_regular_files_are_refused_before_reading(
    tmp_path: Path, reader: str, kind: str, said: str
) -> None:
    name, read, _ = READERS[reader]
    path = _special(tmp_path, kind, name)
    with _unblocked(path) if kind == "fifo" else _nothing():
        e = _raises(lambda: read(path), ScenarioFileError)
    assert e.field == READER_FIELDS[reader] and e.path == str(path)
    assert f"{path} is {said}, not a regular file" in str(e)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@pytest.mark.parametrize("reader", ["scenario", "replay"])
def test_files_over_the_size_limit_are_refused(tmp_path: Path, reader: str) -> None:
    name, read, limit = READERS[reader]
    path = tmp_path / name
    with path.open("wb") as fh:
        fh.truncate(limit + 1)  # sparse: no disk space used
    e = _raises(lambda: read(path), ScenarioFileError)
    assert e.path == str(path) and f"{path} is larger than {limit // 2**20} MiB" in str(e)


def test_a_path_with_a_nul_character_is_a_file_error() -> None:
    e = _raises(lambda: Scenario.from_file("bad\0name.toml"), ScenarioFileError)
    assert "NUL character" in str(e)


# -- 3. parser exceptions: deep nesting, integers too long to convert -----------------------------

DEEP = 5_000  # past any recursion limit
PARSER_CASES = [
    ("deep JSON arrays", "s.json", '{"cpus": ' + "[" * DEEP + "]" * DEEP + "}", "levels deep"),
    ("deep JSON objects", "s.json", '{"a": ' * DEEP + "1" + "}" * DEEP, "levels deep"),
    ("deep TOML arrays", "s.toml", "cpus = " + "[" * DEEP + "]" * DEEP, "levels deep"),
    ("deep TOML tables", "s.toml", "a = " + "{b = " * DEEP + "1" + "}" * DEEP, "levels deep"),
    (
        "nested just past the limit",
        "s.json",
        '{"cpus": ' + "[" * MAX_NESTING + "]" * MAX_NESTING + "}",
        f"more than {MAX_NESTING} levels",
    ),
    ("a long JSON integer", "s.json", '{"cpus": 4,\n "pages": ' + "9" * 5000 + "}", "line 2"),
    ("a long negative one", "s.json", '{"pages": -' + "9" * 5000 + "}", "line 1, column 12"),
    ("a long TOML integer", "s.toml", "cpus = 4\npages = 1_" + "0" * 5000, "line 2, column 9"),
]


@pytest.mark.parametrize(
    ("what", "name", "text", "needle"), PARSER_CASES, ids=[c[0] for c in PARSER_CASES]
)
def test_parser_exceptions_become_file_errors(
    tmp_path: Path, what: str, name: str, text: str, needle: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    e = _raises(lambda: Scenario.from_file(path), ScenarioFileError)
    assert e.field == "file" and e.path == str(path)
    assert str(e).startswith(f"file: {path} ") and needle in str(e), what


def test_a_deep_grid_file_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text("[grid]\ncpus = " + "[" * DEEP + "]" * DEEP, encoding="utf-8")
    e = _raises(lambda: read_document(path, field="--grid-file", fmt="toml"), ScenarioFileError)
    assert e.field == "--grid-file" and "levels deep" in str(e)


@pytest.mark.parametrize(
    "text",
    ["", "# only a comment\n", "[base]\n[grid]\n[run]\n"],
    ids=["empty", "comment", "tables"],
)
def test_a_grid_file_that_sets_nothing_is_a_file_error(tmp_path: Path, text: str) -> None:
    """As an empty scenario file is: the wrong file, not a request for every default."""
    from kmapsim.grid_file import read_grid_file

    path = tmp_path / "g.toml"
    path.write_text(text, encoding="utf-8")
    e = _raises(lambda: read_grid_file(path), ScenarioFileError)
    assert e.field == "--grid-file" and e.path == str(path) and "sets nothing" in str(e)
    path.write_text("[run]\ncycles = 1000\n", encoding="utf-8")
    assert read_grid_file(path) == {"cycles": 1000}


def test_nesting_within_the_limit_reaches_the_field_check(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    depth = MAX_NESTING - 1  # the top-level object is one level
    path.write_text('{"cpus": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
    e = _raises(lambda: Scenario.from_file(path))
    assert not isinstance(e, ScenarioFileError) and e.field == "cpus"


def test_a_huge_hex_integer_is_named_by_its_field(tmp_path: Path) -> None:
    # Hex literals have no digit limit, so the value arrives: its message must not print it.
    path = tmp_path / "s.toml"
    path.write_text("cpus = 0x" + "f" * 5000, encoding="utf-8")
    e = _raises(lambda: Scenario.from_file(path))
    assert e.field == "cpus" and "integer of about 6021 digits" in str(e) and len(str(e)) < SHORT


# -- 4. operation lists: ranges, types, missing cells, empty lists --------------------------------


def _frame(**columns: Any) -> pd.DataFrame:
    base: dict[str, Any] = {"cpu": [0, 0], "work": [5, 6], "page": [1, 2]}
    return pd.DataFrame({**base, **columns})


BAD_OPS: list[tuple[str, Any, str]] = [
    # DataFrames: "row I (cpu C, operation J)", 0-based
    ("cpu 2^32", _frame(cpu=[0, 2**32]), "row 1: cpu 4294967296"),
    ("negative cpu", _frame(cpu=[-1, 0]), "row 0: cpu -1"),
    ("page 2^32", _frame(page=[1, 2**32]), "row 1 (cpu 0, operation 1): page 4294967296"),
    ("work 0", _frame(work=[0, 1]), "row 0 (cpu 0, operation 0): work 0"),
    ("work past 2^40", _frame(work=[1, MAX_OP_CYCLES + 1]), f"work {MAX_OP_CYCLES + 1}"),
    ("irq_hold past 2^40", _frame(irq_hold=[0, 2**41]), f"irq_hold {2**41}"),
    ("irq_lock below -1", _frame(irq_lock=[-2, 0]), "row 0 (cpu 0, operation 0): irq_lock -2"),
    ("irq_lock 2^32-1", _frame(irq_lock=[2**32 - 1, -1]), "irq_lock 4294967295"),
    ("a lock held 0 cycles", _frame(irq_lock=[-1, 0]), "row 1 (cpu 0, operation 1): irq_hold"),
    (
        "uint64 max",
        _frame(cpu=np.array([0, 2**64 - 1], np.uint64)),
        "row 1: cpu 18446744073709551615",
    ),
    ("uint64 page", _frame(page=np.array([2**63, 1], np.uint64)), f"page {2**63}"),
    ("a string", _frame(work=["5", "6"]), "row 0 (cpu 0, operation 0): work '5'"),
    ("a fraction", _frame(work=[5.0, 6.5]), "row 1 (cpu 0, operation 1): work 6.5"),
    ("infinity", _frame(work=[5.0, np.inf]), "work inf"),
    ("a bool for work", _frame(work=[True, True]), "work True (a bool)"),
    ("a flag of 2", _frame(switch=[0, 2]), "row 1 (cpu 0, operation 1): switch 2"),
    (
        "NaN in a required column",
        _frame(page=[1.0, np.nan]),
        "row 1 (cpu 0, operation 1): column page has no value",
    ),
    ("NA in a nullable column", _frame(work=pd.array([5, None], "Int64")), "column work has no"),
    ("a datetime column", _frame(work=pd.to_datetime([1, 2])), "column work holds datetime64"),
    ("an object", _frame(work=[5, object()]), "(type object)"),
    (
        "a repeated column",
        pd.DataFrame([[0, 1, 2, 1]], columns=["cpu", "work", "work", "page"]),
        "column 'work' is given twice",
    ),
    ("a missing column", pd.DataFrame({"cpu": [0], "work": [1]}), "missing columns ['page']"),
    ("an unknown column", _frame(colour=[1, 2]), "unknown columns ['colour']"),
    ("a non-string column", _frame(**{"7": [1, 2]}).rename(columns={"7": 7}), "columns [7]"),
    # mappings: "cpu C, operation J"
    ("mapping: page 2^32", {0: [dict(work=1, page=2**32)]}, "cpu 0, operation 0: page 4294967296"),
    (
        "mapping: no work",
        {1: [dict(work=1, page=1), dict(page=3)]},
        "cpu 1, operation 1: column work has no value",
    ),
    ("mapping: a float", {0: [dict(work=1.5, page=1)]}, "cpu 0, operation 0: work 1.5"),
    # A whole float out of range is shown as given, not as a 301-digit integer.
    ("mapping: work 1e300", {0: [dict(work=1e300, page=1)]}, "operation 0: work 1e+300;"),
    ("mapping: page 1e300", {0: [dict(work=1, page=np.float64(1e300))]}, "page np.float64(1e+300)"),
    ("mapping: bool page", {0: [dict(work=1, page=False)]}, "page False (a bool)"),
    ("mapping: an unknown key", {0: [dict(work=1, page=1, colour=2)]}, "unknown column 'colour'"),
    ("mapping: a cpu key in a row", {0: [dict(cpu=0, work=1, page=1)]}, "unknown column 'cpu'"),
    ("mapping: a row that is a list", {0: [[1, 2]]}, "cpu 0, operation 0: the row is [1, 2]"),
    ("mapping: rows that are a string", {0: "rows"}, "cpu 0: its rows are 'rows'"),
    ("mapping: a key that is no CPU", {"a": []}, "the mapping has the key 'a'"),
    ("mapping: a bool key", {True: []}, "the mapping has the key True"),
    ("mapping: a key past 2^32", {2**32: []}, "the mapping has the key 4294967296"),
    ("neither", [1, 2], "ops: got list [1, 2]"),
]


@pytest.mark.parametrize(("what", "ops", "needle"), BAD_OPS, ids=[b[0] for b in BAD_OPS])
def test_bad_operation_lists_name_row_cpu_and_column(what: str, ops: Any, needle: str) -> None:
    e = _raises(lambda: to_columns(ops))
    assert e.field == ("ops" if what == "neither" else "replay") and needle in str(e), what


BAD_CSV = [
    ("cpu 2^32", "cpu,work,page\n4294967296,5,1\n", "line 2: cpu 4294967296"),
    ("page 2^64", "cpu,work,page\n0,5,1\n1,5,18446744073709551616\n", "line 3 (cpu 1): page"),
    ("a word", "cpu,work,page\n0,ten,1\n", "line 2 (cpu 0): work 'ten'"),
    ("a fraction", "cpu,work,page\n0,5.5,1\n", "line 2 (cpu 0): work 5.5"),
    ("an empty required cell", "cpu,work,page\n0,,1\n", "line 2 (cpu 0): column work has no"),
    ("a bool for page", "cpu,work,page\n0,5,true\n", "line 2 (cpu 0): page True (a bool)"),
    ("a held lock of 0", "cpu,work,page,irq_lock\n0,5,1,2\n", "line 2 (cpu 0): irq_hold is 0"),
    ("a long cell", "cpu,work,page\n0,5," + "9" * 5000 + "\n", "line 2 (cpu 0): page '9999"),
]


@pytest.mark.parametrize(("what", "text", "needle"), BAD_CSV, ids=[b[0] for b in BAD_CSV])
def test_bad_csv_cells_name_file_line_cpu_and_column(
    tmp_path: Path, what: str, text: str, needle: str
) -> None:
    path = _csv(tmp_path, text)
    e = _raises(lambda: read_ops(path))
    assert not isinstance(e, ScenarioFileError), "a bad value is not a bad file"
    assert e.field == "replay" and f"{path} {needle}" in str(e), what


GOOD_OPS: list[tuple[str, Any, dict[str, list[int]]]] = [
    (
        "a row without the optional columns",
        {0: [dict(work=1, page=0, irq_lock=0, irq_hold=5), dict(work=1, page=1)]},
        {"irq_lock": [0, -1], "irq_hold": [5, 0]},
    ),
    ("an empty list", {0: [dict(work=10, page=1)], 1: []}, {"cpu": [0]}),
    ("only empty lists", {0: [], 1: []}, {"cpu": []}),
    ("CPU keys as JSON gives them", {"1": [dict(work=3, page=2)]}, {"cpu": [1], "work": [3]}),
    ("whole floats", _frame(work=[5.0, 6.0]), {"work": [5, 6]}),
    (
        "NaN in an optional column",
        _frame(irq_lock=[np.nan, 1.0], irq_hold=[np.nan, 9.0]),
        {"irq_lock": [-1, 1], "irq_hold": [0, 9]},
    ),
    ("None in an optional cell", {0: [dict(work=1, page=1, switch=None)]}, {"switch": [0]}),
    ("uint64 in range", _frame(page=np.array([1, 2**32 - 1], np.uint64)), {"page": [1, 2**32 - 1]}),
    (
        "the largest values",
        _frame(work=[MAX_OP_CYCLES] * 2, irq_lock=[2**32 - 2, -1], irq_hold=[MAX_OP_CYCLES, 0]),
        {"work": [MAX_OP_CYCLES] * 2},
    ),
    (
        "bool flags",
        _frame(irqs_off=[True, False], switch=np.array([0, 1], np.int8)),
        {"irqs_off": [1, 0], "switch": [0, 1]},
    ),
    ("numpy scalars in rows", {0: [dict(work=np.int64(4), page=np.uint32(3))]}, {"work": [4]}),
]


@pytest.mark.parametrize(("what", "ops", "expected"), GOOD_OPS, ids=[g[0] for g in GOOD_OPS])
def test_accepted_operation_lists(what: str, ops: Any, expected: dict[str, list[int]]) -> None:
    columns = dict(zip(kmapsim.replay.OPS_COLUMNS, to_columns(ops), strict=True))
    for name, values in expected.items():
        assert [int(v) for v in columns[name]] == values, what


def test_csv_cells_left_empty_take_the_defaults(tmp_path: Path) -> None:
    path = _csv(tmp_path, "cpu,work,page,irq_lock,irq_hold,switch\n0,5,1,,,\n0,5.0,2,0,7,True\n")
    frame = read_ops(path)
    assert frame["irq_lock"].tolist() == [-1, 0] and frame["irq_hold"].tolist() == [0, 7]
    assert frame["work"].tolist() == [5, 5] and frame["switch"].tolist() == [0, 1]
    assert all(dtype == np.int64 for dtype in frame.dtypes)


def test_write_ops_reads_back(tmp_path: Path) -> None:
    ops = {0: [dict(work=5, page=1, switch=True)], 1: [dict(work=2**40, page=3, irq_lock=1)]}
    with pytest.raises(ScenarioError, match="cpu 1, operation 0: irq_hold is 0"):
        write_ops(ops, tmp_path / "x.csv")
    ops[1][0]["irq_hold"] = 3
    back = read_ops(write_ops(ops, tmp_path / "o.csv"))
    assert back.to_dict("list") == {
        "cpu": [0, 1],
        "work": [5, 2**40],
        "irq_lock": [-1, 1],
        "irq_hold": [0, 3],
        "page": [1, 3],
        "irqs_off": [0, 0],
        "switch": [1, 0],
    }


ROW_CAP: list[tuple[str, Callable[[Path], object], str]] = [
    ("a DataFrame", lambda t: to_columns(_frame(work=[1, 2]).iloc[[0, 1, 0, 1]]), "the DataFrame"),
    ("a mapping", lambda t: to_columns({0: [dict(work=1, page=1)] * 4}), "the mapping"),
    ("a CSV file", lambda t: read_ops(_csv(t, "cpu,work,page\n" + "0,1,1\n" * 4)), "line 5"),
]


@pytest.mark.parametrize(("what", "call", "needle"), ROW_CAP, ids=[r[0] for r in ROW_CAP])
def test_lists_over_the_row_limit_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str, call: Any, needle: str
) -> None:
    monkeypatch.setattr(kmapsim.replay, "MAX_OPS_ROWS", 3)
    e = _raises(lambda: call(tmp_path))
    assert f"{needle}: more than 3 operations" in str(e), what


RUNS = [
    ("a row missing optional columns", ONE_CPU, GOOD_OPS[0][1], 2),
    ("an idle CPU", TWO_CPUS, {0: [dict(work=10, page=1)], 1: []}, 1),
]


@pytest.mark.parametrize(("what", "sc", "ops", "kmaps"), RUNS, ids=[r[0] for r in RUNS])
def test_the_engine_runs_these_lists(what: str, sc: Scenario, ops: Any, kmaps: int) -> None:
    r = kmapsim.run(sc, cycles=10_000, replay=ops)
    assert r.counters["kmaps"] == kmaps, what


def test_a_page_past_32_bits_is_named_before_the_engine() -> None:
    e = _raises(lambda: kmapsim.run(TWO_CPUS, cycles=1000, replay={0: [dict(work=1, page=2**32)]}))
    assert "cpu 0, operation 0: page 4294967296" in str(e)


# -- 5. huge values are quoted short; empty field names -------------------------------------------


def _from_file_with_key(tmp: Path) -> object:
    path = tmp / "s.json"
    path.write_text('{"' + HUGE + '": 1}', encoding="utf-8")
    return Scenario.from_file(path)


def _json_with_repeated_key(tmp: Path) -> object:
    path = tmp / "s.json"
    path.write_text('{"' + HUGE + '": 1, "' + HUGE + '": 2}', encoding="utf-8")
    return Scenario.from_file(path)


HUGE_VALUES: list[tuple[str, Callable[[Path], object], str]] = [
    ("a choice", lambda t: Scenario(strategy=HUGE), "strategy: unknown value 'xxx"),
    ("a keyword", lambda t: LooseScenario(**{HUGE: 1}), "(10000000 chars): unknown field"),
    ("a from_dict key", lambda t: Scenario.from_dict({HUGE: 1}), "(10000000 chars)"),
    ("a replace key", lambda t: Scenario().replace(**{HUGE: 1}), "(10000000 chars)"),
    ("a preset name", lambda t: Scenario.preset(HUGE), "preset: unknown preset 'xxx"),
    ("a bytes value", lambda t: LooseScenario(cpus=HUGE.encode()), "(10000000 bytes)"),
    ("a long list", lambda t: LooseScenario(cpus=list(range(10**6))), "cpus: got a list [0, 1"),
    ("a huge integer", lambda t: Scenario(cpus=10**5000), "integer of about 5001 digits"),
    ("a file's key", _from_file_with_key, "(10000000 chars): unknown field"),
    ("a repeated JSON key", _json_with_repeated_key, "(10000000 chars) twice"),
    (
        "a file's preset",
        lambda t: Scenario.from_file(_csv(t, f'preset = "{HUGE}"', "s.toml")),
        "unknown preset 'xxx",
    ),
    ("a replay cell", lambda t: to_columns(_frame(work=[HUGE, 1])), "work 'xxx"),
    ("a replay key", lambda t: to_columns({0: [{HUGE: 1}]}), "unknown column 'xxx"),
    ("a replay CPU key", lambda t: to_columns(_loose({HUGE: []})), "the mapping has the key 'xxx"),
    ("a replay column", lambda t: to_columns(_frame(**{HUGE: [1, 2]})), "unknown columns ['xxx"),
]


@pytest.mark.parametrize(("what", "call", "needle"), HUGE_VALUES, ids=[h[0] for h in HUGE_VALUES])
def test_huge_values_are_quoted_short(
    tmp_path: Path, what: str, call: Callable[[Path], object], needle: str
) -> None:
    e = _raises(lambda: call(tmp_path))
    assert len(str(e)) < SHORT and needle in str(e), what


def _from_file_json(tmp: Path, text: str) -> object:
    path = tmp / "s.json"
    path.write_text(text, encoding="utf-8")
    return Scenario.from_file(path)


BAD_NAMES: list[tuple[str, Callable[[Path], object], object, str]] = [
    ("LooseScenario(**{'': 1})", lambda t: LooseScenario(**{"": 1}), "", "'': an empty field name"),
    ("from_dict empty", lambda t: Scenario.from_dict({"": 1}), "", "'': an empty field name"),
    ("replace empty", lambda t: Scenario().replace(**{"": 1}), "", "'': an empty field name"),
    ("blank", lambda t: Scenario.from_dict({" \t": 1}), " \t", "' \\t': a blank field name"),
    (
        "not a string",
        lambda t: Scenario.from_dict(_loose({3: 1})),
        "3",
        "3: field names are strings",
    ),
    (
        "None",
        lambda t: Scenario.from_dict(_loose({None: 1})),
        "None",
        "None: field names are strings",
    ),
    ("a control character", lambda t: Scenario.from_dict({"cp\nus": 1}), "cp\nus", "'cp\\nus'"),
    # A file's bad key is a fault of the file: ScenarioFileError, field "file".
    ("an empty key in a file", lambda t: _from_file_json(t, '{"": 4}'), "file", "an empty field"),
    ("an unknown keyword", lambda t: LooseScenario(cpuz=4), "cpuz", "did you mean 'cpus'?"),
]


@pytest.mark.parametrize(
    ("what", "call", "field", "needle"), BAD_NAMES, ids=[b[0] for b in BAD_NAMES]
)
def test_bad_field_names_are_named_with_the_allowed_ones(
    tmp_path: Path, what: str, call: Callable[[Path], object], field: object, needle: str
) -> None:
    e = _raises(lambda: call(tmp_path))
    assert e.field == field and needle in str(e), what
    assert "cpus" in e.allowed and "kmapsim fields" in e.allowed


QUOTES: list[tuple[object, str]] = [
    ("short", "'short'"),
    ("", "''"),
    ("x" * 100, "'" + "x" * 76 + "... (100 chars)"),
    (b"\0" * 100, "b'" + "\\x00" * 18 + "\\x0... (100 bytes)"),
    (12345, "12345"),
    (-(10**100), "<-integer of about 101 digits>"),
    (True, "True"),
    ([10**5000], "[<integer of about 5001 digits>]"),
    (np.arange(3), "array([0, 1, 2])"),
]


@pytest.mark.parametrize(("value", "shown"), QUOTES, ids=[str(i) for i in range(len(QUOTES))])
def test_quote(value: object, shown: str) -> None:
    assert quote(value) == shown


def test_quote_survives_deep_nesting_and_broken_reprs() -> None:
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert quote(deep) == "[[[[...]]]]"
    assert quote(Broken()).startswith("<") and len(quote("y" * 10**6, 10)) < 40


# -- 6. numpy scalars as scenario values ----------------------------------------------------------

NUMPY_OK: list[tuple[str, object, object]] = [
    ("cpus", np.int64(3), 3),
    ("cpus", np.uint8(3), 3),
    ("cpu_mhz", np.int32(700), 700.0),
    ("cpu_mhz", np.float64(650.5), 650.5),
    ("shared_page_prob", np.float32(0.5), 0.5),
    ("strategy", np.str_("lazy"), "lazy"),
]


@pytest.mark.parametrize(("field", "value", "stored"), NUMPY_OK, ids=[repr(n[1]) for n in NUMPY_OK])
def test_numpy_scalars_become_plain_values(field: str, value: object, stored: object) -> None:
    sc = LooseScenario(**{field: value})
    got = getattr(sc, field)
    assert got == stored and type(got) is type(stored)
    assert Scenario.from_dict(sc.to_dict()) == sc


NUMPY_BAD: list[tuple[str, object, str]] = [
    ("cpus", np.bool_(True), "got a bool"),
    ("cpus", np.float64(3.0), "got a float"),
    ("cpus", np.uint64(2**64 - 1), "18446744073709551615 is out of range"),
    ("cpu_mhz", np.float64("nan"), "nan is out of range"),
    ("cpu_mhz", np.bool_(False), "got a bool"),
    ("strategy", np.int64(1), "got an integer"),
    ("cpus", np.array([3]), "got a numpy array array([3]) of shape (1,)"),
    ("cpus", np.zeros((2, 2)), "of shape (2, 2) (one number is wanted)"),
]


@pytest.mark.parametrize(
    ("field", "value", "needle"), NUMPY_BAD, ids=[repr(n[1]) for n in NUMPY_BAD]
)
def test_bad_numpy_scalars_are_named(field: str, value: object, needle: str) -> None:
    e = _raises(lambda: LooseScenario(**{field: value}))
    assert e.field == field and needle in str(e)
