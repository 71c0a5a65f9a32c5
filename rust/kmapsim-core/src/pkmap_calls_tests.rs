//! One task's sequence of `kmap()`/`kunmap()` calls, replayed on the pkmap pool alone, with
//! mappings held across calls, shared (count > 2) and re-mapped (unmapped to count 1 and kmapped
//! again): the slots, counts and flush points must be exactly those of 2.4.0's `mm/highmem.c`
//! (docs/model.md, sections 4 and 13).
//!
//! `replay` drives a `Pkmap` the way the engine does (`engine/kmap.rs`, `kunmap.rs`, `flush.rs`):
//! `share`, else `allocate` with `left = LAST_PKMAP`; a `Wrapped` end runs `flush_clear` and
//! resumes with `left = LAST_PKMAP` "right after a flush"; an `Exhausted` end is the sleep on
//! `pkmap_map_wait` (with one task and nobody to kunmap: forever); `release` and the engine's
//! BUG checks for kunmap. Timing, locks and TLBs are not involved.
//!
//! Every expected sequence below is derived by hand in its comments, then checked; and
//! `scan_matches_a_2_4_0_reference_model` compares the pool with a step-by-step
//! reference model of 2.4.0's algorithm over random call sequences.

use crate::config::SlotAlloc;
use crate::pkmap::{NONE, Pkmap, ScanEnd};

/// Pages of the tests (any page numbers below `PAGES`).
const A: u32 = 0;
const B: u32 = 1;
const C: u32 = 2;
const D: u32 = 3;
const E: u32 = 4;
const PAGES: u32 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Kmap(u32),
    Kunmap(u32),
}
use Call::{Kmap, Kunmap};

/// The engine's kernel BUG checks (`engine/kmap.rs`, `kunmap.rs`, `flush.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bug {
    /// `kmap_high`: the count after the increment is < 2.
    KmapCountBelow2,
    /// `kunmap_high`: the page has no `virtual`.
    KunmapNotMapped,
    /// `kunmap_high`: the count reached 0.
    KunmapCountZero,
    /// `flush_all_zero_pkmaps`: a count-1 slot without a PTE.
    FlushNoPte,
}

/// What one call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// `kmap()` returned `slot`, whose count is now `count`. `examined` is what `allocate`
    /// reported (scan: cursor advances; freelist: pop attempts), 0 for the sharing path (the page
    /// was mapped: no scan). `flushed`: a `flush_all_zero_pkmaps()` ran before the mapping and
    /// cleared that many slots.
    Kmapped {
        slot: u32,
        count: u32,
        examined: u64,
        flushed: Option<u64>,
    },
    /// `kunmap()` dropped `slot` to `count`.
    Kunmapped { slot: u32, count: u32 },
    /// `map_new_virtual()` found nothing free after a full lap (scan) or right after a flush
    /// (freelist): the task sleeps. Ends the sequence.
    WouldSleep { examined: u64, flushed: Option<u64> },
    /// A kernel BUG. Ends the sequence.
    Bug(Bug),
}

/// A hit: the page was mapped, one more reference, no scan.
fn hit(slot: u32, count: u32) -> Outcome {
    Outcome::Kmapped {
        slot,
        count,
        examined: 0,
        flushed: None,
    }
}

/// A new mapping without a flush.
fn new(slot: u32, examined: u64) -> Outcome {
    Outcome::Kmapped {
        slot,
        count: 2,
        examined,
        flushed: None,
    }
}

/// A new mapping after a flush that cleared `cleared` slots.
fn new_after_flush(slot: u32, examined: u64, cleared: u64) -> Outcome {
    Outcome::Kmapped {
        slot,
        count: 2,
        examined,
        flushed: Some(cleared),
    }
}

fn unmapped(slot: u32, count: u32) -> Outcome {
    Outcome::Kunmapped { slot, count }
}

/// `kmap_high()` as the engine runs it (`kmap_mapped`, `scan_resume`, `flush_begin`,
/// `resume_after_flush`).
fn kmap(pk: &mut Pkmap, last_pkmap: u32, page: u32, now: u64) -> Outcome {
    if let Some((slot, count)) = pk.share(page) {
        if count < 2 {
            return Outcome::Bug(Bug::KmapCountBelow2);
        }
        return hit(slot, count);
    }
    let mut left = last_pkmap;
    let mut flushes = 0;
    let mut examined = 0;
    let mut flushed = None;
    loop {
        let (end, advanced) = pk.allocate(page, &mut left, flushes, now, 0);
        examined += advanced;
        match end {
            ScanEnd::Mapped { slot } => {
                return Outcome::Kmapped {
                    slot,
                    count: pk.count[slot as usize],
                    examined,
                    flushed,
                };
            }
            ScanEnd::Wrapped => {
                // 2.4 resets its loop count after the flush, so one map_new_virtual() can
                // never flush twice: the lap after the flush ends in a slot or in the sleep.
                assert_eq!(flushed, None, "a second flush in one kmap of page {page}");
                match pk.flush_clear(now, 0) {
                    Ok((cleared, _walked)) => flushed = Some(cleared),
                    Err(_) => return Outcome::Bug(Bug::FlushNoPte),
                }
                left = last_pkmap;
                flushes += 1;
            }
            ScanEnd::Exhausted => return Outcome::WouldSleep { examined, flushed },
            ScanEnd::OtherHalfFlushing => unreachable!("these pools are whole"),
        }
    }
}

/// `kunmap_high()` as the engine runs it (`kunmap_granted`).
fn kunmap(pk: &mut Pkmap, page: u32) -> Outcome {
    match pk.release(page) {
        None => Outcome::Bug(Bug::KunmapNotMapped),
        Some((_, 0)) => Outcome::Bug(Bug::KunmapCountZero),
        Some((slot, count)) => unmapped(slot, count),
    }
}

/// The pool's own consistency, checked after every call that did not end the sequence: the
/// counts, PTEs, `virtual`s and (freelist) the free stack and dirty list agree.
fn check_pool(pk: &Pkmap, alloc: SlotAlloc) {
    let n = pk.count.len();
    let zero = pk.count.iter().filter(|&&c| c == 0).count() as u32;
    assert_eq!(pk.free_count, zero, "free_count");
    let one = pk.count.iter().filter(|&&c| c == 1).count() as u32;
    assert_eq!(pk.unused_count, one, "unused_count");
    for s in 0..n {
        let page = pk.pte[s];
        if pk.count[s] == 0 {
            assert_eq!(page, NONE, "slot {s}: count 0 with a PTE");
        } else {
            assert_ne!(page, NONE, "slot {s}: count {} without a PTE", pk.count[s]);
            assert_eq!(pk.virt[page as usize], s as u32, "slot {s}: page's virtual");
        }
    }
    for (page, &v) in pk.virt.iter().enumerate() {
        if v != NONE {
            assert_eq!(pk.pte[v as usize], page as u32, "page {page}: slot's PTE");
        }
    }
    let slots_with = |c: u32| -> Vec<u32> {
        (0..n as u32)
            .filter(|&s| pk.count[s as usize] == c)
            .collect()
    };
    let mut dirty = pk.dirty_slots();
    match alloc {
        SlotAlloc::Scan => assert!(dirty.is_empty()),
        SlotAlloc::Freelist => {
            let mut free = pk.free.clone();
            free.sort_unstable();
            assert_eq!(free, slots_with(0), "free stack = the count-0 slots");
            dirty.sort_unstable();
            assert_eq!(dirty, slots_with(1), "dirty list = the count-1 slots");
            assert_eq!(pk.dirty_len as usize, dirty.len());
        }
    }
}

/// Replay `calls` on a fresh pool of `last_pkmap` slots; returns the outcomes and the pool.
fn replay_pool(last_pkmap: u32, alloc: SlotAlloc, calls: &[Call]) -> (Vec<Outcome>, Pkmap) {
    let mut pk = Pkmap::new(last_pkmap, PAGES, 1, alloc, false);
    let mut out = Vec::with_capacity(calls.len());
    for (i, &call) in calls.iter().enumerate() {
        let o = match call {
            Kmap(page) => kmap(&mut pk, last_pkmap, page, i as u64),
            Kunmap(page) => kunmap(&mut pk, page),
        };
        out.push(o);
        if matches!(o, Outcome::WouldSleep { .. } | Outcome::Bug(_)) {
            break;
        }
        check_pool(&pk, alloc);
    }
    (out, pk)
}

/// Replay `calls` on a fresh pool of `last_pkmap` slots: one outcome per call, up to the one
/// that ends the sequence (a sleep or a BUG). The same calls replayed through the whole engine
/// (one task, `replay_calls`, recorded) must give the same slots and flush points.
fn replay(last_pkmap: u32, alloc: SlotAlloc, calls: &[Call]) -> Vec<Outcome> {
    let out = replay_pool(last_pkmap, alloc, calls).0;
    engine_agrees(last_pkmap, alloc, calls, &out);
    out
}

/// Run `calls` as one task's replayed call list on a one-CPU machine, recording its calls, and
/// check them against the pool-level `outcomes`: each kmap's slot and whether it flushed, each
/// kunmap's slot; a sequence that ends in a sleep ends in the pool-exhaustion deadlock; one
/// that kunmaps a page the task does not hold is refused before the run.
fn engine_agrees(last_pkmap: u32, alloc: SlotAlloc, calls: &[Call], outcomes: &[Outcome]) {
    use crate::calls::{Call as Row, CallOp};
    use crate::engine::{Engine, Mode};
    let sc = crate::config::Scenario {
        cpus: 1,
        last_pkmap: u64::from(last_pkmap),
        pages: u64::from(PAGES),
        hot_pages: 0,
        slot_alloc: alloc,
        ..crate::config::Scenario::default()
    };
    let rows: Vec<Row> = calls
        .iter()
        .map(|&c| match c {
            Kmap(page) => Row {
                op: CallOp::Kmap,
                page,
                work: 1,
            },
            Kunmap(page) => Row {
                op: CallOp::Kunmap,
                page,
                work: 1,
            },
        })
        .collect();
    for mode in [Mode::Step, Mode::Skip] {
        let mut e = Engine::new(&sc, 1, mode).unwrap();
        e.enable_call_recording();
        if let Err(err) = e.set_call_replay(vec![rows.clone()]) {
            assert!(matches!(outcomes.last(), Some(Outcome::Bug(_))), "{err}");
            return;
        }
        let res = e.advance_to(1_000_000, &mut || None);
        let got = e.recorded_calls().unwrap();
        match outcomes.last() {
            Some(Outcome::WouldSleep { .. }) => {
                let Err(crate::error::SimError::Deadlock(rep)) = res else {
                    panic!("{mode:?}: a sleep forever should be a deadlock: {res:?}");
                };
                assert!(rep.pool_exhausted, "{rep}");
            }
            _ => res.unwrap(),
        }
        let done = outcomes
            .iter()
            .filter(|o| !matches!(o, Outcome::WouldSleep { .. }));
        assert_eq!(got.len(), done.clone().count(), "{mode:?}: {got:?}");
        for (r, o) in got.iter().zip(done) {
            match *o {
                Outcome::Kmapped { slot, flushed, .. } => {
                    assert_eq!(
                        (r.op, r.slot, r.flushed),
                        (CallOp::Kmap, slot, flushed.is_some())
                    );
                }
                Outcome::Kunmapped { slot, .. } => {
                    assert_eq!((r.op, r.slot), (CallOp::Kunmap, slot));
                }
                _ => unreachable!(),
            }
        }
    }
}

const SCAN: SlotAlloc = SlotAlloc::Scan;
const FREELIST: SlotAlloc = SlotAlloc::Freelist;

// ---- 1. Held mappings ------------------------------------------------------------------------

/// Scan: `last_pkmap_nr` is 0 at boot, so each scan advances first and examines slot 1, then 2,
/// then 3 (one advance each, as in `cursor_slots_and_flush_times_by_hand`); all three held:
/// counts [0, 2, 2, 2], cursor on 3.
/// Freelist: the stack holds 0 on top at boot: pops 0, 1, 2 (one pop each); 3 stays free.
#[test]
fn held_mappings() {
    let calls = [Kmap(A), Kmap(B), Kmap(C)];
    let (out, pk) = replay_pool(4, SCAN, &calls);
    assert_eq!(out, vec![new(1, 1), new(2, 1), new(3, 1)]);
    assert_eq!(pk.count, vec![0, 2, 2, 2]);
    assert_eq!(pk.cursor, 3);
    assert_eq!(
        (
            pk.virt[A as usize],
            pk.virt[B as usize],
            pk.virt[C as usize]
        ),
        (1, 2, 3)
    );

    let (out, pk) = replay_pool(4, FREELIST, &calls);
    assert_eq!(out, vec![new(0, 1), new(1, 1), new(2, 1)]);
    assert_eq!(pk.count, vec![2, 2, 2, 0]);
    assert_eq!(pk.free, vec![3]);
    assert_eq!(
        (
            pk.virt[A as usize],
            pk.virt[B as usize],
            pk.virt[C as usize]
        ),
        (0, 1, 2)
    );
}

// ---- 2. Shared: the same page kmapped again while held ---------------------------------------

/// kmap A (new), kmap B (new), kmap A again while held: 2.4 finds `page->virtual` set and only
/// increments: same slot, count 3, no scan. kunmap A: 3 → 2 (still held), kunmap A: 2 → 1
/// (unused, cached), kunmap B: 2 → 1.
/// Scan: A on 1, B on 2; the hit does not move the cursor (still 2). Final counts [0, 1, 1, 0],
/// A and B keep their `virtual` (cached until the next flush).
/// Freelist: A on 0, B on 1; the kunmaps that reach 1 push 0, then 1 at the head of the dirty
/// list: [1, 0].
#[test]
fn shared_mapping_counts_above_two() {
    let calls = [Kmap(A), Kmap(B), Kmap(A), Kunmap(A), Kunmap(A), Kunmap(B)];
    let (out, pk) = replay_pool(4, SCAN, &calls);
    assert_eq!(
        out,
        vec![
            new(1, 1),
            new(2, 1),
            hit(1, 3),
            unmapped(1, 2),
            unmapped(1, 1),
            unmapped(2, 1)
        ]
    );
    assert_eq!(pk.count, vec![0, 1, 1, 0]);
    assert_eq!(pk.cursor, 2);
    assert_eq!((pk.virt[A as usize], pk.virt[B as usize]), (1, 2));

    let (out, pk) = replay_pool(4, FREELIST, &calls);
    assert_eq!(
        out,
        vec![
            new(0, 1),
            new(1, 1),
            hit(0, 3),
            unmapped(0, 2),
            unmapped(0, 1),
            unmapped(1, 1)
        ]
    );
    assert_eq!(pk.count, vec![1, 1, 0, 0]);
    assert_eq!(pk.dirty_slots(), vec![1, 0]);
    assert_eq!((pk.virt[A as usize], pk.virt[B as usize]), (0, 1));
}

// ---- 3. Re-mapped before a flush -------------------------------------------------------------

/// kmap A, kmap B, kunmap A (count 1: unused but `virtual` still set), kmap A: the sharing path
/// gives A its slot back (count 1 → 2), no scan; kmap C then continues from where the cursor was.
/// Scan: A 1, B 2, A back on 1 (cursor stays 2), C: 2 → 3, slot 3.
/// Freelist: A 0, B 1, kunmap A puts 0 on the dirty list, the hit takes it off again (count 2),
/// C pops 2. No slot is dirty at the end.
#[test]
fn remapped_before_a_flush_gets_its_slot_back() {
    let calls = [Kmap(A), Kmap(B), Kunmap(A), Kmap(A), Kmap(C)];
    let (out, pk) = replay_pool(4, SCAN, &calls);
    assert_eq!(
        out,
        vec![new(1, 1), new(2, 1), unmapped(1, 1), hit(1, 2), new(3, 1)]
    );
    assert_eq!(pk.count, vec![0, 2, 2, 2]);

    let (out, pk) = replay_pool(4, FREELIST, &calls);
    assert_eq!(
        out,
        vec![new(0, 1), new(1, 1), unmapped(0, 1), hit(0, 2), new(2, 1)]
    );
    assert_eq!(pk.count, vec![2, 2, 2, 0]);
    assert_eq!(pk.dirty_slots(), Vec::<u32>::new());
}

// ---- 4. Wrap and flush -----------------------------------------------------------------------

/// The calls, with B and C held throughout and A unmapped before a flush and kmapped after it.
const WRAP: [Call; 11] = [
    Kmap(A),   // 1
    Kmap(B),   // 2
    Kmap(C),   // 3
    Kunmap(A), // 4
    Kmap(D),   // 5
    Kmap(E),   // 6
    Kunmap(D), // 7
    Kmap(A),   // 8
    Kmap(B),   // 9
    Kmap(C),   // 10
    Kmap(E),   // 11
];

/// Scan (2.4.0):
///  1-3. A, B, C on 1, 2, 3 (cursor 3).
///  4. kunmap A: slot 1 → 1. Counts [0, 1, 2, 2].
///  5. kmap D: cursor 3 → 0 (1 advance): wrap; flush_all_zero_pkmaps clears exactly the count-1
///     slot, 1 (A's `virtual` reset); slot 0 examined without advancing: free → D on 0.
///     Counts [2, 0, 2, 2].
///  6. kmap E: 0 → 1, free (clean since the flush) → E on 1, A's old slot.
///  7. kunmap D: slot 0 → 1.
///  8. kmap A: its `virtual` was cleared, so a scan: 1 → 2 (busy, B), 2 → 3 (busy, C), 3 → 0:
///     wrap (3 advances); the flush clears slot 0 (D's); slot 0 free → A on 0, a NEW slot.
///  9-11. B, C, E were held through both flushes: hits on 2, 3, 1, count 3.
#[test]
fn wrap_flushes_only_unused_slots_scan() {
    let (out, pk) = replay_pool(4, SCAN, &WRAP);
    assert_eq!(
        out,
        vec![
            new(1, 1),
            new(2, 1),
            new(3, 1),
            unmapped(1, 1),
            new_after_flush(0, 1, 1),
            new(1, 1),
            unmapped(0, 1),
            new_after_flush(0, 3, 1),
            hit(2, 3),
            hit(3, 3),
            hit(1, 3),
        ]
    );
    assert_eq!(pk.count, vec![2, 3, 3, 3]);
    assert_eq!(
        pk.virt[D as usize], NONE,
        "D's virtual cleared by the second flush"
    );
    assert_eq!(pk.pte, vec![A, E, B, C]);
}

/// Freelist (section 13):
///  1-3. A, B, C pop 0, 1, 2; free [3].
///  4. kunmap A: slot 0 → 1, dirty [0].
///  5. kmap D: pops 3, no flush (the freelist flushes only when no clean slot is left, where
///     the scan flushed at its wrap).
///  6. kmap E: the pop fails (1) → flush: clears the dirty slot 0 (A's `virtual` reset) and
///     pushes it; the pop after the flush (1) takes 0 → E on A's old slot, 2 attempts.
///  7. kunmap D: slot 3 → 1, dirty [3].
///  8. kmap A: not mapped; the pop fails → flush clears 3 (D's) → pop 3 → A on 3, a NEW slot.
///  9-11. B, C, E held: hits on 1, 2, 0, count 3.
#[test]
fn wrap_flushes_only_unused_slots_freelist() {
    let (out, pk) = replay_pool(4, FREELIST, &WRAP);
    assert_eq!(
        out,
        vec![
            new(0, 1),
            new(1, 1),
            new(2, 1),
            unmapped(0, 1),
            new(3, 1),
            new_after_flush(0, 2, 1),
            unmapped(3, 1),
            new_after_flush(3, 2, 1),
            hit(1, 3),
            hit(2, 3),
            hit(0, 3),
        ]
    );
    assert_eq!(pk.count, vec![3, 3, 3, 2]);
    assert_eq!(
        pk.virt[D as usize], NONE,
        "D's virtual cleared by the second flush"
    );
    assert_eq!(pk.pte, vec![E, B, C, A]);
}

/// A flush clears every count-1 slot at once, several of them, and the task's later kmaps of
/// those pages are new mappings; a page unmapped and re-kmapped in between (B) is not cleared.
/// Scan: A 1, B 2, C 3; kunmap A, B, C → [0, 1, 1, 1]; kmap B: hit 2 (count 2); kmap D: 3 → 0
/// wrap, flush clears 1 and 3 (2 is held again) → D on 0; kmap A: 0 → 1 free → 1 (same number,
/// but a new mapping: 1 advance, not a hit); kmap C: 1 → 2 busy, 2 → 3 free → 3 (2 advances).
/// Freelist: A 0, B 1, C 2; dirty [2, 1, 0]; kmap B: hit 1, dirty [2, 0]; kmap D pops 3, the
/// last clean slot, with no flush; so A and C are still cached at count 1 and their kmaps are
/// hits on 0 and 2 (no scan, no flush), where the scan's wrap had cleared them. The next new
/// page would flush an empty dirty list and sleep.
#[test]
fn one_flush_clears_every_unused_slot() {
    let calls = [
        Kmap(A),
        Kmap(B),
        Kmap(C),
        Kunmap(A),
        Kunmap(B),
        Kunmap(C),
        Kmap(B),
        Kmap(D),
        Kmap(A),
        Kmap(C),
    ];
    assert_eq!(
        replay(4, SCAN, &calls),
        vec![
            new(1, 1),
            new(2, 1),
            new(3, 1),
            unmapped(1, 1),
            unmapped(2, 1),
            unmapped(3, 1),
            hit(2, 2),
            new_after_flush(0, 1, 2),
            new(1, 1),
            new(3, 2),
        ]
    );
    let (out, pk) = replay_pool(4, FREELIST, &calls);
    assert_eq!(
        out,
        vec![
            new(0, 1),
            new(1, 1),
            new(2, 1),
            unmapped(0, 1),
            unmapped(1, 1),
            unmapped(2, 1),
            hit(1, 2),
            new(3, 1),
            hit(0, 2),
            hit(2, 2),
        ]
    );
    assert_eq!(pk.count, vec![2, 2, 2, 2]);
}

// ---- 5. Pool exhausted by the task's own holds -----------------------------------------------

/// One task holds every slot and kmaps a fifth page: nobody can ever kunmap, so the sleep is
/// forever (the 2007 two-kmap deadlock, in one task).
/// Scan: A 1, B 2, C 3; D: 3 → 0 wrap, the flush clears nothing (all held), slot 0 free → D on
/// 0, cursor on 0. E: 0 → 1, 1 → 2, 2 → 3, all busy (the loop's count 4 → 3 → 2 → 1, never 0
/// before the wrap), 3 → 0 wrap (4 advances); the flush clears nothing, count reset to 4; slot 0
/// busy (3), 0 → 1 (2), 1 → 2 (1), 2 → 3 (0): sleep after 3 more advances, 7 in all
/// (docs/model.md's exhaustion example starts from cursor 1 and so counts 6).
/// Freelist: A-D pop 0-3 (no flush); E: failed pop, flush clears nothing, failed pop: sleep,
/// 2 attempts.
#[test]
fn holding_every_slot_sleeps_forever() {
    let calls = [Kmap(A), Kmap(B), Kmap(C), Kmap(D), Kmap(E)];
    assert_eq!(
        replay(4, SCAN, &calls),
        vec![
            new(1, 1),
            new(2, 1),
            new(3, 1),
            new_after_flush(0, 1, 0),
            Outcome::WouldSleep {
                examined: 7,
                flushed: Some(0)
            },
        ]
    );
    assert_eq!(
        replay(4, FREELIST, &calls),
        vec![
            new(0, 1),
            new(1, 1),
            new(2, 1),
            new(3, 1),
            Outcome::WouldSleep {
                examined: 2,
                flushed: Some(0)
            },
        ]
    );
    // The sequence ends at the sleep: later calls are not replayed.
    let mut longer = calls.to_vec();
    longer.push(Kunmap(A));
    assert_eq!(replay(4, SCAN, &longer).len(), 5);
}

/// The same, but the task kunmaps C first: a count-1 slot is not free (the scan passes over
/// it) until the flush at the wrap clears it, and then the fifth kmap gets it.
/// Scan: A 1, B 2, C 3, D 0 (flush, 0 cleared); kunmap C: slot 3 → 1. E: 0 → 1, 1 → 2, 2 → 3
/// (count 1: not free), 3 → 0 wrap (4 advances); the flush clears slot 3; slot 0 busy, then
/// 0 → 1, 1 → 2 busy, 2 → 3 free (3 more advances) → E on 3, 7 advances.
/// Freelist: A-D on 0-3; kunmap C: dirty [2]; E: failed pop, flush clears 2, pop 2 → E on 2.
#[test]
fn an_unused_slot_is_reused_only_after_the_flush() {
    let calls = [Kmap(A), Kmap(B), Kmap(C), Kmap(D), Kunmap(C), Kmap(E)];
    assert_eq!(
        replay(4, SCAN, &calls),
        vec![
            new(1, 1),
            new(2, 1),
            new(3, 1),
            new_after_flush(0, 1, 0),
            unmapped(3, 1),
            new_after_flush(3, 7, 1),
        ]
    );
    assert_eq!(
        replay(4, FREELIST, &calls),
        vec![
            new(0, 1),
            new(1, 1),
            new(2, 1),
            new(3, 1),
            unmapped(2, 1),
            new_after_flush(2, 2, 1),
        ]
    );
}

/// The smallest pool the scenario allows (`last_pkmap` = 2, config.rs). Scan: A: 0 → 1, slot 1;
/// B: 1 → 0 wrap, flush (nothing), slot 0 free → 0; C: 0 → 1 busy (1 left), 1 → 0 wrap; flush
/// (nothing), slot 0 busy (1), 0 → 1 busy (0): sleep, 3 advances. Freelist: 0, 1, then failed
/// pop, empty flush, failed pop.
#[test]
fn two_slot_pool() {
    let calls = [Kmap(A), Kmap(B), Kmap(C)];
    let sleep = |examined| Outcome::WouldSleep {
        examined,
        flushed: Some(0),
    };
    assert_eq!(
        replay(2, SCAN, &calls),
        vec![new(1, 1), new_after_flush(0, 1, 0), sleep(3)]
    );
    assert_eq!(
        replay(2, FREELIST, &calls),
        vec![new(0, 1), new(1, 1), sleep(2)]
    );
}

// ---- 6. Kunmap BUGs --------------------------------------------------------------------------

/// 2.4.0's `kunmap_high`: `if (!vaddr) BUG();` and `case 0: BUG();`. The pool reports both to
/// its caller (`release` returns None, or a count of 0) and the engine turns them into a BUG.
/// - kunmap of a page never kmapped: not mapped.
/// - kmap A, kunmap A (count 1), kunmap A: count 0.
/// - A unmapped, then a flush (scan: D's wrap clears slot 1), kunmap A: not mapped. Under the
///   freelist the same calls flush nothing (D pops slot 3), so A is still cached at count 1
///   and the kunmap takes it to 0.
#[test]
fn kunmap_bugs() {
    for alloc in [SCAN, FREELIST] {
        assert_eq!(
            replay(4, alloc, &[Kunmap(A)]),
            vec![Outcome::Bug(Bug::KunmapNotMapped)]
        );
        let first = if alloc == SCAN { 1 } else { 0 };
        assert_eq!(
            replay(4, alloc, &[Kmap(A), Kunmap(A), Kunmap(A), Kmap(B)]),
            vec![
                new(first, 1),
                unmapped(first, 1),
                Outcome::Bug(Bug::KunmapCountZero)
            ]
        );
    }
    let calls = [Kmap(A), Kunmap(A), Kmap(B), Kmap(C), Kmap(D), Kunmap(A)];
    assert_eq!(
        replay(4, SCAN, &calls),
        vec![
            new(1, 1),
            unmapped(1, 1),
            new(2, 1),
            new(3, 1),
            new_after_flush(0, 1, 1),
            Outcome::Bug(Bug::KunmapNotMapped),
        ]
    );
    assert_eq!(
        replay(4, FREELIST, &calls),
        vec![
            new(0, 1),
            unmapped(0, 1),
            new(1, 1),
            new(2, 1),
            new(3, 1),
            Outcome::Bug(Bug::KunmapCountZero),
        ]
    );
}

// ---- The pool against a reference model of 2.4.0 ----------------------------------------------

/// The algorithm of 2.4.0's `mm/highmem.c`, step by step, for one task (no other CPU, so the sleep
/// never returns): `pkmap_count[]`, `page->virtual`, `pkmap_page_table[]`, `last_pkmap_nr`.
struct Linux240 {
    pkmap_count: Vec<u32>,
    virtual_: Vec<Option<u32>>,
    pte: Vec<Option<u32>>,
    last_pkmap_nr: u32,
    last_pkmap: u32,
}

impl Linux240 {
    fn new(last_pkmap: u32) -> Self {
        Linux240 {
            pkmap_count: vec![0; last_pkmap as usize],
            virtual_: vec![None; PAGES as usize],
            pte: vec![None; last_pkmap as usize],
            last_pkmap_nr: 0,
            last_pkmap,
        }
    }

    /// Returns the slots cleared.
    fn flush_all_zero_pkmaps(&mut self) -> u64 {
        let mut cleared = 0;
        for i in 0..self.last_pkmap as usize {
            if self.pkmap_count[i] != 1 {
                continue;
            }
            self.pkmap_count[i] = 0;
            let page = self.pte[i].take().expect("BUG: pte_none");
            self.virtual_[page as usize] = None;
            cleared += 1;
        }
        // flush_tlb_all();
        cleared
    }

    /// None: the task sleeps on pkmap_map_wait. Also returns whether a flush ran, and what it
    /// cleared.
    fn map_new_virtual(&mut self, page: u32, flushed: &mut Option<u64>) -> Option<u32> {
        // start:
        let mut count = self.last_pkmap;
        loop {
            self.last_pkmap_nr = (self.last_pkmap_nr + 1) & (self.last_pkmap - 1);
            if self.last_pkmap_nr == 0 {
                *flushed = Some(self.flush_all_zero_pkmaps());
                count = self.last_pkmap;
            }
            if self.pkmap_count[self.last_pkmap_nr as usize] == 0 {
                break;
            }
            count -= 1;
            if count != 0 {
                continue;
            }
            return None;
        }
        let nr = self.last_pkmap_nr;
        self.pte[nr as usize] = Some(page);
        self.pkmap_count[nr as usize] = 1;
        self.virtual_[page as usize] = Some(nr);
        Some(nr)
    }

    fn kmap_high(&mut self, page: u32) -> Outcome {
        let mut flushed = None;
        let nr = match self.virtual_[page as usize] {
            Some(nr) => nr,
            None => match self.map_new_virtual(page, &mut flushed) {
                Some(nr) => nr,
                None => {
                    return Outcome::WouldSleep {
                        examined: 0,
                        flushed,
                    };
                }
            },
        };
        self.pkmap_count[nr as usize] += 1;
        if self.pkmap_count[nr as usize] < 2 {
            return Outcome::Bug(Bug::KmapCountBelow2);
        }
        Outcome::Kmapped {
            slot: nr,
            count: self.pkmap_count[nr as usize],
            examined: 0,
            flushed,
        }
    }

    fn kunmap_high(&mut self, page: u32) -> Outcome {
        let Some(nr) = self.virtual_[page as usize] else {
            return Outcome::Bug(Bug::KunmapNotMapped);
        };
        self.pkmap_count[nr as usize] -= 1;
        match self.pkmap_count[nr as usize] {
            0 => Outcome::Bug(Bug::KunmapCountZero),
            count => unmapped(nr, count),
        }
    }
}

/// The pool's outcome without `examined`, which the reference model does not count.
fn without_examined(o: Outcome) -> Outcome {
    match o {
        Outcome::Kmapped {
            slot,
            count,
            flushed,
            ..
        } => Outcome::Kmapped {
            slot,
            count,
            examined: 0,
            flushed,
        },
        Outcome::WouldSleep { flushed, .. } => Outcome::WouldSleep {
            examined: 0,
            flushed,
        },
        o => o,
    }
}

/// Random call sequences of one task (kmap of one of 6 pages, or kunmap of a page it holds),
/// on pools of 2, 4 and 8 slots: the scan pool gives exactly the reference model's slots, counts
/// and flushes at every call, and its full state (counts, PTEs, `virtual`s, cursor) agrees.
#[test]
fn scan_matches_a_2_4_0_reference_model() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut calls_checked = 0;
    for round in 0..600 {
        let last_pkmap = [2, 4, 8][round % 3];
        let mut held: Vec<u32> = Vec::new();
        let mut calls = Vec::new();
        for _ in 0..40 {
            if held.is_empty() || next(5) < 3 {
                let page = next(6) as u32;
                held.push(page);
                calls.push(Kmap(page));
            } else {
                let page = held.swap_remove(next(held.len() as u64) as usize);
                calls.push(Kunmap(page));
            }
        }
        let (got, pk) = replay_pool(last_pkmap, SCAN, &calls);
        let mut k = Linux240::new(last_pkmap);
        let mut want = Vec::new();
        for &call in &calls {
            let o = match call {
                Kmap(page) => k.kmap_high(page),
                Kunmap(page) => k.kunmap_high(page),
            };
            want.push(o);
            if matches!(o, Outcome::WouldSleep { .. } | Outcome::Bug(_)) {
                break;
            }
        }
        let got: Vec<Outcome> = got.into_iter().map(without_examined).collect();
        assert_eq!(
            got, want,
            "round {round}, {last_pkmap} slots, calls {calls:?}"
        );
        if !matches!(want.last(), Some(Outcome::WouldSleep { .. })) {
            assert_eq!(pk.count, k.pkmap_count, "round {round}");
            assert_eq!(pk.cursor, k.last_pkmap_nr, "round {round}");
            let pte: Vec<Option<u32>> = pk.pte.iter().map(|&p| (p != NONE).then_some(p)).collect();
            assert_eq!(pte, k.pte, "round {round}");
            let virt: Vec<Option<u32>> =
                pk.virt.iter().map(|&v| (v != NONE).then_some(v)).collect();
            assert_eq!(virt, k.virtual_, "round {round}");
        }
        calls_checked += got.len();
    }
    assert!(calls_checked > 10_000, "{calls_checked}");
}
