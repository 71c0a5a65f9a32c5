//! The `kmapsim._core` extension: converts Python inputs, runs the core with the GIL released,
//! converts results back. All simulation lives in `kmapsim-core`.

mod convert;
mod errors;

use kmapsim_core::{Category, ConfigError, MAX_CYCLES, Mode};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bumped by `cancel_running()`: every run in this process that started before stops at its
/// next poll (a sweep interrupted by Ctrl-C uses it to stop its worker threads, which cannot see
/// the signal themselves).
static CANCEL_EPOCH: AtomicU64 = AtomicU64::new(0);

/// How often a running simulation looks for Ctrl-C (a signal check needs the GIL).
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Most events a trace may keep (about 40 bytes each in the engine).
const MAX_TRACE: u64 = 100_000_000;

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
#[pyo3(signature = (scenario, cycles, seed, mode = "skip", trace = None))]
fn run(
    py: Python<'_>,
    scenario: &Bound<'_, PyDict>,
    cycles: &Bound<'_, PyAny>,
    seed: &Bound<'_, PyAny>,
    mode: &str,
    trace: Option<&Bound<'_, PyAny>>,
) -> PyResult<RawResult> {
    let sc = convert::scenario(scenario).map_err(|e| errors::config_error(py, &e))?;
    let cycles = int_arg(py, "cycles", cycles, MAX_CYCLES)?;
    if cycles == 0 {
        let e = ConfigError::new(
            "cycles",
            "0".into(),
            format!("an integer in [1, {MAX_CYCLES}]"),
        );
        return Err(errors::config_error(py, &e));
    }
    let seed = int_arg(py, "seed", seed, u64::MAX)?;
    let Some(m) = Mode::parse(mode) else {
        let e = ConfigError::new(
            "mode",
            format!("unknown value {mode:?}"),
            "one of skip, step".into(),
        );
        return Err(errors::config_error(py, &e));
    };
    let trace = match trace {
        Some(t) => int_arg(py, "trace", t, MAX_TRACE)? as usize,
        None => 0,
    };
    let start = Instant::now();
    let mut interrupt: Option<PyErr> = None;
    let epoch = CANCEL_EPOCH.load(Ordering::Relaxed);
    let outcome = py.detach(|| {
        let mut last = Instant::now();
        let mut poll = || {
            if CANCEL_EPOCH.load(Ordering::Relaxed) != epoch {
                interrupt = Some(pyo3::exceptions::PyKeyboardInterrupt::new_err(
                    "cancelled by kmapsim._core.cancel_running()",
                ));
                return false;
            }
            if last.elapsed() < SIGNAL_CHECK {
                return true;
            }
            last = Instant::now();
            match Python::attach(|py| py.check_signals()) {
                Ok(()) => true,
                Err(e) => {
                    interrupt = Some(e);
                    false
                }
            }
        };
        kmapsim_core::run(
            &sc,
            cycles,
            seed,
            m,
            (trace > 0).then_some(trace),
            &mut poll,
        )
    });
    let wall_seconds = start.elapsed().as_secs_f64();
    let report = match outcome {
        Ok(r) => r,
        Err(e) => return Err(interrupt.take().unwrap_or_else(|| errors::sim_error(py, e))),
    };
    let objs = convert::report(py, &report)?;
    Ok(RawResult {
        cycles: report.cycles,
        seed: report.seed,
        mode: m.name(),
        events: report.events,
        wall_seconds,
        counters: objs.counters,
        breakdown: objs.breakdown,
        histograms: objs.histograms,
        violations: objs.violations,
        trace: objs.trace,
        trace_dropped: report.trace_dropped,
    })
}

/// Stop every run in progress in this process (they raise KeyboardInterrupt).
#[pyfunction]
fn cancel_running() {
    CANCEL_EPOCH.fetch_add(1, Ordering::Relaxed);
}

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::{RawResult, cancel_running, field_specs, run, validate};

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("MODEL_VERSION", kmapsim_core::MODEL_VERSION)?;
        m.add("CATEGORIES", kmapsim_core::Category::NAMES.to_vec())?;
        m.add("COUNTERS", kmapsim_core::Counters::NAMES.to_vec())?;
        m.add("HISTOGRAMS", kmapsim_core::Histograms::NAMES.to_vec())?;
        Ok(())
    }
}
