//! The shootdown designs since 2001 (docs/model.md, sections 12.7-12.12): each one's shootdown
//! costs what its rule says, by hand against `sync` on a quiet machine, and none reads stale.

use crate::config::{Dist, Scenario, SlotAlloc, Strategy, Workload};
use crate::engine::{Mode, run_to_end};
use crate::error::SimError;

/// No interrupts-off section and fixed work: every shootdown of a run takes the same time.
fn quiet(strategy: Strategy, cpus: u64) -> Scenario {
    Scenario {
        strategy,
        cpus,
        last_pkmap: 16,
        pages: 512,
        hot_pages: 0,
        work_cycles: 20_000,
        work_dist: Dist::Fixed,
        irq_section_prob: 0.0,
        ctx_switch_prob: 0.0,
        ipi_ack_per_target_cycles: 50,
        ..Scenario::default()
    }
}

/// The one shootdown latency of a quiet run, and the run's report.
fn shootdown(sc: &Scenario) -> (u64, crate::report::RunReport) {
    let r = run_to_end(sc, 4_000_000, 1, Mode::Skip).unwrap();
    let h = &r.histograms.shootdown;
    assert!(h.count > 3, "{:?}: too few shootdowns", sc.strategy);
    assert_eq!(h.min, h.max, "{:?}: shootdowns vary", sc.strategy);
    (h.min, r)
}

#[test]
fn broadcast_invalidates_every_tlb_without_an_ipi() {
    let sc = quiet(Strategy::Broadcast, 5);
    let (latency, r) = shootdown(&sc);
    assert_eq!(latency, sc.tlb_broadcast_cycles);
    let k = &r.counters;
    assert_eq!((k.ipis_sent, k.ipis_handled), (0, 0));
    assert_eq!(k.broadcast_flushes, 4 * k.flushes);
    assert_eq!(k.stale_accesses, 0);
}

#[test]
fn broadcast_survives_the_interrupts_off_misuse_that_deadlocks_sync() {
    let misuse = |strategy| Scenario {
        strategy,
        cpus: 4,
        kmap_irqs_off_prob: 1.0,
        ..Scenario::default()
    };
    let err = run_to_end(&misuse(Strategy::Sync), 50_000_000, 1, Mode::Skip).unwrap_err();
    assert!(matches!(err, SimError::Deadlock(_)));
    let r = run_to_end(&misuse(Strategy::Broadcast), 50_000_000, 1, Mode::Skip).unwrap();
    assert!(r.counters.flushes > 0 && r.counters.kmaps > 1000);
}

#[test]
fn concurrent_saves_exactly_the_local_flush() {
    // The acks take longer than the local flush, so the flush is hidden entirely.
    for cpus in [2, 4] {
        let (sync, _) = shootdown(&quiet(Strategy::Sync, cpus));
        let sc = quiet(Strategy::Concurrent, cpus);
        let (concurrent, r) = shootdown(&sc);
        assert_eq!(sync - concurrent, sc.tlb_flush_cycles, "{cpus} CPUs");
        assert_eq!(
            r.counters.tlb_flushes,
            r.counters.ipis_handled + r.counters.flushes
        );
    }
}

#[test]
fn early_ack_saves_the_targets_handler_and_flush() {
    for cpus in [2, 4] {
        let (sync, _) = shootdown(&quiet(Strategy::Sync, cpus));
        let sc = quiet(Strategy::EarlyAck, cpus);
        let (early, r) = shootdown(&sc);
        assert_eq!(
            sync - early,
            sc.ipi_handler_cycles + sc.tlb_flush_cycles,
            "{cpus} CPUs"
        );
        assert_eq!(r.counters.stale_accesses, 0);
    }
}

#[test]
fn ranged_invalidates_the_cleared_slots_up_to_the_ceiling() {
    // A wrap of the 16-slot pool clears up to 16 slots: per page under a ceiling of 16 (one
    // invlpg per cleared slot on each of the 3 CPUs instead of a full flush), a full flush
    // under a ceiling of 15 once a wrap clears all 16.
    let mut sc = quiet(Strategy::Ranged, 3);
    sc.tlb_flush_ceiling = 16;
    sc.tlb_refill_cycles = 1000;
    let (sync, _) = shootdown(&Scenario {
        strategy: Strategy::Sync,
        ..sc.clone()
    });
    let r = run_to_end(&sc, 4_000_000, 1, Mode::Skip).unwrap();
    let k = &r.counters;
    assert!(k.flushes > 3);
    assert_eq!(k.tlb_flushes, 0);
    assert_eq!(k.range_flushes, k.ipis_handled + k.flushes);
    assert_eq!(k.invlpgs, 3 * k.slots_cleared);
    assert_eq!(k.tlb_refills, 0, "a ranged flush leaves nothing to refill");
    // The longest shootdown cleared 16: two TLB flushes in a row (the last target's, then the
    // flusher's own) of 16 invlpgs each instead of two full flushes.
    let per_tlb = 16 * sc.tlb_invlpg_cycles;
    assert_eq!(
        sync + 2 * per_tlb,
        r.histograms.shootdown.max + 2 * sc.tlb_flush_cycles
    );
    sc.tlb_flush_ceiling = 15;
    let r = run_to_end(&sc, 4_000_000, 1, Mode::Skip).unwrap();
    assert!(r.counters.tlb_flushes > 0 && r.counters.tlb_refills > 0);
    assert_eq!(
        r.histograms.shootdown.min, sync,
        "a full flush costs what it costs under sync"
    );
}

#[test]
fn defer_reuses_a_half_a_half_lap_later_and_sends_almost_no_ipi() {
    // A cleared half is handed out again only after the cursor has lapped the other half, by
    // which time nearly every CPU has flushed at a context switch (docs/model.md, 12.11): the
    // default preset sends fewer than a fifth of sync's shootdown IPIs (migrc: -91 %), with
    // either allocator and no stale access.
    for alloc in [SlotAlloc::Scan, SlotAlloc::Freelist] {
        let base = Scenario {
            slot_alloc: alloc,
            ..Scenario::default()
        };
        let sync = run_to_end(&base, 100_000_000, 1, Mode::Skip).unwrap();
        let sc = Scenario {
            strategy: Strategy::Defer,
            ..base
        };
        let r = run_to_end(&sc, 100_000_000, 1, Mode::Skip).unwrap();
        let k = &r.counters;
        assert!(k.flushes > 5 && sync.counters.ipis_sent > 100, "{alloc:?}");
        assert!(
            5 * k.ipis_sent < sync.counters.ipis_sent,
            "{alloc:?}: {k:?}"
        );
        assert!(
            k.gen_flushes > k.flushes,
            "{alloc:?}: they catch up at switches"
        );
        assert_eq!(k.stale_accesses, 0);
    }
}

#[test]
fn split_runs_the_shootdown_with_kmap_lock_dropped() {
    // The same shootdown as sync on a quiet machine, but outside kmap_lock: sync's longest
    // kmap_lock hold contains a whole shootdown, split's none; and a wrap clears half a pool.
    for alloc in [SlotAlloc::Scan, SlotAlloc::Freelist] {
        let sync = Scenario {
            slot_alloc: alloc,
            ..quiet(Strategy::Sync, 4)
        };
        let sc = Scenario {
            strategy: Strategy::Split,
            ..sync.clone()
        };
        let (sync_latency, s) = shootdown(&sync);
        let (latency, r) = shootdown(&sc);
        assert_eq!(latency, sync_latency, "{alloc:?}");
        assert!(s.histograms.kmap_lock_hold.max > sync_latency, "{alloc:?}");
        assert!(r.histograms.kmap_lock_hold.max < latency, "{alloc:?}");
        let k = &r.counters;
        assert!(k.slots_cleared <= 8 * k.flushes, "{alloc:?}: {k:?}");
        assert_eq!(k.ipis_sent, 3 * k.flushes);
        assert_eq!(k.stale_accesses, 0);
        crate::invariants::check(&sc, 4_000_000, 1).unwrap();
    }
}

#[test]
fn split_sleeps_on_pkmap_map_wait_while_the_other_half_is_in_flight() {
    // Kmaps faster than a shootdown on a small pool: a half runs out while the other half's
    // shootdown is still running, so kmaps sleep on pkmap_map_wait and the flusher wakes them.
    for alloc in [SlotAlloc::Scan, SlotAlloc::Freelist] {
        let sc = Scenario {
            slot_alloc: alloc,
            work_cycles: 500,
            ipi_latency: 20_000,
            ..quiet(Strategy::Split, 4)
        };
        let r = run_to_end(&sc, 4_000_000, 1, Mode::Skip).unwrap();
        let k = &r.counters;
        assert!(k.split_waits > 10, "{alloc:?}: {k:?}");
        // Every sleeper is woken, but those still asleep at the end (at most one a CPU).
        assert!(
            k.sleeps >= k.split_waits && k.wakeups + sc.cpus >= k.sleeps,
            "{k:?}"
        );
        assert_eq!(k.stale_accesses, 0);
        crate::invariants::check(&sc, 4_000_000, 1).unwrap();
    }
}

#[test]
fn split_survives_the_interrupts_off_misuse_that_deadlocks_sync() {
    // The flusher no longer holds kmap_lock while it waits for acks, so a CPU spinning on
    // kmap_lock with interrupts off is never what it waits for (docs/model.md, 12.12).
    let sc = Scenario {
        strategy: Strategy::Split,
        cpus: 4,
        kmap_irqs_off_prob: 1.0,
        ..Scenario::default()
    };
    let r = run_to_end(&sc, 50_000_000, 1, Mode::Skip).unwrap();
    assert!(r.counters.flushes > 5 && r.counters.kmaps > 1000);
    crate::invariants::check(&sc, 20_000_000, 1).unwrap();
}

#[test]
fn defer_shoots_down_the_cpus_still_behind_when_a_slot_is_reused() {
    // No context switch at all: nobody catches up on its own, so reusing a cleared slot needs
    // an IPI to every CPU that has not flushed since; the CPUs then are up to date.
    let sc = Scenario {
        ctx_switch_prob: 0.0,
        ..quiet(Strategy::Defer, 4)
    };
    let r = run_to_end(&sc, 4_000_000, 1, Mode::Skip).unwrap();
    let k = &r.counters;
    assert!(k.deferred_shootdowns > 0 && k.ipis_sent > 0, "{k:?}");
    assert!(k.ipis_sent <= 3 * k.deferred_shootdowns);
    assert_eq!(k.stale_accesses, 0);
    crate::invariants::check(&sc, 4_000_000, 1).unwrap();
}

#[test]
fn a_split_pool_sleeps_only_when_the_whole_pool_is_in_use() {
    // One task holds a mapping and asks for a second on a 2-slot pool, one slot a half. When
    // the half it lands in has only the slot it just kunmapped (count 1), the lap goes on to the
    // end of that half too and back to the half just cleared, instead of sleeping forever: a
    // kmap sleeps only when the whole pool is in use, as in 2.4 (docs/model.md 12.12); so a
    // kmap retires each half at most once. (A lap of one slot ends at every advance: about one
    // flush a mapping, where 2.4's 2-slot lap has one per two.)
    for strategy in [Strategy::Split, Strategy::Defer] {
        for slot_alloc in [SlotAlloc::Scan, SlotAlloc::Freelist] {
            let sc = Scenario {
                strategy,
                slot_alloc,
                cpus: 1,
                last_pkmap: 2,
                workload: Workload::TwoPageCopy,
                block_cycles: 1_000,
                ..Scenario::default()
            };
            let r = run_to_end(&sc, 2_000_000, 1, Mode::Skip).unwrap();
            let k = &r.counters;
            assert!(
                k.kmaps > 50 && k.sleeps == 0,
                "{strategy:?} {slot_alloc:?}: {k:?}"
            );
            assert!(
                k.flushes <= 2 * k.new_mappings,
                "{strategy:?} {slot_alloc:?}: {k:?}"
            );
            crate::invariants::check(&sc, 2_000_000, 1).unwrap();
        }
    }
}

#[test]
fn a_split_pool_in_use_for_good_is_the_two_kmap_deadlock_not_a_livelock() {
    // Every slot held by a task asleep for a second one: the empty flushes at the ends of the
    // halves wake nobody (nothing is free or unused), so the machine freezes and the report
    // says the pool is exhausted, about when sync's does.
    let sc = |strategy| Scenario {
        strategy,
        cpus: 4,
        last_pkmap: 4,
        workload: Workload::TwoPageCopy,
        work_dist: Dist::Fixed,
        ..Scenario::default()
    };
    let at = |strategy| match run_to_end(&sc(strategy), 60_000_000, 9, Mode::Skip) {
        Err(SimError::Deadlock(rep)) => {
            assert!(rep.pool_exhausted, "{strategy:?}: {rep}");
            // Slots, not mappings, are counted.
            assert!(
                rep.reason.contains("(the sleepers hold all of them)"),
                "{rep}"
            );
            rep.cycle
        }
        other => panic!("{strategy:?}: {other:?}"),
    };
    let (sync, split) = (at(Strategy::Sync), at(Strategy::Split));
    assert!(split < 2 * sync, "split froze at {split}, sync at {sync}");
}

#[test]
fn no_split_pool_slot_is_left_out() {
    // The first slot of a half is examined by whoever scans after the switch, though the
    // flusher has dropped the lock: in the flush-bound corner every slot is mapped about as
    // often as the others, slots 0 and 32 included.
    let sc = Scenario {
        strategy: Strategy::Split,
        work_cycles: 2_000,
        last_pkmap: 64,
        irq_hold_cycles: 30_000,
        ..Scenario::default()
    };
    let mut e = crate::engine::Engine::new(&sc, 1, Mode::Skip).unwrap();
    e.enable_trace(1 << 20).unwrap();
    e.advance_to(5_000_000, &mut || None).unwrap();
    let mut maps = vec![0u32; 64];
    for ev in e.report().trace {
        if let crate::trace::EventKind::Mapped { slot, .. } = ev.kind {
            maps[slot as usize] += 1;
        }
    }
    let least = *maps.iter().min().unwrap();
    assert!(least * 2 > *maps.iter().max().unwrap(), "{maps:?}");
}
