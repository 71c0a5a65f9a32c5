//! Seeded random streams.
//!
//! Every random choice comes from a PCG-64 (`rand_pcg::Pcg64`, the XSL-RR 128/64 LCG) stream.
//! Each task has stream id `task`, each spinlock stream id `2^64 + lock`. A stream's 128-bit state
//! and its increment both come from SplitMix64 applied to the run's `seed` and the stream id, so
//! streams differ in state as well as increment (PCG streams that share a state are correlated).
//! Nothing depends on how the run is executed, so results depend only on scenario, seed and
//! cycles.

use rand::RngExt;
use rand_pcg::Pcg64;
use std::cell::RefCell;

/// SplitMix64: a bijective mixer that spreads nearby seeds far apart.
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn stream(seed: u64, id: u128) -> Stream {
    // Mix the stream id into the seed's SplitMix sequence, then draw state and increment.
    let (mut lo, mut hi) = (id as u64, (id >> 64) as u64 ^ 0x5EED);
    let mut x = seed ^ splitmix64(&mut lo) ^ splitmix64(&mut hi).rotate_left(32);
    let mut word = || splitmix64(&mut x) as u128;
    let state = (word() << 64) | word();
    let inc = (word() << 64) | word();
    Stream {
        pcg: Pcg64::new(state, inc),
        scripted: false,
    }
}

/// The random stream of task `task` (its program's draws). Stream id `task`: with one task per
/// CPU, task i's stream is the one CPU i had before tasks existed, so old results reproduce.
pub fn task_stream(seed: u64, task: u32) -> Stream {
    stream(seed, task as u128)
}

/// The stream the checker's witness search draws its timings from (`witness.rs`).
pub fn witness_stream(seed: u64) -> Stream {
    stream(seed, 2u128 << 64)
}

/// The random stream of spinlock `lock` (test-and-set arbitration).
pub fn lock_stream(seed: u64, lock: u32) -> Stream {
    stream(seed, (1u128 << 64) | lock as u128)
}

/// A random stream with the few draws the model needs.
///
/// A *scripted* stream (the checker's, `check.rs`) draws nothing: each choice with more than one
/// outcome is read from this thread's `Script`, so that the checker can branch over every
/// outcome; durations are their mean (time is abstracted away there).
#[derive(Clone, Debug, PartialEq)]
pub struct Stream {
    pcg: Pcg64,
    scripted: bool,
}

/// The choices scripted streams make during one transition: the outcomes given in advance
/// (`given`), then outcome 0 for every further choice; `made` records every choice made, as
/// (outcome, number of outcomes), so that the checker can run the transition again with each
/// other outcome of each choice past the given ones.
#[derive(Clone, Debug, Default)]
pub struct Script {
    pub given: Vec<u32>,
    pub made: Vec<(u32, u32)>,
}

thread_local! {
    static SCRIPT: RefCell<Script> = RefCell::new(Script::default());
}

/// Run `f` with `given` as this thread's script; returns its result and the choices it made.
pub fn with_script<R>(given: &[u32], f: impl FnOnce() -> R) -> (R, Vec<(u32, u32)>) {
    let mut made = Vec::new();
    let r = with_script_into(given, &mut made, f);
    (r, made)
}

/// `with_script`, the choices made into `made` (its old contents dropped). The buffers trade
/// places with the thread's, so that a caller that keeps `made` allocates nothing.
pub fn with_script_into<R>(given: &[u32], made: &mut Vec<(u32, u32)>, f: impl FnOnce() -> R) -> R {
    SCRIPT.with(|s| {
        let mut s = s.borrow_mut();
        s.given.clear();
        s.given.extend_from_slice(given);
        s.made.clear();
    });
    let r = f();
    SCRIPT.with(|s| std::mem::swap(&mut s.borrow_mut().made, made));
    r
}

/// The scripted outcome of a choice among `n` (>= 2): the next given one, else 0.
fn scripted_choice(n: u64) -> u64 {
    SCRIPT.with(|s| {
        let mut s = s.borrow_mut();
        let n = n.min(u32::MAX as u64) as u32;
        let k = s.given.get(s.made.len()).copied().unwrap_or(0);
        debug_assert!(k < n, "scripted choice {k} of {n}");
        s.made.push((k, n));
        k as u64
    })
}

impl Stream {
    /// Make this stream read the thread's script instead of drawing.
    pub fn script(&mut self) {
        self.scripted = true;
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        self.pcg.random::<f64>()
    }

    /// `true` with probability `p`. Always one draw, even when `p` is 0 or 1, so that a
    /// probability's value never shifts the draws after it (other parameters, such as a `fixed`
    /// distribution, do change which draws are made). Scripted: a choice only if 0 < p < 1.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        if self.scripted {
            return p >= 1.0 || (p > 0.0 && scripted_choice(2) == 0);
        }
        self.unit() < p
    }

    /// Uniform integer in [lo, hi). `hi > lo`.
    #[inline]
    pub fn below(&mut self, lo: u64, hi: u64) -> u64 {
        if self.scripted {
            return lo
                + if hi - lo > 1 {
                    scripted_choice(hi - lo)
                } else {
                    0
                };
        }
        self.pcg.random_range(lo..hi)
    }

    /// Exponential with mean `mean`, rounded down, at least 1 (scripted: the mean).
    #[inline]
    pub fn exponential(&mut self, mean: u64) -> u64 {
        if self.scripted {
            return mean.max(1);
        }
        let u = self.unit();
        let x = -(1.0 - u).ln() * mean as f64;
        // `as` saturates, so a huge draw cannot wrap.
        (x as u64).max(1)
    }
}

/// A checker's machine's streams are all scripted (`Engine::explorer`): they read the thread's
/// script and never draw from their generator, so there is nothing of them to pack, and
/// unpacking leaves the target's stream, scripted too. Packing one that draws is a bug of the
/// checker's. (A task's context, packed whole, carries its stream's bytes: `task.rs`.)
impl crate::pack::Pack for Stream {
    fn packed_len(&self) -> usize {
        assert!(self.scripted, "a checker's machine draws from no stream");
        0
    }

    fn pack_into<'a>(&self, out: &'a mut [crate::pack::Byte]) -> &'a mut [crate::pack::Byte] {
        out
    }

    unsafe fn unpack<'a>(&mut self, input: &'a [crate::pack::Byte]) -> &'a [crate::pack::Byte] {
        assert!(self.scripted, "a checker's machine draws from no stream");
        input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scripted_stream_packs_to_nothing() {
        use crate::pack::Pack;
        let mut s = task_stream(7, 0);
        s.script();
        assert_eq!(s.packed_len(), 0);
    }

    #[test]
    #[should_panic(expected = "a checker's machine draws from no stream")]
    fn a_stream_that_draws_is_refused_by_packing() {
        crate::pack::Pack::packed_len(&task_stream(7, 0));
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| task_stream(7, 0).below(0, 1 << 40))
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut s0 = task_stream(7, 0);
        let mut s1 = task_stream(7, 1);
        let mut l0 = lock_stream(7, 0);
        let x: Vec<u64> = (0..8).map(|_| s0.below(0, u64::MAX)).collect();
        let y: Vec<u64> = (0..8).map(|_| s1.below(0, u64::MAX)).collect();
        let z: Vec<u64> = (0..8).map(|_| l0.below(0, u64::MAX)).collect();
        assert_ne!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn exponential_mean_is_close() {
        let mut s = task_stream(1, 3);
        let n = 200_000;
        let sum: u64 = (0..n).map(|_| s.exponential(1000)).sum();
        let mean = sum as f64 / n as f64;
        assert!((mean - 1000.0).abs() < 15.0, "{mean}");
    }
}
