//! The engine as the checker drives it (`check.rs`, docs/verification.md): time abstracted to
//! the order of events. From any state every enabled event may happen next, whatever its cycle:
//! any CPU's current stretch may end, any IPI in flight may arrive, any block may end, any free
//! lock with spinners may be granted. Each event runs the simulator's own transition code at
//! the next cycle; durations only make stretches, never orders. Random choices are read from
//! the thread's script (`rng::Script`), so that the checker can branch over every outcome.
//!
//! The state the checker hashes is `key.rs`'s.

use super::{Engine, Mode};
use crate::config::Scenario;
use crate::cpu::NEVER;
use crate::error::{ConfigError, SimError};
use crate::pkmap::NONE;
use std::cmp::Reverse;

/// One step of the checker: what happens next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// CPU `c`'s current stretch ends: its program's next transition (or its handler's end).
    Act(u32),
    /// The oldest IPI in flight to CPU `c` reaches its APIC.
    Deliver(u32),
    /// Task `id`'s block on I/O ends.
    Unblock(u32),
    /// Free lock `l` is given to one of its spinners (which one: a scripted choice under `tas`).
    Grant(u32),
}

impl Engine {
    /// A machine for the checker: step mode, every random stream scripted.
    pub fn explorer(sc: &Scenario) -> Result<Self, ConfigError> {
        let mut e = Engine::new(sc, 0, Mode::Step)?;
        for t in &mut e.tasks {
            t.rng.script();
        }
        for c in &mut e.cpus {
            c.t.rng.script();
        }
        for l in &mut e.locks {
            l.script();
        }
        Ok(e)
    }

    /// The events that may happen next, in a fixed order.
    pub fn enabled(&self, out: &mut Vec<Event>) {
        out.clear();
        for (c, cpu) in self.cpus.iter().enumerate() {
            if cpu.until != NEVER {
                out.push(Event::Act(c as u32));
            }
        }
        for (c, cpu) in self.cpus.iter().enumerate() {
            if !cpu.inflight.is_empty() {
                out.push(Event::Deliver(c as u32));
            }
        }
        let mut blocked: Vec<u32> = self.timers.iter().map(|Reverse((_, id))| *id).collect();
        blocked.sort_unstable();
        out.extend(blocked.into_iter().map(Event::Unblock));
        for (l, lock) in self.locks.iter().enumerate() {
            let spinning = |w: &u32| !self.cpus[*w as usize].in_handler();
            let fifo = self.sc.lock_arbitration == crate::config::Arbitration::Fifo;
            if lock.wants_grant() && (fifo || lock.waiters.iter().any(spinning)) {
                out.push(Event::Grant(l as u32));
            }
        }
    }

    /// Let `ev` happen at the next cycle, by the simulator's own transitions.
    pub fn fire(&mut self, ev: Event) -> Result<(), SimError> {
        let t = self.now + 1;
        self.now = t;
        match ev {
            Event::Act(c) => {
                self.cpus[c as usize].until = t;
                self.act(c as usize, t).map_err(|e| *e)?;
            }
            Event::Deliver(c) => {
                let cpu = &mut self.cpus[c as usize];
                if let Some(ipi) = cpu.inflight.front_mut() {
                    ipi.arrival = t;
                }
                self.deliver(c as usize, t);
            }
            Event::Unblock(id) => {
                self.timers.retain(|Reverse((_, i))| *i != id);
                self.make_runnable(id, t, 0);
            }
            Event::Grant(l) => self.grant(l, t),
        }
        self.stretch_all_ahead(t);
        Ok(())
    }

    /// Every stretch in progress ends strictly after the next cycle, so that each is an event
    /// of its own (its length is abstracted away) and no `until - t` can go below 1.
    fn stretch_all_ahead(&mut self, t: u64) {
        for cpu in &mut self.cpus {
            if cpu.until != NEVER && cpu.until < t + 2 {
                cpu.until = t + 2;
            }
            if let Some(s) = cpu.saved.as_mut() {
                if s.remaining == 0 {
                    s.remaining = 1;
                }
            }
        }
    }

    /// The number of CPUs.
    pub fn cpu_count(&self) -> usize {
        self.cpus.len()
    }

    /// The CPU an event belongs to, for PCT's priorities (`pct.rs`): a CPU's own stretch and
    /// IPIs are its; a block's end is its task's last CPU's; a grant is its highest-priority
    /// spinner's.
    pub fn event_owner(&self, ev: Event, prio: &[u64]) -> usize {
        match ev {
            Event::Act(c) | Event::Deliver(c) => c as usize,
            Event::Unblock(t) => match self.sched[t as usize].last_cpu {
                NONE => 0,
                c => c as usize,
            },
            Event::Grant(l) => self.locks[l as usize]
                .waiters
                .iter()
                .map(|&w| w as usize)
                .max_by_key(|&w| prio[w])
                .unwrap_or(0),
        }
    }

    /// Whether every task's work is over (a replayed list that ended): nothing can happen.
    pub fn finished(&self) -> bool {
        self.done_tasks == self.tasks.len()
    }

    /// The machine has no enabled event and work left: the deadlock report, with its wait-for
    /// chain, as the watchdog gives it.
    pub fn deadlock_now(&mut self) -> SimError {
        let t = self.now;
        self.deadlock(t, super::watchdog::Stuck::Frozen)
    }

    /// The most IPIs sent to one CPU and not handled yet (in flight or pending): the
    /// checker's `Bounds::max_ipis`.
    pub fn ipis_outstanding(&self) -> usize {
        self.cpus
            .iter()
            .map(|c| c.inflight.len() + c.pending.len())
            .max()
            .unwrap_or(0)
    }

    /// The run's counters so far (the checker reads stale accesses here).
    pub fn stale_accesses(&self) -> u64 {
        self.counters.stale_accesses
    }
}
