//! The fingerprints of the states the checker has seen (`check.rs`), 16 bytes each: a path is
//! found through `Search::parent`. While a breadth-first level is expanded on threads
//! (`check_expand.rs`), the states seen before it began are one table the threads read without
//! a lock, since nothing writes it then, and the states the merge admits meanwhile go into a
//! second, which only the merge reads and writes; at the end of the level the second is folded
//! into the first.

use std::collections::HashSet;

/// A hasher for fingerprints, which are already uniform: their low word is the hash.
#[derive(Default)]
pub(super) struct FingerprintHasher(u64);

impl std::hash::Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u128`s are hashed here (`write_u128`); any other key still hashes soundly.
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01B3);
        }
    }

    fn write_u128(&mut self, fp: u128) {
        self.0 = fp as u64;
    }
}

/// A set of fingerprints, hashed by their low word.
pub(super) type FpSet = HashSet<u128, std::hash::BuildHasherDefault<FingerprintHasher>>;

/// The set: `old`, and while a level is expanded on threads, `new` (module docs).
#[derive(Default)]
pub(super) struct Seen {
    old: FpSet,
    new: FpSet,
}

/// The set while a level is expanded on threads: what the threads read, and what the merge
/// adds to.
pub(super) struct Split<'a> {
    pub old: &'a FpSet,
    pub new: &'a mut FpSet,
}

impl Split<'_> {
    /// The fingerprints in the set.
    pub fn len(&self) -> usize {
        self.old.len() + self.new.len()
    }

    /// Whether `fp` is in the set, for an `fp` the threads found not in `old` (`reached` in
    /// `check_expand.rs`): only `new` can hold it, so `old`, a table of megabytes, is not read
    /// again (a cache miss for each state, on the merge's thread).
    pub fn contains_unseen(&self, fp: u128) -> bool {
        self.check_unseen(fp);
        self.new.contains(&fp)
    }

    /// Add `fp`, which the threads found not in `old`; whether it is new (`contains_unseen`).
    pub fn insert_unseen(&mut self, fp: u128) -> bool {
        self.check_unseen(fp);
        self.new.insert(fp)
    }

    /// Debug builds: `fp` is not in `old`, as the callers' contract says.
    #[inline(always)]
    fn check_unseen(&self, fp: u128) {
        debug_assert!(
            !self.old.contains(&fp),
            "a fingerprint the threads found seen"
        );
    }
}

impl Seen {
    /// The fingerprints in the set (none while it is held apart, split: `Split::len`).
    pub fn len(&self) -> usize {
        self.old.len() + self.new.len()
    }

    /// Whether `fp` is in the set.
    pub fn contains(&self, fp: u128) -> bool {
        debug_assert!(self.new.is_empty(), "folded");
        self.old.contains(&fp)
    }

    /// Add `fp`; whether it is new.
    pub fn insert(&mut self, fp: u128) -> bool {
        debug_assert!(self.new.is_empty(), "folded");
        self.old.insert(fp)
    }

    /// The set split for a level on threads; `fold` it after.
    pub fn split(&mut self) -> Split<'_> {
        Split {
            old: &self.old,
            new: &mut self.new,
        }
    }

    /// Fold what the merge added into the table the threads read.
    pub fn fold(&mut self) {
        self.old.reserve(self.new.len());
        self.old.extend(self.new.drain());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_new_once_whether_the_set_is_split_or_not() {
        let mut seen = Seen::default();
        let fps: Vec<u128> = (1..=1000u128)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
            .collect();
        for &fp in &fps[..500] {
            assert!(seen.insert(fp));
        }
        let mut split = seen.split();
        let old = split.old;
        for (i, &fp) in fps.iter().enumerate() {
            // The threads read the old table only, and hand the merge what it does not hold.
            assert_eq!(old.contains(&fp), i < 500);
            if i < 500 {
                continue;
            }
            assert!(!split.contains_unseen(fp));
            assert!(split.insert_unseen(fp), "fingerprint {i}");
            assert!(split.contains_unseen(fp) && !split.insert_unseen(fp));
        }
        assert_eq!(split.len(), 1000);
        seen.fold();
        assert_eq!(seen.len(), 1000);
        assert!(fps.iter().all(|&fp| seen.contains(fp) && !seen.insert(fp)));
        assert!(!seen.contains(0));
    }

    /// A fingerprint the old table holds is never handed to the split set's merge side
    /// (debug builds check it).
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "a fingerprint the threads found seen")]
    fn the_merge_side_refuses_a_fingerprint_seen_before_the_level() {
        let mut seen = Seen::default();
        seen.insert(7);
        seen.split().insert_unseen(7);
    }
}
