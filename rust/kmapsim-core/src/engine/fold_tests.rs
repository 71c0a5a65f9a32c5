//! Folded accesses (`fold.rs`): `skip` mode, which folds, must equal `step` mode, which does
//! not, at every cycle a caller can stop at, not only at the end of a run.

use crate::config::{Scenario, Strategy, Workload};
use crate::cpu::NEVER;
use crate::engine::{Engine, Mode};

/// A small machine whose IPIs often land in the middle of an access: short flights, few slots,
/// many lookups with an uneven spacing (`copy_cycles` not a multiple of `copy_lookups`).
fn busy(strategy: Strategy, lookups: u64, workload: Workload) -> Scenario {
    Scenario {
        cpus: 4,
        last_pkmap: 4,
        pages: 16,
        hot_pages: 2,
        work_cycles: 300,
        copy_cycles: 257,
        copy_lookups: lookups,
        irq_hold_cycles: 120,
        ipi_latency: 7,
        tlb_entries: 3,
        tlb_evict_rate: 2.0,
        tlb_refill_cycles: 40,
        strategy,
        workload,
        ..Scenario::default()
    }
}

/// Advance both modes by `stride` cycles at a time and compare what a caller can see at every
/// pause: the run's outcome, the report (counters, events, histograms, the trace) and the
/// snapshot (each CPU's phase and next action). Returns how many pauses found a folded access
/// in `skip` mode.
fn equal_at_every_pause(sc: &Scenario, cycles: u64, stride: u64, seed: u64) -> u64 {
    equal_at_every_pause_traced(sc, cycles, stride, seed, false)
}

/// `equal_at_every_pause`, with the trace on from the start (`traced`; a page walk is then not
/// folded with its access) or off.
fn equal_at_every_pause_traced(
    sc: &Scenario,
    cycles: u64,
    stride: u64,
    seed: u64,
    traced: bool,
) -> u64 {
    let mut step = Engine::new(sc, seed, Mode::Step).unwrap();
    let mut skip = Engine::new(sc, seed, Mode::Skip).unwrap();
    if traced {
        // Its events (TLB fills, state changes, IPIs) must fall alike.
        step.enable_trace(100_000).unwrap();
        skip.enable_trace(100_000).unwrap();
    }
    let mut folded = 0;
    let mut at = 0;
    while at < cycles {
        at = (at + stride).min(cycles);
        let a = step.advance_to(at, &mut || None);
        let b = skip.advance_to(at, &mut || None);
        assert_eq!(a, b, "outcome at cycle {at}: {sc:?}");
        assert_eq!(step.report(), skip.report(), "report at cycle {at}: {sc:?}");
        assert_eq!(step.snapshot(), skip.snapshot(), "snapshot at {at}: {sc:?}");
        folded += skip.cpus().iter().any(|c| c.fold_base != NEVER) as u64;
        if a.is_err() {
            break;
        }
    }
    assert!(
        step.cpus().iter().all(|c| c.fold_base == NEVER),
        "step folded"
    );
    folded
}

#[test]
fn skip_equals_step_at_every_pause_in_folded_accesses() {
    for &strategy in Strategy::ALL {
        for lookups in [2, 5, 64] {
            let sc = busy(strategy, lookups, Workload::Dbench);
            let folded = equal_at_every_pause(&sc, 20_000, 29, lookups);
            assert!(
                folded > 0,
                "{strategy:?}, {lookups} lookups: no pause saw a fold"
            );
        }
    }
}

#[test]
fn traced_runs_fold_only_the_hits_and_record_the_same_events() {
    for &strategy in Strategy::ALL {
        let sc = busy(strategy, 5, Workload::Dbench);
        assert!(equal_at_every_pause_traced(&sc, 20_000, 29, 4, true) > 0);
    }
}

#[test]
fn a_trace_turned_on_mid_run_sees_what_step_mode_sees() {
    // A walk folded with its access is unfolded when the trace starts, so that the trace has
    // its change of category.
    let mut walks = 0;
    for &strategy in [Strategy::Sync, Strategy::Broadcast, Strategy::Async].iter() {
        let sc = busy(strategy, 5, Workload::Dbench);
        for switch_on in (3..150).step_by(7) {
            let mut step = Engine::new(&sc, 9, Mode::Step).unwrap();
            let mut skip = Engine::new(&sc, 9, Mode::Skip).unwrap();
            for k in 1..=150u64 {
                let at = 23 * k;
                step.advance_to(at, &mut || None).unwrap();
                skip.advance_to(at, &mut || None).unwrap();
                if k == switch_on {
                    walks += skip.cpus().iter().any(|c| c.fold_miss_end != NEVER) as u32;
                    step.enable_trace(50_000).unwrap();
                    skip.enable_trace(50_000).unwrap();
                    assert!(skip.cpus().iter().all(|c| c.fold_miss_end == NEVER));
                }
                assert_eq!(step.report(), skip.report(), "{strategy:?} at {at}");
                assert_eq!(step.snapshot(), skip.snapshot(), "{strategy:?} at {at}");
            }
        }
    }
    assert!(walks > 0, "no folded walk when a trace was turned on");
}

#[test]
fn interrupts_off_accesses_fold_and_keep_their_ipis_pending() {
    // The access runs with interrupts disabled: an IPI that lands in it waits for its end.
    for &strategy in Strategy::ALL {
        let sc = busy(strategy, 7, Workload::IrqsOffAccess);
        equal_at_every_pause(&sc, 20_000, 31, 3);
    }
}

#[test]
fn a_stale_entry_is_not_folded_and_each_stale_hit_is_recorded() {
    // `async` reads stale entries: each lookup through one is a violation at its own cycle.
    let sc = Scenario {
        ipi_latency: 2_000,
        ..busy(Strategy::Async, 8, Workload::Dbench)
    };
    equal_at_every_pause(&sc, 60_000, 37, 5);
    let r = crate::engine::run_to_end(&sc, 60_000, 5, Mode::Skip).unwrap();
    assert!(r.counters.stale_accesses > 0, "no stale access to test");
}

#[test]
fn a_long_access_is_not_folded_past_the_watchdog() {
    // The rest of an access at least `watchdog_cycles` long would be one long stretch, which
    // the watchdog waits out; its segments are not. Two lookups: the rest after the first is
    // the whole access, 4,000 cycles, and each segment 2,000.
    let sc = Scenario {
        copy_cycles: 4_000,
        watchdog_cycles: 2_500,
        ..busy(Strategy::Sync, 2, Workload::Dbench)
    };
    assert_eq!(equal_at_every_pause(&sc, 30_000, 41, 2), 0);
    // With a watchdog past the whole access, the same machine folds.
    let sc = Scenario {
        watchdog_cycles: 4_001,
        ..sc
    };
    assert!(equal_at_every_pause(&sc, 30_000, 41, 2) > 0);
}

#[test]
fn a_broadcast_invalidation_meets_a_folded_access_in_cpu_order() {
    // With every duration fixed, lookups of folded accesses often fall on the very cycle
    // another CPU's `broadcast` invalidates every TLB: a lower-numbered CPU's lookup comes
    // before the invalidation (a hit), a higher-numbered one's after it (a miss).
    for cpus in [3, 6, 8] {
        for seed in 0..4 {
            let sc = Scenario {
                cpus,
                last_pkmap: 16,
                pages: 256,
                hot_pages: 0,
                work_cycles: 3000,
                work_dist: crate::config::Dist::Fixed,
                irq_section_prob: 0.0,
                ctx_switch_prob: 0.0,
                ipi_latency: 200,
                copy_lookups: 8,
                copy_cycles: 2048,
                strategy: Strategy::Broadcast,
                ..Scenario::default()
            };
            equal_at_every_pause(&sc, 400_000, 997, seed);
        }
    }
}

#[test]
fn a_walk_is_over_only_after_its_last_cycle() {
    // Unfolded, the copy's first stretch starts at the walk's end, after the IPIs that land in
    // that cycle (phase 1 before phase 2): an unfold at the walk's end finds the CPU still in
    // its walk, one a cycle later finds it copying, with the walk's end counted as an event.
    let sc = busy(Strategy::Sync, 5, Workload::Dbench);
    let mut e = Engine::new(&sc, 3, Mode::Skip).unwrap();
    let mut at = 0;
    let c = loop {
        at += 1;
        e.advance_to(at, &mut || None).unwrap();
        if let Some(c) = e.cpus.iter().position(|c| c.fold_miss_end != NEVER) {
            break c;
        }
        assert!(at < 100_000, "no walk folded");
    };
    let end = e.cpus[c].fold_miss_end;
    let mut a = e.clone();
    assert_eq!(a.unfold(c, end), end);
    assert_eq!(a.cpus[c].phase, crate::cpu::Phase::CopyRun);
    assert_eq!(a.cpus[c].cat, crate::stats::Category::TlbMiss);
    assert_eq!(a.events, e.events);
    let mut b = e.clone();
    let next = b.unfold(c, end + 1);
    assert!(next > end + 1, "the next lookup is after the walk's end");
    assert_eq!(b.cpus[c].phase, crate::cpu::Phase::CopyStepDone);
    assert_eq!(b.cpus[c].cat, crate::stats::Category::Copy);
    assert_eq!(b.cpus[c].since, end);
    assert_eq!(b.events, e.events + 1);
}

#[test]
fn an_error_in_the_middle_of_a_cycle_leaves_the_lookups_before_it_done() {
    // A task that may kmap into a handle it holds hits a kernel BUG; a lower-numbered CPU's
    // lookup in that very cycle has happened (CPUs act in order), a higher one's has not.
    use crate::config::Value;
    let s = |x: &str| Value::Str(x.into());
    let sc = Scenario {
        cpus: 2,
        last_pkmap: 8,
        pages: 16,
        hot_pages: 2,
        tlb_evict_rate: 0.0,
        work_cycles: 3000,
        workload: Workload::Custom,
        program: Some(crate::workload::spec(&[
            &[("op", s("work"))],
            &[("op", s("kmap")), ("handle", s("a"))],
            &[
                ("op", s("access")),
                ("handle", s("a")),
                ("lookups", Value::Int(4000)),
                ("cycles", Value::Int(4000)),
            ],
            &[
                ("op", s("kmap")),
                ("handle", s("a")),
                ("prob", Value::Float(0.2)),
            ],
            &[("op", s("kunmap")), ("handle", s("a"))],
        ])),
        ..Scenario::default()
    };
    let mut errors = 0;
    for seed in 0..16 {
        let mut step = Engine::new(&sc, seed, Mode::Step).unwrap();
        let mut skip = Engine::new(&sc, seed, Mode::Skip).unwrap();
        let a = step.advance_to(10_000_000, &mut || None);
        let b = skip.advance_to(10_000_000, &mut || None);
        errors += a.is_err() as u32;
        assert_eq!(a, b, "seed {seed}");
        assert_eq!(step.now(), skip.now(), "seed {seed}");
        assert_eq!(step.report(), skip.report(), "seed {seed}");
        assert_eq!(step.snapshot(), skip.snapshot(), "seed {seed}");
    }
    assert!(errors > 0, "no run hit the BUG");
}
