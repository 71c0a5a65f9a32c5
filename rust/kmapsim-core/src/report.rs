//! What the engine reports: a run's results (`RunReport`), one row of its time series
//! (`Sample`) and a picture of the machine at one cycle (`Snapshot`); docs/model.md, sections 9
//! and 15. A leaf: plain data, built by the engine (`engine/mod.rs`, `engine/sample.rs`,
//! `engine/snapshot.rs`) and read by the binding.

use crate::stats::{Counters, Histograms, LockStat, NCAT, StaleAccess};
use crate::trace::Event;

/// Everything a finished run reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub cycles: u64,
    pub seed: u64,
    /// Engine events processed (CPU transitions, IPI arrivals, lock grants).
    pub events: u64,
    pub counters: Counters,
    /// Per CPU, cycles per category; each row sums to `cycles`.
    pub breakdown: Vec<[u64; NCAT]>,
    /// Per task, cycles running, runnable, blocked and asleep on the pool
    /// (`task::TASK_STATES`); each row sums to `cycles`.
    pub task_breakdown: Vec<[u64; 4]>,
    pub histograms: Histograms,
    /// lockmeter's sums per lock, by lock id (`lock::lock_name`): `kmap_lock`, `call_lock`,
    /// then each interrupts-off lock.
    pub lock_stats: Vec<LockStat>,
    pub violations: Vec<StaleAccess>,
    /// The most recent events, when the run was traced, and how many older ones were dropped.
    pub trace: Vec<Event>,
    pub trace_dropped: u64,
}

impl RunReport {
    /// Total kmaps per million simulated cycles.
    pub fn throughput(&self) -> f64 {
        self.counters.kmaps as f64 * 1e6 / self.cycles as f64
    }
}

/// One row of the time series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub cycle: u64,
    /// Completed kmaps and kunmaps so far (their differences give rates).
    pub kmaps: u64,
    pub kunmaps: u64,
    /// CPUs spinning on kmap_lock.
    pub kmap_lock_waiters: u32,
    /// Free and clean pkmap slots.
    pub free_slots: u32,
    /// IPIs sent and not yet handled (in flight, pending, or in their handler).
    pub ipis_outstanding: u64,
    /// Tasks asleep on the pkmap wait queue.
    pub sleeping: u32,
}

impl Sample {
    /// The columns of a time series, in field order: what bindings name them.
    pub const COLUMNS: [&'static str; 7] = [
        "cycle",
        "kmaps",
        "kunmaps",
        "kmap_lock_waiters",
        "free_slots",
        "ipis_outstanding",
        "sleeping",
    ];
}

/// One CPU in a `Snapshot`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuSnapshot {
    pub cpu: u32,
    /// The next step of its program (a `Phase` name).
    pub phase: String,
    pub category: &'static str,
    pub irqs_on: bool,
    pub in_handler: bool,
    /// What it waits for, if it waits: "kmap_lock", "IPI acks (call 3)", "pkmap_map_wait", ...
    pub waiting_for: Option<String>,
    /// When its current stretch ends, if it is not waiting.
    pub next_action: Option<u64>,
    pub pending_ipis: u32,
    pub inflight_ipis: u32,
    /// The pkmap (or kmap_local) slot and page it holds mapped, if any.
    pub holds: Option<(u32, u32)>,
    pub tlb_entries: u32,
}

/// One lock in a `Snapshot`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockSnapshot {
    pub name: String,
    pub holder: Option<u32>,
    pub waiters: Vec<u32>,
}

/// The machine at the current cycle, for the step-wise API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub cycle: u64,
    pub cpus: Vec<CpuSnapshot>,
    pub locks: Vec<LockSnapshot>,
    /// Slots by count: free and clean (0), unused but maybe cached (1), in use (>= 2).
    pub slots_free: u32,
    pub slots_unused: u32,
    pub slots_in_use: u32,
    pub cursor: u32,
    /// A split pool's active half, and the half whose shootdown is running (`split`).
    pub half: Option<u32>,
    pub half_in_flight: Option<u32>,
    pub flush_generation: u64,
    pub sleeping: Vec<u32>,
    pub counters: Counters,
}
