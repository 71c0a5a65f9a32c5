//! Inter-processor interrupts (docs/model.md, section 6): `smp_call_function()`'s broadcast, the
//! local APICs, and the `flush_tlb_all_ipi()` handler.
//!
//! An IPI sent at cycle t reaches its target at t + `ipi_latency` (later for later targets when
//! sending is serial). A CPU with interrupts enabled and no handler running takes it at once,
//! suspending whatever it was doing; otherwise it stays pending in the APIC until interrupts come
//! back on. The handler acks "finished" after its TLB flush (under `early-ack`, on entry); 2.4's
//! "started" ack is not modelled, since with wait=1 the sender waits for "finished", which
//! implies it. Acks queue on the call's shared line (`ipi_ack_per_target_cycles`).

use super::{Engine, Mode, Res};
use crate::config::Strategy;
use crate::cpu::{Ipi, NEVER, Phase, Saved, Wait};
use crate::stats::Category;
use crate::trace::trace;
use crate::trace::{EventKind as E, FlushWhy};
use std::cmp::Reverse;

/// Which CPUs a flush IPI goes to.
#[derive(Clone, Copy, Debug)]
pub(super) enum Targets {
    /// Every other CPU (`send_IPI_allbutself`).
    All,
    /// Those whose TLB may hold pkmap entries (`targeted`).
    MayHold,
    /// Those that have not flushed since generation `g` (`defer`).
    Behind(u64),
}

impl Engine {
    /// Send the flush IPI from CPU `c` to the other CPUs `targets` picks. Returns the sender's
    /// busy time.
    pub(super) fn send_flush_ipis(&mut self, c: usize, t: u64, targets: Targets) -> u64 {
        let n = self.cpus.len();
        let wanted = |d: usize, cpu: &crate::cpu::Cpu| {
            d != c
                && match targets {
                    Targets::All => true,
                    Targets::MayHold => cpu.may_hold,
                    Targets::Behind(g) => cpu.generation < g,
                }
        };
        let targets = self
            .cpus
            .iter()
            .enumerate()
            .filter(|&(d, x)| wanted(d, x))
            .count() as u32;
        self.call = super::Call {
            id: self.call.id + 1,
            sender: c as u32,
            targets,
            finished: 0,
            acks_done_at: 0,
        };
        let base = t + self.sc.ipi_send_cycles + self.sc.ipi_latency;
        let mut k = 0;
        let generation = self.flush_gen;
        for d in 0..n {
            if !wanted(d, &self.cpus[d]) {
                continue;
            }
            k += 1;
            let arrival = base + k * self.sc.ipi_send_per_target_cycles;
            if arrival - t >= self.sc.watchdog_cycles {
                // A flight at least as long as the watchdog is one long stretch, waited out
                // like a long work or hold (docs/model.md, section 8), not a stall.
                self.long_stretch_end = self.long_stretch_end.max(arrival);
            }
            let call = self.call.id;
            self.cpus[d].inflight.push_back(Ipi {
                arrival,
                call,
                generation,
            });
            self.cpus[d].targeted_by_call = call;
            trace!(
                self,
                t,
                c,
                E::IpiSent {
                    to: d as u32,
                    arrival,
                    call
                }
            );
            if self.mode == Mode::Skip {
                self.ipi_heap.push(Reverse(super::key(arrival, d)));
            }
        }
        self.counters.ipis_sent += targets as u64;
        self.sc.ipi_send_cycles + targets as u64 * self.sc.ipi_send_per_target_cycles
    }

    /// Phase 1: the oldest in-flight IPI reaches CPU `c`'s APIC.
    pub(super) fn deliver(&mut self, c: usize, t: u64) {
        self.events += 1;
        let cpu = &mut self.cpus[c];
        let ipi = cpu
            .inflight
            .pop_front()
            .expect("deliver() is called for a due IPI");
        cpu.pending.push_back(ipi);
        let taken = cpu.takes_ipis();
        trace!(
            self,
            t,
            c,
            E::IpiArrived {
                call: ipi.call,
                taken
            }
        );
        if taken {
            let remaining = if cpu.until == NEVER {
                NEVER
            } else {
                cpu.until - t
            };
            self.start_handler(c, t, remaining);
        }
    }

    /// Enter the handler for the oldest pending IPI; the program resumes `remaining` cycles after
    /// the handler returns (NEVER: it goes back to waiting).
    pub(super) fn start_handler(&mut self, c: usize, t: u64, remaining: u64) {
        let remaining = match self.cpus[c].fold_base {
            NEVER => remaining,
            // A folded access resumes lookup by lookup: the handler's flush reaches the next.
            _ => self.unfold(c, t) - t,
        };
        let cpu = &mut self.cpus[c];
        let ipi = cpu
            .pending
            .pop_front()
            .expect("a handler starts for a pending IPI");
        debug_assert!(cpu.saved.is_none());
        cpu.saved = Some(Saved {
            phase: cpu.phase,
            remaining,
            cat: cpu.cat,
        });
        cpu.phase = Phase::HandlerEnd;
        cpu.handler_call = ipi.call;
        cpu.handler_gen = ipi.generation;
        self.record(|h| &mut h.ipi_pending, t - ipi.arrival);
        trace!(
            self,
            t,
            c,
            E::IpiHandler {
                call: ipi.call,
                arrived: ipi.arrival
            }
        );
        self.set_cat(c, Category::IpiHandler, t);
        if self.sc.strategy == Strategy::EarlyAck {
            // The ack on entry, before the flush (docs/model.md, 12.9).
            self.ack(c, ipi.call, t);
        }
        let d = self.sc.ipi_handler_cycles + self.tlb_flush_cost();
        self.set_until(c, t + d);
    }

    /// CPU `c` acks call `call`: a write to the call's shared line, where acks that land
    /// together queue (`ipi_ack_per_target_cycles`, docs/model.md 18); the sender spinning on
    /// `finished` sees the last ack one cycle after it lands.
    fn ack(&mut self, c: usize, call: u64, t: u64) {
        self.cpus[c].acked_call = call;
        if call != self.call.id {
            return;
        }
        self.call.finished += 1;
        let line = self.call.acks_done_at.max(t) + self.sc.ipi_ack_per_target_cycles;
        self.call.acks_done_at = line;
        let s = self.call.sender as usize;
        if self.call.finished == self.call.targets && self.cpus[s].wait == Wait::Acks(call) {
            self.wake(s, t, line - t + 1);
        }
    }

    /// The handler returns: the TLB is flushed, the sender sees the ack, the program resumes.
    pub(super) fn end_handler(&mut self, c: usize, t: u64) -> Res<()> {
        let cpu = &mut self.cpus[c];
        let saved = cpu
            .saved
            .take()
            .expect("HandlerEnd only while in a handler");
        let why = self.flush_why(FlushWhy::Handler);
        trace!(self, t, c, E::TlbFlush { why });
        let cpu = &mut self.cpus[c];
        cpu.generation = cpu.generation.max(cpu.handler_gen);
        let call = cpu.handler_call;
        self.flush_tlb_of(c);
        self.counters.ipis_handled += 1;
        if self.sc.strategy != Strategy::EarlyAck {
            self.ack(c, call, t);
        }
        let cpu = &mut self.cpus[c];
        cpu.phase = saved.phase;
        self.set_cat(c, saved.cat, t);
        if self.cpus[c].takes_ipis() && !self.cpus[c].pending.is_empty() {
            self.start_handler(c, t, saved.remaining);
            return Ok(());
        }
        match saved.remaining {
            NEVER => {
                self.set_never(c);
                // A test-and-set spinner is back and may take a free lock.
                if let Wait::Lock(l) = self.cpus[c].wait {
                    if self.locks[l as usize].holder.is_none() {
                        self.mark_dirty(l);
                    }
                }
                Ok(())
            }
            0 => self.run_program(c, t),
            r => {
                self.set_until(c, t + r);
                Ok(())
            }
        }
    }
}
