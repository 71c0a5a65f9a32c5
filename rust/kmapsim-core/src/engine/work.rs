//! The workload loop (docs/model.md, section 3): a stretch of work, the unrelated memory traffic
//! it causes, an optional interrupts-off section, and after the kunmap an optional context switch
//! before the next iteration.

use super::Engine;
use super::program::{Next, go};
use crate::cpu::{Phase, Wait};
use crate::error::SimError;
use crate::lock::{IRQ_LOCK_BASE, LockId};
use crate::op::Op;
use crate::stats::Category as C;
use crate::trace::EventKind as E;
use crate::trace::trace;

impl Engine {
    /// The next iteration: draw (or replay) its work and spend it.
    #[inline]
    pub(super) fn work_begin(&mut self, c: usize, t: u64) -> Next {
        match self.next_op(c) {
            None => {
                let cpu = &mut self.cpus[c];
                let work = Self::draw(self.sc.work_dist, self.sc.work_cycles, &mut cpu.rng);
                cpu.op = Op {
                    work,
                    ..Op::default()
                };
                cpu.op_open = true;
                go(C::Work, work, Phase::WorkDone)
            }
            Some(Some(op)) => {
                self.cpus[c].op = op;
                self.cpus[c].op_open = true;
                go(C::Work, op.work, Phase::WorkDone)
            }
            Some(None) => {
                self.done_cpus += 1;
                trace!(self, t, c, E::Done);
                Next::Block {
                    cat: C::Idle,
                    wait: Wait::Done,
                    phase: Phase::WorkBegin,
                }
            }
        }
    }

    /// The work is done: unrelated traffic evicts TLB entries, then maybe an interrupts-off
    /// section (`spin_lock_irq()` on one of the workload's locks) before the kmap.
    #[inline]
    pub(super) fn work_done(&mut self, c: usize, t: u64) -> Next {
        self.evict_unrelated(c, t);
        let replaying = self.replay.is_some();
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        // The op was reset at WorkBegin: irq_lock is None unless a section is drawn.
        if !replaying && cpu.rng.chance(sc.irq_section_prob) {
            cpu.op.irq_lock = Some(cpu.rng.below(0, sc.irq_locks) as u32);
            cpu.op.irq_hold = Self::draw(sc.irq_hold_dist, sc.irq_hold_cycles, &mut cpu.rng);
        }
        if let Some(k) = cpu.op.irq_lock {
            cpu.irq_lock = IRQ_LOCK_BASE + k as LockId;
            // spin_lock_irq(): interrupts go off before spinning.
            cpu.irqs_on = false;
            self.counters.irq_sections += 1;
            let l = self.cpus[c].irq_lock;
            self.request_lock(c, l, t);
            Next::Block {
                cat: C::IrqoffSpin,
                wait: Wait::Lock(l),
                phase: Phase::IrqLockGranted,
            }
        } else {
            go(C::Work, 0, Phase::KmapBegin)
        }
    }

    /// The interrupts-off lock is held: hold it for the drawn time.
    #[inline]
    pub(super) fn irq_lock_granted(&mut self, c: usize) -> Next {
        let cpu = &mut self.cpus[c];
        go(C::IrqoffHold, cpu.op.irq_hold, Phase::IrqHoldDone)
    }

    /// `spin_unlock_irq()`: interrupts back on, on to the kmap.
    #[inline]
    pub(super) fn irq_hold_done(&mut self, c: usize, t: u64) -> Next {
        let cpu = &mut self.cpus[c];
        let l = cpu.irq_lock;
        cpu.irqs_on = true;
        self.release_lock(l, c, t);
        go(C::Work, 0, Phase::KmapBegin)
    }

    /// The kunmap returned: count it, maybe switch context, back to work.
    pub(super) fn unmapped(&mut self, c: usize, t: u64) -> Result<Next, SimError> {
        self.counters.kunmaps += 1;
        self.cpus[c].kmapped = false;
        self.last_progress = t;
        let cpu = &mut self.cpus[c];
        if self.replay.is_none() {
            cpu.op.switch = cpu.rng.chance(self.sc.ctx_switch_prob);
        }
        cpu.op_open = false;
        let switch = cpu.op.switch;
        self.record_op(c)?;
        Ok(if switch {
            self.counters.context_switches += 1;
            let f = self.catch_up_at_switch(c, t);
            go(
                C::ContextSwitch,
                self.sc.ctx_switch_cycles + f,
                Phase::WorkBegin,
            )
        } else {
            go(C::Work, 0, Phase::WorkBegin)
        })
    }

    /// Unrelated memory traffic during the work just done pushes pkmap entries out of the TLB.
    pub(super) fn evict_unrelated(&mut self, c: usize, t: u64) {
        let cpu = &mut self.cpus[c];
        let acc = cpu.evict_carry as u128 + cpu.op.work as u128 * self.evict_per_cycle as u128;
        cpu.evict_carry = (acc & 0xFFFF_FFFF) as u64;
        let n = (acc >> 32).min(u64::MAX as u128) as u64;
        if n > 0 {
            let entries = cpu.tlb.evict_lru(n);
            self.counters.tlb_evictions += entries;
            if entries > 0 {
                trace!(self, t, c, E::TlbEvict { entries });
            }
        }
    }
}
