//! Optional time series: the machine's state sampled every K cycles (docs/model.md, section
//! 15, "Time series").
//!
//! A sample at cycle b describes the state at the start of cycle b (after every cycle before
//! it). Both time-advance modes take samples at exactly the same cycles, so series are equal.

use super::Engine;
use crate::report::Sample;

#[derive(Clone, Debug)]
pub(super) struct Sampler {
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
    pub(super) fn take_samples(&mut self, upto: u64) {
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
