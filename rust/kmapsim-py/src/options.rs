//! `Options`: everything a run takes besides its length, checked once when it is built.
//!
//! `run` and `Simulation` both take one; `kmapsim.runner` builds it from the Python arguments.

use crate::cancel::CancelToken;
use crate::{convert, errors};
use kmapsim_core::calls::{Call, CallOp};
use kmapsim_core::replay::Op;
use kmapsim_core::{ConfigError, MAX_CYCLES, Mode, Scenario, Value};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Replay columns `(cpu, work, irq_lock, irq_hold, page, irqs_off, switch)`.
pub(crate) type ReplayColumns = (
    Vec<u32>,
    Vec<u64>,
    Vec<i64>,
    Vec<u64>,
    Vec<u32>,
    Vec<bool>,
    Vec<bool>,
);

/// Call-list columns `(task, op, page or -1, work)`.
pub(crate) type CallColumns = (Vec<u32>, Vec<String>, Vec<i64>, Vec<u64>);

/// The checked options of one run: scenario, seed, mode and the opt-in records and limits.
#[pyclass(frozen, module = "kmapsim._core")]
pub(crate) struct Options {
    pub(crate) scenario: Scenario,
    pub(crate) seed: u64,
    pub(crate) mode: Mode,
    pub(crate) trace: usize,
    pub(crate) sample_every: u64,
    pub(crate) replay: Option<Vec<Vec<Op>>>,
    pub(crate) record_ops: bool,
    /// Per-task kernel call lists to replay, and whether to record calls.
    pub(crate) replay_calls: Option<Vec<Vec<Call>>>,
    pub(crate) record_calls: bool,
    /// Stop with WallClockExceeded after this long in one advance (0: no limit).
    pub(crate) max_wall_seconds: f64,
    /// The scenario as a dict, for an InternalError report.
    pub(crate) scenario_dict: Py<PyDict>,
    /// The caller's `CancelToken`, if any.
    pub(crate) cancel: Option<Arc<AtomicBool>>,
}

#[pymethods]
impl Options {
    #[new]
    #[pyo3(signature = (
        scenario, seed, mode = "skip", trace = None, sample_every = None, replay = None,
        record_ops = false, max_wall_seconds = None, cancel = None, replay_calls = None,
        record_calls = false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        scenario: &Bound<'_, PyDict>,
        seed: &Bound<'_, PyAny>,
        mode: &str,
        trace: Option<&Bound<'_, PyAny>>,
        sample_every: Option<&Bound<'_, PyAny>>,
        replay: Option<ReplayColumns>,
        record_ops: bool,
        max_wall_seconds: Option<f64>,
        cancel: Option<&Bound<'_, CancelToken>>,
        replay_calls: Option<CallColumns>,
        record_calls: bool,
    ) -> PyResult<Self> {
        let config = |e: ConfigError| errors::config_error(py, &e);
        let sc = convert::scenario(scenario).map_err(config)?;
        let replay = replay.map(|cols| replay_ops(&sc, cols)).transpose();
        let replay_calls = replay_calls.map(|cols| call_lists(&sc, cols)).transpose();
        Ok(Options {
            seed: int_arg("seed", seed, u64::MAX).map_err(config)?,
            mode: parse_mode(mode).map_err(config)?,
            // Any count converts; the engine refuses one past the record budget, saying why.
            trace: optional_int("trace", trace, u64::MAX).map_err(config)? as usize,
            sample_every: optional_int("sample_every", sample_every, MAX_CYCLES).map_err(config)?,
            replay: replay.map_err(config)?,
            record_ops,
            replay_calls: replay_calls.map_err(config)?,
            record_calls,
            max_wall_seconds: wall_limit(max_wall_seconds).map_err(config)?,
            scenario_dict: convert::scenario_to_dict(py, &sc)?.unbind(),
            scenario: sc,
            cancel: cancel.map(|c| c.get().flag.clone()),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Options(seed={}, mode={:?}, trace={}, sample_every={}, replay={}, record_ops={}, \
             replay_calls={}, record_calls={})",
            self.seed,
            self.mode.name(),
            self.trace,
            self.sample_every,
            self.replay.is_some(),
            self.record_ops,
            self.replay_calls.is_some(),
            self.record_calls
        )
    }
}

/// An integer argument in [0, max], or the ConfigError naming it.
pub(crate) fn int_arg(name: &str, obj: &Bound<'_, PyAny>, max: u64) -> Result<u64, ConfigError> {
    let range = format!("an integer in [0, {max}]");
    match convert::value(name, obj) {
        Ok(Value::Int(i)) if i >= 0 && i <= max as i128 => Ok(i as u64),
        Ok(_) => Err(ConfigError::new(
            name,
            "out of range or not an integer".into(),
            range,
        )),
        Err(e) => Err(ConfigError::new(name, e.problem, range)),
    }
}

fn optional_int(name: &str, obj: Option<&Bound<'_, PyAny>>, max: u64) -> Result<u64, ConfigError> {
    obj.map_or(Ok(0), |o| int_arg(name, o, max))
}

fn parse_mode(mode: &str) -> Result<Mode, ConfigError> {
    Mode::parse(mode).ok_or_else(|| {
        ConfigError::new(
            "mode",
            format!(
                "unknown value {}{}",
                kmapsim_core::shown(mode),
                kmapsim_core::did_you_mean(mode, Mode::NAMES)
            ),
            format!("one of {}", Mode::NAMES.join(", ")),
        )
    })
}

fn wall_limit(seconds: Option<f64>) -> Result<f64, ConfigError> {
    match seconds {
        None => Ok(0.0),
        Some(w) if w > 0.0 && w.is_finite() => Ok(w),
        Some(w) => Err(ConfigError::new(
            "max_wall_seconds",
            format!("{w}"),
            "a positive, finite number of seconds, or None".into(),
        )),
    }
}

/// The replay columns as per-CPU operation lists (the engine checks them against the scenario).
fn replay_ops(sc: &Scenario, cols: ReplayColumns) -> Result<Vec<Vec<Op>>, ConfigError> {
    let lists = sc.task_count();
    let below = match sc.tasks {
        0 => format!("a CPU below cpus = {}", sc.cpus),
        n => format!("a task below tasks = {n} (one list per task)"),
    };
    let (cpu, work, lock, hold, page, off, switch) = cols;
    let n = cpu.len();
    let lengths = [
        work.len(),
        lock.len(),
        hold.len(),
        page.len(),
        off.len(),
        switch.len(),
    ];
    if lengths.iter().any(|&l| l != n) {
        let problem = "columns of different lengths".into();
        return Err(ConfigError::new("replay", problem, "equal lengths".into()));
    }
    let mut ops = vec![Vec::new(); lists as usize];
    for i in 0..n {
        let Some(list) = ops.get_mut(cpu[i] as usize) else {
            return Err(ConfigError::new(
                "replay",
                format!("row {i}: cpu {}", cpu[i]),
                below.clone(),
            ));
        };
        let irq_lock = match lock[i] {
            -1 => None,
            l if l >= 0 && l < u32::MAX as i64 => Some(l as u32),
            l => {
                let problem = format!("row {i}: irq_lock {l}");
                return Err(ConfigError::new("replay", problem, "-1 or >= 0".into()));
            }
        };
        list.push(Op {
            work: work[i],
            irq_lock,
            irq_hold: hold[i],
            page: page[i],
            irqs_off: off[i],
            switch: switch[i],
        });
    }
    Ok(ops)
}

/// The call-list columns as per-task lists, checked against the scenario here (as the engine
/// checks them again when it starts), so that a bad call fails when the options are made: the
/// Python layer then names the file and line of its row.
fn call_lists(sc: &Scenario, cols: CallColumns) -> Result<Vec<Vec<Call>>, ConfigError> {
    let (task, op, page, work) = cols;
    let n = task.len();
    if [op.len(), page.len(), work.len()].iter().any(|&l| l != n) {
        let problem = "columns of different lengths".into();
        return Err(ConfigError::new(
            "replay_calls",
            problem,
            "equal lengths".into(),
        ));
    }
    let tasks = sc.task_count();
    let mut lists = vec![Vec::new(); tasks as usize];
    for i in 0..n {
        let bad = |problem: String, allowed: String| {
            ConfigError::new("replay_calls", format!("row {i}: {problem}"), allowed)
        };
        let Some(list) = lists.get_mut(task[i] as usize) else {
            let allowed = format!("a task below {tasks} (tasks, or one per CPU)");
            return Err(bad(format!("task {}", task[i]), allowed));
        };
        let Some(call_op) = CallOp::parse(&op[i]) else {
            let allowed = format!("one of {}", CallOp::NAMES.join(", "));
            let hint = kmapsim_core::did_you_mean(&op[i], CallOp::NAMES);
            return Err(bad(
                format!("op {}{hint}", kmapsim_core::shown(&op[i])),
                allowed,
            ));
        };
        let page = match page[i] {
            -1 => kmapsim_core::calls::NONE,
            p if (0..i64::from(u32::MAX)).contains(&p) => p as u32,
            p => {
                let allowed = format!("-1 (none) or a page below pages = {}", sc.pages);
                return Err(bad(format!("page {p}"), allowed));
            }
        };
        list.push(Call {
            op: call_op,
            page,
            work: work[i],
        });
    }
    kmapsim_core::calls::compile(sc, &lists)?;
    Ok(lists)
}
