//! Optional time series: the machine's state sampled every K cycles.
//!
//! A sample at cycle b describes the state at the start of cycle b (after every cycle before
//! it). Both time-advance modes take samples at exactly the same cycles, so series are equal.

use crate::engine::Engine;

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

#[derive(Clone, Debug)]
pub(crate) struct Sampler {
    pub every: u64,
    pub next: u64,
    pub rows: Vec<Sample>,
}

impl Engine {
    /// Sample every `every` cycles from the current cycle on (0 turns sampling off).
    pub fn enable_sampling(&mut self, every: u64) {
        self.sampler = (every > 0).then(|| Sampler {
            every,
            next: self.now,
            rows: Vec::new(),
        });
    }

    /// Take every sample due before cycle `upto` (exclusive); the state is the current one.
    #[inline]
    pub(crate) fn take_samples(&mut self, upto: u64) {
        let Some(s) = self.sampler.as_ref() else {
            return;
        };
        if s.next >= upto {
            return;
        }
        let row = Sample {
            cycle: 0,
            kmaps: self.counters.kmaps,
            kunmaps: self.counters.kunmaps,
            kmap_lock_waiters: self.locks[crate::lock::KMAP_LOCK as usize].waiters.len() as u32,
            free_slots: self.pk.free_count,
            ipis_outstanding: self.counters.ipis_sent - self.counters.ipis_handled,
            sleeping: self.pk.waitq.len() as u32,
        };
        let s = self.sampler.as_mut().expect("checked above");
        while s.next < upto {
            s.rows.push(Sample {
                cycle: s.next,
                ..row
            });
            s.next += s.every;
        }
    }

    /// The samples taken so far.
    pub fn samples(&self) -> &[Sample] {
        self.sampler.as_ref().map_or(&[], |s| &s.rows)
    }
}
