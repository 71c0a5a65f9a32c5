"""Driving the model from other tools: Simulation in pieces, snapshots, time series, replay."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scenario_space import STRATEGIES, assert_same_result

import kmapsim
from kmapsim import DeadlockError, Scenario, ScenarioError

SMALL = Scenario(cpus=4, last_pkmap=8, pages=128, hot_pages=6, work_cycles=800, ipi_latency=900)
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "replay_small.csv"


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("mode", ["skip", "step"])
def test_pieces_equal_one_run(strategy: str, mode: str) -> None:
    sc = SMALL.replace(strategy=strategy)
    one = kmapsim.run(sc, cycles=400_000, seed=5, mode=mode, trace=500, sample_every=7_000)  # type: ignore[arg-type]
    sim = kmapsim.Simulation(sc, seed=5, mode=mode, trace=500, sample_every=7_000)  # type: ignore[arg-type]
    for step in [1, 1, 999, 12_345, 100_000, 0, 150_000]:
        sim.advance(step)
    sim.advance_to(400_000)
    assert sim.now == 400_000
    pieces = sim.result()
    assert_same_result(one, pieces)
    pd.testing.assert_frame_equal(one.samples, pieces.samples)


def test_snapshot_shows_who_holds_and_who_waits() -> None:
    sim = kmapsim.Simulation(SMALL.replace(cpus=8, work_cycles=200), seed=1)
    seen_holder = seen_waiters = False
    for _ in range(200):
        sim.advance(997)
        snap = sim.snapshot()
        assert snap.cycle == sim.now
        assert list(snap.cpus.index) == list(range(8))
        assert sum(snap.slots[k] for k in ("free", "unused", "in_use")) == 8
        lock = snap.lock("kmap_lock")
        if lock["holder"] is not None:
            seen_holder = True
            assert lock["holder"] not in lock["waiters"]
        for cpu in lock["waiters"]:
            seen_waiters = True
            assert snap.cpus.loc[cpu, "waiting_for"] == "kmap_lock"
        holding = snap.cpus.dropna(subset=["slot"])
        assert (holding["slot"] < 8).all()
        assert snap.counters["kmaps"] >= snap.counters["kunmaps"]
    assert seen_holder and seen_waiters
    r = sim.result()
    assert r.cycles == sim.now and r.counters == sim.snapshot().counters


def test_a_deadlocked_simulation_is_over_but_an_interrupted_one_goes_on() -> None:
    sc = SMALL.replace(kmap_irqs_off_prob=0.5, watchdog_cycles=500_000)
    sim = kmapsim.Simulation(sc, seed=1)
    with pytest.raises(DeadlockError) as first:
        sim.advance(10**9)
    # Over for good: every later call, even advance(0), raises the same documented error.
    for more in (1, 0):
        with pytest.raises(DeadlockError) as again:
            sim.advance(more)
        assert str(again.value) == str(first.value)
        assert again.value.cycle == first.value.cycle == sim.now
    with pytest.raises(ScenarioError):
        kmapsim.Simulation(SMALL, seed=1).advance_to(-1)


def test_time_series_is_the_same_in_both_modes() -> None:
    a = kmapsim.run(SMALL, cycles=300_000, seed=3, sample_every=10_000)
    b = kmapsim.run(SMALL, cycles=300_000, seed=3, sample_every=10_000, mode="step")
    pd.testing.assert_frame_equal(a.samples, b.samples)
    s = a.samples
    assert list(s["cycle"]) == list(range(0, 300_000, 10_000))
    assert (s["free_slots"] <= 8).all() and (s["kmap_lock_waiters"] <= 4).all()
    assert s["kmaps"].is_monotonic_increasing
    assert s["throughput"].iloc[1:].mean() == pytest.approx(a.throughput, rel=0.1)
    assert kmapsim.run(SMALL, cycles=1000, seed=3).samples.empty


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_replaying_recorded_ops_reproduces_the_run(strategy: str, tmp_path: Path) -> None:
    sc = SMALL.replace(strategy=strategy)
    original = kmapsim.run(sc, cycles=500_000, seed=9, record_ops=True)
    assert original.ops is not None and len(original.ops) > 100
    again = kmapsim.run(sc, cycles=500_000, seed=9, replay=original.ops)
    assert again.counters == original.counters
    pd.testing.assert_frame_equal(again.breakdown, original.breakdown)
    path = kmapsim.replay.write_ops(original.ops, tmp_path / "ops.csv")
    from_file = kmapsim.run(sc, cycles=500_000, seed=9, replay=path)
    assert from_file.counters == original.counters


def test_the_example_operation_list_runs_and_then_idles() -> None:
    sc = SMALL.replace(cpus=2, pages=512)
    r = kmapsim.run(sc, cycles=200_000, seed=0, replay=EXAMPLE, trace=10_000)
    assert r.counters["kmaps"] == r.counters["kunmaps"] == 6
    assert r.counters["irq_sections"] == 1 and r.counters["context_switches"] == 1
    assert r.counters["map_hits"] >= 1, "page 7 is shared"
    assert (r.breakdown["idle"] > 150_000).all()
    assert (r.trace.event == "done").sum() == 2


def test_the_cli_replays_the_example() -> None:
    from cli_process import kmapsim_cli

    p = kmapsim_cli(
        "run",
        "--cpus",
        "2",
        "--set",
        "pages=512",
        "--cycles",
        "200000",
        "--json",
        "--replay",
        str(EXAMPLE),
    )
    assert p.returncode == 0, p.stderr
    import json

    doc = json.loads(p.stdout)
    assert doc["counters"]["kmaps"] == doc["counters"]["kunmaps"] == 6
    bad = kmapsim_cli("run", "--cycles", "1000", "--replay", "/nonexistent/ops.csv")
    assert bad.returncode == 2 and "replay" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ("cpu,work,page\n0,0,1\n", "work 0"),
        ("cpu,work,page\n5,10,1\n", "cpu 5"),
        ("cpu,work,page\n0,10,99999\n", "page 99999"),
        ("cpu,work,page,irq_lock,irq_hold\n0,10,1,7,5\n", "irq_lock 7"),
        ("cpu,work\n0,10\n", "missing columns"),
        ("cpu,work,page,colour\n0,10,1,3\n", "unknown columns"),
        ("cpu,work,page\n0,ten,1\n", "line 2 (cpu 0): work 'ten'"),
        ("cpu,work,page\n0,-5,1\n", "line 2 (cpu 0): work -5"),
    ],
)
def test_bad_operation_lists_are_named(rows: str, needle: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(rows)
    with pytest.raises(ScenarioError) as e:
        kmapsim.run(SMALL, cycles=10_000, replay=path)
    assert e.value.field == "replay"
    assert needle in str(e.value)


def test_missing_operation_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        kmapsim.run(SMALL, cycles=10_000, replay=tmp_path / "nope.csv")


def test_a_simulation_goes_on_after_a_cancel_once_the_token_is_reset() -> None:
    tok = kmapsim.CancelToken()
    sim = kmapsim.Simulation(Scenario(cpus=2), cancel=tok)
    sim.advance(10_000)
    tok.cancel()
    with pytest.raises(KeyboardInterrupt, match="CancelToken"):
        sim.advance(10_000)
    assert tok.cancelled and sim.now == 10_000
    tok.reset()
    assert not tok.cancelled and repr(tok) == "CancelToken(cancelled=False)"
    sim.advance(10_000)
    assert sim.now == 20_000
    assert (
        sim.result().to_dict()["counters"]
        == kmapsim.run(Scenario(cpus=2), cycles=20_000).to_dict()["counters"]
    )
