"""The shootdown designs since 2001 as a user sees them (docs/model.md 12.7-12.11): what their
traces say, and what their deadlock reports name."""

from __future__ import annotations

import pytest

import kmapsim
from kmapsim import Scenario


def flush_whys(strategy: str, **fields: object) -> dict[int, set[str]]:
    sc = Scenario(strategy=strategy, cpus=3, last_pkmap=16, pages=256, hot_pages=0, **fields)  # type: ignore[arg-type]
    tr = kmapsim.run(sc, cycles=2_000_000, seed=1, trace=100_000).trace
    flushes = tr[tr.event == "tlb_flush"]
    out: dict[int, set[str]] = {}
    for cpu, fields_ in zip(flushes.cpu, flushes.fields, strict=True):
        out.setdefault(int(cpu), set()).add(fields_["why"])
    return out


def test_a_broadcast_shows_on_every_other_cpus_track() -> None:
    whys = flush_whys("broadcast")
    assert set(whys) == {0, 1, 2}
    assert all("broadcast" in w for w in whys.values())
    assert not any("handler" in w for w in whys.values())  # no IPI, no handler


def test_a_ranged_flush_is_labelled_as_a_range() -> None:
    # 15 or 16 slots cleared per wrap: per page under a ceiling of 16, full under 8.
    assert "range" in set().union(*flush_whys("ranged", tlb_flush_ceiling=16).values())
    full = set().union(*flush_whys("ranged", tlb_flush_ceiling=8).values())
    assert "range" not in full and {"handler", "local"} <= full


def test_a_defer_deadlock_names_the_reuse_not_flush_tlb_all() -> None:
    # An interrupts-off kmap blocks the IPI of a forced shootdown before a slot is reused.
    sc = Scenario(
        strategy="defer",
        cpus=4,
        last_pkmap=4,
        pages=64,
        hot_pages=0,
        ctx_switch_prob=0.0,
        kmap_irqs_off_prob=1.0,
        work_dist="fixed",
        work_cycles=100,
    )
    with pytest.raises(kmapsim.DeadlockError) as e:
        kmapsim.run(sc, cycles=50_000_000, seed=1)
    assert "before reusing a cleared slot (defer)" in str(e.value)
    assert "flush_tlb_all" not in str(e.value)


def test_lazys_catch_up_before_the_lock_has_its_own_phase() -> None:
    sc = Scenario.preset("pIII-8way-2001", strategy="lazy", cpus=4, last_pkmap=8, work_cycles=500)
    sim = kmapsim.Simulation(sc, seed=3)
    seen = set()
    for _ in range(400):
        sim.advance(97)
        seen |= set(sim.snapshot().cpus["phase"])
    assert "CaughtUp" in seen
