"""More hostile input, one table per fault: a path argument that is no path, an output path
that is not a regular file (a FIFO), empty or repeated grid values, and replay values only the
scenario can judge (cpu, page, irq_lock), which must name the CSV file and line."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest

import kmapsim
from kmapsim import Scenario, ScenarioError, ScenarioFileError
from kmapsim.cli import STUDY_FILES, main
from kmapsim.fileio import file_format, read_document, read_file_bytes
from kmapsim.replay import read_ops, write_ops
from kmapsim.study import REGIMES

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


def _raise(call: Callable[[], object]) -> BaseException:
    with pytest.raises(Exception) as info:
        call()
    assert "\n" not in str(info.value)
    return info.value


# -- 1. a path argument that is no path --------------------------------------------------------

NOT_PATHS: list[object] = [None, 5, np.int64(0), 1.5, ["x.toml"], {"x": 1}, object()]
READERS: list[tuple[str, Callable[[Any], object], str]] = [
    ("Scenario.from_file", Scenario.from_file, "file"),
    ("read_ops", read_ops, "replay"),
    ("write_ops", lambda p: write_ops({0: []}, p), "replay"),
    ("read_document", read_document, "file"),
    ("read_file_bytes", lambda p: read_file_bytes(p, limit=10), "file"),
    ("file_format", file_format, "file"),
]


@pytest.mark.parametrize("value", NOT_PATHS, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize(("name", "call", "field"), READERS, ids=[r[0] for r in READERS])
def test_a_path_that_is_no_path(
    name: str, call: Callable[[Any], object], field: str, value: object
) -> None:
    e = _raise(lambda: call(value))
    assert type(e) is ScenarioFileError, (name, repr(e))
    assert e.field == field and e.path == "" and "not a path" in str(e)
    assert "str or os.PathLike" in e.allowed and type(value).__name__ in str(e)


BYTES_PATHS: list[tuple[str, str, Callable[[Any], object]]] = [
    ("s.toml", "cpus = 3\n", lambda p: Scenario.from_file(p).cpus == 3),
    ("o.csv", "cpu,work,page\n0,5,1\n", lambda p: len(read_ops(p)) == 1),
    ("d.json", '{"cpus": 3}', lambda p: read_document(p) == {"cpus": 3}),
]


@pytest.mark.parametrize(("name", "text", "check"), BYTES_PATHS, ids=[b[0] for b in BYTES_PATHS])
def test_a_bytes_path_is_decoded(
    tmp_path: Path, name: str, text: str, check: Callable[[Any], bool]
) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert check(os.fsencode(path))


def test_run_with_a_bytes_replay_path(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("cpu,work,page\n0,5,1\n")
    r = kmapsim.run(Scenario(cpus=1), cycles=1000, replay=os.fsencode(path))
    assert r.cycles == 1000


# -- 2. an output path that is not a regular file ----------------------------------------------

OUTPUTS: list[tuple[str, list[str], str]] = [
    ("f.csv", ["sweep", "--grid", "cpus=1,2", "--cycles", "1000", "--out", "{}"], "--out"),
    ("f.toml", ["run", "--cycles", "1000", "--save-scenario", "{}"], "--save-scenario"),
    ("f.json", ["trace", "--cycles", "1000", "-o", "{}"], "--out"),
    ("d/scaling.png", ["sweep", "--grid", "cpus=1,2", "--cycles", "1000", "--plots", "d"], ""),
    ("d/stale.png", ["study", "--out", "d", "--cycles", "1000", "--cpus", "1"], ""),
]


@needs_fifo
@pytest.mark.parametrize(("name", "argv", "option"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_an_output_fifo_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    argv: list[str],
    option: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    os.mkfifo(name)
    code = main([a.format(name) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "is a FIFO (named pipe), not a regular file" in err and option in err
    assert Path(name).is_fifo()  # still there, untouched


def test_study_files_are_what_the_study_writes() -> None:
    for name in ("study.sqlite", "study.parquet", "study.csv", "stale.png", "scaling.png"):
        assert name in STUDY_FILES
    for regime in REGIMES:
        assert f"cycles_{regime.name}.png" in STUDY_FILES


def test_study_help_names_the_regimes_and_both_questions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["study", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("safe", "kmap_lock contention", "IPI latency", "stale.png", "cycles_safety"):
        assert words in text, words
    for regime in REGIMES:
        assert regime.name in text


# -- 3. empty and repeated grid values ---------------------------------------------------------

CLI_GRIDS: list[tuple[str, str]] = [
    ("cpus=1,,2", "cpus: value 2 of 3"),
    ("cpus=1,2,", "cpus: value 3 of 3"),
    ("cpus=,1", "cpus: value 1 of 2"),
    ("strategy=sync, ,lazy", "strategy: value 2 of 3"),
    ("strategy=sync,sync", "strategy: the value 'sync' is listed twice (positions 0 and 1)"),
    ("cpus=1,2,1", "cpus: the value 1 is listed twice (positions 0 and 2)"),
    ("tlb_evict_rate=0,0.0", "tlb_evict_rate: the value 0.0 (given as 0 and 0.0) is listed"),
]


@pytest.mark.parametrize(("grid", "needle"), CLI_GRIDS, ids=[g[0] for g in CLI_GRIDS])
def test_a_bad_grid_value_on_the_command_line(
    capsys: pytest.CaptureFixture[str], grid: str, needle: str
) -> None:
    code = main(["sweep", "--grid", grid, "--cycles", "1000", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err


API_GRIDS: list[tuple[dict[str, list[Any]], str, str]] = [
    ({"strategy": ["sync", "sync"]}, "strategy", "'sync'"),
    ({"cpus": [8, np.int64(8)]}, "cpus", "8"),
    ({"tlb_evict_rate": [0.5, 0, 0.0]}, "tlb_evict_rate", "0.0"),
    ({"cpus": [1, 2], "pages": [300, 300]}, "pages", "300"),
]


@pytest.mark.parametrize(("grid", "field", "value"), API_GRIDS, ids=[a[1] for a in API_GRIDS])
def test_a_repeated_grid_value_in_the_api(
    grid: dict[str, list[Any]], field: str, value: str
) -> None:
    e = _raise(lambda: kmapsim.sweep(Scenario(), grid=grid, cycles=1000, progress=False))
    assert type(e) is ScenarioError and e.field == field
    assert f"the value {value}" in str(e) and "listed twice" in str(e)
    assert e.allowed == "each value once"


# -- 4. replay values the scenario judges --------------------------------------------------------

SC = Scenario(cpus=2, pages=64, hot_pages=4)
CSV_CASES: list[tuple[str, str]] = [
    ("cpu,work,page\n0,5,1\n# c\n9,5,1\n", "line 4 (cpu 9): cpu 9; allowed: a CPU below cpus = 2"),
    ("cpu,work,page\n1,5,64\n", "line 2 (cpu 1): page 64; allowed: a page below pages = 64"),
    (
        "cpu,work,page,irq_lock,irq_hold\n0,5,1,-1,0\n1,5,1,4,9\n",
        "line 3 (cpu 1): irq_lock 4; allowed: -1 (none) or a lock below irq_locks = 4",
    ),
    ("cpu,work,page\n0,5,99\n5,5,1\n", "line 2 (cpu 0): page 99"),  # the first bad row
    ("cpu,work,page\n7,5,99\n", "line 2 (cpu 7): cpu 7"),  # in a row, cpu first
]


@pytest.mark.parametrize(("text", "needle"), CSV_CASES)
def test_a_scenario_limit_names_the_csv_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "ops.csv"
    path.write_text(text)
    e = _raise(lambda: kmapsim.run(SC, cycles=1000, replay=path))
    assert type(e) is ScenarioError and e.field == "replay"
    assert f"replay: {path} {needle}" in str(e), str(e)


FORM_CASES: list[tuple[object, str]] = [
    (
        pd.DataFrame({"cpu": [0, 3], "work": [5, 5], "page": [1, 1]}),
        "row 1 (cpu 3, operation 0): cpu 3",
    ),
    ({0: [{"work": 5, "page": 1}, {"work": 5, "page": 70}]}, "cpu 0, operation 1: page 70"),
    ({1: [{"work": 5, "page": 1, "irq_lock": 6, "irq_hold": 1}]}, "cpu 1, operation 0: irq_lock 6"),
]


@pytest.mark.parametrize(("ops", "needle"), FORM_CASES, ids=["frame", "mapping", "irq_lock"])
def test_a_scenario_limit_names_the_row(ops: object, needle: str) -> None:
    e = _raise(lambda: kmapsim.run(SC, cycles=1000, replay=cast(Any, ops)))
    assert type(e) is ScenarioError and e.field == "replay" and needle in str(e), str(e)


def test_values_within_the_limits_still_run(tmp_path: Path) -> None:
    path = tmp_path / "ops.csv"
    path.write_text("cpu,work,page,irq_lock,irq_hold\n0,5,63,3,2\n1,5,0,-1,0\n")
    assert kmapsim.run(SC, cycles=1000, replay=path).cycles == 1000


def test_writers_refuse_a_path_that_is_no_path(tmp_path: Path) -> None:
    import kmapsim

    result = kmapsim.sweep(kmapsim.Scenario(cpus=1), cycles=1000, progress=False)
    for write in (kmapsim.Scenario().to_file, result.to_parquet, result.to_csv):
        with pytest.raises(kmapsim.ScenarioFileError, match="not a path"):
            write(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("option", [["--cpus", "1,,2"], ["--strategies", "sync,,lazy"],
                                    ["--cpus", "1,2,"]])  # fmt: skip
def test_study_lists_with_an_empty_value_are_refused(
    option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kmapsim import cli

    status = cli.main(["study", *option, "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert status == 2 and "is empty" in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("ops", [3, "ops.csv", b"x", None, [1, 2]], ids=repr)
def test_write_ops_and_to_columns_name_ops_and_only_what_they_take(ops: object) -> None:
    from kmapsim.errors import ScenarioTypeError
    from kmapsim.replay import to_columns

    for call in (lambda: write_ops(ops, "ops.csv"), lambda: to_columns(ops)):  # type: ignore[arg-type]
        with pytest.raises(ScenarioTypeError, match=r"^ops: got ") as e:
            call()
        assert "path" not in e.value.allowed and "DataFrame" in e.value.allowed


def test_run_names_replay_and_allows_a_path() -> None:
    from kmapsim.errors import ScenarioTypeError

    with pytest.raises(ScenarioTypeError, match=r"^replay: got int 3") as e:
        kmapsim.run(kmapsim.Scenario(cpus=2), cycles=1000, replay=3)
    assert "the path of a CSV file" in e.value.allowed


def test_a_call_list_of_another_type_is_a_type_error_naming_replay_calls() -> None:
    from kmapsim.errors import ScenarioTypeError

    with pytest.raises(ScenarioTypeError, match=r"^replay_calls: got int 3"):
        kmapsim.run(kmapsim.Scenario(cpus=2), cycles=1000, replay_calls=3)


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("100.0000000000000001", "work '100.0000000000000001'"),
        ("1e999999999", "work '1e999999999'"),
        ("1e-99999999999999999999999999999999", "work '1e-99999999999999999999999999999999'"),
        ("5e-400", "work '5e-400'"),
        ("2.5", "work 2.5"),
    ],
)
def test_an_operation_cell_is_whole_by_its_text_not_its_float(
    tmp_path: Path, cell: str, shown: str
) -> None:
    """float() makes 100.0000000000000001 100.0, 1e999999999 inf and 5e-400 0.0; decimal
    cannot hold the exponent of the third: none may pass, hang or crash."""
    path = tmp_path / "ops.csv"
    path.write_text(f"cpu,work,page\n0,{cell},1\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        kmapsim.replay.read_ops(path)
    assert shown in str(e.value), str(e.value)
    zero = "0e-99999999999999999999999999999999"  # an exponent decimal cannot hold
    path.write_text(f"cpu,work,page\n0,1.5e2,0e999999999\n0,.5e1,{zero}\n", encoding="utf-8")
    ops = kmapsim.replay.read_ops(path)
    assert ops["work"].tolist() == [150, 5] and ops["page"].tolist() == [0, 0]
