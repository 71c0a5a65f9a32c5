//! The cost terms of docs/model.md section 18: each is off by default (the old model exactly),
//! each keeps step ≡ skip and every invariant, and each costs what its rule says, checked by hand.

use crate::config::{Dist, Scenario, Strategy};
use crate::engine::{Mode, run_to_end};
use crate::invariants;
use crate::stats::Category;

/// A machine whose every duration is fixed and with no interrupts-off section, so that each
/// shootdown and each flush takes the same time.
fn fixed(cpus: u64) -> Scenario {
    Scenario {
        cpus,
        last_pkmap: 16,
        pages: 256,
        hot_pages: 0,
        work_cycles: 3000,
        work_dist: Dist::Fixed,
        irq_section_prob: 0.0,
        ctx_switch_prob: 0.0,
        ipi_latency: 200,
        ..Scenario::default()
    }
}

fn with_terms(sc: &Scenario) -> Scenario {
    Scenario {
        lock_handoff_per_waiter_cycles: 40,
        lock_hold_per_waiter_cycles: 30,
        ipi_ack_per_target_cycles: 70,
        flush_clear_slot_cycles: 80,
        tlb_refill_cycles: 500,
        ..sc.clone()
    }
}

#[test]
fn the_terms_are_off_by_default() {
    let sc = Scenario::default();
    assert_eq!(sc.lock_handoff_per_waiter_cycles, 0);
    assert_eq!(sc.lock_hold_per_waiter_cycles, 0);
    assert_eq!(sc.ipi_ack_per_target_cycles, 0);
    assert_eq!(sc.flush_clear_slot_cycles, 0);
    assert_eq!(sc.tlb_refill_cycles, 0);
}

#[test]
fn every_strategy_keeps_its_invariants_with_the_terms_on() {
    for &strategy in Strategy::ALL {
        for cpus in [1, 3, 6] {
            let mut sc = with_terms(&fixed(cpus));
            sc.strategy = strategy;
            sc.work_dist = Dist::Exponential;
            sc.irq_section_prob = 0.3;
            sc.last_pkmap = 8;
            if let Err(e) = invariants::check(&sc, 400_000, cpus) {
                panic!("{strategy:?} on {cpus} CPUs: {e}");
            }
            let off = run_to_end(&fixed(cpus), 400_000, 1, Mode::Skip).unwrap();
            let on = run_to_end(&with_terms(&fixed(cpus)), 400_000, 1, Mode::Skip).unwrap();
            assert_ne!(
                off.counters, on.counters,
                "{strategy:?}: the terms changed nothing"
            );
        }
    }
}

#[test]
fn a_cleared_slot_costs_flush_clear_slot_cycles_more() {
    // One CPU: every flush is the clearing loop over the 16 slots, then the local flush.
    let mut sc = fixed(1);
    sc.flush_clear_slot_cycles = 80;
    let r = run_to_end(&sc, 2_000_000, 1, Mode::Skip).unwrap();
    let (k, h) = (&r.counters, &r.histograms.flush_duration);
    assert!(k.flushes > 3 && k.slots_cleared > 3 * 8);
    assert_eq!(h.count, k.flushes, "a flush still running at the end");
    let per_flush = sc.last_pkmap * sc.flush_slot_cycles + sc.tlb_flush_cycles;
    assert_eq!(
        h.sum,
        (k.flushes * per_flush + k.slots_cleared * 80) as u128
    );
}

#[test]
fn acks_queue_on_the_shared_line() {
    // Every target takes the broadcast at once and ends its handler in the same cycle, so the
    // n - 1 acks land one after another on the call's line: the shootdown grows by exactly
    // (n - 1) x ipi_ack_per_target_cycles.
    for cpus in [2, 5, 8] {
        let base = fixed(cpus);
        let acked = Scenario {
            ipi_ack_per_target_cycles: 70,
            ..base.clone()
        };
        let a = run_to_end(&base, 3_000_000, 2, Mode::Skip).unwrap();
        let b = run_to_end(&acked, 3_000_000, 2, Mode::Skip).unwrap();
        let (ha, hb) = (&a.histograms.shootdown, &b.histograms.shootdown);
        assert!(ha.count > 2 && hb.count > 2);
        assert_eq!(
            (ha.min, hb.min),
            (ha.max, hb.max),
            "{cpus} CPUs: uneven shootdowns"
        );
        assert_eq!(hb.min - ha.min, (cpus - 1) * 70, "{cpus} CPUs");
    }
}

#[test]
fn a_full_flush_leaves_a_refill_for_the_next_work() {
    let mut sc = fixed(4);
    sc.tlb_refill_cycles = 500;
    sc.strategy = Strategy::Sync;
    let r = run_to_end(&sc, 2_000_000, 3, Mode::Skip).unwrap();
    let k = &r.counters;
    assert!(k.tlb_refills > 0 && k.tlb_refills <= k.tlb_flushes);
    let miss: u64 = r
        .breakdown
        .iter()
        .map(|row| row[Category::TlbMiss as usize])
        .sum();
    // Exact but for the stretches still running when the run ends (at most one per CPU).
    let owed = k.tlb_misses * sc.tlb_miss_cycles + k.tlb_refills * 500;
    assert!(
        miss <= owed && owed - miss < 500 * sc.cpus,
        "{miss} of {owed}"
    );
    // Nothing owed without a full flush: kmap_local only invalidates single entries.
    sc.strategy = Strategy::Local;
    let r = run_to_end(&sc, 2_000_000, 3, Mode::Skip).unwrap();
    assert_eq!(r.counters.tlb_refills, 0);
}

#[test]
fn a_hand_off_slows_with_the_spinners_left() {
    // Contended hand-offs with w CPUs still spinning cost lock_handoff + w x the term: over a
    // run, the kmap_spin cycles per acquisition grow.
    let mut sc = fixed(8);
    sc.work_cycles = 300;
    let off = run_to_end(&sc, 1_000_000, 4, Mode::Skip).unwrap();
    sc.lock_handoff_per_waiter_cycles = 100;
    let on = run_to_end(&sc, 1_000_000, 4, Mode::Skip).unwrap();
    let spin = |r: &crate::report::RunReport| {
        r.breakdown
            .iter()
            .map(|row| row[Category::KmapSpin as usize])
            .sum::<u64>() as f64
            / r.counters.kmap_lock_acquires as f64
    };
    assert!(
        spin(&on) > spin(&off) + 100.0,
        "{} {}",
        spin(&on),
        spin(&off)
    );
    assert!(on.counters.kmaps < off.counters.kmaps);
}

#[test]
fn a_section_under_the_lock_slows_with_the_spinners() {
    // One CPU never has a spinner: the term costs nothing. With eight, holds grow.
    let mut one = fixed(1);
    let base = run_to_end(&one, 1_000_000, 5, Mode::Skip).unwrap();
    one.lock_hold_per_waiter_cycles = 1000;
    assert_eq!(base, run_to_end(&one, 1_000_000, 5, Mode::Skip).unwrap());
    let mut sc = fixed(8);
    sc.work_cycles = 300;
    let off = run_to_end(&sc, 1_000_000, 5, Mode::Skip).unwrap();
    sc.lock_hold_per_waiter_cycles = 100;
    let on = run_to_end(&sc, 1_000_000, 5, Mode::Skip).unwrap();
    let (h0, h1) = (
        &off.histograms.kmap_lock_hold,
        &on.histograms.kmap_lock_hold,
    );
    assert!(h1.mean() > h0.mean() + 100.0, "{} {}", h1.mean(), h0.mean());
}
