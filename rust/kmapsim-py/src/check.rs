//! `check`: the checker (`kmapsim_core::check`) with the GIL released and the run's stop checks,
//! and its counterexample replayed by the simulator's engine, step by step, with a trace.

use crate::errors;
use crate::options::Options;
use crate::result::raw_result;
use crate::runner::polled;
use kmapsim_core::check::{Bounds, CheckReport, Event, Step, check as explore, replay_path};
use kmapsim_core::pct::{Pct, pct as run_pct};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::time::Instant;

/// Events kept in the counterexample's trace at most.
const TRACE_CAP: usize = 100_000;

/// Explore every interleaving of `options`' scenario within the bounds (up to a renaming of the
/// CPUs if `symmetry` and the machine allows it). Returns a dict: verdict, states, transitions,
/// depth, symmetric, message, seconds, and for a counterexample `steps`
/// (one dict per step: event, on, choices, trace) and `result` (the `RawResult` of the path
/// replayed by the engine, with its trace).
#[pyfunction]
pub(crate) fn check<'py>(
    py: Python<'py>,
    options: Py<Options>,
    max_states: u64,
    max_depth: u32,
    symmetry: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = options.get();
    let bounds = Bounds {
        max_states,
        max_depth,
        symmetry,
    };
    let started = Instant::now();
    let report = polled(py, opts, "depth", 0, |poll| {
        explore(&opts.scenario, &bounds, poll)
    })?;
    report_dict(py, opts, &report, started.elapsed().as_secs_f64())
}

/// `runs` PCT runs of `steps` steps hunting bugs of depth `depth` from `seed`
/// (`kmapsim_core::pct`): the same dict as `check`, plus `chance_per_run`, PCT's lower bound on
/// one run's chance of finding a bug of that depth.
#[pyfunction]
pub(crate) fn pct<'py>(
    py: Python<'py>,
    options: Py<Options>,
    runs: u64,
    steps: u32,
    depth: u32,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = options.get();
    let p = Pct {
        runs,
        steps,
        depth,
        seed,
    };
    let started = Instant::now();
    let report = polled(py, opts, "run", 0, |poll| run_pct(&opts.scenario, &p, poll))?;
    let d = report_dict(py, opts, &report, started.elapsed().as_secs_f64())?;
    d.set_item("chance_per_run", p.chance_per_run(opts.scenario.cpus))?;
    Ok(d)
}

/// A search's report as the dict `check` and `pct` return.
fn report_dict<'py>(
    py: Python<'py>,
    opts: &Options,
    report: &CheckReport,
    seconds: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("verdict", report.verdict.name())?;
    d.set_item("states", report.states)?;
    d.set_item("transitions", report.transitions)?;
    d.set_item("depth", report.depth)?;
    d.set_item("symmetric", report.symmetric)?;
    d.set_item("message", &report.message)?;
    d.set_item("seconds", seconds)?;
    match &report.counterexample {
        Some(path) => counterexample(py, opts, path, &d)?,
        None => {
            d.set_item("steps", py.None())?;
            d.set_item("result", py.None())?;
        }
    }
    Ok(d)
}

/// The counterexample's steps and the replayed run. Each step happens at its own cycle (step
/// i at cycle i + 1), so the run's trace says what each step did.
fn counterexample(
    py: Python<'_>,
    opts: &Options,
    path: &[Step],
    d: &Bound<'_, PyDict>,
) -> PyResult<()> {
    let e =
        replay_path(&opts.scenario, path, Some(TRACE_CAP)).map_err(|e| errors::sim_error(py, e))?;
    let steps = PyList::empty(py);
    for step in path {
        let s = PyDict::new(py);
        let (kind, on, label) = match step.event {
            Event::Act(c) => ("act", c, format!("cpu{c}")),
            Event::Deliver(c) => ("deliver", c, format!("cpu{c}")),
            Event::Unblock(t) => ("unblock", t, format!("task{t}")),
            Event::Grant(l) => ("grant", l, kmapsim_core::lock_name(l)),
        };
        s.set_item("event", kind)?;
        s.set_item("on", on)?;
        s.set_item("label", label)?;
        s.set_item("choices", step.choices.clone())?;
        steps.append(s)?;
    }
    d.set_item("steps", steps)?;
    d.set_item("result", Py::new(py, raw_result(py, &e, 0.0)?)?)?;
    Ok(())
}
