"""The engine's semantics through the public API: step equals skip, exact accounting,
determinism, a hand-computed single-CPU run, the safety checker and the deadlock watchdog.

The Rust core has its own unit tests beside the code; these check the same promises as a user
meets them, on scenarios drawn by hypothesis.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_space import assert_same_result as _assert_same
from scenario_space import contended_scenarios

import kmapsim
from kmapsim import DeadlockError, Scenario


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(sc=contended_scenarios(strategy=st.just("sync")), seed=st.integers(0, 2**64 - 1))
def test_step_equals_skip(sc: Scenario, seed: int) -> None:
    cycles = 150_000
    skip = kmapsim.run(sc, cycles=cycles, seed=seed)
    step = kmapsim.run(sc, cycles=cycles, seed=seed, mode="step")
    _assert_same(skip, step)
    assert (skip.breakdown.sum(axis=1) == cycles).all()
    assert skip.counters["stale_accesses"] == 0, "sync must never read a stale translation"


def test_generated_scenarios_reach_wraps_sleeps_and_contention() -> None:
    """The equality test above is only as good as the states its scenarios reach."""
    sc = Scenario(
        cpus=10,
        last_pkmap=4,
        pages=64,
        hot_pages=4,
        work_cycles=500,
        ipi_latency=200,
        copy_cycles=300,
        irq_hold_cycles=500,
    )
    r = kmapsim.run(sc, cycles=200_000, seed=5)
    c = r.counters
    assert c["flushes"] > 0 and c["sleeps"] > 0 and c["wakeups"] > 0
    assert c["kmap_lock_contended"] > 0 and c["ipis_sent"] > 0
    _assert_same(r, kmapsim.run(sc, cycles=200_000, seed=5, mode="step"))


def test_rows_sum_to_cycles_on_the_preset() -> None:
    sc = Scenario.preset("pIII-8way-2001", cpus=8)
    r = kmapsim.run(sc, cycles=10_000_000, seed=1)
    assert list(r.breakdown.columns) == kmapsim.CATEGORIES
    assert (r.breakdown.sum(axis=1) == 10_000_000).all()
    assert r.counters["kmaps"] > 1000
    assert r.counters["flushes"] > 0
    assert r.counters["ipis_sent"] == 7 * r.counters["flushes"]
    assert r.counters["ipis_pending"] == r.counters["ipis_sent"] - r.counters["ipis_handled"]
    assert r.counters["stale_accesses"] == 0


def test_same_seed_same_result_other_seed_other_result() -> None:
    sc = Scenario(cpus=4, last_pkmap=16, pages=256)
    a = kmapsim.run(sc, cycles=500_000, seed=42)
    _assert_same(a, kmapsim.run(sc, cycles=500_000, seed=42))
    b = kmapsim.run(sc, cycles=500_000, seed=43)
    assert a.counters != b.counters


def test_golden_single_cpu_by_hand() -> None:
    """One CPU, four slots, fixed durations: the whole run computed by hand.

    An iteration: work 1000, kmap_lock acquire 30, one slot examined 4, new mapping 120, copy 400
    with a TLB miss (30) on the first of two lookups, kmap_lock 30, kunmap 50 = 1664 cycles.
    The cursor starts at 0: mappings 1-3 take slots 1-3; mapping 4 wraps to slot 0 and flushes
    (4 slots x 6 = 24 cycles of clearing, then a 200-cycle local TLB flush; one CPU sends no
    IPI) = 1888. Eight iterations hold two flushes; the eighth kunmap completes at cycle
    8 * 1664 + 2 * 224, so one more cycle (of work) is simulated to include it.
    """
    sc = Scenario(
        cpus=1,
        last_pkmap=4,
        pages=1 << 20,
        hot_pages=0,
        shared_page_prob=0.0,
        work_dist="fixed",
        work_cycles=1000,
        irq_section_prob=0.0,
        ctx_switch_prob=0.0,
        tlb_evict_rate=0.0,
        copy_cycles=400,
        copy_lookups=2,
        tlb_miss_cycles=30,
        lock_acquire_cycles=30,
        kmap_new_cycles=120,
        scan_slot_cycles=4,
        flush_slot_cycles=6,
        kunmap_cycles=50,
        tlb_flush_cycles=200,
    )
    cycles = 8 * 1664 + 2 * 224 + 1
    for mode in ("skip", "step"):
        r = kmapsim.run(sc, cycles=cycles, seed=3, mode=mode)  # type: ignore[arg-type]
        c = r.counters
        assert (c["kmaps"], c["kunmaps"], c["new_mappings"], c["map_hits"]) == (8, 8, 8, 0)
        assert (c["flushes"], c["slots_cleared"], c["slots_examined"]) == (2, 7, 8)
        assert (c["tlb_misses"], c["tlb_hits"], c["ipis_sent"]) == (8, 8, 0)
        row = r.breakdown.loc[0]
        expected = {
            "work": 8 * 1000 + 1,
            "kmap_spin": 8 * 2 * 30,
            "kmap_locked": 8 * (4 + 120 + 50),
            "copy": 8 * 400,
            "tlb_miss": 8 * 30,
            "flush_scan": 2 * 24,
            "local_flush": 2 * 200,
        }
        assert row.to_dict() == {k: expected.get(k, 0) for k in kmapsim.CATEGORIES}
        h = r.histograms["flush_duration"]
        assert (h.count, h.min, h.max) == (2, 224, 224)
        # kmap_lock is held for the mapping (4 + 120 cycles, 224 more with a flush) and kunmap (50);
        # the 30-cycle acquire is kmap_spin, before the hold starts (as in lockmeter's HOLD).
        hold = r.histograms["kmap_lock_hold"]
        assert hold.count == 16
        assert hold.sum == 8 * (4 + 120 + 50) + 2 * 224


@pytest.mark.parametrize("mode", ["skip", "step"])
def test_misuse_deadlocks_sync_and_names_the_chain(mode: str) -> None:
    sc = Scenario.preset(
        "pIII-8way-2001", cpus=4, kmap_irqs_off_prob=0.5, watchdog_cycles=2_000_000
    )
    with pytest.raises(DeadlockError) as info:
        kmapsim.run(sc, cycles=10**12, seed=1, mode=mode)  # type: ignore[arg-type]
    e = info.value
    assert len(e.chain) == 2
    holder, spinner = (
        e.chain
        if "flush_tlb_all" in dict((c, w) for c, w, _ in e.edges)[e.chain[0]]
        else e.chain[::-1]
    )
    what = {c: w for c, w, _ in e.edges}
    assert "holds kmap_lock" in what[holder] and "flush_tlb_all" in what[holder]
    assert "spins on kmap_lock with interrupts disabled" in what[spinner]
    assert f"held by cpu{holder}" in what[spinner]
    assert e.cycle < 10**9, "the watchdog fires in bounded time"
    assert "wait-for cycle" in str(e)


def test_misuse_without_contention_for_the_ack_does_not_deadlock() -> None:
    """One CPU sends no IPI, so misuse alone is harmless there."""
    sc = Scenario(cpus=1, kmap_irqs_off_prob=1.0, last_pkmap=8, pages=100, hot_pages=0)
    r = kmapsim.run(sc, cycles=2_000_000, seed=2)
    c = r.counters
    assert c["flushes"] > 0
    # Every kmap was misused (the last may still be in progress at the end).
    assert c["kmaps"] > 0 and c["kmaps"] <= c["kmaps_irqs_off"] <= c["kmaps"] + 1


def test_a_bug_in_the_middle_of_a_cycle_leaves_both_modes_alike() -> None:
    """A kernel BUG stops the run halfway through a cycle: the CPUs before the failing one
    have acted in it. `skip` mode, which folds an access's lookups into one stretch, must
    report and show exactly what `step` mode does (counters, events, next actions)."""
    sc = Scenario(
        cpus=2,
        last_pkmap=8,
        pages=16,
        hot_pages=2,
        tlb_evict_rate=0,
        work_cycles=3000,
        program="work; kmap handle=a; access handle=a lookups=4000 cycles=4000; "
        "kmap handle=a prob=0.2; kunmap handle=a",
    )
    bugs = 0
    for seed in range(14):
        seen = []
        for mode in ("step", "skip"):
            sim = kmapsim.Simulation(sc, seed=seed, mode=mode)
            try:
                sim.advance(10**7)
            except kmapsim.KernelBug:
                bugs += mode == "step"
            r = sim.result()
            seen.append((sim.now, r.counters, r.events, sim.snapshot().cpus))
        (step, skip) = seen
        assert step[:3] == skip[:3], f"seed {seed}"
        assert step[3].equals(skip[3]), f"seed {seed}"
    assert bugs > 0
