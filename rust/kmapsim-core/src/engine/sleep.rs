//! `pkmap_map_wait` (docs/model.md, section 4): a kmap that finds no slot even after a flush
//! sleeps, and `kunmap_high()`'s `wake_up()` wakes every sleeper to retry.

use super::Engine;
use super::program::{Next, go};
use crate::cpu::{Phase, Wait};
use crate::lock::KMAP_LOCK;
use crate::stats::Category as C;
use crate::trace::EventKind as E;
use crate::trace::trace;

impl Engine {
    /// No slot free even after a flush: sleep on `pkmap_map_wait` (the lock is released).
    #[inline]
    pub(super) fn sleep_begin(&mut self, c: usize, t: u64) -> Next {
        let cpu = &mut self.cpus[c];
        // Interrupts are on while the CPU idles, even after a (misused) interrupts-off kmap.
        cpu.irqs_on = true;
        self.counters.sleeps += 1;
        trace!(self, t, c, E::Sleep);
        self.pk.waitq.push(c as u32);
        self.release_lock(KMAP_LOCK, c, t);
        Next::Block {
            cat: C::Sleep,
            wait: Wait::Sleep,
            phase: Phase::Woken,
        }
    }

    /// `wake_up(&pkmap_map_wait)`, outside the lock: every sleeper is woken.
    pub(super) fn wake_sleepers(&mut self, t: u64) {
        for i in 0..self.pk.waitq.len() {
            let s = self.pk.waitq[i] as usize;
            self.counters.wakeups += 1;
            self.wake(s, t, 1);
        }
        self.pk.waitq.clear();
    }

    /// Woken from `pkmap_map_wait`: `schedule()` back in, then retry the kmap.
    #[inline]
    pub(super) fn woken(&mut self, c: usize, t: u64) -> Next {
        // schedule() back in: a context switch, with the generation check.
        trace!(self, t, c, E::Wake);
        let f = self.catch_up_at_switch(c, t);
        go(
            C::ContextSwitch,
            self.sc.ctx_switch_cycles + f,
            Phase::KmapRetry,
        )
    }
}
