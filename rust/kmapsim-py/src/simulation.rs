//! `Simulation`: one engine the caller advances step by step and looks into, and `run`, the
//! same thing advanced once: the one door from Python into the engine.

use crate::options::{Options, int_arg};
use crate::result::{RawResult, raw_result};
use crate::runner::{advance, engine};
use crate::{convert, errors};
use kmapsim_core::{ConfigError, Engine, MAX_CYCLES};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Instant;

/// A simulation advanced in pieces. Advancing to cycle N in any number of steps gives exactly
/// the result of one `run` of N cycles.
#[pyclass(module = "kmapsim._core")]
pub struct Simulation {
    engine: Engine,
    opts: Py<Options>,
    wall_seconds: f64,
}

/// The clear error for a second thread using a `Simulation` while one advances it.
fn busy(py: Python<'_>) -> PyErr {
    errors::raise(
        py,
        "SimulationBusy",
        (
            "this Simulation is being used by another thread (a Simulation is not shared \
          between threads: give each thread its own, or lock around it)",
        ),
    )
}

fn checked(py: Python<'_>, r: Result<u64, ConfigError>) -> PyResult<u64> {
    r.map_err(|e| errors::config_error(py, &e))
}

#[pymethods]
impl Simulation {
    #[new]
    fn new(py: Python<'_>, options: Py<Options>) -> PyResult<Self> {
        let engine = engine(options.get()).map_err(|e| errors::config_error(py, &e))?;
        Ok(Simulation {
            engine,
            opts: options,
            wall_seconds: 0.0,
        })
    }

    /// The next cycle to simulate (cycles simulated so far).
    #[getter]
    fn now(slf: &Bound<'_, Self>) -> PyResult<u64> {
        let this = slf.try_borrow().map_err(|_| busy(slf.py()))?;
        Ok(this.engine.now())
    }

    /// Simulate `cycles` more cycles (GIL released, Ctrl-C stops it; the simulation can go on).
    fn advance(slf: &Bound<'_, Self>, cycles: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let n = checked(py, int_arg("cycles", cycles, MAX_CYCLES))?;
        let mut this = slf.try_borrow_mut().map_err(|_| busy(py))?;
        let end = this.engine.now().saturating_add(n);
        this.advance_until(py, end)
    }

    /// Simulate up to (not including) cycle `cycle`.
    fn advance_to(slf: &Bound<'_, Self>, cycle: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let cycle = checked(py, int_arg("cycle", cycle, MAX_CYCLES))?;
        let mut this = slf.try_borrow_mut().map_err(|_| busy(py))?;
        this.advance_until(py, cycle)
    }

    /// The machine now: per-CPU state, locks, slots, sleepers and the counters so far.
    fn snapshot<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let this = slf.try_borrow().map_err(|_| busy(py))?;
        convert::snapshot(py, &this.engine.snapshot())
    }

    /// Everything measured so far, as from `run` of `now` cycles.
    fn result(slf: &Bound<'_, Self>) -> PyResult<RawResult> {
        let py = slf.py();
        let this = slf.try_borrow().map_err(|_| busy(py))?;
        raw_result(py, &this.engine, this.wall_seconds)
    }
}

impl Simulation {
    /// After a deadlock, kernel BUG or exhausted record budget the engine raises that error
    /// again (its state is final); after Ctrl-C, a cancel or the wall-clock limit it goes on.
    fn advance_until(&mut self, py: Python<'_>, cycle: u64) -> PyResult<()> {
        let start = Instant::now();
        let out = advance(py, &mut self.engine, cycle, self.opts.get());
        self.wall_seconds += start.elapsed().as_secs_f64();
        out
    }
}

/// Simulate `cycles` cycles with `options`: a `Simulation` advanced once. Releases the GIL;
/// Ctrl-C raises KeyboardInterrupt.
#[pyfunction]
pub(crate) fn run(
    py: Python<'_>,
    options: Py<Options>,
    cycles: &Bound<'_, PyAny>,
) -> PyResult<RawResult> {
    let n = checked(py, int_arg("cycles", cycles, MAX_CYCLES))?;
    if n == 0 {
        let allowed = format!("an integer in [1, {MAX_CYCLES}]");
        return Err(errors::config_error(
            py,
            &ConfigError::new("cycles", "0".into(), allowed),
        ));
    }
    let mut sim = Simulation::new(py, options)?;
    sim.advance_until(py, n)?;
    raw_result(py, &sim.engine, sim.wall_seconds)
}
