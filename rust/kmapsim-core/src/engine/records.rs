//! The memory budget of a run's opt-in records (docs/model.md, section 15, "Record budget"): the
//! trace, the time series and the recorded operations. The engine's own state is fixed at the
//! start; these grow with the run, and a caller turns each record into objects of its own (24
//! to 48 bytes in the engine). Measured with `tracemalloc` on Python 3.11 (8 CPUs of the preset,
//! 20M cycles; the result's rows held after the run): 479 bytes per trace event, 210 per sample,
//! 165 per recorded operation. The budget counts 600, 300 and 300 (those measurements rounded up
//! with room for the DataFrames built from them: an estimate, not a fit). So a run's records are
//! checked against `RECORD_BUDGET_BYTES`, counted at those sizes, before the run (trace and samples: their sizes are known) or as they grow
//! (recorded operations), and every allocation for them is fallible: running out of memory stops
//! the run with `SimError::OutOfMemory` instead of aborting the process.

use super::{Engine, Res};
use crate::calls::{CallOp, CallRecord};
use crate::error::{ConfigError, SimError};

/// Most memory a run's records may take, counted as below: 2 GiB (a tool setting, a twelfth of
/// this project's 24 GiB machines).
pub const RECORD_BUDGET_BYTES: u64 = 2 << 30;
/// Bytes counted per trace event (a Python tuple with a dict of fields).
pub const TRACE_EVENT_BYTES: u64 = 600;
/// Bytes counted per sample of the time series (a Python tuple of 7 integers).
pub const SAMPLE_BYTES: u64 = 300;
/// Bytes counted per recorded operation (a Python tuple of 7 values), and per recorded call (a
/// tuple of 8: measured the same way at 241 bytes, on 16,753 calls of the preset's 8 CPUs over
/// 20M cycles, so 300 rounds it up as for the others).
pub const OP_BYTES: u64 = 300;
pub const CALL_BYTES: u64 = 300;

/// Most trace events a run may keep: the whole budget.
pub const MAX_TRACE: u64 = RECORD_BUDGET_BYTES / TRACE_EVENT_BYTES;

impl Engine {
    /// Bytes of the budget taken by records so far, with the trace counted at its cap.
    pub fn record_bytes(&self) -> u64 {
        let trace = self.trace.as_ref().map_or(0, |t| t.cap() as u64);
        let samples = self.samples().len() as u64;
        let ops = self.recorded_ops;
        let calls = self.calls.as_ref().map_or(0, |c| c.len() as u64);
        trace * TRACE_EVENT_BYTES + samples * SAMPLE_BYTES + ops * OP_BYTES + calls * CALL_BYTES
    }

    /// Refuse a trace of `cap` events past the budget.
    pub(super) fn check_trace_budget(&self, cap: u64) -> Result<(), ConfigError> {
        if cap > MAX_TRACE {
            return Err(ConfigError::new(
                "trace",
                format!(
                    "{cap} events would take about {} MB as Python objects",
                    cap.saturating_mul(TRACE_EVENT_BYTES) >> 20
                ),
                format!(
                    "an integer in [0, {MAX_TRACE}] (the {} MiB record budget at \
                     {TRACE_EVENT_BYTES} bytes per event)",
                    RECORD_BUDGET_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }

    /// Refuse an advance to `end` whose samples would take the records past the budget, over
    /// the engine's whole life; reserve room for them, fallibly.
    pub(super) fn reserve_samples(&mut self, end: u64) -> Result<(), SimError> {
        let Some(s) = self.sampler.as_ref() else {
            return Ok(());
        };
        let due = if s.next < end {
            (end - s.next).div_ceil(s.every)
        } else {
            0
        };
        let after = self
            .record_bytes()
            .saturating_add(due.saturating_mul(SAMPLE_BYTES));
        if after > RECORD_BUDGET_BYTES {
            let room = RECORD_BUDGET_BYTES.saturating_sub(self.record_bytes()) / SAMPLE_BYTES;
            return Err(ConfigError::new(
                "sample_every",
                format!(
                    "{due} more samples (every {} cycles up to cycle {end}) would take the \
                     run's records to about {} MB",
                    s.every,
                    after >> 20
                ),
                format!(
                    "at most {room} more samples: a larger interval or a shorter run (the \
                     {} MiB record budget, {SAMPLE_BYTES} bytes per sample, trace included)",
                    RECORD_BUDGET_BYTES >> 20
                ),
            )
            .into());
        }
        let s = self.sampler.as_mut().expect("checked above");
        s.rows
            .try_reserve_exact(due as usize)
            .map_err(|_| SimError::OutOfMemory {
                what: format!("{due} samples"),
            })
    }

    /// Keep CPU `c`'s finished operation, if recording; a full budget or a failed allocation
    /// stops the run.
    #[inline(always)]
    pub(super) fn record_op(&mut self, c: usize) -> Res<()> {
        if self.recorded.is_none() {
            return Ok(());
        }
        self.push_op(c)
    }

    #[inline(never)]
    fn push_op(&mut self, c: usize) -> Res<()> {
        let Some(rec) = self.recorded.as_mut() else {
            return Ok(());
        };
        let op = self.cpus[c].t.op;
        let task = self.cpus[c].task as usize;
        if rec[task].try_reserve(1).is_err() {
            return Err(Box::new(SimError::OutOfMemory {
                what: format!("{} recorded operations", self.recorded_ops + 1),
            }));
        }
        rec[task].push(op);
        self.recorded_ops += 1;
        if self.record_bytes() > RECORD_BUDGET_BYTES {
            return Err(Box::new(SimError::from(ConfigError::new(
                "record_ops",
                format!(
                    "the run recorded {} operations by cycle {}, past the record budget",
                    self.recorded_ops, self.now
                ),
                format!(
                    "a shorter run, a smaller trace or sample count, or record_ops off (the {} \
                     MiB record budget, {OP_BYTES} bytes per operation)",
                    RECORD_BUDGET_BYTES >> 20
                ),
            ))));
        }
        Ok(())
    }

    /// Record CPU `c`'s completed kmap or kunmap, when calls are recorded.
    #[inline(always)]
    pub(super) fn record_call(&mut self, c: usize, t: u64, op: CallOp) -> Res<()> {
        if self.calls.is_none() {
            return Ok(());
        }
        self.push_call(c, t, op)
    }

    #[inline(never)]
    fn push_call(&mut self, c: usize, t: u64, op: CallOp) -> Res<()> {
        let Some(calls) = self.calls.as_mut() else {
            return Ok(());
        };
        let task = &self.cpus[c].t;
        let kmap = op == CallOp::Kmap;
        let record = CallRecord {
            cycle: t,
            task: task.id,
            cpu: c as u32,
            op,
            page: task.page,
            slot: task.slot,
            slept: kmap && task.slept,
            flushed: kmap && task.flushed,
        };
        if calls.try_reserve(1).is_err() {
            let what = format!("{} recorded calls", calls.len() + 1);
            return Err(Box::new(SimError::OutOfMemory { what }));
        }
        calls.push(record);
        if self.record_bytes() > RECORD_BUDGET_BYTES {
            return Err(Box::new(SimError::from(ConfigError::new(
                "record_calls",
                format!(
                    "the run recorded {} calls by cycle {t}, past the record budget",
                    self.calls.as_ref().map_or(0, Vec::len)
                ),
                format!(
                    "a shorter run, a smaller trace or sample count, or record_calls off (the \
                     {} MiB record budget, {CALL_BYTES} bytes per call)",
                    RECORD_BUDGET_BYTES >> 20
                ),
            ))));
        }
        Ok(())
    }
}
