//! `flush_all_zero_pkmaps()` and the TLB shootdown of every strategy (docs/model.md, sections 4,
//! 6 and 12): the clearing loop, then `flush_tlb_all()` (`sync`, `targeted`), the IPIs without
//! waiting (`async`, `guarded`) or no IPI (`lazy`), then the flusher's local flush; and the
//! flush-generation catch-up of `guarded` and `lazy`. The only place that matches on `Strategy`
//! for the shootdown.

use super::program::{Next, go};
use super::{Engine, Res};
use crate::config::{EmptyFlush, Strategy};
use crate::cpu::{Phase, Wait};
use crate::lock::CALL_LOCK;
use crate::stats::Category as C;
use crate::trace::trace;
use crate::trace::{EventKind as E, FlushWhy};

impl Engine {
    /// `flush_all_zero_pkmaps()`: the clearing loop.
    // Rare (a flush or a sleep per hundreds of kmaps): kept out of the hot loop.
    #[inline(never)]
    pub(super) fn flush_begin(&mut self, c: usize, t: u64) -> Res<Next> {
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        cpu.flush_start = t;
        cpu.t.flushed = true;
        let (cleared, walked) = match self.pk.flush_clear(t, c as u32) {
            Ok(n) => n,
            Err(s) => {
                let m = format!("flush_all_zero_pkmaps: slot {s} has count 1 and no pte");
                return Err(self.bug(c, t, m));
            }
        };
        self.counters.slots_cleared += cleared;
        trace!(self, t, c, E::FlushBegin { cleared });
        let free = self.pk.free_count;
        trace!(self, t, c, E::FreeSlots { free });
        self.cpus[c].flush_cleared = cleared;
        // The scan walks the whole pool; the freelist only its dirty list. A cleared slot
        // costs more: its struct page and pte are cold (docs/model.md, section 18).
        let cost = walked * sc.flush_slot_cycles + cleared * sc.flush_clear_slot_cycles;
        Ok(go(C::FlushScan, cost, Phase::FlushScanDone))
    }

    /// `flush_tlb_all()` after the clearing loop: the shootdown of the scenario's strategy.
    // Rare (a flush or a sleep per hundreds of kmaps): kept out of the hot loop.
    #[inline(never)]
    pub(super) fn flush_scan_done(&mut self, c: usize, t: u64) -> Next {
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        cpu.shootdown_start = t;
        if cpu.flush_cleared == 0 && sc.empty_flush == EmptyFlush::Skip {
            self.counters.flushes_skipped += 1;
            self.hist.flush_duration.record(t - cpu.flush_start);
            return self.resume_after_flush(c);
        }
        self.counters.flushes += 1;
        let others = self.cpus.len() as u64 - 1;
        match sc.strategy {
            Strategy::Sync | Strategy::Targeted => {
                let targets = if sc.strategy == Strategy::Targeted {
                    self.cpus
                        .iter()
                        .enumerate()
                        .filter(|&(d, x)| d != c && x.may_hold)
                        .count()
                } else {
                    others as usize
                };
                if targets == 0 {
                    // smp_call_function() returns at once when there is no target.
                    go(C::LocalFlush, sc.tlb_flush_cycles, Phase::LocalFlushDone)
                } else {
                    self.request_lock(c, CALL_LOCK, t);
                    Next::Block {
                        cat: C::CallLockSpin,
                        wait: Wait::Lock(CALL_LOCK),
                        phase: Phase::CallLockGranted,
                    }
                }
            }
            Strategy::Async | Strategy::Guarded => {
                if sc.strategy == Strategy::Guarded {
                    self.flush_gen += 1;
                }
                let busy = if others > 0 {
                    self.send_flush_ipis(c, t, false)
                } else {
                    0
                };
                go(C::IpiSend, busy, Phase::AsyncSent)
            }
            Strategy::Lazy => {
                self.flush_gen += 1;
                go(C::LocalFlush, sc.tlb_flush_cycles, Phase::LocalFlushDone)
            }
            Strategy::Local => unreachable!("kmap_local never flushes the pkmap pool"),
        }
    }

    /// `call_lock` held: `smp_call_function()` sends the flush IPIs.
    // Rare (a flush or a sleep per hundreds of kmaps): kept out of the hot loop.
    #[inline(never)]
    pub(super) fn call_lock_granted(&mut self, c: usize, t: u64) -> Next {
        self.lock_running(c, CALL_LOCK, t);
        let sc = &self.sc;
        let busy = self.send_flush_ipis(c, t, sc.strategy == Strategy::Targeted);
        go(C::IpiSend, busy, Phase::IpiSent)
    }

    /// The IPIs are sent: wait for every target's ack.
    #[inline]
    pub(super) fn ipi_sent(&mut self, t: u64) -> Next {
        if self.call.finished == self.call.targets {
            // Every handler is done; the last ack may still be queued on the shared line.
            let left = self.call.acks_done_at.saturating_sub(t);
            go(C::IpiWait, left, Phase::AcksDone)
        } else {
            let wait = Wait::Acks(self.call.id);
            Next::Block {
                cat: C::IpiWait,
                wait,
                phase: Phase::AcksDone,
            }
        }
    }

    /// Every ack is in: release `call_lock`, flush the local TLB.
    // Rare (a flush or a sleep per hundreds of kmaps): kept out of the hot loop.
    #[inline(never)]
    pub(super) fn acks_done(&mut self, c: usize, t: u64) -> Next {
        self.release_lock(CALL_LOCK, c, t);
        go(
            C::LocalFlush,
            self.sc.tlb_flush_cycles,
            Phase::LocalFlushDone,
        )
    }

    /// `async`/`guarded`: the IPIs are sent; flush the local TLB without waiting for acks.
    #[inline]
    pub(super) fn async_sent(&mut self) -> Next {
        let sc = &self.sc;
        go(C::LocalFlush, sc.tlb_flush_cycles, Phase::LocalFlushDone)
    }

    /// The flusher's own TLB flush is done: the shootdown ends, the scan resumes.
    // Rare (a flush or a sleep per hundreds of kmaps): kept out of the hot loop.
    #[inline(never)]
    pub(super) fn local_flush_done(&mut self, c: usize, t: u64) -> Next {
        let refill = self.sc.tlb_refill_cycles;
        self.cpus[c].full_flush(refill);
        trace!(
            self,
            t,
            c,
            E::TlbFlush {
                why: FlushWhy::Local
            }
        );
        let cpu = &mut self.cpus[c];
        cpu.generation = self.flush_gen;
        self.counters.tlb_flushes += 1;
        self.hist.flush_duration.record(t - cpu.flush_start);
        self.hist.shootdown.record(t - cpu.shootdown_start);
        self.resume_after_flush(c)
    }

    /// After a flush (or a skipped one), map_new_virtual() examines the current slot again.
    pub(super) fn resume_after_flush(&mut self, c: usize) -> Next {
        let cpu = &mut self.cpus[c];
        cpu.scan_left = self.sc.last_pkmap as u32;
        cpu.scan_check_current = true;
        go(C::KmapLocked, 0, Phase::ScanResume)
    }

    /// Flush the local TLB now to catch up with the flush generation; returns its cost.
    pub(super) fn catch_up(&mut self, c: usize, t: u64) -> u64 {
        trace!(
            self,
            t,
            c,
            E::TlbFlush {
                why: FlushWhy::Generation
            }
        );
        let cpu = &mut self.cpus[c];
        cpu.full_flush(self.sc.tlb_refill_cycles);
        cpu.generation = self.flush_gen;
        self.counters.gen_flushes += 1;
        self.counters.tlb_flushes += 1;
        self.sc.tlb_flush_cycles
    }

    /// The generation check in schedule() (`guarded`, `lazy`): extra cycles of the switch.
    pub(super) fn catch_up_at_switch(&mut self, c: usize, t: u64) -> u64 {
        if self.sc.strategy.uses_generations() && self.cpus[c].generation < self.flush_gen {
            self.catch_up(c, t)
        } else {
            0
        }
    }
}
