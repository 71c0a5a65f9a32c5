//! `kmapsim check`: every interleaving of a small machine, explored breadth-first with the
//! simulator's own transition rules (`engine/explore.rs`; docs/verification.md).
//!
//! From each state every enabled event may happen next, and every random choice of the
//! workload or of a lock arbitration is a branch over its outcomes. States are identified by a
//! 128-bit fingerprint of their abstract key (hash compaction: two distinct states share one
//! with probability below n^2 / 2^129 for n states). Breadth-first order makes the first
//! counterexample found a shortest one. A state with no enabled event and work left is a
//! deadlock, reported with the simulator's wait-for chain. Under symmetry reduction a state
//! stands for all its renamings of the CPUs (`Engine::canonical_key`); they are as far from the
//! start as it is, so a counterexample found is still a shortest one, and its path is the real
//! one that reached the state first.

use crate::config::Scenario;
use crate::engine::Engine;
pub use crate::engine::Event;
use crate::error::{ConfigError, SimError, StopReason};
use crate::rng;
use std::collections::HashMap;

/// How far the search may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Distinct states at most (the search stops with `BoundReached` beyond).
    pub max_states: u64,
    /// Events on a path at most.
    pub max_depth: u32,
    /// Identify states that differ by a renaming of the CPUs (with their tasks) when the
    /// machine allows it (`Engine::cpus_symmetric`): symmetry reduction.
    pub symmetry: bool,
}

/// What the search established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every reachable state was explored: no stale access, no deadlock, no kernel BUG.
    Safe,
    /// Some interleaving reads through a stale TLB entry.
    StaleAccess,
    /// Some interleaving reaches a state where nothing can happen and work is left.
    Deadlock,
    /// Some interleaving hits a kernel BUG (corrupt counts).
    Bug,
    /// The bound was reached first: nothing found among the states explored.
    BoundReached,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::StaleAccess => "stale access",
            Verdict::Deadlock => "deadlock",
            Verdict::Bug => "bug",
            Verdict::BoundReached => "bound reached",
        }
    }
}

/// One step of a path: the event, and the outcomes of the random choices it made, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub event: Event,
    pub choices: Vec<u32>,
}

/// The search's result.
#[derive(Clone, Debug)]
pub struct CheckReport {
    pub verdict: Verdict,
    /// Distinct states reached (the initial one included) and transitions run.
    pub states: u64,
    pub transitions: u64,
    /// The deepest breadth-first level completed (or, with a counterexample, its length).
    pub depth: u32,
    /// Whether states were identified up to a renaming of the CPUs (symmetry reduction).
    pub symmetric: bool,
    /// The shortest path to the violation, from the initial state.
    pub counterexample: Option<Vec<Step>>,
    /// What went wrong at the path's end (the deadlock report, the BUG, the stale access).
    pub message: String,
}

/// A 128-bit fingerprint of a key (two independent multiply-xorshift hashes).
fn fingerprint(words: &[u64]) -> u128 {
    let mix = |mut h: u64, m: u64| {
        for &w in words {
            h = (h ^ w).wrapping_mul(m);
            h ^= h >> 29;
        }
        h ^= h >> 32;
        h.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ (h >> 31)
    };
    let a = mix(0x243F_6A88_85A3_08D3, 0x9E37_79B9_7F4A_7C15);
    let b = mix(
        0x1319_8A2E_0370_7344 ^ words.len() as u64,
        0xC2B2_AE3D_27D4_EB4F,
    );
    (a as u128) << 64 | b as u128
}

/// A stale access in the checker's terms: its cycles are step numbers.
pub(crate) fn stale_message(v: &crate::stats::StaleAccess) -> String {
    let by = v
        .remapped_by
        .map_or(String::new(), |c| format!(" by cpu{c}"));
    format!(
        "cpu{} read slot {} through a stale TLB entry at step {}: the slot maps page {} (since \
         step {}{by}), the entry, loaded at step {}, page {}",
        v.cpu,
        v.slot,
        v.cycle,
        v.expected_page,
        v.slot_remapped_at,
        v.entry_loaded_at,
        v.actual_page
    )
}

/// The search in progress: the states seen and how each was first reached.
struct Search {
    seen: HashMap<u128, u32>,
    /// For each state (by index): its parent's index and the step from it (the root: None).
    parent: Vec<Option<(u32, Step)>>,
    transitions: u64,
    key: Vec<u64>,
    scratch: Vec<u64>,
    /// Whether keys are taken up to a renaming of the CPUs.
    symmetric: bool,
}

/// A violation found on the step from state `from`.
struct Found {
    verdict: Verdict,
    from: u32,
    step: Option<Step>,
    message: String,
}

impl Search {
    /// The path from the root to state `idx`, then `last` if given.
    fn path(&self, mut idx: u32, last: Option<Step>) -> Vec<Step> {
        let mut out: Vec<Step> = last.into_iter().collect();
        while let Some((p, step)) = &self.parent[idx as usize] {
            out.push(step.clone());
            idx = *p;
        }
        out.reverse();
        out
    }

    /// The fingerprint of `e`'s key (up to a renaming of the CPUs, under symmetry reduction).
    fn fingerprint(&mut self, e: &Engine) -> u128 {
        if self.symmetric {
            e.canonical_key(&mut self.key, &mut self.scratch);
        } else {
            e.abstract_key(&mut self.key);
        }
        fingerprint(&self.key)
    }

    /// Record `child`, reached from `from` by `step`; its index if it is new.
    fn admit(&mut self, child: &Engine, from: u32, step: Step) -> Option<u32> {
        let fp = self.fingerprint(child);
        if self.seen.contains_key(&fp) {
            return None;
        }
        let idx = self.parent.len() as u32;
        self.seen.insert(fp, idx);
        self.parent.push(Some((from, step)));
        Some(idx)
    }

    /// Every successor of state `idx` by event `ev`, one per outcome of its random choices.
    fn successors(
        &mut self,
        e: &Engine,
        idx: u32,
        ev: Event,
        next: &mut Vec<(u32, Engine)>,
    ) -> Result<(), Found> {
        // Each run makes outcome 0 of every choice past its prefix; the other outcomes of those
        // choices are the prefixes still to run (every combination exactly once).
        let mut prefixes: Vec<Vec<u32>> = vec![Vec::new()];
        while let Some(prefix) = prefixes.pop() {
            let mut child = e.clone();
            let (res, made) = rng::with_script(&prefix, || child.fire(ev));
            self.transitions += 1;
            let choices: Vec<u32> = made.iter().map(|&(k, _)| k).collect();
            for (j, &(_, n)) in made.iter().enumerate().skip(prefix.len()) {
                for v in 1..n {
                    let mut p = choices[..j].to_vec();
                    p.push(v);
                    prefixes.push(p);
                }
            }
            let step = Step { event: ev, choices };
            let found = |verdict, message: String, step: Step| Found {
                verdict,
                from: idx,
                step: Some(step),
                message,
            };
            if let Err(err) = res {
                // A kernel BUG (corrupt counts); nothing else can stop a transition here.
                return Err(found(Verdict::Bug, in_steps(err.to_string()), step));
            }
            if child.stale_accesses() > 0 {
                let msg = child
                    .report()
                    .violations
                    .first()
                    .map_or("a stale TLB entry was used".into(), stale_message);
                return Err(found(Verdict::StaleAccess, msg, step));
            }
            if let Some(c) = self.admit(&child, idx, step) {
                next.push((c, child));
            }
        }
        Ok(())
    }

    /// Whether the state bound is reached.
    fn full(&self, bounds: &Bounds) -> bool {
        self.parent.len() as u64 >= bounds.max_states
    }
}

/// Explore every interleaving of `sc` (which sets the machine: CPUs, slots, pages, tasks,
/// program) within `bounds`. `poll` is called between levels and every few thousand states;
/// returning a reason stops with `SimError::Interrupted`.
pub fn check(
    sc: &Scenario,
    bounds: &Bounds,
    poll: &mut dyn FnMut() -> Option<StopReason>,
) -> Result<CheckReport, SimError> {
    small_enough(sc)?;
    search(Engine::explorer(sc)?, bounds, poll)
}

/// The largest machine the checker takes, field by field: every state is a copy of the whole
/// machine, and a state has a successor per CPU and per choice, so a large machine would fill
/// the memory before its first level is done.
pub const LIMITS: [(&str, u64); 4] = [
    ("cpus", 8),
    ("tasks", 32),
    ("last_pkmap", 256),
    ("pages", 1024),
];

/// `sc` is within `LIMITS`, or the error naming the first field past its limit.
pub(crate) fn small_enough(sc: &Scenario) -> Result<(), ConfigError> {
    for (field, max) in LIMITS {
        let value = match field {
            "cpus" => sc.cpus,
            "tasks" => sc.task_count(),
            "last_pkmap" => sc.last_pkmap,
            _ => sc.pages,
        };
        if value > max {
            return Err(ConfigError::new(
                field,
                format!("{value} is more than the checker explores"),
                format!("at most {max} for check (every state is a copy of the machine)"),
            ));
        }
    }
    Ok(())
}

/// A message of the engine in the checker's terms: its cycles are steps.
pub(crate) fn in_steps(message: String) -> String {
    message.replacen("at cycle ", "at step ", 1)
}

/// The breadth-first search from `root` (`check`).
fn search(
    root: Engine,
    bounds: &Bounds,
    poll: &mut dyn FnMut() -> Option<StopReason>,
) -> Result<CheckReport, SimError> {
    let mut s = Search {
        seen: HashMap::new(),
        parent: vec![None],
        transitions: 0,
        key: Vec::with_capacity(256),
        scratch: Vec::with_capacity(256),
        symmetric: bounds.symmetry && root.cpus_symmetric(),
    };
    let fp = s.fingerprint(&root);
    s.seen.insert(fp, 0);
    let mut frontier = vec![(0u32, root)];
    let mut events = Vec::new();
    let mut depth = 0;
    let report = |s: &Search, verdict, depth, found: Option<Found>| {
        let (counterexample, message) = match found {
            Some(f) => (Some(s.path(f.from, f.step)), f.message),
            None => (None, String::new()),
        };
        CheckReport {
            verdict,
            states: s.parent.len() as u64,
            transitions: s.transitions,
            depth: counterexample.as_ref().map_or(depth, |p| p.len() as u32),
            symmetric: s.symmetric,
            counterexample,
            message,
        }
    };
    while !frontier.is_empty() {
        if depth >= bounds.max_depth {
            return Ok(report(&s, Verdict::BoundReached, depth, None));
        }
        let mut next = Vec::new();
        for (idx, e) in &mut frontier {
            e.enabled(&mut events);
            if events.is_empty() && !e.finished() {
                let message = in_steps(e.deadlock_now().to_string());
                let f = Found {
                    verdict: Verdict::Deadlock,
                    from: *idx,
                    step: None,
                    message,
                };
                return Ok(report(&s, Verdict::Deadlock, depth, Some(f)));
            }
            for &ev in &events {
                if let Err(f) = s.successors(e, *idx, ev, &mut next) {
                    let v = f.verdict;
                    return Ok(report(&s, v, depth, Some(f)));
                }
                // Between events too: one state of a large machine has many successors.
                if s.full(bounds) {
                    return Ok(report(&s, Verdict::BoundReached, depth, None));
                }
                if let Some(reason) = poll() {
                    let cycle = depth as u64;
                    return Err(SimError::Interrupted { cycle, reason });
                }
            }
        }
        frontier = next;
        depth += 1;
    }
    Ok(report(&s, Verdict::Safe, depth, None))
}

/// Run `path` from the initial state of `sc`'s checker machine: the engine after it (for a
/// trace, a snapshot or the stale access it ends in). A kernel BUG at the last step (where a
/// `bug` counterexample ends) is not an error; anywhere else it is.
pub fn replay_path(sc: &Scenario, path: &[Step], trace: Option<usize>) -> Result<Engine, SimError> {
    let mut e = Engine::explorer(sc)?;
    if let Some(cap) = trace {
        e.enable_trace(cap)?;
    }
    for (i, step) in path.iter().enumerate() {
        let (res, made) = rng::with_script(&step.choices, || e.fire(step.event));
        debug_assert_eq!(
            made.len(),
            step.choices.len(),
            "a step's choices replay exactly"
        );
        match res {
            // A `bug` counterexample ends in the kernel BUG: the engine as the BUG left it.
            Err(SimError::KernelBug { .. }) if i + 1 == path.len() => break,
            other => other?,
        }
    }
    Ok(e)
}

#[cfg(test)]
#[path = "check_tests.rs"]
pub(crate) mod tests;
