//! Spinlocks: `kmap_lock`, `call_lock` and the K interrupts-off locks of the workload.
//!
//! A CPU that wants a lock joins its waiter list; the engine arbitrates free locks once per cycle,
//! after every CPU has acted. The lock itself only knows who holds it, who spins, and how to pick
//! the next holder.

use crate::config::Arbitration;
use crate::rng::{self, Stream};
use crate::stats::LockStat;

/// Index of a lock in the machine's lock table.
pub type LockId = u32;
pub const KMAP_LOCK: LockId = 0;
pub const CALL_LOCK: LockId = 1;
/// Interrupts-off lock `k` is `IRQ_LOCK_BASE + k`.
pub const IRQ_LOCK_BASE: LockId = 2;

/// Which of a CPU's hold slots lock `l` uses: a CPU holds at most `kmap_lock`, `call_lock`
/// (taken under `kmap_lock` by the flush) and one interrupts-off lock at once.
#[inline]
pub fn hold_class(l: LockId) -> usize {
    (l as usize).min(IRQ_LOCK_BASE as usize)
}

/// Human name of a lock, for error messages.
pub fn lock_name(id: LockId) -> String {
    match id {
        KMAP_LOCK => "kmap_lock".into(),
        CALL_LOCK => "call_lock".into(),
        k => format!("irq_lock[{}]", k - IRQ_LOCK_BASE),
    }
}

#[derive(Debug)]
pub struct SpinLock {
    pub holder: Option<u32>,
    /// Spinners in arrival order (ties in CPU order, as CPUs act in index order).
    pub waiters: Vec<u32>,
    /// Set while the lock is on the engine's list of locks to arbitrate this cycle.
    pub dirty: bool,
    /// lockmeter's sums for this lock.
    pub stat: LockStat,
    /// When the holder started running under the lock (`spin_lock()` returned); None while
    /// the lock is free or its new holder is still paying the acquire or hand-off.
    pub held_since: Option<u64>,
    rng: Stream,
}

crate::pack::pack_each!(SpinLock);

crate::reuse::clone_reusing!(SpinLock {
    holder,
    waiters,
    dirty,
    held_since,
    rng
} statistics {
    stat
});

/// The outcome of an arbitration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub cpu: u32,
    /// Whether the winner competed or waited (hand-off cost) rather than found the lock idle.
    pub contended: bool,
}

impl SpinLock {
    pub fn new(seed: u64, id: LockId, max_waiters: usize) -> Self {
        SpinLock {
            holder: None,
            waiters: Vec::with_capacity(max_waiters),
            dirty: false,
            stat: LockStat::default(),
            held_since: None,
            rng: rng::lock_stream(seed, id),
        }
    }

    /// Make the lock's arbitration read the thread's script (the checker).
    pub fn script(&mut self) {
        self.rng.script();
    }

    /// Whether the engine must arbitrate this lock now.
    #[inline]
    pub fn wants_grant(&self) -> bool {
        self.holder.is_none() && !self.waiters.is_empty()
    }

    /// Pick the next holder of a free lock. `spinning(cpu)` tells whether a waiter is actively
    /// spinning (not in an interrupt handler); `requested_now(cpu)` whether it asked this cycle.
    ///
    /// - `tas`: test-and-set; only active spinners can win, drawn uniformly from the lock's stream.
    /// - `fifo`: ticket order; the head wins even inside a handler (it will notice when it returns).
    pub fn arbitrate(
        &mut self,
        policy: Arbitration,
        spinning: impl Fn(u32) -> bool,
        requested_now: impl Fn(u32) -> bool,
    ) -> Option<Grant> {
        debug_assert!(self.wants_grant());
        let idx = match policy {
            Arbitration::Fifo => 0,
            Arbitration::Tas => {
                // Nobody spinning (all in handlers): no grant and no draw, so that arbitrating
                // an idle lock every cycle (step mode) and only on change (skip) agree. The
                // scan stops at the first spinner, normally the first waiter.
                if !self.waiters.iter().any(|&c| spinning(c)) {
                    return None;
                }
                let n = self.waiters.len();
                // One draw among all spinners (none when there is no choice). A draw that lands
                // on a CPU inside an IPI handler, which is not spinning, is redrawn among the
                // spinning ones: the winner stays uniform over the CPUs that spin, and the
                // common case costs O(1) however long the queue is.
                let first = if n == 1 {
                    0
                } else {
                    self.rng.below(0, n as u64) as usize
                };
                if spinning(self.waiters[first]) {
                    first
                } else {
                    let eligible = self.waiters.iter().filter(|&&c| spinning(c)).count();
                    let nth = self.rng.below(0, eligible as u64) as usize;
                    let (i, _) = self
                        .waiters
                        .iter()
                        .enumerate()
                        .filter(|&(_, &c)| spinning(c))
                        .nth(nth)?;
                    i
                }
            }
        };
        let contended = self.waiters.len() > 1 || !requested_now(self.waiters[idx]);
        // Arrival order only matters to a ticket lock.
        let cpu = match policy {
            Arbitration::Fifo => self.waiters.remove(idx),
            Arbitration::Tas => self.waiters.swap_remove(idx),
        };
        self.holder = Some(cpu);
        Some(Grant { cpu, contended })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_grants_head_even_if_busy() {
        let mut l = SpinLock::new(1, KMAP_LOCK, 4);
        l.waiters.extend([3, 1, 2]);
        let g = l
            .arbitrate(Arbitration::Fifo, |_| false, |_| false)
            .unwrap();
        assert_eq!(
            g,
            Grant {
                cpu: 3,
                contended: true
            }
        );
        assert_eq!(l.waiters, vec![1, 2]);
        assert!(!l.wants_grant());
    }

    #[test]
    fn tas_skips_cpus_in_handlers_and_idle_lock_is_uncontended() {
        let mut l = SpinLock::new(1, KMAP_LOCK, 4);
        l.waiters.extend([0, 1]);
        assert_eq!(l.arbitrate(Arbitration::Tas, |_| false, |_| true), None);
        let g = l.arbitrate(Arbitration::Tas, |c| c == 1, |_| true).unwrap();
        assert_eq!(g.cpu, 1);
        l.holder = None;
        let g = l.arbitrate(Arbitration::Tas, |_| true, |_| true).unwrap();
        assert_eq!(
            g,
            Grant {
                cpu: 0,
                contended: false
            }
        );
    }

    #[test]
    fn tas_winners_are_uniform_over_spinning_cpus_only() {
        let mut wins = [0u32; 4];
        let mut l = SpinLock::new(3, KMAP_LOCK, 4);
        for _ in 0..4000 {
            l.holder = None;
            l.waiters.clear();
            l.waiters.extend([0, 1, 2, 3]);
            let g = l
                .arbitrate(Arbitration::Tas, |c| c >= 2, |_| false)
                .unwrap();
            wins[g.cpu as usize] += 1;
        }
        assert_eq!(wins[0] + wins[1], 0);
        assert!(wins[2] > 1800 && wins[3] > 1800, "{wins:?}");
    }

    #[test]
    fn tas_winners_spread() {
        let mut wins = [0u32; 3];
        let mut l = SpinLock::new(9, KMAP_LOCK, 4);
        for _ in 0..3000 {
            l.holder = None;
            l.waiters.clear();
            l.waiters.extend([0, 1, 2]);
            wins[l
                .arbitrate(Arbitration::Tas, |_| true, |_| false)
                .unwrap()
                .cpu as usize] += 1;
        }
        assert!(wins.iter().all(|&w| w > 800), "{wins:?}");
    }
}
