//! `kmap_high()` and `map_new_virtual()` (docs/model.md, section 4): `kmap_lock` is requested and
//! granted, the page's slot is shared or a new one is taken from the pool, the lock is released;
//! and `kmap_local_page()` under `local` (section 12.6).

use super::program::{Next, go};
use super::{Engine, Res};
use crate::calls::CallOp;
use crate::config::Strategy;
use crate::cpu::{Phase, Wait};
use crate::lock::KMAP_LOCK;
use crate::pkmap::ScanEnd;
use crate::stats::Category as C;
use crate::task::Handle;
use crate::trace::EventKind as E;
use crate::trace::trace;
use crate::workload::{Chance, PageSource, private_pages};

impl Engine {
    /// A `kmap` step: `kmap()` of a page into `handle`: `kmap_high()` takes `kmap_lock` (or,
    /// under `local`, `kmap_local_page()` maps the CPU's own slot).
    #[inline]
    pub(super) fn kmap_step(
        &mut self,
        c: usize,
        t: u64,
        handle: u8,
        source: PageSource,
        irqs_off: Chance,
    ) -> Res<Next> {
        let held = self.cpus[c].t.handles[handle as usize];
        if held.held() {
            let msg = format!(
                "task {} kmaps into handle {handle}, which still maps page {} (the mapping \
                 would leak)",
                self.cpus[c].t.id, held.page
            );
            return Err(self.bug(c, t, msg));
        }
        if self.replay.is_none() {
            let task = &mut self.cpus[c].t;
            task.op.irqs_off = irqs_off.get().is_some_and(|p| task.rng.chance(p));
            let page = self.page_of(c, source);
            self.cpus[c].t.op.page = page;
        }
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        cpu.t.handle = handle;
        cpu.scan_flushes = 0;
        cpu.t.slept = false;
        cpu.t.flushed = false;
        cpu.t.misuse = cpu.t.op.irqs_off || cpu.t.irqs_disabled;
        cpu.t.page = cpu.t.op.page;
        if cpu.t.misuse {
            self.counters.kmaps_irqs_off += 1;
        }
        if sc.strategy == Strategy::Local {
            // kmap_local_page(): the CPU's own slot, a PTE write and one invlpg.
            let h = handle as usize;
            cpu.t.slot = sc.last_pkmap as u32 + handle as u32;
            cpu.local.page[h] = cpu.t.page;
            cpu.local.mapped_at[h] = t;
            cpu.tlb.invalidate(cpu.t.slot);
            let (slot, page) = (cpu.t.slot, cpu.t.page);
            cpu.t.handles[h] = Handle { page, slot };
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
            Ok(go(
                C::KmapLocal,
                sc.kmap_local_cycles + sc.tlb_invlpg_cycles,
                Phase::LocalMapped,
            ))
        } else if self.checks_before_lock() && self.cpus[c].generation < self.flush_gen {
            // `lazy` checks its generation before taking kmap_lock and catches up there, so
            // that the catch-ups after a flush do not queue behind the lock (docs/model.md,
            // 12.4); the check under the lock stays, and is rarely behind.
            let f = self.catch_up(c, t);
            Ok(go(C::LocalFlush, f, Phase::CaughtUp))
        } else {
            Ok(self.kmap_lock_request(c, t))
        }
    }

    /// Whether the generation check runs before `spin_lock(&kmap_lock)`: `lazy`'s (12.4), and in
    /// the checker's tests a broken `guarded`.
    #[inline]
    fn checks_before_lock(&self) -> bool {
        #[cfg(test)]
        if self.guarded_checks_before_lock && self.sc.strategy == Strategy::Guarded {
            return true;
        }
        self.sc.strategy == Strategy::Lazy
    }

    /// The page a `kmap` step maps, drawn from its source by the task's stream.
    fn page_of(&mut self, c: usize, source: PageSource) -> u32 {
        let sc = &self.sc;
        let task = &mut self.cpus[c].t;
        // A task's own pages: the cold pages split evenly among the tasks.
        let own = || {
            (
                private_pages(sc),
                sc.hot_pages + task.id as u64 * private_pages(sc),
            )
        };
        (match source {
            PageSource::Mixed => {
                let hot = task.rng.chance(sc.shared_page_prob);
                if (hot && sc.hot_pages > 0) || sc.hot_pages == sc.pages {
                    task.rng.below(0, sc.hot_pages)
                } else {
                    task.rng.below(sc.hot_pages, sc.pages)
                }
            }
            PageSource::Hot => task.rng.below(0, sc.hot_pages),
            PageSource::Cold => task.rng.below(sc.hot_pages, sc.pages),
            PageSource::Private => {
                let (n, first) = own();
                first + task.rng.below(0, n)
            }
            PageSource::Sequential => {
                let (n, first) = own();
                let p = first + task.cursor % n;
                task.cursor += 1;
                p
            }
            PageSource::Page(p) => p as u64,
        }) as u32
    }

    /// `kmap_lock` granted for `kmap_high()`: the wait ends and the hold begins, after any
    /// generation catch-up.
    #[inline]
    pub(super) fn kmap_granted(&mut self, c: usize, t: u64) -> Next {
        // spin_lock() returns: the wait ends and the hold begins (docs/model.md, 9).
        self.lock_running(c, KMAP_LOCK, t);
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        let behind = sc.strategy.uses_generations() && cpu.generation < self.flush_gen;
        cpu.behind = behind && sc.strategy == Strategy::Lazy;
        if behind && sc.strategy == Strategy::Guarded && !self.checks_before_lock() {
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
    pub(super) fn kmap_mapped(&mut self, c: usize, t: u64) -> Res<Next> {
        let cpu = &mut self.cpus[c];
        Ok(if let Some((slot, n)) = self.pk.share(cpu.t.page) {
            // The page is mapped already: share the slot.
            if n < 2 {
                return Err(self.bug(c, t, format!("kmap_high: slot {slot} count < 2")));
            }
            self.hold_slot(c, t, slot, true);
            self.counters.map_hits += 1;
            let cost = self.sc.kmap_hit_cycles + self.line_contention() + self.invlpg_if_behind(c);
            go(C::KmapLocked, cost, Phase::MapSet)
        } else {
            // Right after `split`'s shootdown, the scan resumes as after a flush.
            cpu.scan_left = self.pk.loop_count(cpu.scan_flushes);
            go(C::KmapLocked, 0, Phase::ScanResume)
        })
    }

    /// `map_new_virtual()` takes a slot from the pool (scan or freelist), or must flush, or sleep.
    #[inline]
    pub(super) fn scan_resume(&mut self, c: usize, t: u64) -> Next {
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        let (end, advanced) = self.pk.allocate(
            cpu.t.page,
            &mut cpu.scan_left,
            cpu.scan_flushes,
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
                let cost = cost + self.sc.kmap_new_cycles + self.line_contention();
                let cost = cost + self.invlpg_if_behind(c);
                let g = self.pk.cleared_gen[slot as usize];
                let defer = self.sc.strategy == Strategy::Defer;
                if defer && g > self.min_gen && g > self.min_generation() {
                    self.cpus[c].defer_gen = g;
                    go(C::KmapLocked, cost, Phase::DeferReuse)
                } else {
                    go(C::KmapLocked, cost, Phase::MapSet)
                }
            }
            ScanEnd::Wrapped => go(C::KmapLocked, cost, Phase::FlushBegin),
            ScanEnd::Exhausted => go(C::KmapLocked, cost, Phase::SleepBegin),
            ScanEnd::OtherHalfFlushing => {
                // `split`: the other half's shootdown is still running: sleep until it ends.
                self.counters.split_waits += 1;
                go(C::KmapLocked, cost, Phase::SleepBegin)
            }
        }
    }

    /// `lazy`, behind the flush generation under the lock: invalidate the one slot it obtained
    /// (its cost); the full catch-up waits for the next check outside the lock (docs/model.md,
    /// 12.4).
    #[inline]
    fn invlpg_if_behind(&mut self, c: usize) -> u64 {
        let cpu = &mut self.cpus[c];
        if !cpu.behind {
            return 0;
        }
        cpu.behind = false;
        cpu.tlb.invalidate(cpu.t.slot);
        self.counters.invlpgs += 1;
        self.sc.tlb_invlpg_cycles
    }

    /// CPU `c` now holds `slot` for its page, a shared one or a new mapping.
    #[inline]
    fn hold_slot(&mut self, c: usize, t: u64, slot: u32, shared: bool) {
        let cpu = &mut self.cpus[c];
        cpu.t.slot = slot;
        let page = cpu.t.page;
        cpu.t.handles[cpu.t.handle as usize] = Handle { page, slot };
        trace!(self, t, c, E::Mapped { slot, page, shared });
    }

    /// The mapping is set: release `kmap_lock` (interrupts back on after a misused kmap).
    #[inline]
    pub(super) fn map_set(&mut self, c: usize, t: u64) -> Res<Next> {
        let cpu = &mut self.cpus[c];
        if cpu.t.misuse {
            cpu.irqs_on = !cpu.t.irqs_disabled;
        }
        self.release_lock(KMAP_LOCK, c, t);
        self.mapped(c, t)
    }

    /// The kmap returned: count it, on to the next step (interrupts enabled after a misused
    /// kmap are taken here).
    pub(super) fn mapped(&mut self, c: usize, t: u64) -> Res<Next> {
        self.record_call(c, t, CallOp::Kmap)?;
        self.counters.kmaps += 1;
        self.last_progress = t;
        Ok(self.step_done(c, C::Copy))
    }

    /// `spin_lock(&kmap_lock)` at the top of `kmap_high()` (again after a sleep).
    pub(super) fn kmap_lock_request(&mut self, c: usize, t: u64) -> Next {
        if self.cpus[c].t.misuse {
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
