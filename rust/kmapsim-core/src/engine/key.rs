//! The state the checker hashes (`check.rs`, docs/verification.md): everything a later
//! transition can read, without times, statistics or records, with flush generations and IPI
//! call numbers renumbered, and up to the machine's symmetries.
//!
//! Generations and call numbers only ever grow, and the transitions only compare them (`<`,
//! `max`, `==`): generations are replaced by their rank among the generations present (all
//! those at or below every CPU's being alike), and a call number by whether it is the current
//! call. Two states that differ only in such numbers have the same futures, and the key is
//! finite.
//!
//! Symmetry reduction: when no rule tells two CPUs (with their tasks) apart but by their
//! numbers, or two pages of one class, a state and its renamings have the same futures up to
//! the renaming, so the checker keeps one of them. Up to `ALL_ORDERS_UP_TO` CPUs, the key is
//! taken for every order of the CPUs that sorts them by a summary of their own state that no
//! renaming changes (`cpu_signature`), tied CPUs in every order: the least of these keys is as
//! canonical as the least over all `n!` orders, and costs one key when no two CPUs tie. Beyond,
//! it is taken for one order (ties by CPU number). Within each order,
//! pages are renamed in the order they first appear in the key, class by class: since the
//! key's layout does not depend on page numbers, a state and any renaming of its pages get the
//! same names, so this renaming is canonical for that order of the CPUs. The least key wins.
//! Any key computed so is the key of a renaming of the state, so two states with one key are
//! renamings of each other: the reduction is sound even where it does not find every renaming.
//!
//! A key is bytes (`crate::key_bytes`): blocks laid out alike in every machine of a search, and
//! lists that give their length first, so that it reads back one way only; "least" is in the
//! order of those bytes. Any fixed order picks one of the same set of renamings, so which one
//! it picks changes no count.

use super::Engine;
use crate::cpu::Ipi;
use crate::key_bytes::Put;
use crate::pkmap::NONE;
use crate::task::TaskCtx;
use crate::workload::{Instr, MAX_HANDLES, MAX_REPEATS, PageSource};

/// The symmetries a machine has (`Engine::symmetry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symmetry {
    /// CPUs are interchangeable, each with its task.
    pub cpus: bool,
    /// Pages are interchangeable within their class: the hot pages `0..hot` and the cold ones.
    pub pages: Option<u32>,
}

impl Symmetry {
    /// No reduction: states are told apart by every number.
    pub const NONE: Symmetry = Symmetry {
        cpus: false,
        pages: None,
    };

    /// The names of the reductions in force, for reports ("cpus", "pages").
    pub fn names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.cpus {
            out.push("cpus");
        }
        if self.pages.is_some() {
            out.push("pages");
        }
        out
    }
}

/// Working space for keys, kept from one state to the next so that a key allocates nothing.
#[derive(Default)]
pub struct KeySpace {
    best: KeyBuf,
    candidate: KeyBuf,
    gens: Vec<u64>,
    ren: Vec<u32>,
    order: Vec<usize>,
    heap: Vec<usize>,
    blocked: Vec<u32>,
    pages: Pages,
    sigs: Vec<[u64; 10]>,
    tlb: Vec<(u64, u32, u32)>,
    /// `Engine::used` of the last machine keyed, with the scenario and program it was found
    /// for (held, so that they stay the ones compared): every machine of one search shares
    /// them (and has a call list or not throughout).
    used: Option<UsedBy>,
}

/// A key's buffer: its first `len` bytes are the key; the rest is room (`Parts::bound`).
#[derive(Default)]
struct KeyBuf {
    bytes: Vec<u8>,
    len: usize,
}

impl KeyBuf {
    fn get(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The renaming of pages under construction: first appearance, class by class.
#[derive(Default)]
struct Pages {
    on: bool,
    hot: u32,
    names: Vec<u32>,
    next: [u32; 2],
}

impl Pages {
    fn reset(&mut self, sym: Option<u32>, pages: usize) {
        self.on = sym.is_some();
        if let Some(hot) = sym {
            self.hot = hot;
            self.names.clear();
            self.names.resize(pages, NONE);
            self.next = [0, hot];
        }
    }

    fn name(&mut self, p: u32) -> u32 {
        if !self.on || p == NONE {
            return p;
        }
        let n = &mut self.names[p as usize];
        if *n == NONE {
            let class = (p >= self.hot) as usize;
            *n = self.next[class];
            self.next[class] += 1;
        }
        *n
    }
}

/// The renumbering of flush generations and IPI calls in a key.
struct Norm<'a> {
    /// The generations present, sorted, at or above the lowest CPU's (`generation` maps a
    /// value to its rank here; lower ones to 0).
    gens: &'a [u64],
    /// The IPI call in progress (or the last one): only whether a call is this one matters.
    call: u64,
}

impl Norm<'_> {
    fn collect(e: &Engine, gens: &mut Vec<u64>) {
        gens.clear();
        // Every generation is a copy of `flush_gen` made at some point, and it only grows:
        // while it is 0 (always, under the strategies without generations), all are, and all
        // rank 0, as they do with none collected.
        if e.flush_gen == 0 {
            debug_assert!(
                {
                    let mut all = true;
                    Self::each(e, |g| all &= g == 0);
                    all
                },
                "a generation above flush_gen = 0"
            );
            return;
        }
        let base = e.cpus.iter().map(|c| c.generation).min().unwrap_or(0);
        // Those below `base` all rank 0: only the ones at or above it are kept.
        gens.push(base);
        Self::each(e, |g| {
            if g >= base {
                gens.push(g);
            }
        });
        gens.sort_unstable();
        gens.dedup();
    }

    /// Every generation the machine holds (the key's and `flush_gen`).
    #[inline]
    fn each(e: &Engine, mut f: impl FnMut(u64)) {
        f(e.flush_gen);
        for c in &e.cpus {
            f(c.generation);
            f(c.handler_gen);
            f(c.defer_gen);
            c.inflight.iter().for_each(|i| f(i.generation));
            c.pending.iter().for_each(|i| f(i.generation));
        }
        e.pk.cleared_gen.iter().for_each(|&g| f(g));
    }

    /// A rank among the generations present: fewer than there are fields holding one.
    fn generation(&self, g: u64) -> u32 {
        self.gens.partition_point(|&x| x < g) as u32
    }

    fn call(&self, id: u64) -> u8 {
        (id == self.call) as u8
    }

    fn ipi(&self, i: &Ipi) -> u32 {
        self.call(i.call) as u32 | self.generation(i.generation) << 1
    }
}

impl Engine {
    /// The symmetries of this machine the checker may reduce by (none unless `wanted`).
    pub fn symmetry(&self, wanted: bool) -> Symmetry {
        if !wanted || self.replay.is_some() {
            return Symmetry::NONE;
        }
        Symmetry {
            cpus: self.cpus_symmetric(),
            pages: self.pages_symmetric(),
        }
    }

    /// Whether CPUs are interchangeable, each with its task: one task per CPU (task i always
    /// runs on CPU i: a woken task goes back to its idle CPU), the same program for all, and no
    /// page source that depends on the task (`private`, `sequential`). Then renaming CPUs and
    /// their tasks together maps every run to a run (no rule looks at a CPU's number but to
    /// break ties, and the checker's events never tie).
    fn cpus_symmetric(&self) -> bool {
        self.tasks.len() == self.cpus.len()
            && !self.program.iter().any(|s| {
                matches!(
                    s.instr,
                    Instr::Kmap {
                        source: PageSource::Private | PageSource::Sequential,
                        ..
                    }
                )
            })
    }

    /// Whether pages are interchangeable within their class, and the class boundary: every
    /// kmap draws its page uniformly from the hot pages, the cold ones, or either
    /// (`mixed`, `hot`, `cold`), and the checker branches over every page drawn. No rule reads
    /// a page's number but to index `page->virtual` or to compare it with another page's, so
    /// renaming pages within a class maps every run to a run. A task's own pages and a fixed
    /// page (`private`, `sequential`, `page N`) tell pages apart.
    fn pages_symmetric(&self) -> Option<u32> {
        let uniform = self.program.iter().all(|s| match s.instr {
            Instr::Kmap { source, .. } => matches!(
                source,
                PageSource::Mixed | PageSource::Hot | PageSource::Cold
            ),
            _ => true,
        });
        uniform.then_some(self.sc.hot_pages as u32)
    }

    /// The state's key up to `sym` (module docs), in `space`: the least key over every
    /// renaming the symmetries allow.
    pub fn key<'s>(&self, sym: Symmetry, space: &'s mut KeySpace) -> &'s [u8] {
        let KeySpace {
            best,
            candidate,
            gens,
            ren,
            order,
            heap,
            blocked,
            pages,
            sigs,
            tlb,
            used,
        } = space;
        Norm::collect(self, gens);
        let norm = Norm {
            gens,
            call: self.call.id,
        };
        let n = self.cpus.len();
        ren.clear();
        ren.extend(0..n as u32);
        let mut parts = Parts {
            e: self,
            norm: &norm,
            ren,
            order,
            blocked,
            pages,
            tlb,
            sym,
            used: space_used(used, self),
        };
        if sym.cpus && n > ALL_ORDERS_UP_TO {
            // One renaming: the CPUs in the order of their own state (then of their numbers).
            heap.clear();
            heap.extend(0..n);
            heap.sort_by_key(|&c| (self.cpu_signature(c, parts.used), c));
            for (new, &old) in heap.iter().enumerate() {
                parts.ren[old] = new as u32;
            }
        }
        if !sym.cpus || n > ALL_ORDERS_UP_TO {
            parts.key(best);
            return best.get();
        }
        // The orders that sort the CPUs by their signature, ties in every order: the signature
        // does not change under a renaming, so these orders of a state and of its renamings
        // correspond, and the least key over them is as canonical as the least over all n!
        // orders (the same states are told apart), at a fraction of the keys.
        sigs.clear();
        sigs.extend((0..n).map(|c| self.cpu_signature(c, parts.used)));
        let mut found = false;
        // Heap's algorithm: every permutation of the CPUs, one swap apart.
        heap.clear();
        heap.resize(n, 0);
        let mut i = 1;
        loop {
            if parts.sorted_by(sigs) {
                let into = if found { &mut *candidate } else { &mut *best };
                parts.key(into);
                if found && candidate.get() < best.get() {
                    std::mem::swap(best, candidate);
                }
                found = true;
            }
            // The next permutation.
            while i < n && heap[i] >= i {
                heap[i] = 0;
                i += 1;
            }
            if i >= n {
                break;
            }
            let j = if i % 2 == 0 { 0 } else { heap[i] };
            parts.ren.swap(j, i);
            heap[i] += 1;
            i = 1;
        }
        best.get()
    }
}

/// `Used`, and the machine it was found for: its scenario, program, and whether it replays.
type UsedBy = (
    std::sync::Arc<crate::config::Scenario>,
    std::sync::Arc<[crate::workload::Step]>,
    bool,
    Used,
);

/// `e.used()`, from `cache` when it was found for `e`'s scenario and program.
fn space_used(cache: &mut Option<UsedBy>, e: &Engine) -> Used {
    use std::sync::Arc;
    let replay = e.replay.is_some();
    match cache {
        Some((sc, program, r, used))
            if Arc::ptr_eq(sc, &e.sc.0) && Arc::ptr_eq(program, &e.program.0) && *r == replay =>
        {
            *used
        }
        _ => {
            let used = e.used();
            *cache = Some((e.sc.0.clone(), e.program.0.clone(), replay, used));
            used
        }
    }
}

/// How many of a task's handles and loop counters (and of a CPU's `kmap_local` slots, one a
/// handle) any step can touch: those past them keep their first values in every state, so the
/// key leaves them out.
#[derive(Clone, Copy)]
struct Used {
    handles: usize,
    loops: usize,
    /// The pages of a task's own (`workload::private_pages`, at least 1): a task's sequential
    /// cursor is keyed modulo this.
    own: u64,
}

impl Engine {
    /// The handles and loop counters the program names (all of them for replayed calls, whose
    /// handles come from the call list).
    fn used(&self) -> Used {
        let own = crate::workload::private_pages(&self.sc).max(1);
        if self.replay.is_some() {
            return Used {
                handles: MAX_HANDLES,
                loops: MAX_REPEATS,
                own,
            };
        }
        let mut used = Used {
            handles: 0,
            loops: 0,
            own,
        };
        for s in self.program.iter() {
            match s.instr {
                Instr::Kmap { handle, .. }
                | Instr::Access { handle, .. }
                | Instr::Kunmap { handle, .. } => {
                    used.handles = used.handles.max(handle as usize + 1);
                }
                Instr::Repeat { counter, .. } => used.loops = used.loops.max(counter as usize + 1),
                _ => {}
            }
        }
        used
    }
}

/// Up to this many CPUs the key is the least over every order of the CPUs (n! keys a state).
/// Beyond, it is the key of one order, the CPUs sorted by a summary of their own state
/// (`cpu_signature`): still a renaming of the state, so two states with the same key are still
/// renamings of each other, but fewer renamings are found to be one state.
const ALL_ORDERS_UP_TO: usize = 4;

impl Engine {
    /// What CPU `c` is doing, without any CPU, task, page, generation or call number (so that
    /// a renaming does not change it): its sort key when the CPUs are too many to try every
    /// order.
    fn cpu_signature(&self, c: usize, used: Used) -> [u64; 10] {
        let cpu = &self.cpus[c];
        let wait = match cpu.wait {
            crate::cpu::Wait::None => 0,
            crate::cpu::Wait::Lock(l) => 1 + (l as u64) * 8,
            crate::cpu::Wait::Acks(_) => 2,
            crate::cpu::Wait::Sleep => 3,
            crate::cpu::Wait::Done => 4,
            crate::cpu::Wait::Idle => 5,
        };
        // The handles no step names are never held.
        let held = cpu.t.handles[..used.handles]
            .iter()
            .filter(|h| h.held())
            .count() as u64;
        [
            cpu.phase as u64,
            (cpu.until != crate::cpu::NEVER) as u64,
            wait,
            cpu.irqs_on as u64 | (cpu.saved.is_some() as u64) << 1,
            cpu.inflight.len() as u64,
            cpu.pending.len() as u64,
            cpu.tlb.len() as u64,
            (cpu.task != NONE) as u64,
            cpu.t.pc as u64,
            held,
        ]
    }
}

/// One renaming's key in the making: CPU (and task) `x` is renamed `ren[x]`, pages as they
/// first appear.
struct Parts<'a> {
    e: &'a Engine,
    norm: &'a Norm<'a>,
    ren: &'a mut Vec<u32>,
    order: &'a mut Vec<usize>,
    blocked: &'a mut Vec<u32>,
    pages: &'a mut Pages,
    tlb: &'a mut Vec<(u64, u32, u32)>,
    sym: Symmetry,
    used: Used,
}

impl Parts<'_> {
    fn cpu(&self, x: u32) -> u32 {
        if x == NONE {
            NONE
        } else {
            self.ren[x as usize]
        }
    }

    fn task(&self, x: u32) -> u32 {
        if x == NONE || !self.sym.cpus {
            x
        } else {
            self.ren[x as usize]
        }
    }

    /// Whether the renaming puts the CPUs in the order of their signatures `sigs`.
    fn sorted_by(&self, sigs: &[[u64; 10]]) -> bool {
        let n = self.ren.len();
        let mut at = [0usize; ALL_ORDERS_UP_TO];
        for (old, &new) in self.ren.iter().enumerate() {
            at[new as usize] = old;
        }
        (1..n).all(|p| sigs[at[p - 1]] <= sigs[at[p]])
    }

    /// The whole key, in `into`: CPUs and tasks in their new order (written as `key_bytes`
    /// says: blocks of one layout for the whole search, lists with their lengths).
    fn key(&mut self, into: &mut KeyBuf) {
        let bound = self.bound();
        if into.bytes.len() < bound {
            into.bytes.resize(bound, 0);
        }
        let rest = self.write(&mut into.bytes[..bound]);
        into.len = bound - rest.len();
    }

    /// At least as many bytes as `write` writes for this machine: the blocks of `write`,
    /// `cpu_key` and `task_key`, and four bytes for each item of a list and each list's length.
    fn bound(&self) -> usize {
        let e = self.e;
        let (handles, loops) = (self.used.handles, self.used.loops);
        let task = 4 + 6 * 4 + 8 + 4 * loops + 8 * handles;
        let lists: usize = e
            .cpus
            .iter()
            .map(|c| c.inflight.len() + c.pending.len() + 2 * c.tlb.len())
            .sum::<usize>()
            + e.runq.len()
            + e.timers.len()
            + e.locks.iter().map(|l| l.waiters.len()).sum::<usize>();
        let cpu = 12 + 11 * 4 + 16 + 2 * 4 + 4 * handles + 4 + task;
        let each_list = 4 * (2 + e.locks.len() + 2 * e.cpus.len());
        4 * 4
            + e.cpus.len() * cpu
            + e.tasks.len() * (3 * 4 + task)
            + e.locks.len() * 4
            + 4 * lists
            + each_list
            + e.pk.key_bound()
            + 8
    }

    /// Write the key into `k`; the rest of `k`.
    fn write<'k>(&mut self, mut k: &'k mut [u8]) -> &'k mut [u8] {
        let e = self.e;
        self.pages.reset(self.sym.pages, e.sc.pages as usize);
        self.order.clear();
        self.order.resize(e.cpus.len(), 0);
        for (old, &new) in self.ren.iter().enumerate() {
            self.order[new as usize] = old;
        }
        // A call's sender and counts are read only while acks are still due.
        let call = &e.call;
        let (sender, targets, finished) = if call.finished < call.targets {
            (self.cpu(call.sender), call.targets, call.finished)
        } else {
            (NONE, 0, 0)
        };
        k = k.u32s([self.norm.generation(e.flush_gen), sender, targets, finished]);
        for i in 0..e.cpus.len() {
            k = self.cpu_key(self.order[i], k);
        }
        for i in 0..e.tasks.len() {
            // Under symmetry there is one task a CPU, renamed with it.
            let id = if self.sym.cpus { self.order[i] } else { i };
            let s = &e.sched[id];
            k = k.u32s([s.state as u32, self.cpu(s.cpu), self.cpu(s.last_cpu)]);
            if s.cpu == NONE {
                k = self.task_key(&e.tasks[id], k);
            }
        }
        k = k.list(e.runq.iter().map(|&id| self.task(id)));
        self.blocked.clear();
        for r in &e.timers {
            let id = self.task(r.0.1);
            self.blocked.push(id);
        }
        self.blocked.sort_unstable();
        k = k.list(self.blocked.iter().copied());
        for lock in &e.locks {
            k = k.u32s([lock.holder.map_or(NONE, |h| self.cpu(h))]);
            k = k.list(lock.waiters.iter().map(|&w| self.cpu(w)));
        }
        let norm = self.norm;
        let ren = &*self.ren;
        let cpus = self.sym.cpus;
        let task = |x: u32| {
            if x == NONE || !cpus {
                x
            } else {
                ren[x as usize]
            }
        };
        let pages = &mut *self.pages;
        let k =
            e.pk.abstract_key(&|g| norm.generation(g), &task, &mut |p| pages.name(p), k);
        k.u64s([e.done_tasks as u64])
    }

    /// CPU `c`'s part of the key.
    fn cpu_key<'k>(&mut self, c: usize, k: &'k mut [u8]) -> &'k mut [u8] {
        let e = self.e;
        let norm = self.norm;
        let cpu = &e.cpus[c];
        let (wait, wait_on) = match cpu.wait {
            crate::cpu::Wait::None => (0, 0),
            crate::cpu::Wait::Lock(l) => (1, l),
            crate::cpu::Wait::Acks(call) => (2, norm.call(call) as u32),
            crate::cpu::Wait::Sleep => (3, 0),
            crate::cpu::Wait::Done => (4, 0),
            crate::cpu::Wait::Idle => (5, 0),
        };
        let saved = cpu.saved.map_or(0, |s| {
            let left = match s.remaining {
                crate::cpu::NEVER => 1,
                0 => 2,
                _ => 3,
            };
            1 + s.phase as u32 * 4 + left
        });
        // Which idle CPU a woken task goes to depends on how long each has idled.
        let idle_rank = if cpu.idle() {
            e.cpus
                .iter()
                .filter(|d| d.idle() && d.idle_since < cpu.idle_since)
                .count() as u32
        } else {
            u32::MAX
        };
        let k = k.u8s([
            wait,
            (cpu.until != crate::cpu::NEVER) as u8,
            cpu.irqs_on as u8,
            norm.call(cpu.handler_call),
            norm.call(cpu.acked_call),
            norm.call(cpu.targeted_by_call),
            cpu.may_hold as u8,
            cpu.behind as u8,
            // Only whether the kmap has flushed yet is read (`Pkmap::allocate`, `loop_count`).
            (cpu.scan_flushes > 0) as u8,
            cpu.access_irqs_off as u8,
            cpu.need_wakeup as u8,
            (cpu.refill_debt > 0) as u8,
        ]);
        let k = k.u32s([
            cpu.phase as u32,
            wait_on,
            saved,
            norm.generation(cpu.handler_gen),
            self.task(cpu.task),
            idle_rank,
            norm.generation(cpu.generation),
            norm.generation(cpu.defer_gen),
            cpu.irq_lock,
            cpu.scan_left,
            cpu.lookup,
        ]);
        let k = k.u64s([cpu.lookups, cpu.flush_cleared]);
        let k = k.list(cpu.inflight.iter().map(|i| norm.ipi(i)));
        let k = k.list(cpu.pending.iter().map(|i| norm.ipi(i)));
        let pages = &mut *self.pages;
        let k = k.each(
            cpu.local.page[..self.used.handles]
                .iter()
                .map(|&p| pages.name(p)),
        );
        // The use order of the TLB is read only by an eviction: when the TLB has room for every
        // slot and nothing evicts, it holds a set.
        let lru_read = e.evict_per_cycle > 0 || cpu.tlb.capacity() < e.pk.count.len();
        let k = cpu
            .tlb
            .abstract_key(lru_read, &mut |p| pages.name(p), self.tlb, k);
        if cpu.task != NONE {
            self.task_key(&cpu.t, k)
        } else {
            k
        }
    }

    /// A task's program state in the key: no durations, its sequential cursor modulo its pages.
    fn task_key<'k>(&mut self, t: &TaskCtx, k: &'k mut [u8]) -> &'k mut [u8] {
        // The op's page is left out: only recording reads it (`record_op`, off here) once
        // `kmap_step` has copied it into `t.page`.
        let op = &t.op;
        let k = k.u8s([
            op.irqs_off as u8 | (op.switch as u8) << 1 | (t.op_open as u8) << 2,
            t.handle,
            t.misuse as u8 | (t.irqs_disabled as u8) << 1 | (t.slept as u8) << 2,
            t.flushed as u8,
        ]);
        let k = k.u32s([
            self.task(t.id),
            t.pc,
            t.resume as u32,
            op.irq_lock.unwrap_or(NONE),
            self.pages.name(t.page),
            t.slot,
        ]);
        // Below `own` (always, unless a program draws sequential pages) it is its own rest.
        let k = k.u64s([if t.cursor < self.used.own {
            t.cursor
        } else {
            t.cursor % self.used.own
        }]);
        let mut k = k.each(t.loops[..self.used.loops].iter().copied());
        for h in &t.handles[..self.used.handles] {
            k = k.u32s([self.pages.name(h.page), h.slot]);
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::tests::machine;
    use crate::config::{Strategy, Workload};
    use crate::task::Handle;

    fn key(e: &Engine) -> Vec<u8> {
        e.key(e.symmetry(true), &mut KeySpace::default()).to_vec()
    }

    /// Handles and loop counters no step names never change, so the key leaves them (and the
    /// `kmap_local` slots of those handles) out; the ones the program names are in it.
    #[test]
    fn the_key_holds_the_handles_the_program_names() {
        let e = Engine::explorer(&machine(Strategy::Local, 2, 2, 3)).unwrap();
        assert_eq!(
            (e.used().handles, e.used().loops),
            (1, 0),
            "dbench kmaps into one handle"
        );
        let before = key(&e);
        let mut unused = e.clone();
        unused.cpus[0].t.handles[MAX_HANDLES - 1] = Handle { page: 2, slot: 1 };
        unused.cpus[0].local.page[MAX_HANDLES - 1] = 2;
        unused.cpus[1].t.loops[MAX_REPEATS - 1] = 3;
        assert_eq!(key(&unused), before);
        let mut used = e.clone();
        used.cpus[0].t.handles[0] = Handle { page: 2, slot: 1 };
        assert_ne!(key(&used), before);
        let mut local = e.clone();
        local.cpus[1].local.page[0] = 2;
        assert_ne!(key(&local), before);
    }

    /// A key space remembers the handles the last machine's program names: a machine with
    /// another program, keyed in the same space, gets the key a fresh space gives it.
    #[test]
    fn a_key_space_reused_for_another_program_keys_as_a_fresh_one() {
        let one = Engine::explorer(&machine(Strategy::Sync, 2, 2, 3)).unwrap();
        let mut sc = machine(Strategy::Sync, 2, 2, 3);
        sc.workload = crate::config::Workload::Custom;
        sc.program = Some(
            crate::workload::from_text(
                "kmap handle=0 page=cold; kmap handle=2 page=cold; access handle=2; \
                 kunmap handle=2; kunmap handle=0",
            )
            .unwrap(),
        );
        let mut two = Engine::explorer(&sc).unwrap();
        // Handles are numbered in the order the program names them: two here.
        two.cpus[0].t.handles[1] = Handle { page: 1, slot: 1 };
        assert_eq!((one.used().handles, two.used().handles), (1, 2));
        let mut space = KeySpace::default();
        let first = one.key(one.symmetry(true), &mut space).to_vec();
        assert_eq!(first, key(&one));
        let again = two.key(two.symmetry(true), &mut space).to_vec();
        assert_eq!(again, key(&two));
        let back = one.key(one.symmetry(true), &mut space).to_vec();
        assert_eq!(back, first);
    }

    /// `Parts::bound` covers the key of a machine whose every list is long, whose program
    /// names every handle and loop counter, and whose generations are in use (a key past the
    /// bound would panic): the bound counts the machine's own lengths, not a guess.
    #[test]
    fn the_bound_covers_a_machine_with_every_list_full() {
        let mut sc = machine(Strategy::Lazy, 3, 4, 6);
        sc.workload = Workload::Custom;
        let steps: Vec<String> = (0..MAX_HANDLES)
            .map(|h| format!("kmap handle={h} page=cold"))
            .chain((0..MAX_REPEATS).map(|r| format!("repeat to={r} times=2")))
            .collect();
        sc.program = Some(crate::workload::from_text(&steps.join("; ")).unwrap());
        let mut e = Engine::explorer(&sc).unwrap();
        assert_eq!(
            (e.used().handles, e.used().loops),
            (MAX_HANDLES, MAX_REPEATS)
        );
        e.flush_gen = 5;
        for (i, cpu) in e.cpus.iter_mut().enumerate() {
            for k in 0..40 {
                let ipi = Ipi {
                    arrival: k,
                    call: k,
                    generation: k % 7,
                };
                cpu.inflight.push_back(ipi);
                cpu.pending.push_back(ipi);
            }
            for slot in 0..4 {
                cpu.tlb.insert(slot, (slot + i as u32) % 6, slot as u64);
            }
            cpu.generation = i as u64;
        }
        for lock in &mut e.locks {
            lock.waiters.extend([0, 1, 2, 0, 1, 2]);
        }
        e.runq.extend([0, 1, 2, 0, 1]);
        e.pk.waitq.extend([0, 1, 2, 2, 1, 0]);
        e.pk.free.extend([0, 1, 2, 3]);
        e.pk.cleared.extend([3, 2, 1, 0]);
        for sym in [true, false] {
            let mut space = KeySpace::default();
            let len = e.key(e.symmetry(sym), &mut space).len();
            assert!(len > 1_000, "the key holds the long lists: {len} bytes");
        }
    }
}
