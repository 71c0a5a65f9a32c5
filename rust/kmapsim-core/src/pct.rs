//! The checker's randomised mode for machines too big to enumerate: probabilistic concurrency
//! testing (PCT; Burckhardt, Kothari, Musuvathi and Nagarakatte, ASPLOS 2010), over the same
//! events and transitions as the exhaustive search (`check.rs`, docs/verification.md).
//!
//! Each run gives the CPUs distinct random priorities above `depth`, and picks `depth - 1`
//! random change points among its `steps` steps. At each step it lets the enabled event of the
//! highest-priority CPU happen (an IPI belongs to its target, a block's end to its task's last
//! CPU, a grant to its highest-priority spinner); at the i-th change point that CPU's priority
//! drops to i. Each random choice of a transition is drawn uniformly. PCT's theorem: a bug that
//! needs `depth` ordering constraints is found by one run with probability at least
//! 1 / (n · k^(depth-1)) for n CPUs and k steps, times the chance that the random choices it
//! needs come out right.

use crate::check::{CheckReport, Step, Symmetry, Verdict};
use crate::config::Scenario;
use crate::engine::{Engine, Event};
use crate::error::{SimError, StopReason};
use crate::rng::{self, Stream};

/// How many runs of how many steps, hunting bugs of which depth, from which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pct {
    pub runs: u64,
    pub steps: u32,
    pub depth: u32,
    pub seed: u64,
}

impl Pct {
    /// PCT's lower bound on one run's chance of finding a bug of depth `depth` on `cpus` CPUs
    /// (the scheduling part; the bug's random choices multiply it).
    pub fn chance_per_run(&self, cpus: u64) -> f64 {
        1.0 / (cpus as f64 * (self.steps as f64).powi(self.depth as i32 - 1))
    }
}

/// Run `pct.runs` PCT runs of `sc`'s checker machine. The report's `states` counts the steps
/// run, `depth` the steps of the counterexample if one was found; its verdict is
/// `BoundReached` when none was.
pub fn pct(
    sc: &Scenario,
    pct: &Pct,
    poll: &mut dyn FnMut() -> Option<StopReason>,
) -> Result<CheckReport, SimError> {
    crate::check::small_enough(sc)?;
    let root = Engine::explorer(sc)?;
    let mut draws = rng::task_stream(pct.seed, u32::MAX);
    let (mut steps, mut transitions) = (0u64, 0u64);
    for run in 0..pct.runs {
        if let Some(reason) = poll() {
            return Err(SimError::Interrupted { cycle: run, reason });
        }
        let (found, ran) = one_run(&root, pct, &mut draws, &mut transitions, poll)
            .map_err(|reason| SimError::Interrupted { cycle: run, reason })?;
        steps += ran;
        if let Some((verdict, path, message)) = found {
            return Ok(CheckReport {
                verdict,
                states: steps,
                transitions,
                pruned: 0,
                depth: path.len() as u32,
                symmetry: Symmetry::NONE,
                // A random run's path: real and replayable, not always a shortest one.
                shortest: false,
                depth_first_from: None,
                counterexample: Some(path),
                message,
                state_bound: false,
            });
        }
    }
    Ok(CheckReport {
        verdict: Verdict::BoundReached,
        states: steps,
        transitions,
        pruned: 0,
        depth: pct.steps,
        symmetry: Symmetry::NONE,
        shortest: true,
        depth_first_from: None,
        counterexample: None,
        message: String::new(),
        state_bound: false,
    })
}

type Found = (Verdict, Vec<Step>, String);

/// Steps of one PCT run between two polls: a run may have 2**32 - 1 steps, hours of them.
const POLL_STEPS: u64 = 1 << 10;

/// One PCT run from `root`: what it found, if anything, and how many steps it ran; `poll`'s
/// reason if it stopped the run.
fn one_run(
    root: &Engine,
    pct: &Pct,
    draws: &mut Stream,
    transitions: &mut u64,
    poll: &mut dyn FnMut() -> Option<StopReason>,
) -> Result<(Option<Found>, u64), StopReason> {
    let n = root.cpu_count();
    // Distinct priorities depth .. depth + n - 1, in a random order (Fisher-Yates).
    let mut prio: Vec<u64> = (0..n as u64).map(|i| pct.depth as u64 + i).collect();
    for i in (1..n).rev() {
        prio.swap(i, draws.below(0, i as u64 + 1) as usize);
    }
    let changes: Vec<u64> = (1..pct.depth)
        .map(|_| draws.below(1, pct.steps as u64 + 1))
        .collect();
    let mut e = root.clone();
    let mut path = Vec::new();
    let mut events = Vec::new();
    for step in 1..=pct.steps as u64 {
        if step % POLL_STEPS == 0
            && let Some(reason) = poll()
        {
            return Err(reason);
        }
        e.enabled(&mut events);
        if events.is_empty() {
            if e.finished() {
                break;
            }
            let msg = crate::check::in_steps(e.deadlock_now().to_string());
            return Ok((Some((Verdict::Deadlock, path, msg)), step - 1));
        }
        let owner = |ev: &Event| e.event_owner(*ev, &prio);
        let top = events.iter().map(owner).map(|c| prio[c]).max().unwrap_or(0);
        let mine: Vec<Event> = events
            .iter()
            .copied()
            .filter(|ev| prio[owner(ev)] == top)
            .collect();
        let ev = mine[draws.below(0, mine.len() as u64) as usize];
        let who = owner(&ev);
        let (next, choices, res) = fire_drawn(&e, ev, draws, transitions);
        e = next;
        path.push(Step { event: ev, choices });
        if let Err(err) = res {
            let msg = crate::check::in_steps(err.to_string());
            return Ok((Some((Verdict::Bug, path, msg)), step));
        }
        if e.stale_accesses() > 0 {
            let v = e.report().violations;
            let msg = v.first().map_or(String::new(), crate::check::stale_message);
            return Ok((Some((Verdict::StaleAccess, path, msg)), step));
        }
        if let Some(i) = changes.iter().position(|&c| c == step) {
            prio[who] = i as u64 + 1;
        }
    }
    Ok((None, pct.steps as u64))
}

/// `ev` from `e` with each random choice drawn uniformly: the engine after it, the outcomes
/// (so that `replay_path` runs it again) and the transition's result.
fn fire_drawn(
    e: &Engine,
    ev: Event,
    draws: &mut Stream,
    transitions: &mut u64,
) -> (Engine, Vec<u32>, Result<(), SimError>) {
    let mut given: Vec<u32> = Vec::new();
    loop {
        let mut child = e.clone();
        let (res, made) = rng::with_script(&given, || child.fire(ev));
        *transitions += 1;
        match made.get(given.len()) {
            // A choice past the drawn ones: draw it and run the transition again.
            Some(&(_, n)) => given.push(draws.below(0, n as u64) as u32),
            None => return (child, given, res),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Strategy;

    fn machine(strategy: Strategy) -> Scenario {
        crate::check::tests::machine(strategy, 2, 2, 3)
    }

    const RUNS: Pct = Pct {
        runs: 3_000,
        steps: 60,
        depth: 3,
        seed: 1,
    };

    #[test]
    fn pct_finds_the_async_stale_read_and_its_path_replays() {
        let sc = machine(Strategy::Async);
        let r = pct(&sc, &RUNS, &mut || None).unwrap();
        assert_eq!(r.verdict, Verdict::StaleAccess, "{r:?}");
        let path = r.counterexample.unwrap();
        let e = crate::check::replay_path(&sc, &path, None).unwrap();
        assert!(e.stale_accesses() > 0);
        // The same seed, the same runs.
        let again = pct(&sc, &RUNS, &mut || None).unwrap();
        assert_eq!(again.counterexample.unwrap(), path);
    }

    #[test]
    fn pct_finds_the_misuse_deadlock_and_nothing_under_sync() {
        let mut sc = machine(Strategy::Sync);
        sc.kmap_irqs_off_prob = 1.0;
        let r = pct(&sc, &RUNS, &mut || None).unwrap();
        assert_eq!(r.verdict, Verdict::Deadlock, "{r:?}");
        let few = Pct { runs: 200, ..RUNS };
        let r = pct(&machine(Strategy::Sync), &few, &mut || None).unwrap();
        assert_eq!(r.verdict, Verdict::BoundReached);
        assert_eq!(r.states, 200 * 60);
        assert!((few.chance_per_run(2) - 1.0 / (2.0 * 3600.0)).abs() < 1e-12);
    }
}
