//! Operation lists: record what each CPU's workload did, or drive the CPUs from a given list
//! (docs/model.md, section 15).
//!
//! One `Op` (`op.rs`) is one iteration of a CPU's program (docs/model.md, section 3): work, an
//! optional interrupts-off section, a kmap of a page (maybe with interrupts off), the copy, the
//! kunmap, an optional context switch. A random run can record its ops; replaying them (with the
//! same scenario and seed, which also drive lock arbitration) reproduces the run exactly. Lists
//! taken from a real kernel (bpftrace on kmap/kunmap) can drive the model the same way. A CPU
//! whose list ends stays idle for the rest of the run.

use super::Engine;
use crate::error::ConfigError;
use crate::op::{Op, validate};

/// Where each CPU is in its list.
#[derive(Clone, Debug)]
pub(super) struct Replay {
    pub ops: Vec<Vec<Op>>,
    pub next: Vec<usize>,
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
    pub(super) fn next_op(&mut self, c: usize) -> Option<Option<Op>> {
        let r = self.replay.as_mut()?;
        let op = r.ops[c].get(r.next[c]).copied();
        r.next[c] += 1;
        Some(op)
    }
}
