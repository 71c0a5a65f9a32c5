"""The shootdown designs since 2001 as a user sees them (docs/model.md 12.7-12.12): what their
traces say, what their deadlock reports name, and what their lock statistics show."""

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


#: The flush-bound corner of docs/validation.md, section b.
CORNER = dict(cpus=8, work_cycles=2000, last_pkmap=64, irq_hold_cycles=30000)


def test_split_holds_kmap_lock_for_no_shootdown() -> None:
    # sync's longest kmap_lock hold contains a whole shootdown; split's none, since it flushes
    # the retired half with the lock dropped (docs/model.md 12.12).
    runs = {
        s: kmapsim.run(Scenario.preset("pIII-8way-2001", strategy=s, **CORNER), cycles=4_000_000)
        for s in ("sync", "split")
    }
    for s, r in runs.items():
        assert r.counters["flushes"] > 10 and r.counters["stale_accesses"] == 0, s
    shortest = runs["split"].histograms["shootdown"].min
    assert runs["sync"].lock_stats.loc["kmap_lock", "hold_max_cycles"] > shortest
    assert runs["split"].lock_stats.loc["kmap_lock", "hold_max_cycles"] < shortest
    util = {s: r.lock_stats.loc["kmap_lock", "util_pct"] for s, r in runs.items()}
    assert util["split"] < util["sync"] / 4


def test_split_kmaps_wait_for_the_other_half_on_pkmap_map_wait() -> None:
    sc = Scenario(strategy="split", cpus=4, last_pkmap=16, pages=512, hot_pages=0,
                  work_cycles=500, ipi_latency=20_000, irq_section_prob=0.0)  # fmt: skip
    sim = kmapsim.Simulation(sc, seed=1)
    halves, asleep_in_flight = set(), False
    for _ in range(400):
        sim.advance(5_000)
        snap = sim.snapshot()
        halves.add(snap.slots["half"])
        in_flight = snap.slots["half_in_flight"]
        assert in_flight in (None, 1 - snap.slots["half"])  # never the half allocated from
        asleep_in_flight |= in_flight is not None and bool(snap.sleeping)
    assert halves == {0, 1} and asleep_in_flight
    r = sim.result()
    assert r.counters["split_waits"] > 0 and r.counters["sleeps"] >= r.counters["split_waits"]


@pytest.mark.parametrize("slot_alloc", ["scan", "freelist"])
def test_defer_sends_under_a_fifth_of_syncs_ipis_on_the_default_preset(slot_alloc: str) -> None:
    # The half-lap between clearing a half and reusing it lets the CPUs catch up at their
    # context switches (docs/model.md 12.11; migrc: -91 % shootdown interrupts).
    ipis = {
        s: kmapsim.run(Scenario(strategy=s, slot_alloc=slot_alloc), cycles=100_000_000, seed=1)
        for s in ("sync", "defer")
    }
    assert ipis["defer"].counters["stale_accesses"] == 0
    assert 5 * ipis["defer"].counters["ipis_sent"] < ipis["sync"].counters["ipis_sent"]
