//! The fingerprints of the states the checker has seen (`check.rs`), 16 bytes each: a path is
//! found through `Search::parent`. The set is cut into shards by a fingerprint's high bits,
//! each behind a lock of its own, so that the threads expanding a breadth-first level can ask
//! it while the search adds to it (`check_expand.rs`); a search with the set to itself (one
//! thread, the depth-first continuation) takes no lock. How many it holds is the search's
//! count (`Search::states`).

use std::collections::HashSet;
use std::sync::RwLock;

/// Shards: enough that two threads rarely want one at once.
const SHARDS: usize = 64;

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
type Shard = FpSet;

/// The set. The search adds to it through `&mut` (no lock) but while the threads of a level
/// share it (`insert_shared`).
pub(super) struct Seen {
    shards: Box<[RwLock<Shard>]>,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

/// The shard of `fp`: by bits the shards' tables do not hash by (they take the low word).
fn shard(fp: u128) -> usize {
    (fp >> 64) as usize % SHARDS
}

impl Seen {
    /// Whether `fp` is in the set.
    pub fn contains(&self, fp: u128) -> bool {
        let shard = &self.shards[shard(fp)];
        shard
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&fp)
    }

    /// Add `fp`; whether it is new.
    pub fn insert(&mut self, fp: u128) -> bool {
        let shard = self.shards[shard(fp)].get_mut();
        shard.unwrap_or_else(|e| e.into_inner()).insert(fp)
    }

    /// `insert`, while other threads ask the set.
    pub fn insert_shared(&self, fp: u128) -> bool {
        let shard = &self.shards[shard(fp)];
        shard.write().unwrap_or_else(|e| e.into_inner()).insert(fp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_new_once_whether_the_set_is_shared_or_not() {
        let mut seen = Seen::default();
        let fps: Vec<u128> = (1..=1000u128)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
            .collect();
        // Unshared: no lock.
        for &fp in &fps[..500] {
            assert!(seen.insert(fp));
        }
        // Shared with a thread that asks it: through the shards' locks.
        std::thread::scope(|scope| {
            let asked = scope.spawn(|| fps[..500].iter().all(|&fp| seen.contains(fp)));
            for (i, &fp) in fps.iter().enumerate() {
                assert_eq!(seen.insert_shared(fp), i >= 500, "fingerprint {i}");
            }
            assert!(asked.join().unwrap());
        });
        assert!(fps.iter().all(|&fp| !seen.insert(fp) && seen.contains(fp)));
        assert!(!seen.contains(0));
    }
}
