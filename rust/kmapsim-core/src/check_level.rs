//! A breadth-first level of the checker's search (`check.rs`): its states' indices and their
//! machines, packed one after another in one arena (`pack.rs`, which says why).

use super::dfs::Root;
use crate::engine::Engine;
use crate::pack::{Byte, Pack};
use std::cell::UnsafeCell;

/// The bytes a chunk of a level's arena holds at least: a level grows by chunks, never by
/// moving what it holds (a vector that doubles copies itself, and for a moment holds both
/// copies), and its chunks go on to the levels after it.
const CHUNK: usize = 1 << 20;

/// The states of one level, in the order they were admitted. The threads expanding the level
/// read its states while the search hands the chunks it has expanded on to the next level
/// (`check_expand.rs`), without a lock: a chunk is handed on only once no thread reads it
/// (`expanded`'s contract).
#[derive(Default)]
pub(super) struct Level {
    states: Vec<State>,
    chunks: Vec<Chunk>,
    /// Chunks of earlier levels, emptied, for this one's next states.
    spare: Vec<Vec<Byte>>,
}

/// A state of a level: its index (its entry in `Search::parent`), and where its packed machine
/// is: the chunk, and the bytes in it.
struct State {
    idx: u32,
    chunk: u32,
    from: usize,
    to: usize,
}

impl Level {
    /// Add state `idx`, whose machine is `e`.
    pub fn push(&mut self, idx: u32, e: &Engine) {
        let n = e.packed_len();
        self.append(idx, n, |chunk| crate::pack::pack_counted(e, n, chunk));
    }

    /// Add state `idx`, whose machine `bytes` holds packed (by `pack::pack_counted`).
    pub fn push_bytes(&mut self, idx: u32, bytes: &[Byte]) {
        self.append(idx, bytes.len(), |chunk| chunk.extend_from_slice(bytes));
    }

    /// Add state `idx`, whose `n` bytes `write` appends to a chunk with room for them.
    fn append(&mut self, idx: u32, n: usize, write: impl FnOnce(&mut Vec<Byte>)) {
        let chunk = self.room(n);
        let from = chunk.len();
        write(chunk);
        let to = chunk.len();
        let chunk = self.chunks.len() as u32 - 1;
        self.states.push(State {
            idx,
            chunk,
            from,
            to,
        });
    }

    /// The last chunk, with room for `n` more bytes (a new one if it has not).
    fn room(&mut self, n: usize) -> &mut Vec<Byte> {
        let full = |c: &mut Chunk| {
            let c = c.bytes.get_mut();
            c.capacity() - c.len() < n
        };
        if self.chunks.last_mut().is_none_or(full) {
            let mut chunk = self.spare.pop().unwrap_or_default();
            chunk.reserve_exact(n.max(CHUNK));
            self.chunks.push(Chunk::new(chunk));
        }
        self.chunks
            .last_mut()
            .expect("one with room")
            .bytes
            .get_mut()
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// The index of state `i`.
    pub fn index(&self, i: usize) -> u32 {
        self.states[i].idx
    }

    /// Make `e` (a machine of the same search) state `i`'s machine.
    pub fn unpack_into(&self, i: usize, e: &mut Engine) {
        let s = &self.states[i];
        let chunk = &self.chunks[s.chunk as usize];
        let _reading = chunk.reading();
        // SAFETY: the chunk is not being handed on (`expanded`'s contract: state `i`, which is
        // being read, is not expanded yet), so no `&mut` to it exists.
        let all: &Vec<Byte> = unsafe { &*chunk.bytes.get() };
        let bytes = &all[s.from..s.to];
        // SAFETY: `push` packed a machine into exactly these bytes (`Pack::unpack`'s
        // condition); a machine of another shape panics on its CPUs' or locks' count.
        let rest = unsafe { e.unpack(bytes) };
        assert!(rest.is_empty(), "a machine unpacks whole");
    }

    /// State `i` is expanded, and every state before it: if it is the last of its chunk,
    /// the chunk goes to `next`'s spares, so that a level being expanded gives its memory to
    /// the level it fills as it goes, and the two together hold about one level's worth.
    ///
    /// # Safety
    /// No thread reads a state up to `i` now or later (`unpack_into`): they are expanded.
    /// The states of a chunk are consecutive, so the chunk handed on holds none other.
    pub unsafe fn expanded(&self, i: usize, next: &mut Level) {
        let c = self.states[i].chunk;
        if self.states.get(i + 1).is_none_or(|s| s.chunk != c) {
            let chunk = &self.chunks[c as usize];
            chunk.unread();
            // SAFETY: no thread reads this chunk (the contract), so this is the only reference
            // to its bytes.
            let mut freed = std::mem::take(unsafe { &mut *chunk.bytes.get() });
            freed.clear();
            next.spare.push(freed);
        }
    }

    /// Empty it, keeping its chunks (those not handed on) for the next states.
    pub fn clear(&mut self) {
        self.states.clear();
        for chunk in self.chunks.drain(..) {
            let mut chunk = chunk.bytes.into_inner();
            if chunk.capacity() > 0 {
                chunk.clear();
                self.spare.push(chunk);
            }
        }
    }

    /// Drop the last state, and free the chunk that held it once it is empty.
    fn pop(&mut self) {
        let Some(s) = self.states.pop() else {
            return;
        };
        let chunk = self.chunks[s.chunk as usize].bytes.get_mut();
        chunk.truncate(s.from);
        if chunk.is_empty() {
            self.chunks.truncate(s.chunk as usize);
        }
    }
}

/// A chunk of a level's arena: its bytes, which the threads expanding the level read without
/// a lock and the search takes once they are done with them (`Level::expanded`).
#[derive(Default)]
struct Chunk {
    bytes: UnsafeCell<Vec<Byte>>,
    /// Threads reading it now: the debug builds' check of `expanded`'s contract.
    #[cfg(debug_assertions)]
    readers: std::sync::atomic::AtomicU32,
}

// SAFETY: a chunk's bytes are only read through a shared reference, but by `expanded`, whose
// contract is that no thread reads them then or later; a `&mut` reaches them otherwise only
// through `&mut Chunk`.
unsafe impl Sync for Chunk {}

/// A read of a chunk in progress (debug builds count them).
struct Reading<'a>(#[allow(dead_code)] &'a Chunk);

impl Chunk {
    fn new(bytes: Vec<Byte>) -> Self {
        Chunk {
            bytes: UnsafeCell::new(bytes),
            #[cfg(debug_assertions)]
            readers: Default::default(),
        }
    }

    fn reading(&self) -> Reading<'_> {
        #[cfg(debug_assertions)]
        self.readers
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Reading(self)
    }

    /// Check that no thread reads it (debug builds).
    fn unread(&self) {
        #[cfg(debug_assertions)]
        assert_eq!(
            self.readers.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "a chunk handed on while a thread reads it"
        );
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        self.0
            .readers
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The states the depth-first search starts from when a level outgrows `max_frontier`: the
/// rest of the level being expanded and the whole next level, handed out last first (the
/// next level's states first), each unpacked into a machine of its own only when it is taken,
/// so that memory stays that of the two levels.
pub(super) struct Roots {
    /// A machine of the search, copied for each root's machine.
    like: Box<Engine>,
    /// Each level, its depth, and its first state to hand out.
    levels: Vec<(u32, Level, usize)>,
}

impl Roots {
    /// The states `from` on of `level` (at `depth`), then every state of `next`.
    pub fn new(like: Box<Engine>, depth: u32, level: Level, from: usize, next: Level) -> Self {
        Roots {
            like,
            levels: vec![(depth, level, from), (depth + 1, next, 0)],
        }
    }

    /// The next root, its machine a copy (by `copy`) of a machine of the search, made the
    /// root's; a level is freed once it has handed out all its states.
    pub fn pop(&mut self, copy: impl FnOnce(&Engine) -> Box<Engine>) -> Option<Root> {
        loop {
            let (depth, level, from) = self.levels.last_mut()?;
            if level.len() > *from {
                let i = level.len() - 1;
                let mut e = copy(&self.like);
                level.unpack_into(i, &mut e);
                let root = (*depth, level.index(i), e);
                level.pop();
                return Some(root);
            }
            self.levels.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::tests::machine;
    use crate::config::{Scenario, SlotAlloc, Strategy, Workload};
    use crate::engine::KeySpace;

    /// The keys with and without renamings, and the report but for its statistics (the CPUs'
    /// categories and the locks' sums, which a level does not keep): everything the search and
    /// its caller read of a machine, and more.
    fn seen(e: &Engine) -> (Vec<u8>, Vec<u8>, crate::report::RunReport) {
        let mut space = KeySpace::default();
        let plain = e.key(e.symmetry(false), &mut space).to_vec();
        let renamed = e.key(e.symmetry(true), &mut space).to_vec();
        let mut report = e.report();
        report.breakdown.clear();
        report.lock_stats.clear();
        (plain, renamed, report)
    }

    /// A machine just unpacked counts its statistics from there: no lock sums, and each CPU's
    /// categories only its stretch in progress (a checker's machine folds nothing).
    fn counts_from_here(e: &Engine) -> bool {
        let r = e.report();
        let closed = |s: &crate::stats::LockStat| crate::stats::LockStat {
            open_hold: 0,
            open_wait: 0,
            open_wait_max: 0,
            ..*s
        };
        r.lock_stats
            .iter()
            .all(|s| closed(s) == crate::stats::LockStat::default())
            && r.breakdown
                .iter()
                .all(|row| row.iter().filter(|&&n| n > 0).count() <= 1)
    }

    /// A checker's machine as the search holds it (no histograms).
    fn explorer(sc: &Scenario) -> Engine {
        let mut e = Engine::explorer(sc).unwrap();
        e.drop_histograms();
        e
    }

    /// The machines the walks run on: one task a CPU and more tasks than CPUs, with context
    /// switches, interrupts-off sections, shared pages, the freelist, and the workloads that
    /// block (their wake-ups wait in the timers' heap) or hold two mappings.
    fn variants(strategy: Strategy) -> Vec<Scenario> {
        (0..6)
            .map(|v| {
                let mut sc = machine(strategy, 2 + v % 2, 4, 6);
                sc.tasks = if v >= 2 { 5 } else { 3 };
                if v % 2 == 1 {
                    sc.ctx_switch_prob = 0.5;
                    sc.irq_section_prob = 0.3;
                    sc.shared_page_prob = 0.3;
                }
                if v == 3 {
                    sc.slot_alloc = SlotAlloc::Freelist;
                }
                match v {
                    4 => sc.workload = Workload::PteHighmem,
                    5 => sc.workload = Workload::TwoPageCopy,
                    _ => {}
                }
                sc
            })
            .collect()
    }

    #[test]
    fn a_machine_unpacked_over_another_of_its_search_is_the_one_packed_and_runs_on_alike() {
        // A fixed walk: each step's event and first choice drawn by an LCG.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut draw = move |n: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as usize % n.max(1)
        };
        let (mut events, mut steps) = (Vec::new(), 0);
        for &strategy in Strategy::ALL {
            for sc in variants(strategy) {
                let mut e = explorer(&sc);
                // Machines of the search in other states: the walk's earlier ones.
                let mut earlier = vec![e.clone()];
                let mut level = Level::default();
                for step in 0..100 {
                    e.enabled(&mut events);
                    if events.is_empty() {
                        break;
                    }
                    let ev = events[draw(events.len())];
                    level.push(step, &e);
                    let mut other = earlier[draw(earlier.len())].clone();
                    level.unpack_into(step as usize, &mut other);
                    let at = format!("{strategy:?}, {sc:?}, step {step}");
                    assert_eq!(seen(&other), seen(&e), "{at}");
                    assert!(counts_from_here(&other), "{at}");
                    earlier.push(e.clone());
                    // The same event in both, with the same outcome of its first choice.
                    let mut probe = e.clone();
                    let (_, made) = crate::rng::with_script(&[], || probe.fire(ev));
                    let script: Vec<u32> = made
                        .first()
                        .map_or(vec![], |&(_, n)| vec![draw(n as usize) as u32]);
                    let (a, _) = crate::rng::with_script(&script, || e.fire(ev));
                    // `other`'s statistics are not `e`'s (it counts from its unpacking):
                    // nothing either does may depend on them.
                    let (b, _) = crate::rng::with_script(&script, || other.fire(ev));
                    let error =
                        |r: Result<(), _>| r.map_err(|x: crate::error::SimError| x.to_string());
                    assert_eq!(error(a.clone()), error(b), "{at}");
                    assert_eq!(seen(&other), seen(&e), "after {at}");
                    steps += 1;
                    if a.is_err() {
                        break;
                    }
                }
            }
        }
        assert!(steps > 5_000, "{steps} steps compared");
    }

    #[test]
    fn a_level_hands_each_chunk_it_has_expanded_to_the_next_level_which_packs_into_it() {
        let e = explorer(&machine(Strategy::Sync, 2, 2, 3));
        let (mut level, mut next) = (Level::default(), Level::default());
        let n = 3 * CHUNK / e.packed_len();
        for i in 0..n as u32 {
            level.push(i, &e);
        }
        assert!(level.chunks.len() >= 3, "{} chunks", level.chunks.len());
        let held: Vec<*const Byte> = level
            .chunks
            .iter_mut()
            .map(|c| c.bytes.get_mut().as_ptr())
            .collect();
        for i in 0..n {
            // SAFETY: nothing else reads the level.
            unsafe { level.expanded(i, &mut next) };
        }
        assert!(
            level
                .chunks
                .iter_mut()
                .all(|c| c.bytes.get_mut().capacity() == 0)
        );
        for i in 0..n as u32 {
            next.push(i, &e);
        }
        // Every chunk of the next level is one the level before handed on: none allocated.
        assert!(
            next.chunks
                .iter_mut()
                .all(|c| held.contains(&c.bytes.get_mut().as_ptr()))
        );
        let mut m = explorer(&machine(Strategy::Sync, 2, 2, 3));
        next.unpack_into(n - 1, &mut m);
        assert_eq!(seen(&m), seen(&e));
    }

    #[test]
    #[should_panic(expected = "unpacked into a machine of the same shape")]
    fn a_machine_unpacked_into_one_of_another_shape_panics() {
        let mut level = Level::default();
        level.push(0, &explorer(&machine(Strategy::Sync, 2, 4, 6)));
        level.unpack_into(0, &mut explorer(&machine(Strategy::Sync, 3, 4, 6)));
    }

    #[test]
    fn the_roots_are_the_rest_of_a_level_then_the_next_level_handed_out_last_first() {
        let sc = machine(Strategy::Sync, 2, 2, 3);
        let mut e = explorer(&sc);
        let (mut level, mut next, mut keys) = (Level::default(), Level::default(), vec![]);
        let mut events = Vec::new();
        for i in 0..12u32 {
            // Spread over the two levels, six states each.
            let into = if i < 6 { &mut level } else { &mut next };
            into.push(100 + i, &e);
            keys.push(seen(&e).0);
            e.enabled(&mut events);
            e.fire(events[0]).unwrap();
        }
        let mut roots = Roots::new(Box::new(e.clone()), 7, level, 2, next);
        let mut got = vec![];
        while let Some((depth, idx, m)) = roots.pop(|like| Box::new(like.clone())) {
            assert_eq!(seen(&m).0, keys[(idx - 100) as usize], "state {idx}");
            got.push((depth, idx));
        }
        let want: Vec<(u32, u32)> = (6..12)
            .rev()
            .map(|i| (8, 100 + i))
            .chain((2..6).rev().map(|i| (7, 100 + i)))
            .collect();
        assert_eq!(got, want);
    }
}
