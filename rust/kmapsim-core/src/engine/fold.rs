//! Folding the rest of an access into one stretch (`skip` mode only; docs/performance.md).
//!
//! An access makes `lookups` TLB lookups of one slot over its cycles (`copy.rs`), each an event
//! of its own. Once a lookup has found the page the CPU mapped, every later lookup of the same
//! access hits the same entry, unless this CPU's TLB changes in between: by its IPI handler's
//! flush, or by another CPU's hardware invalidation (`broadcast`). No
//! other CPU can observe a hit either: it changes this CPU's TLB use clock and the hit counter,
//! nothing shared. So the rest of the access runs as one stretch, and the hits it passes over
//! are counted when something looks:
//! - an IPI handler entering mid-access (`unfold`): the hits before it happen, and the access
//!   goes on lookup by lookup after it, as unfolded;
//! - another CPU invalidating this one's TLB (`unfold_before_remote`), likewise;
//! - the end of the access (`copy_step_done`);
//! - a report or a snapshot (`folded_hits`, `unfolded_until`), which count the hits before
//!   the current cycle without changing the machine.
//!
//! `step` mode never folds, so every equality test of the two modes tests the folding.

use super::{Engine, Mode};
use crate::cpu::{Cpu, NEVER};

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
    /// after it starts: the length of the rest of the access as one stretch, when it may run so.
    ///
    /// Only in `skip` mode, with more lookups to come, the CPU's entry for the slot holding the
    /// page it mapped (a stale entry's hits are violations, each recorded at its own cycle),
    /// no IPI pending (its handler comes next), and the rest shorter than `watchdog_cycles`
    /// (a stretch that long is registered with the watchdog, its segments are not).
    #[inline]
    pub(super) fn fold(&mut self, c: usize, t: u64) -> Option<u64> {
        let cpu = &self.cpus[c];
        let i = cpu.lookup as u64;
        if self.mode != Mode::Skip || i + 1 >= cpu.lookups || !cpu.pending.is_empty() {
            return None;
        }
        let rest = offset(cpu, cpu.lookups) - offset(cpu, i);
        if rest >= self.sc.watchdog_cycles {
            return None;
        }
        match cpu.tlb.peek(cpu.t.slot) {
            Some(e) if e.page == cpu.t.page => {}
            _ => return None,
        }
        let base = t - offset(cpu, i);
        self.cpus[c].fold_base = base;
        Some(rest)
    }

    /// CPU `c`'s folded access at cycle `t`: its lookups before `t` happen (hits), and it is
    /// unfolded, on the segment that ends at the next lookup. Returns that lookup's cycle (the
    /// access's end when none is left), which is when the segment's `CopyStepDone` falls.
    pub(super) fn unfold(&mut self, c: usize, t: u64) -> u64 {
        let cpu = &mut self.cpus[c];
        debug_assert!(
            cpu.fold_base != NEVER,
            "unfold() of an access that is not folded"
        );
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

    /// Hits of folded accesses before the current cycle that are not counted yet: each is one
    /// TLB hit and one event (a report adds them to both).
    pub(super) fn folded_hits(&self) -> u64 {
        self.cpus
            .iter()
            .filter(|cpu| cpu.fold_base != NEVER)
            .map(|cpu| next_lookup(cpu, self.now).0 - 1 - cpu.lookup as u64)
            .sum()
    }

    /// CPU `c`'s next action as unfolded: the next lookup of a folded access, else `until`.
    pub(super) fn unfolded_until(&self, c: usize) -> u64 {
        let cpu = &self.cpus[c];
        match cpu.fold_base {
            NEVER => cpu.until,
            _ => next_lookup(cpu, self.now).1,
        }
    }
}
