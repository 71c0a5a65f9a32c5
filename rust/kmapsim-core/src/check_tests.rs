//! The checker against what docs/verification.md claims of it: the `async` counterexample
//! (found, shortest, replayed), proofs on small bounds, a broken `guarded` found unsafe, and the
//! misuse switch's deadlock with its chain.

use super::{
    Bounds, CheckReport, Progress, Symmetry, Verdict, check, check_counted, replay_path, search,
};
use crate::config::{Scenario, Strategy};
use crate::engine::Engine;
use crate::error::{SimError, StopReason};

/// A small machine: `cpus` x `slots` x `pages`, one task a CPU, the `dbench` loop without
/// interrupts-off sections or switches, one lookup a copy, no unrelated TLB evictions (the
/// Python `check_machine`'s defaults; `pct.rs`'s tests use it too).
pub(crate) fn machine(strategy: Strategy, cpus: u64, slots: u64, pages: u64) -> Scenario {
    Scenario {
        strategy,
        cpus,
        last_pkmap: slots,
        pages,
        hot_pages: 0,
        shared_page_prob: 0.0,
        irq_section_prob: 0.0,
        ctx_switch_prob: 0.0,
        tlb_evict_rate: 0.0,
        copy_lookups: 1,
        ..Scenario::default()
    }
}

pub(crate) const BOUNDS: Bounds = Bounds {
    max_states: 2_000_000,
    max_depth: 10_000,
    max_frontier: 1_000_000,
    max_ipis: u32::MAX,
    symmetry: true,
    threads: 1,
};

#[test]
fn async_reads_stale_with_2_cpus_2_slots_3_pages_and_the_path_replays() {
    let sc = machine(Strategy::Async, 2, 2, 3);
    let r = check(&sc, &BOUNDS, &mut || None).unwrap();
    assert_eq!(r.verdict, Verdict::StaleAccess, "{r:?}");
    let path = r.counterexample.unwrap();
    assert_eq!(r.depth as usize, path.len());
    // The simulator's own transitions, run along the path, read the stale entry at its last
    // step and not before.
    let e = replay_path(&sc, &path, None).unwrap();
    assert!(e.stale_accesses() > 0);
    let e = replay_path(&sc, &path[..path.len() - 1], None).unwrap();
    assert_eq!(e.stale_accesses(), 0);
    // Shortest: no path one step shorter reaches a stale access.
    let shorter = Bounds {
        max_depth: path.len() as u32 - 1,
        ..BOUNDS
    };
    let r = check(&sc, &shorter, &mut || None).unwrap();
    assert_eq!(r.verdict, Verdict::BoundReached, "{r:?}");
}

#[test]
fn the_safe_strategies_are_proved_safe_on_2_cpus_2_slots_2_pages() {
    for &strategy in Strategy::ALL {
        // `split` needs about 0.7 million states here, too many for a debug-build test: the
        // table of docs/verification.md proves it.
        if matches!(strategy, Strategy::Async | Strategy::Split) {
            continue;
        }
        let r = check(&machine(strategy, 2, 2, 2), &BOUNDS, &mut || None).unwrap();
        assert_eq!(r.verdict, Verdict::Safe, "{strategy:?}: {r:?}");
        assert!(
            r.states > 50 && r.transitions >= r.states,
            "{strategy:?}: {r:?}"
        );
    }
}

#[test]
fn guarded_with_its_check_before_the_lock_is_found_unsafe() {
    // docs/model.md 12.3: the check passes, a flush runs before the lock is had, and the IPI
    // has not landed when the slot is read. The same check under the lock is safe (above).
    let sc = machine(Strategy::Guarded, 2, 2, 3);
    let mut root = Engine::explorer(&sc).unwrap();
    root.guarded_checks_before_lock = true;
    let r = search(root, &BOUNDS, &mut || None, &mut None).unwrap();
    assert_eq!(r.verdict, Verdict::StaleAccess, "{r:?}");
}

#[test]
fn the_interrupts_off_misuse_deadlocks_sync_with_its_wait_for_chain() {
    let sc = Scenario {
        kmap_irqs_off_prob: 1.0,
        ..machine(Strategy::Sync, 2, 2, 3)
    };
    let r = check(&sc, &BOUNDS, &mut || None).unwrap();
    assert_eq!(r.verdict, Verdict::Deadlock, "{r:?}");
    assert!(r.message.contains("wait-for cycle: cpu"), "{}", r.message);
    assert!(r.message.contains("interrupts disabled"), "{}", r.message);
    // The path ends in the deadlocked state: nothing is enabled there.
    let e = replay_path(&sc, r.counterexample.as_ref().unwrap(), None).unwrap();
    let mut events = Vec::new();
    e.enabled(&mut events);
    assert!(events.is_empty());
}

#[test]
fn a_bound_stops_the_search_and_says_so() {
    let sc = machine(Strategy::Sync, 2, 2, 3);
    let small = Bounds {
        max_states: 1_000,
        ..BOUNDS
    };
    let r = check(&sc, &small, &mut || None).unwrap();
    assert_eq!(r.verdict, Verdict::BoundReached);
    assert!(r.states >= 1_000 && r.counterexample.is_none());
}

#[test]
fn the_state_bound_is_reached_only_with_a_state_left_beyond_it() {
    let sc = machine(Strategy::Sync, 2, 2, 2);
    for max_frontier in [BOUNDS.max_frontier, 10] {
        let full = check(
            &sc,
            &Bounds {
                max_frontier,
                ..BOUNDS
            },
            &mut || None,
        )
        .unwrap();
        assert_eq!(full.verdict, Verdict::Safe);
        let exact = Bounds {
            max_states: full.states,
            max_frontier,
            ..BOUNDS
        };
        let r = check(&sc, &exact, &mut || None).unwrap();
        assert_eq!((r.verdict, r.states), (Verdict::Safe, full.states));
        let short = Bounds {
            max_states: full.states - 1,
            ..exact
        };
        let r = check(&sc, &short, &mut || None).unwrap();
        assert_eq!(
            (r.verdict, r.states),
            (Verdict::BoundReached, full.states - 1)
        );
    }
}

/// `sc` checked without symmetry reduction, then with it (`BOUNDS` otherwise).
fn without_and_with_symmetry(sc: &Scenario) -> (CheckReport, CheckReport) {
    let plain = Bounds {
        symmetry: false,
        ..BOUNDS
    };
    let a = check(sc, &plain, &mut || None).unwrap();
    let b = check(sc, &BOUNDS, &mut || None).unwrap();
    (a, b)
}

#[test]
fn symmetry_reduction_keeps_every_verdict_and_counterexample_length() {
    // Renaming the CPUs with their tasks maps runs to runs: with and without the reduction the
    // verdicts and the shortest counterexamples' lengths agree, with fewer states with it.
    for (strategy, pages) in [
        (Strategy::Async, 3),
        (Strategy::Sync, 2),
        (Strategy::Lazy, 2),
        (Strategy::Defer, 2),
        (Strategy::Local, 3),
    ] {
        let sc = machine(strategy, 2, 2, pages);
        let (a, b) = without_and_with_symmetry(&sc);
        assert!(b.symmetry.cpus && b.symmetry.pages == Some(0));
        assert_eq!(a.symmetry, Symmetry::NONE);
        assert_eq!(a.verdict, b.verdict, "{strategy:?}");
        assert_eq!(a.depth, b.depth, "{strategy:?}");
        assert!(
            b.states < a.states,
            "{strategy:?}: {} >= {}",
            b.states,
            a.states
        );
        if let Some(path) = &b.counterexample {
            let e = replay_path(&sc, path, None).unwrap();
            assert!(e.stale_accesses() > 0);
        }
    }
    // Per-task pages break the symmetry: no reduction then.
    let mut sc = machine(Strategy::Sync, 2, 2, 4);
    sc.workload = crate::config::Workload::PteHighmem;
    let sym = Engine::explorer(&sc).unwrap().symmetry(true);
    assert_eq!(sym, Symmetry::NONE);
}

#[test]
fn a_kernel_bug_is_a_verdict_with_its_path_and_a_big_machine_is_refused() {
    // A program that kmaps into a handle it still holds: the engine's BUG, found and replayed
    // up to the BUG.
    let mut sc = machine(Strategy::Sync, 2, 2, 3);
    sc.workload = crate::config::Workload::Custom;
    sc.program =
        Some(crate::workload::from_text("kmap handle=0 page=cold; access handle=0").unwrap());
    let r = check(&sc, &BOUNDS, &mut || None).unwrap();
    assert_eq!(r.verdict, Verdict::Bug, "{r:?}");
    assert!(
        r.message.contains("at step") && r.message.contains("leak"),
        "{}",
        r.message
    );
    replay_path(&sc, r.counterexample.as_ref().unwrap(), None).unwrap();
    let big = machine(Strategy::Sync, 9, 2, 3);
    let err = check(&big, &BOUNDS, &mut || None).unwrap_err();
    assert!(err.to_string().contains("cpus"), "{err}");
}

#[test]
fn symmetry_over_pages_keeps_their_classes_apart() {
    // Hot and cold pages are interchangeable only among themselves: with one hot page the
    // verdict and the counterexample's length agree with and without the reduction.
    let mut sc = machine(Strategy::Async, 2, 2, 3);
    sc.hot_pages = 1;
    sc.shared_page_prob = 0.5;
    let (a, b) = without_and_with_symmetry(&sc);
    assert_eq!(b.symmetry.pages, Some(1));
    assert_eq!((a.verdict, a.depth), (b.verdict, b.depth));
    assert_eq!(a.verdict, Verdict::StaleAccess);
    assert!(b.states < a.states, "{} >= {}", b.states, a.states);
    // A fixed page tells pages apart: no renaming of pages, the CPUs' still.
    sc.workload = crate::config::Workload::Custom;
    sc.program = Some(
        crate::workload::from_text(
            "kmap handle=0 page=2; access handle=0; kunmap handle=0; \
             kmap handle=0 page=cold; access handle=0; kunmap handle=0",
        )
        .unwrap(),
    );
    let sym = Engine::explorer(&sc).unwrap().symmetry(true);
    assert_eq!((sym.cpus, sym.pages), (true, None));
}

#[test]
fn the_depth_first_continuation_explores_the_same_states() {
    // Past `max_frontier` the search goes on depth-first over the same states; its paths are
    // longer than the last 256 states, which keep their machines, so states below are rebuilt
    // from checkpoints.
    let deep = Bounds {
        max_frontier: 10,
        ..BOUNDS
    };
    for strategy in [Strategy::Sync, Strategy::Defer] {
        let sc = machine(strategy, 2, 2, 2);
        let wide = check(&sc, &BOUNDS, &mut || None).unwrap();
        let d = check(&sc, &deep, &mut || None).unwrap();
        assert_eq!((wide.verdict, d.verdict), (Verdict::Safe, Verdict::Safe));
        assert_eq!((wide.states, wide.transitions), (d.states, d.transitions));
        assert!(wide.depth_first_from.is_none() && wide.shortest);
        assert!(d.depth_first_from.is_some() && d.depth > 300, "{d:?}");
        let rebuilt = Bounds {
            max_frontier: 10,
            max_depth: 280,
            ..BOUNDS
        };
        // A path bound past the window, and a rebuild: the states within it are still found.
        let r = check(&sc, &rebuilt, &mut || None).unwrap();
        assert!(
            r.states <= d.states && r.verdict == Verdict::BoundReached,
            "{r:?}"
        );
    }
}

#[test]
fn a_counterexample_found_depth_first_is_real_and_not_called_shortest() {
    let sc = machine(Strategy::Async, 2, 2, 3);
    let deep = Bounds {
        max_frontier: 20,
        max_ipis: 1,
        ..BOUNDS
    };
    let r = check(&sc, &deep, &mut || None).unwrap();
    assert_eq!(r.verdict, Verdict::StaleAccess);
    assert!(!r.shortest && r.depth_first_from.is_some());
    let path = r.counterexample.unwrap();
    assert!(path.len() > 23, "longer than the shortest: {}", path.len());
    let e = replay_path(&sc, &path, None).unwrap();
    assert!(e.stale_accesses() > 0);
    let e = replay_path(&sc, &path[..path.len() - 1], None).unwrap();
    assert_eq!(e.stale_accesses(), 0);
}

#[test]
fn the_ipi_bound_prunes_the_transitions_past_it() {
    // `guarded`'s flusher does not wait for its IPIs: some interleavings pile them up, and
    // with a bound of 1 those transitions are not taken (and counted). `async`'s stale read
    // needs one IPI in flight: found as before.
    let sc = machine(Strategy::Guarded, 2, 2, 3);
    let first = |max_ipis| Bounds {
        max_states: 20_000,
        max_ipis,
        ..BOUNDS
    };
    let free = check(&sc, &first(u32::MAX), &mut || None).unwrap();
    let one = check(&sc, &first(1), &mut || None).unwrap();
    assert_eq!(free.pruned, 0);
    assert!(one.pruned > 0, "{one:?}");
    let sc = machine(Strategy::Async, 2, 2, 3);
    let r = check(&sc, &first(1), &mut || None).unwrap();
    assert_eq!((r.verdict, r.depth), (Verdict::StaleAccess, 23));
}

#[test]
fn past_four_cpus_one_order_of_the_cpus_keeps_every_verdict() {
    // Five CPUs: the key takes one order of the CPUs (sorted by their own state) instead of
    // 120; the verdicts are those without the reduction, with fewer states. (The levels may
    // differ: one state's renamings can have several keys now, and a renaming met again later
    // by a longer path is explored again, at that level.)
    let mut sc = machine(Strategy::Local, 5, 2, 1);
    sc.slot_alloc = crate::config::SlotAlloc::Freelist;
    let (a, b) = without_and_with_symmetry(&sc);
    assert!(b.symmetry.cpus);
    assert_eq!((a.verdict, b.verdict), (Verdict::Safe, Verdict::Safe));
    assert!(b.states < a.states, "{} >= {}", b.states, a.states);
}

#[test]
fn an_interrupted_search_leaves_its_counts() {
    let sc = machine(Strategy::Sync, 2, 2, 2);
    let mut polls = 0;
    let mut poll = || {
        polls += 1;
        (polls > 3).then_some(StopReason::Cancelled)
    };
    let mut progress = Progress::default();
    let r = check_counted(&sc, &BOUNDS, &mut poll, &mut progress);
    assert!(matches!(r, Err(SimError::Interrupted { .. })));
    // Polled every 512 transitions: stopped at the fourth poll, at 2,048 of them.
    assert_eq!(polls, 4);
    assert!(progress.transitions >= 2_048 && progress.transitions < 2_048 + 64);
    assert!(progress.states > 512 && progress.transitions >= progress.states - 1);
}

/// The caller is polled by transitions, not states: on a machine whose states have hundreds
/// of transitions each, and depth-first through runs of states seen before, it is still asked
/// every few hundred transitions.
#[test]
fn the_caller_is_polled_every_few_hundred_transitions() {
    let mut wide = machine(Strategy::Sync, 8, 16, 64);
    wide.tasks = 16;
    for max_frontier in [100_000, 10] {
        let bounds = Bounds {
            max_frontier,
            ..BOUNDS
        };
        let (mut polls, mut progress) = (0u64, Progress::default());
        let mut poll = || {
            polls += 1;
            (polls > 20).then_some(StopReason::Cancelled)
        };
        let r = check_counted(&wide, &bounds, &mut poll, &mut progress);
        assert!(matches!(r, Err(SimError::Interrupted { .. })));
        let per_poll = progress.transitions / 21;
        assert!(
            per_poll < 1_024,
            "{per_poll} transitions a poll ({max_frontier})"
        );
    }
}

#[test]
fn the_depth_first_continuation_reports_no_depth_past_the_bound() {
    // Breadth-first and depth-first count depth alike: the levels expanded, at most
    // `max_depth`, at the bound and at a bound the switch to depth-first comes just before.
    let sc = machine(Strategy::Guarded, 2, 2, 3);
    for max_depth in [1, 2, 3, 20, 21] {
        let wide = Bounds {
            max_states: 100_000,
            max_depth,
            ..BOUNDS
        };
        let narrow = Bounds {
            max_frontier: 10,
            ..wide
        };
        let b = check(&sc, &wide, &mut || None).unwrap();
        let d = check(&sc, &narrow, &mut || None).unwrap();
        assert_eq!(b.depth, max_depth, "{b:?}");
        assert!(d.depth <= max_depth, "{max_depth}: {d:?}");
        if d.verdict == Verdict::BoundReached && d.depth_first_from.is_some() {
            assert_eq!(d.depth, max_depth, "{d:?}");
        }
    }
}

/// `sc` checked within `bounds` on `threads` threads, in jobs of about `job` transitions that
/// stop after `most` (None: the search's own rule), polled until the `stop_at`-th poll: the
/// report or the error, and the progress, as text.
fn on_threads(
    sc: &Scenario,
    bounds: Bounds,
    threads: u32,
    (job, most): (u64, Option<u64>),
    stop_at: u64,
) -> String {
    super::expand::JOB_TRANSITIONS_HERE.with(|n| n.set(job));
    super::expand::MOST_TRANSITIONS_HERE.with(|n| n.set(most));
    let bounds = Bounds { threads, ..bounds };
    let mut polls = 0;
    let mut poll = || {
        polls += 1;
        (polls >= stop_at).then_some(StopReason::Cancelled)
    };
    let mut progress = Progress::default();
    let r = check_counted(sc, &bounds, &mut poll, &mut progress);
    super::expand::JOB_TRANSITIONS_HERE.with(|n| n.set(super::expand::JOB_TRANSITIONS));
    super::expand::MOST_TRANSITIONS_HERE.with(|n| n.set(None));
    format!("{r:?} {progress:?}")
}

/// A breadth-first level expanded on several threads reports what one thread does, field by
/// field: safe and every kind of violation with its counterexample and message, each bound
/// met in the middle of a level (states, depth, the frontier and the switch to depth-first),
/// pruned transitions, a poll that stops the search, and jobs of one state up to whole levels,
/// and jobs that stop after their first state (the merge running the rest).
#[test]
fn several_threads_report_what_one_thread_does() {
    let bounded = Bounds {
        max_ipis: 2,
        max_states: 3_000,
        ..BOUNDS
    };
    let mut cases = Vec::new();
    for (i, &strategy) in Strategy::ALL.iter().enumerate() {
        // Every other one switches to depth-first in its third level or so.
        let max_frontier = if i % 2 == 0 { 40 } else { BOUNDS.max_frontier };
        let bounds = Bounds {
            max_frontier,
            ..bounded
        };
        cases.push((machine(strategy, 2, 2, 2), bounds));
    }
    let sync = machine(Strategy::Sync, 2, 2, 2);
    for bounds in [
        Bounds {
            max_states: 700,
            ..bounded
        },
        Bounds {
            max_depth: 9,
            ..bounded
        },
    ] {
        cases.push((sync.clone(), bounds));
    }
    let deadlock = Scenario {
        kmap_irqs_off_prob: 1.0,
        ..machine(Strategy::Sync, 2, 2, 3)
    };
    let mut bug = machine(Strategy::Sync, 2, 2, 3);
    bug.workload = crate::config::Workload::Custom;
    bug.program =
        Some(crate::workload::from_text("kmap handle=0 page=cold; access handle=0").unwrap());
    let mut tasks = machine(Strategy::Lazy, 2, 2, 2);
    tasks.tasks = 3;
    tasks.ctx_switch_prob = 0.5;
    let three = machine(Strategy::Sync, 3, 2, 2);
    for sc in [
        deadlock,
        bug,
        tasks,
        three,
        machine(Strategy::Async, 2, 2, 3),
    ] {
        cases.push((sc, bounded));
    }
    let mut violations = 0;
    for (sc, bounds) in &cases {
        let one = on_threads(
            sc,
            *bounds,
            1,
            (super::expand::JOB_TRANSITIONS, None),
            u64::MAX,
        );
        violations += one.contains("counterexample: Some") as u32;
        // The last: jobs of some twenty states that stop after their first.
        for (threads, job) in [
            (2, (1, None)),
            (3, (60, None)),
            (2, (100_000, None)),
            (2, (60, Some(1))),
        ] {
            let many = on_threads(sc, *bounds, threads, job, u64::MAX);
            assert_eq!(
                many, one,
                "{threads} threads, jobs of {job:?}: {sc:?} {bounds:?}"
            );
        }
        // Stopped by the caller at its third poll: at the same transition.
        let one = on_threads(sc, *bounds, 1, (super::expand::JOB_TRANSITIONS, None), 3);
        assert_eq!(
            on_threads(sc, *bounds, 2, (5, None), 3),
            one,
            "{sc:?} {bounds:?}"
        );
    }
    assert!(violations >= 3, "{violations} violations among the cases");
}

/// A panic on the search's own thread (here in the caller's poll) while other threads help
/// with a level reaches the caller: the helpers stop instead of waiting for the merge.
#[test]
fn a_panic_in_the_search_thread_reaches_the_caller_with_threads_helping() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        super::expand::JOB_TRANSITIONS_HERE.with(|n| n.set(4));
        let bounds = Bounds {
            threads: 2,
            ..BOUNDS
        };
        let sc = machine(Strategy::Sync, 2, 2, 3);
        let mut polls = 0;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check(&sc, &bounds, &mut || {
                polls += 1;
                assert!(polls < 40, "the poll panics");
                None
            })
        }));
        done.send(caught.is_err()).unwrap();
    });
    let panicked = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the check ends instead of hanging");
    assert!(panicked);
}
