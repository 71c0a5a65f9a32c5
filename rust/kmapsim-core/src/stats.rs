//! What a run reports: cycle categories, counters and log-bucketed histograms.

/// Where one cycle of one CPU went. Every cycle of every CPU is in exactly one category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Category {
    Work,
    IrqoffSpin,
    IrqoffHold,
    KmapSpin,
    KmapLocked,
    KmapLocal,
    FlushScan,
    CallLockSpin,
    IpiSend,
    IpiWait,
    LocalFlush,
    Copy,
    TlbMiss,
    IpiHandler,
    Sleep,
    ContextSwitch,
    Idle,
}

pub const NCAT: usize = 17;

impl Category {
    pub const NAMES: [&'static str; NCAT] = [
        "work",
        "irqoff_spin",
        "irqoff_hold",
        "kmap_spin",
        "kmap_locked",
        "kmap_local",
        "flush_scan",
        "call_lock_spin",
        "ipi_send",
        "ipi_wait",
        "local_flush",
        "copy",
        "tlb_miss",
        "ipi_handler",
        "sleep",
        "context_switch",
        "idle",
    ];
}

macro_rules! counters {
    ($( $name:ident ),* $(,)?) => {
        /// Event counts of a run, summed over CPUs.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct Counters { $( pub $name: u64, )* }

        impl Counters {
            pub const NAMES: &'static [&'static str] = &[ $( stringify!($name), )* ];

            pub fn pairs(&self) -> Vec<(&'static str, u64)> {
                vec![ $( (stringify!($name), self.$name), )* ]
            }
        }
    };
}

counters! {
    kmaps,
    kunmaps,
    new_mappings,
    map_hits,
    flushes,
    flushes_skipped,
    slots_cleared,
    slots_examined,
    ipis_sent,
    ipis_handled,
    ipis_pending,
    tlb_hits,
    tlb_misses,
    tlb_flushes,
    gen_flushes,
    invlpgs,
    tlb_evictions,
    stale_accesses,
    sleeps,
    wakeups,
    context_switches,
    irq_sections,
    kmap_lock_acquires,
    kmap_lock_contended,
    kmaps_irqs_off,
    kunmaps_irqs_off,
    blocks,
    task_switches,
    migrations,
    tlb_refills,
    broadcast_flushes,
    range_flushes,
    deferred_shootdowns,
    split_waits,
}

/// Number of buckets: bucket 0 holds 0, bucket k >= 1 holds values in `[2^(k-1), 2^k)`.
pub const NBUCKETS: usize = 65;

/// A log2-bucketed histogram of cycle counts, exact in count, sum, min and max.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    pub counts: [u64; NBUCKETS],
    pub count: u64,
    pub sum: u128,
    pub min: u64,
    pub max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: [0; NBUCKETS],
            count: 0,
            sum: 0,
            min: 0,
            max: 0,
        }
    }
}

impl Histogram {
    #[inline]
    pub fn record(&mut self, v: u64) {
        let bucket = (64 - v.leading_zeros()) as usize;
        self.counts[bucket] += 1;
        self.min = if self.count == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.count += 1;
        self.sum += v as u128;
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }
}

/// The histograms a run keeps, by index into `Histograms::NAMES`. All values are cycles; a
/// value is recorded when its interval ends, so an interval still open when the run ends is in
/// none of them (docs/model.md, section 9).
///
/// The two `kmap_lock` histograms follow the split of lockmeter (R. Bryant and J. Hawkes,
/// "Lockmeter: Highly-Informative Instrumentation for Spin Locks in the Linux Kernel", ALS 2000)
/// and of Linux's lock_stat (Documentation/locking/lockstat.rst): a request waits until
/// `spin_lock()` returns, and the hold runs from that return to `spin_unlock()`. The
/// acquire/hand-off cost (`lock_acquire_cycles`, `lock_handoff_cycles`) is spent inside
/// `spin_lock()`, booked as `kmap_spin`, and is never hold time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histograms {
    /// One value per `kmap_lock` acquisition (kmap, kunmap, retry after a sleep), recorded when
    /// the new holder starts running under the lock. Contended grants (those counted in
    /// `kmap_lock_contended`, which pay `lock_handoff_cycles`): from the request to that start,
    /// so spinning, the hand-off and any IPI handler taken while spinning. Uncontended grants
    /// (the lock was free when asked for): 0, like lockmeter's "no wait" attempts and an
    /// acquisition without a lock_stat contention; their `lock_acquire_cycles` are in neither
    /// histogram. Bucket 0 therefore counts the acquisitions that did not wait, and
    /// `sum / kmap_lock_contended` is the mean wait of those that did (lockmeter's WAIT mean,
    /// lock_stat's waittime-avg).
    pub kmap_lock_wait: Histogram,
    /// One value per `kmap_lock` release: from the cycle the holder started running under the
    /// lock (after the acquire/hand-off cost, where the wait ends) to the release. It holds the
    /// work done under the lock (hit, slot scan or pop and new mapping, or kunmap; any generation
    /// catch-up flush; a whole `flush_all_zero_pkmaps` with its shootdown) and any IPI handler
    /// that interrupted the holder; a path that sleeps ends its hold at the release before the
    /// sleep. This is lockmeter's HOLD and lock_stat's holdtime, so `sum / cycles` is the lock's
    /// utilisation as those tools report it.
    pub kmap_lock_hold: Histogram,
    /// One value per IPI handler entry: from the IPI's arrival at the target's APIC to the start
    /// of its handler; 0 when taken at once: how long the IPI stayed pending (interrupts off, or
    /// another handler running). The flight time (the field `ipi_latency`) is not included.
    pub ipi_pending: Histogram,
    /// One value per finished flush loop: from `FlushBegin` (the clearing loop starts, lock held)
    /// to the end of the flusher's local TLB flush; for a skipped flush (`empty_flush = skip`),
    /// to the end of the loop.
    pub flush_duration: Histogram,
    /// One value per flush that went on to a TLB shootdown: from `flush_tlb_all()`'s start
    /// (`FlushScanDone`, after the clearing loop) to the end of the flusher's local flush.
    pub shootdown: Histogram,
}

impl Histograms {
    pub const NAMES: &'static [&'static str] = &[
        "kmap_lock_wait",
        "kmap_lock_hold",
        "ipi_pending",
        "flush_duration",
        "shootdown",
    ];

    pub fn pairs(&self) -> [(&'static str, &Histogram); 5] {
        [
            ("kmap_lock_wait", &self.kmap_lock_wait),
            ("kmap_lock_hold", &self.kmap_lock_hold),
            ("ipi_pending", &self.ipi_pending),
            ("flush_duration", &self.flush_duration),
            ("shootdown", &self.shootdown),
        ]
    }
}

/// lockmeter's figures for one spinlock (R. Bryant and J. Hawkes, "Lockmeter:
/// Highly-Informative Instrumentation for Spin Locks in the Linux Kernel", ALS 2000), kept as
/// exact sums; `LockStat::figures` turns them into lockmeter's UTIL, CON, HOLD, WAIT and
/// spin share. An acquisition is counted when `spin_lock()` returns (the holder starts running
/// under the lock, after the acquire or hand-off cost), a hold when the lock is released; a
/// hold still open when the run ends is in neither sum (docs/model.md, section 9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockStat {
    /// Times `spin_lock()` returned.
    pub acquisitions: u64,
    /// Of those, the ones that had to spin or compete (lockmeter's TOTAL minus NOWAIT).
    pub contended: u64,
    /// Releases, the cycles held in all and the longest hold.
    pub releases: u64,
    pub hold_sum: u64,
    pub hold_max: u64,
    /// Cycles from request to `spin_lock()` returning, summed over contended acquisitions
    /// (the hand-off and any IPI handler taken while spinning included), and the longest.
    pub wait_sum: u128,
    pub wait_max: u64,
    /// At the report: the hold still running (0 if none), and the waits still running (their
    /// cycles so far, summed, and the longest). They count in UTIL, the spin share and the
    /// maxima (a wait still running has lasted at least that long), not in the means.
    pub open_hold: u64,
    pub open_wait: u128,
    pub open_wait_max: u64,
}

/// The derived figures of one lock over a run, in lockmeter's terms.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LockFigures {
    /// CON: contended acquisitions as a percentage of all acquisitions.
    pub contended_pct: f64,
    /// UTIL: the percentage of the run's cycles the lock was held.
    pub util_pct: f64,
    /// HOLD: mean and longest hold, in cycles.
    pub hold_mean_cycles: f64,
    pub hold_max_cycles: f64,
    /// WAIT: mean and longest wait of a contended acquisition, in cycles.
    pub wait_mean_cycles: f64,
    pub wait_max_cycles: f64,
    /// All CPUs' spinning on this lock as a percentage of all CPUs' cycles (lockmeter's
    /// WAIT %CPU).
    pub spin_cpu_pct: f64,
}

impl LockStat {
    /// `spin_lock()` returned after waiting `wait` cycles (0 when it found the lock free).
    #[inline]
    pub fn acquired(&mut self, contended: bool, wait: u64) {
        self.acquisitions += 1;
        if contended {
            self.contended += 1;
            self.wait_sum += wait as u128;
            self.wait_max = self.wait_max.max(wait);
        }
    }

    /// `spin_unlock()` after holding the lock `hold` cycles.
    #[inline]
    pub fn released(&mut self, hold: u64) {
        self.releases += 1;
        self.hold_sum += hold;
        self.hold_max = self.hold_max.max(hold);
    }

    /// The sums of a lock whose waits and holds are kept as histograms (`kmap_lock`): one wait
    /// value per acquisition, 0 exactly for the uncontended ones (a contended wait includes the
    /// hand-off, at least a cycle), and one hold value per release.
    pub fn from_histograms(wait: &Histogram, hold: &Histogram) -> Self {
        LockStat {
            acquisitions: wait.count,
            contended: wait.count - wait.counts[0],
            releases: hold.count,
            hold_sum: hold.sum as u64,
            hold_max: hold.max,
            wait_sum: wait.sum,
            wait_max: wait.max,
            ..LockStat::default()
        }
    }

    /// The figures over a run of `cycles` cycles on `cpus` CPUs; 0 where a ratio has no
    /// denominator (no cycle, no acquisition, no release, no contended acquisition).
    pub fn figures(&self, cycles: u64, cpus: u64) -> LockFigures {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let (hold, wait) = (self.hold_sum as f64, self.wait_sum as f64);
        let held = hold + self.open_hold as f64;
        let spun = wait + self.open_wait as f64;
        LockFigures {
            contended_pct: 100.0 * ratio(self.contended as f64, self.acquisitions as f64),
            util_pct: 100.0 * ratio(held, cycles as f64),
            hold_mean_cycles: ratio(hold, self.releases as f64),
            hold_max_cycles: self.hold_max.max(self.open_hold) as f64,
            wait_mean_cycles: ratio(wait, self.contended as f64),
            wait_max_cycles: self.wait_max.max(self.open_wait_max) as f64,
            spin_cpu_pct: 100.0 * ratio(spun, cycles as f64 * cpus as f64),
        }
    }
}

/// One stale access: a TLB lookup that reached another page than the one the CPU mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleAccess {
    pub cycle: u64,
    pub cpu: u32,
    pub slot: u32,
    pub expected_page: u32,
    pub actual_page: u32,
    /// When this CPU's TLB loaded the entry it used.
    pub entry_loaded_at: u64,
    /// When the slot's page table entry last changed, and by which CPU.
    pub slot_remapped_at: u64,
    pub remapped_by: Option<u32>,
}

// SAFETY: a field-less enum, and integers (options of them), with derived `Clone`s.
crate::pack::plain!(unsafe Category, Counters, LockStat, StaleAccess);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_figures_follow_lockmeter() {
        // Four acquisitions in 1000 cycles on 2 CPUs: two found the lock free, two waited 30
        // and 90 cycles; holds of 100, 50, 50 and 200 cycles.
        let mut s = LockStat::default();
        s.acquired(false, 0);
        s.acquired(true, 30);
        s.acquired(false, 0);
        s.acquired(true, 90);
        for h in [100, 50, 50, 200] {
            s.released(h);
        }
        let f = s.figures(1000, 2);
        assert_eq!(f.contended_pct, 50.0);
        assert_eq!(f.util_pct, 40.0);
        assert_eq!((f.hold_mean_cycles, f.hold_max_cycles), (100.0, 200.0));
        assert_eq!((f.wait_mean_cycles, f.wait_max_cycles), (60.0, 90.0));
        assert_eq!(f.spin_cpu_pct, 6.0);
        assert_eq!(LockStat::default().figures(0, 1), LockFigures::default());
        // Still open at the end: a hold of 300 and two waits of 100 and 700 so far.
        s.open_hold = 300;
        s.open_wait = 800;
        s.open_wait_max = 700;
        let f = s.figures(1000, 2);
        assert_eq!((f.util_pct, f.spin_cpu_pct), (70.0, 46.0));
        assert_eq!((f.hold_max_cycles, f.wait_max_cycles), (300.0, 700.0));
        assert_eq!((f.hold_mean_cycles, f.wait_mean_cycles), (100.0, 60.0));
    }

    #[test]
    fn a_lock_kept_as_histograms_has_the_same_sums() {
        let (mut wait, mut hold) = (Histogram::default(), Histogram::default());
        let mut s = LockStat::default();
        for (w, contended) in [(0, false), (30, true), (0, false), (90, true)] {
            wait.record(w);
            s.acquired(contended, w);
        }
        for h in [100, 50, 50] {
            hold.record(h);
            s.released(h);
        }
        assert_eq!(LockStat::from_histograms(&wait, &hold), s);
    }

    #[test]
    fn histogram_buckets_are_log2() {
        let mut h = Histogram::default();
        for v in [0, 1, 2, 3, 4, 1023, 1024] {
            h.record(v);
        }
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[2], 2);
        assert_eq!(h.counts[3], 1);
        assert_eq!(h.counts[10], 1);
        assert_eq!(h.counts[11], 1);
        assert_eq!((h.count, h.min, h.max, h.sum), (7, 0, 1024, 2057));
    }
}
