//! The engine: machine state and the two time-advance modes (docs/model.md, section 2).
//!
//! One cycle is processed in three phases, identically in both modes:
//! 1. IPIs arriving this cycle reach their targets, in CPU order;
//! 2. every CPU whose current stretch ends this cycle acts, in CPU order;
//! 3. every free lock with spinners is arbitrated.
//!
//! A cycle's category for a CPU is its state after phase 3. `step` visits every cycle and every
//! CPU and counts each cycle into its category; `skip` jumps from one cycle with work to the next
//! (a heap of CPU deadlines and one of IPI arrivals) and adds up whole stretches. The transition
//! code (`program.rs` and the kernel paths it dispatches to, `ipi.rs`, `locks.rs`) is shared, so
//! the modes can only differ if the skipping is wrong, which the equality tests check.

mod copy;
#[cfg(test)]
mod cost_terms_tests;
mod deadlines;
#[cfg(test)]
mod designs_tests;
mod explore;
mod flush;
mod fold;
#[cfg(test)]
mod fold_tests;
mod ipi;
mod key;
mod kmap;
mod kunmap;
mod locks;
mod program;
pub mod records;
mod replay;
mod sample;
mod sched;
mod sleep;
mod snapshot;
mod steps;
#[cfg(test)]
mod tasks_tests;
#[cfg(test)]
mod tests;
mod watchdog;
mod work;

use crate::config::Scenario;
use crate::cpu::Cpu;
use crate::error::{ConfigError, SimError, StopReason};
use crate::lock::{IRQ_LOCK_BASE, LockId, SpinLock};
use crate::op::Op;
use crate::pkmap::Pkmap;
use crate::report::RunReport;
use crate::rng;
use crate::stats::{Category, Counters, Histograms, StaleAccess};
use crate::task::{TaskCtx, TaskSched, TaskState};
use crate::trace::trace;
use crate::trace::{EventKind, Trace};
use crate::workload::Step;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use watchdog::Stuck;

pub use explore::Event;
pub use key::{KeySpace, Symmetry};

/// What a transition returns when the simulation must stop: boxed, so that the `Result` of every
/// transition stays as small as its `Next` (the error path is rare; the hot path is not).
pub(super) type Res<T> = Result<T, Box<SimError>>;

/// How time advances. Both give bit-identical results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One cycle at a time, every CPU visited every cycle: the reference.
    Step,
    /// Straight to the next cycle at which anything can change (the default).
    Skip,
}

impl Mode {
    pub const NAMES: &'static [&'static str] = &["skip", "step"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "step" => Some(Mode::Step),
            "skip" => Some(Mode::Skip),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Step => "step",
            Mode::Skip => "skip",
        }
    }
}

/// Longest run accepted (about 13 days at 1 GHz): cycle numbers then fit, with a CPU number,
/// in the one-word keys of the event heaps.
pub const MAX_CYCLES: u64 = 1 << 50;

/// Bits of an event-heap key that hold the CPU (cpus <= 4096 needs 12).
const CPU_BITS: u32 = 13;
/// Cycles beyond this are clamped in keys; no run reaches them (MAX_CYCLES is far below).
const KEY_TIME_MAX: u64 = (1 << (64 - CPU_BITS)) - 1;

/// A heap key ordered by (cycle, cpu): one u64 compare instead of a tuple compare.
#[inline]
fn key(at: u64, cpu: usize) -> u64 {
    (at.min(KEY_TIME_MAX) << CPU_BITS) | cpu as u64
}

#[inline]
fn unkey(k: u64) -> (u64, usize) {
    (k >> CPU_BITS, (k & ((1 << CPU_BITS) - 1)) as usize)
}

/// How many processed cycles between two calls of the caller's poll function, at most.
const POLL_EVERY: u64 = 1 << 14;

/// How many events between two calls of the caller's poll function in `skip` mode, at most
/// (a cycle can hold thousands: a flush's IPIs on 4,096 CPUs), and how many CPU-cycles in
/// `step` mode (its cycles cost in proportion to the CPUs). Chosen, not measured to a target:
/// at the costs docs/performance.md measures (about 28 ns a skip event, 1.7 ns a step
/// CPU-cycle) each is 0.5 to 2 ms of work, so that Ctrl-C, a cancel and the wall-clock limit
/// take effect within a few milliseconds, while the poll (a clock read) stays negligible.
pub(crate) const POLL_EVENTS: u64 = 1 << 14;
pub(crate) const POLL_CPU_CYCLES: u64 = 1 << 20;

/// The IPI call (`smp_call_function`) in progress; `call_lock` allows one at a time.
#[derive(Clone, Copy, Debug, Default)]
struct Call {
    id: u64,
    sender: u32,
    targets: u32,
    finished: u32,
    /// When the last ack so far has landed on the call's shared line (acks queue on it,
    /// `ipi_ack_per_target_cycles`).
    acks_done_at: u64,
}

// SAFETY: an enum and integers, with derived `Clone`s.
crate::pack::plain!(unsafe Mode, Call);

crate::pack::absent!(
    Box<Histograms>,
    Trace,
    sample::Sampler,
    replay::Replay,
    Vec<Vec<Op>>,
    Vec<crate::calls::CallRecord>,
    Vec<(u32, crate::calls::CallOp, u32)>,
    SimError,
);

pub struct Engine {
    /// Shared, never changed: a clone of the engine (the checker's) copies a pointer.
    sc: crate::reuse::Shared<Scenario>,
    seed: u64,
    mode: Mode,
    /// The next cycle to process.
    now: u64,
    cpus: Vec<Cpu>,
    /// Every task's program state; a running task's lives in its CPU (`Cpu::t`) and its entry
    /// here is a placeholder (see `task_ctx`).
    tasks: Vec<TaskCtx>,
    sched: Vec<TaskSched>,
    /// The global run queue (2.4's `runqueue_head`), in order.
    runq: crate::reuse::Fifo<u32>,
    /// Blocked tasks by the cycle their block ends (then task id).
    timers: BinaryHeap<Reverse<(u64, u32)>>,
    /// The compiled program every task runs.
    program: crate::reuse::Shared<[Step]>,
    locks: Vec<SpinLock>,
    /// Locks to arbitrate in phase 3 (skip mode; step mode looks at every lock).
    dirty: Vec<LockId>,
    dirty_spare: Vec<LockId>,
    pk: Pkmap,
    /// Skip mode: every CPU's `until` as a heap key (`deadlines.rs`).
    deadlines: deadlines::Deadlines,
    ipi_heap: BinaryHeap<Reverse<u64>>,
    call: Call,
    /// Flush generation, bumped by every flush under `guarded` and `lazy`.
    flush_gen: u64,
    /// `defer`: a lower bound of every CPU's flush generation (`flush::min_generation`).
    min_gen: u64,
    counters: Counters,
    /// None in the checker's machines (`drop_histograms`): nothing there reads them, and
    /// copying them was a third of the copy of a machine.
    hist: Option<Box<Histograms>>,
    violations: Vec<StaleAccess>,
    events: u64,
    /// Last cycle at which some CPU completed a kmap or kunmap (the watchdog's reference).
    last_progress: u64,
    /// The latest end of a single stretch at least `watchdog_cycles` long: the watchdog does not
    /// count such a stretch (a long work, hold or handler) as a stall.
    long_stretch_end: u64,
    /// Unrelated-traffic evictions per cycle of work, in units of 2^-32.
    evict_per_cycle: u64,
    trace: Option<Trace>,
    sampler: Option<sample::Sampler>,
    replay: Option<replay::Replay>,
    recorded: Option<Vec<Vec<Op>>>,
    /// Every completed kmap and kunmap, when calls are recorded.
    calls: Option<Vec<crate::calls::CallRecord>>,
    /// Every kernel call started (task, call, page), when the checker's witness asks
    /// (`witness.rs`).
    started: Option<Vec<(u32, crate::calls::CallOp, u32)>>,
    /// Tasks whose replayed list has ended (when all have, nothing can happen any more).
    done_tasks: usize,
    /// CPUs with a stretch ahead (`until != NEVER`): the machine can only be frozen when this
    /// is 0, so the exact check runs only then.
    scheduled: usize,
    /// Operations recorded so far (all CPUs), for the record budget.
    recorded_ops: u64,
    /// The error that ended the simulation (a deadlock, a kernel BUG, the record budget or
    /// memory): the state is final, and every later `advance_to` returns it again.
    stopped: Option<SimError>,
    /// Tests of the checker only: `guarded` with its generation check before `kmap_lock`, the
    /// variant docs/model.md 12.3 argues is unsafe.
    #[cfg(test)]
    pub(crate) guarded_checks_before_lock: bool,
}

crate::reuse::clone_reusing!(Engine {
    sc,
    seed,
    mode,
    now,
    cpus,
    tasks,
    sched,
    runq,
    timers,
    program,
    locks,
    dirty,
    dirty_spare,
    pk,
    deadlines,
    ipi_heap,
    call,
    flush_gen,
    min_gen,
    counters,
    hist,
    violations,
    events,
    last_progress,
    long_stretch_end,
    evict_per_cycle,
    trace,
    sampler,
    replay,
    recorded,
    calls,
    started,
    done_tasks,
    scheduled,
    recorded_ops,
    stopped,
    #[cfg(test)]
    guarded_checks_before_lock
});

impl Engine {
    /// A machine at cycle 0: every CPU about to start its first stretch of work.
    pub fn new(sc: &Scenario, seed: u64, mode: Mode) -> Result<Self, ConfigError> {
        sc.validate()?;
        let program = crate::workload::compile(sc)?;
        let n = sc.cpus as usize;
        let ntasks = sc.task_count() as usize;
        let mut tasks: Vec<TaskCtx> = (0..ntasks as u32)
            .map(|i| TaskCtx::new(i, rng::task_stream(seed, i)))
            .collect();
        let sched = (0..ntasks)
            .map(|i| match i < n {
                true => TaskSched::new(TaskState::Running, i as u32),
                false => TaskSched::new(TaskState::Runnable, crate::pkmap::NONE),
            })
            .collect();
        // Task i starts on CPU i; the rest wait on the run queue, in order.
        let cpus: Vec<Cpu> = (0..n)
            .map(|c| {
                let placeholder = TaskCtx::new(crate::pkmap::NONE, rng::task_stream(seed, 0));
                let mut cpu = Cpu::new(placeholder, crate::pkmap::NONE, sc.tlb_entries as usize);
                if c < ntasks {
                    std::mem::swap(&mut cpu.t, &mut tasks[c]);
                    cpu.task = c as u32;
                } else {
                    cpu.phase = crate::cpu::Phase::SwitchIn;
                    cpu.wait = crate::cpu::Wait::Idle;
                    cpu.cat = Category::Idle;
                    cpu.until = crate::cpu::NEVER;
                }
                cpu
            })
            .collect();
        let runq = crate::reuse::Fifo((n.min(ntasks) as u32..ntasks as u32).collect());
        let nlocks = IRQ_LOCK_BASE + sc.irq_locks as u32;
        let locks = (0..nlocks).map(|l| SpinLock::new(seed, l, n)).collect();
        let mut e = Engine {
            sc: crate::reuse::Shared(std::sync::Arc::new(sc.clone())),
            seed,
            mode,
            now: 0,
            cpus,
            tasks,
            sched,
            runq,
            timers: BinaryHeap::new(),
            program: crate::reuse::Shared(program.into()),
            locks,
            dirty: Vec::with_capacity(nlocks as usize),
            dirty_spare: Vec::with_capacity(nlocks as usize),
            pk: Pkmap::new(
                sc.last_pkmap as u32,
                sc.pages as u32,
                n,
                sc.slot_alloc,
                sc.strategy.splits_pool(),
            ),
            deadlines: deadlines::Deadlines::new(n),
            ipi_heap: BinaryHeap::with_capacity(4 * n),
            call: Call::default(),
            flush_gen: 0,
            min_gen: 0,
            counters: Counters::default(),
            hist: Some(Box::default()),
            violations: Vec::with_capacity(sc.max_violation_records as usize),
            events: 0,
            last_progress: 0,
            long_stretch_end: 0,
            evict_per_cycle: (sc.tlb_evict_rate / 1000.0 * 4294967296.0) as u64,
            trace: None,
            sampler: None,
            replay: None,
            recorded: None,
            calls: None,
            started: None,
            done_tasks: 0,
            recorded_ops: 0,
            scheduled: n.min(ntasks),
            stopped: None,
            #[cfg(test)]
            guarded_checks_before_lock: false,
        };
        if mode == Mode::Skip {
            for c in 0..n.min(ntasks) as u32 {
                e.deadlines.set(c as usize, key(0, c as usize));
            }
        }
        Ok(e)
    }

    /// Keep the most recent `cap` events from now on (see `trace.rs`); at most
    /// `records::MAX_TRACE`, the record budget.
    pub fn enable_trace(&mut self, cap: usize) -> Result<(), ConfigError> {
        self.check_trace_budget(cap as u64)?;
        // A page walk folded with its access changes category unseen (`fold.rs`): such an
        // access goes on unfolded, so that the trace records the change at its cycle.
        for c in 0..self.cpus.len() {
            if self.cpus[c].fold_miss_end != crate::cpu::NEVER {
                let at = self.unfold(c, self.now);
                self.set_until(c, at);
            }
        }
        self.trace = Some(Trace::new(cap));
        Ok(())
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn scenario(&self) -> &Scenario {
        &self.sc
    }

    /// The next cycle to be processed (cycles simulated so far).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Simulate up to (not including) cycle `end`. `poll` is called every few thousand cycles
    /// of work; returning a reason stops with `SimError::Interrupted`.
    pub fn advance_to(
        &mut self,
        end: u64,
        poll: &mut dyn FnMut() -> Option<StopReason>,
    ) -> Result<(), SimError> {
        if end > MAX_CYCLES {
            return Err(ConfigError::new(
                "cycles",
                format!("{end} is too large"),
                format!("an integer in [1, {MAX_CYCLES}]"),
            )
            .into());
        }
        if let Some(e) = &self.stopped {
            return Err(e.clone());
        }
        if end < self.now {
            return Err(ConfigError::new(
                "cycle",
                format!("{end} is before now = {}", self.now),
                format!("an integer in [now = {}, {MAX_CYCLES}]", self.now),
            )
            .into());
        }
        // A refusal here leaves the engine as it was.
        self.reserve_samples(end)?;
        let mut out = match self.mode {
            Mode::Step => self.advance_step(end, poll),
            Mode::Skip => self.advance_skip(end, poll),
        };
        if out.is_ok() && self.trace.as_ref().is_some_and(|t| t.out_of_memory) {
            out = Err(SimError::OutOfMemory {
                what: "the trace".into(),
            });
        }
        // An interrupted run is consistent and may go on; any other error is final.
        if let Err(e) = &out {
            if e.is_fatal() {
                self.stopped = Some(e.clone());
            }
        }
        out
    }

    /// The CPUs, for the invariant checks.
    pub(crate) fn cpus(&self) -> &[Cpu] {
        &self.cpus
    }

    /// The pkmap pool, for the invariant checks.
    pub(crate) fn pkmap(&self) -> &Pkmap {
        &self.pk
    }

    /// The error that ended the simulation, if one did.
    pub fn stopped(&self) -> Option<&SimError> {
        self.stopped.as_ref()
    }

    /// Task `id`'s program state, wherever it lives.
    pub(crate) fn task_ctx(&self, id: usize) -> &TaskCtx {
        match self.sched[id].cpu {
            crate::pkmap::NONE => &self.tasks[id],
            c => &self.cpus[c as usize].t,
        }
    }

    /// The tasks' scheduling records, for the invariant checks.
    pub(crate) fn task_scheds(&self) -> &[TaskSched] {
        &self.sched
    }

    fn deadline(&self) -> u64 {
        if self.done_tasks == self.tasks.len() {
            return u64::MAX;
        }
        self.last_progress
            .max(self.long_stretch_end)
            .saturating_add(self.sc.watchdog_cycles)
    }

    /// Whether no CPU can ever act again: none has a stretch ahead (a handler included), no IPI
    /// is in flight, and some CPU still has work (a replayed CPU whose list ended has none).
    /// The same test in both modes: `scheduled` counts the CPUs with a stretch ahead.
    #[inline]
    fn frozen(&self) -> bool {
        if self.scheduled > 0 || !self.timers.is_empty() || self.done_tasks == self.tasks.len() {
            debug_assert!(self.scheduled == 0 || !self.frozen_by_scan());
            return false;
        }
        // Nothing scheduled: the machine moves again only if an IPI is still in flight. This is
        // rare (a deadlock, or its last moments), so the scan costs nothing on the hot path.
        self.frozen_by_scan()
    }

    fn frozen_by_scan(&self) -> bool {
        self.cpus
            .iter()
            .all(|cpu| cpu.until == crate::cpu::NEVER && cpu.inflight.is_empty())
    }

    fn advance_step(
        &mut self,
        end: u64,
        poll: &mut dyn FnMut() -> Option<StopReason>,
    ) -> Result<(), SimError> {
        let n = self.cpus.len();
        // A power of two (at or below the share), so that the cycles polled at do not depend
        // on where advances split.
        let share = (POLL_CPU_CYCLES / n as u64).clamp(1, POLL_EVERY);
        let step_poll = 1u64 << share.ilog2();
        while self.now < end {
            let t = self.now;
            self.take_samples(t + 1);
            if t >= self.deadline() {
                return Err(self.deadlock(t, Stuck::Stalled));
            }
            for c in 0..n {
                while self.cpus[c]
                    .inflight
                    .front()
                    .is_some_and(|i| i.arrival == t)
                {
                    self.deliver(c, t);
                }
            }
            self.fire_timers(t);
            for c in 0..n {
                if self.cpus[c].until == t {
                    self.act(c, t).map_err(|e| *e)?;
                }
            }
            for l in 0..self.locks.len() {
                if self.locks[l].wants_grant() {
                    self.grant(l as LockId, t);
                }
            }
            for cpu in &mut self.cpus {
                cpu.cycles[cpu.cat as usize] += 1;
            }
            self.now = t + 1;
            if self.frozen() {
                return Err(self.deadlock(t + 1, Stuck::Frozen));
            }
            if self.now % step_poll == 0 {
                if let Some(reason) = poll() {
                    let cycle = self.now;
                    return Err(SimError::Interrupted { cycle, reason });
                }
            }
        }
        Ok(())
    }

    fn advance_skip(
        &mut self,
        end: u64,
        poll: &mut dyn FnMut() -> Option<StopReason>,
    ) -> Result<(), SimError> {
        let mut processed = 0u64;
        let mut poll_at = self.events + POLL_EVENTS;
        loop {
            let deadline = self.deadline();
            let mut t = deadline;
            let first = self.deadlines.first();
            if first != deadlines::IDLE {
                t = t.min(unkey(first).0);
            }
            if let Some(&Reverse(k)) = self.ipi_heap.peek() {
                let it = unkey(k).0;
                t = t.min(it);
            }
            if let Some(at) = self.next_timer() {
                t = t.min(at);
            }
            if t >= end {
                break;
            }
            self.take_samples(t + 1);
            self.now = t;
            debug_assert!(t >= self.now, "time went back from {} to {t}", self.now);
            if t >= deadline {
                return Err(self.deadlock(t, Stuck::Stalled));
            }
            while let Some(&Reverse(k)) = self.ipi_heap.peek() {
                let (it, c) = unkey(k);
                if it != t {
                    break;
                }
                self.ipi_heap.pop();
                while self.cpus[c]
                    .inflight
                    .front()
                    .is_some_and(|i| i.arrival == t)
                {
                    self.deliver(c, t);
                }
            }
            self.fire_timers(t);
            loop {
                let k = self.deadlines.first();
                let (ct, c) = unkey(k);
                if k == deadlines::IDLE || ct != t {
                    break;
                }
                if let Err(e) = self.act(c, t) {
                    // The cycle stops half done: the CPUs before `c` have acted in it.
                    self.settle_before(c, t);
                    return Err(*e);
                }
                // An action always leaves its CPU a later stretch or none; this keeps the loop
                // finite if one ever did not (as a popped heap entry did).
                if self.deadlines.get(c) == k {
                    self.deadlines.set(c, deadlines::IDLE);
                }
            }
            if !self.dirty.is_empty() {
                std::mem::swap(&mut self.dirty, &mut self.dirty_spare);
                // Lock order, as in step mode, so that even the order of traced grants matches.
                self.dirty_spare.sort_unstable();
                for i in 0..self.dirty_spare.len() {
                    let l = self.dirty_spare[i];
                    self.locks[l as usize].dirty = false;
                    if self.locks[l as usize].wants_grant() {
                        self.grant(l, t);
                    }
                }
                self.dirty_spare.clear();
            }
            if self.frozen() {
                self.now = t + 1;
                return Err(self.deadlock(t + 1, Stuck::Frozen));
            }
            processed += 1;
            if processed % POLL_EVERY == 0 || self.events >= poll_at {
                poll_at = self.events + POLL_EVENTS;
                if let Some(reason) = poll() {
                    self.now = t + 1;
                    return Err(SimError::Interrupted {
                        cycle: t + 1,
                        reason,
                    });
                }
            }
        }
        self.take_samples(end);
        self.now = end;
        Ok(())
    }

    /// Schedule CPU `c`'s next action at cycle `at` (> the current cycle).
    #[inline]
    fn set_until(&mut self, c: usize, at: u64) {
        // Time never goes back. Durations are bounded at the boundary (fields and replayed ops
        // at most MAX_DURATION, products of them at most 2^56), so `at` cannot overflow; a
        // stretch ending past the heap keys' range (2^51, beyond any run's end at 2^50 at most)
        // is clamped there, which changes nothing a run can observe.
        debug_assert!(at >= self.now, "stretch end {at} before cycle {}", self.now);
        let at = at.min(KEY_TIME_MAX);
        if self.cpus[c].until == crate::cpu::NEVER {
            self.scheduled += 1;
        }
        if at - self.now >= self.sc.watchdog_cycles {
            self.long_stretch_end = self.long_stretch_end.max(at);
        }
        self.cpus[c].until = at;
        if self.mode == Mode::Skip {
            self.deadlines.set(c, key(at, c));
        }
    }

    /// CPU `c` has no stretch ahead: it waits to be woken (or for its handler to be entered).
    #[inline]
    fn set_never(&mut self, c: usize) {
        if self.cpus[c].until != crate::cpu::NEVER {
            self.scheduled -= 1;
            if self.mode == Mode::Skip {
                self.deadlines.set(c, deadlines::IDLE);
            }
        }
        self.cpus[c].until = crate::cpu::NEVER;
    }

    /// Record `value` in the histogram `pick` chooses, if the machine keeps histograms.
    #[inline]
    fn record(&mut self, pick: fn(&mut Histograms) -> &mut crate::stats::Histogram, value: u64) {
        if let Some(h) = self.hist.as_deref_mut() {
            pick(h).record(value);
        }
    }

    /// Keep no histograms from now on (the checker's machines, `check.rs`): a report then
    /// has empty ones, and `kmap_lock`'s statistics, which are its histograms', are zero.
    pub(crate) fn drop_histograms(&mut self) {
        self.hist = None;
    }

    /// Put CPU `c` in category `cat` from cycle `t` on.
    #[inline]
    fn set_cat(&mut self, c: usize, cat: Category, t: u64) {
        let cpu = &mut self.cpus[c];
        if cat == cpu.cat {
            return;
        }
        if self.mode == Mode::Skip {
            cpu.cycles[cpu.cat as usize] += t - cpu.since;
            cpu.since = t;
        }
        cpu.cat = cat;
        trace!(self, t, c, EventKind::State { cat });
    }

    /// Queue lock `l` for arbitration in this cycle's phase 3.
    #[inline]
    fn mark_dirty(&mut self, l: LockId) {
        let lock = &mut self.locks[l as usize];
        if self.mode == Mode::Skip && !lock.dirty {
            lock.dirty = true;
            self.dirty.push(l);
        }
    }

    /// The counters as of cycle `now()`, with the hits of folded accesses (`fold.rs`).
    fn counters_now(&self) -> Counters {
        let mut counters = self.counters.clone();
        counters.tlb_hits += self.folded_hits();
        counters.ipis_pending = counters.ipis_sent - counters.ipis_handled;
        counters
    }

    /// Everything measured so far, as of cycle `now()`.
    pub fn report(&self) -> RunReport {
        let breakdown = (0..self.cpus.len())
            .map(|c| self.breakdown_now(c))
            .collect();
        let counters = self.counters_now();
        RunReport {
            cycles: self.now,
            seed: self.seed,
            events: self.events + self.folded_events(),
            counters,
            breakdown,
            task_breakdown: self.sched.iter().map(|s| s.breakdown(self.now)).collect(),
            histograms: self.hist.as_deref().cloned().unwrap_or_default(),
            lock_stats: (0..self.locks.len())
                .map(|l| self.lock_stat_now(l))
                .collect(),
            violations: self.violations.clone(),
            trace: self
                .trace
                .as_ref()
                .map(|t| t.events.iter().copied().collect())
                .unwrap_or_default(),
            trace_dropped: self.trace.as_ref().map_or(0, |t| t.dropped),
        }
    }
}

/// Simulate `scenario` for `cycles` cycles from `seed`, keeping the last `trace` events if given.
pub fn run(
    scenario: &Scenario,
    cycles: u64,
    seed: u64,
    mode: Mode,
    trace: Option<usize>,
    poll: &mut dyn FnMut() -> Option<StopReason>,
) -> Result<RunReport, SimError> {
    if cycles == 0 || cycles > MAX_CYCLES {
        return Err(ConfigError::new(
            "cycles",
            format!("{cycles} is out of range"),
            format!("an integer in [1, {MAX_CYCLES}]"),
        )
        .into());
    }
    let mut e = Engine::new(scenario, seed, mode)?;
    if let Some(cap) = trace {
        e.enable_trace(cap)?;
    }
    e.advance_to(cycles, poll)?;
    Ok(e.report())
}

/// `run` without interruption.
pub fn run_to_end(
    scenario: &Scenario,
    cycles: u64,
    seed: u64,
    mode: Mode,
) -> Result<RunReport, SimError> {
    run(scenario, cycles, seed, mode, None, &mut || None)
}
