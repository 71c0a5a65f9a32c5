"""`kmapsim.check` and `kmapsim check` as a user meets them (docs/verification.md): verdicts,
counterexamples a person can read and the engine replays, bounds, limits and bad input."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

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
        cpus=2, slots=2, pages=2, tasks=2, max_states=2_000_000, max_depth=10_000,
        max_frontier=100_000, max_ipis=None,
    )  # fmt: skip
    assert r.symmetry == ("cpus", "pages") and r.shortest and r.depth_first_from is None


TWO_MAPPINGS = (
    "kmap handle=0 page=cold; kmap handle=1 page=cold; access handle=0; access handle=1; "
    "kunmap handle=1; kunmap handle=0"
)


def test_tasks_holding_two_mappings_on_a_pool_of_two_deadlock_with_their_chain() -> None:
    # Each task holds a slot and sleeps for a second one: the 2.4 two-kmap deadlock, found by
    # the search with the wait-for chain of the engine's own report.
    sc = check_machine("sync", cpus=2, slots=2, pages=3, workload="custom", program=TWO_MAPPINGS)
    r = kmapsim.check(sc)
    assert r.verdict == "deadlock" and r.shortest, r.summary()
    assert "pkmap pool is exhausted" in r.message and "task0 -> task1 -> task0" in r.message
    assert r.run is not None and len(r.counterexample or ()) == r.depth


def test_tasks_holding_two_mappings_are_proved_safe_where_the_pool_suffices() -> None:
    # Four slots for two tasks holding two each, and three pages: every page keeps its slot.
    sc = check_machine("sync", cpus=2, slots=4, pages=3, workload="custom", program=TWO_MAPPINGS)
    r = kmapsim.check(sc)
    assert r.verdict == "safe" and r.symmetry == ("cpus", "pages"), r.summary()
    assert r.states > 100_000 and r.depth_first_from is None


def test_past_max_frontier_the_search_goes_depth_first_over_the_same_states() -> None:
    wide = kmapsim.check(strategy="defer", pages=2)
    deep = kmapsim.check(strategy="defer", pages=2, max_frontier=10)
    assert wide.verdict == deep.verdict == "safe"
    assert (wide.states, wide.transitions) == (deep.states, deep.transitions)
    assert wide.depth_first_from is None and deep.depth_first_from is not None
    assert "then depth-first" in deep.summary()
    found = kmapsim.check(strategy="async", max_frontier=20, max_ipis=1)
    assert found.verdict == "stale access" and not found.shortest
    assert "not known to be the shortest" in found.summary()
    assert found.run is not None and found.run.counters["stale_accesses"] == 1


def test_the_ipi_bound_is_stated_with_the_transitions_it_pruned() -> None:
    r = kmapsim.check(strategy="guarded", max_ipis=1, max_states=20_000)
    assert r.pruned > 0 and r.bound["max_ipis"] == 1
    assert "1 IPI a CPU" in r.summary() and "transitions not taken" in r.summary()
    assert kmapsim.check(strategy="guarded", max_states=20_000).pruned == 0
    with pytest.raises(kmapsim.ScenarioError, match="max_ipis"):
        kmapsim.check(strategy="guarded", max_ipis=0)
    with pytest.raises(kmapsim.ScenarioError, match="max_frontier"):
        kmapsim.check(strategy="guarded", max_frontier=0)
    out = kmapsim_cli("check", "--strategy", "guarded", "--max-ipis", "1", "--max-states", "20000")
    assert out.returncode == 5 and "transitions not taken" in out.stdout, out.stdout


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
    assert (
        bad.returncode == 2
        and "--slots: 3 is not a power of two" in bad.stderr
        and "Traceback" not in bad.stderr
    )
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
        (("--max-frontier", "0"), "--max-frontier"),
        (("--max-ipis", "0"), "--max-ipis"),
        (("--threads", "0"), "--threads"),
        (("--threads", "1025"), "--threads"),
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


def test_a_stale_access_has_a_timed_witness_that_the_simulator_replays(tmp_path: Path) -> None:
    r = kmapsim.check(strategy="async")
    w = r.witness
    assert w is not None and r.witness_note == "", r.summary()
    assert list(w.calls.columns) == ["task", "op", "page", "work"]
    assert w.calls["op"].iloc[0] == "kmap" and (w.calls["work"] >= 1).all()
    assert "timed witness" in r.summary()
    # The ordinary timed simulation, driven by the calls, reads the same stale entry.
    assert r.run is not None
    want, got = r.run.violations[0], w.run().violations
    same = [(v.cpu, v.slot, v.expected_page, v.actual_page) for v in got]
    assert (want.cpu, want.slot, want.expected_page, want.actual_page) in same
    # On the command line: the files and the command that replays them.
    out = kmapsim_cli("check", "--strategy", "async", "--witness", str(tmp_path / "w"))
    assert out.returncode == 3 and "wrote" in out.stdout, out.stdout
    command = out.stdout.strip().splitlines()[-1].split(": ", 1)[1]
    replay = kmapsim_cli(*command.split()[1:])
    assert replay.returncode == 0 and "stale accesses      1" in replay.stdout, replay.stdout
    assert kmapsim.check(strategy="async", witness_tries=0).witness is None


def test_a_deadlock_has_a_witness_and_the_misuse_says_why_it_has_none() -> None:
    sc = check_machine("sync", cpus=2, slots=2, pages=3, workload="custom", program=TWO_MAPPINGS)
    w = kmapsim.check(sc).witness
    assert w is not None
    with pytest.raises(kmapsim.DeadlockError, match="pkmap pool is exhausted"):
        w.run()
    misuse = kmapsim.check(check_machine("sync", kmap_irqs_off_prob=1.0))
    assert misuse.verdict == "deadlock" and misuse.witness is None
    assert "interrupts disabled" in misuse.witness_note
    assert "no timed witness" in misuse.summary()
    with pytest.raises(kmapsim.ScenarioError, match="witness_tries"):
        kmapsim.check(strategy="async", witness_tries=-1)
    out = kmapsim_cli("check", "--witness", "somewhere", "--witness-tries", "0")
    assert out.returncode == 2 and "--witness" in out.stderr


def test_the_witness_command_quotes_its_paths_and_an_empty_directory_is_refused(
    tmp_path: Path,
) -> None:
    w = kmapsim.check(strategy="async").witness
    assert w is not None
    odd = tmp_path / "my dir;x"
    w.save(odd)
    command = w.command(odd)
    assert f"'{odd / 'scenario.toml'}'" in command
    with pytest.raises(kmapsim.ScenarioError, match="empty path"):
        w.save("")
    out = kmapsim_cli("check", "--strategy", "async", "--witness", "")
    assert out.returncode == 2 and "--witness: an empty path" in out.stderr, out.stderr


def test_summaries_carry_the_ipi_bound_plurals_and_cut_long_paths() -> None:
    r = kmapsim.check(strategy="guarded", max_ipis=1, max_states=20_000)
    assert r.pruned > 0
    safe = kmapsim.check(strategy="guarded", pages=2, max_ipis=1)
    assert safe.verdict == "safe" and safe.pruned == 0
    assert "safe within the IPI bound" not in safe.summary()
    # (guarded on 3 pages is proved so in 3 million states: the wording, on a result that
    # pruned some transitions)
    pruned = dataclasses.replace(safe, pruned=5)
    assert pruned.summary().startswith("guarded: safe within the IPI bound (every state")
    sc = check_machine("sync", cpus=2, slots=2, pages=3, workload="custom", program=TWO_MAPPINGS)
    assert "found in 1 try)" in kmapsim.check(sc).summary()
    deep = kmapsim.check(strategy="async", max_frontier=10, max_depth=1000, witness_tries=0)
    assert deep.counterexample is not None and len(deep.counterexample) > 200
    text = deep.summary()
    assert "steps not shown" in text and len(text.splitlines()) < 220
    with pytest.raises(kmapsim.ScenarioError, match="None"):
        kmapsim.check(strategy="sync", max_ipis=0)


@pytest.mark.parametrize("kwargs", [{"cpus": "4"}, {"tasks": "4"}, {"cpus": True}])
def test_the_machine_s_sizes_are_checked_before_they_are_compared(
    kwargs: dict[str, object],
) -> None:
    field = next(iter(kwargs))
    with pytest.raises(kmapsim.ScenarioError) as e:
        kmapsim.check(**kwargs)  # type: ignore[arg-type]
    assert e.value.field == field
    # More tasks than CPUs switch context, unless the caller says otherwise.
    assert check_machine(tasks=4).ctx_switch_prob == 0.5
    assert check_machine(tasks=4, ctx_switch_prob=0.2).ctx_switch_prob == 0.2
    assert check_machine().ctx_switch_prob == 0.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"seed": True}, "seed"), ({"seed": 2.7}, "seed"), ({"seed": -1}, "seed"),
     ({"pct_steps": "4"}, "pct_steps"), ({"pct_depth": 10**400}, "pct_depth")],
)  # fmt: skip
def test_pct_arguments_are_checked_without_pct_runs(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(kmapsim.ScenarioError) as e:
        kmapsim.check(max_states=1000, **kwargs)  # type: ignore[arg-type]
    assert e.value.field == field


@pytest.mark.parametrize(
    ("kw", "last", "verdict"),
    [
        ({"strategy": "sync", "pages": 2}, 14_541, "safe"),
        ({"strategy": "async", "witness_tries": 0}, 1_670, "stale access"),
    ],
)
def test_the_state_bound_is_reached_only_past_the_last_state_needed(
    kw: dict[str, Any], last: int, verdict: str
) -> None:
    exact = kmapsim.check(max_states=last, **kw)
    assert (exact.verdict, exact.states) == (verdict, last), exact.summary()
    short = kmapsim.check(max_states=last - 1, **kw)
    assert (short.verdict, short.states) == ("bound reached", last - 1)


SLOW_WITNESS = {"witness_tries": 2**32 - 1}  # none is found for this machine: hours of tries


def test_a_cancel_stops_the_witness_search_as_it_stops_the_search() -> None:
    sc = check_machine("async", ipi_latency=1)
    tok = kmapsim.CancelToken()
    timer = threading.Timer(0.3, tok.cancel)
    timer.start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt, match="CancelToken at depth 23"):
        kmapsim.check(sc, cancel=tok, **SLOW_WITNESS)
    assert time.perf_counter() - started < 1.0
    timer.join()


def test_the_wall_limit_holds_for_the_witness_search() -> None:
    sc = check_machine("async", ipi_latency=1)
    started = time.perf_counter()
    # The limit ends the witness search, not the call: the search's verdict is kept.
    r = kmapsim.check(sc, max_wall_seconds=0.3, **SLOW_WITNESS)
    assert time.perf_counter() - started < 1.0
    assert r.verdict == "stale access" and r.depth == 23 and r.witness is None
    assert r.witness_note.startswith("the time limit passed in the timed-witness search")


def test_the_search_time_leaves_out_the_witness_search() -> None:
    r = kmapsim.check(check_machine("async", ipi_latency=1), witness_tries=3000)
    assert r.witness is None and r.witness_seconds > 0
    assert r.seconds < r.witness_seconds, (r.seconds, r.witness_seconds)


def test_an_interrupted_search_reports_how_far_it_got() -> None:
    with pytest.raises(kmapsim.WallClockExceeded) as info:
        kmapsim.check(strategy="split", pages=3, max_wall_seconds=0.3)
    text = str(info.value)
    assert "(max_wall_seconds = 0.3)" in text and "explored so far: " in text, text
    assert " states, " in text and " transitions" in text and "at depth " in text


def test_the_command_line_names_its_own_time_limit_and_the_counts() -> None:
    out = kmapsim_cli("check", "--strategy", "split", "--pages", "3", "--max-seconds", "0.3")
    assert out.returncode == 4, out.stderr
    assert "(--max-seconds 0.3)" in out.stderr and "max_wall_seconds" not in out.stderr
    assert "explored so far: " in out.stderr and " transitions" in out.stderr


def test_the_wall_limit_holds_within_one_long_pct_run() -> None:
    started = time.perf_counter()
    with pytest.raises(kmapsim.WallClockExceeded, match="at run 0"):
        kmapsim.check(strategy="sync", pct_runs=1, pct_steps=2**32 - 1, max_wall_seconds=0.3)
    assert time.perf_counter() - started < 1.5


def test_the_depth_first_continuation_reports_no_depth_past_max_depth() -> None:
    r = kmapsim.check(
        strategy="guarded", cpus=2, slots=2, pages=3, max_depth=20, max_frontier=10,
        max_states=100_000,
    )  # fmt: skip
    assert r.depth_first_from is not None and r.depth == 20, r


def test_a_bound_reached_says_which_bound() -> None:
    """The state bound, the depth bound (depth-first too), or PCT's runs: each says so."""
    state = kmapsim.check(strategy="sync", pages=3, max_states=1000, witness_tries=0)
    assert "(the state bound, max_states = 1,000, was reached;" in state.summary()
    depth = kmapsim.check(strategy="sync", pages=3, max_depth=30)
    assert "(the depth bound, max_depth = 30, was reached: some paths go deeper;" in depth.summary()
    deep = kmapsim.check(strategy="sync", pages=3, max_depth=5000, max_frontier=50)
    assert deep.verdict == "bound reached" and deep.depth_first_from is not None
    assert "the depth bound, max_depth = 5,000, was reached" in deep.summary()
    pct = kmapsim.check(strategy="sync", pct_runs=10)
    assert "(PCT's 10 runs ended, which proves nothing;" in pct.summary()
    assert "reached" not in pct.bound  # neither bound ended it
    # Exactly max_states states, and the depth bound ended it: the search knows which.
    exact = kmapsim.check(strategy="sync", pages=3, max_depth=30, max_states=depth.states)
    assert exact.states == depth.states and exact.bound["reached"] == "max_depth"
    one_less = kmapsim.check(strategy="sync", pages=3, max_depth=30, max_states=depth.states - 1)
    assert one_less.bound["reached"] == "max_states"


@pytest.mark.parametrize(
    "search",
    [
        dict(strategy="sync"),  # safe: 197,427 states, levels large enough for the threads
        dict(strategy="sync", pages=2),  # safe
        dict(strategy="async", max_ipis=1),  # a stale access
        dict(strategy="sync", kmap_irqs_off_prob=1.0),  # a deadlock
        dict(strategy="defer", pages=2, max_frontier=10),  # on depth-first from level 3
        dict(strategy="sync", max_states=500),  # the state bound, mid-level
        dict(strategy="lazy", tasks=3, max_depth=12),  # the depth bound
    ],
)
def test_a_search_on_several_threads_finds_what_one_thread_finds(search: dict[str, Any]) -> None:
    fields = {k: search.pop(k) for k in list(search) if k not in _CHECK_ARGUMENTS}
    sc = check_machine(search.pop("strategy"), **fields)
    one = kmapsim.check(sc, threads=1, witness_tries=0, **search)
    for threads in (2, 3):
        many = kmapsim.check(sc, threads=threads, witness_tries=0, **search)
        assert many == one, threads
        assert many.summary().replace(f"{many.seconds:.2f}", "") == one.summary().replace(
            f"{one.seconds:.2f}", ""
        )


_CHECK_ARGUMENTS = {"strategy", "max_ipis", "max_frontier", "max_states", "max_depth"}


def test_a_wide_level_on_threads_stays_within_what_the_state_bound_admits() -> None:
    """A task's own pages turn page symmetry off, so each state of the second level has some
    6,000 successors, against 6,000 for the whole first level. Jobs were cut by the transitions
    a state had had before (one), so each held hundreds of states and packed every successor
    whatever `max_states` said: the process ran out of memory and aborted on two threads
    (`memory allocation of 2258370560 bytes failed`) where one thread took 0.6 s and 460 MB.
    Under a 3 GiB address-space limit both must finish, with the same result."""
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "import kmapsim\n"
        "from kmapsim.checker import check_machine\n"
        "P = 'kmap handle=a page=cold; kmap handle=b page=private; access handle=a; '\n"
        "P += 'kunmap handle=b; kunmap handle=a'\n"
        "sc = check_machine('sync', cpus=8, slots=4, pages=765, workload='custom', program=P,\n"
        "                   hot_pages=2, shared_page_prob=0.0)\n"
        "for t in (1, 2):\n"
        "    r = kmapsim.check(sc, max_states=50_000, threads=t, witness_tries=0)\n"
        "    print(r.verdict, r.states, r.transitions, r.depth)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    one, two = out.stdout.splitlines()
    assert one == two == "bound reached 50000 54182 1", out.stdout


@pytest.mark.parametrize(
    ("threads", "error", "needle"),
    [
        (0, kmapsim.ScenarioError, "threads: 0 is out of range; allowed: an integer in [1, 1024]"),
        (1025, kmapsim.ScenarioError, "threads: 1025 is out of range"),
        (2.0, kmapsim.ScenarioTypeError, "threads: got float 2.0"),
        (True, kmapsim.ScenarioTypeError, "threads: got bool True"),
    ],
)
def test_threads_out_of_range_or_of_another_type_is_named(
    threads: object, error: type[Exception], needle: str
) -> None:
    with pytest.raises(error) as e:
        kmapsim.check(threads=threads)  # type: ignore[arg-type]
    assert needle in str(e.value)


def test_threads_default_to_the_cores_this_process_may_run_on() -> None:
    from kmapsim.checker import cores

    assert 1 <= cores() <= (os.cpu_count() or 1)
    if hasattr(os, "sched_setaffinity"):
        # A process held to one CPU counts one, whatever the machine has.
        code = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        code += "from kmapsim.checker import cores; print(cores())"
        one = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert one.stdout.strip() == "1", one.stderr
    with pytest.raises(kmapsim.ScenarioError, match="threads: 2 given with pct_runs"):
        kmapsim.check(threads=2, pct_runs=5)
