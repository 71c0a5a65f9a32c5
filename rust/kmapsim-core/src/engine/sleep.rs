//! `pkmap_map_wait` (docs/model.md, section 4): a kmap that finds no slot even after a flush
//! sleeps (its CPU runs another task or idles), and `kunmap_high()`'s `wake_up()` makes every
//! sleeper runnable to retry (`sched.rs`).

use super::Engine;
use super::program::Next;
use crate::cpu::{Phase, Wait};
use crate::lock::KMAP_LOCK;
use crate::stats::Category as C;
use crate::task::TaskState;
use crate::trace::EventKind as E;
use crate::trace::trace;

impl Engine {
    /// No slot free even after a flush: sleep on `pkmap_map_wait` (the lock is released).
    // Rare (a flush or a sleep per hundreds of kmaps): kept out of the hot loop.
    #[inline(never)]
    pub(super) fn sleep_begin(&mut self, c: usize, t: u64) -> Next {
        let cpu = &mut self.cpus[c];
        // Interrupts are on while the CPU idles, even after a (misused) interrupts-off kmap.
        cpu.irqs_on = true;
        self.counters.sleeps += 1;
        trace!(self, t, c, E::Sleep);
        let id = self.cpus[c].task;
        self.cpus[c].t.slept = true;
        // 2.4's `goto start` after the sleep: the retry advances the cursor first.
        self.cpus[c].scan_flushes = 0;
        self.pk.waitq.push(id);
        self.release_lock(KMAP_LOCK, c, t);
        self.cpus[c].t.resume = Phase::KmapRetry;
        self.sched[id as usize].enter(TaskState::PoolSleep, t);
        self.schedule(c, t, C::Sleep, Wait::Sleep)
    }

    /// `wake_up(&pkmap_map_wait)`, outside the lock: every sleeper is woken.
    pub(super) fn wake_sleepers(&mut self, t: u64) {
        for i in 0..self.pk.waitq.len() {
            let id = self.pk.waitq[i];
            self.counters.wakeups += 1;
            self.make_runnable(id, t, 1);
        }
        self.pk.waitq.clear();
    }
}
