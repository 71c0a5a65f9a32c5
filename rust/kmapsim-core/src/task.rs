//! A task (docs/model.md, section 16): the program it runs, where it is in it, the mappings it
//! holds, its random stream, and what it was doing when it last left a CPU. The state of the task
//! a CPU runs lives in that CPU (`Cpu::task`); a task off every CPU keeps it in the engine's table.

use crate::op::Op;
use crate::phase::Phase;
use crate::pkmap::NONE;
use crate::rng::Stream;
use crate::workload::{MAX_HANDLES, MAX_REPEATS};

/// One mapping a task holds through a handle of its program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    /// The page mapped, or NONE.
    pub page: u32,
    /// Its pkmap slot (or kmap_local slot, numbered from `last_pkmap`).
    pub slot: u32,
}

impl Handle {
    pub const EMPTY: Handle = Handle {
        page: NONE,
        slot: NONE,
    };

    #[inline]
    pub fn held(&self) -> bool {
        self.page != NONE
    }
}

/// Where a task is, for the scheduler and the per-task breakdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TaskState {
    /// On a CPU, from the moment it is given one (whatever that CPU does: switch it in, work,
    /// spin, copy, ...).
    Running,
    /// Ready, waiting for a CPU on the run queue.
    Runnable,
    /// Blocked on I/O for a drawn time.
    Blocked,
    /// Asleep on `pkmap_map_wait`.
    PoolSleep,
    /// Its replayed operation list ended.
    Exited,
}

/// The per-task breakdown's columns (an exited task's cycles count as blocked).
pub const TASK_STATES: [&str; 4] = ["running", "runnable", "blocked", "pool_sleep"];

/// A task's program state: everything that moves with it from CPU to CPU.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskCtx {
    pub id: u32,
    /// The step to run next.
    pub pc: u32,
    /// How many times each `repeat` step has jumped back so far.
    pub loops: [u32; MAX_REPEATS],
    pub handles: [Handle; MAX_HANDLES],
    /// The next page of a `sequential` source, counted in the task's own pages.
    pub cursor: u64,
    pub rng: Stream,
    /// The phase to run when the task is next switched in.
    pub resume: Phase,
    /// The iteration in progress, as recorded or replayed (the `dbench` workload).
    pub op: Op,
    /// Whether `op` is begun and not yet complete.
    pub op_open: bool,
    /// The kernel call in progress (it may sleep and resume on another CPU): its handle, page
    /// and slot, and whether it was called with interrupts disabled (a misuse switch).
    pub handle: u8,
    pub page: u32,
    pub slot: u32,
    pub misuse: bool,
    /// Interrupts disabled by the program (`irq_disable` until `irq_enable`): its kmaps and
    /// kunmaps meanwhile are made with interrupts disabled, and a path that would enable them
    /// restores this instead.
    pub irqs_disabled: bool,
    /// Whether the kmap in progress slept on `pkmap_map_wait`, and ran a flush (for recorded
    /// calls).
    pub slept: bool,
    pub flushed: bool,
}

impl TaskCtx {
    pub fn new(id: u32, rng: Stream) -> Self {
        TaskCtx {
            id,
            pc: 0,
            loops: [0; MAX_REPEATS],
            handles: [Handle::EMPTY; MAX_HANDLES],
            cursor: 0,
            rng,
            resume: Phase::NextOp,
            op: Op::default(),
            op_open: false,
            handle: 0,
            page: 0,
            slot: 0,
            misuse: false,
            irqs_disabled: false,
            slept: false,
            flushed: false,
        }
    }

    /// The mappings held, as `(handle, page, slot)`.
    pub fn held(&self) -> impl Iterator<Item = (usize, u32, u32)> + '_ {
        self.handles
            .iter()
            .enumerate()
            .filter(|(_, h)| h.held())
            .map(|(i, h)| (i, h.page, h.slot))
    }
}

/// A task's scheduling record: never moved, so always current.
#[derive(Clone, Copy, Debug)]
pub struct TaskSched {
    pub state: TaskState,
    /// Since when it is in `state`.
    pub since: u64,
    /// Cycles in each of `TASK_STATES` before `since`.
    pub cycles: [u64; 4],
    /// The CPU it runs on (or is assigned to), or NONE.
    pub cpu: u32,
    /// The CPU it last ran on (its TLB and cache are there), or NONE.
    pub last_cpu: u32,
}

impl TaskSched {
    pub fn new(state: TaskState, cpu: u32) -> Self {
        TaskSched {
            state,
            since: 0,
            cycles: [0; 4],
            cpu,
            last_cpu: cpu,
        }
    }

    /// The `TASK_STATES` column of a state.
    #[inline]
    fn column(state: TaskState) -> usize {
        match state {
            TaskState::Running => 0,
            TaskState::Runnable => 1,
            TaskState::Blocked | TaskState::Exited => 2,
            TaskState::PoolSleep => 3,
        }
    }

    /// Enter `state` at cycle `t`.
    #[inline]
    pub fn enter(&mut self, state: TaskState, t: u64) {
        self.cycles[Self::column(self.state)] += t - self.since;
        self.since = t;
        self.state = state;
    }

    /// The breakdown as of cycle `now`.
    pub fn breakdown(&self, now: u64) -> [u64; 4] {
        let mut row = self.cycles;
        row[Self::column(self.state)] += now - self.since;
        row
    }
}

// SAFETY: a task's schedule is integers and enums, with a derived `Clone`.
crate::pack::plain!(unsafe TaskSched);

/// A task's context as its bytes: how a context a task owns is packed.
#[repr(transparent)]
struct Whole(TaskCtx);

// SAFETY: a task's context is integers, flags, enums, handles (integers), an operation
// (integers, flags, options of them) and its random stream (`rng::Stream`: `rand_pcg`'s
// `Pcg64`, two 128-bit integers with a derived `Clone`, and a flag), with a derived `Clone`;
// `Whole` is only that (`repr(transparent)`). A version of `rand_pcg` that gave `Pcg64` a
// pointer or a `Drop` would fail `plain!`'s assertion only for the `Drop`: check its fields
// when upgrading it.
crate::pack::plain!(unsafe Whole);

crate::pack::pack_each!(TaskCtx);

impl TaskCtx {
    /// Whether this is a context no task owns (`id` NONE): an idle CPU's, or the one a task left
    /// in the task table when it went onto a CPU. Those are the machine's first placeholders
    /// (`Engine::new`), moved about by the switches but never run, so they keep the first
    /// values of `TaskCtx::new` but for their stream.
    fn is_placeholder(&self) -> bool {
        self.id == NONE && *self == TaskCtx::new(NONE, self.rng.clone())
    }
}

/// A context a task owns is packed whole; a placeholder (`is_placeholder`), as its id only:
/// there is one for each CPU (a task on a CPU leaves one behind in the task table, an idle CPU
/// holds one), and it unpacks as a fresh placeholder with the target's stream (scripted, as
/// every stream of a checker's machine: `rng.rs`).
impl crate::pack::Pack for TaskCtx {
    fn packed_len(&self) -> usize {
        size_of::<u32>()
            + match self.id {
                NONE => self.rng.packed_len(),
                _ => size_of::<Whole>(),
            }
    }

    fn pack_into<'a>(&self, out: &'a mut [crate::pack::Byte]) -> &'a mut [crate::pack::Byte] {
        let out = crate::pack::put(out, &[self.id]);
        if self.id == NONE {
            debug_assert!(
                self.is_placeholder(),
                "a context no task owns was run: {self:?}"
            );
            return self.rng.pack_into(out);
        }
        // SAFETY: `Whole` is `repr(transparent)` over `TaskCtx`.
        let whole = unsafe { &*(self as *const TaskCtx).cast::<Whole>() };
        crate::pack::put(out, std::slice::from_ref(whole))
    }

    unsafe fn unpack<'a>(&mut self, input: &'a [crate::pack::Byte]) -> &'a [crate::pack::Byte] {
        // SAFETY: the caller's: the id `pack_into` wrote, then the stream or the whole context.
        let (id, input) = unsafe { crate::pack::get::<u32>(input) };
        if id == NONE {
            // SAFETY: the caller's.
            let rest = unsafe { self.rng.unpack(input) };
            *self = TaskCtx::new(NONE, self.rng.clone());
            return rest;
        }
        // SAFETY: the caller's.
        let (Whole(ctx), rest) = unsafe { crate::pack::get::<Whole>(input) };
        *self = ctx;
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::{Pack, pack};

    fn scripted(task: u32) -> Stream {
        let mut s = crate::rng::task_stream(7, task);
        s.script();
        s
    }

    fn unpacked(bytes: &[crate::pack::Byte], mut into: TaskCtx) -> TaskCtx {
        // SAFETY: `bytes` is one context as `pack` wrote it.
        let rest = unsafe { into.unpack(bytes) };
        assert!(rest.is_empty());
        into
    }

    fn live() -> TaskCtx {
        let mut t = TaskCtx::new(3, scripted(3));
        t.pc = 5;
        t.loops[1] = 2;
        t.handles[0] = Handle { page: 4, slot: 1 };
        t.cursor = 9;
        t.op_open = true;
        t.slept = true;
        t
    }

    #[test]
    fn a_placeholder_packs_as_its_id_and_unpacks_over_a_live_context_as_a_placeholder() {
        let mut out = Vec::new();
        pack(&TaskCtx::new(NONE, scripted(0)), &mut out);
        assert_eq!(out.len(), size_of::<u32>());
        let t = unpacked(&out, live());
        assert!(t.is_placeholder(), "{t:?}");
        assert!(!live().is_placeholder());
    }

    #[test]
    fn a_live_context_packs_whole_and_unpacks_over_a_placeholder_as_itself() {
        let mut out = Vec::new();
        pack(&live(), &mut out);
        assert_eq!(out.len(), size_of::<u32>() + size_of::<TaskCtx>());
        assert_eq!(unpacked(&out, TaskCtx::new(NONE, scripted(0))), live());
    }
}
