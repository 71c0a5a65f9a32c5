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
pub const MODEL_VERSION: u32 = 3;

pub mod config;
mod cpu;
pub mod engine;
pub mod error;
pub mod invariants;
mod ipi;
pub mod lock;
pub mod pkmap;
mod program;
pub mod records;
pub mod replay;
pub mod rng;
pub mod sample;
pub mod snapshot;
pub mod stats;
pub mod tlb;
pub mod trace;
mod watchdog;

pub use config::{
    Arbitration, Dist, FIELDS, FieldSpec, Kind, Scenario, SlotAlloc, Strategy, Value,
};
pub use engine::{Engine, MAX_CYCLES, Mode, run, run_to_end};
pub use error::{ConfigError, DeadlockReport, SimError, WaitEdge};
pub use stats::{Category, Counters, Histogram, Histograms, NCAT, RunReport, StaleAccess};
pub use trace::{Event, EventKind, FlushWhy};
#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod proptests;
