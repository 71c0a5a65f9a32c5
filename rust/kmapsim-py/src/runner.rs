//! Running the core from Python: the engine factory, the GIL-free advance with its stop
//! checks (Ctrl-C, `CancelToken`, `cancel_running`, the wall clock) and the panic guard.

use crate::cancel::CANCEL_EPOCH;
use crate::errors;
use crate::options::Options;
use kmapsim_core::{ConfigError, Engine, SimError, StopReason};
use pyo3::prelude::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often a running simulation looks for Ctrl-C (a signal check needs the GIL).
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// A checked engine at cycle 0 with the options applied.
pub(crate) fn engine(opts: &Options) -> Result<Engine, ConfigError> {
    let mut e = Engine::new(&opts.scenario, opts.seed, opts.mode)?;
    if opts.trace > 0 {
        e.enable_trace(opts.trace)?;
    }
    e.enable_sampling(opts.sample_every);
    if let Some(ops) = &opts.replay {
        e.set_replay(ops.clone())?;
    }
    if opts.record_ops {
        e.enable_recording()?;
    }
    if let Some(lists) = &opts.replay_calls {
        e.set_call_replay(lists.clone())?;
    }
    if opts.record_calls {
        e.enable_call_recording();
    }
    Ok(e)
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
    let now = e.now();
    polled(py, opts, "cycle", now, |poll| e.advance_to(end, poll))
}

/// Run `work` without the GIL with a poll function that stops it on Ctrl-C, the caller's
/// `CancelToken`, `cancel_running()` or the wall-clock limit; the stop becomes the matching
/// Python exception, which says at which `unit` (`cycle`, or the checker's `depth`) it stopped.
pub(crate) fn polled<T: Send>(
    py: Python<'_>,
    opts: &Options,
    unit: &str,
    now: u64,
    work: impl FnOnce(&mut dyn FnMut() -> Option<StopReason>) -> Result<T, SimError> + Send,
) -> PyResult<T> {
    let mut stop: Option<Stop> = None;
    let epoch = CANCEL_EPOCH.load(Ordering::Relaxed);
    let started = Instant::now();
    let limit = opts.max_wall_seconds;
    let token = opts.cancel.clone();
    // A token cancelled before the run raises at once, however short the run.
    if token.as_ref().is_some_and(|t| t.load(Ordering::Relaxed)) {
        return Err(pyo3::exceptions::PyKeyboardInterrupt::new_err(format!(
            "cancelled by its CancelToken before {unit} {now}"
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
        work(&mut poll)
    })?;
    outcome.map_err(|err| {
        let at = match err {
            SimError::Interrupted { cycle, .. } => cycle,
            _ => return errors::sim_error(py, err),
        };
        match stop.take() {
            Some(Stop::WallClock(secs)) => {
                let msg = format!(
                    "stopped at {unit} {at} after {secs:.3} s of wall time \
                     (max_wall_seconds = {limit})"
                );
                errors::raise(py, "WallClockExceeded", (msg, at, secs))
            }
            Some(Stop::Cancelled(why)) => {
                pyo3::exceptions::PyKeyboardInterrupt::new_err(format!("{why} at {unit} {at}"))
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
            (msg, opts.scenario_dict.clone_ref(py), opts.seed, detail),
        )
    })
}
