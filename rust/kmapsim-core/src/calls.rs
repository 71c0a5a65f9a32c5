//! Call-level replay and record (docs/model.md, section 15): a per-task list of kernel calls
//! (`kmap`, `kunmap`, `access`, `block`, `yield`, `irq_section`), such as a bpftrace or ftrace
//! log of `kmap_high`/`kunmap_high`, drives the tasks in place of their program; and a run can
//! record every completed `kmap` and `kunmap` with its slot. A leaf: the engine compiles a list
//! into program steps here and runs them like any program.

use crate::config::{Dist, MAX_DURATION, Scenario};
use crate::error::ConfigError;
pub use crate::pkmap::NONE;
use crate::workload::{Chance, Instr, MAX_HANDLES, PageSource, Step};

/// The kernel calls a replayed list may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOp {
    /// `work` cycles, then `kmap(page)` into a free handle.
    Kmap,
    /// `work` cycles, then `kunmap(page)` of the task's latest mapping of `page`.
    Kunmap,
    /// `work` cycles, then an access of the task's mapping of `page` (`copy_lookups` lookups
    /// over `copy_cycles`).
    Access,
    /// A block of `work` cycles (holding whatever the task holds).
    Block,
    /// `work` cycles, then `schedule()`.
    Yield,
    /// An interrupts-off section on lock `page` (-1: any), held `work` cycles.
    IrqSection,
}

impl CallOp {
    pub const NAMES: &'static [&'static str] =
        &["kmap", "kunmap", "access", "block", "yield", "irq_section"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "kmap" => Self::Kmap,
            "kunmap" => Self::Kunmap,
            "access" => Self::Access,
            "block" => Self::Block,
            "yield" => Self::Yield,
            "irq_section" => Self::IrqSection,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// One row of a replayed call list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub op: CallOp,
    /// The page (or, for `irq_section`, the lock); NONE for none.
    pub page: u32,
    /// Cycles before the call (for `block` and `irq_section`: their length).
    pub work: u64,
}

/// The columns of a call list, and of recorded calls.
pub const CALL_COLUMNS: [&str; 4] = ["task", "op", "page", "work"];
pub const RECORD_COLUMNS: [&str; 8] = [
    "cycle", "task", "cpu", "op", "page", "slot", "slept", "flushed",
];

/// One completed `kmap` or `kunmap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// The cycle the call returned.
    pub cycle: u64,
    pub task: u32,
    pub cpu: u32,
    /// `Kmap` or `Kunmap`.
    pub op: CallOp,
    pub page: u32,
    pub slot: u32,
    /// Whether the kmap slept on `pkmap_map_wait` (always false for a kunmap).
    pub slept: bool,
    /// Whether the kmap ran `flush_all_zero_pkmaps()` (always false for a kunmap).
    pub flushed: bool,
}

/// Compile every task's list into one program: task `i` starts at step `starts[i]`, and each
/// list ends with an exit. Errors name the task and row.
pub fn compile(sc: &Scenario, lists: &[Vec<Call>]) -> Result<(Vec<Step>, Vec<u32>), ConfigError> {
    if lists.len() as u64 != sc.task_count() {
        return Err(ConfigError::new(
            "replay_calls",
            format!("call lists for {} tasks", lists.len()),
            format!(
                "one list per task: {} (one per CPU unless tasks is set; empty lists are allowed)",
                sc.task_count()
            ),
        ));
    }
    let mut steps = Vec::new();
    let mut starts = Vec::with_capacity(lists.len());
    for (task, list) in lists.iter().enumerate() {
        starts.push(steps.len() as u32);
        let mut held = [NONE; MAX_HANDLES];
        for (row, call) in list.iter().enumerate() {
            let at = |problem: String, allowed: &str| {
                ConfigError::new(
                    "replay_calls",
                    format!("task {task}, call {row} ({}): {problem}", call.op.name()),
                    allowed.to_string(),
                )
            };
            compile_call(sc, call, &mut held, &mut steps).map_err(|(p, a)| at(p, &a))?;
        }
        steps.push(Step {
            instr: Instr::Exit,
            prob: Chance::NONE,
        });
    }
    Ok((steps, starts))
}

/// What is wrong with a call, and what is allowed (naming the scenario's value it breaks).
type CallError = (String, String);

/// A page (or lock) as the list gave it: -1 for none.
fn shown(page: u32) -> i64 {
    if page == NONE { -1 } else { i64::from(page) }
}

/// One call's steps; `held` tracks the page of each handle along the list.
fn compile_call(
    sc: &Scenario,
    call: &Call,
    held: &mut [u32; MAX_HANDLES],
    steps: &mut Vec<Step>,
) -> Result<(), CallError> {
    if call.work > MAX_DURATION {
        return Err((
            format!("work {}", call.work),
            format!("work in [0, {MAX_DURATION}] cycles"),
        ));
    }
    let step = |instr| Step {
        instr,
        prob: Chance::NONE,
    };
    let fixed = |cycles| Instr::Work {
        dist: Dist::Fixed,
        cycles,
    };
    let page_ok = call.page != NONE && u64::from(call.page) < sc.pages;
    let pre = call.work > 0 && !matches!(call.op, CallOp::Block | CallOp::IrqSection);
    if pre {
        steps.push(step(fixed(call.work)));
    }
    let instr = match call.op {
        CallOp::Kmap => {
            if !page_ok {
                let allowed = format!("a page below pages = {}", sc.pages);
                return Err((format!("page {}", shown(call.page)), allowed));
            }
            let Some(h) = held.iter().position(|&p| p == NONE) else {
                let allowed = format!("at most {MAX_HANDLES} mappings held at once by a task");
                return Err(("a ninth mapping held at once".into(), allowed));
            };
            held[h] = call.page;
            Instr::Kmap {
                handle: h as u8,
                source: PageSource::Page(call.page),
                irqs_off: Chance::NONE,
            }
        }
        CallOp::Kunmap | CallOp::Access => {
            let found = held.iter().rposition(|&p| p == call.page && page_ok);
            let Some(h) = found.map(|h| h as u8) else {
                return Err((
                    format!(
                        "page {}, which the task does not hold here",
                        shown(call.page)
                    ),
                    "a page the task kmapped earlier in its list and has not kunmapped".into(),
                ));
            };
            if call.op == CallOp::Kunmap {
                held[h as usize] = NONE;
                Instr::Kunmap {
                    handle: h,
                    irqs_off: Chance::NONE,
                }
            } else {
                Instr::Access {
                    handle: h,
                    lookups: sc.copy_lookups,
                    cycles: sc.copy_cycles,
                    irqs_off: false,
                }
            }
        }
        CallOp::Block if call.work == 0 => {
            return Err(("work 0".into(), "a block of >= 1 cycle".into()));
        }
        CallOp::Block => Instr::Block {
            dist: Dist::Fixed,
            cycles: call.work,
        },
        CallOp::Yield => Instr::Yield,
        CallOp::IrqSection => irq_section(sc, call)?,
    };
    steps.push(step(instr));
    Ok(())
}

fn irq_section(sc: &Scenario, call: &Call) -> Result<Instr, CallError> {
    if sc.irq_locks == 0 || call.work == 0 {
        return Err((
            format!("lock {} held {} cycles", shown(call.page), call.work),
            format!(
                "a hold of >= 1 cycle, on a scenario with irq_locks >= 1 (irq_locks = {})",
                sc.irq_locks
            ),
        ));
    }
    let lock = match call.page {
        NONE => None,
        l if u64::from(l) < sc.irq_locks => Some(l),
        l => {
            let allowed = format!("-1 (any) or a lock below irq_locks = {}", sc.irq_locks);
            return Err((format!("lock {l}"), allowed));
        }
    };
    Ok(Instr::IrqSection {
        lock,
        dist: Dist::Fixed,
        cycles: call.work,
    })
}
