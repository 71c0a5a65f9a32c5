//! A breadth-first level of the checker's search (`check.rs`): its states' indices and their
//! machines, packed one after another in one arena (`pack.rs`, which says why).

use crate::engine::Engine;
use crate::pack::{Byte, Pack};

/// The states of one level, in the order they were admitted.
#[derive(Default)]
pub(super) struct Level {
    /// Each state's index (its entry in `Search::parent`).
    idx: Vec<u32>,
    /// Where each state's machine ends in `bytes` (it begins where the one before ends).
    ends: Vec<usize>,
    bytes: Vec<Byte>,
}

impl Level {
    /// Add state `idx`, whose machine is `e`.
    pub fn push(&mut self, idx: u32, e: &Engine) {
        // Room for one more machine as large as the last, so that packing does not grow the
        // arena part by part.
        let last = self.ends.last().map_or(0, |&end| {
            end - self.ends.len().checked_sub(2).map_or(0, |i| self.ends[i])
        });
        self.bytes.reserve(last);
        crate::pack::pack(e, &mut self.bytes);
        self.idx.push(idx);
        self.ends.push(self.bytes.len());
    }

    pub fn len(&self) -> usize {
        self.idx.len()
    }

    /// State `i`: its index and its packed machine.
    pub fn get(&self, i: usize) -> (u32, &[Byte]) {
        let from = if i == 0 { 0 } else { self.ends[i - 1] };
        (self.idx[i], &self.bytes[from..self.ends[i]])
    }

    /// Empty it, keeping its buffers.
    pub fn clear(&mut self) {
        self.idx.clear();
        self.ends.clear();
        self.bytes.clear();
    }
}

/// Make `e` (a machine of the same search) the packed machine `bytes`.
pub(super) fn unpack(e: &mut Engine, bytes: &[Byte]) {
    let rest = e.unpack(bytes);
    debug_assert!(rest.is_empty(), "a machine unpacks whole");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::tests::machine;
    use crate::config::Strategy;
    use crate::engine::KeySpace;

    /// The key without renamings, and the report: everything the search and its caller read.
    fn seen(e: &Engine) -> (Vec<u64>, crate::report::RunReport) {
        let key = e.key(e.symmetry(false), &mut KeySpace::default()).to_vec();
        (key, e.report())
    }

    #[test]
    fn a_machine_unpacked_into_another_of_its_search_is_the_one_packed_and_runs_on_alike() {
        let mut events = Vec::new();
        for &strategy in Strategy::ALL {
            let mut sc = machine(strategy, 3, 4, 6);
            sc.tasks = 4;
            let mut e = Engine::explorer(&sc).unwrap();
            // As the search holds them (`check::search`).
            e.drop_histograms();
            // Another machine of the search, in another state: the root, then each state
            // before the one packed.
            let mut other = Box::new(e.clone());
            let mut level = Level::default();
            for step in 0..60 {
                e.enabled(&mut events);
                let Some(&ev) = events.get(step * 7 % events.len().max(1)) else {
                    break;
                };
                level.push(step as u32, &e);
                unpack(&mut other, level.get(step).1);
                assert_eq!(seen(&other), seen(&e), "{strategy:?}, step {step}");
                let a = e.fire(ev).map_err(|x| x.to_string());
                let b = other.fire(ev).map_err(|x| x.to_string());
                assert_eq!(a, b, "{strategy:?}, step {step}");
                assert_eq!(seen(&other), seen(&e), "{strategy:?}, after step {step}");
                if a.is_err() {
                    break;
                }
                // The next state is unpacked over another: this one run one step further.
                (*other).clone_from(&e);
                other.enabled(&mut events);
                if let Some(&ev) = events.last() {
                    let _ = other.fire(ev);
                }
            }
            assert!(level.len() > 20, "{strategy:?}: {} states", level.len());
        }
    }
}
