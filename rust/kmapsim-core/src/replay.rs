//! Operation lists: record what each CPU's workload did, or drive the CPUs from a given list.
//!
//! One `Op` is one iteration of a CPU's program (docs/model.md, section 3): work, an optional
//! interrupts-off section, a kmap of a page (maybe with interrupts off), the copy, the kunmap,
//! an optional context switch. A random run can record its ops; replaying them (with the same
//! scenario and seed, which also drive lock arbitration) reproduces the run exactly. Lists
//! taken from a real kernel (bpftrace on kmap/kunmap) can drive the model the same way. A CPU
//! whose list ends stays idle for the rest of the run.

use crate::config::{MAX_DURATION, Scenario};
use crate::engine::Engine;
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

/// Where each CPU is in its list.
#[derive(Clone, Debug)]
pub(crate) struct Replay {
    pub ops: Vec<Vec<Op>>,
    pub next: Vec<usize>,
}

/// Check a list against the scenario it is to drive.
pub fn validate(sc: &Scenario, ops: &[Vec<Op>]) -> Result<(), ConfigError> {
    let err = |problem: String, allowed: String| Err(ConfigError::new("replay", problem, allowed));
    if ops.len() != sc.cpus as usize {
        return err(
            format!("operation lists for {} CPUs", ops.len()),
            format!("one list per CPU: {} (empty lists are allowed)", sc.cpus),
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

impl Engine {
    /// Drive every CPU from `ops` instead of the random workload. Only at cycle 0.
    pub fn set_replay(&mut self, ops: Vec<Vec<Op>>) -> Result<(), ConfigError> {
        if self.now != 0 {
            return Err(ConfigError::new(
                "replay",
                format!("set at cycle {}", self.now),
                "set before the first cycle".into(),
            ));
        }
        validate(&self.sc, &ops)?;
        let n = ops.len();
        self.replay = Some(Replay {
            ops,
            next: vec![0; n],
        });
        Ok(())
    }

    /// Keep every completed iteration's `Op` from now on.
    pub fn enable_recording(&mut self) {
        self.recorded = Some(vec![Vec::new(); self.cpus.len()]);
    }

    /// The ops recorded so far, per CPU, each list ending with the iteration in progress (its
    /// fields not drawn yet are zero): replaying them for the same number of cycles reproduces
    /// the run, since nothing after the end is used.
    pub fn recorded(&self) -> Option<Vec<Vec<Op>>> {
        let lists = self.recorded.as_ref()?;
        let mut out = lists.clone();
        for (c, list) in out.iter_mut().enumerate() {
            if self.cpus[c].op_open {
                list.push(self.cpus[c].op);
            }
        }
        Some(out)
    }

    /// The next op of CPU `c`'s list, if it is replaying and the list has one more.
    pub(crate) fn next_op(&mut self, c: usize) -> Option<Option<Op>> {
        let r = self.replay.as_mut()?;
        let op = r.ops[c].get(r.next[c]).copied();
        r.next[c] += 1;
        Some(op)
    }
}
