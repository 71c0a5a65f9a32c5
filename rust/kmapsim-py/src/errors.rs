//! Core errors become the exception classes of `kmapsim.errors`, each constructed once here.

use kmapsim_core::{ConfigError, SimError};
use pyo3::prelude::*;

pub(crate) fn raise<'py, A: pyo3::call::PyCallArgs<'py>>(
    py: Python<'py>,
    class: &str,
    args: A,
) -> PyErr {
    let made = py
        .import("kmapsim.errors")
        .and_then(|m| m.getattr(class))
        .and_then(|cls| cls.call1(args));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// A ConfigError as `ScenarioTypeError` when its value is of the wrong type, else as
/// `ScenarioError` (a wrong value of the right type), as the Python layer raises them.
pub fn config_error(py: Python<'_>, e: &ConfigError) -> PyErr {
    let class = if is_type_problem(&e.problem) {
        "ScenarioTypeError"
    } else {
        "ScenarioError"
    };
    raise(
        py,
        class,
        (
            e.to_string(),
            e.field.clone(),
            e.problem.clone(),
            e.allowed.clone(),
        ),
    )
}

/// The problems that are a value of the wrong type: the core and the binding say "got <type>
/// ..." (a string, a bool, a float for an integer, an object, an array) for those and only
/// those; the binding's program and key checks say what the value is not.
fn is_type_problem(problem: &str) -> bool {
    problem.starts_with("got ")
        || matches!(
            problem,
            "not a list"
                | "not a dict"
                | "a field name that is not a string"
                | "scenario keys must be strings"
        )
}

pub fn sim_error(py: Python<'_>, e: SimError) -> PyErr {
    match e {
        SimError::Config(c) => config_error(py, &c),
        SimError::Deadlock(rep) => {
            let edges: Vec<(u32, String, Option<u32>)> = rep
                .edges
                .iter()
                .map(|e| (e.cpu, e.what.clone(), e.on))
                .collect();
            let msg = format!("deadlock: {rep}");
            raise(
                py,
                "DeadlockError",
                (
                    msg,
                    rep.cycle,
                    rep.chain.clone(),
                    edges,
                    rep.reason.clone(),
                    rep.sleepers.clone(),
                    rep.pool_exhausted,
                ),
            )
        }
        SimError::KernelBug {
            cycle,
            cpu,
            ref message,
        } => raise(
            py,
            "KernelBug",
            (e.to_string(), cycle, cpu, message.clone()),
        ),
        SimError::OutOfMemory { .. } => pyo3::exceptions::PyMemoryError::new_err(e.to_string()),
        // The poll callback stored the KeyboardInterrupt; this is only reached without one.
        SimError::Interrupted { cycle, .. } => {
            pyo3::exceptions::PyKeyboardInterrupt::new_err(format!("interrupted at cycle {cycle}"))
        }
    }
}
