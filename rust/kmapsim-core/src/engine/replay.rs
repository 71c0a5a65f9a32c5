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
use crate::calls::{Call, CallRecord};
use crate::config::{Scenario, Workload};
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
        dbench_only(&self.sc, "replay")?;
        validate(&self.sc, &ops)?;
        let n = ops.len();
        self.replay = Some(Replay {
            ops,
            next: vec![0; n],
        });
        Ok(())
    }

    /// Keep every completed iteration's `Op` from now on.
    pub fn enable_recording(&mut self) -> Result<(), ConfigError> {
        dbench_only(&self.sc, "record_ops")?;
        self.recorded = Some(vec![Vec::new(); self.tasks.len()]);
        Ok(())
    }

    /// The ops recorded so far, per CPU, each list ending with the iteration in progress (its
    /// fields not drawn yet are zero): replaying them for the same number of cycles reproduces
    /// the run, since nothing after the end is used.
    pub fn recorded(&self) -> Option<Vec<Vec<Op>>> {
        let lists = self.recorded.as_ref()?;
        let mut out = lists.clone();
        for (id, list) in out.iter_mut().enumerate() {
            let task = self.task_ctx(id);
            if task.op_open {
                list.push(task.op);
            }
        }
        Some(out)
    }

    /// The next op of task `id`'s list, if it is replaying and the list has one more.
    pub(super) fn next_op(&mut self, id: u32) -> Option<Option<Op>> {
        let c = id as usize;
        let r = self.replay.as_mut()?;
        let op = r.ops[c].get(r.next[c]).copied();
        r.next[c] += 1;
        Some(op)
    }
}

/// Operation lists are iterations of the `dbench` loop: other workloads cannot record or replay
/// them.
fn dbench_only(sc: &Scenario, what: &str) -> Result<(), ConfigError> {
    if sc.workload == Workload::Dbench {
        return Ok(());
    }
    let (problem, allowed) = if what == "replay_calls" {
        (
            "call lists",
            "workload = \"dbench\" (the default): a call list replaces the program",
        )
    } else {
        (
            "operation lists",
            "workload = \"dbench\" (an operation is one iteration of its loop)",
        )
    };
    let problem = format!("{problem} with workload = {:?}", sc.workload.name());
    Err(ConfigError::new(what, problem, allowed.into()))
}

impl Engine {
    /// Drive every task from its list of kernel calls (`calls.rs`) instead of the workload's
    /// program: each task runs its list once and exits. Only at cycle 0, with the default
    /// `dbench` workload, and not with an operation list.
    pub fn set_call_replay(&mut self, lists: Vec<Vec<Call>>) -> Result<(), ConfigError> {
        let why = if self.now != 0 {
            Some(format!("set at cycle {}", self.now))
        } else if self.replay.is_some() {
            Some("set with an operation list (replay)".to_string())
        } else if self.recorded.is_some() {
            Some("set with record_ops (a call list has no operations to record)".to_string())
        } else {
            None
        };
        if let Some(problem) = why {
            let allowed = "set before the first cycle, without replay or record_ops".to_string();
            return Err(ConfigError::new("replay_calls", problem, allowed));
        }
        dbench_only(&self.sc, "replay_calls")?;
        let (steps, starts) = crate::calls::compile(&self.sc, &lists)?;
        self.program = crate::reuse::Shared(steps.into());
        for (id, &start) in starts.iter().enumerate() {
            match self.sched[id].cpu {
                crate::pkmap::NONE => self.tasks[id].pc = start,
                c => self.cpus[c as usize].t.pc = start,
            }
        }
        Ok(())
    }

    /// Keep every completed kmap and kunmap from now on (`RECORD_COLUMNS`).
    pub fn enable_call_recording(&mut self) {
        self.calls.get_or_insert_with(Vec::new);
    }

    /// Keep every kernel call started from now on, with its task and page (the checker's
    /// witness, `witness.rs`).
    pub fn record_started_calls(&mut self) {
        self.started.get_or_insert_with(Vec::new);
    }

    /// The calls started so far (task, call, page), if recording them.
    pub fn started_calls(&self) -> Option<&[(u32, crate::calls::CallOp, u32)]> {
        self.started.as_deref()
    }

    /// The calls recorded so far, if recording.
    pub fn recorded_calls(&self) -> Option<&[CallRecord]> {
        self.calls.as_deref()
    }
}
