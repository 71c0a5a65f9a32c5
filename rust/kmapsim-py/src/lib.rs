//! The `kmapsim._core` extension: converts Python inputs, runs the core with the GIL released,
//! converts results back. All simulation lives in `kmapsim-core`.

mod convert;
mod errors;
mod simulation;

use kmapsim_core::replay::Op;
use kmapsim_core::{Category, ConfigError, Engine, MAX_CYCLES, Mode, RunReport, StopReason};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bumped by `cancel_running()`: every run in this process that started before stops at its
/// next poll (a sweep interrupted by Ctrl-C uses it to stop its worker threads, which cannot see
/// the signal themselves).
static CANCEL_EPOCH: AtomicU64 = AtomicU64::new(0);

/// How often a running simulation looks for Ctrl-C (a signal check needs the GIL).
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// A flag that stops the runs it is passed to: `kmapsim.CancelToken`. A sweep gives one to its
/// own runs, so that stopping it touches no other run in the process.
#[pyclass(frozen, module = "kmapsim._core")]
pub(crate) struct CancelToken {
    flag: Arc<AtomicBool>,
}

#[pymethods]
impl CancelToken {
    #[new]
    fn new() -> Self {
        CancelToken {
            flag: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Stop every run holding this token at its next poll (they raise KeyboardInterrupt).
    fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    #[getter]
    fn cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    fn __repr__(&self) -> String {
        let state = if self.cancelled() { "True" } else { "False" };
        format!("CancelToken(cancelled={state})")
    }
}

/// The outcome of one run, as plain Python containers; `kmapsim.RunResult` wraps it.
#[pyclass(frozen, module = "kmapsim._core")]
struct RawResult {
    #[pyo3(get)]
    cycles: u64,
    #[pyo3(get)]
    seed: u64,
    #[pyo3(get)]
    mode: &'static str,
    #[pyo3(get)]
    events: u64,
    #[pyo3(get)]
    wall_seconds: f64,
    #[pyo3(get)]
    counters: Py<PyDict>,
    #[pyo3(get)]
    breakdown: Py<PyList>,
    #[pyo3(get)]
    histograms: Py<PyDict>,
    #[pyo3(get)]
    violations: Py<PyList>,
    /// `(cycle, cpu, event, fields)` tuples, oldest first (empty unless traced).
    #[pyo3(get)]
    trace: Py<PyList>,
    #[pyo3(get)]
    trace_dropped: u64,
    /// `(cycle, kmaps, kunmaps, kmap_lock_waiters, free_slots, ipis_outstanding, sleeping)`.
    #[pyo3(get)]
    samples: Py<PyList>,
    /// Recorded ops, `(cpu, work, irq_lock or -1, irq_hold, page, irqs_off, switch)`, or None.
    #[pyo3(get)]
    ops: Option<Py<PyList>>,
    /// Why the simulation stopped early (the message of its DeadlockError, KernelBug, ...), or
    /// None: a `Simulation`'s result after such an error says so.
    #[pyo3(get)]
    stopped: Option<String>,
}

#[pymethods]
impl RawResult {
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

fn int_arg(py: Python<'_>, name: &str, obj: &Bound<'_, PyAny>, max: u64) -> PyResult<u64> {
    let range = format!("an integer in [0, {max}]");
    match convert::value(name, obj) {
        Ok(kmapsim_core::Value::Int(i)) if i >= 0 && i <= max as i128 => Ok(i as u64),
        Ok(_) => Err(errors::config_error(
            py,
            &ConfigError::new(name, "out of range or not an integer".into(), range),
        )),
        Err(e) => Err(errors::config_error(
            py,
            &ConfigError::new(name, e.problem, range),
        )),
    }
}

fn bad(py: Python<'_>, field: &str, problem: String, allowed: String) -> PyErr {
    errors::config_error(py, &ConfigError::new(field, problem, allowed))
}

/// Replay columns `(cpu, work, irq_lock, irq_hold, page, irqs_off, switch)` as per-CPU lists.
type ReplayColumns = (
    Vec<u32>,
    Vec<u64>,
    Vec<i64>,
    Vec<u64>,
    Vec<u32>,
    Vec<bool>,
    Vec<bool>,
);

fn replay_ops(py: Python<'_>, cpus: u64, cols: ReplayColumns) -> PyResult<Vec<Vec<Op>>> {
    let (cpu, work, lock, hold, page, off, switch) = cols;
    let n = cpu.len();
    if [
        work.len(),
        lock.len(),
        hold.len(),
        page.len(),
        off.len(),
        switch.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return Err(bad(
            py,
            "replay",
            "columns of different lengths".into(),
            "equal lengths".into(),
        ));
    }
    let mut ops = vec![Vec::new(); cpus as usize];
    for i in 0..n {
        let Some(list) = ops.get_mut(cpu[i] as usize) else {
            return Err(bad(
                py,
                "replay",
                format!("row {i}: cpu {}", cpu[i]),
                format!("a CPU below cpus = {cpus}"),
            ));
        };
        let irq_lock = match lock[i] {
            -1 => None,
            l if l >= 0 && l < u32::MAX as i64 => Some(l as u32),
            l => {
                return Err(bad(
                    py,
                    "replay",
                    format!("row {i}: irq_lock {l}"),
                    "-1 or >= 0".into(),
                ));
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

/// Options shared by `run` and `Simulation`.
pub(crate) struct Options {
    trace: usize,
    sample_every: u64,
    /// Stop with WallClockExceeded after this long in one `advance` (0: no limit).
    max_wall_seconds: f64,
    /// The scenario and seed, for an InternalError report.
    scenario: Py<PyDict>,
    seed: u64,
    /// The caller's `CancelToken`, if any.
    cancel: Option<Arc<AtomicBool>>,
}

/// A checked engine at cycle 0 with the options applied.
#[allow(clippy::too_many_arguments)]
pub(crate) fn engine(
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
) -> PyResult<(Engine, Options)> {
    let sc = convert::scenario(scenario).map_err(|e| errors::config_error(py, &e))?;
    let seed = int_arg(py, "seed", seed, u64::MAX)?;
    let Some(m) = Mode::parse(mode) else {
        return Err(bad(
            py,
            "mode",
            format!("unknown value {mode:?}"),
            "one of skip, step".into(),
        ));
    };
    let opts = Options {
        trace: match trace {
            // Any count converts; the engine refuses one past the record budget, saying why.
            Some(t) => int_arg(py, "trace", t, u64::MAX)? as usize,
            None => 0,
        },
        sample_every: match sample_every {
            Some(k) => int_arg(py, "sample_every", k, MAX_CYCLES)?,
            None => 0,
        },
        max_wall_seconds: match max_wall_seconds {
            None => 0.0,
            Some(w) if w > 0.0 && w.is_finite() => w,
            Some(w) => {
                return Err(bad(
                    py,
                    "max_wall_seconds",
                    format!("{w}"),
                    "a positive, finite number of seconds, or None".into(),
                ));
            }
        },
        scenario: convert::scenario_to_dict(py, &sc)?.unbind(),
        seed,
        cancel: cancel.map(|c| c.get().flag.clone()),
    };
    let mut e = Engine::new(&sc, seed, m).map_err(|e| errors::config_error(py, &e))?;
    if opts.trace > 0 {
        e.enable_trace(opts.trace)
            .map_err(|err| errors::config_error(py, &err))?;
    }
    e.enable_sampling(opts.sample_every);
    if let Some(cols) = replay {
        let ops = replay_ops(py, sc.cpus, cols)?;
        e.set_replay(ops)
            .map_err(|err| errors::config_error(py, &err))?;
    }
    if record_ops {
        e.enable_recording();
    }
    Ok((e, opts))
}

/// Why the poll function asked the engine to stop.
enum Stop {
    WallClock(f64),
    Cancelled(&'static str),
    Signal(PyErr),
}

/// Advance `e` to cycle `end` without the GIL, stopping on Ctrl-C, the caller's `CancelToken`,
/// `cancel_running()` or the wall-clock limit.
pub(crate) fn advance(py: Python<'_>, e: &mut Engine, end: u64, opts: &Options) -> PyResult<()> {
    let mut stop: Option<Stop> = None;
    let epoch = CANCEL_EPOCH.load(Ordering::Relaxed);
    let started = Instant::now();
    let limit = opts.max_wall_seconds;
    let token = opts.cancel.clone();
    // A token cancelled before the run raises at once, however short the run.
    if token.as_ref().is_some_and(|t| t.load(Ordering::Relaxed)) {
        return Err(pyo3::exceptions::PyKeyboardInterrupt::new_err(format!(
            "cancelled by its CancelToken before cycle {}",
            e.now()
        )));
    }
    let outcome = guarded(py, opts, || {
        let mut last = Instant::now();
        let mut poll = || {
            if limit > 0.0 && started.elapsed().as_secs_f64() > limit {
                stop = Some(Stop::WallClock(started.elapsed().as_secs_f64()));
                return Some(StopReason::WallClock);
            }
            if token.as_ref().is_some_and(|t| t.load(Ordering::Relaxed)) {
                stop = Some(Stop::Cancelled("cancelled by its CancelToken"));
                return Some(StopReason::Cancelled);
            }
            if CANCEL_EPOCH.load(Ordering::Relaxed) != epoch {
                stop = Some(Stop::Cancelled(
                    "cancelled by kmapsim._core.cancel_running()",
                ));
                return Some(StopReason::Cancelled);
            }
            if last.elapsed() < SIGNAL_CHECK {
                return None;
            }
            last = Instant::now();
            match Python::attach(|py| py.check_signals()) {
                Ok(()) => None,
                Err(e) => {
                    stop = Some(Stop::Signal(e));
                    Some(StopReason::Signal)
                }
            }
        };
        e.advance_to(end, &mut poll)
    })?;
    outcome.map_err(|err| {
        let cycle = match err {
            kmapsim_core::SimError::Interrupted { cycle, .. } => cycle,
            _ => return errors::sim_error(py, err),
        };
        match stop.take() {
            Some(Stop::WallClock(secs)) => {
                let msg = format!(
                    "stopped at cycle {cycle} after {secs:.3} s of wall time \
                     (max_wall_seconds = {limit})"
                );
                errors::raise(py, "WallClockExceeded", (msg, cycle, secs))
            }
            Some(Stop::Cancelled(why)) => {
                pyo3::exceptions::PyKeyboardInterrupt::new_err(format!("{why} at cycle {cycle}"))
            }
            Some(Stop::Signal(e)) => e,
            None => errors::sim_error(py, err),
        }
    })
}

/// Run `f` without the GIL, turning a panic of the engine into `kmapsim.InternalError` with the
/// scenario and seed that reproduce it: no panic ever reaches the interpreter as such.
pub(crate) fn guarded<R: Send>(
    py: Python<'_>,
    opts: &Options,
    f: impl FnOnce() -> R + Send,
) -> PyResult<R> {
    let caught = py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    caught.map_err(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        let msg = format!(
            "internal error in the kmapsim engine ({detail}); please report it with this \
             scenario and seed {} (attributes .scenario and .seed)",
            opts.seed
        );
        errors::raise(
            py,
            "InternalError",
            (msg, opts.scenario.clone_ref(py), opts.seed, detail),
        )
    })
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
    Ok(RawResult {
        cycles: report.cycles,
        seed: report.seed,
        mode: e.mode().name(),
        events: report.events,
        wall_seconds,
        counters: objs.counters,
        breakdown: objs.breakdown,
        histograms: objs.histograms,
        violations: objs.violations,
        trace: objs.trace,
        trace_dropped: report.trace_dropped,
        samples: samples.unbind(),
        ops,
        stopped: e.stopped().map(|err| err.to_string()),
    })
}

/// Check a scenario dict; return it complete (defaults filled in) and normalised.
#[pyfunction]
fn validate<'py>(py: Python<'py>, scenario: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    let sc = convert::scenario(scenario).map_err(|e| errors::config_error(py, &e))?;
    convert::scenario_to_dict(py, &sc)
}

/// One dict per scenario field: name, kind, range or choices, unit, doc, default.
#[pyfunction]
fn field_specs(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    convert::field_specs(py)
}

/// Simulate `scenario` for `cycles` cycles. Releases the GIL; Ctrl-C raises KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (
    scenario, cycles, seed, mode = "skip", trace = None, sample_every = None, replay = None,
    record_ops = false, max_wall_seconds = None, cancel = None
))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    scenario: &Bound<'_, PyDict>,
    cycles: &Bound<'_, PyAny>,
    seed: &Bound<'_, PyAny>,
    mode: &str,
    trace: Option<&Bound<'_, PyAny>>,
    sample_every: Option<&Bound<'_, PyAny>>,
    replay: Option<ReplayColumns>,
    record_ops: bool,
    max_wall_seconds: Option<f64>,
    cancel: Option<&Bound<'_, CancelToken>>,
) -> PyResult<RawResult> {
    let (mut e, opts) = engine(
        py,
        scenario,
        seed,
        mode,
        trace,
        sample_every,
        replay,
        record_ops,
        max_wall_seconds,
        cancel,
    )?;
    let cycles = int_arg(py, "cycles", cycles, MAX_CYCLES)?;
    if cycles == 0 {
        return Err(bad(
            py,
            "cycles",
            "0".into(),
            format!("an integer in [1, {MAX_CYCLES}]"),
        ));
    }
    let start = Instant::now();
    advance(py, &mut e, cycles, &opts)?;
    raw_result(py, &e, start.elapsed().as_secs_f64())
}

/// A test-only trigger: a panic inside the engine's guard, to check that it becomes
/// `kmapsim.InternalError` and never crashes the interpreter.
#[pyfunction]
fn _panic_in_engine_for_tests(py: Python<'_>, scenario: &Bound<'_, PyDict>) -> PyResult<()> {
    let seed = 7u64.into_pyobject(py)?.into_any();
    let (_, opts) = engine(
        py, scenario, &seed, "skip", None, None, None, false, None, None,
    )?;
    guarded(py, &opts, || panic!("test-only trigger"))
}

/// Stop every run in progress in this process (they raise KeyboardInterrupt).
#[pyfunction]
fn cancel_running() {
    CANCEL_EPOCH.fetch_add(1, Ordering::Relaxed);
}

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::{
        _panic_in_engine_for_tests, CancelToken, RawResult, cancel_running, field_specs, run,
        validate,
    };
    #[pymodule_export]
    use crate::simulation::Simulation;

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("MODEL_VERSION", kmapsim_core::MODEL_VERSION)?;
        m.add("CATEGORIES", kmapsim_core::Category::NAMES.to_vec())?;
        m.add("COUNTERS", kmapsim_core::Counters::NAMES.to_vec())?;
        m.add("HISTOGRAMS", kmapsim_core::Histograms::NAMES.to_vec())?;
        m.add("MAX_TRACE", kmapsim_core::records::MAX_TRACE)?;
        m.add(
            "RECORD_BUDGET_BYTES",
            kmapsim_core::records::RECORD_BUDGET_BYTES,
        )?;
        Ok(())
    }
}
