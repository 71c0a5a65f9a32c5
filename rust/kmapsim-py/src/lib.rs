//! The `kmapsim._core` extension: converts Python inputs, runs the core with the GIL released,
//! converts results back. All simulation lives in `kmapsim-core`; this file only exports.
//!
//! - `options`: `Options`, every run argument but the length, checked once;
//! - `simulation`: `Simulation` and `run`, the one door into the engine;
//! - `runner`: the engine factory, the GIL-free advance and its stop checks, the panic guard;
//! - `result`: `RawResult`; `convert`: Python values in and out; `errors`: the exceptions;
//! - `cancel`: `CancelToken` and `cancel_running`;
//! - `check`: the checker (`kmapsim_core::check`) and its counterexample's replay.

mod cancel;
mod check;
mod convert;
mod errors;
mod options;
mod result;
mod runner;
mod simulation;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Check a scenario dict; return it complete (defaults filled in) and normalised.
#[pyfunction]
fn validate<'py>(py: Python<'py>, scenario: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    let sc = convert::scenario(scenario).map_err(|e| errors::config_error(py, &e))?;
    convert::scenario_to_dict(py, &sc)
}

/// A program's one-line form (`kmap handle=src page=hot; block; kunmap handle=src`) as a
/// list of steps, each a dict; only its shape is checked here (`validate` checks the steps).
#[pyfunction]
fn parse_program<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyList>> {
    let spec = kmapsim_core::workload::from_text(text).map_err(|e| errors::config_error(py, &e))?;
    convert::program_to_list(py, &spec)
}

/// One dict per scenario field: name, kind, range or choices, unit, doc, default.
#[pyfunction]
fn field_specs(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    convert::field_specs(py)
}

/// The name of `known` nearest to `name` if it is close enough to be a typo (case compared
/// last), else None: every "did you mean" of the Python layer comes from here.
#[pyfunction]
fn closest(name: &str, known: Vec<String>) -> Option<String> {
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    kmapsim_core::closest(name, &known).map(str::to_string)
}

/// The threads this process can run at once: Rust's `std::thread::available_parallelism`,
/// which counts the CPUs of the process's affinity mask and honours a cgroup's CPU quota (a
/// container limited to two CPUs of a large machine gets 2); 1 if it cannot tell.
#[pyfunction]
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A test-only trigger: a panic inside the engine's guard, to check that it becomes
/// `kmapsim.InternalError` and never crashes the interpreter.
#[pyfunction]
fn _panic_in_engine_for_tests(py: Python<'_>, options: Py<options::Options>) -> PyResult<()> {
    runner::guarded(py, options.get(), || panic!("test-only trigger"))
}

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::{_panic_in_engine_for_tests, closest, cores, field_specs, parse_program, validate};
    #[pymodule_export]
    use crate::cancel::{CancelToken, cancel_running};
    #[pymodule_export]
    use crate::check::{check, pct};
    #[pymodule_export]
    use crate::options::Options;
    #[pymodule_export]
    use crate::result::RawResult;
    #[pymodule_export]
    use crate::simulation::{Simulation, run};

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use kmapsim_core as core;
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("MODEL_VERSION", core::MODEL_VERSION)?;
        m.add("CATEGORIES", core::Category::NAMES.to_vec())?;
        m.add("COUNTERS", core::Counters::NAMES.to_vec())?;
        m.add("HISTOGRAMS", core::Histograms::NAMES.to_vec())?;
        m.add("MODES", core::Mode::NAMES.to_vec())?;
        m.add("MAX_CYCLES", core::MAX_CYCLES)?;
        m.add("MAX_SEED", u64::MAX)?;
        m.add("MAX_DURATION", core::MAX_DURATION)?;
        m.add("MAX_TRACE", core::records::MAX_TRACE)?;
        m.add("RECORD_BUDGET_BYTES", core::records::RECORD_BUDGET_BYTES)?;
        m.add("SAMPLE_COLUMNS", core::Sample::COLUMNS.to_vec())?;
        m.add("OPS_COLUMNS", core::replay::Op::COLUMNS.to_vec())?;
        m.add("TASK_STATES", core::task::TASK_STATES.to_vec())?;
        m.add("WORKLOADS", core::workload::WORKLOAD_DOCS.to_vec())?;
        m.add("PROGRAM_OPS", core::workload::OPS.to_vec())?;
        m.add("PAGE_SOURCES", core::workload::PAGE_SOURCES.to_vec())?;
        m.add("MAX_HANDLES", core::workload::MAX_HANDLES)?;
        m.add("CALL_COLUMNS", core::calls::CALL_COLUMNS.to_vec())?;
        m.add("CALL_RECORD_COLUMNS", core::calls::RECORD_COLUMNS.to_vec())?;
        m.add("CALL_OPS", core::calls::CallOp::NAMES.to_vec())?;
        Ok(())
    }
}
