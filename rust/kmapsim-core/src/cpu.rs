//! The state of one simulated CPU.

use crate::lock::LockId;
use crate::rng::Stream;
use crate::stats::{Category, NCAT};
use crate::tlb::Tlb;
use std::collections::VecDeque;

/// "Not scheduled": the CPU waits for another CPU, a lock or an interrupt.
pub const NEVER: u64 = u64::MAX;

/// Where a CPU's program goes next, when its current stretch of time (`Cpu::until`) ends or the
/// thing it waits for happens. One variant per transition rule of `docs/model.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    WorkBegin,
    WorkDone,
    IrqLockGranted,
    IrqHoldDone,
    KmapBegin,
    KmapGranted,
    KmapMapped,
    ScanResume,
    FlushBegin,
    FlushScanDone,
    CallLockGranted,
    IpiSent,
    AsyncSent,
    AcksDone,
    LocalFlushDone,
    MapSet,
    LocalMapped,
    CopyLookup,
    CopyRun,
    CopyStepDone,
    KunmapBegin,
    KunmapGranted,
    KunmapDone,
    LocalUnmapped,
    SleepBegin,
    Woken,
    KmapRetry,
    /// The IPI handler in progress ends (the interrupted program is in `Cpu::saved`).
    HandlerEnd,
}

/// Why a CPU with `until == NEVER` is stuck, for wakeups and the watchdog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    None,
    Lock(LockId),
    /// The sender of IPI call `call`, waiting for every target's ack.
    Acks(u64),
    Sleep,
    /// A replayed operation list ended: the CPU idles for the rest of the run.
    Done,
}

/// An IPI on its way to, or pending at, a CPU's local APIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipi {
    pub arrival: u64,
    pub call: u64,
    /// The flush generation the IPI announces (`guarded`).
    pub generation: u64,
}

/// The program interrupted by an IPI handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Saved {
    pub phase: Phase,
    /// Cycles left of the interrupted stretch, or NEVER if it was waiting.
    pub remaining: u64,
    pub cat: Category,
}

#[derive(Clone, Debug)]
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
    pub inflight: VecDeque<Ipi>,
    pub pending: VecDeque<Ipi>,
    /// Last IPI call whose handler finished here, and last call that targeted this CPU.
    pub acked_call: u64,
    pub targeted_by_call: u64,
    pub rng: Stream,
    pub tlb: Tlb,
    /// Flush generation this CPU's TLB is known to be clean for (`guarded`, `lazy`).
    pub generation: u64,
    /// Whether the TLB may hold pkmap entries since its last full flush (`targeted`): set by
    /// every pkmap TLB fill, cleared by every full flush.
    pub may_hold: bool,
    /// The page of the per-CPU kmap_local slot (`local`), and when it was set.
    pub local_page: u32,
    pub local_mapped_at: u64,
    /// Fixed-point (2^-32) carry of unrelated-traffic evictions.
    pub evict_carry: u64,
    // The operation in progress.
    pub irq_lock: LockId,
    pub misuse: bool,
    pub page: u32,
    pub slot: u32,
    /// The iteration in progress, as recorded or replayed.
    pub op: crate::op::Op,
    /// Whether `op` is begun and not yet complete (recorded at its kunmap).
    pub op_open: bool,
    /// Whether `slot` holds `page` mapped for this CPU right now.
    pub holds: bool,
    /// Between the return of its kmap and the completion of its kunmap.
    pub kmapped: bool,
    pub scan_left: u32,
    pub scan_check_current: bool,
    pub lookup: u32,
    pub need_wakeup: bool,
    /// When the CPU last asked for a lock (`spin_lock()` entered).
    pub lock_req_at: u64,
    /// Whether its last `kmap_lock` grant was contended (it spun or competed and paid the
    /// hand-off): only then is its `kmap_lock_wait` nonzero, as in lockmeter and lock_stat.
    pub kmap_contended: bool,
    /// When the current `kmap_lock` holder started running under the lock (after the
    /// acquire/hand-off cost): the start of its `kmap_lock_hold`.
    pub hold_start: u64,
    pub flush_start: u64,
    pub shootdown_start: u64,
    /// Slots the flush in progress cleared.
    pub flush_cleared: u64,
}

impl Cpu {
    pub fn new(rng: Stream, tlb_entries: usize) -> Self {
        Cpu {
            phase: Phase::WorkBegin,
            until: 0,
            wait: Wait::None,
            cat: Category::Work,
            since: 0,
            cycles: [0; NCAT],
            irqs_on: true,
            saved: None,
            handler_call: 0,
            handler_gen: 0,
            inflight: VecDeque::with_capacity(4),
            pending: VecDeque::with_capacity(4),
            acked_call: 0,
            targeted_by_call: 0,
            rng,
            tlb: Tlb::new(tlb_entries),
            generation: 0,
            may_hold: false,
            local_page: 0,
            local_mapped_at: 0,
            evict_carry: 0,
            irq_lock: 0,
            misuse: false,
            page: 0,
            slot: 0,
            holds: false,
            kmapped: false,
            op: crate::op::Op::default(),
            op_open: false,
            scan_left: 0,
            scan_check_current: false,
            lookup: 0,
            need_wakeup: false,
            lock_req_at: 0,
            kmap_contended: false,
            hold_start: 0,
            flush_start: 0,
            shootdown_start: 0,
            flush_cleared: 0,
        }
    }

    /// The `kmap_lock_wait` of the grant this CPU starts running under at cycle `t`: from its
    /// request to now (the hand-off and any IPI handler that interrupted it included) if the
    /// grant was contended; 0 if it found the lock free, whose acquire cost is not waiting for
    /// another holder (lockmeter's NOWAIT, no lock_stat contention).
    #[inline]
    pub fn kmap_wait(&self, t: u64) -> u64 {
        if self.kmap_contended {
            t - self.lock_req_at
        } else {
            0
        }
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
