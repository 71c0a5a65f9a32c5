//! `kunmap_high()` (docs/model.md, section 4): under `kmap_lock` the slot's count drops, and a
//! slot that becomes unused wakes the sleepers; and `kunmap_local()` under `local` (section 12.6).

use super::program::{Next, go};
use super::{Engine, Res};
use crate::calls::CallOp;
use crate::config::Strategy;
use crate::cpu::{Phase, Wait};
use crate::lock::KMAP_LOCK;
use crate::stats::Category as C;
use crate::task::Handle;
use crate::trace::EventKind as E;
use crate::trace::trace;
use crate::workload::Chance;

impl Engine {
    /// A `kunmap` step: `kunmap()` of `handle`'s page: `kunmap_high()` takes `kmap_lock` (or
    /// `kunmap_local()`). A handle that maps nothing is a kernel BUG (2.4 BUGs on a count
    /// that would drop below 1; here the task does not hold the page at all).
    #[inline]
    pub(super) fn kunmap_step(
        &mut self,
        c: usize,
        t: u64,
        handle: u8,
        irqs_off: Chance,
    ) -> Res<Next> {
        self.use_handle(c, t, handle, "kunmap: the task kunmaps")?;
        let cpu = &mut self.cpus[c];
        cpu.t.misuse = irqs_off.get().is_some_and(|p| cpu.t.rng.chance(p)) || cpu.t.irqs_disabled;
        if cpu.t.misuse {
            self.counters.kunmaps_irqs_off += 1;
        }
        Ok(self.kunmap_begin(c, t))
    }

    /// `kunmap_high()` takes `kmap_lock` (with interrupts off if misused: ARM's
    /// `lock_kmap_any()`), or `kunmap_local()`.
    #[inline]
    fn kunmap_begin(&mut self, c: usize, t: u64) -> Next {
        let sc = &self.sc;
        if sc.strategy == Strategy::Local {
            // kunmap_local(): the slot is released (the model keeps its PTE, which only
            // this CPU can reach); the next map's invlpg drops the stale entry.
            go(C::KmapLocal, sc.kmap_local_cycles, Phase::LocalUnmapped)
        } else {
            if self.cpus[c].t.misuse {
                self.cpus[c].irqs_on = false;
            }
            self.request_lock(c, KMAP_LOCK, t);
            let wait = Wait::Lock(KMAP_LOCK);
            Next::Block {
                cat: C::KmapSpin,
                wait,
                phase: Phase::KunmapGranted,
            }
        }
    }

    /// `kunmap_high()` under the lock: drop the slot's count.
    #[inline]
    pub(super) fn kunmap_granted(&mut self, c: usize, t: u64) -> Res<Next> {
        self.lock_running(c, KMAP_LOCK, t);
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        let page = cpu.t.page;
        let Some((slot, count)) = self.pk.release(page) else {
            return Err(self.bug(c, t, format!("kunmap_high: page {page} not mapped")));
        };
        let cpu = &mut self.cpus[c];
        cpu.t.handles[cpu.t.handle as usize] = Handle::EMPTY;
        trace!(self, t, c, E::Unmapped { slot, page, count });
        let cpu = &mut self.cpus[c];
        match count {
            0 => return Err(self.bug(c, t, format!("kunmap_high: slot {slot} count 0"))),
            1 => cpu.need_wakeup = !self.pk.waitq.is_empty(),
            _ => cpu.need_wakeup = false,
        }
        let cost = sc.kunmap_cycles + self.line_contention();
        Ok(go(C::KmapLocked, cost, Phase::KunmapDone))
    }

    /// Release `kmap_lock`, then `wake_up()` the sleepers if the slot became unused.
    #[inline]
    pub(super) fn kunmap_done(&mut self, c: usize, t: u64) -> Res<Next> {
        let cpu = &mut self.cpus[c];
        let wake = cpu.need_wakeup;
        self.release_lock(KMAP_LOCK, c, t);
        if self.cpus[c].t.misuse {
            self.cpus[c].irqs_on = !self.cpus[c].t.irqs_disabled;
        }
        if wake {
            self.wake_sleepers(t);
        }
        self.unmapped(c, t)
    }

    /// `kunmap_local()` done.
    #[inline]
    pub(super) fn local_unmapped(&mut self, c: usize, t: u64) -> Res<Next> {
        let cpu = &mut self.cpus[c];
        cpu.t.handles[cpu.t.handle as usize] = Handle::EMPTY;
        let (slot, page) = (cpu.t.slot, cpu.t.page);
        trace!(
            self,
            t,
            c,
            E::Unmapped {
                slot,
                page,
                count: 0
            }
        );
        self.unmapped(c, t)
    }

    /// The kunmap returned: count it, on to the next step after a zero-length stretch (where
    /// interrupts just enabled by a misused kunmap are taken).
    fn unmapped(&mut self, c: usize, t: u64) -> Res<Next> {
        self.record_call(c, t, CallOp::Kunmap)?;
        self.counters.kunmaps += 1;
        self.last_progress = t;
        let cat = self.cpus[c].cat;
        Ok(self.step_done(c, cat))
    }
}
