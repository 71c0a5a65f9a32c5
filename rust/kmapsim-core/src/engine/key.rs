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
//! pages are renamed in the order they first appear in the key, class by class, which is the
//! least renaming of the pages for that order of the CPUs, since the key's layout does not
//! depend on page numbers. The least key wins. Any key computed so is the key of a renaming of
//! the state, so two states with one key are renamings of each other: the reduction is sound
//! even where it does not find every renaming.

use super::Engine;
use crate::cpu::Ipi;
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
    best: Vec<u64>,
    candidate: Vec<u64>,
    gens: Vec<u64>,
    ren: Vec<u32>,
    order: Vec<usize>,
    heap: Vec<usize>,
    blocked: Vec<u64>,
    pages: Pages,
    sigs: Vec<[u64; 10]>,
    tlb: Vec<(u64, u32, u32)>,
    /// `Engine::used` of the last machine keyed, with the scenario and program it was found
    /// for (held, so that they stay the ones compared): every machine of one search shares
    /// them (and has a call list or not throughout).
    used: Option<UsedBy>,
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

    fn name(&mut self, p: u32) -> u64 {
        if !self.on || p == NONE {
            return p as u64;
        }
        let n = &mut self.names[p as usize];
        if *n == NONE {
            let class = (p >= self.hot) as usize;
            *n = self.next[class];
            self.next[class] += 1;
        }
        *n as u64
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

    fn generation(&self, g: u64) -> u64 {
        self.gens.partition_point(|&x| x < g) as u64
    }

    fn call(&self, id: u64) -> u64 {
        (id == self.call) as u64
    }

    fn ipi(&self, i: &Ipi) -> u64 {
        self.call(i.call) | self.generation(i.generation) << 1
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
    pub fn key<'s>(&self, sym: Symmetry, space: &'s mut KeySpace) -> &'s [u64] {
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
            return best;
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
                if found && *candidate < *best {
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
        best
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
    blocked: &'a mut Vec<u64>,
    pages: &'a mut Pages,
    tlb: &'a mut Vec<(u64, u32, u32)>,
    sym: Symmetry,
    used: Used,
}

impl Parts<'_> {
    fn cpu(&self, x: u32) -> u64 {
        if x == NONE {
            NONE as u64
        } else {
            self.ren[x as usize] as u64
        }
    }

    fn task(&self, x: u32) -> u64 {
        if x == NONE || !self.sym.cpus {
            x as u64
        } else {
            self.ren[x as usize] as u64
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

    /// The whole key, in `k`: CPUs and tasks in their new order.
    fn key(&mut self, k: &mut Vec<u64>) {
        let e = self.e;
        k.clear();
        self.pages.reset(self.sym.pages, e.sc.pages as usize);
        self.order.clear();
        self.order.resize(e.cpus.len(), 0);
        for (old, &new) in self.ren.iter().enumerate() {
            self.order[new as usize] = old;
        }
        k.push(self.norm.generation(e.flush_gen));
        // A call's sender and counts are read only while acks are still due.
        let call = &e.call;
        if call.finished < call.targets {
            k.extend([
                self.cpu(call.sender),
                call.targets as u64,
                call.finished as u64,
            ]);
        } else {
            k.extend([NONE as u64, 0, 0]);
        }
        for i in 0..e.cpus.len() {
            self.cpu_key(self.order[i], k);
        }
        for i in 0..e.tasks.len() {
            // Under symmetry there is one task a CPU, renamed with it.
            let id = if self.sym.cpus { self.order[i] } else { i };
            let s = &e.sched[id];
            k.extend([s.state as u64, self.cpu(s.cpu), self.cpu(s.last_cpu)]);
            if s.cpu == NONE {
                self.task_key(&e.tasks[id], k);
            }
        }
        k.push(u64::MAX);
        k.extend(e.runq.iter().map(|&id| self.task(id)));
        self.blocked.clear();
        for r in &e.timers {
            let id = self.task(r.0.1);
            self.blocked.push(id);
        }
        self.blocked.sort_unstable();
        k.push(u64::MAX);
        k.extend(self.blocked.iter().copied());
        for lock in &e.locks {
            k.push(u64::MAX);
            k.push(lock.holder.map_or(NONE as u64, |h| self.cpu(h)));
            k.extend(lock.waiters.iter().map(|&w| self.cpu(w)));
        }
        let norm = self.norm;
        let ren = &*self.ren;
        let cpus = self.sym.cpus;
        let task = |x: u32| {
            if x == NONE || !cpus {
                x as u64
            } else {
                ren[x as usize] as u64
            }
        };
        let pages = &mut *self.pages;
        e.pk.abstract_key(&|g| norm.generation(g), &task, &mut |p| pages.name(p), k);
        k.push(e.done_tasks as u64);
    }

    /// CPU `c`'s part of the key.
    fn cpu_key(&mut self, c: usize, k: &mut Vec<u64>) {
        let e = self.e;
        let norm = self.norm;
        let cpu = &e.cpus[c];
        let wait = match cpu.wait {
            crate::cpu::Wait::None => 0,
            crate::cpu::Wait::Lock(l) => 1 | (l as u64) << 8,
            crate::cpu::Wait::Acks(call) => 2 | norm.call(call) << 8,
            crate::cpu::Wait::Sleep => 3,
            crate::cpu::Wait::Done => 4,
            crate::cpu::Wait::Idle => 5,
        };
        let saved = cpu.saved.map_or(0, |s| {
            let left = match s.remaining {
                crate::cpu::NEVER => 1,
                0 => 2,
                _ => 3,
            };
            1 + s.phase as u64 * 4 + left
        });
        // Which idle CPU a woken task goes to depends on how long each has idled.
        let idle_rank = if cpu.idle() {
            e.cpus
                .iter()
                .filter(|d| d.idle() && d.idle_since < cpu.idle_since)
                .count() as u64
        } else {
            u64::MAX
        };
        k.push(u64::MAX - 1);
        k.extend([
            cpu.phase as u64,
            (cpu.until != crate::cpu::NEVER) as u64,
            wait,
            cpu.irqs_on as u64,
            saved,
            norm.call(cpu.handler_call),
            norm.generation(cpu.handler_gen),
            norm.call(cpu.acked_call),
            norm.call(cpu.targeted_by_call),
            self.task(cpu.task),
            idle_rank,
            norm.generation(cpu.generation),
            cpu.may_hold as u64,
            cpu.behind as u64,
            norm.generation(cpu.defer_gen),
            cpu.irq_lock as u64,
            cpu.scan_left as u64,
            // Only whether the kmap has flushed yet is read (`Pkmap::allocate`, `loop_count`).
            (cpu.scan_flushes > 0) as u64,
            cpu.lookup as u64,
            cpu.lookups,
            cpu.access_irqs_off as u64,
            cpu.need_wakeup as u64,
            cpu.flush_cleared,
            (cpu.refill_debt > 0) as u64,
        ]);
        k.extend(cpu.inflight.iter().map(|i| norm.ipi(i)));
        k.push(u64::MAX);
        k.extend(cpu.pending.iter().map(|i| norm.ipi(i)));
        k.push(u64::MAX);
        for &p in &cpu.local.page[..self.used.handles] {
            k.push(self.pages.name(p));
        }
        // The use order of the TLB is read only by an eviction: when the TLB has room for every
        // slot and nothing evicts, it holds a set.
        let lru_read = e.evict_per_cycle > 0 || cpu.tlb.capacity() < e.pk.count.len();
        let pages = &mut *self.pages;
        cpu.tlb
            .abstract_key(lru_read, &mut |p| pages.name(p), self.tlb, k);
        if cpu.task != NONE {
            self.task_key(&cpu.t, k);
        }
    }

    /// A task's program state in the key: no durations, its sequential cursor modulo its pages.
    fn task_key(&mut self, t: &TaskCtx, k: &mut Vec<u64>) {
        k.push(u64::MAX - 2);
        k.extend([
            self.task(t.id),
            t.pc as u64,
            // Below `own` (always, unless a program draws sequential pages) it is its own rest.
            if t.cursor < self.used.own {
                t.cursor
            } else {
                t.cursor % self.used.own
            },
            t.resume as u64,
        ]);
        k.extend(t.loops[..self.used.loops].iter().map(|&n| n as u64));
        for h in &t.handles[..self.used.handles] {
            k.extend([self.pages.name(h.page), h.slot as u64]);
        }
        // The op's page is left out: only recording reads it (`record_op`, off here) once
        // `kmap_step` has copied it into `t.page`.
        let op = &t.op;
        k.extend([
            op.irq_lock.map_or(NONE as u64, |l| l as u64),
            op.irqs_off as u64 | (op.switch as u64) << 1 | (t.op_open as u64) << 2,
            t.handle as u64,
            self.pages.name(t.page),
            t.slot as u64,
            t.misuse as u64 | (t.irqs_disabled as u64) << 1 | (t.slept as u64) << 2,
            t.flushed as u64,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::tests::machine;
    use crate::config::Strategy;
    use crate::task::Handle;

    fn key(e: &Engine) -> Vec<u64> {
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
}
