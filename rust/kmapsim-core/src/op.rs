//! One operation of a CPU's workload, and the check of an operation list against a scenario
//! (docs/model.md, sections 3 and 15). A leaf: the engine's replay and recording
//! (`engine/replay.rs`) and the binding use it.

use crate::config::{MAX_DURATION, Scenario};
use crate::error::ConfigError;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Op {
    /// Cycles of work before the kmap (at least 1).
    pub work: u64,
    /// The interrupts-off lock taken after the work, if any, and how long it is held.
    pub irq_lock: Option<u32>,
    pub irq_hold: u64,
    /// The page kmapped (below `pages`).
    pub page: u32,
    /// Whether the kmap is made with interrupts disabled (the misuse switch).
    pub irqs_off: bool,
    /// Whether a context switch follows the kunmap.
    pub switch: bool,
}

impl Op {
    /// The columns of an operation list: the task whose list a row belongs to (column `cpu`:
    /// with one task per CPU, the default, task i starts on CPU i), then the fields (`irq_lock`
    /// -1 for none). Recorded lists and CSV files use this order.
    pub const COLUMNS: [&'static str; 7] = [
        "cpu", "work", "irq_lock", "irq_hold", "page", "irqs_off", "switch",
    ];
}

/// Check a list against the scenario it is to drive.
pub fn validate(sc: &Scenario, ops: &[Vec<Op>]) -> Result<(), ConfigError> {
    let err = |problem: String, allowed: String| Err(ConfigError::new("replay", problem, allowed));
    if ops.len() as u64 != sc.task_count() {
        return err(
            format!("operation lists for {} tasks", ops.len()),
            format!(
                "one list per task: {} (one per CPU unless tasks is set; empty lists are allowed)",
                sc.task_count()
            ),
        );
    }
    for (c, list) in ops.iter().enumerate() {
        for (i, op) in list.iter().enumerate() {
            let at = format!("cpu {c}, operation {i}");
            if op.work == 0 || op.work > MAX_DURATION {
                return err(
                    format!("{at}: work {}", op.work),
                    format!("work in [1, {MAX_DURATION}] cycles"),
                );
            }
            if op.page as u64 >= sc.pages {
                return err(
                    format!("{at}: page {}", op.page),
                    format!("a page below pages = {}", sc.pages),
                );
            }
            if let Some(l) = op.irq_lock {
                if l as u64 >= sc.irq_locks {
                    return err(
                        format!("{at}: irq_lock {l}"),
                        format!("-1 (none) or a lock below irq_locks = {}", sc.irq_locks),
                    );
                }
                if op.irq_hold == 0 || op.irq_hold > MAX_DURATION {
                    return err(
                        format!("{at}: irq_hold {}", op.irq_hold),
                        format!("irq_hold in [1, {MAX_DURATION}] cycles with a lock"),
                    );
                }
            }
        }
    }
    Ok(())
}
