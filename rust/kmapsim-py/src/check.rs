//! `check`: the checker (`kmapsim_core::check`) with the GIL released and the run's stop checks,
//! and its counterexample replayed by the simulator's engine, step by step, with a trace.

use crate::errors;
use crate::options::Options;
use crate::result::raw_result;
use crate::runner::polled;
use kmapsim_core::check::{Bounds, CheckReport, Event, Progress, Step, check_counted, replay_path};
use kmapsim_core::pct::{Pct, pct as run_pct};
use kmapsim_core::witness::{self, Witness};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Mutex;
use std::time::Instant;

/// Events kept in the counterexample's trace at most.
const TRACE_CAP: usize = 100_000;

/// Explore every interleaving of `options`' scenario within `bounds` (max_states, max_depth,
/// max_frontier, max_ipis), up to a renaming of the CPUs and pages if `symmetry` and the
/// machine allows it, depth-first past `max_frontier` machines held; a breadth-first level on
/// `threads` threads (at least 1; the same results for any number). Returns a dict: verdict,
/// states, transitions, pruned, depth, symmetry (the renamings used), shortest,
/// depth_first_from, message, seconds; for a counterexample `steps` (one dict per step: event,
/// on, choices, trace) and `result` (the `RawResult` of the path replayed by the engine, with
/// its trace); `witness` and `witness_note` (`witness_items`).
#[pyfunction]
pub(crate) fn check<'py>(
    py: Python<'py>,
    options: Py<Options>,
    bounds: (u64, u32, u64, u32),
    symmetry: bool,
    witness_tries: u32,
    threads: u32,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = options.get();
    let (max_states, max_depth, max_frontier, max_ipis) = bounds;
    let bounds = Bounds {
        max_states,
        max_depth,
        max_frontier,
        max_ipis,
        symmetry,
        threads,
    };
    let progress = Mutex::new(Progress::default());
    let out = searched(py, opts, "depth", witness_tries, |poll| {
        let mut p = Progress::default();
        let report = check_counted(&opts.scenario, &bounds, poll, &mut p);
        *progress.lock().unwrap_or_else(|e| e.into_inner()) = p;
        report
    });
    out.map_err(|err| {
        let p = *progress.lock().unwrap_or_else(|e| e.into_inner());
        if p.states == 0 {
            return err; // not interrupted in the search
        }
        // The message says the depth already.
        let detail = format!(
            "explored so far: {} states, {} transitions",
            thousands(p.states),
            thousands(p.transitions),
        );
        with_detail(py, err, &detail)
    })
}

/// How far an interrupted PCT search got: `done` of its `runs` runs, none finding a bug.
fn pct_progress(done: u64, runs: u64) -> String {
    format!(
        "PCT runs done so far: {} of {}, none found a violation",
        thousands(done),
        thousands(runs)
    )
}

/// `n` with a comma every three digits, as the summaries write counts.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An interruption (KeyboardInterrupt, WallClockExceeded) with `detail` added to its message,
/// so that the counts of an interrupted search are not lost; any other error as it is.
fn with_detail(py: Python<'_>, err: PyErr, detail: &str) -> PyErr {
    let value = err.value(py);
    let text = value.str().map(|t| t.to_string()).unwrap_or_default();
    let msg = if text.is_empty() {
        detail.to_string()
    } else {
        format!("{text}; {detail}")
    };
    if err.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
        return pyo3::exceptions::PyKeyboardInterrupt::new_err(msg);
    }
    let wall = py
        .import("kmapsim.errors")
        .and_then(|m| m.getattr("WallClockExceeded"));
    match wall {
        Ok(cls) if value.is_instance(&cls).unwrap_or(false) => {
            let (Ok(cycle), Ok(secs)) = (value.getattr("cycle"), value.getattr("seconds")) else {
                return err;
            };
            errors::raise(py, "WallClockExceeded", (msg, cycle, secs))
        }
        _ => err,
    }
}

/// Run `search` without the GIL with the run's stop checks (`unit` names what an interruption
/// counts), then its counterexample's timed witness: the dict of `report_dict` and
/// `witness_items`.
fn searched<'py>(
    py: Python<'py>,
    opts: &Options,
    unit: &str,
    witness_tries: u32,
    search: impl FnOnce(
        &mut dyn FnMut() -> Option<kmapsim_core::StopReason>,
    ) -> Result<CheckReport, kmapsim_core::SimError>
    + Send,
) -> PyResult<Bound<'py, PyDict>> {
    let started = Instant::now();
    // A search that ended, kept for the message if its witness search is then interrupted.
    let ended = Mutex::new(None::<String>);
    let out = polled(py, opts, unit, 0, |poll| {
        let report = search(poll)?;
        let searched = started.elapsed().as_secs_f64();
        let witness = with_witness(opts, &report, witness_tries, poll).inspect_err(|_| {
            *ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(ended_as(&report));
        })?;
        Ok((report, witness, searched))
    });
    let ended = ended.into_inner().unwrap_or_else(|e| e.into_inner());
    let (report, witness, searched) = out.map_err(|err| match ended {
        Some(detail) => with_detail(py, err, &detail),
        None => err,
    })?;
    // The witness's timed runs are not search time: `seconds` is the search's alone.
    let d = report_dict(py, opts, &report, searched)?;
    d.set_item(
        "witness_seconds",
        started.elapsed().as_secs_f64() - searched,
    )?;
    witness_items(py, &d, witness)?;
    Ok(d)
}

/// What search `report` found, for an interruption of its timed-witness search (which would
/// otherwise lose it).
fn ended_as(report: &CheckReport) -> String {
    format!(
        "the search had ended, {} at depth {} after {} states and {} transitions, and its \
         timed-witness search was stopped",
        report.verdict.name(),
        report.depth,
        thousands(report.states),
        thousands(report.transitions),
    )
}

/// The timed witness of `report`'s counterexample, if it has one and `tries` > 0
/// (`kmapsim_core::witness`). The wall-clock limit passing in its search ends the search
/// without a witness (the note says so): the verdict stands, and the limit bounds the whole
/// call. A Ctrl-C or a cancel stops the call, reported at the search's depth, as if the search
/// had been interrupted at its end (`searched` adds what it found).
fn with_witness(
    opts: &Options,
    report: &CheckReport,
    tries: u32,
    poll: &mut dyn FnMut() -> Option<kmapsim_core::StopReason>,
) -> Result<Option<Result<Witness, String>>, kmapsim_core::SimError> {
    let Some(path) = report.counterexample.as_ref().filter(|_| tries > 0) else {
        return Ok(None);
    };
    match witness::find(&opts.scenario, path, tries, 0, poll) {
        Err(kmapsim_core::SimError::Interrupted {
            reason: kmapsim_core::StopReason::WallClock,
            cycle: done,
        }) => Ok(Some(Err(format!(
            "the time limit passed in the timed-witness search, after \
             {} of {} tries",
            thousands(done),
            thousands(u64::from(tries))
        )))),
        Err(kmapsim_core::SimError::Interrupted { reason, .. }) => {
            Err(kmapsim_core::SimError::Interrupted {
                cycle: u64::from(report.depth),
                reason,
            })
        }
        other => other.map(Some),
    }
}

/// `witness` (None, or scenario, calls as (task, op, page, work) rows, seed, cycles, tries)
/// and `witness_note` (why there is none) in `d`.
fn witness_items(
    py: Python<'_>,
    d: &Bound<'_, PyDict>,
    witness: Option<Result<Witness, String>>,
) -> PyResult<()> {
    let (w, note) = match witness {
        None => (None, String::new()),
        Some(Err(why)) => (None, why),
        Some(Ok(w)) => (Some(w), String::new()),
    };
    d.set_item("witness_note", note)?;
    let Some(w) = w else {
        return d.set_item("witness", py.None());
    };
    let rows = PyList::empty(py);
    for (task, list) in w.lists.iter().enumerate() {
        for c in list {
            let page = if c.page == kmapsim_core::calls::NONE {
                -1
            } else {
                i64::from(c.page)
            };
            rows.append((task, c.op.name(), page, c.work))?;
        }
    }
    let wd = PyDict::new(py);
    wd.set_item(
        "scenario",
        crate::convert::scenario_to_dict(py, &w.scenario)?,
    )?;
    wd.set_item("calls", rows)?;
    wd.set_item("seed", w.seed)?;
    wd.set_item("cycles", w.cycles)?;
    wd.set_item("tries", w.tries)?;
    d.set_item("witness", wd)
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
    witness_tries: u32,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = options.get();
    let p = Pct {
        runs,
        steps,
        depth,
        seed,
    };
    // The runs done when the search was interrupted, so that a Ctrl-C (whose KeyboardInterrupt
    // says nothing itself) still reports how far it got, as an interrupted `check` does.
    let done = Mutex::new(None);
    let out = searched(py, opts, "run", witness_tries, |poll| {
        let report = run_pct(&opts.scenario, &p, poll);
        if let Err(kmapsim_core::SimError::Interrupted { cycle, .. }) = &report {
            *done.lock().unwrap_or_else(|e| e.into_inner()) = Some(*cycle);
        }
        report
    });
    let d = out.map_err(|err| {
        match *done.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(runs) => with_detail(py, err, &pct_progress(runs, p.runs)),
            None => err, // not interrupted in the runs
        }
    })?;
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
    d.set_item("symmetry", report.symmetry.names())?;
    d.set_item("pruned", report.pruned)?;
    d.set_item("shortest", report.shortest)?;
    d.set_item("depth_first_from", report.depth_first_from)?;
    d.set_item("message", &report.message)?;
    d.set_item("state_bound", report.state_bound)?;
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

#[cfg(test)]
mod tests {
    use super::pct_progress;

    #[test]
    fn an_interrupted_pct_search_says_how_many_runs_it_did() {
        assert_eq!(
            pct_progress(2224, 100_000_000),
            "PCT runs done so far: 2,224 of 100,000,000, none found a violation"
        );
    }
}
