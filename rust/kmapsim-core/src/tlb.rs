//! A CPU's TLB, as far as pkmap translations go: bounded, least-recently-used.
//!
//! Only pkmap entries are modelled. Unrelated memory traffic is represented by evicting the least
//! recently used pkmap entries at a configured rate. The entries are global pages (2.4 maps pkmap
//! with `_PAGE_GLOBAL`), so a context switch does not drop them; only a full flush or eviction does.

use crate::key_bytes::Put;

/// One cached translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub slot: u32,
    pub page: u32,
    /// Cycle at which the entry was loaded by a page walk.
    pub loaded_at: u64,
    last_use: u64,
}

/// A per-CPU TLB. Lookups scan a short array: pkmap TLB shares are tens of entries, where a scan
/// of contiguous slots beats any index structure.
#[derive(Debug)]
pub struct Tlb {
    capacity: usize,
    entries: Vec<Entry>,
    clock: u64,
}

crate::reuse::clone_reusing!(Tlb {
    capacity,
    entries,
    clock
});

impl Tlb {
    pub fn new(capacity: usize) -> Self {
        Tlb {
            capacity,
            entries: Vec::with_capacity(capacity),
            clock: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The cached entry for `slot`, marked as just used.
    #[inline]
    pub fn lookup(&mut self, slot: u32) -> Option<Entry> {
        self.clock += 1;
        let clock = self.clock;
        let e = self.entries.iter_mut().find(|e| e.slot == slot)?;
        e.last_use = clock;
        Some(*e)
    }

    /// The cached entry for `slot`, left as it is (no use is counted).
    #[inline]
    pub fn peek(&self, slot: u32) -> Option<&Entry> {
        self.entries.iter().find(|e| e.slot == slot)
    }

    /// `n` more lookups of `slot`, which is cached: the same state as `n` calls of `lookup`.
    #[inline]
    pub fn touch(&mut self, slot: u32, n: u64) {
        if n == 0 {
            return;
        }
        self.clock += n;
        let clock = self.clock;
        if let Some(e) = self.entries.iter_mut().find(|e| e.slot == slot) {
            e.last_use = clock;
        } else {
            debug_assert!(false, "touch() of slot {slot}, which is not cached");
        }
    }

    /// Cache a translation loaded by a page walk, evicting the least recently used when full.
    pub fn insert(&mut self, slot: u32, page: u32, now: u64) {
        self.clock += 1;
        let e = Entry {
            slot,
            page,
            loaded_at: now,
            last_use: self.clock,
        };
        if self.entries.len() == self.capacity {
            let i = self.lru();
            self.entries[i] = e;
        } else {
            self.entries.push(e);
        }
    }

    /// Drop the entry for `slot`, if any (invlpg).
    pub fn invalidate(&mut self, slot: u32) {
        if let Some(i) = self.entries.iter().position(|e| e.slot == slot) {
            self.entries.swap_remove(i);
        }
    }

    /// Drop every entry (a full flush, global pages included).
    pub fn flush(&mut self) {
        self.entries.clear();
    }

    /// Evict up to `n` least recently used entries; returns how many went.
    pub fn evict_lru(&mut self, n: u64) -> u64 {
        let n = n.min(self.entries.len() as u64);
        for _ in 0..n {
            let i = self.lru();
            self.entries.swap_remove(i);
        }
        n
    }

    /// The TLB's part of the checker's key (`engine/key.rs`), written at the front of `k` (the
    /// rest returned): the number of entries, then the entries as (slot, page), from least to
    /// most recently used if `lru_read` (an eviction may still come), else by slot: when the
    /// TLB holds every slot at once and nothing evicts, no transition reads the use order.
    /// `page` renames pages (the checker's symmetry over pages). Load times and the use clock
    /// are left out.
    pub fn abstract_key<'k>(
        &self,
        lru_read: bool,
        page: &mut dyn FnMut(u32) -> u32,
        order: &mut Vec<(u64, u32, u32)>,
        k: &'k mut [u8],
    ) -> &'k mut [u8] {
        // Sorted in the caller's scratch space: a key allocates nothing.
        order.clear();
        order.extend(self.entries.iter().map(|e| {
            let by = if lru_read { e.last_use } else { e.slot as u64 };
            (by, e.slot, e.page)
        }));
        order.sort_unstable();
        let mut k = k.u32s([order.len() as u32]);
        for &(_, slot, p) in order.iter() {
            k = k.u32s([slot, page(p)]);
        }
        k
    }

    /// How many entries it holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lru(&self) -> usize {
        let mut best = 0;
        for (i, e) in self.entries.iter().enumerate() {
            if e.last_use < self.entries[best].last_use {
                best = i;
            }
        }
        best
    }
}

// SAFETY: integers and a flag, with a derived `Clone`.
crate::pack::plain!(unsafe Entry);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_order_and_flush() {
        let mut t = Tlb::new(2);
        t.insert(1, 10, 0);
        t.insert(2, 20, 1);
        assert_eq!(t.lookup(1).unwrap().page, 10); // 2 is now the LRU
        t.insert(3, 30, 2);
        assert!(t.lookup(2).is_none());
        assert_eq!(t.lookup(3).unwrap().loaded_at, 2);
        assert_eq!(t.evict_lru(1), 1);
        assert!(t.lookup(1).is_none(), "1 was least recently used");
        t.flush();
        assert_eq!(t.len(), 0);
        assert_eq!(t.evict_lru(5), 0);
    }
}
