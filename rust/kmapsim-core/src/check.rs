//! `kmapsim check`: every interleaving of a small machine, explored with the simulator's own
//! transition rules (`engine/explore.rs`; docs/verification.md).
//!
//! From each state every enabled event may happen next, and every random choice of the
//! workload or of a lock arbitration is a branch over its outcomes. States are identified by a
//! 128-bit fingerprint of their abstract key (hash compaction: two distinct states share one
//! with probability about n^2 / 2^129 for n states, if the hashes behave like random
//! functions). The search is breadth-first, which makes the first counterexample found a
//! shortest one, until a level would hold more than `Bounds::max_frontier` machines; then it
//! goes on depth-first (`check_dfs.rs`) over the same set of states. A state with no enabled
//! event and work left is a deadlock, reported with the simulator's wait-for chain. Under
//! symmetry reduction a state stands for all its renamings of the CPUs and of the pages
//! (`engine/key.rs`); they are as far from the start as it is, so a counterexample found
//! breadth-first is still a shortest one, and its path is the real one that reached the state
//! first. A transition that would leave more than `Bounds::max_ipis` IPIs outstanding at a CPU
//! is not taken (and counted). A breadth-first level may be expanded on several threads
//! (`Bounds::threads`, `check_expand.rs`), with the same results as on one. A counterexample's
//! timed witness is `witness.rs`'s.

use crate::config::Scenario;
pub use crate::engine::Event;
pub use crate::engine::Symmetry;
use crate::engine::{Engine, KeySpace};
use crate::error::{ConfigError, SimError, StopReason};
use crate::rng;
use expand::Stop;
use level::Level;
use seen::Seen;

/// How far the search may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Distinct states at most (the search stops with `BoundReached` when it meets one more).
    pub max_states: u64,
    /// Events on a path at most.
    pub max_depth: u32,
    /// States held in memory for the breadth-first search's next level at most (each is a
    /// whole machine, packed into one run of bytes: `pack.rs`); past it the search goes on
    /// depth-first, holding one path.
    pub max_frontier: u64,
    /// IPIs sent to one CPU and not handled yet (in flight or pending) at most: a transition
    /// past it is not taken (`CheckReport::pruned`). Without such a bound a strategy whose
    /// flusher does not wait for its IPIs has infinitely many states, since nothing in an
    /// order of events stops a flusher from lapping an IPI that has not landed. `u32::MAX`:
    /// no bound.
    pub max_ipis: u32,
    /// Identify states that differ by a renaming of the CPUs (with their tasks) or of the
    /// pages when the machine allows it (`Engine::symmetry`): symmetry reduction.
    pub symmetry: bool,
    /// Threads that expand a breadth-first level (`check_expand.rs`), the caller's among them:
    /// 1 runs the whole search on the caller's thread. The results are the same for any
    /// number; the depth-first continuation runs on the caller's thread alone.
    pub threads: u32,
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

/// How far a search got: what `check_counted` leaves when the search is interrupted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Distinct states reached and transitions run so far.
    pub states: u64,
    pub transitions: u64,
    /// The level (breadth-first) or the deepest level (depth-first) where it stopped.
    pub depth: u32,
}

/// The search's result.
#[derive(Clone, Debug)]
pub struct CheckReport {
    pub verdict: Verdict,
    /// Distinct states reached (the initial one included) and transitions run.
    pub states: u64,
    pub transitions: u64,
    /// The levels expanded: breadth-first, the levels completed; after a switch to
    /// depth-first, one more than the deepest level expanded; never more than
    /// `Bounds::max_depth` (a state at that level is reached, not expanded); with a
    /// counterexample, its length.
    pub depth: u32,
    /// The renamings states were identified up to (symmetry reduction).
    pub symmetry: Symmetry,
    /// Transitions not taken because they would pass `Bounds::max_ipis`: when nonzero, a
    /// `safe` verdict holds for the runs within that bound.
    pub pruned: u64,
    /// Whether the counterexample, if any, is known to be a shortest one (found breadth-first).
    pub shortest: bool,
    /// The level at which the search went on depth-first (`Bounds::max_frontier`), if it did.
    pub depth_first_from: Option<u32>,
    /// The shortest path to the violation, from the initial state.
    pub counterexample: Option<Vec<Step>>,
    /// What went wrong at the path's end (the deadlock report, the BUG, the stale access).
    pub message: String,
    /// With `Verdict::BoundReached`: whether `Bounds::max_states` stopped the search (a new
    /// state met past it); else the depth bound did (or, for PCT, its runs ended).
    pub state_bound: bool,
}

/// A 128-bit fingerprint of a key: XXH3's 128-bit hash of its bytes.
fn fingerprint(key: &[u8]) -> u128 {
    twox_hash::XxHash3_128::oneshot(key)
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
    seen: Seen,
    /// Machines no longer needed, whose buffers the next copies reuse (`clone_from`). Boxed,
    /// like every machine of the depth-first search, so that moving one between the roots,
    /// the spares and the path moves a pointer, not a few kilobytes.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Engine>>,
    /// For each breadth-first state (by index): its parent's index and the step from it (the
    /// root: None). Depth-first states have no entry: their path is the search's stack.
    parent: Vec<Option<(u32, Step)>>,
    /// Whether new states get an entry in `parent` (breadth-first) or not (depth-first).
    indexed: bool,
    transitions: u64,
    /// Transitions not taken (past `Bounds::max_ipis`).
    pruned: u64,
    /// Running transitions in this thread (the depth-first search's, a serial level's).
    st: Stepper,
    /// `Bounds::max_states`, and whether a new state was met past it: only then is the bound
    /// reached (a search whose last state is the `max_states`-th is complete).
    max_states: u64,
    over: bool,
    /// The count of transitions at which the caller is next polled (`due`).
    poll_at: u64,
}

/// The caller's `poll` is asked every this many transitions: often enough for a prompt Ctrl-C
/// (a fraction of a millisecond on the default machine, a few milliseconds on the largest,
/// whose states have hundreds of transitions each), rarely enough that asking (a clock read and
/// atomics, in the Python binding) costs nothing next to the transitions.
const POLL_EVERY: u64 = 512;

/// Spare machines kept at most, for the depth-first search's copies (a copy into a spare costs
/// no allocation): more than its path keeps (`check_dfs.rs`), and a good part of the roots it
/// is handed; beyond, a machine no longer needed is freed.
const SPARE: usize = 1 << 14;

/// The index of a depth-first state (it has no entry in `Search::parent`).
const UNINDEXED: u32 = u32::MAX;

/// A transition still to run: its event and the outcomes of its first choices.
type Todo = (Event, Vec<u32>);

/// A new state of the depth-first search: the step that reached it, and the machine.
struct Child {
    step: Option<Step>,
    engine: Box<Engine>,
}

/// A violation met on a step (`None`: in the state itself, a deadlock).
struct Failure {
    verdict: Verdict,
    step: Option<Step>,
    message: String,
}

/// How a search ended.
enum End {
    Done(Verdict),
    Found(Vec<Step>, Failure),
}

impl Search {
    fn new(root: &Engine, bounds: &Bounds) -> Self {
        let mut s = Search {
            seen: Seen::default(),
            spare: Vec::new(),
            parent: vec![None],
            indexed: true,
            transitions: 0,
            pruned: 0,
            st: Stepper::new(root, bounds),
            max_states: bounds.max_states,
            over: false,
            poll_at: POLL_EVERY,
        };
        let fp = s.st.fingerprint(root);
        s.seen.insert(fp);
        s
    }

    /// The path from the root to breadth-first state `idx`.
    fn path(&self, mut idx: u32) -> Vec<Step> {
        let mut out = Vec::new();
        while let Some((p, step)) = &self.parent[idx as usize] {
            out.push(step.clone());
            idx = *p;
        }
        out.reverse();
        out
    }

    /// Record the state of fingerprint `fp`, reached from `from` by `step`; if it is new, its
    /// index and, unless the step went into `parent`, the step. A new state past `max_states`
    /// is not recorded: it marks the bound as reached (`full`).
    ///
    /// `split`: the seen set, held apart from the search while a level is expanded on threads
    /// (None: it is the search's); `fp` is then one the threads found not seen before the level
    /// began (`Split::insert_unseen`).
    fn admit(
        &mut self,
        split: Option<&mut seen::Split>,
        fp: u128,
        from: u32,
        step: Step,
    ) -> Option<(u32, Option<Step>)> {
        let states = split.as_ref().map_or(self.seen.len(), |seen| seen.len());
        if (states as u64) < self.max_states {
            // One lookup: the usual case, room for a new state.
            let new = match split {
                Some(seen) => seen.insert_unseen(fp),
                None => self.seen.insert(fp),
            };
            if !new {
                return None;
            }
        } else if split.map_or_else(|| self.seen.contains(fp), |seen| seen.contains_unseen(fp)) {
            return None;
        } else {
            self.over = true;
            return None;
        }
        if !self.indexed {
            return Some((UNINDEXED, Some(step)));
        }
        self.parent.push(Some((from, step)));
        Some((self.parent.len() as u32 - 1, None))
    }

    /// Keep `e`'s buffers for a later copy, unless enough machines are kept already.
    fn recycle(&mut self, e: Box<Engine>) {
        if self.spare.len() < SPARE {
            self.spare.push(e);
        }
    }

    /// A copy of `e`, into the buffers of a spare machine if there is one.
    fn copy(&mut self, e: &Engine) -> Box<Engine> {
        match self.spare.pop() {
            Some(mut c) => {
                (*c).clone_from(e);
                c
            }
            None => Box::new(e.clone()),
        }
    }

    /// The transitions to run from state `e`, onto `todo` (`Stepper::transitions_from`).
    fn transitions_from(&mut self, e: &mut Engine, todo: &mut Vec<Todo>) -> Result<(), Failure> {
        self.st.transitions_from(e, todo)
    }

    /// Run transition `t` from state `e` (index `idx`) in a copy of `e`: the new state, or
    /// None if it was seen before or not taken (`Stepper::run`).
    fn transition(
        &mut self,
        e: &Engine,
        idx: u32,
        t: Todo,
        todo: &mut Vec<Todo>,
    ) -> Result<Option<Child>, Failure> {
        let child = self.copy(e);
        self.transition_in(child, idx, t, todo)
    }

    /// `transition`, run in `child`, a copy of the state (or the state itself, when nothing
    /// else needs it).
    fn transition_in(
        &mut self,
        mut child: Box<Engine>,
        idx: u32,
        t: Todo,
        todo: &mut Vec<Todo>,
    ) -> Result<Option<Child>, Failure> {
        match self.step_in(&mut child, idx, t, todo) {
            Ok(Some((_, step))) => Ok(Some(Child {
                step,
                engine: child,
            })),
            Ok(None) => {
                self.recycle(child);
                Ok(None)
            }
            Err(f) => Err(f),
        }
    }

    /// `transition_in`, in a machine the caller keeps: the new state's index and step (as
    /// `admit` returns them), None if it was seen before or not taken.
    fn step_in(
        &mut self,
        child: &mut Engine,
        idx: u32,
        t: Todo,
        todo: &mut Vec<Todo>,
    ) -> Result<Option<(u32, Option<Step>)>, Failure> {
        let ran = self.st.run(child, t, todo);
        self.transitions += 1;
        match ran? {
            Ran::Pruned => {
                self.pruned += 1;
                Ok(None)
            }
            Ran::Reached(fp, step) => Ok(self.admit(None, fp, idx, step)),
        }
    }

    /// Whether the caller is to be polled now: once `POLL_EVERY` transitions have run since
    /// it last was.
    fn due(&mut self) -> bool {
        if self.transitions < self.poll_at {
            return false;
        }
        self.poll_at = self.transitions + POLL_EVERY;
        true
    }

    /// Whether the state bound is reached: a new state was met with `max_states` seen.
    fn full(&self) -> bool {
        self.over
    }
}

/// What running a transition takes besides the machine it runs in: the key space, scratch
/// for the events enabled and the choices made, and the search's settings. The search has one,
/// and so does each thread that expands a breadth-first level (`check_expand.rs`).
pub(super) struct Stepper {
    space: KeySpace,
    /// The renamings keys are taken up to.
    symmetry: Symmetry,
    /// `Bounds::max_ipis`.
    max_ipis: u32,
    events: Vec<Event>,
    made: Vec<(u32, u32)>,
}

/// Where a transition that met no violation led.
pub(super) enum Ran {
    /// Past `Bounds::max_ipis`: not taken.
    Pruned,
    /// The state of this fingerprint, by this step (seen before or not: the seen set decides).
    Reached(u128, Step),
}

impl Stepper {
    fn new(root: &Engine, bounds: &Bounds) -> Self {
        Self::with(root.symmetry(bounds.symmetry), bounds.max_ipis)
    }

    /// A fresh one with the same settings (for another thread).
    fn like(&self) -> Self {
        Self::with(self.symmetry, self.max_ipis)
    }

    fn with(symmetry: Symmetry, max_ipis: u32) -> Self {
        Stepper {
            space: KeySpace::default(),
            symmetry,
            max_ipis,
            events: Vec::new(),
            made: Vec::new(),
        }
    }

    /// The fingerprint of `e`'s key (up to the renamings of `symmetry`).
    fn fingerprint(&mut self, e: &Engine) -> u128 {
        fingerprint(e.key(self.symmetry, &mut self.space))
    }

    /// The transitions to run from state `e` (each event, its choices still open), pushed onto
    /// `todo` so that they pop in the events' order; the deadlock if nothing is enabled and
    /// work is left.
    fn transitions_from(&mut self, e: &mut Engine, todo: &mut Vec<Todo>) -> Result<(), Failure> {
        e.enabled(&mut self.events);
        if self.events.is_empty() && !e.finished() {
            return Err(Failure {
                verdict: Verdict::Deadlock,
                step: None,
                message: in_steps(e.deadlock_now().to_string()),
            });
        }
        todo.extend(self.events.iter().rev().map(|&ev| (ev, Vec::new())));
        Ok(())
    }

    /// Run transition `t` in `child`, a machine in the state it starts from: its event, with
    /// outcome `t.1[j]` for choice j and outcome 0 for every choice past those. The other
    /// outcomes of the choices past `t.1` go onto `todo` as transitions of their own, so that
    /// every combination of outcomes runs exactly once. Where it led; the stale access or BUG
    /// it met.
    fn run(
        &mut self,
        child: &mut Engine,
        (ev, prefix): Todo,
        todo: &mut Vec<Todo>,
    ) -> Result<Ran, Failure> {
        let res = rng::with_script_into(&prefix, &mut self.made, || child.fire(ev));
        let made = &self.made;
        let choices: Vec<u32> = made.iter().map(|&(k, _)| k).collect();
        for (j, &(_, n)) in made.iter().enumerate().skip(prefix.len()) {
            for v in 1..n {
                let mut p = choices[..j].to_vec();
                p.push(v);
                todo.push((ev, p));
            }
        }
        let step = Step { event: ev, choices };
        if res.is_ok() && child.ipis_outstanding() > self.max_ipis as usize {
            return Ok(Ran::Pruned);
        }
        if let Err(err) = res {
            // A kernel BUG (corrupt counts); nothing else can stop a transition here.
            let message = in_steps(err.to_string());
            return Err(Failure {
                verdict: Verdict::Bug,
                step: Some(step),
                message,
            });
        }
        if child.stale_accesses() > 0 {
            let message = child
                .report()
                .violations
                .first()
                .map_or("a stale TLB entry was used".into(), stale_message);
            return Err(Failure {
                verdict: Verdict::StaleAccess,
                step: Some(step),
                message,
            });
        }
        Ok(Ran::Reached(self.fingerprint(child), step))
    }
}

/// `path`, then the failing step if any.
fn ending(mut path: Vec<Step>, f: &Failure) -> Vec<Step> {
    path.extend(f.step.clone());
    path
}

/// Explore every interleaving of `sc` (which sets the machine: CPUs, slots, pages, tasks,
/// program) within `bounds`. `poll` is called every `POLL_EVERY` (512) transitions;
/// returning a reason stops with `SimError::Interrupted`.
pub fn check(
    sc: &Scenario,
    bounds: &Bounds,
    poll: &mut dyn FnMut() -> Option<StopReason>,
) -> Result<CheckReport, SimError> {
    check_counted(sc, bounds, poll, &mut Progress::default())
}

/// `check`, leaving in `progress` how far the search got when it is interrupted (the counts
/// an interruption would otherwise lose).
pub fn check_counted(
    sc: &Scenario,
    bounds: &Bounds,
    poll: &mut dyn FnMut() -> Option<StopReason>,
    progress: &mut Progress,
) -> Result<CheckReport, SimError> {
    small_enough(sc)?;
    let mut s = None;
    let out = search(Engine::explorer(sc)?, bounds, poll, &mut s);
    if let (Err(SimError::Interrupted { cycle, .. }), Some(s)) = (&out, &s) {
        *progress = Progress {
            states: s.seen.len() as u64,
            transitions: s.transitions,
            depth: *cycle as u32,
        };
    }
    out
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

/// The bytes the initial state of `sc`'s checker machine takes in a breadth-first level
/// (packed: `pack.rs`); a state with more IPIs queued or TLB entries held takes a little more.
pub fn packed_bytes(sc: &Scenario) -> Result<usize, ConfigError> {
    let mut e = Engine::explorer(sc)?;
    e.drop_histograms();
    Ok(crate::pack::Pack::packed_len(&e))
}

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

/// The report of search `s`, ended by `end` at level `depth`.
fn report(s: &Search, end: End, depth: u32, depth_first_from: Option<u32>) -> CheckReport {
    let (verdict, counterexample, message) = match end {
        End::Done(v) => (v, None, String::new()),
        End::Found(path, f) => (f.verdict, Some(path), f.message),
    };
    CheckReport {
        verdict,
        states: s.seen.len() as u64,
        transitions: s.transitions,
        pruned: s.pruned,
        depth: counterexample.as_ref().map_or(depth, |p| p.len() as u32),
        symmetry: s.st.symmetry,
        shortest: depth_first_from.is_none(),
        depth_first_from,
        counterexample,
        message,
        state_bound: s.over,
    }
}

/// The search from `root` (`check`): breadth-first while the states held for the next level
/// fit `max_frontier`, then depth-first from every state held (`dfs.rs`). A counterexample
/// found depth-first is real but need not be a shortest one (`CheckReport::shortest`): the
/// levels before the switch hold none, and a shortest one needs a larger `max_frontier`.
/// The search is left in `out`, for the counts of an interrupted one.
fn search(
    root: Engine,
    bounds: &Bounds,
    poll: &mut dyn FnMut() -> Option<StopReason>,
    out: &mut Option<Search>,
) -> Result<CheckReport, SimError> {
    let mut root = root;
    root.drop_histograms();
    let s = out.insert(Search::new(&root, bounds));
    let mut ex = expand::Expander::new(&root, &s.st, bounds.threads);
    let mut level = Level::default();
    level.push(0, &root);
    let mut next = Level::default();
    let mut depth = 0;
    while level.len() > 0 {
        if depth >= bounds.max_depth {
            return Ok(report(s, End::Done(Verdict::BoundReached), depth, None));
        }
        let mut into = expand::Expansion {
            level: &level,
            next: &mut next,
            max_frontier: bounds.max_frontier,
            poll: &mut *poll,
        };
        match s.expand_level(&mut ex, &mut into) {
            Ok(()) => {}
            Err(Stop::Frontier(i)) => {
                // The states not expanded yet, at this level and the next, go depth-first.
                let roots = level::Roots::new(Box::new(root), depth, level, i, next);
                let end = dfs::depth_first(s, roots, bounds, poll)?;
                return Ok(report(s, end.end, end.deepest, Some(depth)));
            }
            Err(Stop::Found(i, f)) => {
                let path = ending(s.path(level.index(i)), &f);
                return Ok(report(s, End::Found(path, f), depth, None));
            }
            Err(Stop::Full) => {
                return Ok(report(s, End::Done(Verdict::BoundReached), depth, None));
            }
            Err(Stop::Polled(reason)) => {
                let cycle = depth as u64;
                return Err(SimError::Interrupted { cycle, reason });
            }
        }
        std::mem::swap(&mut level, &mut next);
        next.clear();
        depth += 1;
    }
    Ok(report(s, End::Done(Verdict::Safe), depth, None))
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

#[path = "check_dfs.rs"]
mod dfs;
#[path = "check_expand.rs"]
mod expand;
#[path = "check_level.rs"]
mod level;
#[path = "check_seen.rs"]
mod seen;

#[cfg(test)]
#[path = "check_tests.rs"]
pub(crate) mod tests;
