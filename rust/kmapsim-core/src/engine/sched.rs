//! The scheduler (docs/model.md, section 17): 2.4's `schedule()` without kernel preemption. A
//! task runs until it blocks (I/O, or the `pkmap_map_wait` sleep) or yields; the CPU then takes
//! the task at the head of the one global run queue, or idles. A task made runnable goes to the
//! CPU it last ran on if that one idles, else to the CPU idle longest, else to the tail of the
//! run queue (2.4's `reschedule_idle()`, without its preemption of a running task). Switching a
//! task in costs `ctx_switch_cycles`, plus the generation catch-up of `guarded` and `lazy`: TLBs
//! stay with the CPUs, so a task that changes CPU meets that CPU's TLB.

use super::program::{Next, go};
use super::{Engine, Res};
use crate::config::{Dist, Strategy};
use crate::cpu::{Phase, Wait};
use crate::pkmap::NONE;
use crate::stats::Category as C;
use crate::task::TaskState;
use crate::trace::EventKind as E;
use crate::trace::trace;
use crate::workload::Instr;
use std::cmp::Reverse;

impl Engine {
    /// A `block` step: the task sleeps for a drawn time holding whatever it holds; the CPU
    /// runs another task or idles.
    pub(super) fn block(&mut self, c: usize, t: u64, dist: Dist, mean: u64) -> Next {
        let cpu = &mut self.cpus[c];
        let d = Self::draw(dist, mean, &mut cpu.t.rng);
        cpu.t.pc += 1;
        cpu.t.resume = Phase::NextOp;
        let id = cpu.task;
        self.counters.blocks += 1;
        self.sched[id as usize].enter(TaskState::Blocked, t);
        let at = (t + d).min(super::KEY_TIME_MAX);
        if d >= self.sc.watchdog_cycles {
            self.long_stretch_end = self.long_stretch_end.max(at);
        }
        self.timers.push(Reverse((at, id)));
        self.schedule(c, t, C::Idle, Wait::Idle)
    }

    /// A `yield` step (`schedule()` from a running task), taken with chance `prob`: the next
    /// runnable task is switched in, or the same task again if none waits; either way the
    /// switch is paid. It ends a `dbench` iteration, which is recorded here, taken or not.
    pub(super) fn yield_cpu(&mut self, c: usize, t: u64, prob: Option<f64>) -> Res<Option<Next>> {
        let taken = prob.is_none_or(|p| self.taken(c, Instr::Yield, p));
        self.cpus[c].t.op_open = false;
        self.record_op(c)?;
        self.cpus[c].t.pc += 1;
        if !taken {
            // Not taken: a zero-length stretch of work (as a run_program step would set it),
            // and the next step at once.
            self.set_cat(c, C::Work, t);
            return Ok(None);
        }
        self.counters.context_switches += 1;
        Ok(Some(if let Some(next) = self.runq.pop_front() {
            let id = self.cpus[c].task;
            self.cpus[c].t.resume = Phase::NextOp;
            self.switch_out(c);
            self.sched[id as usize].enter(TaskState::Runnable, t);
            self.runq.push_back(id);
            self.switch_in(c, t, next)
        } else {
            let f = self.catch_up_at_switch(c, t);
            go(
                C::ContextSwitch,
                self.sc.ctx_switch_cycles + f,
                Phase::NextOp,
            )
        }))
    }

    /// CPU `c`'s task leaves it (its state already set): the CPU switches in the head of the run
    /// queue, or idles in `cat` waiting with `wait`.
    pub(super) fn schedule(&mut self, c: usize, t: u64, cat: C, wait: Wait) -> Next {
        self.switch_out(c);
        match self.runq.pop_front() {
            Some(next) => self.switch_in(c, t, next),
            None => {
                // The idle loop runs with interrupts enabled.
                self.cpus[c].irqs_on = true;
                self.cpus[c].idle_since = t;
                Next::Block {
                    cat,
                    wait,
                    phase: Phase::SwitchIn,
                }
            }
        }
    }

    /// Put CPU `c`'s task's state back in the task table.
    fn switch_out(&mut self, c: usize) {
        let id = self.cpus[c].task as usize;
        std::mem::swap(&mut self.cpus[c].t, &mut self.tasks[id]);
        self.cpus[c].task = NONE;
        self.sched[id].cpu = NONE;
        self.sched[id].last_cpu = c as u32;
    }

    /// Give task `id` to CPU `c` (idle, or just left by its task) without running it yet.
    fn assign(&mut self, c: usize, t: u64, id: u32) {
        let cpu = &mut self.cpus[c];
        cpu.task = id;
        std::mem::swap(&mut cpu.t, &mut self.tasks[id as usize]);
        let s = &mut self.sched[id as usize];
        if s.last_cpu != c as u32 && s.last_cpu != NONE {
            self.counters.migrations += 1;
        }
        s.cpu = c as u32;
        s.enter(TaskState::Running, t);
    }

    /// Switch task `id` in on CPU `c` at once: the context switch, then the task's own phase.
    fn switch_in(&mut self, c: usize, t: u64, id: u32) -> Next {
        self.assign(c, t, id);
        self.counters.task_switches += 1;
        self.resume(c, t)
    }

    /// The context switch that starts (or restarts) CPU `c`'s task.
    fn resume(&mut self, c: usize, t: u64) -> Next {
        self.cpus[c].irqs_on = !self.cpus[c].t.irqs_disabled;
        let f = self.catch_up_at_switch(c, t);
        let local = self.reinstall_local(c, t);
        let resume = self.cpus[c].t.resume;
        go(
            C::ContextSwitch,
            self.sc.ctx_switch_cycles + f + local,
            resume,
        )
    }

    /// An idle CPU was given a task: `schedule()` switches it in.
    #[inline(never)]
    pub(super) fn switched_in(&mut self, c: usize, t: u64) -> Next {
        trace!(self, t, c, E::Wake);
        self.counters.task_switches += 1;
        self.resume(c, t)
    }

    /// Under `local`, the kmap_local mappings of a task switched in are set again in this
    /// CPU's slots, each with a PTE write and an invlpg (`__kmap_local_sched_in`).
    fn reinstall_local(&mut self, c: usize, t: u64) -> u64 {
        if self.sc.strategy != Strategy::Local {
            return 0;
        }
        let cpu = &mut self.cpus[c];
        let mut cost = 0;
        for h in 0..cpu.t.handles.len() {
            let handle = cpu.t.handles[h];
            if handle.held() {
                cpu.local.page[h] = handle.page;
                cpu.local.mapped_at[h] = t;
                cpu.tlb.invalidate(handle.slot);
                self.counters.invlpgs += 1;
                cost += self.sc.kmap_local_cycles + self.sc.tlb_invlpg_cycles;
            }
        }
        cost
    }

    /// Task `id` becomes runnable at cycle `t`: placed on an idle CPU, which switches it in
    /// `delay` cycles later, or queued.
    pub(super) fn make_runnable(&mut self, id: u32, t: u64, delay: u64) {
        self.sched[id as usize].enter(TaskState::Runnable, t);
        let last = self.sched[id as usize].last_cpu;
        let cpu = if last != NONE && self.cpus[last as usize].idle() {
            Some(last as usize)
        } else {
            self.longest_idle()
        };
        match cpu {
            Some(c) => {
                // An idle CPU's phase is SwitchIn (saved, if it runs an IPI handler).
                self.assign(c, t, id);
                self.wake(c, t, delay);
            }
            None => self.runq.push_back(id),
        }
    }

    /// The CPU idle longest (the lowest-numbered among equals), if any idles.
    fn longest_idle(&self) -> Option<usize> {
        self.cpus
            .iter()
            .enumerate()
            .filter(|(_, cpu)| cpu.idle())
            .min_by_key(|(c, cpu)| (cpu.idle_since, *c))
            .map(|(c, _)| c)
    }

    /// Tasks whose block ends at cycle `t` become runnable (before any CPU acts in `t`).
    #[inline(always)]
    pub(super) fn fire_timers(&mut self, t: u64) {
        if self.timers.peek().is_some_and(|Reverse((at, _))| *at == t) {
            self.fire_timers_at(t);
        }
    }

    #[inline(never)]
    fn fire_timers_at(&mut self, t: u64) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at != t {
                break;
            }
            self.timers.pop();
            self.make_runnable(id, t, 0);
        }
    }

    /// The cycle of the next block's end, if any task is blocked.
    #[inline]
    pub(super) fn next_timer(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }
}
