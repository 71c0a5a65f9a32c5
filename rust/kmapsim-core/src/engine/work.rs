//! The `work` and `irq_section` steps (docs/model.md, sections 3 and 16): a stretch of work and
//! the unrelated memory traffic it causes; an interrupts-off section on one of the workload's
//! locks.

use super::program::{Next, go};
use super::{Engine, Res};
use crate::config::Dist;
use crate::cpu::{Phase, Wait};
use crate::lock::{IRQ_LOCK_BASE, LockId};
use crate::stats::Category as C;
use crate::trace::EventKind as E;
use crate::trace::trace;

impl Engine {
    /// The work is done: unrelated traffic evicts TLB entries, and the next step runs.
    #[inline]
    pub(super) fn work_done(&mut self, c: usize, t: u64) -> Res<Next> {
        self.evict_unrelated(c, t);
        Ok(self.step_done(c, C::Work))
    }

    /// An `irq_section` step: `spin_lock_irq()` on one of the workload's locks (drawn unless the
    /// step names it, or replayed), held for a drawn time.
    #[inline]
    pub(super) fn irq_section(
        &mut self,
        c: usize,
        t: u64,
        lock: Option<u32>,
        dist: Dist,
        cycles: u64,
    ) -> Next {
        let replaying = self.replay.is_some();
        let sc = &self.sc;
        let task = &mut self.cpus[c].t;
        if !replaying {
            let k = match lock {
                Some(k) => k,
                None => task.rng.below(0, sc.irq_locks) as u32,
            };
            task.op.irq_lock = Some(k);
            task.op.irq_hold = Self::draw(dist, cycles, &mut task.rng);
        }
        let k = task.op.irq_lock.expect("a taken irq_section has a lock");
        let l = IRQ_LOCK_BASE + k as LockId;
        let cpu = &mut self.cpus[c];
        cpu.irq_lock = l;
        // spin_lock_irq(): interrupts go off before spinning.
        cpu.irqs_on = false;
        self.counters.irq_sections += 1;
        self.request_lock(c, l, t);
        Next::Block {
            cat: C::IrqoffSpin,
            wait: Wait::Lock(l),
            phase: Phase::IrqLockGranted,
        }
    }

    /// The interrupts-off lock is held: hold it for the drawn time.
    #[inline]
    pub(super) fn irq_lock_granted(&mut self, c: usize, t: u64) -> Next {
        let l = self.cpus[c].irq_lock;
        self.lock_running(c, l, t);
        let cpu = &mut self.cpus[c];
        go(C::IrqoffHold, cpu.t.op.irq_hold, Phase::IrqHoldDone)
    }

    /// `spin_unlock_irq()`: interrupts back on, on to the next step.
    #[inline]
    pub(super) fn irq_hold_done(&mut self, c: usize, t: u64) -> Next {
        let cpu = &mut self.cpus[c];
        let l = cpu.irq_lock;
        cpu.irqs_on = !cpu.t.irqs_disabled;
        self.release_lock(l, c, t);
        self.step_done(c, C::Work)
    }

    /// Unrelated memory traffic during the work just done pushes pkmap entries out of the TLB.
    pub(super) fn evict_unrelated(&mut self, c: usize, t: u64) {
        let cpu = &mut self.cpus[c];
        let acc = cpu.evict_carry as u128 + cpu.t.op.work as u128 * self.evict_per_cycle as u128;
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
