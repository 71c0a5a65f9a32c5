//! `kmap_high()` and `map_new_virtual()` (docs/model.md, section 4): `kmap_lock` is requested and
//! granted, the page's slot is shared or a new one is taken from the pool, the lock is released;
//! and `kmap_local_page()` under `local` (section 12.6).

use super::Engine;
use super::program::{Next, go};
use crate::config::Strategy;
use crate::cpu::{Phase, Wait};
use crate::error::SimError;
use crate::lock::KMAP_LOCK;
use crate::pkmap::ScanEnd;
use crate::stats::Category as C;
use crate::trace::EventKind as E;
use crate::trace::trace;

impl Engine {
    /// `kmap()` of the iteration's page: `kmap_high()` takes `kmap_lock` (or, under `local`,
    /// `kmap_local_page()` maps the CPU's own slot).
    #[inline]
    pub(super) fn kmap_begin(&mut self, c: usize, t: u64) -> Next {
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        if self.replay.is_none() {
            cpu.op.irqs_off = cpu.rng.chance(sc.kmap_irqs_off_prob);
            let hot = cpu.rng.chance(sc.shared_page_prob);
            cpu.op.page = if (hot && sc.hot_pages > 0) || sc.hot_pages == sc.pages {
                cpu.rng.below(0, sc.hot_pages) as u32
            } else {
                cpu.rng.below(sc.hot_pages, sc.pages) as u32
            };
        }
        cpu.misuse = cpu.op.irqs_off;
        cpu.page = cpu.op.page;
        if cpu.misuse {
            self.counters.kmaps_irqs_off += 1;
        }
        if sc.strategy == Strategy::Local {
            // kmap_local_page(): the CPU's own slot, a PTE write and one invlpg.
            cpu.slot = sc.last_pkmap as u32;
            cpu.local_page = cpu.page;
            cpu.local_mapped_at = t;
            cpu.tlb.invalidate(cpu.slot);
            cpu.holds = true;
            let (slot, page) = (cpu.slot, cpu.page);
            trace!(
                self,
                t,
                c,
                E::Mapped {
                    slot,
                    page,
                    shared: false
                }
            );
            self.counters.invlpgs += 1;
            self.counters.new_mappings += 1;
            go(
                C::KmapLocal,
                sc.kmap_local_cycles + sc.tlb_invlpg_cycles,
                Phase::LocalMapped,
            )
        } else {
            self.kmap_lock_request(c, t)
        }
    }

    /// `kmap_lock` granted for `kmap_high()`: the wait ends and the hold begins, after any
    /// generation catch-up.
    #[inline]
    pub(super) fn kmap_granted(&mut self, c: usize, t: u64) -> Next {
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        // spin_lock() returns: the wait ends and the hold begins (docs/model.md, 9).
        self.hist.kmap_lock_wait.record(cpu.kmap_wait(t));
        cpu.hold_start = t;
        cpu.scan_check_current = false;
        if sc.strategy.uses_generations() && cpu.generation < self.flush_gen {
            // A flush happened since this CPU's TLB was last clean: catch up first.
            let f = self.catch_up(c, t);
            go(C::LocalFlush, f, Phase::KmapMapped)
        } else {
            go(C::KmapLocked, 0, Phase::KmapMapped)
        }
    }

    /// `kmap_high()` under the lock: share the page's slot if it is mapped, else
    /// `map_new_virtual()`.
    #[inline]
    pub(super) fn kmap_mapped(&mut self, c: usize, t: u64) -> Result<Next, SimError> {
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        Ok(if let Some((slot, n)) = self.pk.share(cpu.page) {
            // The page is mapped already: share the slot.
            if n < 2 {
                return Err(self.bug(c, t, format!("kmap_high: slot {slot} count < 2")));
            }
            self.hold_slot(c, t, slot, true);
            self.counters.map_hits += 1;
            go(C::KmapLocked, self.sc.kmap_hit_cycles, Phase::MapSet)
        } else {
            cpu.scan_left = sc.last_pkmap as u32;
            go(C::KmapLocked, 0, Phase::ScanResume)
        })
    }

    /// `map_new_virtual()` takes a slot from the pool (scan or freelist), or must flush, or sleep.
    #[inline]
    pub(super) fn scan_resume(&mut self, c: usize, t: u64) -> Next {
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        let (end, advanced) = self.pk.allocate(
            cpu.page,
            &mut cpu.scan_left,
            cpu.scan_check_current,
            t,
            c as u32,
        );
        self.counters.slots_examined += advanced;
        let cost = advanced * sc.scan_slot_cycles;
        match end {
            ScanEnd::Mapped { slot } => {
                let free = self.pk.free_count;
                trace!(self, t, c, E::FreeSlots { free });
                self.hold_slot(c, t, slot, false);
                self.counters.new_mappings += 1;
                go(C::KmapLocked, cost + self.sc.kmap_new_cycles, Phase::MapSet)
            }
            ScanEnd::Wrapped => go(C::KmapLocked, cost, Phase::FlushBegin),
            ScanEnd::Exhausted => go(C::KmapLocked, cost, Phase::SleepBegin),
        }
    }

    /// CPU `c` now holds `slot` for its page, a shared one or a new mapping.
    #[inline]
    fn hold_slot(&mut self, c: usize, t: u64, slot: u32, shared: bool) {
        let cpu = &mut self.cpus[c];
        cpu.slot = slot;
        cpu.holds = true;
        let page = cpu.page;
        trace!(self, t, c, E::Mapped { slot, page, shared });
    }

    /// The mapping is set: release `kmap_lock` (interrupts back on after a misused kmap).
    #[inline]
    pub(super) fn map_set(&mut self, c: usize, t: u64) -> Next {
        let cpu = &mut self.cpus[c];
        if cpu.misuse {
            cpu.irqs_on = true;
        }
        self.release_lock(KMAP_LOCK, c, t);
        self.mapped(c, t)
    }

    /// The kmap returned: count it, start the copy.
    pub(super) fn mapped(&mut self, c: usize, t: u64) -> Next {
        self.cpus[c].lookup = 0;
        self.cpus[c].kmapped = true;
        self.counters.kmaps += 1;
        self.last_progress = t;
        go(C::Copy, 0, Phase::CopyLookup)
    }

    /// `spin_lock(&kmap_lock)` at the top of `kmap_high()` (again after a sleep).
    pub(super) fn kmap_lock_request(&mut self, c: usize, t: u64) -> Next {
        if self.cpus[c].misuse {
            self.cpus[c].irqs_on = false;
        }
        self.request_lock(c, KMAP_LOCK, t);
        Next::Block {
            cat: C::KmapSpin,
            wait: Wait::Lock(KMAP_LOCK),
            phase: Phase::KmapGranted,
        }
    }
}
