"""Hostile input to the command line: it never shows a traceback, checks everything before it
runs, and exits with the documented status (`kmapsim.cli.EXIT_STATUS`).

Every subcommand, listed from the argparse parser (so a new one is covered without touching this
file), gets every kind of bad argument its options can take: an unknown option, values of the
wrong type or out of range, missing files, a directory where a file belongs, an output in a
missing directory, a store made of garbage bytes, ``--grid`` and ``--set`` with unknown or empty
field names and huge values. Each must exit 2 with one error line, print nothing on stdout and
start no run. Most run in-process through `kmapsim.cli.main`; a few run as users run them, in
a subprocess.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_process import kmapsim_cli

import kmapsim.store
import kmapsim.study
from kmapsim import DeadlockError, InternalError, KernelBug, WallClockExceeded, cli
from kmapsim.sweep import SweepResult
from kmapsim.sweep import sweep as real_sweep

HUGE = "9" * 100_000
GARBAGE = bytes(range(256)) * 64

#: Valid arguments that let each subcommand reach its checks without running much: the bad
#: argument of a case comes after them (argparse keeps the last value of an option).
BASE: dict[str, list[str]] = {
    "run": ["--cycles", "1000"],
    "trace": ["--cycles", "1000", "-o", "{tmp}/trace.json"],
    "sweep": ["--cycles", "1000", "--no-progress", "--serial"],
    "study": [
        "--cpus", "1", "--strategies", "sync", "--seeds", "1", "--cycles", "1000",
        "--out", "{tmp}/study", "--no-progress", "--serial",
    ],
}  # fmt: skip

#: Options whose value is a path, by what the path is: an input file, an output file, an output
#: directory or a store. ``--out`` is a directory where its metavar says so.
INPUTS = {"scenario": ".toml", "grid_file": ".toml", "replay": ".csv"}
OUTPUT_FILES = {"save_scenario": ".toml", "out": ".json"}
STORES = {"store"}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    return cli._subparsers(cli.build_parser())


def _options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if a.option_strings and a.dest not in ("help", "version")]


def _bad_values(action: argparse.Action, command: str) -> list[str]:
    """Values that no option of this kind accepts."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return []  # given a value below, as --flag=1
    if action.choices is not None:
        return ["bogus", ""]
    if action.type is cli._count:
        return ["lots", "1.5", "-1", "1e400", "9" * 30, "9" * 5000]
    if action.type is cli._int_list:
        return ["1,lots", ",", "1,-1", "1,1.5", "1," + "9" * 30]
    if action.type is cli._name_list:
        return [",", "sync,nope", "x" * 10_000]
    dest = action.dest
    if dest == "set":
        return ["=3", " =3", "nope=1", "cpus", "cpus=nan", "cpus=" + HUGE, "x" * 100_000 + "=1"]
    if dest == "grid":
        return ["=1,2", "nope=1,2", "cpus", "cpus=", "cpus=1,1e400", "cpus=" + HUGE]
    if dest in INPUTS:
        suffix = INPUTS[dest]
        return ["{tmp}/missing" + suffix, "{tmp}/adir", "{tmp}/garbage" + suffix, ""]
    if dest in STORES:
        return ["{tmp}/garbage.sqlite", "{tmp}/adir", "{tmp}/nodir/s.sqlite"]
    if action.metavar == "DIR":
        return ["{tmp}/afile.txt", "{tmp}/nodir/sub", "{tmp}/adir/afile.txt", ""]
    if dest in OUTPUT_FILES:
        suffix = ".parquet" if command == "sweep" else OUTPUT_FILES[dest]
        return ["{tmp}/adir", "{tmp}/nodir/x" + suffix, "{tmp}/x.xlsx", "", "{tmp}/afile.txt/x"]
    # Any other option takes a name (a preset, a strategy): these name nothing.
    return ["", "nope", "x" * 100_000]


def bad_cases() -> Iterator[Any]:
    for command, parser in subcommands().items():
        yield pytest.param(command, ["--no-such-option"], id=f"{command} --no-such-option")
        yield pytest.param(command, ["stray"], id=f"{command} stray")
        yield pytest.param(command, ["--cycles\0"], id=f"{command} NUL")
        for action in _options(parser):
            flag = action.option_strings[-1]
            if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
                yield pytest.param(command, [f"{flag}=1"], id=f"{command} {flag}=1")
                continue
            yield pytest.param(command, [flag], id=f"{command} {flag} (no value)")
            for value in _bad_values(action, command):
                yield pytest.param(command, [flag, value], id=f"{command} {flag} {_short(value)}")


def _short(value: str) -> str:
    shown = value.replace("{tmp}/", "")
    return repr(shown) if len(shown) <= 24 else f"{shown[:10]!r}...({len(shown)} chars)"


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A directory of things that are not what an option wants."""
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile.txt").write_text("not a directory\n")
    (tmp_path / "adir" / "afile.txt").write_text("a file in place of a directory\n")
    for suffix in (".toml", ".json", ".csv", ".sqlite"):
        (tmp_path / f"garbage{suffix}").write_bytes(GARBAGE)
    return tmp_path


@pytest.fixture(autouse=True)
def no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)


class _NoRuns(cf.Executor):
    """An executor that records the runs a sweep submits, and fails them."""

    def __init__(self, started: list[str]) -> None:
        self.started = started

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        self.started.append(f"a run of {args[0].get('cpus')} cpus")
        raise RuntimeError("a run started")


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every run a sweep or study starts (and fails it). The sweep itself is real: it
    checks its arguments and opens its store as it would, up to the first run."""
    started: list[str] = []

    def sweep(base: Any, **kwargs: Any) -> Any:
        return real_sweep(base, **{**kwargs, "executor": _NoRuns(started)})

    monkeypatch.setattr(cli, "sweep", sweep)
    monkeypatch.setattr(kmapsim.study, "sweep", sweep)
    return started


def call(
    capsys: pytest.CaptureFixture[str], *argv: str, tmp: Path | None = None
) -> tuple[int, str, str]:
    """``cli.main(argv)`` in-process, with ``{tmp}`` in arguments replaced: status, out, err."""
    args = [a.replace("{tmp}", str(tmp)) for a in argv] if tmp is not None else list(argv)
    status = cli.main(args)
    out, err = capsys.readouterr()
    return status, out, err


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


def assert_one_error_line(err: str) -> str:
    """The error line: argparse prints its usage first, kmapsim errors only the line."""
    lines = err.strip().splitlines()
    assert lines, "no error message"
    last = lines[-1]
    assert last.startswith("kmapsim") and "error: " in last, err
    if not lines[0].startswith("usage:"):
        assert len(lines) == 1, err
    assert len(last) < cli.MAX_MESSAGE + 200, len(last)
    return last


# -- every subcommand, every kind of bad argument -------------------------------------------------


def test_every_subcommand_is_covered() -> None:
    names = set(subcommands())
    assert {"run", "study", "sweep", "trace", "presets", "strategies", "fields"} <= names
    for command, parser in subcommands().items():
        required = [a.dest for a in _options(parser) if a.required]
        if required:
            assert command in BASE, f"add valid arguments for `kmapsim {command}` to BASE"


@pytest.mark.parametrize(("command", "bad"), list(bad_cases()))
def test_bad_arguments_exit_2_before_running(
    command: str,
    bad: list[str],
    hostile: Path,
    runs: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = call(capsys, command, *BASE.get(command, []), *bad, tmp=hostile)
    assert_no_traceback(out, err)
    assert status == cli.EXIT_BAD_INPUT, (status, err)
    assert_one_error_line(err)
    assert out == ""
    assert runs == []
    # Nothing was written: no output, no store, no study directory, no temporary file.
    assert sorted(p.name for p in hostile.iterdir()) == sorted(
        ["adir", "afile.txt", *(f"garbage{s}" for s in (".toml", ".json", ".csv", ".sqlite"))]
    )


@pytest.mark.parametrize("command", list(subcommands()))
def test_help_documents_every_exit_status(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([command, "--help"], ["--help"]):
        status, out, err = call(capsys, *argv)
        assert status == 0 and err == ""
        table = out[out.index("exit status:") :]
        for code, meaning in cli.EXIT_STATUS.items():
            assert f"  {code} " in table and meaning in " ".join(table.split())


def test_the_module_doc_documents_every_exit_status() -> None:
    doc = cli.__doc__ or ""
    for code in cli.EXIT_STATUS:
        assert f"- {code}: " in doc


def test_main_returns_instead_of_exiting(capsys: pytest.CaptureFixture[str]) -> None:
    assert call(capsys, "--version")[0] == 0
    assert call(capsys)[0] == cli.EXIT_BAD_INPUT  # no command
    assert call(capsys, "--no-such-option")[0] == cli.EXIT_BAD_INPUT


# -- the reproducers of the review ----------------------------------------------------------------


def test_sweep_into_a_missing_directory_runs_nothing(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    p = kmapsim_cli(
        "sweep", "--cycles", "1000", "--no-progress", "--serial", "--grid", "cpus=1,2",
        "--store", str(store), "--out", str(tmp_path / "nodir" / "x.csv"),
    )  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert_no_traceback(p.stdout, p.stderr)
    assert "--out" in assert_one_error_line(p.stderr) and "does not exist" in p.stderr
    assert p.stdout == "" and not store.exists()


def test_a_trace_without_events_is_one_line_and_no_file(tmp_path: Path) -> None:
    exe = shutil.which("kmapsim")
    out = tmp_path / "t.json"
    argv = ["trace", "--cycles", "1000", "-o", str(out)]
    p = (
        subprocess.run([exe, *argv], capture_output=True, text=True, timeout=300, check=False)
        if exe
        else kmapsim_cli(*argv)
    )
    assert p.returncode == 2, p.stderr
    assert_no_traceback(p.stdout, p.stderr)
    line = assert_one_error_line(p.stderr)
    assert "no trace event" in line and "--cycles" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    [GARBAGE, b"SQLite format 3\x00" + GARBAGE, b""],
    ids=["garbage", "damaged-header", "empty"],
)
def test_a_garbage_store_is_one_store_error_line(tmp_path: Path, content: bytes) -> None:
    store = tmp_path / "s.sqlite"
    store.write_bytes(content)
    p = subprocess.run(
        [sys.executable, "-m", "kmapsim.cli", "sweep", "--cycles", "1000", "--no-progress",
         "--serial", "--store", str(store)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert_no_traceback(p.stdout, p.stderr)
    if content:
        assert p.returncode == 2, p.stderr
        assert str(store) in assert_one_error_line(p.stderr)
        assert p.stdout == ""
    else:  # an empty file is a new store
        assert p.returncode == 0, p.stderr


def _filled_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, list[str]]:
    store = tmp_path / "s.sqlite"
    argv = ["sweep", "--cycles", "1000", "--no-progress", "--serial", "--store", str(store)]
    assert call(capsys, *argv)[0] == 0
    return store, argv


@pytest.mark.filterwarnings("default::UserWarning")
@pytest.mark.parametrize("row", ["{damaged", 5, "[1, 2]"], ids=["json", "integer", "a-list"])
def test_a_damaged_row_in_the_store_is_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: object
) -> None:
    """A row edited or damaged in the file: run again with a warning, or refused as bad input,
    as the store decides; one line either way."""
    store, argv = _filled_store(tmp_path, capsys)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET row = ?", (row,))
    db.close()
    status, out, err = call(capsys, *argv)
    assert_no_traceback(out, err)
    assert status in (0, cli.EXIT_BAD_INPUT), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(store) in lines[0], err
    assert lines[0].startswith("kmapsim: warning: " if status == 0 else "kmapsim: error: ")


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("database or disk is full"),
        sqlite3.OperationalError("attempt to write a readonly database"),
    ],
)
def test_a_store_failing_during_the_sweep_is_bad_input(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    def put(*args: object) -> None:
        raise error

    monkeypatch.setattr(kmapsim.store.Store, "put", put)
    store = tmp_path / "s.sqlite"
    status, out, err = call(
        capsys, "sweep", "--cycles", "1000", "--no-progress", "--serial", "--store", str(store)
    )
    assert_no_traceback(out, err)
    assert status == cli.EXIT_BAD_INPUT
    line = assert_one_error_line(err)
    assert str(store) in line and str(error) in line


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_store_or_directory_fails_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: list[str]
) -> None:
    store, argv = _filled_store(tmp_path, capsys)
    argv = [*argv, "--grid", "cpus=1,2"]  # a run the store lacks
    store.chmod(0o444)
    status, _, err = call(capsys, *argv)
    assert status == cli.EXIT_BAD_INPUT, err
    assert str(store) in assert_one_error_line(err)
    store.chmod(0o644)
    tmp_path.chmod(0o555)
    try:
        for extra in ([], ["--out", str(tmp_path / "x.csv")]):
            status, _, err = call(capsys, *argv, *extra)
            assert status == cli.EXIT_BAD_INPUT, err
            assert_one_error_line(err)
    finally:
        tmp_path.chmod(0o755)
    assert runs == []


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's /sys")
def test_an_unwritable_directory_fails_before_running(
    capsys: pytest.CaptureFixture[str], runs: list[str]
) -> None:
    # Nobody, not even root, creates files in /sys.
    for argv in (
        ["sweep", "--cycles", "1000", "--out", "/sys/kmapsim.csv"],
        ["sweep", "--cycles", "1000", "--plots", "/sys/kmapsim-plots"],
        ["study", "--cycles", "1000", "--out", "/sys/kmapsim-study"],
        ["trace", "--cycles", "1000", "-o", "/sys/kmapsim.json"],
        ["run", "--cycles", "1000", "--save-scenario", "/sys/kmapsim.toml"],
    ):
        status, _, err = call(capsys, *argv)
        assert status == cli.EXIT_BAD_INPUT, (argv, err)
        assert "cannot write in /sys" in assert_one_error_line(err)
    assert runs == []


def test_a_full_disk_on_output_is_one_line_and_leaves_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: SweepResult, path: str | os.PathLike[str]) -> Path:
        Path(path).write_text("half a tab")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(SweepResult, "to_csv", full)
    out = tmp_path / "t.csv"
    out.write_text("the previous table\n")
    status, stdout, err = call(
        capsys, "sweep", "--cycles", "1000", "--no-progress", "--serial", "--out", str(out)
    )
    assert_no_traceback(stdout, err)
    assert status == cli.EXIT_BAD_INPUT
    line = assert_one_error_line(err)
    assert "--out" in line and str(out) in line and os.strerror(errno.ENOSPC) in line
    # The old table is intact and no temporary file is left.
    assert out.read_text() == "the previous table\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_a_trace_write_failure_leaves_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import kmapsim.perfetto

    def denied(result: object, path: str | os.PathLike[str]) -> Path:
        Path(path).write_text('{"traceEvents":[')
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(kmapsim.perfetto, "write", denied)
    out = tmp_path / "t.json"
    status, _, err = call(capsys, "trace", "--cycles", "100_000", "-o", str(out))
    assert status == cli.EXIT_BAD_INPUT
    assert_no_traceback(err)
    assert str(out) in assert_one_error_line(err)
    assert list(tmp_path.iterdir()) == []


def test_trace_and_save_scenario_outputs_are_checked_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(cli, "run", lambda *a, **k: started.append(a))
    for argv in (
        ["trace", "--cycles", "1000", "-o", str(tmp_path / "nodir" / "t.json")],
        ["trace", "--cycles", "1000", "-o", str(tmp_path / "t.txt")],
        ["run", "--cycles", "1000", "--save-scenario", str(tmp_path / "nodir" / "s.toml")],
    ):
        status, _, err = call(capsys, *argv)
        assert status == cli.EXIT_BAD_INPUT, err
        assert_one_error_line(err)
    assert started == []


def test_study_checks_everything_before_creating_its_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: list[str]
) -> None:
    out = tmp_path / "study"
    for bad in (
        ["--seeds", "0"],
        ["--cycles", "0"],
        ["--cpus", "1,5000"],
        ["--strategies", "sync,nope"],
        ["--seeds", "1e12"],
        ["--preset", "nope"],
    ):
        status, _, err = call(capsys, "study", *BASE["study"], *bad, tmp=tmp_path)
        assert status == cli.EXIT_BAD_INPUT, (bad, err)
        assert_one_error_line(err)
    assert not out.exists() and runs == []
    # A store in the way, in an existing directory: opened before the study starts.
    out.mkdir()
    (out / "study.sqlite").write_bytes(GARBAGE)
    status, _, err = call(capsys, "study", *BASE["study"], tmp=tmp_path)
    assert status == cli.EXIT_BAD_INPUT and "study.sqlite" in err and runs == []
    (out / "study.sqlite").unlink()
    (out / "study.csv").mkdir()
    status, _, err = call(capsys, "study", *BASE["study"], tmp=tmp_path)
    assert status == cli.EXIT_BAD_INPUT and "study.csv" in err and runs == []


@pytest.mark.parametrize(
    ("grid_file", "needle"),
    [
        ("[grid]\ncpus = [1]\n[run]\nseeds = 1_000_000_000_000_000_000\n", "runs"),
        ("[run]\ncycles = 1e400\n", "cycles"),
        ("[run]\ncycles = 0\n", "cycles"),
        ("[grid]\ncpus = []\n", "non-empty"),
        ("[grid]\ncpus = 4\n", "non-empty"),
        # No float for an integer, even a whole one (docs/model.md, section 11).
        ("[run]\nseeds = 2.0\n", "seeds: got 2.0"),
        ("[run]\ncycles = 1e3\n", "cycles"),
        ("[grid]\ncpus = [2.0]\n", "cpus: got a float 2.0, not an integer"),
        ("[base]\ncpus = 8.0\n", "cpus: got a float 8.0, not an integer"),
    ],
)
def test_grid_file_sizes_are_checked_before_running(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    runs: list[str],
    grid_file: str,
    needle: str,
) -> None:
    toml = tmp_path / "grid.toml"
    toml.write_text(grid_file)
    status, _, err = call(capsys, "sweep", "--grid-file", str(toml), "--no-progress")
    assert status == cli.EXIT_BAD_INPUT, err
    assert needle in assert_one_error_line(err)
    assert runs == []


# -- integers: given as integers, read exactly, quoted as typed ----------------------------------


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (
            ["run", "--seed", "9007199254740993.0"],
            ["'9007199254740993.0'", "9_007_199_254_740_993"],
        ),
        (["run", "--seed", "18446744073709551615.0"], ["'18446744073709551615.0'", "integer"]),
        (["check", "--pct", "1", "--seed", "18446744073709551616"], ["18,446,744,073,709,551,616"]),
        (["run", "--cycles", "2e7"], ["'2e7'", "write 20_000_000"]),
        (["run", "--cpus", "8.0"], ["'8.0'", "not an integer"]),
        (["run", "--set", "cpus=8.0"], ["cpus: got '8.0', which is not an integer"]),
        (["run", "--set", "tasks=9007199254740993.0"], ["tasks: got '9007199254740993.0'"]),
        (["sweep", "--grid", "cpus=2,8.0"], ["cpus: got '8.0', which is not an integer"]),
        (["study", "--cpus", "2,4.0"], ["'4.0'", "not an integer"]),
        (["check", "--pct", "1e3"], ["'1e3'", "write 1_000"]),
    ],
)
def test_integers_are_read_exactly_and_quoted_as_typed(
    capsys: pytest.CaptureFixture[str], runs: list[str], argv: list[str], needles: list[str]
) -> None:
    """No float round trip: a float is refused (saying which integer to write, computed
    exactly) and the error quotes what was typed, never a number it was rounded to."""
    status, _, err = (
        call(capsys, *argv, "--cycles", "1000") if argv[0] != "check" else call(capsys, *argv)
    )
    assert status == cli.EXIT_BAD_INPUT, err
    line = assert_one_error_line(err)
    for needle in needles:
        assert needle in line, line
    assert "9007199254740992" not in line and "1.8446744073709552e+19" not in line
    assert runs == []


def test_a_seed_past_2_53_is_used_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = call(
        capsys, "run", "--cycles", "1000", "--seed", "9_007_199_254_740_993", "--json"
    )
    assert status == 0, err
    assert json.loads(out)["seed"] == 9_007_199_254_740_993


def test_huge_values_give_a_bounded_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["run", "--cycles", "1000", "--set", "strategy=" + "x" * 1_000_000],
        ["run", "--cycles", "1000", "--set", "x" * 1_000_000 + "=1"],
        ["run", "--cycles", "1000", "--mode", "x" * 1_000_000],
        ["sweep", "--cycles", "1000", "--grid", "strategy=" + "x" * 1_000_000],
    ):
        status, _, err = call(capsys, *argv)
        assert status == cli.EXIT_BAD_INPUT
        assert len(assert_one_error_line(err)) < cli.MAX_MESSAGE + 200


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--set", "cpus=" + "9" * 5000],
        ["run", "--cycles", "9" * 5000],
        ["sweep", "--grid", "cpus=1," + "9" * 5000],
        ["study", "--cpus", "1," + "9" * 5000],
    ],
)
def test_an_integer_too_long_to_convert_is_out_of_range(
    argv: list[str], capsys: pytest.CaptureFixture[str], runs: list[str]
) -> None:
    status, _, err = call(capsys, *argv)
    assert status == cli.EXIT_BAD_INPUT
    line = assert_one_error_line(err)
    assert "out of range" in line and "(5000 chars)" in line, line


# -- exit status by exception ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "needle"),
    [
        (DeadlockError("deadlock at cycle 9\n  cpu0: waits", 9, [0], []), 3, "deadlock"),
        (KernelBug("kernel BUG at cycle 5 on cpu1: count 0", 5, 1), 3, "kernel BUG"),
        (WallClockExceeded("run stopped after 1.0 s", 10, 1.0), 4, "stopped"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (MemoryError(), 2, "out of memory"),
        (OSError(errno.ENOSPC, "No space left on device"), 2, "No space left"),
        (PermissionError(errno.EACCES, "Permission denied", "/x"), 2, "Permission denied"),
    ],
)
def test_exit_status_by_exception(
    error: BaseException,
    status: int,
    needle: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(cli, "run", failing)
    got, out, err = call(capsys, "run", "--cycles", "1000")
    assert got == status, err
    assert_no_traceback(out, err)
    assert needle in assert_one_error_line(err)
    assert cli.EXIT_STATUS[status]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (WallClockExceeded("run stopped after 1.0 s", 10, 1.0), 4),  # a TimeoutError: an OSError
        (PermissionError(errno.EACCES, "Permission denied", "{tmp}/study/study.csv"), 2),
        (OSError(errno.ENOSPC, "No space left on device"), 2),
    ],
)
def test_study_failures_keep_their_status(
    error: OSError,
    status: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(kmapsim.study, "run_study", failing)
    got, out, err = call(capsys, "study", *BASE["study"], tmp=tmp_path)
    assert got == status, err
    assert_no_traceback(out, err)
    assert_one_error_line(err)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("boom\nsecond line"),
        InternalError("internal error in the kmapsim engine (oops)", {"cpus": 2}, 7, "oops"),
        TypeError("unexpected"),
        OSError(errno.EMFILE, "Too many open files"),
        sqlite3.OperationalError("no store here"),
    ],
)
def test_internal_errors_exit_1_with_a_report_line(
    error: BaseException,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(cli, "run", failing)
    status, out, err = call(capsys, "run", "--cycles", "1000")
    assert status == cli.EXIT_INTERNAL
    assert_no_traceback(out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmapsim: internal error: ")
    assert "please report it" in lines[0] and "kmapsim --version" in lines[0]
    assert str(error).splitlines()[0] in lines[0]

    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    status, _, err = call(capsys, "run", "--cycles", "1000")
    assert status == cli.EXIT_INTERNAL and "Traceback" in err


def test_an_internal_error_in_a_listing_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> list[str]:
        raise RuntimeError("presets broke")

    monkeypatch.setattr(cli, "preset_names", broken)
    status, _, err = call(capsys, "presets")
    assert status == cli.EXIT_INTERNAL and "presets broke" in err
    assert_no_traceback(err)


def test_internal_error_as_a_user_sees_it(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from kmapsim import cli\n"
        "def boom(*a, **k):\n"
        "    raise RuntimeError('boom')\n"
        "cli.run = boom\n"
        "raise SystemExit(cli.main(sys.argv[1:]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != cli.DEBUG_ENV}
    argv = [sys.executable, "-c", code, "run", "--cycles", "1000"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert p.returncode == 1
    assert_no_traceback(p.stdout, p.stderr)
    assert p.stderr.startswith("kmapsim: internal error: RuntimeError: boom; please report it")
    p = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False,
        env={**env, cli.DEBUG_ENV: "1"},
    )  # fmt: skip
    assert p.returncode == 1 and "Traceback" in p.stderr and "internal error" in p.stderr


# -- output that cannot be printed ----------------------------------------------------------------


def test_a_reader_that_goes_away_is_status_141() -> None:
    read, write = os.pipe()
    os.close(read)  # no reader: the first write gets EPIPE
    try:
        p = subprocess.run(
            [sys.executable, "-m", "kmapsim", "fields"],
            stdout=write, stderr=subprocess.PIPE, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert p.returncode == cli.EXIT_BROKEN_PIPE, p.stderr
    assert p.stderr == ""


@pytest.mark.skipif(sys.platform != "linux", reason="needs a file name that is not UTF-8")
def test_a_file_name_that_is_not_utf8_prints(tmp_path: Path) -> None:
    name = os.fsdecode(b"\xff-scenario.toml")
    kmapsim.Scenario().to_file(tmp_path / name)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    p = subprocess.run(
        [sys.executable, "-m", "kmapsim", "sweep", "--cycles", "1000", "--no-progress",
         "--serial", "--scenario", str(tmp_path / name)],
        capture_output=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert b"Traceback" not in p.stderr
    assert b"-scenario.toml" in p.stdout


def test_json_output_still_parses(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = call(capsys, "run", "--cycles", "1000", "--json")
    assert status == 0 and json.loads(out)["cycles"] == 1000


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["Run"], "'run'"),
        (["run", "--mode", "Skip"], "'skip'"),
        (["run", "--strategy", "Async"], "'async'"),
        (["run", "--strategy", "LAZY"], "'lazy'"),
        (["run", "--set", "CPUS=2"], "'cpus'"),
        (["run", "--program", "KMAP; kunmap"], '"kmap"'),
        (["run", "--preset", "Modern-64core"], "'modern-64core'"),
        (["study", "--strategies", "sync,Lazy"], "'lazy'"),
    ],
)
def test_every_name_gets_a_case_blind_suggestion(
    capsys: pytest.CaptureFixture[str], runs: list[str], argv: list[str], suggestion: str
) -> None:
    status, _, err = (
        call(capsys, *argv, "--cycles", "1000") if len(argv) > 1 else call(capsys, *argv)
    )
    assert status == cli.EXIT_BAD_INPUT, err
    assert f"(did you mean {suggestion}?)" in assert_one_error_line(err)


# -- sweep: a field is fixed or varied, and a program runs somewhere ------------------------------

PROGRAM = "kmap page=hot; access; kunmap"


@pytest.mark.parametrize(
    ("argv", "file", "needle"),
    [
        (
            ["--grid", "cpus=1,2", "--set", "cpus=4"],
            "",
            "cpus: fixed by --set and varied by --grid",
        ),
        (["--grid", f"program={PROGRAM}", "--program", PROGRAM], "", "program: fixed by --program"),
        (
            ["--set", "cpus=4"],
            "[grid]\ncpus = [1, 2]\n",
            "cpus: fixed by --set and varied by [grid]",
        ),
        (["--grid", "cpus=1,2"], "[base]\ncpus = 4\n", "cpus: fixed by [base] of"),
        ([], "[base]\ncpus = 4\n[grid]\ncpus = [1, 2]\n", "cpus: fixed by [base] of"),
        (
            ["--grid", "workload=dbench,file-read", "--program", PROGRAM],
            "",
            "program: the base scenario's program runs at no grid point",
        ),
        (
            ["--grid", "workload=dbench,file-read"],
            f'[base]\nprogram = "{PROGRAM}"\n',
            "program: the base scenario's program runs at no grid point",
        ),
        (
            ["--grid", f"program={PROGRAM}"],
            f'[base]\nprogram = "{PROGRAM}"\n',
            "program: fixed by [base]",
        ),
        ([], "[base]\nprogram = 5\n", "[base] program is 5"),
        ([], '[base]\nprogram = "kmap; wrk; kunmap"\n', 'unknown op "wrk" (did you mean "work"?)'),
    ],
)
def test_sweep_refuses_what_it_would_silently_ignore(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    runs: list[str],
    argv: list[str],
    file: str,
    needle: str,
) -> None:
    extra = []
    if file:
        (tmp_path / "g.toml").write_text(file)
        extra = ["--grid-file", str(tmp_path / "g.toml")]
    status, _, err = call(capsys, "sweep", *argv, *extra, "--cycles", "1000", "--no-progress")
    assert status == cli.EXIT_BAD_INPUT, err
    assert needle in assert_one_error_line(err)
    assert runs == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--set", "workload=custom", "--grid", f"program={PROGRAM},kmap; kunmap"],
        ["--grid", "workload=custom,dbench", "--program", PROGRAM],
        ["--grid", "workload=custom,dbench", "--set", f"program={PROGRAM}"],
    ],
)
def test_sweep_runs_a_program_where_the_workload_is_custom(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    out = tmp_path / "t.csv"
    status, _, err = call(
        capsys, "sweep", *argv, "--cycles", "20_000", "--no-progress", "--out", str(out)
    )
    assert status == 0, err
    frame = pd.read_csv(out)
    for _, row in frame.iterrows():
        assert (row["workload"] == "custom") == isinstance(row["program"], str), row


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--pct-steps", "5"], "--pct-steps: given without --pct"),
        (["--pct-depth", "2"], "--pct-depth: given without --pct"),
        (["--seed", "3"], "--seed: given without --pct"),
        (["--pct", "10", "--max-states", "5"], "--max-states: given with --pct"),
        (["--pct", "10", "--max-depth", "5"], "--max-depth: given with --pct"),
        (["--pct", "10", "--max-frontier", "5"], "--max-frontier: given with --pct"),
        (["--pct", "10", "--max-ipis", "2"], "--max-ipis: given with --pct"),
        (["--pct", "10", "--no-symmetry"], "--no-symmetry: given with --pct"),
        (["--pct", "10", "--threads", "2"], "--threads: given with --pct"),
    ],
)
def test_check_refuses_an_option_of_the_search_that_does_not_run(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    status, _, err = call(capsys, "check", *argv)
    assert status == cli.EXIT_BAD_INPUT, err
    assert needle in assert_one_error_line(err)


def test_check_takes_each_search_with_its_own_options(capsys: pytest.CaptureFixture[str]) -> None:
    pct = ["--pct", "2", "--pct-steps", "20", "--pct-depth", "2", "--seed", "4", "--json"]
    status, out, err = call(capsys, "check", *pct)
    assert status != cli.EXIT_BAD_INPUT, err
    assert json.loads(out)["pct"]["seed"] == 4
    status, out, err = call(capsys, "check", "--max-states", "50", "--no-symmetry", "--json")
    assert status == cli.EXIT_BOUND, err
    assert json.loads(out)["pct"] is None


@pytest.mark.parametrize(
    ("argv", "file"),
    [
        (["--grid", "workload=custom,dbench"], f'[base]\nprogram = "{PROGRAM}"\n'),
        (["--grid", "cpus=1,2"], f'[base]\nprogram = "{PROGRAM}"\n'),
        (
            ["--grid", "workload=custom,dbench"],
            '[base]\n[[base.program]]\nop = "kmap"\n[[base.program]]\nop = "kunmap"\n',
        ),
    ],
)
def test_a_grid_files_base_program_runs_where_the_workload_is_custom(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], file: str
) -> None:
    """``program`` in a grid file's [base] is taken as --program is (the help says [base]
    takes field values)."""
    (tmp_path / "g.toml").write_text(file)
    out = tmp_path / "t.csv"
    status, _, err = call(
        capsys,
        "sweep",
        *argv,
        "--grid-file",
        str(tmp_path / "g.toml"),
        "--cycles",
        "20_000",
        "--no-progress",
        "--out",
        str(out),
    )
    assert status == 0, err
    frame = pd.read_csv(out)
    assert (frame["workload"] == "custom").any()
    for _, row in frame.iterrows():
        assert (row["workload"] == "custom") == isinstance(row["program"], str), row


def test_a_grid_files_grid_varies_the_program_as_grid_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``program`` in a grid file's [grid] is a list of programs, as ``--grid program=...``
    takes them; a value that is no program is refused with its index."""
    programs = ["work; kmap; access; kunmap", "kmap; access; kunmap; work"]
    listed = ", ".join(f'"{p}"' for p in programs)
    (tmp_path / "g.toml").write_text(
        f'[base]\nworkload = "custom"\ncpus = 2\n[grid]\nprogram = [{listed}]\n'
    )
    out = tmp_path / "t.csv"
    status, _, err = call(
        capsys, "sweep", "--grid-file", str(tmp_path / "g.toml"), "--cycles", "20_000",
        "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert status == 0, err
    assert sorted(pd.read_csv(out)["program"]) == sorted(programs)
    (tmp_path / "b.toml").write_text("[grid]\nprogram = [5]\n")
    status, _, err = call(capsys, "sweep", "--grid-file", str(tmp_path / "b.toml"))
    assert status == 2 and "[grid] program[0] is 5" in err, err
