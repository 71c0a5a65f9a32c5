//! The task's program (docs/model.md, section 16): the interpreter of its steps. Each step hands
//! over to the file of its kernel path (`work.rs`, `kmap.rs`, `copy.rs`, `kunmap.rs`,
//! `sched.rs`); when that path is done it advances the task's `pc` and comes back here.

use super::program::{Next, go};
use super::{Engine, Res};
use crate::calls::CallOp;
use crate::cpu::{Phase, Wait};
use crate::error::SimError;
use crate::op::Op;
use crate::pkmap::NONE;
use crate::stats::Category as C;
use crate::task::TaskState;
use crate::trace::EventKind as E;
use crate::trace::trace;
use crate::workload::Instr;

impl Engine {
    /// Run CPU `c`'s task from its current step: skip the steps whose chance says no, run the
    /// first that is taken.
    // Inlined into `run_program` (through `transition`), its one caller: the interpreter is the
    // hot loop.
    #[inline(always)]
    pub(super) fn next_step(&mut self, c: usize, t: u64) -> Res<Next> {
        let mut skipped = 0u32;
        loop {
            let cpu = &mut self.cpus[c];
            let step = match self.program.get(cpu.t.pc as usize) {
                Some(&step) => step,
                None => {
                    // The end of the program: again from the top.
                    cpu.t.pc = 0;
                    self.program[0]
                }
            };
            // Jumps, interrupt switches and skipped steps take no time: the loop goes on, with
            // a bound (ZERO_TIME_STEPS) on how long it may within one cycle.
            match step.instr {
                instr @ (Instr::Repeat { .. } | Instr::Irqs { .. }) => {
                    if let Some(next) = self.control_step(c, instr) {
                        return Ok(next);
                    }
                }
                // A yield draws its own chance: it ends a dbench iteration, taken or not.
                Instr::Yield => {
                    let id = self.cpus[c].t.id;
                    if let Some(next) = self.yield_cpu(c, t, step.prob.get())? {
                        if let Some(list) = self.started.as_mut() {
                            list.push((id, CallOp::Yield, NONE));
                        }
                        return Ok(next);
                    }
                }
                instr => match step.prob.get() {
                    Some(p) if !self.taken(c, instr, p) => self.cpus[c].t.pc += 1,
                    _ => return self.run_step(c, t, instr),
                },
            }
            skipped += 1;
            if skipped > super::program::ZERO_TIME_STEPS {
                return Err(self.no_time(c, t));
            }
        }
    }

    /// A `repeat` or an interrupt switch: no time passes. Returns a zero-length stretch when
    /// interrupts were just enabled with IPIs waiting (their handler takes time, so this cannot
    /// loop within a cycle), else None: the next step runs at once.
    #[inline(never)]
    fn control_step(&mut self, c: usize, instr: Instr) -> Option<Next> {
        let cpu = &mut self.cpus[c];
        match instr {
            Instr::Repeat { to, times, counter } => {
                let task = &mut cpu.t;
                let n = &mut task.loops[counter as usize];
                if *n < times {
                    *n += 1;
                    task.pc = to;
                } else {
                    *n = 0;
                    task.pc += 1;
                }
            }
            Instr::Irqs { on } => {
                cpu.t.irqs_disabled = !on;
                cpu.irqs_on = on;
                cpu.t.pc += 1;
                if on && !cpu.pending.is_empty() {
                    return Some(go(cpu.cat, 0, Phase::NextOp));
                }
            }
            _ => unreachable!("only jumps and interrupt switches"),
        }
        None
    }

    /// Whether a step with chance `p` is taken: one draw, or the replayed iteration's choice.
    #[inline(always)]
    pub(super) fn taken(&mut self, c: usize, instr: Instr, p: f64) -> bool {
        let replaying = self.replay.is_some();
        let task = &mut self.cpus[c].t;
        match instr {
            Instr::IrqSection { .. } if replaying => task.op.irq_lock.is_some(),
            Instr::Yield if replaying => task.op.switch,
            Instr::Yield => {
                task.op.switch = task.rng.chance(p);
                task.op.switch
            }
            _ if replaying => true,
            _ => task.rng.chance(p),
        }
    }

    /// Run one step (a `repeat` is a jump, taken by `next_step`).
    #[inline(always)]
    fn run_step(&mut self, c: usize, t: u64, instr: Instr) -> Res<Next> {
        if self.started.is_none() {
            return self.start_step(c, t, instr);
        }
        // The checker's witness (`witness.rs`): the call and its page, once the step has begun
        // (a kmap draws its page as it begins; an access or a kunmap names a page it holds).
        // The task, before the step: a block or a sleep switches it out of the CPU.
        let id = self.cpus[c].t.id;
        let held = match instr {
            Instr::Access { handle, .. } | Instr::Kunmap { handle, .. } => {
                self.cpus[c].t.handles[handle as usize].page
            }
            _ => NONE,
        };
        let next = self.start_step(c, t, instr)?;
        let task = self.task_ctx(id as usize);
        let call = match instr {
            Instr::Kmap { .. } => Some((CallOp::Kmap, task.op.page)),
            Instr::Access { .. } => Some((CallOp::Access, held)),
            Instr::Kunmap { .. } => Some((CallOp::Kunmap, held)),
            Instr::Block { .. } => Some((CallOp::Block, NONE)),
            Instr::IrqSection { .. } => {
                Some((CallOp::IrqSection, task.op.irq_lock.unwrap_or(NONE)))
            }
            _ => None,
        };
        if let (Some((op, page)), Some(list)) = (call, self.started.as_mut()) {
            list.push((id, op, page));
        }
        Ok(next)
    }

    /// Begin step `instr` of CPU `c`'s task.
    #[inline(always)]
    fn start_step(&mut self, c: usize, t: u64, instr: Instr) -> Res<Next> {
        Ok(match instr {
            Instr::Work { dist, cycles } => return self.work_step(c, t, dist, cycles),
            Instr::IrqSection { lock, dist, cycles } => self.irq_section(c, t, lock, dist, cycles),
            Instr::Kmap {
                handle,
                source,
                irqs_off,
            } => self.kmap_step(c, t, handle, source, irqs_off)?,
            Instr::Access {
                handle,
                lookups,
                cycles,
                irqs_off,
            } => self.access_step(c, t, handle, lookups, cycles, irqs_off)?,
            Instr::Kunmap { handle, irqs_off } => self.kunmap_step(c, t, handle, irqs_off)?,
            Instr::Block { dist, cycles } => self.block(c, t, dist, cycles),
            Instr::Repeat { .. } | Instr::Irqs { .. } | Instr::Yield => {
                unreachable!("next_step takes jumps, interrupt switches and yields")
            }
            Instr::Exit => self.exit(c, t),
        })
    }

    /// A `work` step: draw (or replay) its length and spend it. The first work of a `dbench`
    /// iteration opens the iteration's `Op`.
    #[inline]
    fn work_step(&mut self, c: usize, t: u64, dist: crate::config::Dist, mean: u64) -> Res<Next> {
        let id = self.cpus[c].task;
        let work = match self.next_op(id) {
            None => {
                let task = &mut self.cpus[c].t;
                let work = Self::draw(dist, mean, &mut task.rng);
                task.op = Op {
                    work,
                    ..Op::default()
                };
                work
            }
            Some(Some(op)) => {
                self.cpus[c].t.op = op;
                op.work
            }
            Some(None) => return Ok(self.exit(c, t)),
        };
        let cpu = &mut self.cpus[c];
        cpu.t.op_open = true;
        if cpu.refill_debt > 0 {
            // The first stretch of work after a full TLB flush refills the working set's
            // translations (docs/model.md, section 18).
            let refill = std::mem::take(&mut cpu.refill_debt);
            self.counters.tlb_refills += 1;
            return Ok(go(C::TlbMiss, refill, Phase::Refilled));
        }
        Ok(go(C::Work, work, Phase::WorkDone))
    }

    /// The task's replayed list ended: it exits and the CPU runs another or idles.
    fn exit(&mut self, c: usize, t: u64) -> Next {
        self.done_tasks += 1;
        trace!(self, t, c, E::Done);
        let id = self.cpus[c].task as usize;
        self.sched[id].enter(TaskState::Exited, t);
        self.schedule(c, t, C::Idle, Wait::Done)
    }

    /// The step the CPU's task was on is done: on to the next one, after a zero-length stretch
    /// in `cat` (a point where interrupts just enabled are taken).
    #[inline]
    pub(super) fn step_done(&mut self, c: usize, cat: C) -> Next {
        self.cpus[c].t.pc += 1;
        go(cat, 0, Phase::NextOp)
    }

    /// An `access` step: `lookups` TLB lookups of the handle's page over `cycles`, with the
    /// safety check (`copy.rs`).
    #[inline]
    fn access_step(
        &mut self,
        c: usize,
        t: u64,
        handle: u8,
        lookups: u64,
        cycles: u64,
        irqs_off: bool,
    ) -> Res<Next> {
        self.use_handle(c, t, handle, "the task accesses")?;
        let cpu = &mut self.cpus[c];
        cpu.lookup = 0;
        cpu.lookups = lookups;
        cpu.access_q = cycles / lookups;
        cpu.access_r = cycles % lookups;
        cpu.access_irqs_off = irqs_off;
        if irqs_off {
            // local_irq_disable(): IPIs wait until the access is over.
            cpu.irqs_on = false;
        }
        self.copy_lookup(c, t)
    }

    /// Make `handle`'s mapping the one the call in progress works on; a handle that maps
    /// nothing (never kmapped, or kunmapped already) is a kernel BUG, `doing` says by whom.
    #[inline(always)]
    pub(super) fn use_handle(&mut self, c: usize, t: u64, handle: u8, doing: &str) -> Res<()> {
        let task = &mut self.cpus[c].t;
        let h = task.handles[handle as usize];
        if !h.held() {
            return Err(self.unheld(c, t, handle, doing));
        }
        task.handle = handle;
        task.page = h.page;
        task.slot = h.slot;
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn unheld(&self, c: usize, t: u64, handle: u8, doing: &str) -> Box<SimError> {
        let msg = format!(
            "{doing} handle {handle}, which maps no page it holds (task {}: never kmapped, or \
             kunmapped already)",
            self.cpus[c].t.id
        );
        self.bug(c, t, msg)
    }
}
