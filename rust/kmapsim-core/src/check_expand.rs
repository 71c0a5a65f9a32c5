//! A breadth-first level expanded on the search's threads (`Bounds::threads`; `check.rs`).
//!
//! The level's states are cut into jobs of consecutive states, which the threads claim in
//! order, each thread running its jobs in a worker it keeps for the level (a machine, a
//! `Stepper`, a todo stack), so that the worker's machine stays in that thread's caches. A
//! worker unpacks each state of its job, runs every transition from it, and leaves what each
//! led to: not taken, a state already seen, or one that may be new, with its fingerprint, its
//! step and its packed machine. The search's own thread merges the jobs' outcomes in the order
//! of the states and of their transitions, the order one thread meets them in, and runs a job
//! itself whenever the next one to merge has not ended. Admitting states, counting transitions,
//! the bounds, the switch to depth-first, the poll and the first violation are all the
//! merge's, so the search's results are the same whatever the number of threads
//! (`check_tests.rs` compares them field by field). Workers skip the states seen before the
//! level began (`check_seen.rs`), and those their own job reached before: each was admitted (or
//! met past the state bound) at an earlier outcome, so skipping it changes nothing. A state two
//! jobs reach is packed by both, and the merge admits the first.
//!
//! With one thread, or a level of fewer than four jobs a thread, each state's new successors
//! are packed straight into the next level, as they were before the threads.
//!
//! Memory stays near one thread's: a job stops at the end of a state once it has run four
//! times its share of transitions (a level's states may have far more successors than those
//! before it, by which jobs are cut), and the merge runs the rest of its states; and a job packs
//! at most as many states as the search may still admit (`Bounds::max_states`).

use super::level::Level;
use super::seen::{FpSet, Split};
use super::{Failure, Ran, Search, Step, Stepper, Todo};
use crate::engine::Engine;
use crate::error::StopReason;
use crate::pack::Byte;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// The transitions a job runs, about: enough that a job costs far more than handing it out
/// and merging it in order (a fraction of a millisecond on the default machine), few enough
/// that the merge is never far behind the threads, and that the states two jobs reach at once
/// are few. Chosen by measure (`check_rate`, default check, two threads, two alternated rounds
/// of 128 to 4,096: 512 was the fastest in both, 1,024 and more the slowest).
pub(super) const JOB_TRANSITIONS: u64 = 512;

/// Jobs a level needs for each thread before it is expanded on them: starting the threads of a
/// smaller level costs about what they would save (the first and last levels of a search are
/// small; a search of a few thousand states gains nothing from threads). Chosen by measure
/// (eight alternated rounds of `check_rate` on two threads, medians): 1, 2 and 4 a thread gave
/// 885,942, 891,706 and 908,798 states a second on the default check (one thread: 622,429),
/// and 452,356, 477,218 and 458,012 on a search of 14,541 states (one thread: 496,242).
const MIN_JOBS_PER_THREAD: usize = 4;

#[cfg(test)]
thread_local! {
    /// `JOB_TRANSITIONS` for the searches of the test on this thread: small, so that the levels
    /// of small machines are cut into many jobs too.
    pub(crate) static JOB_TRANSITIONS_HERE: std::cell::Cell<u64> =
        const { std::cell::Cell::new(JOB_TRANSITIONS) };
    /// `most_transitions()` for the searches of the test on this thread, if set: small, so that
    /// jobs stop early and the merge runs their other states.
    pub(crate) static MOST_TRANSITIONS_HERE: std::cell::Cell<Option<u64>> =
        const { std::cell::Cell::new(None) };
}

/// The transitions a job runs, about (`JOB_TRANSITIONS`; the test's own in a test).
fn job_transitions() -> u64 {
    #[cfg(test)]
    return JOB_TRANSITIONS_HERE.with(|n| n.get());
    #[cfg(not(test))]
    JOB_TRANSITIONS
}

/// The transitions after which a job stops at the end of a state (`Worker::run`). Four times a
/// job's share is a choice, not a measure: it leaves jobs cut as planned alone (a job's states
/// vary about their level's mean far less) and holds a job of a level that outgrew its mean
/// to a few milliseconds of work; no level of the default check reaches it.
fn most_transitions() -> u64 {
    #[cfg(test)]
    if let Some(n) = MOST_TRANSITIONS_HERE.with(|n| n.get()) {
        return n;
    }
    4 * job_transitions()
}

/// What a transition led to, as a worker leaves it for the merge.
enum Out {
    /// Past `Bounds::max_ipis`: not taken.
    Pruned,
    /// A state seen before the level began, or that an earlier transition of the same job
    /// reached: admitted (or met past the state bound) at an earlier outcome.
    Seen,
    /// A state perhaps new: its fingerprint, the step to it, and its machine packed in the
    /// job's bytes.
    New {
        fp: u128,
        step: Step,
        bytes: Range<usize>,
    },
}

/// One job's outcomes: for each of its states in order, where its outcomes end in `outs` and
/// the violation that stopped its expansion, if one did (the job's last state then).
#[derive(Default)]
struct Job {
    bytes: Vec<Byte>,
    outs: Vec<Out>,
    states: Vec<(usize, Option<Failure>)>,
}

/// A thread's means to expand states: its own machine, `Stepper` and todo stack, and the
/// fingerprints its job has packed.
struct Worker {
    work: Box<Engine>,
    st: Stepper,
    todo: Vec<Todo>,
    packed: FpSet,
}

/// What a worker reads of the search: the states seen before the level began, how many new
/// states the search may still admit (`Bounds::max_states` less the states seen then), and
/// the transitions after which a job stops (`most_transitions`).
#[derive(Clone, Copy)]
struct Known<'a> {
    seen: &'a FpSet,
    room: usize,
    most: u64,
}

impl Worker {
    /// Expand `level`'s states `states` into `job`, stopping after one that meets a violation
    /// (the merge stops there), or once the job has run `known.most` transitions: a job's states
    /// are cut by the transitions a state had in the levels before, and a level whose states
    /// each have far more would otherwise hold the outcomes of far more transitions in each
    /// job (the merge runs the states left itself, `Search::expand_level`).
    fn run(&mut self, level: &Level, states: Range<usize>, known: Known, job: &mut Job) {
        self.packed.clear();
        for i in states {
            let fail = self.expand(level, i, known, job).err();
            let stop = fail.is_some();
            job.states.push((job.outs.len(), fail));
            if stop || job.outs.len() as u64 >= known.most {
                return;
            }
        }
    }

    /// Every transition from state `i` of `level`, its outcome into `job`.
    fn expand(
        &mut self,
        level: &Level,
        i: usize,
        known: Known,
        job: &mut Job,
    ) -> Result<(), Failure> {
        let Worker {
            work,
            st,
            todo,
            packed,
        } = self;
        each_transition((level, i), work, todo, |work, t, todo| {
            let Some(t) = t else {
                return st.transitions_from(work, todo);
            };
            let out = match st.run(work, t, todo)? {
                Ran::Pruned => Out::Pruned,
                Ran::Reached(fp, step) => reached(work, (fp, step), (known, packed), job),
            };
            job.outs.push(out);
            Ok(())
        })
    }
}

/// The outcome of a transition to `work`, the state of fingerprint `fp`: packed into `job`
/// unless the states seen before the level began or the job (`packed`) hold it, or the job
/// has packed as many states as the search may still admit. Such a state is never admitted:
/// each of the job's states before it is in the seen set by the time the merge meets it (it
/// is admitted then, or was before), so the set is full by then. It is left with no bytes.
fn reached(
    work: &Engine,
    (fp, step): (u128, Step),
    (known, packed): (Known, &mut FpSet),
    job: &mut Job,
) -> Out {
    if known.seen.contains(&fp) || !packed.insert(fp) {
        return Out::Seen;
    }
    if packed.len() > known.room {
        return Out::New {
            fp,
            step,
            bytes: 0..0,
        };
    }
    let from = job.bytes.len();
    let n = crate::pack::Pack::packed_len(work);
    crate::pack::pack_counted(work, n, &mut job.bytes);
    Out::New {
        fp,
        step,
        bytes: from..job.bytes.len(),
    }
}

/// Every transition from state `i` of `level`, run in `work` by `step`: `step(work, None,
/// todo)` first finds them (onto `todo`), then `step(work, Some(t), todo)` runs each. The state
/// is unpacked into `work` before each but the first, which finds it there (finding the
/// events changes nothing). A violation stops it, with `todo` emptied.
fn each_transition(
    (level, i): (&Level, usize),
    work: &mut Engine,
    todo: &mut Vec<Todo>,
    mut step: impl FnMut(&mut Engine, Option<Todo>, &mut Vec<Todo>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    level.unpack_into(i, work);
    let mut each = || {
        step(work, None, todo)?;
        let mut fresh = true;
        while let Some(t) = todo.pop() {
            if !fresh {
                level.unpack_into(i, work);
            }
            fresh = false;
            step(work, Some(t), todo)?;
        }
        Ok(())
    };
    let out = each();
    if out.is_err() {
        todo.clear();
    }
    out
}

/// The threads, and the workers and job buffers they take and give back.
pub(super) struct Expander {
    /// Threads, the search's own among them.
    threads: usize,
    /// A machine of the search, copied for each new worker's; with one thread, the machine
    /// every transition runs in.
    like: Box<Engine>,
    /// With one thread, the transitions still to run from the state being expanded.
    todo: Vec<Todo>,
    /// A worker's settings, copied for each new worker's `Stepper`.
    st: Stepper,
    idle: Mutex<Vec<Worker>>,
    spare_jobs: Mutex<Vec<Job>>,
}

impl Expander {
    /// For the search whose machines are like `like`, on `threads` threads (1: the caller's
    /// alone).
    pub fn new(like: &Engine, st: &Stepper, threads: u32) -> Self {
        Expander {
            threads: threads.max(1) as usize,
            like: Box::new(like.clone()),
            todo: Vec::new(),
            st: st.like(),
            idle: Mutex::new(Vec::new()),
            spare_jobs: Mutex::new(Vec::new()),
        }
    }

    /// An idle worker, else a new one.
    fn worker(&self) -> Worker {
        lock(&self.idle).pop().unwrap_or_else(|| Worker {
            work: self.like.clone(),
            st: self.st.like(),
            todo: Vec::new(),
            packed: FpSet::default(),
        })
    }

    /// Expand `level`'s states `states` in `worker`.
    fn job(&self, worker: &mut Worker, level: &Level, states: Range<usize>, known: Known) -> Job {
        let mut job = lock(&self.spare_jobs).pop().unwrap_or_default();
        worker.run(level, states, known, &mut job);
        job
    }

    /// Give a merged job's buffers back for later jobs.
    fn recycle(&self, mut job: Job) {
        job.bytes.clear();
        job.outs.clear();
        job.states.clear();
        lock(&self.spare_jobs).push(job);
    }
}

/// `m`'s contents: a thread that panicked leaves nothing half-done in them (a worker or job is
/// pushed or popped whole), and the panic itself reaches the caller as the threads end.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a job's outcomes wait for the merge: None until the job ends; then the job, or None
/// if its thread panicked. (A job the merge will not take, once it has stopped, is not run.)
#[derive(Default)]
struct Slot {
    job: Mutex<Option<Option<Job>>>,
    ended: Condvar,
}

impl Slot {
    /// Whether its job has ended.
    fn ended(&self) -> bool {
        lock(&self.job).is_some()
    }

    fn put(&self, job: Option<Job>) {
        *lock(&self.job) = Some(job);
        self.ended.notify_one();
    }

    /// The job, once it has ended.
    fn take(&self) -> Option<Job> {
        let mut held = lock(&self.job);
        loop {
            if let Some(job) = held.take() {
                return job;
            }
            held = self.ended.wait(held).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Fills its slot with nothing if its job's thread unwinds before filling it, so that the
/// merge waiting for it goes on (and `std::thread::scope` hands the panic to the caller).
struct Fill<'a>(&'a Slot, bool);

impl Drop for Fill<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.put(None);
        }
    }
}

/// A level's jobs as the threads share them out: each job's slot, how many are claimed and
/// merged, and whether the merge has stopped.
struct Board {
    slots: Vec<Slot>,
    claimed: AtomicUsize,
    merged: AtomicUsize,
    /// Jobs claimed beyond those merged at most (four a thread), so that when the merge falls
    /// behind (its thread descheduled by the host, say) the outcomes waiting for it stay those
    /// of a few jobs.
    ahead: usize,
    quit: AtomicBool,
    /// Where a thread waits for the merge to catch up.
    gate: (Mutex<()>, Condvar),
}

/// A job to run, or why there is none.
enum Claim {
    Job(usize),
    /// Too far ahead of the merge, for now.
    Wait,
    /// None left, or the merge has stopped.
    Done,
}

impl Board {
    fn new(jobs: usize, threads: usize) -> Self {
        Board {
            slots: (0..jobs).map(|_| Slot::default()).collect(),
            claimed: AtomicUsize::new(0),
            merged: AtomicUsize::new(0),
            ahead: 4 * threads,
            quit: AtomicBool::new(false),
            gate: (Mutex::new(()), Condvar::new()),
        }
    }

    fn claim(&self) -> Claim {
        if self.quit.load(Ordering::Relaxed) {
            return Claim::Done;
        }
        let j = self.claimed.load(Ordering::Relaxed);
        if j >= self.slots.len() {
            return Claim::Done;
        }
        if j >= self.merged.load(Ordering::Acquire) + self.ahead {
            return Claim::Wait;
        }
        match self
            .claimed
            .compare_exchange(j, j + 1, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => Claim::Job(j),
            Err(_) => self.claim(),
        }
    }

    /// Run job `j` in `w` by `run`, into its slot.
    fn run(&self, w: &mut Worker, j: usize, run: impl Fn(&mut Worker, usize) -> Job) {
        let mut fill = Fill(&self.slots[j], false);
        let job = run(w, j);
        fill.1 = true;
        self.slots[j].put(Some(job));
    }

    /// Claim and run the next job in `w`, if there is one to run now; whether one ran.
    fn run_next(&self, w: &mut Worker, run: impl Fn(&mut Worker, usize) -> Job) -> bool {
        match self.claim() {
            Claim::Job(j) => {
                self.run(w, j, run);
                true
            }
            Claim::Wait | Claim::Done => false,
        }
    }

    /// A helping thread's loop: run jobs in `w` until none is left or the merge stops.
    fn help(&self, w: &mut Worker, run: impl Fn(&mut Worker, usize) -> Job + Copy) {
        loop {
            match self.claim() {
                Claim::Job(j) => self.run(w, j, run),
                Claim::Wait => {
                    let held = lock(&self.gate.0);
                    // A bounded wait: a wake-up missed between the claim and here costs a
                    // millisecond, not a hang.
                    let tick = std::time::Duration::from_millis(1);
                    drop(self.gate.1.wait_timeout(held, tick));
                }
                Claim::Done => return,
            }
        }
    }

    /// The first `n` jobs are merged.
    fn merged(&self, n: usize) {
        self.merged.store(n, Ordering::Release);
        self.gate.1.notify_all();
    }

    /// The merge has stopped: the jobs not claimed yet are not run (their slots stay empty).
    fn quit(&self) {
        self.quit.store(true, Ordering::Relaxed);
        self.gate.1.notify_all();
    }
}

/// Quits its board when dropped.
struct Quit<'a>(&'a Board);

impl Drop for Quit<'_> {
    fn drop(&mut self) {
        self.0.quit();
    }
}

/// How a level's expansion ended, when the search is to stop or change course there.
pub(super) enum Stop {
    /// The next level holds more than `Bounds::max_frontier` states before state `i`.
    Frontier(usize),
    /// State `i`'s expansion met a violation.
    Found(usize, Failure),
    /// A new state was met past `Bounds::max_states`.
    Full,
    /// The caller's poll said stop.
    Polled(StopReason),
}

/// What the merge reads besides the jobs: the level, the next one, the frontier bound, the
/// caller's poll.
pub(super) struct Expansion<'a, 'p> {
    pub level: &'a Level,
    pub next: &'a mut Level,
    pub max_frontier: u64,
    pub poll: &'a mut (dyn FnMut() -> Option<StopReason> + 'p),
}

impl Expansion<'_, '_> {
    /// Before state `i` is expanded: the frontier bound, met when the next level already holds
    /// more than it.
    fn before(&self, i: usize) -> Result<(), Stop> {
        if self.next.len() as u64 > self.max_frontier {
            return Err(Stop::Frontier(i));
        }
        Ok(())
    }
}

impl Search {
    /// Expand every state of `into.level` into `into.next`, on `ex`'s threads (module docs).
    /// Stops where a one-thread search would: at the frontier bound, a violation, the state
    /// bound or a poll that says stop.
    pub(super) fn expand_level(
        &mut self,
        ex: &mut Expander,
        into: &mut Expansion,
    ) -> Result<(), Stop> {
        let n = into.level.len();
        let per_state = self.transitions.div_ceil(self.seen.len() as u64).max(1);
        let per = (job_transitions() / per_state).clamp(1, 1 << 14) as usize;
        let jobs = n.div_ceil(per);
        if ex.threads == 1 || jobs < MIN_JOBS_PER_THREAD * ex.threads {
            return self.expand_serially(ex, into);
        }
        // The seen set, held apart and split while the threads read it and the merge adds to it.
        let room = self.max_states.saturating_sub(self.seen.len() as u64);
        let mut seen = std::mem::take(&mut self.seen);
        let mut split = seen.split();
        let known = Known {
            seen: split.old,
            room: usize::try_from(room).unwrap_or(usize::MAX),
            most: most_transitions(),
        };
        let board = Board::new(jobs, ex.threads);
        let ex = &*ex;
        let level = into.level;
        let states = |j: usize| j * per..((j + 1) * per).min(n);
        let run = |w: &mut Worker, j: usize| ex.job(w, level, states(j), known);
        // Each thread keeps one worker for the level, whose machine stays in its caches.
        let mut mine = ex.worker();
        let out = std::thread::scope(|scope| {
            // Stops the helpers however this thread leaves the scope: a panic here (in a job,
            // the merge or the caller's poll) would otherwise leave them waiting for a merge
            // that never comes, and the scope waiting for them.
            let _quit = Quit(&board);
            for _ in 1..ex.threads.min(jobs) {
                scope.spawn(|| {
                    let mut w = ex.worker();
                    board.help(&mut w, run);
                    lock(&ex.idle).push(w);
                });
            }
            // This thread merges the jobs in order, and runs one whenever the next to merge
            // has not ended.
            let mut out = Ok(());
            for (j, slot) in board.slots.iter().enumerate() {
                while !slot.ended() && board.run_next(&mut mine, run) {}
                // None: the job's thread panicked, which the scope passes on as it ends.
                let Some(mut job) = slot.take() else { break };
                let range = states(j);
                let mut at = range.start;
                loop {
                    let done = job.states.len();
                    out = self.merge(&mut split, &mut job, at, into);
                    ex.recycle(job);
                    at += done;
                    // A job that stopped early (`Worker::run`): this thread runs the rest.
                    if out.is_err() || at >= range.end {
                        break;
                    }
                    job = ex.job(&mut mine, level, at..range.end, known);
                }
                board.merged(j + 1);
                if out.is_err() {
                    break;
                }
            }
            out
        });
        lock(&ex.idle).push(mine);
        seen.fold();
        self.seen = seen;
        out
    }

    /// `expand_level` on the search's own thread: each state's new successors straight into
    /// `into.next`, in the one machine `ex.like`.
    fn expand_serially(&mut self, ex: &mut Expander, into: &mut Expansion) -> Result<(), Stop> {
        let work = &mut ex.like;
        for i in 0..into.level.len() {
            into.before(i)?;
            if let Err(f) = self.expand(work, (into.level, i), &mut ex.todo, into.next) {
                return Err(Stop::Found(i, f));
            }
            // SAFETY: one thread: the states read after this are the ones after `i`.
            unsafe { self.expanded(i, into) }?;
        }
        Ok(())
    }

    /// State `i` is expanded: its chunk handed on if it was the chunk's last, then the state
    /// bound and the poll, as one thread meets them after each state.
    ///
    /// # Safety
    /// `Level::expanded`'s: no thread reads a state up to `i` now or later.
    unsafe fn expanded(&mut self, i: usize, into: &mut Expansion) -> Result<(), Stop> {
        // SAFETY: the caller's.
        unsafe { into.level.expanded(i, into.next) };
        if self.full() {
            return Err(Stop::Full);
        }
        match self.due().then(&mut *into.poll).flatten() {
            Some(reason) => Err(Stop::Polled(reason)),
            None => Ok(()),
        }
    }

    /// Every new successor of state `i` of `level`, by every enabled event and every outcome
    /// of its random choices, into `next`; a deadlock, a stale access or a BUG met. Every
    /// transition runs in `work` (`each_transition`).
    fn expand(
        &mut self,
        work: &mut Engine,
        (level, i): (&Level, usize),
        todo: &mut Vec<Todo>,
        next: &mut Level,
    ) -> Result<(), Failure> {
        let idx = level.index(i);
        each_transition((level, i), work, todo, |work, t, todo| {
            let Some(t) = t else {
                return self.transitions_from(work, todo);
            };
            if let Some((child, _)) = self.step_in(work, idx, t, todo)? {
                next.push(child, work);
            }
            Ok(())
        })
    }

    /// Merge `job`, whose states begin at state `i` of the level; `seen` is the search's seen
    /// set, held apart and split.
    fn merge(
        &mut self,
        seen: &mut Split,
        job: &mut Job,
        mut i: usize,
        into: &mut Expansion,
    ) -> Result<(), Stop> {
        let Job {
            bytes,
            outs,
            states,
        } = job;
        let mut outs = outs.drain(..);
        let mut from = 0;
        for (end, fail) in states.drain(..) {
            into.before(i)?;
            let idx = into.level.index(i);
            for out in outs.by_ref().take(end - from) {
                self.transitions += 1;
                match out {
                    Out::Pruned => self.pruned += 1,
                    Out::Seen => {}
                    Out::New { fp, step, bytes: b } => {
                        if let Some((child, _)) = self.admit(Some(&mut *seen), fp, idx, step) {
                            // The worker left bytes out only for states past the room (`reached`).
                            assert!(!b.is_empty(), "a state admitted past the job's room");
                            into.next.push_bytes(child, &bytes[b]);
                        }
                    }
                }
            }
            from = end;
            if let Some(f) = fail {
                if f.step.is_some() {
                    self.transitions += 1;
                }
                return Err(Stop::Found(i, f));
            }
            // SAFETY: the jobs merged are done, and the others read the states after `i`.
            unsafe { self.expanded(i, into) }?;
            i += 1;
        }
        Ok(())
    }
}
