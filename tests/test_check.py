"""`kmapsim.check` and `kmapsim check` as a user meets them (docs/verification.md): verdicts,
counterexamples a person can read and the engine replays, bounds, limits and bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from cli_process import kmapsim_cli

import kmapsim
from kmapsim import Scenario
from kmapsim.checker import check_machine


def test_async_is_caught_reading_a_stale_entry_on_the_smallest_machine() -> None:
    r = kmapsim.check(strategy="async", cpus=2, slots=2, pages=3)
    assert r.verdict == "stale access" and r.found
    assert r.counterexample is not None and r.depth == len(r.counterexample)
    last = r.counterexample[-1]
    assert any(kind == "stale_read" for _, kind, _ in last.trace)
    assert "through a stale TLB entry" in r.message
    # The run is the path replayed by the engine: one cycle a step, the stale read at its end.
    assert r.run is not None and r.run.cycles == r.depth
    assert r.run.counters["stale_accesses"] == 1
    assert r.run.violations[0].cycle == r.depth
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.verdict = "safe"  # type: ignore[misc]


def test_sync_is_proved_safe_and_the_summary_says_what_was_explored() -> None:
    r = kmapsim.check(strategy="sync", cpus=2, slots=2, pages=2)
    assert r.verdict == "safe" and not r.found and r.run is None
    assert r.states > 1000 and r.transitions > r.states
    text = r.summary()
    assert "sync: safe" in text and f"{r.states:,} states" in text
    assert r.bound == dict(
        cpus=2, slots=2, pages=2, tasks=2, max_states=2_000_000, max_depth=10_000
    )


def test_two_tasks_a_cpu_each_holding_two_mappings() -> None:
    # 2 CPUs x 2 tasks each holding up to 2 mappings: the checker explores the scheduler's
    # choices too; sync on a pool of 4 for 4 tasks x 2 mappings can exhaust it for good.
    sc = check_machine(
        "sync",
        cpus=2,
        slots=4,
        pages=3,
        tasks=4,
        workload="custom",
        program="kmap handle=0 page=cold; kmap handle=1 page=cold; access handle=1; "
        "kunmap handle=1; kunmap handle=0; yield",
    )
    r = kmapsim.check(sc, max_states=300_000)
    assert r.verdict in ("deadlock", "bound reached"), r.summary()
    if r.verdict == "deadlock":
        assert "pkmap pool is exhausted" in r.message


def test_a_bound_is_reported_as_such() -> None:
    r = kmapsim.check(strategy="sync", pages=3, max_states=500)
    assert r.verdict == "bound reached" and r.counterexample is None
    assert r.states >= 500


def test_the_checker_refuses_what_it_cannot_explore_or_does_not_know() -> None:
    with pytest.raises(kmapsim.ScenarioError, match="tlb_evict_rate"):
        kmapsim.check(Scenario(hot_pages=0, tlb_evict_rate=1.0), cpus=2, slots=2, pages=3)
    with pytest.raises(kmapsim.ScenarioError, match="max_states"):
        kmapsim.check(strategy="sync", max_states=0)
    with pytest.raises(kmapsim.ScenarioError, match="strategy"):
        kmapsim.check(strategy="spilt")
    with pytest.raises(kmapsim.ScenarioError, match="last_pkmap"):
        kmapsim.check(slots=3)
    with pytest.raises(TypeError, match="Scenario"):
        kmapsim.check({"strategy": "sync"})  # type: ignore[arg-type]


def test_the_wall_clock_limit_and_a_cancelled_token_stop_it() -> None:
    with pytest.raises(kmapsim.WallClockExceeded, match="depth"):
        kmapsim.check(strategy="guarded", pages=3, max_wall_seconds=0.2)
    token = kmapsim.CancelToken()
    token.cancel()
    with pytest.raises(KeyboardInterrupt):
        kmapsim.check(strategy="sync", cancel=token)


def test_the_command_line_exit_statuses(tmp_path: Path) -> None:
    out = kmapsim_cli("check", "--strategy", "async")
    assert out.returncode == 3, out.stderr
    assert "shortest counterexample, 23 steps" in out.stdout
    assert kmapsim_cli("check", "--strategy", "sync", "--pages", "2").returncode == 0
    bound = kmapsim_cli("check", "--max-states", "100")
    assert bound.returncode == 5 and "bound reached" in bound.stdout
    bad = kmapsim_cli("check", "--slots", "3")
    assert bad.returncode == 2 and "last_pkmap" in bad.stderr and "Traceback" not in bad.stderr
    both = kmapsim_cli("check", "--slots", "4", "--set", "last_pkmap=4")
    assert both.returncode == 2 and "--slots and --set" in both.stderr


def test_the_command_line_json_and_the_perfetto_trace(tmp_path: Path) -> None:
    out = kmapsim_cli("check", "--strategy", "async", "--json")
    doc = json.loads(out.stdout)
    assert doc["verdict"] == "stale access" and len(doc["counterexample"]) == doc["depth"]
    trace = tmp_path / "stale.json"
    out = kmapsim_cli(
        "check", "--strategy", "sync", "--set", "kmap_irqs_off_prob=1", "--trace", str(trace)
    )
    assert out.returncode == 3 and "wait-for cycle" in out.stdout
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("ph") == "X" for e in events)


def test_symmetry_reduction_applies_where_cpus_are_interchangeable() -> None:
    on = kmapsim.check(strategy="sync", pages=2)
    off = kmapsim.check(strategy="sync", pages=2, symmetry=False)
    assert on.symmetric and not off.symmetric
    assert on.verdict == off.verdict == "safe" and on.states < off.states
    assert "up to a renaming of the CPUs" in on.summary()
    # Each task's own pages make the CPUs distinguishable: no reduction.
    own = kmapsim.check(check_machine("sync", pages=4, workload="pte-highmem"), max_states=1000)
    assert not own.symmetric
    with pytest.raises(kmapsim.ScenarioError, match="symmetry"):
        kmapsim.check(strategy="sync", symmetry=1)  # type: ignore[arg-type]
    out = kmapsim_cli("check", "--pages", "2", "--no-symmetry", "--json")
    assert json.loads(out.stdout)["symmetric"] is False


def test_a_kernel_bug_is_a_verdict_and_a_big_machine_a_clear_error() -> None:
    leak = check_machine("sync", workload="custom", program="kmap handle=src; access handle=src")
    r = kmapsim.check(leak)
    assert r.verdict == "bug" and r.counterexample is not None
    assert "at step 6" in r.message and "leak" in r.message
    assert r.run is not None and r.run.cycles == len(r.counterexample)
    out = kmapsim_cli("check", "--program", "kmap handle=src; access handle=src")
    assert out.returncode == 3 and "sync: bug" in out.stdout
    with pytest.raises(kmapsim.ScenarioError, match="cpus: 4096 is more than the checker"):
        kmapsim.check(cpus=4096)
    big = kmapsim_cli("check", "--pages", "100000")
    assert big.returncode == 2 and "pages" in big.stderr and "Traceback" not in big.stderr


def test_more_tasks_than_cpus_all_run_on_the_default_machine() -> None:
    sc = check_machine("sync", cpus=1, pages=2, tasks=2)
    assert 0 < sc.ctx_switch_prob < 1
    two = kmapsim.check(sc)
    one = kmapsim.check(check_machine("sync", cpus=1, pages=2))
    assert two.verdict == one.verdict == "safe" and two.states > one.states


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--max-states", "0"), "--max-states"),
        (("--max-depth", "0"), "--max-depth"),
        (("--max-seconds", "nan"), "--max-seconds"),
        (("--max-seconds", "-1"), "--max-seconds"),
    ],
)
def test_the_command_line_names_its_own_options(args: tuple[str, ...], option: str) -> None:
    out = kmapsim_cli("check", *args)
    assert out.returncode == 2 and f"error: {option}:" in out.stderr, out.stderr


def test_the_randomised_mode_finds_async_and_states_its_probability_bound() -> None:
    r = kmapsim.check(strategy="async", pct_runs=2000, pct_steps=60, seed=1)
    assert r.verdict == "stale access" and r.pct is not None and r.pct["miss_chance"] == 0.0
    assert r.run is not None and r.run.counters["stale_accesses"] == 1
    assert "not always the shortest" in r.summary()
    s = kmapsim.check(strategy="sync", pct_runs=300, pct_steps=60, pct_depth=3)
    assert s.verdict == "bound reached" and s.pct is not None
    p = 1 / (2 * 60**2)  # PCT: 1 / (n k^(d-1))
    assert s.pct["chance_per_run"] == pytest.approx(p)
    assert s.pct["miss_chance"] == pytest.approx((1 - p) ** 300)
    with pytest.raises(kmapsim.ScenarioError, match="pct_depth"):
        kmapsim.check(strategy="sync", pct_runs=10, pct_depth=0)
    out = kmapsim_cli("check", "--strategy", "async", "--pct", "2000", "--pct-steps", "60")
    assert out.returncode == 3 and "randomised (PCT)" in out.stdout
