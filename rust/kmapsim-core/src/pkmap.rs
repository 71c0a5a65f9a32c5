//! The pkmap pool of 2.4 `mm/highmem.c`: slot counts, the pkmap page table, each page's
//! `virtual`, the allocation cursor `last_pkmap_nr` and the wait queue `pkmap_map_wait`.
//!
//! The pool owns its allocation policy (`SlotAlloc`): the 2.4 cursor scan or the freelist of
//! docs/model.md, section 13. The engine asks it to `share`, `allocate`, `release` and
//! `flush_clear`, like `SpinLock::arbitrate` for the lock policy, and never edits the counts.
//!
//! Everything here runs under `kmap_lock`, so these are plain, instantaneous state changes; the
//! engine charges their time.

use crate::config::SlotAlloc;
use crate::key_bytes::Put;

/// "No page" / "no slot".
pub const NONE: u32 = u32::MAX;

/// What one stretch of `map_new_virtual()`'s scan ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// Took a free slot (already mapped: count 1 and then the caller's reference, count 2).
    Mapped { slot: u32 },
    /// The cursor wrapped to slot 0: `flush_all_zero_pkmaps()` must run, then the scan resumes by
    /// examining slot 0 without advancing.
    Wrapped,
    /// A whole lap found nothing free: the task must sleep on the wait queue.
    Exhausted,
    /// `split`: the cursor reached the end of its half while the other half's shootdown is still
    /// running: the task must sleep on the wait queue. The cursor is left on the half's last
    /// slot, so the retry reaches the end again.
    OtherHalfFlushing,
}

#[derive(Debug)]
pub struct Pkmap {
    /// `pkmap_count[]`: 0 free and clean, 1 unused but maybe cached in a TLB, n >= 2 in use.
    pub count: Vec<u32>,
    /// `pkmap_page_table[]`: the page each slot maps, or NONE.
    pub pte: Vec<u32>,
    /// Cycle and CPU of each slot's last page table change (for stale-access reports).
    pub pte_changed_at: Vec<u64>,
    pub pte_changed_by: Vec<u32>,
    /// `page->virtual` as a slot number, or NONE.
    pub virt: Vec<u32>,
    /// `last_pkmap_nr`.
    pub cursor: u32,
    mask: u32,
    /// CPUs asleep on `pkmap_map_wait`, in the order they went to sleep.
    pub waitq: Vec<u32>,
    /// `slot_alloc = "freelist"`: free and clean slots (a stack), and the slots with count 1
    /// waiting for the next flush (an intrusive doubly linked list, O(1) both ways). In a split
    /// pool, `free` is the active half's stack and `free_other` the other half's, and each half
    /// has its own dirty list.
    pub free: Vec<u32>,
    free_other: Vec<u32>,
    dirty_next: Vec<u32>,
    dirty_prev: Vec<u32>,
    dirty_head: [u32; 2],
    pub dirty_len: u32,
    /// The freelist's active half (the scan's is the cursor's).
    half: u32,
    /// Slots with count 0, kept up to date for the trace and samples.
    pub free_count: u32,
    /// Slots with count 1 (unused, maybe cached), kept up to date for a split pool's sleep rule.
    pub unused_count: u32,
    /// The slots the last `flush_clear` cleared, in order (`ranged` invalidates just these).
    pub cleared: Vec<u32>,
    /// `defer`: the flush generation that cleared each slot (0: never cleared).
    pub cleared_gen: Vec<u64>,
    /// How free slots are found and unused ones recycled.
    alloc: SlotAlloc,
    /// Slots in one lap of the cursor: the pool, or half of it when it is split (Bligh's split
    /// pool under `split`, the reserve of `defer`; docs/model.md 12.11, 12.12). A lap ends where
    /// the cursor's low bits wrap to 0, so the whole pool's lap ends at slot 0 as in 2.4.
    lap: u32,
    /// `split`: whether each half has been flushed since it was last cleared.
    clean: [bool; 2],
    /// The cursor has just entered a new lap and nobody has examined the slot under it yet:
    /// the next scan examines it before advancing (2.4's flusher does so holding the lock; a
    /// split pool's flusher drops the lock, and whoever scans next must not skip that slot).
    fresh: bool,
}

crate::reuse::clone_reusing!(Pkmap {
    count,
    pte,
    pte_changed_at,
    pte_changed_by,
    virt,
    cursor,
    mask,
    waitq,
    free,
    free_other,
    dirty_next,
    dirty_prev,
    dirty_head,
    dirty_len,
    half,
    free_count,
    unused_count,
    cleared,
    cleared_gen,
    alloc,
    lap,
    clean,
    fresh
});

impl Pkmap {
    /// A pool of `slots` (a power of two) for `pages` pages and `cpus` CPUs, whose cursor laps
    /// over the whole pool, or over one half at a time when `halves`.
    pub fn new(slots: u32, pages: u32, cpus: usize, alloc: SlotAlloc, halves: bool) -> Self {
        let lap = if halves { slots / 2 } else { slots };
        Pkmap {
            count: vec![0; slots as usize],
            pte: vec![NONE; slots as usize],
            pte_changed_at: vec![0; slots as usize],
            pte_changed_by: vec![NONE; slots as usize],
            virt: vec![NONE; pages as usize],
            cursor: 0,
            mask: slots - 1,
            waitq: Vec::with_capacity(cpus),
            // Popped from the end: slot 0 first; in a split pool, half 0's slots first.
            free: (0..lap).rev().collect(),
            free_other: (lap..slots).rev().collect(),
            dirty_next: vec![NONE; slots as usize],
            dirty_prev: vec![NONE; slots as usize],
            dirty_head: [NONE; 2],
            dirty_len: 0,
            half: 0,
            free_count: slots,
            unused_count: 0,
            cleared: Vec::with_capacity(slots as usize),
            cleared_gen: vec![0; slots as usize],
            alloc,
            lap,
            clean: [true; 2],
            fresh: false,
        }
    }

    /// `kmap_high()`'s fast path: if `page` is mapped, take one more reference to its slot.
    /// Returns the slot and its new count (>= 2 unless the counts are corrupt, a kernel BUG), or
    /// None if the page is not mapped.
    #[inline]
    pub fn share(&mut self, page: u32) -> Option<(u32, u32)> {
        let slot = self.virt[page as usize];
        if slot == NONE {
            return None;
        }
        let n = &mut self.count[slot as usize];
        *n += 1;
        let n = *n;
        if n == 2 {
            self.unused_count -= 1;
            if self.alloc == SlotAlloc::Freelist {
                self.remove_dirty(slot);
            }
        }
        Some((slot, n))
    }

    /// `map_new_virtual()` for `page`, by the pool's policy: the cursor scan (see `scan`: `left`
    /// is its loop count; after a flush, `flushes` > 0, it resumes on the slot under the cursor)
    /// or a freelist pop (nothing free right after the last flush a lap may run: exhausted; else
    /// a flush is due). `flushes` counts this call's flushes (see `loop_count`). Returns how the
    /// stretch ended and how many slots it examined.
    #[inline]
    pub fn allocate(
        &mut self,
        page: u32,
        left: &mut u32,
        flushes: u8,
        now: u64,
        cpu: u32,
    ) -> (ScanEnd, u64) {
        match self.alloc {
            SlotAlloc::Scan => self.scan(page, left, flushes > 0, now, cpu),
            SlotAlloc::Freelist => match self.pop_free(page, now, cpu) {
                Some(slot) => (ScanEnd::Mapped { slot }, 1),
                // Nothing free even right after the last flush a lap may run: sleep.
                None if flushes > 0 && !self.may_lap_again(flushes) => (ScanEnd::Exhausted, 1),
                // The end of the lap: a flush is due, if the half to switch to is clean.
                None if self.clean[self.half as usize ^ 1] => (ScanEnd::Wrapped, 1),
                None => (ScanEnd::OtherHalfFlushing, 1),
            },
        }
    }

    /// `kunmap_high()`: drop one reference to `page`'s slot. Returns the slot and its new count
    /// (0 means the counts were corrupt, a kernel BUG), or None if the page is not mapped. A slot
    /// that drops to 1 (unused, maybe cached) waits for the next flush.
    #[inline]
    pub fn release(&mut self, page: u32) -> Option<(u32, u32)> {
        let slot = self.virt[page as usize];
        if slot == NONE {
            return None;
        }
        let n = &mut self.count[slot as usize];
        *n -= 1;
        let count = *n;
        if count == 1 {
            self.unused_count += 1;
            if self.alloc == SlotAlloc::Freelist {
                self.push_dirty(slot);
            }
        }
        Some((slot, count))
    }

    /// `flush_all_zero_pkmaps()` up to `flush_tlb_all()`, by the pool's policy: every unused
    /// slot is cleared and becomes free. Returns how many were cleared and how many slots the
    /// loop walked (the scan walks the whole pool, the freelist only its dirty list), or the
    /// slot whose entry was already clear (a kernel BUG).
    pub fn flush_clear(&mut self, now: u64, cpu: u32) -> Result<(u64, u64), u32> {
        self.cleared.clear();
        match self.alloc {
            SlotAlloc::Scan => {
                self.fresh = true;
                Ok((self.clear_unused(now, cpu)?, self.lap as u64))
            }
            SlotAlloc::Freelist => {
                let cleared = self.clear_dirty(now, cpu)?;
                Ok((cleared, cleared))
            }
        }
    }

    fn map(&mut self, s: usize, page: u32, now: u64, cpu: u32) {
        // set_pte(); pkmap_count = 1; page->virtual = vaddr; then kmap_high's ++.
        self.count[s] = 2;
        self.free_count -= 1;
        self.pte[s] = page;
        self.pte_changed_at[s] = now;
        self.pte_changed_by[s] = cpu;
        self.virt[page as usize] = s as u32;
    }

    fn unmap(&mut self, s: usize, now: u64, cpu: u32) -> Result<(), u32> {
        let page = self.pte[s];
        if page == NONE {
            return Err(s as u32);
        }
        self.count[s] = 0;
        self.free_count += 1;
        self.unused_count -= 1;
        self.pte[s] = NONE;
        self.pte_changed_at[s] = now;
        self.pte_changed_by[s] = cpu;
        self.virt[page as usize] = NONE;
        Ok(())
    }

    /// Freelist allocation: pop a free slot and map `page` there, if there is one.
    fn pop_free(&mut self, page: u32, now: u64, cpu: u32) -> Option<u32> {
        let s = self.free.pop()?;
        self.map(s as usize, page, now, cpu);
        Some(s)
    }

    /// The half slot `s` is in (0 while the pool is whole).
    #[inline]
    fn half_of(&self, s: u32) -> usize {
        (s / self.lap) as usize & 1
    }

    /// Freelist bookkeeping: slot `s` just dropped to count 1 (unused, maybe cached).
    fn push_dirty(&mut self, s: u32) {
        let list = self.half_of(s);
        let h = self.dirty_head[list];
        self.dirty_next[s as usize] = h;
        self.dirty_prev[s as usize] = NONE;
        if h != NONE {
            self.dirty_prev[h as usize] = s;
        }
        self.dirty_head[list] = s;
        self.dirty_len += 1;
    }

    /// Freelist bookkeeping: slot `s` left count 1 by a new reference (the sharing path).
    fn remove_dirty(&mut self, s: u32) {
        let (p, n) = (self.dirty_prev[s as usize], self.dirty_next[s as usize]);
        if p == NONE {
            let list = self.half_of(s);
            self.dirty_head[list] = n;
        } else {
            self.dirty_next[p as usize] = n;
        }
        if n != NONE {
            self.dirty_prev[n as usize] = p;
        }
        self.dirty_len -= 1;
    }

    /// Freelist flush: every dirty slot (of the active half, in a split pool) is cleared and
    /// becomes free; a split pool then switches to its other half. Returns how many, or the slot
    /// whose entry was already clear (a kernel BUG).
    fn clear_dirty(&mut self, now: u64, cpu: u32) -> Result<u64, u32> {
        let mut n = 0;
        let list = self.half as usize;
        while self.dirty_head[list] != NONE {
            let s = self.dirty_head[list];
            self.dirty_head[list] = self.dirty_next[s as usize];
            debug_assert_eq!(self.count[s as usize], 1);
            self.unmap(s as usize, now, cpu)?;
            self.free.push(s);
            self.cleared.push(s);
            n += 1;
        }
        self.dirty_len -= n as u32;
        if self.split() {
            self.half ^= 1;
            std::mem::swap(&mut self.free, &mut self.free_other);
        }
        Ok(n)
    }

    fn slots(&self) -> u32 {
        self.mask + 1
    }

    /// Slots in one lap of the cursor: `map_new_virtual()`'s loop count (`LAST_PKMAP`, or half of
    /// it in a split pool).
    #[inline]
    pub fn lap(&self) -> u32 {
        self.lap
    }

    /// `map_new_virtual()`'s loop count after `flushes` flushes in this call: the slots one lap
    /// may examine before the task sleeps. 2.4 sleeps when the lap after its flush finds
    /// nothing, which is when every slot is in use. A split pool's flush clears only the half
    /// just left, so while some slot is free or unused the lap may examine one slot more, reach
    /// the end of the new half and retire that one too: a kmap sleeps only when every slot is
    /// in use, as in 2.4 (at most three flushes: the half left, the new one, the first again).
    #[inline]
    pub fn loop_count(&self, flushes: u8) -> u32 {
        self.lap + self.may_lap_again(flushes) as u32
    }

    /// Whether a lap after `flushes` flushes may still end in a flush: in a split pool, while
    /// some slot is free or unused.
    fn may_lap_again(&self, flushes: u8) -> bool {
        self.split() && flushes > 0 && self.free_count + self.unused_count > 0
    }

    /// Whether the pool is split in two halves.
    pub fn split(&self) -> bool {
        self.lap < self.slots()
    }

    /// The half allocations come from: the cursor's, or the freelist's (0 while the pool is
    /// whole).
    pub fn active_half(&self) -> usize {
        match self.alloc {
            SlotAlloc::Scan => self.half_of(self.cursor),
            SlotAlloc::Freelist => self.half as usize,
        }
    }

    /// `split`: the half the cursor just left was cleared; it is dirty until its shootdown ends.
    pub fn mark_flushing(&mut self) {
        self.clean[self.active_half() ^ 1] = false;
    }

    /// `split`: the shootdown of the other half has ended: it may be allocated from again.
    pub fn mark_clean(&mut self) {
        self.clean = [true; 2];
    }

    /// `split`: the half whose shootdown is still running, if any.
    pub fn dirty_half(&self) -> Option<usize> {
        self.clean.iter().position(|&c| !c)
    }

    /// The freelist's dirty list, head first (most recently dirtied first): the count-1 slots
    /// waiting for the next flush, in the order the flush will clear them. Read-only, for tests;
    /// always empty under `scan`.
    #[cfg(test)]
    pub(crate) fn dirty_slots(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for &head in &self.dirty_head {
            let mut s = head;
            while s != NONE {
                out.push(s);
                s = self.dirty_next[s as usize];
            }
        }
        out
    }

    /// Continue `map_new_virtual()`'s loop for `page`. `left` is the loop's `count` (slots still
    /// allowed to be examined this lap); `check_current` resumes right after a flush, where the
    /// kernel examines the slot the cursor is on without advancing. Returns how the stretch ended
    /// and how many slots the cursor advanced over.
    fn scan(
        &mut self,
        page: u32,
        left: &mut u32,
        mut check_current: bool,
        now: u64,
        cpu: u32,
    ) -> (ScanEnd, u64) {
        let mut advanced = 0u64;
        check_current |= std::mem::take(&mut self.fresh);
        loop {
            if !check_current {
                self.cursor = (self.cursor + 1) & self.mask;
                advanced += 1;
                if self.cursor & (self.lap - 1) == 0 {
                    return (self.lap_end(), advanced);
                }
            }
            check_current = false;
            let s = self.cursor as usize;
            if self.count[s] == 0 {
                self.map(s, page, now, cpu);
                return (ScanEnd::Mapped { slot: s as u32 }, advanced);
            }
            *left -= 1;
            if *left == 0 {
                return (ScanEnd::Exhausted, advanced);
            }
        }
    }

    /// The pool's part of the checker's key (`engine/key.rs`), written at the front of `k` as
    /// `key_bytes.rs` says (the rest of `k` returned): counts, entries (pages renamed by
    /// `page`), the cursor, the wait queue (its tasks renamed by `task`), the free lists in
    /// order, the halves, the last cleared slots and each slot's clearing generation
    /// renumbered by `generation`; change times are left out.
    pub fn abstract_key<'k>(
        &self,
        generation: &dyn Fn(u64) -> u32,
        task: &dyn Fn(u32) -> u32,
        page: &mut dyn FnMut(u32) -> u32,
        k: &'k mut [u8],
    ) -> &'k mut [u8] {
        // One count and one entry a slot, in every machine of a search: no lengths.
        let k = k.each(self.count.iter().copied());
        let mut k = k.each(self.pte.iter().map(|&p| page(p)));
        // `virtual` is the inverse of the entries (`map`, `unmap`): the entries say it all, and
        // leaving it out keeps the key free of page-indexed parts (symmetry over pages).
        debug_assert!(
            self.virt
                .iter()
                .enumerate()
                .all(|(p, &s)| { s == NONE || self.pte[s as usize] == p as u32 })
        );
        debug_assert!(
            self.pte
                .iter()
                .enumerate()
                .all(|(s, &p)| p == NONE || self.virt[p as usize] == s as u32)
        );
        k = k.u32s([self.cursor, self.half]);
        k = k.u8s([self.fresh as u8, self.clean[0] as u8, self.clean[1] as u8]);
        k = k.list(self.waitq.iter().map(|&id| task(id)));
        for list in [&self.free, &self.free_other, &self.cleared] {
            k = k.list(list.iter().copied());
        }
        for &head in &self.dirty_head {
            k = k.list(std::iter::successors(
                (head != NONE).then_some(head),
                |&s| {
                    let next = self.dirty_next[s as usize];
                    (next != NONE).then_some(next)
                },
            ));
        }
        k.list(self.cleared_gen.iter().map(|&g| generation(g)))
    }

    /// At least the bytes `abstract_key` writes: four for each count and entry, for each
    /// item of its seven lists and each list's length (a slot is in at most one dirty list),
    /// then the cursor, the half and the three flags.
    pub fn key_bound(&self) -> usize {
        let items = self.waitq.len()
            + self.free.len()
            + self.free_other.len()
            + self.cleared.len()
            + self.count.len()
            + self.cleared_gen.len();
        4 * (self.count.len() + self.pte.len()) + 4 * (items + 7) + 2 * 4 + 3
    }

    /// The cursor has just entered a new lap: a flush is due, unless in a split pool the half it
    /// enters is still being flushed (then it steps back onto the last slot of its half).
    fn lap_end(&mut self) -> ScanEnd {
        if self.clean[self.active_half()] {
            ScanEnd::Wrapped
        } else {
            self.cursor = (self.cursor + self.mask) & self.mask;
            ScanEnd::OtherHalfFlushing
        }
    }

    /// `flush_all_zero_pkmaps()` up to (not including) `flush_tlb_all()`: every slot with count 1
    /// in the lap the cursor just left (the whole pool, or the half being retired) becomes free,
    /// its page table entry cleared and its page's `virtual` reset. Returns the number of slots
    /// cleared, or the slot whose entry was already clear (a kernel BUG).
    fn clear_unused(&mut self, now: u64, cpu: u32) -> Result<u64, u32> {
        let mut cleared = 0;
        // The cursor is on the first slot of the new lap; the old lap is the one before it.
        let first = ((self.cursor + self.mask + 1 - self.lap) & self.mask) as usize;
        for s in first..first + self.lap as usize {
            if self.count[s] != 1 {
                continue;
            }
            self.unmap(s, now, cpu)?;
            self.cleared.push(s as u32);
            cleared += 1;
        }
        Ok(cleared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 2.4 cursor on a 4-slot pool, by hand: the cursor starts at 0, so the first mappings
    /// take slots 1, 2, 3; the fourth wraps to 0 and needs a flush, after which slot 0 is taken
    /// without advancing again.
    #[test]
    fn cursor_rules_by_hand() {
        let mut p = Pkmap::new(4, 100, 1, SlotAlloc::Scan, false);
        for (page, want) in [(10, 1), (11, 2), (12, 3)] {
            let mut left = 4;
            assert_eq!(
                p.scan(page, &mut left, false, 0, 0),
                (ScanEnd::Mapped { slot: want }, 1)
            );
            p.release(page); // kunmap
        }
        let mut left = 4;
        assert_eq!(p.scan(13, &mut left, false, 0, 0), (ScanEnd::Wrapped, 1));
        assert_eq!(p.clear_unused(5, 0), Ok(3));
        assert_eq!(p.virt[10], NONE);
        let mut left = 4;
        assert_eq!(
            p.scan(13, &mut left, true, 5, 0),
            (ScanEnd::Mapped { slot: 0 }, 0)
        );
        assert_eq!(p.virt[13], 0);
        assert_eq!(p.pte_changed_at[0], 5);
    }

    #[test]
    fn full_lap_exhausts() {
        let mut p = Pkmap::new(4, 100, 1, SlotAlloc::Scan, false);
        p.count = vec![2, 2, 2, 2];
        p.cursor = 1;
        let mut left = 4;
        // Examines 2, 3, then wraps at 0.
        assert_eq!(p.scan(50, &mut left, false, 0, 0), (ScanEnd::Wrapped, 3));
        assert_eq!(left, 2);
        assert_eq!(p.clear_unused(0, 0), Ok(0));
        let mut left = 4;
        // After the flush: 0, 1, 2, 3 are all busy: a whole lap.
        assert_eq!(p.scan(50, &mut left, true, 0, 0), (ScanEnd::Exhausted, 3));
    }

    #[test]
    fn freelist_pops_and_recycles_dirty_slots() {
        let mut p = Pkmap::new(4, 100, 1, SlotAlloc::Freelist, false);
        let got: Vec<u32> = (0..4).map(|pg| p.pop_free(pg, 0, 0).unwrap()).collect();
        assert_eq!(got, vec![0, 1, 2, 3]);
        assert_eq!(p.pop_free(9, 0, 0), None);
        for s in [1, 3, 2] {
            p.release(s); // page s is in slot s: count 1, on the dirty list
        }
        p.share(3); // page 3 shared again before the flush
        assert_eq!(p.dirty_len, 2);
        assert_eq!(p.clear_dirty(7, 0), Ok(2));
        assert_eq!((p.virt[1], p.virt[2], p.virt[3]), (NONE, NONE, 3));
        assert_eq!(p.count, vec![2, 0, 0, 2]);
        assert_eq!(p.free.len(), 2);
    }

    /// A split pool of 8 slots, by hand: the cursor laps over half 0 (slots 0-3), then half 1
    /// (4-7). Entering half 1 retires half 0: its flush clears slots 1-3 only, and the scan
    /// resumes on slot 4 without advancing. While half 0 is in flight, reaching the end of half
    /// 1 finds it dirty: the cursor steps back onto slot 7, so the retry reaches the end again.
    #[test]
    fn split_pool_laps_over_halves_by_hand() {
        let mut p = Pkmap::new(8, 100, 1, SlotAlloc::Scan, true);
        assert_eq!((p.lap(), p.split(), p.active_half()), (4, true, 0));
        for (page, want) in [(10, 1), (11, 2), (12, 3)] {
            let mut left = p.lap();
            let end = p.scan(page, &mut left, false, 0, 0);
            assert_eq!(end, (ScanEnd::Mapped { slot: want }, 1));
            p.release(page); // kunmap: count 1, maybe cached
        }
        let mut left = p.lap();
        assert_eq!(p.scan(13, &mut left, false, 0, 0), (ScanEnd::Wrapped, 1));
        assert_eq!((p.cursor, p.active_half()), (4, 1));
        // flush_clear walks the retired half only.
        assert_eq!(p.flush_clear(5, 0), Ok((3, 4)));
        assert_eq!(p.cleared, vec![1, 2, 3]);
        p.mark_flushing();
        assert_eq!(p.dirty_half(), Some(0));
        // Whoever scans next (here not the flusher, which dropped the lock) examines slot 4
        // before advancing: the first slot of a new half is not skipped.
        let mut left = p.lap();
        let end = p.scan(13, &mut left, false, 5, 0);
        assert_eq!(end, (ScanEnd::Mapped { slot: 4 }, 0));
        p.count[5] = 2;
        p.count[6] = 2;
        p.count[7] = 2;
        // Slots 5-7 busy; the end of half 1 finds half 0 still in flight.
        let mut left = p.lap();
        let end = p.scan(14, &mut left, false, 6, 0);
        assert_eq!(end, (ScanEnd::OtherHalfFlushing, 4));
        assert_eq!(p.cursor, 7);
        p.mark_clean();
        let mut left = p.lap();
        assert_eq!(p.scan(14, &mut left, false, 7, 0), (ScanEnd::Wrapped, 1));
        assert_eq!(p.cursor, 0);
        // Now half 1 is retired: its unused slots (none: 4-7 are in use) are cleared.
        assert_eq!(p.flush_clear(8, 0), Ok((0, 4)));
        let mut left = p.lap();
        let end = p.scan(14, &mut left, true, 8, 0);
        assert_eq!(end, (ScanEnd::Mapped { slot: 0 }, 0));
    }

    #[test]
    fn clearing_an_unmapped_unused_slot_is_a_bug() {
        let mut p = Pkmap::new(4, 100, 1, SlotAlloc::Scan, false);
        p.count[2] = 1;
        assert_eq!(p.clear_unused(0, 0), Err(2));
    }
}
