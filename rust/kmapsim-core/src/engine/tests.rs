//! Behaviour of the whole engine: mode equality, accounting, determinism, hand-computed runs,
//! the safety checker and the watchdog.

use crate::config::{Arbitration, Dist, Scenario};
use crate::engine::{Mode, run_to_end};
use crate::error::SimError;
use crate::stats::Category;

fn small(cpus: u64) -> Scenario {
    Scenario {
        cpus,
        last_pkmap: 4,
        pages: 64,
        hot_pages: 4,
        work_cycles: 400,
        copy_cycles: 200,
        irq_hold_cycles: 300,
        ipi_latency: 50,
        tlb_entries: 4,
        ..Scenario::default()
    }
}

fn assert_modes_equal(sc: &Scenario, cycles: u64, seed: u64) {
    let a = run_to_end(sc, cycles, seed, Mode::Step).unwrap();
    let b = run_to_end(sc, cycles, seed, Mode::Skip).unwrap();
    assert_eq!(a, b, "step != skip for {sc:?} seed {seed}");
}

#[test]
fn step_equals_skip_on_contended_small_pools() {
    for (i, cpus) in [1, 2, 3, 5, 8].into_iter().enumerate() {
        let mut sc = small(cpus);
        sc.lock_arbitration = if i % 2 == 0 {
            Arbitration::Tas
        } else {
            Arbitration::Fifo
        };
        assert_modes_equal(&sc, 300_000, i as u64);
        let r = run_to_end(&sc, 300_000, i as u64, Mode::Skip).unwrap();
        assert!(r.counters.flushes > 0, "no wrap in {sc:?}");
        if cpus >= 5 {
            assert!(
                r.counters.sleeps > 0,
                "no sleep with {cpus} CPUs on 4 slots"
            );
        }
    }
}

#[test]
fn rows_sum_to_cycles_and_runs_repeat() {
    let sc = small(4);
    let a = run_to_end(&sc, 123_457, 9, Mode::Skip).unwrap();
    for row in &a.breakdown {
        assert_eq!(row.iter().sum::<u64>(), 123_457);
    }
    assert_eq!(a, run_to_end(&sc, 123_457, 9, Mode::Skip).unwrap());
    assert_ne!(
        a.counters,
        run_to_end(&sc, 123_457, 10, Mode::Skip).unwrap().counters
    );
}

#[test]
fn sync_never_reads_a_stale_entry() {
    for seed in 0..20 {
        let mut sc = small(1 + seed % 7);
        sc.tlb_entries = 1 + seed % 9;
        sc.ipi_latency = 1 + 500 * (seed % 3);
        let r = run_to_end(&sc, 200_000, seed, Mode::Skip).unwrap();
        assert_eq!(r.counters.stale_accesses, 0, "{sc:?}");
        assert!(r.counters.kmaps > 20, "{sc:?} {:?}", r.counters);
    }
}

/// One CPU, four slots, fixed durations, nothing random that matters: the scenario whose every
/// cycle the tests below compute by hand. The costs are spelled out even where they equal the
/// defaults, so that the arithmetic in the comments can be checked against them.
fn by_hand() -> Scenario {
    Scenario {
        cpus: 1,
        last_pkmap: 4,
        pages: 1 << 20,
        hot_pages: 0,
        shared_page_prob: 0.0,
        work_dist: Dist::Fixed,
        work_cycles: 1000,
        irq_section_prob: 0.0,
        ctx_switch_prob: 0.0,
        tlb_evict_rate: 0.0,
        copy_cycles: 400,
        copy_lookups: 2,
        tlb_miss_cycles: 30,
        lock_acquire_cycles: 30,
        kmap_new_cycles: 120,
        scan_slot_cycles: 4,
        flush_slot_cycles: 6,
        kunmap_cycles: 50,
        tlb_flush_cycles: 200,
        ..Scenario::default()
    }
}

/// One CPU, four slots, fixed durations: every cycle computed by hand from the 2.4 rules.
///
/// An iteration without a flush: work W, uncontended kmap_lock acquire A, one slot examined S,
/// the new mapping N, copy C with a TLB miss M on the first of two lookups, kmap_lock again A,
/// kunmap U: 1000 + 30 + 4 + 120 + 400 + 30 + 30 + 50 = 1664 cycles.
/// The cursor starts at 0, so mappings 1..3 take slots 1, 2, 3; mapping 4 wraps to slot 0 and
/// runs flush_all_zero_pkmaps (4 slots x F = 24) and the local flush T = 200 (one CPU: no IPI):
/// 1664 + 224 = 1888. Then every fourth mapping flushes again.
#[test]
fn golden_single_cpu_by_hand() {
    let sc = by_hand();
    // 8 iterations, two of which flush; the eighth kunmap completes at cycle 8 * 1664 + 2 * 224,
    // so one more cycle is simulated to see it (that cycle is work again).
    let cycles = 8 * 1664 + 2 * 224 + 1;
    let r = run_to_end(&sc, cycles, 3, Mode::Step).unwrap();
    assert_eq!(r, run_to_end(&sc, cycles, 3, Mode::Skip).unwrap());
    let c = &r.counters;
    assert_eq!(
        (c.kmaps, c.kunmaps, c.new_mappings, c.map_hits),
        (8, 8, 8, 0)
    );
    assert_eq!(
        (c.flushes, c.slots_cleared, c.slots_examined),
        (2, 3 + 4, 8)
    );
    assert_eq!((c.tlb_misses, c.tlb_hits, c.stale_accesses), (8, 8, 0));
    let row = r.breakdown[0];
    let got = |k: Category| row[k as usize];
    assert_eq!(got(Category::Work), 8 * 1000 + 1);
    assert_eq!(got(Category::KmapSpin), 8 * 2 * 30);
    assert_eq!(got(Category::KmapLocked), 8 * (4 + 120 + 50));
    assert_eq!(got(Category::Copy), 8 * 400);
    assert_eq!(got(Category::TlbMiss), 8 * 30);
    assert_eq!(got(Category::FlushScan), 2 * 24);
    assert_eq!(got(Category::LocalFlush), 2 * 200);
    assert_eq!(row.iter().sum::<u64>(), cycles);
    // Flushes end at known cycles: iteration 4 starts at 3 * 1664; its flush starts after
    // W + A + S and lasts 224; the second is four iterations later.
    let h = &r.histograms.flush_duration;
    assert_eq!((h.count, h.min, h.max), (2, 224, 224));
    // kmap_lock is held from the first cycle after the acquire A (which is kmap_spin, not hold)
    // to the release: S + N = 124 for a mapping, S + F-loop + T + N = 4 + 24 + 200 + 120 = 348
    // for the two that flush, U = 50 for a kunmap. 16 holds, sum 8 * 174 + 2 * 224 = 1840.
    let hold = &r.histograms.kmap_lock_hold;
    assert_eq!(
        (hold.count, hold.min, hold.max, hold.sum),
        (16, 50, 348, 8 * (4 + 120 + 50) + 2 * 224)
    );
    assert_eq!(hold.counts[6], 8, "eight kunmap holds of 50 in [32, 64)");
    assert_eq!(hold.counts[7], 6, "six mapping holds of 124 in [64, 128)");
    assert_eq!(hold.counts[9], 2, "two flushing holds of 348 in [256, 512)");
    // One CPU never finds the lock taken: every acquisition is uncontended and waits 0.
    let wait = &r.histograms.kmap_lock_wait;
    assert_eq!((wait.count, wait.counts[0], wait.sum), (16, 16, 0));
    assert_eq!((c.kmap_lock_acquires, c.kmap_lock_contended), (16, 0));
}

#[test]
fn misuse_deadlocks_targeted_and_blames_only_ipi_targets() {
    let sc = Scenario {
        cpus: 6,
        strategy: Strategy::Targeted,
        kmap_irqs_off_prob: 0.5,
        watchdog_cycles: 2_000_000,
        ..Scenario::default()
    };
    let err = run_to_end(&sc, 1 << 40, 1, Mode::Skip).unwrap_err();
    let SimError::Deadlock(rep) = err else {
        panic!("expected a deadlock, got {err:?}")
    };
    assert_eq!(rep.chain.len(), 2, "{rep}");
    let waiter = rep
        .edges
        .iter()
        .find(|e| e.what.contains("flush_tlb_all"))
        .unwrap();
    // Every CPU named as a missing ack has interrupts off or an IPI pending: it was a target.
    for other in rep.edges.iter().filter(|e| e.cpu != waiter.cpu) {
        if waiter.what.contains(&format!("cpu{},", other.cpu)) {
            assert!(other.what.contains("pending"), "{rep}");
        }
    }
}

#[test]
fn misuse_deadlocks_sync_with_the_chain_named() {
    let sc = Scenario {
        cpus: 4,
        kmap_irqs_off_prob: 0.5,
        watchdog_cycles: 2_000_000,
        ..Scenario::default()
    };
    let err = run_to_end(&sc, 1 << 40, 1, Mode::Skip).unwrap_err();
    let SimError::Deadlock(rep) = err else {
        panic!("expected a deadlock, got {err:?}")
    };
    assert_eq!(rep.chain.len(), 2, "{rep}");
    let text = rep.to_string();
    assert!(text.contains("flush_tlb_all"), "{text}");
    assert!(
        text.contains("spins on kmap_lock with interrupts disabled"),
        "{text}"
    );
    let step = run_to_end(&sc, 1 << 40, 1, Mode::Step).unwrap_err();
    assert_eq!(step, SimError::Deadlock(rep));
}

/// The 2.4 cursor, watched inside a running engine: one CPU, four slots, fixed durations as in
/// `golden_single_cpu_by_hand` (an iteration is 1664 cycles, 1888 when it flushes).
///
/// By hand: the cursor starts at 0. Mapping k (k = 1, 2, ...) is made at the kmap_lock grant
/// plus the uncontended acquire A = 30. Mappings 1, 2, 3 take slots 1, 2, 3; mapping 4 arrives at
/// slot 0, so flush_all_zero_pkmaps clears slots 1..3 (count 1 after their kunmaps) and slot 0
/// is taken; mappings 5..8 take 1, 2, 3, then 0 after the second flush.
/// Iteration k starts at 1664 (k - 1) + 224 * (flushes before it); the flush of iteration 4
/// starts at its W + A + S = 1034 cycles in: cycle 3 * 1664 + 1034 = 6026, and the flush counter
/// moves when the clearing loop (4 x 6 = 24 cycles) is done: at cycle 6050.
#[test]
fn cursor_slots_and_flush_times_by_hand() {
    use crate::engine::Engine;
    let sc = by_hand();
    for mode in [Mode::Step, Mode::Skip] {
        let mut e = Engine::new(&sc, 11, mode).unwrap();
        let mut slots = Vec::new();
        let mut start = 0;
        for k in 1..=8u64 {
            // The mapping is in place once the kmap_lock hold begins: W + A (+ S + N to finish).
            let mapped = start + 1000 + 30 + 4 + 120 + u64::from(k % 4 == 0) * 224;
            e.advance_to(mapped + 1, &mut || None).unwrap();
            slots.push(e.cpus[0].t.slot);
            assert_eq!(e.pk.cursor, e.cpus[0].t.slot);
            start += 1664 + u64::from(k % 4 == 0) * 224;
        }
        assert_eq!(slots, vec![1, 2, 3, 0, 1, 2, 3, 0], "{mode:?}");
        let mut e = Engine::new(&sc, 11, mode).unwrap();
        e.advance_to(6050, &mut || None).unwrap();
        assert_eq!(e.counters.flushes, 0);
        assert_eq!(
            e.counters.slots_cleared, 3,
            "the clearing happens as the flush starts"
        );
        e.advance_to(6051, &mut || None).unwrap();
        assert_eq!(e.counters.flushes, 1);
        // After the flush and the new mapping only slot 0 is in use; 1..3 are free and clean.
        e.advance_to(6051 + 200 + 120, &mut || None).unwrap();
        assert_eq!(e.pk.count, vec![2, 0, 0, 0]);
    }
}

use crate::config::{EmptyFlush, SlotAlloc, Strategy};

const ALL: &[Strategy] = Strategy::ALL;

#[test]
fn step_equals_skip_for_every_strategy_and_allocator() {
    let mut seed = 0;
    for &strategy in ALL {
        for slot_alloc in [SlotAlloc::Scan, SlotAlloc::Freelist] {
            for empty_flush in [EmptyFlush::Flush, EmptyFlush::Skip] {
                for cpus in [1, 3, 6] {
                    seed += 1;
                    let sc = Scenario {
                        strategy,
                        slot_alloc,
                        empty_flush,
                        ..small(cpus)
                    };
                    assert_modes_equal(&sc, 100_000, seed);
                    let r = run_to_end(&sc, 100_000, seed, Mode::Skip).unwrap();
                    for row in &r.breakdown {
                        assert_eq!(row.iter().sum::<u64>(), 100_000);
                    }
                    assert_eq!(
                        r.counters.ipis_sent,
                        r.counters.ipis_handled + r.counters.ipis_pending
                    );
                    if strategy != Strategy::Async {
                        assert_eq!(r.counters.stale_accesses, 0, "{sc:?} seed {seed}");
                    }
                }
            }
        }
    }
}

#[test]
fn async_reads_stale_entries_when_ipis_are_slow() {
    // Two CPUs, two slots, a hot page shared by both, an IPI that takes longer to arrive than
    // the other CPU needs to get through kmap_lock: the seed mail's proposal breaks.
    let sc = Scenario {
        strategy: Strategy::Async,
        ipi_latency: 20_000,
        ..small(2)
    };
    let r = run_to_end(&sc, 2_000_000, 1, Mode::Skip).unwrap();
    assert!(r.counters.stale_accesses > 0, "{:?}", r.counters);
    let v = &r.violations[0];
    assert_ne!(v.expected_page, v.actual_page);
    assert!(v.entry_loaded_at < v.slot_remapped_at, "{v:?}");
    for safe in [
        Strategy::Sync,
        Strategy::Guarded,
        Strategy::Lazy,
        Strategy::Targeted,
    ] {
        let r = run_to_end(
            &Scenario {
                strategy: safe,
                ..sc.clone()
            },
            2_000_000,
            1,
            Mode::Skip,
        )
        .unwrap();
        assert_eq!(r.counters.stale_accesses, 0, "{safe:?}");
    }
}

#[test]
fn local_never_touches_kmap_lock_or_ipis() {
    let sc = Scenario {
        strategy: Strategy::Local,
        ..small(4)
    };
    let r = run_to_end(&sc, 500_000, 2, Mode::Skip).unwrap();
    let c = &r.counters;
    assert!(c.kmaps > 100);
    assert_eq!(
        (c.kmap_lock_acquires, c.flushes, c.ipis_sent, c.sleeps),
        (0, 0, 0, 0)
    );
    assert_eq!(c.invlpgs, c.new_mappings);
    assert_eq!(c.stale_accesses, 0);
}

#[test]
fn lazy_sends_no_ipi_and_catches_up_at_kmap() {
    let sc = Scenario {
        strategy: Strategy::Lazy,
        ..small(4)
    };
    let r = run_to_end(&sc, 500_000, 3, Mode::Skip).unwrap();
    let c = &r.counters;
    assert!(c.flushes > 0);
    assert_eq!(c.ipis_sent, 0);
    assert!(c.gen_flushes > 0);
}

#[test]
fn lazy_catches_up_outside_kmap_lock_and_only_invalidates_one_slot_under_it() {
    // With a 2-million-cycle flush, any full flush under kmap_lock would make a hold of at least
    // 2^20 cycles: only the flusher's own flushes may (one per flush), never a catch-up.
    let sc = Scenario {
        strategy: Strategy::Lazy,
        tlb_flush_cycles: 2_000_000,
        ..small(6)
    };
    let r = run_to_end(&sc, 60_000_000, 3, Mode::Skip).unwrap();
    let c = &r.counters;
    let long_holds: u64 = r.histograms.kmap_lock_hold.counts[21..].iter().sum();
    assert!(c.flushes > 2 && c.gen_flushes > c.flushes, "{c:?}");
    assert!(
        long_holds <= c.flushes,
        "{long_holds} long holds, {} flushes",
        c.flushes
    );
    // CPUs that fell behind while spinning invalidated the slot they obtained instead.
    assert!(c.invlpgs > 0);
    assert_eq!(c.stale_accesses, 0);
}

#[test]
fn targeted_sends_fewer_ipis_than_sync() {
    let base = Scenario {
        tlb_evict_rate: 0.0,
        ..small(8)
    };
    let s = run_to_end(&base, 500_000, 4, Mode::Skip).unwrap();
    let t = run_to_end(
        &Scenario {
            strategy: Strategy::Targeted,
            ..base
        },
        500_000,
        4,
        Mode::Skip,
    )
    .unwrap();
    let per_flush =
        |r: &crate::report::RunReport| r.counters.ipis_sent as f64 / r.counters.flushes as f64;
    assert_eq!(per_flush(&s), 7.0);
    assert!(per_flush(&t) < 7.0, "{}", per_flush(&t));
}

#[test]
fn freelist_flushes_only_when_the_free_list_runs_dry() {
    let base = Scenario {
        hot_pages: 0,
        shared_page_prob: 0.0,
        ..small(2)
    };
    let sc = Scenario {
        slot_alloc: SlotAlloc::Freelist,
        last_pkmap: 16,
        pages: 1000,
        ..base
    };
    let r = run_to_end(&sc, 1_000_000, 5, Mode::Skip).unwrap();
    let c = &r.counters;
    // Every pop examines one slot, plus one failed pop per flush (done or skipped) and per sleep.
    assert_eq!(
        c.slots_examined,
        c.new_mappings + c.flushes + c.flushes_skipped + c.sleeps
    );
    assert!(c.flushes > 0 && c.stale_accesses == 0);
}

#[test]
fn traces_are_equal_in_both_modes_and_bounded() {
    for &strategy in ALL {
        let sc = Scenario {
            strategy,
            ..small(3)
        };
        let a = crate::engine::run(&sc, 50_000, 7, Mode::Step, Some(500), &mut || None).unwrap();
        let b = crate::engine::run(&sc, 50_000, 7, Mode::Skip, Some(500), &mut || None).unwrap();
        assert_eq!(a, b, "{strategy:?}");
        assert_eq!(a.trace.len(), 500);
        assert!(a.trace_dropped > 0);
        assert!(a.trace.windows(2).all(|w| w[0].cycle <= w[1].cycle));
    }
}

#[test]
fn advancing_in_pieces_equals_one_run() {
    use crate::engine::Engine;
    for (i, &strategy) in ALL.iter().enumerate() {
        let sc = Scenario {
            strategy,
            ..small(4)
        };
        for mode in [Mode::Step, Mode::Skip] {
            let mut one = Engine::new(&sc, i as u64, mode).unwrap();
            one.enable_trace(400).unwrap();
            one.enable_sampling(997);
            one.advance_to(90_001, &mut || None).unwrap();
            let mut pieces = Engine::new(&sc, i as u64, mode).unwrap();
            pieces.enable_trace(400).unwrap();
            pieces.enable_sampling(997);
            for end in [1, 2, 5_000, 5_001, 33_333, 90_000, 90_001] {
                pieces.advance_to(end, &mut || None).unwrap();
            }
            assert_eq!(one.report(), pieces.report(), "{strategy:?} {mode:?}");
            assert_eq!(one.samples(), pieces.samples());
            assert_eq!(one.snapshot(), pieces.snapshot());
        }
    }
}

#[test]
fn samples_are_equal_in_both_modes_and_consistent() {
    use crate::engine::Engine;
    let sc = small(5);
    let mut runs = [Mode::Step, Mode::Skip].map(|m| {
        let mut e = Engine::new(&sc, 3, m).unwrap();
        e.enable_sampling(1000);
        e.advance_to(200_000, &mut || None).unwrap();
        e
    });
    assert_eq!(runs[0].samples(), runs[1].samples());
    let s = runs[1].samples();
    assert_eq!(s.len(), 200);
    assert_eq!(s[0].cycle, 0);
    assert!(
        s.windows(2)
            .all(|w| w[1].cycle == w[0].cycle + 1000 && w[1].kmaps >= w[0].kmaps)
    );
    assert!(
        s.iter()
            .all(|x| x.free_slots <= 4 && x.kmap_lock_waiters <= 5)
    );
    let last = runs[1].snapshot();
    assert_eq!(last.slots_free + last.slots_unused + last.slots_in_use, 4);
    runs[0].advance_to(200_001, &mut || None).unwrap();
}

#[test]
fn replaying_recorded_ops_reproduces_the_run() {
    use crate::engine::Engine;
    for (i, &strategy) in ALL.iter().enumerate() {
        let sc = Scenario {
            strategy,
            kmap_irqs_off_prob: 0.0,
            ..small(3)
        };
        let mut rec = Engine::new(&sc, 40 + i as u64, Mode::Skip).unwrap();
        rec.enable_recording().unwrap();
        rec.advance_to(150_000, &mut || None).unwrap();
        let ops = rec.recorded().unwrap();
        assert!(ops.iter().all(|l| l.len() > 10));
        let mut again = Engine::new(&sc, 40 + i as u64, Mode::Skip).unwrap();
        again.set_replay(ops).unwrap();
        again.advance_to(150_000, &mut || None).unwrap();
        assert_eq!(
            rec.report().counters,
            again.report().counters,
            "{strategy:?}"
        );
        assert_eq!(
            rec.report().breakdown,
            again.report().breakdown,
            "{strategy:?}"
        );
    }
}

#[test]
fn a_replay_that_ends_leaves_cpus_idle_without_a_false_deadlock() {
    use crate::engine::Engine;
    use crate::op::Op;
    let sc = Scenario {
        watchdog_cycles: 10_000,
        ..small(2)
    };
    let op = Op {
        work: 100,
        page: 5,
        ..Op::default()
    };
    let mut e = Engine::new(&sc, 1, Mode::Skip).unwrap();
    e.set_replay(vec![vec![op; 3], vec![]]).unwrap();
    e.advance_to(1_000_000, &mut || None).unwrap();
    let r = e.report();
    assert_eq!(r.counters.kmaps, 3);
    assert_eq!(r.breakdown[1][Category::Idle as usize], 1_000_000);
    let bad = vec![vec![Op { page: 10_000, ..op }], vec![]];
    let err = Engine::new(&sc, 1, Mode::Skip)
        .unwrap()
        .set_replay(bad)
        .unwrap_err();
    assert_eq!(err.field, "replay");
}

/// Every case the fuzzer kept (`fuzz/corpus`, written by examples/fuzz_invariants.rs) still
/// satisfies every invariant: the corpus is a regression suite of behaviours.
#[test]
fn fuzz_corpus_still_holds_every_invariant() {
    use crate::config::Value;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus");
    let Ok(entries) = std::fs::read_dir(dir) else {
        panic!("no fuzz corpus at {dir}");
    };
    let mut n = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let (mut seed, mut cycles, mut pairs, mut program) = (0u64, 0u64, Vec::new(), None);
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains('='))
        {
            let (k, v) = line.split_once(" = ").unwrap();
            let value = if let Some(s) = v.strip_prefix('"') {
                Value::Str(s.trim_end_matches('"').to_string())
            } else if let Ok(i) = v.parse::<i128>() {
                Value::Int(i)
            } else {
                Value::Float(v.parse().unwrap())
            };
            match (k, &value) {
                ("_seed", Value::Int(i)) => seed = *i as u64,
                ("_cycles", Value::Int(i)) => cycles = *i as u64,
                ("_program", Value::Str(text)) => {
                    program = Some(crate::workload::from_text(text).unwrap());
                }
                _ => pairs.push((k.to_string(), value)),
            }
        }
        let pairs = pairs.iter().map(|(k, v)| (k.as_str(), v.clone()));
        let sc = Scenario::from_parts(pairs, program).unwrap();
        if let Err(why) = crate::invariants::check(&sc, cycles, seed) {
            panic!("{}: {why}", path.display());
        }
        n += 1;
    }
    assert!(n >= 10, "only {n} corpus cases");
}

/// A deadlock is reported as soon as the machine freezes, whatever `watchdog_cycles` is: the
/// misuse switch at the default watchdog (50M cycles) raises well within a 50M-cycle run, at
/// the same cycle and with the same report in both modes.
#[test]
fn a_frozen_machine_raises_at_once_whatever_the_watchdog() {
    let sc = Scenario {
        kmap_irqs_off_prob: 0.5,
        ..Scenario::default()
    };
    let err = run_to_end(&sc, 50_000_000, 1, Mode::Skip).unwrap_err();
    let SimError::Deadlock(rep) = &err else {
        panic!("expected a deadlock, got {err:?}")
    };
    assert!(rep.cycle < 50_000_000 - sc.watchdog_cycles / 2, "{rep}");
    assert!(rep.reason.contains("no CPU can ever run again"), "{rep}");
    assert_eq!(rep.chain.len(), 2, "{rep}");
    let step = run_to_end(&sc, rep.cycle + 10, 1, Mode::Step).unwrap_err();
    assert_eq!(step, err);
}

/// One CPU's list ends while the other is in an interrupts-off stretch far longer than the
/// watchdog (a machine frozen in suspend): not a deadlock. Both modes agree on a small copy.
#[test]
fn a_long_legitimate_stretch_is_not_a_deadlock() {
    use crate::engine::Engine;
    use crate::op::Op;
    let run = |hold: u64, watchdog: u64, cycles: u64, mode: Mode| {
        let sc = Scenario {
            watchdog_cycles: watchdog,
            irq_locks: 1,
            ..small(2)
        };
        let short = Op {
            work: 10,
            page: 1,
            ..Op::default()
        };
        let long = Op {
            work: 20,
            page: 2,
            irq_lock: Some(0),
            irq_hold: hold,
            ..Op::default()
        };
        let mut e = Engine::new(&sc, 3, mode).unwrap();
        e.set_replay(vec![vec![short], vec![short, long, short]])
            .unwrap();
        e.advance_to(cycles, &mut || None).map(|()| e.report())
    };
    let r = run(1_000_000_000_000, 50_000_000, 1_000_100_000_000, Mode::Skip).unwrap();
    assert_eq!(r.counters.kmaps, 4);
    let a = run(100_000, 1_000, 300_000, Mode::Skip).unwrap();
    assert_eq!(a, run(100_000, 1_000, 300_000, Mode::Step).unwrap());
    assert_eq!(a.counters.kmaps, 4);
}

/// Replayed durations are bounded like the scenario's: a `work` near 2^64 would overflow the
/// clock, so it is refused with the operation named.
#[test]
fn replayed_durations_past_the_limit_are_refused() {
    use crate::config::MAX_DURATION;
    use crate::engine::Engine;
    use crate::op::Op;
    let ok = Op {
        work: 100,
        page: 1,
        ..Op::default()
    };
    for bad in [
        Op {
            work: u64::MAX - 1000,
            ..ok
        },
        Op {
            work: MAX_DURATION + 1,
            ..ok
        },
        Op {
            irq_lock: Some(0),
            irq_hold: MAX_DURATION + 1,
            ..ok
        },
    ] {
        let mut e = Engine::new(&small(1), 1, Mode::Skip).unwrap();
        let err = e.set_replay(vec![vec![ok, bad, ok]]).unwrap_err();
        assert_eq!(err.field, "replay");
        assert!(err.problem.starts_with("cpu 0, operation 1"), "{err}");
    }
    let max = Op {
        work: MAX_DURATION,
        ..ok
    };
    let mut e = Engine::new(&small(1), 1, Mode::Skip).unwrap();
    e.set_replay(vec![vec![ok, max, ok]]).unwrap();
    e.advance_to(200_000, &mut || None).unwrap();
    let r = e.report();
    assert_eq!(r.breakdown[0].iter().sum::<u64>(), 200_000);
}

/// Products of bounded durations (a per-target IPI cost of 2^40 cycles over 4095 targets) end
/// past the heap keys' range: the run stays consistent and equal in both modes.
#[test]
fn stretches_past_the_key_range_stay_consistent() {
    let sc = Scenario {
        cpus: 4096,
        last_pkmap: 2,
        pages: 64,
        hot_pages: 4,
        work_cycles: 500,
        ipi_send_per_target_cycles: crate::config::MAX_DURATION,
        ..Scenario::default()
    };
    let a = run_to_end(&sc, 5_000, 1, Mode::Skip).unwrap();
    assert_eq!(a, run_to_end(&sc, 5_000, 1, Mode::Step).unwrap());
    assert!(a.counters.ipis_sent > 0, "no shootdown started");
    for row in &a.breakdown {
        assert_eq!(row.iter().sum::<u64>(), 5_000);
    }
}

#[test]
fn an_ipi_flight_longer_than_the_watchdog_is_waited_out() {
    // A 2^40-cycle IPI latency under a 200,000-cycle watchdog: the flusher waits for acks that
    // are only in flight, which is no deadlock; the run goes on to its end.
    let sc = Scenario {
        cpus: 4,
        last_pkmap: 8,
        ipi_latency: 1 << 40,
        watchdog_cycles: 200_000,
        ..Scenario::default()
    };
    for mode in [Mode::Step, Mode::Skip] {
        let r = run_to_end(&sc, 10_000_000, 1, mode).unwrap();
        assert!(r.counters.flushes == 1 && r.counters.ipis_handled == 0);
    }
}

/// The caller is polled by the work done, not only by cycles: `skip` mode every
/// `POLL_EVENTS` events or so (a flush on 4,096 CPUs puts thousands in one cycle), `step` mode
/// every `POLL_CPU_CYCLES` / CPUs cycles (its cycles cost in proportion to the CPUs). Each
/// advance below stops at its first poll, so the events between two stops are those between
/// two polls.
#[test]
fn the_caller_is_polled_by_work_done() {
    use crate::engine::{Engine, POLL_CPU_CYCLES, POLL_EVENTS};
    use crate::error::StopReason;
    let sc = Scenario {
        cpus: 4096,
        ..Scenario::default()
    };
    let mut skip = Engine::new(&sc, 1, Mode::Skip).unwrap();
    let mut most = 0;
    for _ in 0..200 {
        let before = skip.events;
        let r = skip.advance_to(1 << 40, &mut || Some(StopReason::Cancelled));
        assert!(matches!(r, Err(SimError::Interrupted { .. })));
        most = most.max(skip.events - before);
    }
    // (Polled every 16,384 cycles processed, as before, there were up to 10.6 million.)
    assert!(
        POLL_EVENTS <= 1 << 14 && most <= 2 * POLL_EVENTS,
        "{most} events between polls"
    );
    // Step mode: every power of two of cycles at or below POLL_CPU_CYCLES / CPUs.
    for (cpus, every) in [(4096u64, 256u64), (100, 8_192), (3, 16_384)] {
        let sc = Scenario {
            cpus,
            ..Scenario::default()
        };
        let mut step = Engine::new(&sc, 1, Mode::Step).unwrap();
        let mut polls = 0u64;
        step.advance_to(4 * every, &mut || {
            polls += 1;
            None
        })
        .unwrap();
        assert_eq!(polls, 4, "{cpus} CPUs");
        assert!(every * cpus <= POLL_CPU_CYCLES || every == 1 << 14);
    }
}
