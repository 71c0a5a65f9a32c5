//! The CPUs' next deadlines in `skip` mode: a tournament tree (a min-tree over one leaf per CPU).
//!
//! Each leaf holds its CPU's heap key `key(until, cpu)` (`u64::MAX` while the CPU has no stretch
//! ahead), and each inner node the smaller of its two children, so the root is the next
//! (cycle, CPU) to act. A deadline change walks its leaf-to-root path (all of it: see `set`);
//! nothing goes stale. A binary heap of keys (the engine's first queue) took a
//! push per stretch and a pop per event, and held stale keys besides: its sift-down was the
//! largest entry of the profile (docs/performance.md).

/// A leaf's value while its CPU waits: above every key.
pub(super) const IDLE: u64 = u64::MAX;

#[derive(Debug)]
pub(super) struct Deadlines {
    /// Leaves from `leaves` to `2 * leaves - 1`, node `i`'s children at `2i` and `2i + 1`; node
    /// 0 is unused.
    tree: Vec<u64>,
    leaves: usize,
    /// log2(leaves): the levels above a leaf.
    depth: u32,
}

crate::reuse::clone_reusing!(Deadlines {
    tree,
    leaves,
    depth
});

impl Deadlines {
    /// `cpus` leaves, every CPU waiting.
    pub(super) fn new(cpus: usize) -> Self {
        let leaves = cpus.max(1).next_power_of_two();
        Deadlines {
            tree: vec![IDLE; 2 * leaves],
            leaves,
            depth: leaves.trailing_zeros(),
        }
    }

    /// The smallest key: the next CPU to act and its cycle (IDLE when none has a stretch ahead).
    #[inline(always)]
    pub(super) fn first(&self) -> u64 {
        self.tree[1]
    }

    /// CPU `c`'s key.
    #[inline(always)]
    pub(super) fn get(&self, c: usize) -> u64 {
        self.tree[self.leaves + c]
    }

    /// Set CPU `c`'s key and restore the minimum along its path to the root.
    ///
    /// The walk always goes to the root, with no test on the way: a leaf that changes is
    /// nearly always on the path of the minimum (the CPU that just acted), so an early exit
    /// saved no levels and cost a compare and a mispredicted branch at each
    /// (docs/performance.md, Profile).
    #[inline(always)]
    pub(super) fn set(&mut self, c: usize, k: u64) {
        assert!(c < self.leaves, "CPU {c} has no leaf");
        let tree = &mut self.tree[..];
        let mut i = self.leaves + c;
        // SAFETY: `tree` has 2 * leaves entries (`new`), i starts below that and only halves,
        // and i ^ 1 < 2 * leaves whenever i < 2 * leaves.
        unsafe {
            *tree.get_unchecked_mut(i) = k;
            for _ in 0..self.depth {
                let m = (*tree.get_unchecked(i)).min(*tree.get_unchecked(i ^ 1));
                i >>= 1;
                *tree.get_unchecked_mut(i) = m;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root is the minimum of the leaves after any sequence of changes.
    #[test]
    fn root_is_the_smallest_leaf() {
        let mut rng = crate::rng::task_stream(7, 0);
        for n in [1usize, 2, 3, 5, 8, 64, 100] {
            let mut d = Deadlines::new(n);
            let mut leaves = vec![IDLE; n];
            assert_eq!(d.first(), IDLE);
            for _ in 0..2000 {
                let c = rng.below(0, n as u64) as usize;
                let k = match rng.chance(0.2) {
                    true => IDLE,
                    false => rng.below(0, 50),
                };
                d.set(c, k);
                leaves[c] = k;
                assert_eq!(d.first(), *leaves.iter().min().unwrap());
                assert_eq!(d.get(c), k);
            }
        }
    }
}
