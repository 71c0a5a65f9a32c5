//! An `access` through a mapping (docs/model.md, section 7): its TLB lookups (`copy_lookups` over
//! `copy_cycles` in `dbench`), each a hit or a page walk, and the safety check that a lookup reaches the page
//! the CPU mapped.

use super::program::{Next, go};
use super::{Engine, Res};
use crate::cpu::Phase;
use crate::pkmap::NONE;
use crate::stats::{Category as C, StaleAccess};
use crate::trace::EventKind as E;
use crate::trace::trace;

impl Engine {
    /// One TLB lookup of the copy, with the safety check; a miss costs a page walk.
    #[inline]
    pub(super) fn copy_lookup(&mut self, c: usize, t: u64) -> Res<Next> {
        let extra = self.tlb_lookup(c, t)?;
        if extra == 0 {
            return Ok(go(C::Copy, 0, Phase::CopyRun));
        }
        if let Some(rest) = self.fold_after_miss(c, t, extra) {
            return Ok(go(C::TlbMiss, rest, Phase::CopyStepDone));
        }
        Ok(go(C::TlbMiss, extra, Phase::CopyRun))
    }

    /// The stretch of copy up to the next lookup.
    #[inline]
    pub(super) fn copy_run(&mut self, c: usize, t: u64) -> Next {
        if let Some(rest) = self.fold(c, t) {
            return go(C::Copy, rest, Phase::CopyStepDone);
        }
        let cpu = &mut self.cpus[c];
        // Lookup i happens at offset floor(i * L / N) into the access (L cycles, N lookups).
        // With L = qN + r that is iq + floor(ir / N), so segment i lasts q cycles plus
        // floor((i+1)r / N) - floor(ir / N): no division at all when N divides L.
        let (i, n) = (cpu.lookup as u64, cpu.lookups);
        let (q, r) = (cpu.access_q, cpu.access_r);
        let seg = if r == 0 {
            q
        } else {
            q + (i + 1) * r / n - i * r / n
        };
        go(C::Copy, seg, Phase::CopyStepDone)
    }

    /// A stretch of copy done: the next lookup, or the next step (interrupts back on after an
    /// interrupts-off access).
    #[inline]
    pub(super) fn copy_step_done(&mut self, c: usize, t: u64) -> Next {
        if self.cpus[c].fold_base != crate::cpu::NEVER {
            // The end of a folded access: its last lookup was the one before this cycle.
            self.unfold(c, t);
        }
        let cpu = &mut self.cpus[c];
        cpu.lookup += 1;
        if cpu.lookup as u64 == cpu.lookups {
            if cpu.access_irqs_off {
                cpu.irqs_on = !cpu.t.irqs_disabled;
            }
            self.step_done(c, C::Copy)
        } else {
            go(C::Copy, 0, Phase::CopyLookup)
        }
    }

    /// One TLB lookup of the CPU's mapped address, with the safety check. Returns the page-walk
    /// cycles of a miss.
    #[inline(always)]
    pub(super) fn tlb_lookup(&mut self, c: usize, t: u64) -> Res<u64> {
        let cpu = &mut self.cpus[c];
        let (slot, page) = (cpu.t.slot, cpu.t.page);
        // The kmap_local slot is numbered just past the pkmap pool, in each CPU's own space.
        let local = slot as u64 >= self.sc.last_pkmap;
        let (actual, loaded_at, extra) = match cpu.tlb.lookup(slot) {
            Some(e) => {
                self.counters.tlb_hits += 1;
                (e.page, e.loaded_at, 0)
            }
            None => {
                self.counters.tlb_misses += 1;
                let p = if local {
                    cpu.local.page[(slot as u64 - self.sc.last_pkmap) as usize]
                } else {
                    self.pk.pte[slot as usize]
                };
                if p == NONE {
                    return Err(self.bug(c, t, format!("page fault on pkmap slot {slot}")));
                }
                let cpu = &mut self.cpus[c];
                cpu.tlb.insert(slot, p, t);
                cpu.may_hold |= !local;
                trace!(self, t, c, E::TlbFill { slot, page: p });
                (p, t, self.sc.tlb_miss_cycles)
            }
        };
        if actual != page {
            self.stale_access(c, t, actual, loaded_at);
        }
        Ok(extra)
    }

    /// The safety check failed: CPU `c`'s lookup of its slot at cycle `t` reached page `actual`
    /// (through an entry loaded at `loaded_at`), not the page it mapped. Count it, trace it, and
    /// keep its record while there is room.
    fn stale_access(&mut self, c: usize, t: u64, actual: u32, loaded_at: u64) {
        let (slot, page) = (self.cpus[c].t.slot, self.cpus[c].t.page);
        let local = slot as u64 >= self.sc.last_pkmap;
        self.counters.stale_accesses += 1;
        trace!(
            self,
            t,
            c,
            E::StaleRead {
                slot,
                expected: page,
                actual
            }
        );
        if self.violations.len() < self.sc.max_violation_records as usize {
            let (at, by) = if local {
                let h = (slot as u64 - self.sc.last_pkmap) as usize;
                (self.cpus[c].local.mapped_at[h], c as u32)
            } else {
                (
                    self.pk.pte_changed_at[slot as usize],
                    self.pk.pte_changed_by[slot as usize],
                )
            };
            self.violations.push(StaleAccess {
                cycle: t,
                cpu: c as u32,
                slot,
                expected_page: page,
                actual_page: actual,
                entry_loaded_at: loaded_at,
                slot_remapped_at: at,
                remapped_by: (by != NONE).then_some(by),
            });
        }
    }
}
