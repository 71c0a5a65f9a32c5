//! The per-CPU program (docs/model.md, sections 3, 4 and 16): one transition rule per `Phase`,
//! dispatched here to the file of its kernel path: `steps.rs` (the task's program), `work.rs`,
//! `kmap.rs`, `kunmap.rs`, `sleep.rs`, `sched.rs`, `flush.rs` (with every strategy's shootdown)
//! and `copy.rs`.
//!
//! A transition runs at the cycle its stretch ends and returns the next stretch: a category and a
//! duration (zero-length stretches are taken at once, in the same cycle), or a wait that another
//! CPU, a lock grant or an IPI ends.

use super::{Engine, Res};
use crate::config::Dist;
use crate::cpu::{NEVER, Phase, Wait};
use crate::error::SimError;
use crate::stats::Category as C;

/// Most steps a task may run within one cycle (a bound no real program comes near: an
/// iteration of `dbench` runs six).
pub(super) const ZERO_TIME_STEPS: u32 = 1 << 20;

/// What a CPU does after a transition.
pub(super) enum Next {
    /// Spend `delay` cycles in `cat`, then run `phase`.
    Go { cat: C, delay: u64, phase: Phase },
    /// Spin or sleep in `cat` until woken; then run `phase`.
    Block { cat: C, wait: Wait, phase: Phase },
}

#[inline]
pub(super) fn go(cat: C, delay: u64, phase: Phase) -> Next {
    Next::Go { cat, delay, phase }
}

impl Engine {
    /// CPU `c`'s stretch ends at cycle `t`.
    pub(super) fn act(&mut self, c: usize, t: u64) -> Res<()> {
        self.events += 1;
        if self.cpus[c].phase == Phase::HandlerEnd {
            self.end_handler(c, t)
        } else {
            self.run_program(c, t)
        }
    }

    /// Run transitions until the CPU has a stretch of time ahead or waits.
    pub(super) fn run_program(&mut self, c: usize, t: u64) -> Res<()> {
        loop {
            let next = self.transition(c, t)?;
            let (delay, phase, cat) = match next {
                Next::Go { cat, delay, phase } => (delay, phase, cat),
                Next::Block { cat, wait, phase } => {
                    self.cpus[c].wait = wait;
                    (NEVER, phase, cat)
                }
            };
            self.cpus[c].phase = phase;
            self.set_cat(c, cat, t);
            // Interrupts may just have been enabled with IPIs pending: they are taken now.
            if self.cpus[c].takes_ipis() && !self.cpus[c].pending.is_empty() {
                self.set_never(c);
                self.start_handler(c, t, delay);
                return Ok(());
            }
            match delay {
                // Kernel paths chain a bounded number of these; a program's own loops over steps
                // that take no time are caught in `next_step` (ZERO_TIME_STEPS).
                0 => continue,
                NEVER => self.set_never(c),
                d => self.set_until(c, t + d),
            }
            return Ok(());
        }
    }

    /// A task ran `ZERO_TIME_STEPS` steps in one cycle: its program loops without time passing.
    #[cold]
    #[inline(never)]
    pub(super) fn no_time(&self, c: usize, t: u64) -> Box<SimError> {
        let task = &self.cpus[c].t;
        Box::new(SimError::from(crate::error::ConfigError::new(
            "program",
            format!(
                "at cycle {t}, task {} ran {ZERO_TIME_STEPS} steps (up to step {}) without a \
                 cycle passing: a repeat over steps that take no time, or over steps that \
                 their chance skips",
                task.id, task.pc
            ),
            "a program whose repeated steps take time (a work, kmap, access, kunmap, block, \
             yield or irq_section always taken)"
                .into(),
        )))
    }

    pub(super) fn bug(&self, c: usize, t: u64, message: String) -> Box<SimError> {
        Box::new(SimError::KernelBug {
            cycle: t,
            cpu: c as u32,
            message,
        })
    }

    pub(super) fn draw(dist: Dist, mean: u64, rng: &mut crate::rng::Stream) -> u64 {
        match dist {
            Dist::Exponential => rng.exponential(mean),
            Dist::Fixed => mean,
        }
    }

    /// Run CPU `c`'s current phase at cycle `t`: each kernel path's file has its rules.
    #[inline(always)]
    fn transition(&mut self, c: usize, t: u64) -> Res<Next> {
        Ok(match self.cpus[c].phase {
            Phase::NextOp => self.next_step(c, t)?,
            Phase::WorkDone => self.work_done(c, t)?,
            Phase::Refilled => go(C::Work, self.cpus[c].t.op.work, Phase::WorkDone),
            Phase::IrqLockGranted => self.irq_lock_granted(c, t),
            Phase::IrqHoldDone => self.irq_hold_done(c, t),
            Phase::KmapRetry | Phase::CaughtUp => self.kmap_lock_request(c, t),
            Phase::KmapGranted => self.kmap_granted(c, t),
            Phase::KmapMapped => self.kmap_mapped(c, t)?,
            Phase::ScanResume => self.scan_resume(c, t),
            Phase::FlushBegin => self.flush_begin(c, t)?,
            Phase::FlushScanDone => self.flush_scan_done(c, t),
            Phase::CallLockGranted => self.call_lock_granted(c, t),
            Phase::IpiSent => self.ipi_sent(t),
            Phase::ConcurrentFlushed => self.concurrent_flushed(c, t),
            Phase::BroadcastDone => self.broadcast_done(c, t),
            Phase::DeferReuse => self.defer_reuse(c, t),
            Phase::DeferFlush => self.defer_flush(c, t),
            Phase::AcksDone => self.acks_done(c, t),
            Phase::AsyncSent => self.async_sent(),
            Phase::LocalFlushDone => self.local_flush_done(c, t),
            Phase::MapSet => self.map_set(c, t)?,
            Phase::LocalMapped => self.mapped(c, t)?,
            Phase::CopyLookup => self.copy_lookup(c, t)?,
            Phase::CopyRun => self.copy_run(c, t),
            Phase::CopyStepDone => self.copy_step_done(c, t),
            Phase::KunmapGranted => self.kunmap_granted(c, t)?,
            Phase::KunmapDone => self.kunmap_done(c, t)?,
            Phase::LocalUnmapped => self.local_unmapped(c, t)?,
            Phase::SleepBegin => self.sleep_begin(c, t),
            Phase::SwitchIn => self.switched_in(c, t),
            Phase::HandlerEnd => unreachable!("handler ends are dispatched by act()"),
        })
    }
}
