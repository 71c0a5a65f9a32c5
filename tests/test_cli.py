"""The command line, run as users run it (``python -m kmapsim`` in a subprocess).

Exit status 2 means bad input and 3 a failed simulation; either way one line on stderr and no
traceback. The mapping of engine failures to status 3 is checked in-process with a stand-in
`run`, since provoking a real deadlock is the engine tests' business.
"""

from __future__ import annotations

import json
import math

import pytest
from cli_process import kmapsim_cli

import kmapsim
from kmapsim import CATEGORIES, DeadlockError, KernelBug, Scenario, cli

CYCLES = "200_000"


def test_run_prints_a_summary_table() -> None:
    p = kmapsim_cli("run", "--preset", "pIII-8way-2001", "--cpus", "4", "--cycles", CYCLES)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for word in ("kmaps", "throughput", "MB/s", "flushes", "IPIs sent", "stale accesses"):
        assert word in out
    assert "sleeps" in out and "kmap_lock_wait" in out and "kmap_lock_hold" in out
    for category in CATEGORIES:
        assert category in out
    assert "cpus=4" in out


def test_run_json() -> None:
    p = kmapsim_cli(
        "run",
        "--cpus", "2",
        "--strategy", "sync",
        "--cycles", CYCLES,
        "--seed", "7",
        "--mode", "skip",
        "--set", "tlb_entries=32",
        "--set", "shared_page_prob=0.5",
        "--set", "lock_arbitration=fifo",
        "--set", "watchdog_cycles=1_000_000_000",
        "--json",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert (d["cycles"], d["seed"], d["mode"]) == (200_000, 7, "skip")
    sc = d["scenario"]
    assert (sc["cpus"], sc["tlb_entries"], sc["shared_page_prob"]) == (2, 32, 0.5)
    assert (sc["lock_arbitration"], sc["watchdog_cycles"]) == ("fifo", 10**9)
    assert d["categories"] == CATEGORIES
    assert [sum(row) for row in d["breakdown"]] == [200_000, 200_000]
    assert set(d["counters"]) >= set(kmapsim.COUNTERS)


def test_presets_listing() -> None:
    p = kmapsim_cli("presets")
    assert p.returncode == 0, p.stderr
    assert "pIII-8way-2001" in p.stdout and "cpus" in p.stdout and "700" in p.stdout
    p = kmapsim_cli("presets", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["pIII-8way-2001"]["values"] == Scenario().to_dict()


def test_strategies_listing() -> None:
    p = kmapsim_cli("strategies")
    assert p.returncode == 0, p.stderr
    spec = next(s for s in Scenario.fields() if s["name"] == "strategy")
    lines = p.stdout.splitlines()
    assert [line.split()[0] for line in lines] == spec["choices"]
    verdicts = {line.split()[0]: line.split()[1] for line in lines}
    assert verdicts["sync"] == "safe" and verdicts["async"] == "UNSAFE"
    # Every other strategy, the later designs included, is safe (docs/model.md, section 12).
    assert all(v == "safe" for s, v in verdicts.items() if s != "async"), verdicts
    assert {"broadcast", "concurrent", "early-ack", "ranged", "defer", "split"} <= set(verdicts)


def test_fields_listing() -> None:
    p = kmapsim_cli("fields")
    assert p.returncode == 0, p.stderr
    for spec in Scenario.fields():
        assert spec["name"] in p.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--cpus", "0"], "cpus"),
        (["--strategy", "fast"], "strategy"),
        (["--preset", "pIII-8way-2010"], "did you mean 'pIII-8way-2001'"),
        (["--set", "cpuz=4"], "did you mean 'cpus'"),
        (["--set", "cpus"], "field=value"),
        (["--set", "shared_page_prob=nan"], "shared_page_prob"),
        (["--set", "tlb_entries=many"], "tlb_entries"),
        (["--cpus", "4", "--set", "cpus=2"], "cpus"),
        (["--cycles", "0"], "cycles"),
        (["--seed", "-1"], "seed"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    p = kmapsim_cli("run", "--cycles", "1000", *args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmapsim: error: ")
    assert needle in lines[0]
    assert p.stdout == ""


def test_usage_errors_exit_2() -> None:
    assert kmapsim_cli("run", "--mode", "fast").returncode == 2
    assert kmapsim_cli("run", "--cycles", "lots").returncode == 2
    assert kmapsim_cli().returncode == 2


def test_version() -> None:
    p = kmapsim_cli("--version")
    assert p.returncode == 0 and kmapsim.__version__ in p.stdout


@pytest.mark.parametrize(
    "error",
    [
        DeadlockError(
            "deadlock: no CPU completed an operation before cycle 9\n  cpu0: waits for acks",
            9,
            [0, 1],
            [(0, "waits for acks", 1), (1, "spins on kmap_lock with interrupts off", 0)],
        ),
        KernelBug("kernel BUG at cycle 5 on cpu1: kunmap count reached 0", 5, 1),
    ],
)
def test_simulation_failure_exits_3_with_one_line(
    error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing_run(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(cli, "run", failing_run)
    assert cli.main(["run", "--cycles", "1000"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kmapsim: error: ")
    assert str(error).splitlines()[0] in err[0]


@pytest.mark.parametrize(
    ("text", "value"),
    [("8", 8), ("1_000", 1000), ("0.5", 0.5), ("1e6", 1e6), ("sync", "sync"), ("-3", -3)],
)
def test_parse_value(text: str, value: object) -> None:
    got = cli.parse_value(text)
    assert got == value and type(got) is type(value)


def test_parse_value_nan_is_a_float() -> None:
    got = cli.parse_value("nan")
    assert isinstance(got, float) and math.isnan(got)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--set", "tlb_refill_cycles=\u0665"],  # Arabic-Indic 5
        ["run", "--set", "cpus=\uff14"],  # fullwidth 4
        ["run", "--cycles", "\uff11\uff10\uff10\uff10"],
        ["run", "--seed", "\u0663"],
        ["sweep", "--grid", "cpus=\u0662,\u0664", "--cycles", "1000"],
    ],
)
def test_digits_of_other_scripts_are_not_numbers(args: list[str]) -> None:
    # int() reads them; no scenario file, grid file or call list does, and neither does --set.
    p = kmapsim_cli(*args)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
