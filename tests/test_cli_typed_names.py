"""Errors name what was typed: the command-line option, not the field it sets; a value quoted
as given, its newline included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import kmapsim
from kmapsim.cli import main


def _error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_check_names_slots_not_last_pkmap(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", "--strategy", "guarded", "--cpus", "3", "--pages", "4"]
    line = _error_line(capsys, *args, "--slots", "3")
    assert line.startswith("kmapsim: error: --slots: 3 is not a power of two"), line
    line = _error_line(capsys, *args, "--set", "last_pkmap=3")
    assert line.startswith("kmapsim: error: last_pkmap: 3"), line
    # An abbreviation argparse takes for --slots is --slots too; --slots= as well.
    for typed in (["--slot", "3"], ["--sl=3"], ["--slots=3"]):
        line = _error_line(capsys, *args, *typed)
        assert line.startswith("kmapsim: error: --slots: 3 is not a power of two"), (typed, line)


def test_study_names_strategies_and_the_repeated_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = str(tmp_path / "s")
    line = _error_line(capsys, "study", "--out", out, "--strategies", "sync,sync", "--no-progress")
    assert line.startswith("kmapsim: error: --strategies: the value 'sync' is listed twice"), line
    assert line.endswith("allowed: each value once"), line


def test_a_quoted_field_spanning_lines_is_quoted_with_its_newline(tmp_path: Path) -> None:
    calls = tmp_path / "calls.csv"
    calls.write_text('task,op,page,work\n0,"kmap\nx",1,5\n')
    with pytest.raises(kmapsim.ScenarioError, match=r"op 'kmap\\nx'"):
        kmapsim.run(kmapsim.Scenario(cpus=2), cycles=1000, replay_calls=calls)
    ops = tmp_path / "ops.csv"
    ops.write_text('cpu,work,page\n0,"5\n1",1\n')
    with pytest.raises(kmapsim.ScenarioError, match=r"work '5\\n1'"):
        kmapsim.run(kmapsim.Scenario(cpus=2), cycles=1000, replay=ops)


@pytest.mark.parametrize(
    "args",
    [["run", "--scenario"], ["run", "--replay"], ["sweep", "--no-progress", "--store"]],
    ids=lambda a: a[-1],
)
def test_a_path_with_a_line_break_is_quoted_on_its_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str]
) -> None:
    suffix = {"--scenario": "a.toml", "--replay": "a.csv", "--store": "s.sqlite"}[args[-1]]
    path = str(tmp_path / "no\nsuch" / suffix)
    assert main([*args, path]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmapsim: error: "), lines
    assert repr(path) in lines[0], lines[0]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [["presets"], ["run", "--cycles", "100000"]], ids=lambda a: a[0])
def test_a_full_standard_output_is_named(argv: list[str]) -> None:
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        p = subprocess.run(
            [sys.executable, "-m", "kmapsim", *argv], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == (
        "kmapsim: error: writing the standard output: No space left on device"
    ), p.stderr


@pytest.mark.parametrize(
    ("option", "name"),
    [("--scenario", "nope.toml"), ("--replay", "nope.csv"), ("--replay-calls", "nope.csv")],
)
def test_a_file_option_is_named_as_typed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str, name: str
) -> None:
    """The option, not the API's field (file, replay, replay_calls), as --slots is."""
    line = _error_line(capsys, "run", option, str(tmp_path / name))
    assert line.startswith(f"kmapsim: error: {option}: cannot read "), line


def test_a_print_to_another_file_spread_over_lines_is_not_the_standard_output(
    tmp_path: Path,
) -> None:
    """The whole statement is read, not its first line only (`print(` alone names no file)."""
    from kmapsim.cli import _from_stdout

    def fail(f: Any) -> OSError:
        try:
            print(
                "x",
                file=f,
            )
        except OSError as e:
            return e
        raise AssertionError("no error")

    class Full:
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    assert not _from_stdout(fail(Full()))


def test_a_path_with_a_line_break_is_quoted_in_messages_that_name_it_themselves(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Messages about a file's values (which carry no .path), and a directory given as the
    store: every path the command line was given is quoted where the message names it."""
    scenario = tmp_path / "s\nc.toml"
    scenario.write_text("cpus = 0\n", encoding="utf-8")
    store = tmp_path / "d\nx"
    store.mkdir()
    for argv, name in (
        (["run", "--cycles", "100", "--scenario", str(scenario)], str(scenario)),
        (["sweep", "--grid", "cpus=2", "--cycles", "100", "--store", str(store)], str(store)),
    ):
        assert main([*argv, "--no-progress"] if argv[0] == "sweep" else argv) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and repr(name) in lines[0], lines


def test_a_path_that_does_not_print_is_quoted_on_the_lines_that_name_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The lines a command prints on success, its header, and argparse's own errors name a
    file with a line break whole, on one line."""
    saved = str(tmp_path / "full\n.toml")
    assert main(["run", "--cycles", "1000", "--save-scenario", saved]) == 0
    assert f"wrote {saved!r}" in capsys.readouterr().out
    assert main(["run", "--cycles", "1000", "--scenario", saved]) == 0
    assert f"scenario {saved!r}" in capsys.readouterr().out
    assert main(["run", "my\nfile.toml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "kmapsim: error: unrecognized arguments: 'my\\nfile.toml'", err
    # Each argument left over is quoted whole: one with a blank is told from two.
    assert main(["run", "a b", "c"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "kmapsim: error: unrecognized arguments: 'a b' 'c'", err


def test_an_option_typed_whole_is_not_an_abbreviation_of_a_longer_one() -> None:
    """--replay is a prefix of --replay-calls, but typed whole it names itself."""
    import argparse

    from kmapsim.cli import _typed

    replay = argparse.Namespace(_argv=["run", "--replay", "x.csv"])
    assert _typed(replay, "--replay") and not _typed(replay, "--replay-calls")
    calls = argparse.Namespace(_argv=["run", "--replay-c=x.csv"])
    assert _typed(calls, "--replay-calls") and not _typed(calls, "--replay")


def test_the_witness_command_and_a_warning_name_a_path_whole(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The printed replay command stays one line and runs in bash; a warning keeps the
    blanks of the name it quotes."""
    import shutil
    import subprocess

    from kmapsim.checker import check_machine
    from kmapsim.cli import _show_warning
    from kmapsim.store import StoreWarning

    w = kmapsim.check(check_machine("async")).witness
    assert w is not None
    where = str(tmp_path / "wit\ndir")
    command = w.command(where)
    assert "\n" not in command
    if shutil.which("bash"):
        words = subprocess.run(
            ["bash", "-c", f'printf "%s\\0" {command}'], capture_output=True, text=True
        ).stdout.split("\0")
        assert f"{where}/scenario.toml" in words and f"{where}/calls.csv" in words, words
    name = str(tmp_path / "a  b\nc.sqlite")
    _show_warning(StoreWarning(f"{name}: 1 stored run fails", name), StoreWarning, "f", 1)
    assert repr(name) in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "check"])
def test_a_bad_strategy_names_the_option_typed(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """--strategy names itself, as --cpus and --slots do; --set names the field it sets."""
    assert main([command, "--strategy", "nope"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .startswith("kmapsim: error: --strategy: unknown value 'nope'")
    )
    assert main(["run", "--set", "strategy=nope"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .startswith("kmapsim: error: strategy: unknown value 'nope'")
    )
