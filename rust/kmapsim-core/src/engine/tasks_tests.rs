//! Tasks and workload programs (docs/model.md, sections 16 and 17): every workload keeps every
//! invariant in both modes, the scheduler's placement, held mappings across blocks and
//! migrations, the two-kmap deadlock, the interrupts-off access window, and program errors.

use crate::config::{Scenario, Strategy, Value, Workload};
use crate::engine::{Engine, Mode, run_to_end};
use crate::error::SimError;
use crate::invariants::check;

fn tasks(workload: Workload, cpus: u64, tasks: u64) -> Scenario {
    Scenario {
        workload,
        cpus,
        tasks,
        last_pkmap: 64,
        pages: 2048,
        hot_pages: 8,
        work_cycles: 2_000,
        copy_cycles: 400,
        block_cycles: 20_000,
        irq_hold_cycles: 500,
        ipi_latency: 300,
        tlb_entries: 8,
        watchdog_cycles: 5_000_000,
        ..Scenario::default()
    }
}

use crate::workload::spec as program;

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

const WORKLOADS: [Workload; 5] = [
    Workload::Dbench,
    Workload::FileRead,
    Workload::PteHighmem,
    Workload::TwoPageCopy,
    Workload::IrqsOffAccess,
];

const STRATEGIES: &[Strategy] = Strategy::ALL;

#[test]
fn every_workload_strategy_and_allocator_keeps_every_invariant_with_many_tasks() {
    for (i, w) in WORKLOADS.into_iter().enumerate() {
        for (j, &strategy) in STRATEGIES.iter().enumerate() {
            for alloc in [
                crate::config::SlotAlloc::Scan,
                crate::config::SlotAlloc::Freelist,
            ] {
                let sc = Scenario {
                    strategy,
                    slot_alloc: alloc,
                    ..tasks(w, 4, 12)
                };
                let f = check(&sc, 400_000, (i * 10 + j) as u64).unwrap_or_else(|e| {
                    panic!("{e}: {w:?} {strategy:?} {alloc:?}");
                });
                // kmap with interrupts disabled deadlocks the flushes that wait for acks.
                let may = w == Workload::IrqsOffAccess && strategy.waits_for_acks();
                assert!(
                    !f.deadlock || may,
                    "{w:?} {strategy:?} {alloc:?} deadlocked"
                );
            }
        }
    }
}

#[test]
fn one_task_per_cpu_is_the_default_and_tasks_beyond_the_cpus_queue() {
    let sc = tasks(Workload::Dbench, 4, 0);
    let r = run_to_end(&sc, 500_000, 1, Mode::Skip).unwrap();
    assert_eq!(r.task_breakdown.len(), 4);
    assert_eq!(
        r.counters.task_switches, 0,
        "one task per CPU never switches"
    );
    let sc = tasks(Workload::Dbench, 4, 16);
    let r = run_to_end(&sc, 2_000_000, 1, Mode::Skip).unwrap();
    assert_eq!(r.task_breakdown.len(), 16);
    for row in &r.task_breakdown {
        assert_eq!(row.iter().sum::<u64>(), 2_000_000);
        assert!(
            row[0] > 0 && row[1] > 0,
            "every task runs and waits: {row:?}"
        );
    }
    assert!(r.counters.task_switches > 0);
}

#[test]
fn fewer_tasks_than_cpus_leave_cpus_idle() {
    let sc = tasks(Workload::Dbench, 4, 2);
    let r = run_to_end(&sc, 300_000, 2, Mode::Skip).unwrap();
    let idle = crate::stats::Category::Idle as usize;
    // An idle CPU still runs the IPI handlers of the flushes.
    let handler = crate::stats::Category::IpiHandler as usize;
    for c in [2, 3] {
        assert_eq!(r.breakdown[c][idle] + r.breakdown[c][handler], 300_000);
        assert!(r.breakdown[c][idle] > 0);
    }
    assert!(r.breakdown[0][idle] < 300_000);
}

#[test]
fn blocked_tasks_free_their_cpu_and_hold_their_mappings() {
    // pte-highmem: each task blocks holding its page-table page; other tasks run meanwhile.
    let sc = tasks(Workload::PteHighmem, 2, 8);
    let mut e = Engine::new(&sc, 3, Mode::Skip).unwrap();
    e.advance_to(3_000_000, &mut || None).unwrap();
    let r = e.report();
    assert!(
        r.counters.blocks > 0 && r.counters.migrations > 0,
        "{:?}",
        r.counters
    );
    let held: usize = (0..8).map(|t| e.task_ctx(t).held().count()).sum();
    let in_use = e.pkmap().count.iter().filter(|&&n| n >= 2).count();
    assert!(
        held >= 1 && in_use >= held.min(1),
        "{held} held, {in_use} in use"
    );
    for row in &r.task_breakdown {
        assert!(row[2] > 0, "every task blocks: {row:?}");
    }
}

#[test]
fn a_block_longer_than_the_watchdog_is_no_deadlock() {
    let sc = Scenario {
        block_cycles: 40_000_000,
        watchdog_cycles: 1_000_000,
        ..tasks(Workload::PteHighmem, 2, 2)
    };
    for mode in [Mode::Step, Mode::Skip] {
        let r = run_to_end(&sc, 60_000_000, 1, mode);
        assert!(r.is_ok(), "{mode:?}: {r:?}");
    }
}

/// two-page-copy: `tasks` tasks each hold one mapping and ask for a second.
fn two_kmaps(tasks_n: u64, slots: u64) -> Scenario {
    Scenario {
        last_pkmap: slots,
        hot_pages: 0,
        block_cycles: 5_000,
        ..tasks(Workload::TwoPageCopy, 4, tasks_n)
    }
}

#[test]
fn two_kmaps_per_task_deadlock_once_the_pool_runs_out_and_never_with_enough_slots() {
    for mode in [Mode::Step, Mode::Skip] {
        let err = run_to_end(&two_kmaps(16, 16), 20_000_000, 1, mode).unwrap_err();
        let SimError::Deadlock(rep) = err else {
            panic!("{mode:?}: not a deadlock: {err}");
        };
        assert!(rep.pool_exhausted, "{rep}");
        // The wait-for cycle is among the sleeping tasks that hold the pool.
        let sleepers: Vec<u32> = rep.sleepers.iter().map(|(t, _)| *t).collect();
        assert_eq!(rep.chain, sleepers, "{rep}");
        assert!(
            rep.edges.is_empty() && rep.to_string().contains("-> task"),
            "{rep}"
        );
        let held: usize = rep.sleepers.iter().map(|(_, h)| h.len()).sum();
        assert_eq!(held, 16, "the sleepers hold the whole pool: {rep}");
        assert!(rep.to_string().contains("two-kmap deadlock"), "{rep}");
        // 16 tasks x 2 mappings fit in 32 slots: never.
        run_to_end(&two_kmaps(16, 32), 20_000_000, 1, mode).unwrap();
    }
}

#[test]
fn a_kunmap_of_a_page_the_task_does_not_hold_is_a_kernel_bug() {
    let sc = Scenario {
        workload: Workload::Custom,
        program: Some(program(&[
            &[("op", s("kmap")), ("handle", s("a"))],
            &[("op", s("kunmap")), ("handle", s("a"))],
            &[("op", s("kunmap")), ("handle", s("a"))],
        ])),
        ..tasks(Workload::Dbench, 2, 0)
    };
    let err = run_to_end(&sc, 1_000_000, 1, Mode::Skip).unwrap_err();
    let SimError::KernelBug { message, .. } = err else {
        panic!("not a kernel BUG: {err}");
    };
    assert!(
        message.contains("kunmap") && message.contains("handle 0"),
        "{message}"
    );
}

#[test]
fn a_task_may_hold_the_same_page_twice() {
    // 2.4 count semantics: the second kmap of a page shares its slot (count 3).
    let sc = Scenario {
        workload: Workload::Custom,
        program: Some(program(&[
            &[
                ("op", s("kmap")),
                ("handle", s("a")),
                ("page", Value::Int(5)),
            ],
            &[
                ("op", s("kmap")),
                ("handle", s("b")),
                ("page", Value::Int(5)),
            ],
            &[("op", s("access")), ("handle", s("b"))],
            &[("op", s("block"))],
            &[("op", s("kunmap")), ("handle", s("a"))],
            &[("op", s("access")), ("handle", s("b"))],
            &[("op", s("kunmap")), ("handle", s("b"))],
        ])),
        ..tasks(Workload::Dbench, 2, 3)
    };
    check(&sc, 1_000_000, 4).unwrap();
    let r = run_to_end(&sc, 1_000_000, 4, Mode::Skip).unwrap();
    assert!(
        r.counters.map_hits > r.counters.new_mappings,
        "{:?}",
        r.counters
    );
}

#[test]
fn repeat_runs_its_body_the_given_number_of_times() {
    let sc = Scenario {
        workload: Workload::Custom,
        program: Some(program(&[
            &[("op", s("kmap")), ("page", Value::Int(1))],
            &[
                ("op", s("access")),
                ("lookups", Value::Int(1)),
                ("cycles", Value::Int(10)),
            ],
            &[
                ("op", s("repeat")),
                ("to", Value::Int(1)),
                ("times", Value::Int(4)),
            ],
            &[("op", s("kunmap"))],
            &[
                ("op", s("work")),
                ("cycles", Value::Int(1000)),
                ("dist", s("fixed")),
            ],
        ])),
        tlb_evict_rate: 0.0,
        ..tasks(Workload::Dbench, 1, 0)
    };
    let r = run_to_end(&sc, 2_000_000, 1, Mode::Skip).unwrap();
    let lookups = r.counters.tlb_hits + r.counters.tlb_misses;
    assert_eq!(
        lookups,
        5 * r.counters.kunmaps + 5 * (r.counters.kmaps - r.counters.kunmaps)
    );
}

/// irqs-off-access: the kmapped page is read with interrupts disabled, so a shootdown IPI
/// cannot reach the reader until the access is over.
fn irqs_off(strategy: Strategy, workload: Workload) -> Scenario {
    Scenario {
        strategy,
        workload,
        cpus: 4,
        last_pkmap: 4,
        pages: 64,
        hot_pages: 4,
        shared_page_prob: 0.5,
        work_cycles: 300,
        copy_cycles: 3_000,
        copy_lookups: 6,
        ipi_latency: 100,
        irq_section_prob: 0.0,
        tlb_evict_rate: 0.0,
        ..Scenario::default()
    }
}

#[test]
fn interrupts_off_access_makes_async_read_stale_entries_where_dbench_shows_none() {
    let stale = |strategy, workload| {
        (0..4)
            .map(|seed| {
                let r = run_to_end(&irqs_off(strategy, workload), 3_000_000, seed, Mode::Skip);
                r.unwrap().counters.stale_accesses
            })
            .sum::<u64>()
    };
    assert_eq!(stale(Strategy::Async, Workload::Dbench), 0);
    assert!(stale(Strategy::Async, Workload::IrqsOffAccess) > 0);
    for strategy in [Strategy::Guarded, Strategy::Lazy] {
        assert_eq!(stale(strategy, Workload::IrqsOffAccess), 0, "{strategy:?}");
    }
    // sync waits for the ack of a CPU that spins on kmap_lock with interrupts disabled.
    let r = run_to_end(
        &irqs_off(Strategy::Sync, Workload::IrqsOffAccess),
        3_000_000,
        0,
        Mode::Skip,
    );
    assert!(matches!(r, Err(SimError::Deadlock(_))), "{r:?}");
}

#[test]
fn replay_and_recording_refuse_other_workloads() {
    let sc = tasks(Workload::PteHighmem, 2, 0);
    let mut e = Engine::new(&sc, 1, Mode::Skip).unwrap();
    let err = e.enable_recording().unwrap_err();
    assert_eq!(err.field, "record_ops");
    let err = e.set_replay(vec![vec![], vec![]]).unwrap_err();
    assert!(err.allowed.contains("dbench"), "{err}");
}
