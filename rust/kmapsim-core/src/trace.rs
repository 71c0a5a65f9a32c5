//! An optional, bounded event trace: what happened, on which CPU, at which cycle.
//!
//! Off by default (one branch per event when off). When on, it keeps the most recent `cap`
//! events and counts the ones it dropped, so memory stays bounded on any run.

use crate::lock::LockId;

/// Record an event if the engine is tracing. A macro, not a method, so that it borrows only the
/// `trace` field and can be used while other fields of the engine are borrowed.
macro_rules! trace {
    ($engine:expr, $cycle:expr, $cpu:expr, $kind:expr) => {
        if let Some(tr) = $engine.trace.as_mut() {
            tr.push($crate::trace::Event {
                cycle: $cycle,
                cpu: $cpu as u32,
                kind: $kind,
            });
        }
    };
}
use crate::stats::Category;
use std::collections::VecDeque;
pub(crate) use trace;

/// Why a TLB was flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushWhy {
    /// The IPI handler (`flush_tlb_all_ipi`).
    Handler,
    /// The flusher's own TLB, after its IPIs (`do_flush_tlb_all_local`).
    Local,
    /// Catching up with the flush generation (`guarded`, `lazy`, `defer`).
    Generation,
    /// Invalidated by another CPU's hardware broadcast, without an interrupt (`broadcast`).
    Broadcast,
    /// Only the cleared slots, one invlpg each (`ranged`, up to its ceiling).
    Range,
}

impl FlushWhy {
    pub fn name(self) -> &'static str {
        match self {
            FlushWhy::Handler => "handler",
            FlushWhy::Local => "local",
            FlushWhy::Generation => "generation",
            FlushWhy::Broadcast => "broadcast",
            FlushWhy::Range => "range",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The CPU's cycle category changes.
    State {
        cat: Category,
    },
    LockAcquired {
        lock: LockId,
    },
    LockReleased {
        lock: LockId,
    },
    /// kmap returned: `page` at `slot`, shared with an existing mapping or new.
    Mapped {
        slot: u32,
        page: u32,
        shared: bool,
    },
    /// kunmap dropped the slot's count to `count`.
    Unmapped {
        slot: u32,
        page: u32,
        count: u32,
    },
    /// The clearing loop ran (flush_all_zero_pkmaps, or the freelist's dirty list).
    FlushBegin {
        cleared: u64,
    },
    IpiSent {
        to: u32,
        arrival: u64,
        call: u64,
    },
    /// The IPI reached the APIC; `taken` if the handler starts now, else it is pending.
    IpiArrived {
        call: u64,
        taken: bool,
    },
    /// The handler starts (for an IPI that arrived at `arrived`).
    IpiHandler {
        call: u64,
        arrived: u64,
    },
    TlbFlush {
        why: FlushWhy,
    },
    TlbFill {
        slot: u32,
        page: u32,
    },
    TlbEvict {
        entries: u64,
    },
    StaleRead {
        slot: u32,
        expected: u32,
        actual: u32,
    },
    Sleep,
    Wake,
    /// kmap_lock's number of spinners changed.
    LockQueue {
        waiters: u32,
    },
    /// The number of free and clean pkmap slots changed.
    FreeSlots {
        free: u32,
    },
    /// A replayed operation list ran out: the CPU stays idle.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub cycle: u64,
    pub cpu: u32,
    pub kind: EventKind,
}

impl Event {
    /// The event's name, as exported.
    pub fn name(&self) -> &'static str {
        match self.kind {
            EventKind::State { .. } => "state",
            EventKind::LockAcquired { .. } => "lock_acquired",
            EventKind::LockReleased { .. } => "lock_released",
            EventKind::Mapped { .. } => "mapped",
            EventKind::Unmapped { .. } => "unmapped",
            EventKind::FlushBegin { .. } => "flush_begin",
            EventKind::IpiSent { .. } => "ipi_sent",
            EventKind::IpiArrived { .. } => "ipi_arrived",
            EventKind::IpiHandler { .. } => "ipi_handler",
            EventKind::TlbFlush { .. } => "tlb_flush",
            EventKind::TlbFill { .. } => "tlb_fill",
            EventKind::TlbEvict { .. } => "tlb_evict",
            EventKind::StaleRead { .. } => "stale_read",
            EventKind::Sleep => "sleep",
            EventKind::Wake => "wake",
            EventKind::LockQueue { .. } => "lock_queue",
            EventKind::FreeSlots { .. } => "free_slots",
            EventKind::Done => "done",
        }
    }

    /// The event's fields as `(name, value)` pairs (text values for names).
    pub fn fields(&self) -> Vec<(&'static str, FieldValue)> {
        use FieldValue::{Int as I, Text as T};
        match self.kind {
            EventKind::State { cat } => vec![("category", T(Category::NAMES[cat as usize]))],
            EventKind::LockAcquired { lock } | EventKind::LockReleased { lock } => {
                let mut v = vec![("lock", T(lock_label(lock)))];
                if lock >= crate::lock::IRQ_LOCK_BASE {
                    v.push(("index", I((lock - crate::lock::IRQ_LOCK_BASE) as u64)));
                }
                v
            }
            EventKind::Mapped { slot, page, shared } => {
                vec![
                    ("slot", I(slot as u64)),
                    ("page", I(page as u64)),
                    ("shared", I(shared as u64)),
                ]
            }
            EventKind::Unmapped { slot, page, count } => {
                vec![
                    ("slot", I(slot as u64)),
                    ("page", I(page as u64)),
                    ("count", I(count as u64)),
                ]
            }
            EventKind::FlushBegin { cleared } => vec![("cleared", I(cleared))],
            EventKind::IpiSent { to, arrival, call } => {
                vec![
                    ("to", I(to as u64)),
                    ("arrival", I(arrival)),
                    ("call", I(call)),
                ]
            }
            EventKind::IpiArrived { call, taken } => {
                vec![("call", I(call)), ("taken", I(taken as u64))]
            }
            EventKind::IpiHandler { call, arrived } => {
                vec![("call", I(call)), ("arrived", I(arrived))]
            }
            EventKind::TlbFlush { why } => vec![("why", T(why.name()))],
            EventKind::TlbFill { slot, page } => {
                vec![("slot", I(slot as u64)), ("page", I(page as u64))]
            }
            EventKind::TlbEvict { entries } => vec![("entries", I(entries))],
            EventKind::StaleRead {
                slot,
                expected,
                actual,
            } => vec![
                ("slot", I(slot as u64)),
                ("expected", I(expected as u64)),
                ("actual", I(actual as u64)),
            ],
            EventKind::LockQueue { waiters } => {
                vec![("lock", T("kmap_lock")), ("waiters", I(waiters as u64))]
            }
            EventKind::FreeSlots { free } => vec![("free", I(free as u64))],
            EventKind::Sleep | EventKind::Wake | EventKind::Done => vec![],
        }
    }
}

/// A field value of an exported event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue {
    Int(u64),
    Text(&'static str),
}

fn lock_label(lock: LockId) -> &'static str {
    // Interrupts-off locks share one label; their index is a separate field.
    match lock {
        crate::lock::KMAP_LOCK => "kmap_lock",
        crate::lock::CALL_LOCK => "call_lock",
        _ => "irq_lock",
    }
}

/// The most recent `cap` events.
#[derive(Clone, Debug)]
pub struct Trace {
    cap: usize,
    pub events: VecDeque<Event>,
    pub dropped: u64,
    /// Set when room for an event could not be allocated: the run stops with
    /// `SimError::OutOfMemory` at its next check instead of aborting the process.
    pub out_of_memory: bool,
}

impl Trace {
    pub fn new(cap: usize) -> Self {
        Trace {
            cap,
            events: VecDeque::with_capacity(cap.min(1 << 16)),
            dropped: 0,
            out_of_memory: false,
        }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    #[inline]
    pub fn push(&mut self, e: Event) {
        if self.cap == 0 {
            self.dropped += 1;
            return;
        }
        if self.events.len() == self.cap {
            self.events.pop_front();
            self.dropped += 1;
        } else if self.events.len() == self.events.capacity() {
            // Grow fallibly (doubling, up to the cap): a failure is reported, not an abort.
            let more = self.events.len().max(1).min(self.cap - self.events.len());
            if self.events.try_reserve_exact(more).is_err() {
                self.out_of_memory = true;
                self.dropped += 1;
                return;
            }
        }
        self.events.push_back(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_and_counts_drops() {
        let mut t = Trace::new(2);
        for c in 0..5 {
            t.push(Event {
                cycle: c,
                cpu: 0,
                kind: EventKind::Sleep,
            });
        }
        assert_eq!(
            t.events.iter().map(|e| e.cycle).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(t.dropped, 3);
    }
}
