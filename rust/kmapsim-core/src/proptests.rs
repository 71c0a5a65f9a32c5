//! proptest over the scenario space: every generated scenario must pass every invariant of
//! `invariants::check` (step equals skip, exact accounting, IPI and mapping balances, no stale
//! access outside `async`, deadlocks only from the misuse switch). A failure shrinks to a
//! minimal scenario and is kept in `proptest-regressions/`. `PROPTEST_CASES=N cargo test`
//! runs a deeper campaign; examples/fuzz_invariants.rs is the long-running, corpus-keeping fuzzer.

use crate::config::{Arbitration, Dist, EmptyFlush, Scenario, SlotAlloc, Strategy, Workload};
use crate::invariants::{check, generated_program};
use proptest::prelude::*;

/// Every strategy the engine has, so that a new one is drawn without a change here.
fn strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
    proptest::sample::select(Strategy::ALL)
}

prop_compose! {
    fn scenarios()(
        strategy in strategy(),
        freelist in any::<bool>(),
        skip_empty in any::<bool>(),
        fifo in any::<bool>(),
        fixed in any::<bool>(),
        cpus in 1u64..12,
        pool_log in 1u32..6,
        pages in 4u64..200,
        hot in 0u64..8,
        tlb in 1u64..8,
        latency in 1u64..5000,
        per_target in 0u64..200,
        handler in 1u64..1000,
        handoff in 1u64..400,
        irq_locks in 1u64..3,
        hold in 1u64..5000,
        work in 1u64..3000,
        copy in 8u64..600,
        lookups in 1u64..8,
        probs in (0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0),
        evict in 0.0f64..20.0,
        misuse in prop_oneof![3 => Just(0.0f64), 1 => 0.0f64..1.0],
        terms in (0u64..300, 0u64..300, 0u64..100, 0u64..3000, 0u64..500),
        terms_on in any::<bool>(),
    ) -> Scenario {
        // The cost terms of docs/model.md section 18, on in half the cases.
        let on = |v: u64| if terms_on { v } else { 0 };
        Scenario {
            strategy,
            slot_alloc: if freelist { SlotAlloc::Freelist } else { SlotAlloc::Scan },
            empty_flush: if skip_empty { EmptyFlush::Skip } else { EmptyFlush::Flush },
            lock_arbitration: if fifo { Arbitration::Fifo } else { Arbitration::Tas },
            work_dist: if fixed { Dist::Fixed } else { Dist::Exponential },
            cpus,
            last_pkmap: 1 << pool_log,
            pages,
            hot_pages: hot.min(pages),
            tlb_entries: tlb,
            ipi_latency: latency,
            ipi_send_per_target_cycles: per_target,
            ipi_handler_cycles: handler,
            lock_handoff_cycles: handoff,
            irq_locks,
            irq_hold_cycles: hold,
            work_cycles: work,
            copy_cycles: copy,
            copy_lookups: lookups.min(copy),
            shared_page_prob: probs.0,
            irq_section_prob: probs.1,
            ctx_switch_prob: probs.2,
            tlb_evict_rate: evict,
            kmap_irqs_off_prob: misuse,
            watchdog_cycles: 500_000,
            lock_handoff_per_waiter_cycles: on(terms.0),
            ipi_ack_per_target_cycles: on(terms.1),
            flush_clear_slot_cycles: on(terms.2),
            tlb_refill_cycles: on(terms.3),
            lock_hold_per_waiter_cycles: on(terms.4),
            ..Scenario::default()
        }
    }
}

fn workload() -> impl proptest::strategy::Strategy<Value = Workload> {
    prop_oneof![
        3 => Just(Workload::Dbench),
        1 => Just(Workload::FileRead),
        1 => Just(Workload::PteHighmem),
        1 => Just(Workload::TwoPageCopy),
        1 => Just(Workload::IrqsOffAccess),
        2 => Just(Workload::Custom),
    ]
}

prop_compose! {
    /// A scenario with tasks and a workload (built in or a random program).
    fn task_scenarios()(
        base in scenarios(),
        workload in workload(),
        tasks in 0u64..20,
        block in 1u64..20_000,
        choices in proptest::collection::vec(any::<u8>(), 0..12),
        handles in 1u8..4,
    ) -> Scenario {
        let mut sc = Scenario { workload, tasks, block_cycles: block, ..base };
        if workload == Workload::Custom {
            sc.program = Some(generated_program(&choices, handles, sc.kmap_irqs_off_prob > 0.0));
        }
        // Private pages for every task, and hot pages for the sources that need them.
        sc.pages = sc.pages.max(sc.hot_pages + sc.task_count());
        if sc.hot_pages == 0 {
            sc.hot_pages = 1;
            sc.pages += 1;
        }
        sc
    }
}

/// 48 cases by default (a few seconds); `PROPTEST_CASES` asks for more.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_scenario_keeps_every_invariant(sc in scenarios(), seed in any::<u64>()) {
        if let Err(why) = check(&sc, 60_000, seed) {
            prop_assert!(false, "{why}: {sc:?} seed {seed}");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_task_scenario_keeps_every_invariant(sc in task_scenarios(), seed in any::<u64>()) {
        if let Err(why) = check(&sc, 60_000, seed) {
            prop_assert!(false, "{why}: {sc:?} seed {seed}");
        }
    }
}
