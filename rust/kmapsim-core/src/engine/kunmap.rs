//! `kunmap_high()` (docs/model.md, section 4): under `kmap_lock` the slot's count drops, and a
//! slot that becomes unused wakes the sleepers; and `kunmap_local()` under `local` (section 12.6).

use super::Engine;
use super::program::{Next, go};
use crate::config::Strategy;
use crate::cpu::{Phase, Wait};
use crate::error::SimError;
use crate::lock::KMAP_LOCK;
use crate::stats::Category as C;
use crate::trace::EventKind as E;
use crate::trace::trace;

impl Engine {
    /// `kunmap()`: `kunmap_high()` takes `kmap_lock` (or `kunmap_local()`).
    #[inline]
    pub(super) fn kunmap_begin(&mut self, c: usize, t: u64) -> Next {
        let sc = &self.sc;
        if sc.strategy == Strategy::Local {
            // kunmap_local(): the slot is released (the model keeps its PTE, which only
            // this CPU can reach); the next map's invlpg drops the stale entry.
            go(C::KmapLocal, sc.kmap_local_cycles, Phase::LocalUnmapped)
        } else {
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
    pub(super) fn kunmap_granted(&mut self, c: usize, t: u64) -> Result<Next, SimError> {
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        self.hist.kmap_lock_wait.record(cpu.kmap_wait(t));
        cpu.hold_start = t;
        let page = cpu.page;
        let Some((slot, count)) = self.pk.release(page) else {
            return Err(self.bug(c, t, format!("kunmap_high: page {page} not mapped")));
        };
        self.cpus[c].holds = false;
        trace!(self, t, c, E::Unmapped { slot, page, count });
        let cpu = &mut self.cpus[c];
        match count {
            0 => return Err(self.bug(c, t, format!("kunmap_high: slot {slot} count 0"))),
            1 => cpu.need_wakeup = !self.pk.waitq.is_empty(),
            _ => cpu.need_wakeup = false,
        }
        Ok(go(C::KmapLocked, sc.kunmap_cycles, Phase::KunmapDone))
    }

    /// Release `kmap_lock`, then `wake_up()` the sleepers if the slot became unused.
    #[inline]
    pub(super) fn kunmap_done(&mut self, c: usize, t: u64) -> Result<Next, SimError> {
        let cpu = &mut self.cpus[c];
        let wake = cpu.need_wakeup;
        self.release_lock(KMAP_LOCK, c, t);
        if wake {
            self.wake_sleepers(t);
        }
        self.unmapped(c, t)
    }

    /// `kunmap_local()` done.
    #[inline]
    pub(super) fn local_unmapped(&mut self, c: usize, t: u64) -> Result<Next, SimError> {
        let cpu = &mut self.cpus[c];
        cpu.holds = false;
        let (slot, page) = (cpu.slot, cpu.page);
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
}
