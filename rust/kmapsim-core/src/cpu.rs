//! The state of one simulated CPU.

use crate::lock::LockId;
use crate::reuse::Fifo;
use crate::stats::{Category, NCAT};
use crate::task::TaskCtx;
use crate::tlb::Tlb;
use crate::workload::MAX_HANDLES;

/// "Not scheduled": the CPU waits for another CPU, a lock or an interrupt.
pub const NEVER: u64 = u64::MAX;

pub use crate::phase::Phase;

/// Why a CPU with `until == NEVER` is stuck, for wakeups and the watchdog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    None,
    Lock(LockId),
    /// The sender of IPI call `call`, waiting for every target's ack.
    Acks(u64),
    /// Idle: its last task sleeps on `pkmap_map_wait` and no other is runnable.
    Sleep,
    /// Idle: its last task's replayed operation list ended and no other is runnable.
    Done,
    /// Idle: no task is runnable (its last one blocked on I/O, or it never had one).
    Idle,
}

/// An IPI on its way to, or pending at, a CPU's local APIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipi {
    pub arrival: u64,
    pub call: u64,
    /// The flush generation the IPI announces (`guarded`).
    pub generation: u64,
}

/// A CPU's kmap_local slots (`local`), one per handle: the page each maps and since when.
#[derive(Clone, Debug)]
pub struct LocalSlots {
    pub page: [u32; MAX_HANDLES],
    pub mapped_at: [u64; MAX_HANDLES],
}

/// The program interrupted by an IPI handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Saved {
    pub phase: Phase,
    /// Cycles left of the interrupted stretch, or NEVER if it was waiting.
    pub remaining: u64,
    pub cat: Category,
}

#[derive(Debug)]
pub struct Cpu {
    pub phase: Phase,
    /// Cycle of the next action, or NEVER.
    pub until: u64,
    pub wait: Wait,
    /// Accounting: the category of the current cycle, and since when (skip mode's bulk counts).
    pub cat: Category,
    pub since: u64,
    pub cycles: [u64; NCAT],
    pub irqs_on: bool,
    /// Set while an IPI handler runs; the interrupted program waits here.
    pub saved: Option<Saved>,
    pub handler_call: u64,
    pub handler_gen: u64,
    pub inflight: Fifo<Ipi>,
    pub pending: Fifo<Ipi>,
    /// Last IPI call whose handler finished here, and last call that targeted this CPU.
    pub acked_call: u64,
    pub targeted_by_call: u64,
    /// The task it runs (NONE when idle), and that task's program state.
    pub task: u32,
    pub t: TaskCtx,
    /// Since when it is idle (wake-up placement prefers the CPU idle longest).
    pub idle_since: u64,
    pub tlb: Tlb,
    /// Flush generation this CPU's TLB is known to be clean for (`guarded`, `lazy`).
    pub generation: u64,
    /// Whether the TLB may hold pkmap entries since its last full flush (`targeted`): set by
    /// every pkmap TLB fill, cleared by every full flush.
    pub may_hold: bool,
    /// `lazy`: still behind the flush generation when `kmap_lock` was granted (a flush ran
    /// while it spun): only the slot it obtains is invalidated under the lock.
    pub behind: bool,
    /// `defer`: the generation the slot being handed out was cleared in.
    pub defer_gen: u64,
    /// The page of each per-CPU kmap_local slot (`local`, one per handle), and when it was set.
    /// Boxed: only `local` uses them, and the hot fields of every CPU stay close together.
    pub local: Box<LocalSlots>,
    /// Fixed-point (2^-32) carry of unrelated-traffic evictions.
    pub evict_carry: u64,
    // The operation in progress.
    pub irq_lock: LockId,
    pub scan_left: u32,
    /// Flushes (or skipped flushes) in the current `map_new_virtual()`: after one, the scan
    /// resumes on the slot under the cursor (`Pkmap::allocate`, `Pkmap::loop_count`).
    pub scan_flushes: u8,
    /// The access in progress: its next lookup, how many, over how many cycles, and whether
    /// it runs with interrupts disabled.
    pub lookup: u32,
    pub lookups: u64,
    /// The access's cycles divided by its lookups: quotient and remainder.
    pub access_q: u64,
    pub access_r: u64,
    pub access_irqs_off: bool,
    /// `skip` mode, while the rest of an access runs as one stretch (`engine/fold.rs`): the
    /// cycle the access would have begun at had every lookup hit, so that lookup j falls at
    /// `fold_base + offset(j)`; NEVER when no fold is in progress.
    pub fold_base: u64,
    /// A folded access that began with a TLB miss: the cycle its page walk ends (the CPU is in
    /// `tlb_miss` until then, in `copy` after); NEVER once that is behind or when there was
    /// none.
    pub fold_miss_end: u64,
    pub need_wakeup: bool,
    /// When the CPU last asked for a lock (`spin_lock()` entered).
    pub lock_req_at: u64,
    /// Whether its last lock grant was contended (it spun or competed and paid the hand-off):
    /// only then is its wait nonzero, as in lockmeter and lock_stat.
    pub lock_contended: bool,
    /// When it started running under each lock it holds (after the acquire/hand-off cost), by
    /// `lock::hold_class`: the start of its hold.
    pub hold_start: [u64; 3],
    pub flush_start: u64,
    pub shootdown_start: u64,
    /// Slots the flush in progress cleared.
    pub flush_cleared: u64,
    /// Cycles of TLB refill owed since the last full flush (`tlb_refill_cycles`), paid at the
    /// start of the next work.
    pub refill_debt: u64,
}

// SAFETY: enums, flags, integers and arrays of them, with derived `Clone`s.
crate::pack::plain!(unsafe Wait, Saved, Ipi, LocalSlots);
crate::pack::pack_each!(Cpu);

impl LocalSlots {
    /// Whether no slot was ever used: so every CPU's, but under `local` (or a program's
    /// `kmap_local`).
    fn unused(&self) -> bool {
        self.page == [0; MAX_HANDLES] && self.mapped_at == [0; MAX_HANDLES]
    }
}

/// The per-CPU `kmap_local` slots, boxed in the CPU: a flag, then the slots if any was ever
/// used (most strategies use none: 96 bytes a CPU saved, a twelfth of the default check's
/// packed machine).
impl crate::pack::Pack for Box<LocalSlots> {
    fn packed_len(&self) -> usize {
        1 + match self.unused() {
            true => 0,
            false => size_of::<LocalSlots>(),
        }
    }

    fn pack_into<'a>(&self, out: &'a mut [crate::pack::Byte]) -> &'a mut [crate::pack::Byte] {
        let unused = self.unused();
        let out = crate::pack::put(out, &[unused]);
        match unused {
            true => out,
            false => (**self).pack_into(out),
        }
    }

    unsafe fn unpack<'a>(&mut self, input: &'a [crate::pack::Byte]) -> &'a [crate::pack::Byte] {
        // SAFETY: the caller's: the flag, then the slots if they were used.
        let (unused, input) = unsafe { crate::pack::get::<bool>(input) };
        if unused {
            self.page = [0; MAX_HANDLES];
            self.mapped_at = [0; MAX_HANDLES];
            return input;
        }
        // SAFETY: the caller's.
        unsafe { (**self).unpack(input) }
    }
}

crate::reuse::clone_reusing!(Cpu {
    phase,
    until,
    wait,
    cat,
    since,
    irqs_on,
    saved,
    handler_call,
    handler_gen,
    inflight,
    pending,
    acked_call,
    targeted_by_call,
    task,
    t,
    idle_since,
    tlb,
    generation,
    may_hold,
    behind,
    defer_gen,
    local,
    evict_carry,
    irq_lock,
    scan_left,
    scan_flushes,
    lookup,
    lookups,
    access_q,
    access_r,
    access_irqs_off,
    fold_base,
    fold_miss_end,
    need_wakeup,
    lock_req_at,
    lock_contended,
    hold_start,
    flush_start,
    shootdown_start,
    flush_cleared,
    refill_debt
} statistics {
    cycles
});

impl Cpu {
    pub fn new(t: TaskCtx, task: u32, tlb_entries: usize) -> Self {
        Cpu {
            phase: Phase::NextOp,
            until: 0,
            wait: Wait::None,
            cat: Category::Work,
            since: 0,
            cycles: [0; NCAT],
            irqs_on: true,
            saved: None,
            handler_call: 0,
            handler_gen: 0,
            inflight: Fifo::with_capacity(4),
            pending: Fifo::with_capacity(4),
            acked_call: 0,
            targeted_by_call: 0,
            task,
            t,
            idle_since: 0,
            tlb: Tlb::new(tlb_entries),
            generation: 0,
            may_hold: false,
            behind: false,
            defer_gen: 0,
            local: Box::new(LocalSlots {
                page: [0; MAX_HANDLES],
                mapped_at: [0; MAX_HANDLES],
            }),
            evict_carry: 0,
            irq_lock: 0,
            scan_left: 0,
            scan_flushes: 0,
            lookup: 0,
            lookups: 1,
            access_q: 1,
            access_r: 0,
            access_irqs_off: false,
            fold_base: NEVER,
            fold_miss_end: NEVER,
            need_wakeup: false,
            lock_req_at: 0,
            lock_contended: false,
            hold_start: [0; 3],
            flush_start: 0,
            shootdown_start: 0,
            flush_cleared: 0,
            refill_debt: 0,
        }
    }

    /// A full TLB flush: every pkmap entry goes, and the rest of the working set must be
    /// refilled (`refill` cycles, owed once however many flushes come before the next work).
    #[inline]
    pub fn full_flush(&mut self, refill: u64) {
        self.tlb.flush();
        self.may_hold = false;
        self.behind = false;
        self.refill_debt = refill;
    }

    /// The wait of the lock grant this CPU starts running under at cycle `t`: from its
    /// request to now (the hand-off and any IPI handler that interrupted it included) if the
    /// grant was contended; 0 if it found the lock free, whose acquire cost is not waiting for
    /// another holder (lockmeter's NOWAIT, no lock_stat contention).
    #[inline]
    pub fn lock_wait(&self, t: u64) -> u64 {
        if self.lock_contended {
            t - self.lock_req_at
        } else {
            0
        }
    }

    /// Whether it has no task to run.
    #[inline]
    pub fn idle(&self) -> bool {
        self.task == crate::pkmap::NONE
    }

    #[inline]
    pub fn in_handler(&self) -> bool {
        self.saved.is_some()
    }

    /// Whether an IPI arriving now would be taken at once.
    #[inline]
    pub fn takes_ipis(&self) -> bool {
        self.irqs_on && self.saved.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::{Pack, pack};

    fn slots(page: u32) -> Box<LocalSlots> {
        let mut s = Box::new(LocalSlots {
            page: [0; MAX_HANDLES],
            mapped_at: [0; MAX_HANDLES],
        });
        s.page[2] = page;
        s.mapped_at[2] = 40 * page as u64;
        s
    }

    fn round_trip(from: Box<LocalSlots>, mut into: Box<LocalSlots>) -> (usize, Box<LocalSlots>) {
        let mut out = Vec::new();
        pack(&from, &mut out);
        // SAFETY: the slots just packed.
        let rest = unsafe { into.unpack(&out) };
        assert!(rest.is_empty());
        (out.len(), into)
    }

    #[test]
    fn unused_kmap_local_slots_pack_as_a_flag_and_used_ones_whole() {
        let (n, back) = round_trip(slots(0), slots(5));
        assert_eq!(
            (n, back.page, back.mapped_at),
            (1, slots(0).page, slots(0).mapped_at)
        );
        let (n, back) = round_trip(slots(5), slots(0));
        assert_eq!(n, 1 + size_of::<LocalSlots>());
        assert_eq!(
            (back.page, back.mapped_at),
            (slots(5).page, slots(5).mapped_at)
        );
    }
}
