//! Spinlock requests, releases and grants (docs/model.md, section 5): a CPU joins a lock's
//! spinners, phase 3 of each cycle gives a free lock to one of them (`SpinLock::arbitrate`), and
//! the winner's program goes on after the acquire or hand-off cost.

use super::Engine;
use crate::cpu::Wait;
use crate::lock::{KMAP_LOCK, LockId, hold_class};
use crate::stats::LockStat;
use crate::trace::EventKind as E;
use crate::trace::trace;

impl Engine {
    pub(super) fn request_lock(&mut self, c: usize, l: LockId, t: u64) {
        let cpu = &mut self.cpus[c];
        cpu.lock_req_at = t;
        cpu.wait = Wait::Lock(l);
        self.locks[l as usize].waiters.push(c as u32);
        if l == KMAP_LOCK {
            let waiters = self.locks[l as usize].waiters.len() as u32;
            trace!(self, t, c, E::LockQueue { waiters });
        }
        if self.locks[l as usize].holder.is_none() {
            self.mark_dirty(l);
        }
    }

    pub(super) fn release_lock(&mut self, l: LockId, c: usize, t: u64) {
        trace!(self, t, c, E::LockReleased { lock: l });
        let lock = &mut self.locks[l as usize];
        debug_assert_eq!(lock.holder, Some(c as u32));
        lock.holder = None;
        lock.held_since = None;
        let waiters = !lock.waiters.is_empty();
        // From the holder's first cycle under the lock (not the grant) to this release.
        let hold = t - self.cpus[c].hold_start[hold_class(l)];
        // kmap_lock's sums are its histograms' (`lock_stat_now`): recorded once.
        if l == KMAP_LOCK {
            self.record(|h| &mut h.kmap_lock_hold, hold);
        } else {
            lock.stat.released(hold);
        }
        if waiters {
            self.mark_dirty(l);
        }
    }

    /// Phase 3: give free lock `l` to one of its spinners.
    pub(super) fn grant(&mut self, l: LockId, t: u64) {
        let cpus = &self.cpus;
        let Some(g) = self.locks[l as usize].arbitrate(
            self.sc.lock_arbitration,
            |w| !cpus[w as usize].in_handler(),
            |w| cpus[w as usize].lock_req_at == t,
        ) else {
            return;
        };
        self.events += 1;
        let c = g.cpu as usize;
        if l == KMAP_LOCK {
            let waiters = self.locks[l as usize].waiters.len() as u32;
            trace!(self, t, c, E::LockQueue { waiters });
        }
        let cost = if g.contended {
            // Every CPU still spinning re-reads the line as it moves (docs/model.md, 18).
            let spinners = self.locks[l as usize].waiters.len() as u64;
            self.sc.lock_handoff_cycles + spinners * self.sc.lock_handoff_per_waiter_cycles
        } else {
            self.sc.lock_acquire_cycles
        };
        trace!(self, t, c, E::LockAcquired { lock: l });
        if l == KMAP_LOCK {
            self.counters.kmap_lock_acquires += 1;
            self.counters.kmap_lock_contended += g.contended as u64;
        }
        self.cpus[c].lock_contended = g.contended;
        // The acquire/hand-off cost is not hold time (it is booked as `kmap_spin`): the holder's
        // `kmap_lock_wait` ends and its `kmap_lock_hold` begins only when it runs under the lock
        // (`KmapGranted`/`KunmapGranted`), where lockmeter's spin_lock() would return.
        self.wake(c, t, cost);
    }

    /// `spin_lock()` returns on CPU `c`: its wait for lock `l` ends and its hold begins
    /// (docs/model.md, section 9).
    #[inline]
    pub(super) fn lock_running(&mut self, c: usize, l: LockId, t: u64) {
        let cpu = &mut self.cpus[c];
        let wait = cpu.lock_wait(t);
        cpu.hold_start[hold_class(l)] = t;
        let contended = cpu.lock_contended;
        if l == KMAP_LOCK {
            self.record(|h| &mut h.kmap_lock_wait, wait);
        } else {
            self.locks[l as usize].stat.acquired(contended, wait);
        }
        self.locks[l as usize].held_since = Some(t);
    }

    /// Lock `l`'s sums with the hold and the waits still open now (`LockStat::open_*`): the
    /// spinners, and a new holder still in a contended hand-off.
    pub(super) fn lock_stat_now(&self, l: usize) -> LockStat {
        let (lock, now) = (&self.locks[l], self.now);
        let mut s = if l == KMAP_LOCK as usize {
            match self.hist.as_deref() {
                Some(h) => LockStat::from_histograms(&h.kmap_lock_wait, &h.kmap_lock_hold),
                None => LockStat::default(),
            }
        } else {
            lock.stat
        };
        s.open_hold = lock.held_since.map_or(0, |since| now - since);
        let handing_off = lock
            .holder
            .filter(|&h| lock.held_since.is_none() && self.cpus[h as usize].lock_contended);
        for w in lock.waiters.iter().copied().chain(handing_off) {
            let wait = now - self.cpus[w as usize].lock_req_at;
            s.open_wait += wait as u128;
            s.open_wait_max = s.open_wait_max.max(wait);
        }
        s
    }

    /// The extra cycles of a `kmap_lock` section for the CPUs spinning on the lock now: the
    /// holder's accesses to the lock's cache line are stolen back by each spinner's read
    /// (`lock_hold_per_waiter_cycles`, docs/model.md section 18).
    #[inline]
    pub(super) fn line_contention(&self) -> u64 {
        self.locks[KMAP_LOCK as usize].waiters.len() as u64 * self.sc.lock_hold_per_waiter_cycles
    }

    /// End CPU `c`'s wait: its program goes on `delay` cycles from `t` (after the IPI handler
    /// it may be in).
    pub(super) fn wake(&mut self, c: usize, t: u64, delay: u64) {
        let cpu = &mut self.cpus[c];
        cpu.wait = Wait::None;
        match cpu.saved.as_mut() {
            Some(s) => s.remaining = delay,
            None => self.set_until(c, t + delay),
        }
    }
}
