"""What `kmap_lock_hold` and `kmap_lock_wait` measure (docs/model.md, section 9).

The hold starts when the new holder runs under the lock, after the acquire/hand-off cost, as in
lockmeter and lock_stat; that cost is spent spinning (`kmap_spin`). A contended wait runs from
the request to that same cycle, so the hand-off is wait and never hold; an uncontended
acquisition records a wait of 0.
"""

from __future__ import annotations

import pytest

import kmapsim
from kmapsim import Scenario

#: One CPU, fixed durations, nothing random that matters, a pool that never wraps in the runs
#: below (so no flush: every hold is one of the documented in-lock stretches).
QUIET = Scenario(
    cpus=1,
    last_pkmap=1024,
    pages=1 << 20,
    hot_pages=0,
    shared_page_prob=0.0,
    work_dist="fixed",
    work_cycles=1000,
    irq_section_prob=0.0,
    ctx_switch_prob=0.0,
    tlb_evict_rate=0.0,
    copy_cycles=400,
    scan_slot_cycles=4,
    kmap_new_cycles=120,
    kmap_hit_cycles=60,
    # Longer than any mapping path, so that the minimum hold is a mapping's.
    kunmap_cycles=500,
)


def _in_lock_sum(sc: Scenario, r: kmapsim.RunResult) -> int:
    """The hold time the documented in-lock work adds up to when nothing flushes: one slot
    examined and the new mapping, or the hit path, per kmap; the kunmap per kunmap."""
    c = r.counters
    assert c["flushes"] == c["flushes_skipped"] == 0
    assert c["slots_examined"] == c["new_mappings"], "each new mapping took the first slot"
    return (
        (sc.scan_slot_cycles + sc.kmap_new_cycles) * c["new_mappings"]
        + sc.kmap_hit_cycles * c["map_hits"]
        + sc.kunmap_cycles * c["kunmaps"]
    )


@pytest.mark.parametrize("mode", ["skip", "step"])
@pytest.mark.parametrize("acquire", [1, 30, 700])
def test_single_cpu_hold_is_the_in_lock_work_without_the_acquire(mode: str, acquire: int) -> None:
    sc = QUIET.replace(lock_acquire_cycles=acquire)
    r = kmapsim.run(sc, cycles=200_000, seed=1, mode=mode)  # type: ignore[arg-type]
    c = r.counters
    assert c["kmaps"] > 50 and c["map_hits"] == 0
    hold = r.histograms["kmap_lock_hold"]
    # Every hold is S + N = 124 (a new mapping) or U = 500 (a kunmap), whatever the acquire costs.
    assert hold.min == sc.scan_slot_cycles + sc.kmap_new_cycles == 124
    assert hold.max == sc.kunmap_cycles
    assert hold.count == c["kmaps"] + c["kunmaps"]
    assert hold.sum == _in_lock_sum(sc, r)
    # One CPU never waits for another holder: every acquisition records a wait of 0, and the
    # acquire cost is kmap_spin, booked once per acquisition.
    wait = r.histograms["kmap_lock_wait"]
    assert c["kmap_lock_contended"] == 0
    assert wait.sum == wait.max == 0 and wait.counts[0] == wait.count
    # A wait is recorded when the holder starts, its hold at the release: the run may end
    # between the two.
    assert wait.count - hold.count in (0, 1)
    spin = int(r.breakdown["kmap_spin"].sum())
    # ...and the last acquire may still be under way.
    assert acquire * (c["kmap_lock_acquires"] - 1) < spin <= acquire * c["kmap_lock_acquires"]


@pytest.mark.parametrize("mode", ["skip", "step"])
def test_single_cpu_hit_path_hold_is_kmap_hit_cycles(mode: str) -> None:
    """Always the same page: the first kmap maps it, every later one shares the slot (the page
    stays mapped with count 1 between kmaps, as nothing flushes)."""
    sc = QUIET.replace(pages=4, hot_pages=1, shared_page_prob=1.0)
    r = kmapsim.run(sc, cycles=200_000, seed=2, mode=mode)  # type: ignore[arg-type]
    c = r.counters
    assert c["new_mappings"] == 1 and c["map_hits"] == c["kmaps"] - 1 > 50
    hold = r.histograms["kmap_lock_hold"]
    assert hold.min == sc.kmap_hit_cycles
    assert hold.max == sc.kunmap_cycles
    assert hold.sum == _in_lock_sum(sc, r)


#: Eight CPUs on a short loop, so that most acquisitions find the lock taken and pay the
#: hand-off. Still fixed in-lock costs, and a pool and page set large enough that nothing
#: flushes or shares a slot in these runs, so each hold is exactly known.
CONTENDED = QUIET.replace(
    cpus=8, work_cycles=300, copy_cycles=200, kunmap_cycles=50, last_pkmap=4096, pages=1 << 24
)


@pytest.mark.parametrize("mode", ["skip", "step"])
def test_hand_off_is_wait_not_hold(mode: str) -> None:
    holds, waits = [], []
    for handoff in (50, 250, 1000):
        sc = CONTENDED.replace(lock_handoff_cycles=handoff)
        r = kmapsim.run(sc, cycles=400_000, seed=3, mode=mode)  # type: ignore[arg-type]
        c = r.counters
        assert c["kmap_lock_contended"] > 0.8 * c["kmap_lock_acquires"], "a contended lock"
        assert c["map_hits"] == 0
        hold, wait = r.histograms["kmap_lock_hold"], r.histograms["kmap_lock_wait"]
        # The hold is the in-lock work alone, however long the hand-off.
        assert hold.sum == _in_lock_sum(sc, r)
        assert hold.min == sc.kunmap_cycles and hold.max == sc.scan_slot_cycles + sc.kmap_new_cycles
        # A contended wait ends when the holder runs, so it contains the whole hand-off;
        # bucket 0 holds exactly the uncontended acquisitions (finished by the end of the run).
        contended_waits = wait.count - int(wait.counts[0])
        assert wait.sum >= handoff * contended_waits
        assert wait.counts[0] <= c["kmap_lock_acquires"] - c["kmap_lock_contended"]
        # Wait plus the uncontended acquire costs is the time spent in kmap_spin (no IPI here
        # interrupts a spinner), but for at most one open acquisition per CPU at the end.
        spin = int(r.breakdown["kmap_spin"].sum())
        booked = wait.sum + sc.lock_acquire_cycles * int(wait.counts[0])
        assert c["ipis_sent"] == 0
        assert abs(spin - booked) <= sc.cpus * (wait.max + handoff + sc.lock_acquire_cycles)
        # Unchanged mean hold: every hold is a = S + N = 124 or b = U = 50, with as many kunmaps
        # as kmaps but for at most one kmap per CPU whose kunmap has not finished, so the mean
        # is (a + b) / 2 = 87 up to (a - b) / 2 * cpus / count. Before model 3 each contended
        # hold also had the hand-off in it: the mean grew with it by up to 1000 cycles here.
        a, b = sc.scan_slot_cycles + sc.kmap_new_cycles, sc.kunmap_cycles
        assert abs(hold.mean - (a + b) / 2) <= (a - b) / 2 * sc.cpus / hold.count
        holds.append(hold.mean)
        waits.append(wait.mean)
    assert max(holds) - min(holds) < 2.0, holds
    assert waits[0] < waits[1] < waits[2], waits
