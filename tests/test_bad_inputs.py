"""Hostile input, one table: every case raises a clear, specific kmapsim error naming what is
wrong (never a panic, a hang or a crash). docs/errors.md lists the errors and what to do."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

import kmapsim
from kmapsim import Scenario, ScenarioError, ScenarioFileError, StoreError

OK = Scenario(cpus=2, last_pkmap=8, pages=64, hot_pages=4)


def _file(tmp: Path, name: str, body: bytes) -> Path:
    p = tmp / name
    p.write_bytes(body)
    return p


def _sqlite_with_other_tables(tmp: Path) -> Path:
    p = tmp / "other.sqlite"
    with sqlite3.connect(p) as con:
        con.execute("CREATE TABLE accounts (id INTEGER)")
    return p


CASES: list[tuple[str, Callable[[Path], object], type[Exception], str]] = [
    # wrong types
    ("cpus as a string", lambda t: Scenario(cpus="8"), ScenarioError, "cpus"),  # type: ignore[arg-type]
    ("cpus as a bool", lambda t: Scenario(cpus=True), ScenarioError, "cpus"),
    ("cpus as a float", lambda t: Scenario(cpus=8.5), ScenarioError, "cpus"),  # type: ignore[arg-type]
    ("strategy as a number", lambda t: Scenario(strategy=3), ScenarioError, "strategy"),  # type: ignore[arg-type]
    (
        "probability as None",
        lambda t: Scenario(shared_page_prob=None),
        ScenarioError,
        "shared_page_prob",
    ),  # type: ignore[arg-type]
    # NaN and infinities
    (
        "NaN probability",
        lambda t: Scenario(irq_section_prob=float("nan")),
        ScenarioError,
        "irq_section_prob",
    ),
    ("infinite clock", lambda t: Scenario(cpu_mhz=float("inf")), ScenarioError, "cpu_mhz"),
    (
        "minus infinity",
        lambda t: Scenario(tlb_evict_rate=float("-inf")),
        ScenarioError,
        "tlb_evict_rate",
    ),
    # negatives, zero and absurd sizes
    ("negative latency", lambda t: Scenario(ipi_latency=-5), ScenarioError, "ipi_latency"),
    ("zero CPUs", lambda t: Scenario(cpus=0), ScenarioError, "cpus"),
    ("a million CPUs", lambda t: Scenario(cpus=1_000_000), ScenarioError, "cpus"),
    ("zero cycles", lambda t: kmapsim.run(OK, cycles=0), ScenarioError, "cycles"),
    ("negative cycles", lambda t: kmapsim.run(OK, cycles=-1), ScenarioError, "cycles"),
    ("absurd cycles", lambda t: kmapsim.run(OK, cycles=10**30), ScenarioError, "cycles"),
    ("negative seed", lambda t: kmapsim.run(OK, cycles=10, seed=-1), ScenarioError, "seed"),
    (
        "seed beyond 64 bits",
        lambda t: kmapsim.run(OK, cycles=10, seed=2**64),
        ScenarioError,
        "seed",
    ),
    ("unknown mode", lambda t: kmapsim.run(OK, cycles=10, mode="fast"), ScenarioError, "mode"),  # type: ignore[arg-type]
    # the pool and probabilities
    ("pool not a power of two", lambda t: Scenario(last_pkmap=1000), ScenarioError, "last_pkmap"),
    ("pool of one slot", lambda t: Scenario(last_pkmap=1), ScenarioError, "last_pkmap"),
    (
        "probability above 1",
        lambda t: Scenario(ctx_switch_prob=1.5),
        ScenarioError,
        "ctx_switch_prob",
    ),
    (
        "probability below 0",
        lambda t: Scenario(kmap_irqs_off_prob=-0.1),
        ScenarioError,
        "kmap_irqs_off_prob",
    ),
    (
        "more hot pages than pages",
        lambda t: Scenario(pages=10, hot_pages=20),
        ScenarioError,
        "hot_pages",
    ),
    # unknown names, with "did you mean"
    ("unknown strategy", lambda t: Scenario(strategy="asynch"), ScenarioError, "async"),
    (
        "unknown preset",
        lambda t: Scenario.preset("pIII-8way-2002"),
        ScenarioError,
        "pIII-8way-2001",
    ),
    ("unknown field", lambda t: OK.replace(cpuz=4), ScenarioError, "cpus"),
    (
        "unknown grid field",
        lambda t: kmapsim.sweep(OK, grid={"strategie": ["sync"]}, cycles=10, progress=False),
        ScenarioError,
        "strategy",
    ),
    # files
    (
        "malformed TOML",
        lambda t: Scenario.from_file(_file(t, "a.toml", b"cpus = [8")),
        ScenarioFileError,
        "a.toml",
    ),
    (
        "truncated JSON",
        lambda t: Scenario.from_file(_file(t, "b.json", b'{"cpus": 8, "strat')),
        ScenarioFileError,
        "b.json",
    ),
    (
        "JSON that is a list",
        lambda t: Scenario.from_file(_file(t, "c.json", b"[1, 2]")),
        ScenarioFileError,
        "c.json",
    ),
    (
        "not UTF-8",
        lambda t: Scenario.from_file(_file(t, "d.toml", b"cpus = \xff\xfe")),
        ScenarioFileError,
        "d.toml",
    ),
    (
        "unknown key in a file",
        lambda t: Scenario.from_file(_file(t, "e.toml", b"cpu = 4")),
        ScenarioFileError,
        "cpus",
    ),
    ("missing file", lambda t: Scenario.from_file(t / "nope.toml"), ScenarioFileError, "nope.toml"),
    (
        "wrong suffix",
        lambda t: Scenario.from_file(_file(t, "f.yaml", b"cpus: 4")),
        ScenarioFileError,
        "f.yaml",
    ),
    # stores
    (
        "foreign SQLite store",
        lambda t: kmapsim.sweep(OK, cycles=10, progress=False, store=_sqlite_with_other_tables(t)),
        StoreError,
        "not a kmapsim store",
    ),
    (
        "corrupt store",
        lambda t: kmapsim.sweep(
            OK, cycles=10, progress=False, store=_file(t, "x.sqlite", b"garbage" * 500)
        ),
        StoreError,
        "x.sqlite",
    ),
    # operation lists
    (
        "replay for the wrong CPU",
        lambda t: kmapsim.run(OK, cycles=10, replay=_file(t, "o.csv", b"cpu,work,page\n9,5,1\n")),
        ScenarioError,
        "cpu 9",
    ),
    (
        "replay with a bad page",
        lambda t: kmapsim.run(OK, cycles=10, replay=_file(t, "p.csv", b"cpu,work,page\n0,5,999\n")),
        ScenarioError,
        "page 999",
    ),
]


@pytest.mark.parametrize(("what", "call", "error", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(
    what: str, call: Callable[[Path], object], error: type[Exception], needle: str, tmp_path: Path
) -> None:
    with pytest.raises(error) as e:
        call(tmp_path)
    assert needle in str(e.value), f"{what}: {e.value}"


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


def test_violation_records_stay_under_their_cap() -> None:
    sc = Scenario(
        strategy="async",
        cpus=2,
        last_pkmap=2,
        pages=16,
        hot_pages=2,
        shared_page_prob=0.5,
        ipi_latency=4000,
        tlb_evict_rate=0.0,
        max_violation_records=2,
    )
    r = kmapsim.run(sc, cycles=3_000_000, seed=1)
    assert r.counters["stale_accesses"] > 2
    assert len(r.violations) == 2
