//! The engine: machine state and the two time-advance modes.
//!
//! One cycle is processed in three phases, identically in both modes:
//! 1. IPIs arriving this cycle reach their targets, in CPU order;
//! 2. every CPU whose current stretch ends this cycle acts, in CPU order;
//! 3. every free lock with spinners is arbitrated.
//!
//! A cycle's category for a CPU is its state after phase 3. `step` visits every cycle and every
//! CPU and counts each cycle into its category; `skip` jumps from one cycle with work to the next
//! (a heap of CPU deadlines and one of IPI arrivals) and adds up whole stretches. The transition
//! code (`program.rs`, `ipi.rs`) is shared, so the modes can only differ if the skipping is wrong,
//! which the equality tests check.

use crate::config::Scenario;
use crate::cpu::Cpu;
use crate::error::{ConfigError, SimError};
use crate::lock::{IRQ_LOCK_BASE, LockId, SpinLock};
use crate::pkmap::Pkmap;
use crate::rng;
use crate::stats::{Category, Counters, Histograms, RunReport, StaleAccess};
use crate::trace::trace;
use crate::trace::{EventKind, Trace};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

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
pub(crate) fn key(at: u64, cpu: usize) -> u64 {
    (at.min(KEY_TIME_MAX) << CPU_BITS) | cpu as u64
}

#[inline]
fn unkey(k: u64) -> (u64, usize) {
    (k >> CPU_BITS, (k & ((1 << CPU_BITS) - 1)) as usize)
}

/// How many processed cycles between two calls of the caller's poll function.
const POLL_EVERY: u64 = 1 << 14;

/// The IPI call (`smp_call_function`) in progress; `call_lock` allows one at a time.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Call {
    pub id: u64,
    pub sender: u32,
    pub targets: u32,
    pub finished: u32,
}

pub struct Engine {
    pub(crate) sc: Scenario,
    pub(crate) seed: u64,
    pub(crate) mode: Mode,
    /// The next cycle to process.
    pub(crate) now: u64,
    pub(crate) cpus: Vec<Cpu>,
    pub(crate) locks: Vec<SpinLock>,
    /// Locks to arbitrate in phase 3 (skip mode; step mode looks at every lock).
    pub(crate) dirty: Vec<LockId>,
    dirty_spare: Vec<LockId>,
    pub(crate) pk: Pkmap,
    pub(crate) cpu_heap: BinaryHeap<Reverse<u64>>,
    pub(crate) ipi_heap: BinaryHeap<Reverse<u64>>,
    pub(crate) call: Call,
    /// Flush generation, bumped by every flush under `guarded` and `lazy`.
    pub(crate) flush_gen: u64,
    pub(crate) counters: Counters,
    pub(crate) hist: Histograms,
    pub(crate) violations: Vec<StaleAccess>,
    pub(crate) events: u64,
    /// Last cycle at which some CPU completed a kmap or kunmap (the watchdog's reference).
    pub(crate) last_progress: u64,
    /// Unrelated-traffic evictions per cycle of work, in units of 2^-32.
    pub(crate) evict_per_cycle: u64,
    pub(crate) trace: Option<Trace>,
    pub(crate) sampler: Option<crate::sample::Sampler>,
    pub(crate) replay: Option<crate::replay::Replay>,
    pub(crate) recorded: Option<Vec<Vec<crate::replay::Op>>>,
    /// CPUs whose replayed list has ended (when all have, nothing can happen any more).
    pub(crate) done_cpus: usize,
}

impl Engine {
    /// A machine at cycle 0: every CPU about to start its first stretch of work.
    pub fn new(sc: &Scenario, seed: u64, mode: Mode) -> Result<Self, ConfigError> {
        sc.validate()?;
        let n = sc.cpus as usize;
        let cpus: Vec<Cpu> = (0..n)
            .map(|c| Cpu::new(rng::cpu_stream(seed, c as u32), sc.tlb_entries as usize))
            .collect();
        let nlocks = IRQ_LOCK_BASE + sc.irq_locks as u32;
        let locks = (0..nlocks).map(|l| SpinLock::new(seed, l, n)).collect();
        let mut e = Engine {
            sc: sc.clone(),
            seed,
            mode,
            now: 0,
            cpus,
            locks,
            dirty: Vec::with_capacity(nlocks as usize),
            dirty_spare: Vec::with_capacity(nlocks as usize),
            pk: Pkmap::new(sc.last_pkmap as u32, sc.pages as u32, n),
            cpu_heap: BinaryHeap::with_capacity(4 * n),
            ipi_heap: BinaryHeap::with_capacity(4 * n),
            call: Call::default(),
            flush_gen: 0,
            counters: Counters::default(),
            hist: Histograms::default(),
            violations: Vec::with_capacity(sc.max_violation_records as usize),
            events: 0,
            last_progress: 0,
            evict_per_cycle: (sc.tlb_evict_rate / 1000.0 * 4294967296.0) as u64,
            trace: None,
            sampler: None,
            replay: None,
            recorded: None,
            done_cpus: 0,
        };
        if mode == Mode::Skip {
            for c in 0..n as u32 {
                e.cpu_heap.push(Reverse(key(0, c as usize)));
            }
        }
        Ok(e)
    }

    /// Keep the most recent `cap` events from now on (see `trace.rs`).
    pub fn enable_trace(&mut self, cap: usize) {
        self.trace = Some(Trace::new(cap));
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
    /// of work; returning `false` stops with `SimError::Interrupted`.
    pub fn advance_to(&mut self, end: u64, poll: &mut dyn FnMut() -> bool) -> Result<(), SimError> {
        if end > MAX_CYCLES {
            return Err(ConfigError::new(
                "cycles",
                format!("{end} is too large"),
                format!("an integer in [1, {MAX_CYCLES}]"),
            )
            .into());
        }
        match self.mode {
            Mode::Step => self.advance_step(end, poll),
            Mode::Skip => self.advance_skip(end, poll),
        }
    }

    fn deadline(&self) -> u64 {
        if self.done_cpus == self.cpus.len() {
            return u64::MAX;
        }
        self.last_progress.saturating_add(self.sc.watchdog_cycles)
    }

    fn advance_step(&mut self, end: u64, poll: &mut dyn FnMut() -> bool) -> Result<(), SimError> {
        let n = self.cpus.len();
        while self.now < end {
            let t = self.now;
            self.take_samples(t + 1);
            if t >= self.deadline() {
                return Err(self.deadlock(t));
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
            for c in 0..n {
                if self.cpus[c].until == t {
                    self.act(c, t)?;
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
            if self.now % POLL_EVERY == 0 && !poll() {
                return Err(SimError::Interrupted { cycle: self.now });
            }
        }
        Ok(())
    }

    fn advance_skip(&mut self, end: u64, poll: &mut dyn FnMut() -> bool) -> Result<(), SimError> {
        let mut processed = 0u64;
        loop {
            let deadline = self.deadline();
            let mut t = deadline;
            if let Some(&Reverse(k)) = self.cpu_heap.peek() {
                let ct = unkey(k).0;
                t = t.min(ct);
            }
            if let Some(&Reverse(k)) = self.ipi_heap.peek() {
                let it = unkey(k).0;
                t = t.min(it);
            }
            if t >= end {
                break;
            }
            self.take_samples(t + 1);
            self.now = t;
            if t >= deadline {
                return Err(self.deadlock(t));
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
            while let Some(&Reverse(k)) = self.cpu_heap.peek() {
                let (ct, c) = unkey(k);
                if ct != t {
                    break;
                }
                self.cpu_heap.pop();
                // Entries are never removed when a deadline changes; a stale one is skipped.
                if self.cpus[c].until == t {
                    self.act(c, t)?;
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
            processed += 1;
            if processed % POLL_EVERY == 0 && !poll() {
                self.now = t + 1;
                return Err(SimError::Interrupted { cycle: t + 1 });
            }
        }
        self.take_samples(end);
        self.now = end;
        Ok(())
    }

    /// Schedule CPU `c`'s next action at cycle `at` (> the current cycle).
    #[inline]
    pub(crate) fn set_until(&mut self, c: usize, at: u64) {
        self.cpus[c].until = at;
        if self.mode == Mode::Skip {
            self.cpu_heap.push(Reverse(key(at, c)));
        }
    }

    /// Put CPU `c` in category `cat` from cycle `t` on.
    #[inline]
    pub(crate) fn set_cat(&mut self, c: usize, cat: Category, t: u64) {
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
    pub(crate) fn mark_dirty(&mut self, l: LockId) {
        let lock = &mut self.locks[l as usize];
        if self.mode == Mode::Skip && !lock.dirty {
            lock.dirty = true;
            self.dirty.push(l);
        }
    }

    /// Everything measured so far, as of cycle `now()`.
    pub fn report(&self) -> RunReport {
        let breakdown = self
            .cpus
            .iter()
            .map(|cpu| {
                let mut row = cpu.cycles;
                if self.mode == Mode::Skip {
                    row[cpu.cat as usize] += self.now - cpu.since;
                }
                row
            })
            .collect();
        let mut counters = self.counters.clone();
        counters.ipis_pending = counters.ipis_sent - counters.ipis_handled;
        RunReport {
            cycles: self.now,
            seed: self.seed,
            events: self.events,
            counters,
            breakdown,
            histograms: self.hist.clone(),
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
    poll: &mut dyn FnMut() -> bool,
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
        e.enable_trace(cap);
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
    run(scenario, cycles, seed, mode, None, &mut || true)
}
