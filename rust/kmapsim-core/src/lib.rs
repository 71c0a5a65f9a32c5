//! kmapsim-core: a cycle-level model of Linux 2.4's highmem `kmap_lock`, the pkmap pool and the
//! TLB shootdowns that recycle it, on N CPUs. No Python here: the `kmapsim-py` crate binds it.
//!
//! ```
//! use kmapsim_core::{Scenario, Mode, run_to_end};
//! let sc = Scenario { cpus: 4, ..Scenario::default() };
//! let r = run_to_end(&sc, 1_000_000, 1, Mode::Skip).unwrap();
//! assert!(r.counters.kmaps > 0);
//! assert_eq!(r.counters.stale_accesses, 0);
//! ```

/// Version of the model's semantics: bumped whenever the same scenario, seed and cycles can give
/// a different result, so that stored results of an older model are never reused.
/// 3: `kmap_lock_hold` starts when the holder runs (after the acquire/hand-off cost) and a
/// contended `kmap_lock_wait` ends there, as in lockmeter (docs/model.md, section 9).
/// 4: runs report lockmeter's statistics for every lock; new cost terms, all off by default
/// (`lock_handoff_per_waiter_cycles`, `lock_hold_per_waiter_cycles`,
/// `ipi_ack_per_target_cycles`, `flush_clear_slot_cycles`, `tlb_refill_cycles`;
/// docs/model.md, section 18).
/// 5: `lazy` catches up before taking `kmap_lock`, and under it only invalidates the slot it
/// obtains (docs/model.md, 12.4); lock statistics count holds and waits still open at the end.
/// 6: `defer` lays the pool out in two halves and reuses a cleared half only a half-lap later
/// (docs/model.md, 12.11); the strategy `split` (12.12).
pub const MODEL_VERSION: u32 = 6;

pub mod calls;
pub mod check;
mod config;
mod cpu;
mod engine;
mod error;
pub mod invariants;
mod key_bytes;
mod lock;
mod op;
mod pack;
pub mod pct;
mod phase;
mod pkmap;
#[cfg(test)]
mod pkmap_calls_tests;
mod report;
mod reuse;
pub mod rng;
mod scenario;
mod stats;
pub mod task;
mod tlb;
pub mod trace;
pub mod witness;
pub mod workload;

/// Operation lists: the `Op` a replay list is made of, and the check of a list against a
/// scenario (docs/model.md, section 15).
pub mod replay {
    pub use crate::op::{Op, validate};
}

pub use config::{
    Arbitration, Dist, EmptyFlush, FIELDS, FieldSpec, Kind, MAX_DURATION, Scenario, SlotAlloc,
    Strategy, Value, Workload,
};
pub use engine::records;
pub use engine::{Engine, MAX_CYCLES, Mode, run, run_to_end};
pub use error::{
    ConfigError, DeadlockReport, SimError, StopReason, WaitEdge, closest, did_you_mean, shown,
};
pub use lock::lock_name;
pub use report::{CpuSnapshot, LockSnapshot, RunReport, Sample, Snapshot};
pub use stats::{
    Category, Counters, Histogram, Histograms, LockFigures, LockStat, NBUCKETS, NCAT, StaleAccess,
};
pub use trace::{Event, EventKind, FlushWhy};
#[cfg(test)]
mod proptests;
