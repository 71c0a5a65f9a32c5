//! Stopping runs from outside: `CancelToken` (one run or sweep) and `cancel_running` (all).

use pyo3::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bumped by `cancel_running()`: every run in this process that started before stops at its
/// next poll.
pub(crate) static CANCEL_EPOCH: AtomicU64 = AtomicU64::new(0);

/// A flag that stops the runs it is passed to: `kmapsim.CancelToken`. A sweep gives one to its
/// own runs, so that stopping it touches no other run in the process.
#[pyclass(frozen, module = "kmapsim._core")]
pub(crate) struct CancelToken {
    pub(crate) flag: Arc<AtomicBool>,
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

    /// Clear the cancel, so that the runs and simulations holding this token can go on (a
    /// cancelled token stops every later run at once, e.g. each `Simulation.advance`).
    fn reset(&self) {
        self.flag.store(false, Ordering::Relaxed);
    }

    /// Whether `cancel` was called (and not `reset` since).
    #[getter]
    fn cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    fn __repr__(&self) -> String {
        let state = if self.cancelled() { "True" } else { "False" };
        format!("CancelToken(cancelled={state})")
    }
}

/// Stop every run in progress in this process (they raise KeyboardInterrupt).
#[pyfunction]
pub(crate) fn cancel_running() {
    CANCEL_EPOCH.fetch_add(1, Ordering::Relaxed);
}
