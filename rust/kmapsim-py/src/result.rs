//! `RawResult`: what a run measured, as plain Python containers (`kmapsim.RunResult` wraps it).

use crate::convert;
use kmapsim_core::{Category, Engine, RunReport};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// The outcome of one run, as plain Python containers; `kmapsim.RunResult` wraps it.
#[pyclass(frozen, module = "kmapsim._core")]
pub(crate) struct RawResult {
    /// Cycles simulated.
    #[pyo3(get)]
    cycles: u64,
    /// The run's seed.
    #[pyo3(get)]
    seed: u64,
    /// The engine's mode: `skip` or `step`.
    #[pyo3(get)]
    mode: &'static str,
    /// Events the engine handled.
    #[pyo3(get)]
    events: u64,
    /// Wall-clock seconds the run took.
    #[pyo3(get)]
    wall_seconds: f64,
    /// Counter name -> count (at least `COUNTERS`).
    #[pyo3(get)]
    counters: Py<PyDict>,
    /// Per CPU, cycles per category (in `categories` order).
    #[pyo3(get)]
    breakdown: Py<PyList>,
    /// Per task, cycles `running, runnable, blocked, pool_sleep` (`TASK_STATES`).
    #[pyo3(get)]
    task_breakdown: Py<PyList>,
    /// Histogram name -> dict of counts (65 buckets), count, sum, min, max.
    #[pyo3(get)]
    histograms: Py<PyDict>,
    /// Per lock (`kmap_lock`, `call_lock`, `irq_lock[k]`...), lockmeter's sums and figures.
    #[pyo3(get)]
    lock_stats: Py<PyList>,
    /// The first stale accesses in detail, one dict each (`StaleAccess`'s fields).
    #[pyo3(get)]
    violations: Py<PyList>,
    /// `(cycle, cpu, event, fields)` tuples, oldest first (empty unless traced).
    #[pyo3(get)]
    trace: Py<PyList>,
    /// Older trace events dropped to keep within the trace's cap.
    #[pyo3(get)]
    trace_dropped: u64,
    /// `(cycle, kmaps, kunmaps, kmap_lock_waiters, free_slots, ipis_outstanding, sleeping)`.
    #[pyo3(get)]
    samples: Py<PyList>,
    /// Recorded ops, `(cpu, work, irq_lock or -1, irq_hold, page, irqs_off, switch)`, or None.
    #[pyo3(get)]
    ops: Option<Py<PyList>>,
    /// Recorded calls, `(cycle, task, cpu, op, page, slot, slept, flushed)`, or None.
    #[pyo3(get)]
    calls: Option<Py<PyList>>,
    /// Why the simulation stopped early (the message of its DeadlockError, KernelBug, ...), or
    /// None: a `Simulation`'s result after such an error says so.
    #[pyo3(get)]
    stopped: Option<String>,
}

#[pymethods]
impl RawResult {
    /// The cycle categories, in the order of `breakdown`'s columns.
    #[getter]
    fn categories(&self) -> Vec<&'static str> {
        Category::NAMES.to_vec()
    }

    fn __repr__(&self) -> String {
        format!(
            "RawResult(cycles={}, seed={}, mode={:?}, events={})",
            self.cycles, self.seed, self.mode, self.events
        )
    }
}

/// What the engine has measured so far, as a `RawResult`.
pub(crate) fn raw_result(py: Python<'_>, e: &Engine, wall_seconds: f64) -> PyResult<RawResult> {
    let report: RunReport = e.report();
    let objs = convert::report(py, &report)?;
    let samples = PyList::empty(py);
    for s in e.samples() {
        samples.append((
            s.cycle,
            s.kmaps,
            s.kunmaps,
            s.kmap_lock_waiters,
            s.free_slots,
            s.ipis_outstanding,
            s.sleeping,
        ))?;
    }
    let ops = match e.recorded().as_deref() {
        None => None,
        Some(lists) => {
            let out = PyList::empty(py);
            for (c, list) in lists.iter().enumerate() {
                for op in list {
                    let lock = op.irq_lock.map_or(-1, i64::from);
                    out.append((
                        c,
                        op.work,
                        lock,
                        op.irq_hold,
                        op.page,
                        op.irqs_off,
                        op.switch,
                    ))?;
                }
            }
            Some(out.unbind())
        }
    };
    let calls = match e.recorded_calls() {
        None => None,
        Some(records) => {
            let out = PyList::empty(py);
            for r in records {
                out.append((
                    r.cycle,
                    r.task,
                    r.cpu,
                    r.op.name(),
                    r.page,
                    r.slot,
                    r.slept,
                    r.flushed,
                ))?;
            }
            Some(out.unbind())
        }
    };
    Ok(RawResult {
        cycles: report.cycles,
        seed: report.seed,
        mode: e.mode().name(),
        events: report.events,
        wall_seconds,
        counters: objs.counters,
        breakdown: objs.breakdown,
        task_breakdown: objs.task_breakdown,
        histograms: objs.histograms,
        lock_stats: objs.lock_stats,
        violations: objs.violations,
        trace: objs.trace,
        trace_dropped: report.trace_dropped,
        samples: samples.unbind(),
        ops,
        calls,
        stopped: e.stopped().map(|err| err.to_string()),
    })
}
