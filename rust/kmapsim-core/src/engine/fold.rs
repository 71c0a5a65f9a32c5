//! Folding the rest of an access into one stretch (`skip` mode only; docs/performance.md).
//!
//! An access makes `lookups` TLB lookups of one slot over its cycles (`copy.rs`), each an event
//! of its own. Once a lookup has found the page the CPU mapped, every later lookup of the same
//! access hits the same entry, unless this CPU's TLB changes in between: by its IPI handler's
//! flush, or by another CPU's hardware invalidation (`broadcast`). No other CPU can observe a
//! hit either: it changes this CPU's TLB use clock and the hit counter, nothing shared. So the rest of the access runs as one stretch, and the hits it passes over
//! are counted when something looks:
//! - an IPI handler entering mid-access (`unfold`): the hits before it happen, and the access
//!   goes on lookup by lookup after it, as unfolded;
//! - another CPU invalidating this one's TLB (`unfold_before_remote`), likewise;
//! - the end of the access (`copy_step_done`);
//! - a report or a snapshot (`folded_events`, `unfolded_until`), which count the hits before
//!   the current cycle without changing the machine;
//! - an error that stops the simulation in the middle of a cycle (`settle_before`).
//!
//! A lookup that missed and found the mapped page by its page walk (the first of an access,
//! nearly always) is folded with the walk: the CPU is in `tlb_miss` until the walk ends and in
//! `copy` after, and that change of category is made when something looks too. It is not
//! folded when the trace is on, since the trace records the change at its cycle.
//!
//! `step` mode never folds, so every equality test of the two modes tests the folding.

use super::{Engine, Mode};
use crate::cpu::{Cpu, NEVER, Phase};
use crate::stats::Category as C;

/// Cycles from the start of an access to its lookup `j` (`j = lookups`: its end), the
/// schedule of `copy_run`: floor(j * cycles / lookups).
#[inline]
fn offset(cpu: &Cpu, j: u64) -> u64 {
    match cpu.access_r {
        0 => j * cpu.access_q,
        r => j * cpu.access_q + j * r / cpu.lookups,
    }
}

/// The first lookup of `cpu`'s folded access at or after cycle `t` (`lookups`: its end, when
/// every lookup is before `t`), and its cycle.
fn next_lookup(cpu: &Cpu, t: u64) -> (u64, u64) {
    let end = cpu.fold_base + offset(cpu, cpu.lookups);
    if t >= end {
        // The access's end (`copy_step_done`): every lookup is behind.
        return (cpu.lookups, end);
    }
    let mut j = cpu.lookup as u64 + 1;
    while j < cpu.lookups && cpu.fold_base + offset(cpu, j) < t {
        j += 1;
    }
    (j, cpu.fold_base + offset(cpu, j))
}

impl Engine {
    /// CPU `c` made lookup `cpu.lookup` of its access at cycle `t`, and the stretch of copy
    /// after it starts: the length of the rest of the access as one stretch, when more lookups
    /// are to come and it may run so (`foldable`).
    #[inline]
    pub(super) fn fold(&mut self, c: usize, t: u64) -> Option<u64> {
        let cpu = &self.cpus[c];
        if cpu.lookup as u64 + 1 >= cpu.lookups {
            return None;
        }
        let rest = self.foldable(c, 0)?;
        let base = t - offset(&self.cpus[c], self.cpus[c].lookup as u64);
        self.cpus[c].fold_base = base;
        Some(rest)
    }

    /// CPU `c`'s lookup `cpu.lookup` at cycle `t` missed and its page walk, `walk` cycles,
    /// found the mapped page: the length of the walk and the rest of the access as one stretch,
    /// when they may run so (as for `fold`, and with the trace off).
    #[inline]
    pub(super) fn fold_after_miss(&mut self, c: usize, t: u64, walk: u64) -> Option<u64> {
        if self.trace.is_some() {
            return None;
        }
        let rest = self.foldable(c, walk)?;
        let cpu = &mut self.cpus[c];
        cpu.fold_base = t + walk - offset(cpu, cpu.lookup as u64);
        cpu.fold_miss_end = t + walk;
        Some(walk + rest)
    }

    /// The rest of CPU `c`'s access after its current lookup, if it and a walk of `walk`
    /// cycles before it may run as one stretch: in `skip` mode, the CPU's entry for the slot
    /// holding the page it mapped (a stale entry's hits are violations, each recorded at its
    /// own cycle), no IPI pending (its handler comes next), and the stretch shorter than
    /// `watchdog_cycles` (a stretch that long is registered with the watchdog, its parts are
    /// not).
    #[inline]
    fn foldable(&self, c: usize, walk: u64) -> Option<u64> {
        let cpu = &self.cpus[c];
        if self.mode != Mode::Skip || !cpu.pending.is_empty() {
            return None;
        }
        let rest = offset(cpu, cpu.lookups) - offset(cpu, cpu.lookup as u64);
        if walk + rest >= self.sc.watchdog_cycles {
            return None;
        }
        match cpu.tlb.peek(cpu.t.slot) {
            Some(e) if e.page == cpu.t.page => Some(rest),
            _ => None,
        }
    }

    /// CPU `c`'s folded access at cycle `t`: its lookups before `t` happen (hits), and it is
    /// unfolded, on the segment that ends at the next lookup. Returns that lookup's cycle (the
    /// access's end when none is left), which is when the segment's `CopyStepDone` falls; or,
    /// when `t` is not past the page walk the access began with, the walk's end, when its
    /// `CopyRun` falls.
    pub(super) fn unfold(&mut self, c: usize, t: u64) -> u64 {
        let cpu = &mut self.cpus[c];
        debug_assert!(
            cpu.fold_base != NEVER,
            "unfold() of an access that is not folded"
        );
        let walk_end = std::mem::replace(&mut cpu.fold_miss_end, NEVER);
        if walk_end != NEVER {
            if t <= walk_end {
                // Still in the page walk: unfolded, the copy's first stretch starts at its end.
                cpu.fold_base = NEVER;
                cpu.phase = Phase::CopyRun;
                return walk_end;
            }
            // The walk ended before `t`, an event: the CPU has been copying since (`set_cat`'s
            // sums).
            cpu.cycles[cpu.cat as usize] += walk_end - cpu.since;
            cpu.since = walk_end;
            cpu.cat = C::Copy;
            self.events += 1;
        }
        let cpu = &mut self.cpus[c];
        let (j, at) = next_lookup(cpu, t);
        let hits = j - 1 - cpu.lookup as u64;
        cpu.lookup = (j - 1) as u32;
        cpu.fold_base = NEVER;
        let slot = cpu.t.slot;
        cpu.tlb.touch(slot, hits);
        self.counters.tlb_hits += hits;
        // Each hit is the end of a stretch of copy: an event, as unfolded.
        self.events += hits;
        at
    }

    /// CPU `c`, acting at cycle `t`, is about to change CPU `d`'s TLB (`broadcast`'s hardware
    /// invalidation). A folded access of `d` is unfolded first, as the two interleave unfolded:
    /// within a cycle CPUs act in CPU order, so `d`'s lookup at `t` comes before the change if
    /// `d < c`, after it if `d > c`.
    pub(super) fn unfold_before_remote(&mut self, d: usize, t: u64, c: usize) {
        if self.cpus[d].fold_base == NEVER {
            return;
        }
        let at = self.unfold(d, t + (d < c) as u64);
        self.set_until(d, at);
    }

    /// CPU `c`'s action at cycle `t` failed, and the simulation stops with cycle `t` half
    /// done: the CPUs before `c` have acted in it, those after have not. A folded access of a
    /// CPU before `c` is unfolded past `t` (its lookup or walk's end at `t` happened, as
    /// unfolded), so that the final report and snapshot are `step` mode's; one after `c` is
    /// left as it is (reports count what falls before `t`).
    pub(super) fn settle_before(&mut self, c: usize, t: u64) {
        for d in 0..c {
            if self.cpus[d].fold_base != NEVER {
                let at = self.unfold(d, t + 1);
                self.set_until(d, at);
            }
        }
    }

    /// Hits of folded accesses before the current cycle that are not counted yet (each one TLB
    /// hit and one event).
    pub(super) fn folded_hits(&self) -> u64 {
        self.cpus
            .iter()
            .filter(|cpu| cpu.fold_base != NEVER)
            .map(|cpu| next_lookup(cpu, self.now).0 - 1 - cpu.lookup as u64)
            .sum()
    }

    /// Events of folded accesses before the current cycle that are not counted yet: each hit,
    /// and the end of each page walk a folded access began with (the copy's first stretch).
    pub(super) fn folded_events(&self) -> u64 {
        let walks = self
            .cpus
            .iter()
            .filter(|cpu| cpu.fold_miss_end != NEVER && self.now > cpu.fold_miss_end)
            .count() as u64;
        self.folded_hits() + walks
    }

    /// Whether CPU `c` is in the page walk a folded access began with, as of the current cycle.
    fn in_walk(&self, c: usize) -> bool {
        let end = self.cpus[c].fold_miss_end;
        end != NEVER && self.now <= end
    }

    /// CPU `c`'s next action as unfolded: the end of the page walk or the next lookup of a
    /// folded access, else `until`.
    pub(super) fn unfolded_until(&self, c: usize) -> u64 {
        let cpu = &self.cpus[c];
        match cpu.fold_base {
            NEVER => cpu.until,
            _ if self.in_walk(c) => cpu.fold_miss_end,
            _ => next_lookup(cpu, self.now).1,
        }
    }

    /// CPU `c`'s phase as unfolded (`CopyRun` during the walk a folded access began with).
    pub(super) fn unfolded_phase(&self, c: usize) -> Phase {
        match self.in_walk(c) {
            true => Phase::CopyRun,
            false => self.cpus[c].phase,
        }
    }

    /// CPU `c`'s cycles by category as of the current cycle, as unfolded: a folded access's
    /// walk that is over counts as `tlb_miss` up to its end and `copy` after.
    pub(super) fn breakdown_now(&self, c: usize) -> [u64; crate::stats::NCAT] {
        let cpu = &self.cpus[c];
        let mut row = cpu.cycles;
        if self.mode != Mode::Skip {
            return row;
        }
        let end = cpu.fold_miss_end;
        if end != NEVER && self.now > end {
            row[cpu.cat as usize] += end - cpu.since;
            row[C::Copy as usize] += self.now - end;
        } else {
            row[cpu.cat as usize] += self.now - cpu.since;
        }
        row
    }

    /// CPU `c`'s category as of the current cycle, as unfolded.
    pub(super) fn category_now(&self, c: usize) -> C {
        let cpu = &self.cpus[c];
        match cpu.fold_miss_end {
            end if end != NEVER && self.now > end => C::Copy,
            _ => cpu.cat,
        }
    }
}
