"""Every strategy and allocator: step equals skip, the accounting holds, and the safe strategies
never read a stale translation."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_space import SAFE_STRATEGIES, STRATEGIES, assert_same_result, contended_scenarios

import kmapsim
from kmapsim import Scenario


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(sc=contended_scenarios(), seed=st.integers(0, 2**64 - 1))
def test_step_equals_skip_for_every_strategy(sc: Scenario, seed: int) -> None:
    cycles = 100_000
    skip = kmapsim.run(sc, cycles=cycles, seed=seed, trace=300)
    step = kmapsim.run(sc, cycles=cycles, seed=seed, mode="step", trace=300)
    assert_same_result(skip, step)
    c = skip.counters
    assert (skip.breakdown.sum(axis=1) == cycles).all()
    assert c["ipis_sent"] == c["ipis_handled"] + c["ipis_pending"]
    # Every CPU holds at most one mapping, so kmaps and kunmaps differ by at most the CPU count.
    assert 0 <= c["kmaps"] - c["kunmaps"] <= sc.cpus


@pytest.mark.parametrize("strategy", SAFE_STRATEGIES)
def test_safe_strategies_never_read_stale_entries(strategy: str) -> None:
    @settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(sc=contended_scenarios(strategy=st.just(strategy)), seed=st.integers(0, 2**64 - 1))
    def check(sc: Scenario, seed: int) -> None:
        r = kmapsim.run(sc, cycles=200_000, seed=seed)
        assert r.counters["stale_accesses"] == 0, (sc, seed, r.violations[:1])

    check()


def test_the_generated_space_reaches_every_strategy_path() -> None:
    """The properties above mean something only if the scenarios exercise each mechanism."""
    base = Scenario(
        cpus=6,
        last_pkmap=4,
        pages=64,
        hot_pages=4,
        work_cycles=400,
        copy_cycles=200,
        ipi_latency=1500,
        tlb_entries=4,
    )
    seen = {}
    for strategy in STRATEGIES:
        for alloc in ("scan", "freelist"):
            r = kmapsim.run(
                base.replace(strategy=strategy, slot_alloc=alloc), cycles=300_000, seed=1
            )
            seen[strategy, alloc] = r.counters
    for (strategy, alloc), c in seen.items():
        if strategy == "local":
            assert c["kmap_lock_acquires"] == c["flushes"] == c["ipis_sent"] == 0
            assert c["invlpgs"] == c["new_mappings"] > 0
            continue
        assert c["flushes"] > 0 and c["sleeps"] > 0, (strategy, alloc)
        if strategy in ("sync", "targeted", "async", "guarded"):
            assert c["ipis_sent"] > 0, (strategy, alloc)
        if strategy in ("guarded", "lazy"):
            assert c["gen_flushes"] > 0, (strategy, alloc)
    assert seen["async", "scan"]["stale_accesses"] > 0, "async's race is reachable in this space"
