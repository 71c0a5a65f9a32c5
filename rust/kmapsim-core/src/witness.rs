//! A timed witness for a counterexample of the checker (docs/verification.md): per-task lists
//! of kernel calls (`calls.rs`, what `--replay-calls` replays) whose timings make the ordinary
//! timed simulation reach the same stale access, deadlock or kernel BUG.
//!
//! The checker's path fixes which calls each task makes, with which pages; it does not fix
//! their timings, since it abstracts time to the order of events. The search draws the work
//! before each call (log-uniformly, from 1 cycle to `max_work`) and runs the simulation, try by
//! try, each with its own seed, until a run reaches the same violation: a stale read by the
//! same CPU of the same slot with the same two pages; a deadlock; a kernel BUG. Not every order
//! of events has a timing: the model's costs are fixed, and only the work between calls (and
//! the length of a block) is free. So the search may find none; it says so.

use crate::calls::Call;
use crate::check::{Step, replay_path};
use crate::config::{Scenario, Workload};
use crate::engine::{Engine, MAX_CYCLES, Mode};
use crate::error::{SimError, StopReason};
use crate::workload::Instr;

/// A witness: the timed machine, its call lists, and the run that reaches the violation.
#[derive(Clone, Debug)]
pub struct Witness {
    /// The checked machine with its program replaced by the lists (workload `dbench`).
    pub scenario: Scenario,
    /// One list per task, in task order.
    pub lists: Vec<Vec<Call>>,
    /// The run's seed and length: `run` with these reaches the violation.
    pub seed: u64,
    pub cycles: u64,
    /// The tries it took (1 for the first).
    pub tries: u32,
}

/// What the timed run must reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Stale {
        cpu: u32,
        slot: u32,
        expected: u32,
        actual: u32,
    },
    Deadlock,
    Bug,
}

/// The calls each task starts along `path` of `sc`'s checker machine, in order (work 0).
pub fn calls_along(sc: &Scenario, path: &[Step]) -> Result<Vec<Vec<Call>>, SimError> {
    let mut e = Engine::explorer(sc)?;
    e.record_started_calls();
    for (i, step) in path.iter().enumerate() {
        let (res, _) = crate::rng::with_script(&step.choices, || e.fire(step.event));
        match res {
            Err(SimError::KernelBug { .. }) if i + 1 == path.len() => break,
            other => other?,
        }
    }
    let mut lists = vec![Vec::new(); sc.task_count() as usize];
    for &(task, op, page) in e.started_calls().unwrap_or_default() {
        lists[task as usize].push(Call { op, page, work: 0 });
    }
    Ok(lists)
}

/// Why no call list can stand for `sc`'s runs, if none can: calls made with interrupts
/// disabled (the misuse switch, a program's `irqs`) have no form in a call list.
fn inexpressible(sc: &Scenario) -> Result<Option<String>, SimError> {
    let program = crate::workload::compile(sc)?;
    let irqs_off = program.iter().any(|s| match s.instr {
        Instr::Irqs { .. } => true,
        Instr::Kmap { irqs_off, .. } | Instr::Kunmap { irqs_off, .. } => {
            irqs_off.get().is_some_and(|p| p > 0.0)
        }
        Instr::Access { irqs_off, .. } => irqs_off,
        _ => false,
    });
    Ok(irqs_off.then(|| {
        "its calls are made with interrupts disabled, which a call list cannot express".into()
    }))
}

/// The violation at the end of `path`.
fn target(sc: &Scenario, path: &[Step]) -> Result<Target, SimError> {
    let e = replay_path(sc, path, None)?;
    if let Some(v) = e.report().violations.first() {
        return Ok(Target::Stale {
            cpu: v.cpu,
            slot: v.slot,
            expected: v.expected_page,
            actual: v.actual_page,
        });
    }
    let mut events = Vec::new();
    e.enabled(&mut events);
    Ok(if events.is_empty() && !e.finished() {
        Target::Deadlock
    } else {
        Target::Bug
    })
}

/// Search `tries` timings for a witness of `path` (module docs), from `seed`. `Ok(Err(why))`
/// when none is found (or none can exist). `poll` is called before each try and within it;
/// a reason it returns stops the search with `SimError::Interrupted` at the try's index.
pub fn find(
    sc: &Scenario,
    path: &[Step],
    tries: u32,
    seed: u64,
    poll: &mut dyn FnMut() -> Option<StopReason>,
) -> Result<Result<Witness, String>, SimError> {
    if let Some(why) = inexpressible(sc)? {
        return Ok(Err(why));
    }
    let want = target(sc, path)?;
    if want == Target::Bug {
        // The engine's BUGs come from a handle kmapped while still held or used unheld; a call
        // list names pages and takes a free handle for each kmap.
        return Ok(Err(
            "a call list names pages and takes a free handle for each kmap, so it \
                       cannot misuse a handle the way this kernel BUG needs"
                .into(),
        ));
    }
    let calls = calls_along(sc, path)?;
    let timed = Scenario {
        workload: Workload::Dbench,
        program: None,
        ..sc.clone()
    };
    let max_work = (8 * timed.ipi_latency).max(20_000);
    let mut draw = crate::rng::witness_stream(seed);
    for i in 0..tries {
        // A try can be shorter than the engine's own poll interval, and there may be 2**32 of
        // them: poll before each, so that Ctrl-C, a cancel and the wall-clock limit hold here.
        if let Some(reason) = poll() {
            return Err(SimError::Interrupted {
                cycle: u64::from(i),
                reason,
            });
        }
        let lists: Vec<Vec<Call>> = calls
            .iter()
            .map(|list| {
                list.iter()
                    .map(|&c| {
                        // The first try is as tight as can be; the others spread log-uniformly.
                        let work = if i == 0 {
                            1
                        } else {
                            let scale = 1u64 << draw.below(0, 64 - max_work.leading_zeros() as u64);
                            draw.below(scale, (2 * scale).min(max_work) + 1)
                        };
                        Call { work, ..c }
                    })
                    .collect()
            })
            .collect();
        let run_seed = seed.wrapping_add(i as u64);
        let total: u64 = lists.iter().flatten().map(|c| c.work).sum();
        let calls_n = lists.iter().map(Vec::len).sum::<usize>() as u64;
        let cycles = (total + calls_n * 100_000 + 1_000_000).min(MAX_CYCLES);
        let mut e = Engine::new(&timed, run_seed, Mode::Skip)?;
        e.set_call_replay(lists.clone())?;
        let reached = match e.advance_to(cycles, poll) {
            Ok(()) => matches!(want, Target::Stale { .. }) && stale_as(&e, want),
            Err(SimError::Deadlock(_)) => want == Target::Deadlock,
            Err(SimError::KernelBug { .. }) => want == Target::Bug,
            // At the try's index, as when stopped between tries (not at the try's cycle).
            Err(SimError::Interrupted { reason, .. }) => {
                return Err(SimError::Interrupted {
                    cycle: u64::from(i),
                    reason,
                });
            }
            Err(_) => false,
        };
        if reached {
            return Ok(Ok(Witness {
                scenario: timed,
                lists,
                seed: run_seed,
                cycles,
                tries: i + 1,
            }));
        }
    }
    Ok(Err(format!(
        "no timing found in {tries} tries: the order of events may need durations the model's \
         costs do not allow"
    )))
}

/// Whether run `e` read stale the way `want` says.
fn stale_as(e: &Engine, want: Target) -> bool {
    e.report().violations.iter().any(|v| {
        Target::Stale {
            cpu: v.cpu,
            slot: v.slot,
            expected: v.expected_page,
            actual: v.actual_page,
        } == want
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::CallOp;
    use crate::check::tests::{BOUNDS, machine};
    use crate::check::{Verdict, check};
    use crate::config::Strategy;
    use crate::pkmap::NONE;

    #[test]
    fn the_async_counterexample_has_a_timed_witness_that_reads_the_same_stale_entry() {
        let sc = machine(Strategy::Async, 2, 2, 3);
        let r = check(&sc, &BOUNDS, &mut || None).unwrap();
        assert_eq!(r.verdict, Verdict::StaleAccess);
        let path = r.counterexample.unwrap();
        let calls = calls_along(&sc, &path).unwrap();
        // The dbench loop: kmap, access, kunmap of each page drawn, the last call cut short.
        assert_eq!(calls[0][0].op, CallOp::Kmap);
        assert!(calls.iter().flatten().all(|c| c.page != NONE));
        let w = find(&sc, &path, 500, 1, &mut || None).unwrap().unwrap();
        let mut e = Engine::new(&w.scenario, w.seed, Mode::Skip).unwrap();
        e.set_call_replay(w.lists.clone()).unwrap();
        e.advance_to(w.cycles, &mut || None).unwrap();
        let want = target(&sc, &path).unwrap();
        assert!(stale_as(&e, want), "{:?}", e.report().violations);
    }

    #[test]
    fn the_two_kmap_deadlock_has_a_timed_witness() {
        let mut sc = machine(Strategy::Sync, 2, 2, 3);
        sc.workload = Workload::Custom;
        sc.program = Some(
            crate::workload::from_text(
                "kmap handle=0 page=cold; kmap handle=1 page=cold; access handle=0; \
                 kunmap handle=1; kunmap handle=0",
            )
            .unwrap(),
        );
        let r = check(&sc, &BOUNDS, &mut || None).unwrap();
        assert_eq!(r.verdict, Verdict::Deadlock);
        let w = find(&sc, &r.counterexample.unwrap(), 500, 1, &mut || None)
            .unwrap()
            .unwrap();
        assert_deadlocks(&w);
    }

    /// The witness's timed run ends in a deadlock.
    fn assert_deadlocks(w: &Witness) {
        let mut e = Engine::new(&w.scenario, w.seed, Mode::Skip).unwrap();
        e.set_call_replay(w.lists.clone()).unwrap();
        let err = e.advance_to(w.cycles, &mut || None).unwrap_err();
        assert!(matches!(err, SimError::Deadlock(_)), "{err}");
    }

    #[test]
    fn a_block_switches_its_task_out_and_the_witness_still_names_it() {
        // `two-page-copy` blocks holding its source mapping: a deadlock on 4 pages, and the
        // calls after a block belong to the task that blocked, not to the CPU's next one.
        let mut sc = machine(Strategy::Sync, 2, 2, 4);
        sc.workload = Workload::TwoPageCopy;
        let r = check(&sc, &BOUNDS, &mut || None).unwrap();
        assert_eq!(r.verdict, Verdict::Deadlock);
        let path = r.counterexample.unwrap();
        let calls = calls_along(&sc, &path).unwrap();
        assert!(calls.iter().flatten().any(|c| c.op == CallOp::Block));
        let w = find(&sc, &path, 500, 1, &mut || None).unwrap().unwrap();
        assert_deadlocks(&w);
    }

    #[test]
    fn a_kernel_bug_has_no_call_list_and_says_why() {
        let mut sc = machine(Strategy::Sync, 2, 2, 3);
        sc.workload = Workload::Custom;
        sc.program =
            Some(crate::workload::from_text("kmap handle=0 page=cold; access handle=0").unwrap());
        let r = check(&sc, &BOUNDS, &mut || None).unwrap();
        assert_eq!(r.verdict, Verdict::Bug);
        let why = find(&sc, &r.counterexample.unwrap(), 10, 1, &mut || None)
            .unwrap()
            .unwrap_err();
        assert!(why.contains("handle"), "{why}");
    }

    #[test]
    fn the_misuse_deadlock_has_no_call_list() {
        let mut sc = machine(Strategy::Sync, 2, 2, 3);
        sc.kmap_irqs_off_prob = 1.0;
        let r = check(&sc, &BOUNDS, &mut || None).unwrap();
        let why = find(&sc, &r.counterexample.unwrap(), 10, 1, &mut || None)
            .unwrap()
            .unwrap_err();
        assert!(why.contains("interrupts disabled"), "{why}");
    }
}
