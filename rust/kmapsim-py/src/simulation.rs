//! `Simulation`: one engine the caller advances step by step and looks into.

use crate::{Options, RawResult, advance, engine, errors, raw_result};
use kmapsim_core::{Engine, MAX_CYCLES};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::time::Instant;

/// A simulation advanced in pieces. Advancing to cycle N in any number of steps gives exactly
/// the result of one `run` of N cycles.
#[pyclass(module = "kmapsim._core")]
pub struct Simulation {
    engine: Engine,
    opts: Options,
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

#[pymethods]
impl Simulation {
    #[new]
    #[pyo3(signature = (
        scenario, seed, mode = "skip", trace = None, sample_every = None, replay = None,
        record_ops = false, max_wall_seconds = None, cancel = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        scenario: &Bound<'_, PyDict>,
        seed: &Bound<'_, PyAny>,
        mode: &str,
        trace: Option<&Bound<'_, PyAny>>,
        sample_every: Option<&Bound<'_, PyAny>>,
        replay: Option<crate::ReplayColumns>,
        record_ops: bool,
        max_wall_seconds: Option<f64>,
        cancel: Option<&Bound<'_, crate::CancelToken>>,
    ) -> PyResult<Self> {
        let (engine, opts) = engine(
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
        Ok(Simulation {
            engine,
            opts,
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
        let n = crate::int_arg(py, "cycles", cycles, MAX_CYCLES)?;
        let mut this = slf.try_borrow_mut().map_err(|_| busy(py))?;
        let end = this.engine.now().saturating_add(n);
        this.advance_until(py, end)
    }

    /// Simulate up to (not including) cycle `cycle`.
    fn advance_to(slf: &Bound<'_, Self>, cycle: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let cycle = crate::int_arg(py, "cycle", cycle, MAX_CYCLES)?;
        let mut this = slf.try_borrow_mut().map_err(|_| busy(py))?;
        this.advance_until(py, cycle)
    }

    /// The machine now: per-CPU state, locks, slots, sleepers and the counters so far.
    fn snapshot<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let this = slf.try_borrow().map_err(|_| busy(py))?;
        let s = this.engine.snapshot();
        let d = PyDict::new(py);
        d.set_item("cycle", s.cycle)?;
        let cpus = PyList::empty(py);
        for c in &s.cpus {
            let x = PyDict::new(py);
            x.set_item("cpu", c.cpu)?;
            x.set_item("phase", &c.phase)?;
            x.set_item("category", c.category)?;
            x.set_item("irqs_on", c.irqs_on)?;
            x.set_item("in_handler", c.in_handler)?;
            x.set_item("waiting_for", &c.waiting_for)?;
            x.set_item("next_action", c.next_action)?;
            x.set_item("pending_ipis", c.pending_ipis)?;
            x.set_item("inflight_ipis", c.inflight_ipis)?;
            x.set_item("slot", c.holds.map(|h| h.0))?;
            x.set_item("page", c.holds.map(|h| h.1))?;
            x.set_item("tlb_entries", c.tlb_entries)?;
            cpus.append(x)?;
        }
        d.set_item("cpus", cpus)?;
        let locks = PyList::empty(py);
        for l in &s.locks {
            let x = PyDict::new(py);
            x.set_item("name", &l.name)?;
            x.set_item("holder", l.holder)?;
            x.set_item("waiters", l.waiters.clone())?;
            locks.append(x)?;
        }
        d.set_item("locks", locks)?;
        let slots = PyDict::new(py);
        slots.set_item("free", s.slots_free)?;
        slots.set_item("unused", s.slots_unused)?;
        slots.set_item("in_use", s.slots_in_use)?;
        slots.set_item("cursor", s.cursor)?;
        d.set_item("slots", slots)?;
        d.set_item("flush_generation", s.flush_generation)?;
        d.set_item("sleeping", s.sleeping.clone())?;
        let counters = PyDict::new(py);
        for (k, v) in s.counters.pairs() {
            counters.set_item(k, v)?;
        }
        d.set_item("counters", counters)?;
        Ok(d)
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
        let out = advance(py, &mut self.engine, cycle, &self.opts);
        self.wall_seconds += start.elapsed().as_secs_f64();
        out
    }
}
