"""Hostile input against the engine's door (`run`, `Simulation`), grouped by kind of fault.

Kind 1: no silent wrong result. Kind 2: the interpreter never aborts and only documented
exceptions come out. Kind 5: operation lists that end or stall are not deadlocks. Each test is
a reproducer from the review, asserting the behaviour now.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pandas as pd
import pytest

import kmapsim
from kmapsim import (
    DeadlockError,
    Scenario,
    ScenarioError,
    SimulationBusy,
    WallClockExceeded,
)
from kmapsim.runner import MAX_TRACE, RECORD_BUDGET_BYTES

SMALL = Scenario(cpus=2, last_pkmap=8, pages=64, hot_pages=8, work_cycles=2000)

# --- Kind 1: silent wrong results ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["skip", "step"])
@pytest.mark.parametrize(
    ("column", "value"),
    [("work", 2**64 - 1000), ("work", 2**40 + 1), ("irq_hold", 2**64 - 1)],
)
def test_replayed_durations_that_would_overflow_the_clock_are_refused(
    mode: str, column: str, value: int
) -> None:
    row = {"cpu": [0, 0, 0], "work": [100, 100, 100], "page": [1, 2, 3]}
    row["irq_lock"] = [-1, 0, -1]
    row["irq_hold"] = [0, 5, 0]
    row[column][1] = value
    ops = pd.DataFrame(
        {k: np.array(v, dtype=np.uint64 if k != "irq_lock" else np.int64) for k, v in row.items()}
    )
    with pytest.raises(ScenarioError) as e:
        kmapsim.run(Scenario(cpus=1), cycles=200_000, replay=ops, mode=mode)  # type: ignore[arg-type]
    assert e.value.field == "replay"
    assert column in str(e.value)
    assert "1099511627776" in e.value.allowed


def test_the_longest_replayed_duration_keeps_time_consistent() -> None:
    ops = {0: [dict(work=100, page=1), dict(work=2**40, page=2), dict(work=100, page=3)]}
    r = kmapsim.run(Scenario(cpus=1), cycles=200_000, replay=ops)
    assert r.breakdown.sum(axis=1).tolist() == [200_000]


def test_a_deadlocked_run_never_ends_looking_healthy_at_default_lengths() -> None:
    """The review's reproducer: `kmapsim run --set kmap_irqs_off_prob=0.5 --cycles 50000000
    --seed 1` exited 0 with a throughput while 82.6% of cycles spun on kmap_lock."""
    sc = Scenario(kmap_irqs_off_prob=0.5)
    assert sc.watchdog_cycles == 50_000_000
    for cycles in (10_000_000, 20_000_000, 50_000_000):
        with pytest.raises(DeadlockError) as e:
            kmapsim.run(sc, cycles=cycles, seed=1)
        assert e.value.cycle < cycles
        assert e.value.chain, e.value
        assert "no CPU can ever run again" in e.value.reason
    with pytest.raises(DeadlockError) as step:
        kmapsim.run(sc, cycles=e.value.cycle + 1, seed=1, mode="step")
    assert (step.value.cycle, step.value.chain) == (e.value.cycle, e.value.chain)


def test_wall_clock_exceeded_says_how_far_the_run_got() -> None:
    with pytest.raises(WallClockExceeded) as e:
        kmapsim.run(Scenario(cpus=8), cycles=2**50, max_wall_seconds=0.05)
    assert e.value.cycle > 0
    assert f"cycle {e.value.cycle}" in str(e.value)
    sim = kmapsim.Simulation(Scenario(cpus=8), max_wall_seconds=0.05)
    with pytest.raises(WallClockExceeded) as e:
        sim.advance(2**49)
    assert e.value.cycle == sim.now > 0


# --- Kind 2: no abort, only documented exceptions ----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(trace=100_000_000), "trace"),
        (dict(trace=MAX_TRACE + 1), "trace"),
        (dict(sample_every=1), "sample_every"),
        (dict(trace=MAX_TRACE, sample_every=1000), "sample_every"),
        (dict(max_wall_seconds=10**400), "max_wall_seconds"),
        (dict(max_wall_seconds=-(10**400)), "max_wall_seconds"),
        (dict(mode="x" * 10_000_000), "mode"),
        (dict(cancel="yes"), "cancel"),
    ],
)
def test_records_past_the_budget_and_odd_arguments_are_refused_before_running(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ScenarioError) as e:
        kmapsim.run(SMALL, cycles=50_000_000, **kwargs)  # type: ignore[arg-type]
    assert e.value.field == field
    assert len(str(e.value)) < 1000, "a huge value is not copied into the message"


def test_the_record_budget_holds_over_a_simulations_whole_life() -> None:
    every = 1000
    room = RECORD_BUDGET_BYTES // 300  # samples that fit
    sim = kmapsim.Simulation(SMALL, sample_every=every)
    sim.advance(every * (room // 2))  # half the budget: allowed
    with pytest.raises(ScenarioError) as e:
        sim.advance(every * (room // 2 + 10))  # the other half and more: refused
    assert e.value.field == "sample_every"
    # A refusal leaves the simulation as it was: it goes on.
    before = sim.now
    sim.advance(every)
    assert sim.now == before + every


def test_a_recording_run_stops_at_the_budget_with_a_named_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Fill the budget with a trace cap and record: the first recorded op past it stops the run.
    with pytest.raises(ScenarioError) as e:
        kmapsim.run(SMALL, cycles=1_000_000, trace=MAX_TRACE, record_ops=True)
    assert e.value.field == "record_ops"


LIMITED = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3_000_000_000, 3_000_000_000))
    import kmapsim
    sc = kmapsim.Scenario()
    for kw in ({"trace": 100_000_000}, {"sample_every": 1}):
        try:
            kmapsim.run(sc, cycles=50_000_000, **kw)
        except kmapsim.ScenarioError as e:
            print("refused", e.field)
    """
)


def test_accepted_limits_no_longer_abort_under_an_address_space_limit() -> None:
    """The review ran these under `prlimit --as=3000000000`: SIGABRT, exit 134."""
    p = subprocess.run([sys.executable, "-c", LIMITED], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:2] == ["refused trace", "refused sample_every"]


def test_a_simulation_after_a_deadlock_raises_the_deadlock_again() -> None:
    sim = kmapsim.Simulation(SMALL.replace(kmap_irqs_off_prob=0.5), seed=1)
    with pytest.raises(DeadlockError):
        sim.advance(10**9)
    for call in (lambda: sim.advance(0), lambda: sim.advance_to(sim.now)):
        with pytest.raises(DeadlockError):
            call()
    assert sim.result().cycles == sim.now  # what was measured can still be read


def test_a_simulation_used_from_two_threads_raises_a_clear_error() -> None:
    sim = kmapsim.Simulation(Scenario(cpus=64), max_wall_seconds=1.5)
    errors: list[BaseException] = []

    def advance() -> None:
        try:
            sim.advance(2**45)
        except BaseException as e:  # the wall-clock limit ends it
            errors.append(e)

    worker = threading.Thread(target=advance)
    worker.start()
    time.sleep(0.3)
    with pytest.raises(SimulationBusy, match="another thread"):
        sim.snapshot()
    with pytest.raises(SimulationBusy):
        sim.advance(1)
    worker.join()
    assert len(errors) == 1 and isinstance(errors[0], WallClockExceeded)


def test_a_cancel_token_stops_only_its_own_run() -> None:
    token = kmapsim.CancelToken()
    results: dict[str, object] = {}

    def go(name: str, cycles: int, cancel: kmapsim.CancelToken | None) -> None:
        try:
            results[name] = kmapsim.run(Scenario(cpus=8), cycles=cycles, cancel=cancel)
        except BaseException as e:
            results[name] = e

    mine = threading.Thread(target=go, args=("mine", 2**50, token))
    # About two seconds of work: still running when the token is cancelled.
    other = threading.Thread(target=go, args=("other", 10_000_000_000, None))
    other.start()
    mine.start()
    time.sleep(0.2)
    token.cancel()
    mine.join()
    assert other.is_alive(), "the other run must still be running when the token is cancelled"
    other.join()
    assert isinstance(results["mine"], KeyboardInterrupt)
    assert isinstance(results["other"], kmapsim.RunResult)
    assert token.cancelled and repr(token) == "CancelToken(cancelled=True)"


# --- Kind 5: operation lists that end, or stall legitimately -----------------------------------


def test_a_list_that_ends_beside_a_very_long_interrupts_off_stretch_is_no_deadlock() -> None:
    """One CPU's list ends while the other is frozen for 10^12 cycles (as in suspend): the
    watchdog waits the stretch out instead of raising an empty-chain DeadlockError."""
    ops = {
        0: [dict(work=10, page=1)],
        1: [
            dict(work=10, page=2),
            dict(work=20, page=3, irq_lock=0, irq_hold=10**12),
            dict(work=10, page=4),
        ],
    }
    r = kmapsim.run(SMALL, cycles=10**12 + 10**8, replay=ops)
    assert r.counters["kmaps"] == 4
    assert r.breakdown.loc[0, "idle"] > 10**12


def test_every_deadlock_carries_a_chain_or_a_concrete_reason() -> None:
    for strategy in ("sync", "targeted"):
        sc = SMALL.replace(cpus=4, strategy=strategy, kmap_irqs_off_prob=0.5)
        with pytest.raises(DeadlockError) as e:
            kmapsim.run(sc, cycles=10**9, seed=2)
        assert e.value.chain or e.value.reason
        assert e.value.reason in str(e.value)


# --- Kind 4: concurrency ------------------------------------------------------------------------


def test_a_failing_sweep_stops_only_its_own_runs() -> None:
    """A sweep that fails used to call the process-wide cancel, so an unrelated run in another
    thread got KeyboardInterrupt."""
    results: list[object] = []

    def unrelated() -> None:
        try:
            results.append(kmapsim.run(Scenario(cpus=8), cycles=10_000_000_000))
        except BaseException as e:
            results.append(e)

    other = threading.Thread(target=unrelated)
    other.start()
    time.sleep(0.1)
    with pytest.raises(DeadlockError):
        kmapsim.sweep(
            SMALL,
            grid={"kmap_irqs_off_prob": [0.5, 0.0]},
            seeds=4,
            cycles=10**9,
            progress=False,
        )
    assert other.is_alive(), "the unrelated run must still be running when the sweep fails"
    other.join()
    assert isinstance(results[0], kmapsim.RunResult), results


# --- Found by a fresh attack on the fixes above ------------------------------------------------


def test_a_token_cancelled_before_the_run_stops_even_a_short_run() -> None:
    token = kmapsim.CancelToken()
    token.cancel()
    with pytest.raises(KeyboardInterrupt, match="before cycle 0"):
        kmapsim.run(SMALL, cycles=1000, cancel=token)


@pytest.mark.parametrize("bad", [np.array([1, 2]), 2, "yes", None, 0.5])
def test_record_ops_takes_only_a_truth_value(bad: object) -> None:
    for call in (
        lambda: kmapsim.run(SMALL, cycles=1000, record_ops=bad),  # type: ignore[arg-type]
        lambda: kmapsim.Simulation(SMALL, record_ops=bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(ScenarioError) as e:
            call()
        assert e.value.field == "record_ops"


def test_an_unknown_lock_name_in_a_snapshot_lists_the_names() -> None:
    snap = kmapsim.Simulation(SMALL).snapshot()
    with pytest.raises(ScenarioError, match="kmap_lock, call_lock"):
        snap.lock("bogus" * 1_000_000)


def test_a_result_after_a_deadlock_says_that_the_run_stopped() -> None:
    sim = kmapsim.Simulation(SMALL.replace(kmap_irqs_off_prob=0.5), seed=1)
    with pytest.raises(DeadlockError) as e:
        sim.advance(10**9)
    r = sim.result()
    assert r.stopped == str(e.value)
    assert "STOPPED" in repr(r) and "deadlock" in repr(r)
    back = kmapsim.RunResult.from_dict(r.to_dict())
    assert back.stopped == r.stopped
    assert kmapsim.run(SMALL, cycles=1000).stopped is None


@pytest.mark.parametrize(
    "scenario",
    [{"strategy": "x" * 10_000_000}, {"y" * 10_000_000: 1}, {"cpus": 1, "z" * 100: 1}],
)
def test_the_engine_quotes_huge_strings_short_and_fast(scenario: dict[str, object]) -> None:
    """The same fault as the Python layer's long quotes, in the engine's own messages: a huge
    choice value or field name is cut in the message, and no edit distance is computed for a
    name far longer than any field's."""
    from kmapsim import _core

    start = time.perf_counter()
    with pytest.raises(ScenarioError) as e:
        _core.validate(scenario)
    assert len(str(e.value)) < 2000
    assert time.perf_counter() - start < 30.0  # a hang guard (minutes before), not a timing
