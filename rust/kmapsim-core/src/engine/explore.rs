//! The engine as the checker drives it (`check.rs`, docs/verification.md): time abstracted to
//! the order of events. From any state every enabled event may happen next, whatever its cycle:
//! any CPU's current stretch may end, any IPI in flight may arrive, any block may end, any free
//! lock with spinners may be granted. Each event runs the simulator's own transition code at
//! the next cycle; durations only make stretches, never orders. Random choices are read from
//! the thread's script (`rng::Script`), so that the checker can branch over every outcome.
//!
//! `abstract_key` is the state the checker hashes: everything a later transition can read,
//! without times, statistics or records, and with flush generations and IPI call numbers
//! renumbered. Both only ever grow, and the transitions only compare them (`<`, `max`, `==`):
//! generations are replaced by their rank among the generations present (all those at or below
//! every CPU's being alike), and a call number by whether it is the current call. Two states
//! that differ only in such numbers then have the same futures, and the key is finite.

use super::{Engine, Mode};
use crate::config::Scenario;
use crate::cpu::{Ipi, NEVER};
use crate::error::{ConfigError, SimError};
use crate::pkmap::NONE;
use crate::task::TaskCtx;
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

/// The renumbering of flush generations and IPI calls in a key.
struct Norm {
    /// The generations present, sorted, at or above the lowest CPU's (`generation` maps a
    /// value to its rank here; lower ones to 0).
    gens: Vec<u64>,
    /// The IPI call in progress (or the last one): only whether a call is this one matters.
    call: u64,
}

impl Norm {
    fn new(e: &Engine) -> Self {
        let base = e.cpus.iter().map(|c| c.generation).min().unwrap_or(0);
        let mut gens = vec![base, e.flush_gen];
        for c in &e.cpus {
            gens.extend([c.generation, c.handler_gen, c.defer_gen]);
            gens.extend(c.inflight.iter().chain(&c.pending).map(|i| i.generation));
        }
        gens.extend(e.pk.cleared_gen.iter().copied());
        gens.retain(|&g| g >= base);
        gens.sort_unstable();
        gens.dedup();
        Norm {
            gens,
            call: e.call.id,
        }
    }

    fn generation(&self, g: u64) -> u64 {
        self.gens.partition_point(|&x| x < g) as u64
    }

    fn call(&self, id: u64) -> u64 {
        (id == self.call) as u64
    }

    fn ipi(&self, i: &Ipi) -> u64 {
        self.call(i.call) | self.generation(i.generation) << 1
    }
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

    /// The run's counters so far (the checker reads stale accesses here).
    pub fn stale_accesses(&self) -> u64 {
        self.counters.stale_accesses
    }

    /// The state the checker hashes (module docs), in `k`.
    pub fn abstract_key(&self, k: &mut Vec<u64>) {
        let identity: Vec<u32> = (0..self.cpus.len() as u32).collect();
        self.key_renamed(&identity, k);
    }

    /// Whether CPUs are interchangeable, each with its task: one task per CPU (task i always
    /// runs on CPU i: a woken task goes back to its idle CPU), the same program for all, and no
    /// page source that depends on the task (`private`, `sequential`). Then renaming CPUs and
    /// their tasks together maps every run to a run (no rule looks at a CPU's number but to
    /// break ties, and the checker's events never tie), so a state and its renamings have the
    /// same futures up to the renaming.
    pub fn cpus_symmetric(&self) -> bool {
        use crate::workload::{Instr, PageSource};
        self.tasks.len() == self.cpus.len()
            && self.replay.is_none()
            && self.program.iter().all(|s| {
                !matches!(
                    s.instr,
                    Instr::Kmap {
                        source: PageSource::Private | PageSource::Sequential,
                        ..
                    }
                )
            })
    }

    /// The least key over every renaming of the CPUs (and their tasks), in `k` (symmetry
    /// reduction: one state stands for all its renamings). `scratch` is working space.
    pub fn canonical_key(&self, k: &mut Vec<u64>, scratch: &mut Vec<u64>) {
        let n = self.cpus.len();
        let mut ren: Vec<u32> = (0..n as u32).collect();
        self.key_renamed(&ren, k);
        // Heap's algorithm: every permutation, one swap apart.
        let mut c = vec![0usize; n];
        let mut i = 1;
        while i < n {
            if c[i] < i {
                let j = if i % 2 == 0 { 0 } else { c[i] };
                ren.swap(j, i);
                self.key_renamed(&ren, scratch);
                if *scratch < *k {
                    std::mem::swap(k, scratch);
                }
                c[i] += 1;
                i = 1;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
    }

    /// The key with CPU (and task) `x` renamed `ren[x]`; blocks in the new order.
    fn key_renamed(&self, ren: &[u32], k: &mut Vec<u64>) {
        k.clear();
        let n = self.cpus.len();
        let renamed = self.tasks.len() == n;
        let cpu = |x: u32| {
            if x == NONE {
                NONE as u64
            } else {
                ren[x as usize] as u64
            }
        };
        let task = |x: u32| {
            if x == NONE || !renamed {
                x as u64
            } else {
                ren[x as usize] as u64
            }
        };
        let mut order = vec![0usize; n];
        for (old, &new) in ren.iter().enumerate() {
            order[new as usize] = old;
        }
        let norm = Norm::new(self);
        k.push(norm.generation(self.flush_gen));
        // A call's sender and counts are read only while acks are still due.
        let call = &self.call;
        if call.finished < call.targets {
            k.extend([cpu(call.sender), call.targets as u64, call.finished as u64]);
        } else {
            k.extend([NONE as u64, 0, 0]);
        }
        for &c in &order {
            self.cpu_key(c, &norm, &task, k);
        }
        let tasks: Vec<usize> = if renamed {
            order.clone()
        } else {
            (0..self.tasks.len()).collect()
        };
        for id in tasks {
            let s = &self.sched[id];
            k.extend([s.state as u64, cpu(s.cpu), cpu(s.last_cpu)]);
            if s.cpu == NONE {
                task_key(&self.tasks[id], &self.sc, &task, k);
            }
        }
        k.push(u64::MAX);
        k.extend(self.runq.iter().map(|&id| task(id)));
        let mut blocked: Vec<u64> = self.timers.iter().map(|r| task(r.0.1)).collect();
        blocked.sort_unstable();
        k.push(u64::MAX);
        k.extend(blocked);
        for lock in &self.locks {
            k.push(u64::MAX);
            k.push(lock.holder.map_or(NONE as u64, cpu));
            k.extend(lock.waiters.iter().map(|&w| cpu(w)));
        }
        self.pk.abstract_key(&|g| norm.generation(g), &task, k);
        k.push(self.done_tasks as u64);
    }

    /// CPU `c`'s part of the key.
    fn cpu_key(&self, c: usize, norm: &Norm, task: &dyn Fn(u32) -> u64, k: &mut Vec<u64>) {
        let cpu = &self.cpus[c];
        let wait = match cpu.wait {
            crate::cpu::Wait::None => 0,
            crate::cpu::Wait::Lock(l) => 1 | (l as u64) << 8,
            crate::cpu::Wait::Acks(call) => 2 | norm.call(call) << 8,
            crate::cpu::Wait::Sleep => 3,
            crate::cpu::Wait::Done => 4,
            crate::cpu::Wait::Idle => 5,
        };
        let saved = cpu.saved.map_or(0, |s| {
            let left = match s.remaining {
                NEVER => 1,
                0 => 2,
                _ => 3,
            };
            1 + s.phase as u64 * 4 + left
        });
        // Which idle CPU a woken task goes to depends on how long each has idled.
        let idle_rank = if cpu.idle() {
            self.cpus
                .iter()
                .filter(|d| d.idle() && d.idle_since < cpu.idle_since)
                .count() as u64
        } else {
            u64::MAX
        };
        k.push(u64::MAX - 1);
        k.extend([
            cpu.phase as u64,
            (cpu.until != NEVER) as u64,
            wait,
            cpu.irqs_on as u64,
            saved,
            norm.call(cpu.handler_call),
            norm.generation(cpu.handler_gen),
            norm.call(cpu.acked_call),
            norm.call(cpu.targeted_by_call),
            task(cpu.task),
            idle_rank,
            norm.generation(cpu.generation),
            cpu.may_hold as u64,
            cpu.behind as u64,
            norm.generation(cpu.defer_gen),
            cpu.irq_lock as u64,
            cpu.scan_left as u64,
            // Only whether the kmap has flushed yet is read (`Pkmap::allocate`, `loop_count`).
            (cpu.scan_flushes > 0) as u64,
            cpu.lookup as u64,
            cpu.lookups,
            cpu.access_irqs_off as u64,
            cpu.need_wakeup as u64,
            cpu.flush_cleared,
            (cpu.refill_debt > 0) as u64,
        ]);
        k.extend(cpu.inflight.iter().map(|i| norm.ipi(i)));
        k.push(u64::MAX);
        k.extend(cpu.pending.iter().map(|i| norm.ipi(i)));
        k.push(u64::MAX);
        k.extend(cpu.local.page.iter().map(|&p| p as u64));
        cpu.tlb.abstract_key(k);
        if cpu.task != NONE {
            task_key(&cpu.t, &self.sc, task, k);
        }
    }
}

/// A task's program state in the key: no durations, its sequential cursor modulo its pages.
fn task_key(t: &TaskCtx, sc: &Scenario, task: &dyn Fn(u32) -> u64, k: &mut Vec<u64>) {
    let own = crate::workload::private_pages(sc).max(1);
    k.push(u64::MAX - 2);
    k.extend([task(t.id), t.pc as u64, t.cursor % own, t.resume as u64]);
    k.extend(t.loops.iter().map(|&n| n as u64));
    k.extend(
        t.handles
            .iter()
            .map(|h| (h.page as u64) << 32 | h.slot as u64),
    );
    let op = &t.op;
    k.extend([
        op.page as u64,
        op.irq_lock.map_or(NONE as u64, |l| l as u64),
        op.irqs_off as u64 | (op.switch as u64) << 1 | (t.op_open as u64) << 2,
        t.handle as u64,
        t.page as u64,
        t.slot as u64,
        t.misuse as u64 | (t.irqs_disabled as u64) << 1 | (t.slept as u64) << 2,
        t.flushed as u64,
    ]);
}
