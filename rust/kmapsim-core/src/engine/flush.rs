//! `flush_all_zero_pkmaps()` and the TLB shootdown of every strategy (docs/model.md, sections 4,
//! 6 and 12): the clearing loop, then `flush_tlb_all()` (`sync`, `targeted` and its variants
//! `concurrent`, `early-ack`, `ranged`), the IPIs without waiting (`async`, `guarded`), no IPI
//! (`lazy`, `defer`) or a hardware broadcast (`broadcast`), then the flusher's local flush; the
//! flush-generation catch-up of `guarded`, `lazy` and `defer`, and `defer`'s shootdown before a
//! cleared slot is reused. The only place that matches on `Strategy`
//! for the shootdown.

use super::ipi::Targets;
use super::program::{Next, go};
use super::{Engine, Res};
use crate::config::{EmptyFlush, Strategy};
use crate::cpu::{Phase, Wait};
use crate::lock::{CALL_LOCK, KMAP_LOCK};
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
            let took = t - cpu.flush_start;
            self.record(|h| &mut h.flush_duration, took);
            return self.resume_after_flush(c);
        }
        self.counters.flushes += 1;
        let others = self.cpus.len() as u64 - 1;
        match sc.strategy {
            Strategy::Sync
            | Strategy::Targeted
            | Strategy::Concurrent
            | Strategy::EarlyAck
            | Strategy::Ranged => self.call_shootdown(c, t),
            Strategy::Split => {
                // Bligh: the half just left stays dirty, and out of the cursor's way, until its
                // shootdown ends; the shootdown runs with kmap_lock dropped (docs/model.md 12.12).
                self.pk.mark_flushing();
                let cpu = &mut self.cpus[c];
                if cpu.t.misuse {
                    cpu.irqs_on = !cpu.t.irqs_disabled;
                }
                self.release_lock(KMAP_LOCK, c, t);
                self.call_shootdown(c, t)
            }
            Strategy::Async | Strategy::Guarded => {
                if sc.strategy == Strategy::Guarded {
                    self.flush_gen += 1;
                }
                let busy = if others > 0 {
                    self.send_flush_ipis(c, t, Targets::All)
                } else {
                    0
                };
                go(C::IpiSend, busy, Phase::AsyncSent)
            }
            Strategy::Lazy => {
                self.flush_gen += 1;
                go(C::LocalFlush, sc.tlb_flush_cycles, Phase::LocalFlushDone)
            }
            Strategy::Defer => {
                // No IPI: the cleared slots carry the new generation, and are reused only once
                // every CPU has flushed since (docs/model.md, 12.11).
                self.flush_gen += 1;
                let g = self.flush_gen;
                for &s in &self.pk.cleared {
                    self.pk.cleared_gen[s as usize] = g;
                }
                go(C::LocalFlush, sc.tlb_flush_cycles, Phase::LocalFlushDone)
            }
            Strategy::Broadcast => {
                // INVLPGB + TLBSYNC (or TLBI IS + DSB): no interrupt, no call_lock.
                go(C::LocalFlush, sc.tlb_broadcast_cycles, Phase::BroadcastDone)
            }
            Strategy::Local => unreachable!("kmap_local never flushes the pkmap pool"),
        }
    }

    /// `flush_tlb_all()`'s `smp_call_function()`: take `call_lock` to send the IPIs (to every
    /// other CPU, or under `targeted` to those that may hold pkmap entries), or with no target
    /// just flush the local TLB.
    fn call_shootdown(&mut self, c: usize, t: u64) -> Next {
        let targets = if self.sc.strategy == Strategy::Targeted {
            self.cpus
                .iter()
                .enumerate()
                .filter(|&(d, x)| d != c && x.may_hold)
                .count()
        } else {
            self.cpus.len() - 1
        };
        if targets == 0 {
            // smp_call_function() returns at once when there is no target.
            go(C::LocalFlush, self.tlb_flush_cost(), Phase::LocalFlushDone)
        } else {
            self.request_lock(c, CALL_LOCK, t);
            Next::Block {
                cat: C::CallLockSpin,
                wait: Wait::Lock(CALL_LOCK),
                phase: Phase::CallLockGranted,
            }
        }
    }

    /// `broadcast`: the hardware invalidation has completed on every CPU, the flusher's own
    /// TLB included, without running anything on them (docs/model.md, 12.7).
    #[inline(never)]
    pub(super) fn broadcast_done(&mut self, c: usize, t: u64) -> Next {
        let refill = self.sc.tlb_refill_cycles;
        for d in (0..self.cpus.len()).filter(|&d| d != c) {
            self.unfold_before_remote(d, t, c);
            self.cpus[d].full_flush(refill);
            self.counters.broadcast_flushes += 1;
            let why = FlushWhy::Broadcast;
            trace!(self, t, d, E::TlbFlush { why });
        }
        self.local_flush_done(c, t)
    }

    /// What a flush of one TLB costs: a full flush, or under `ranged` with few cleared slots one
    /// invlpg per cleared slot (`flush_tlb_kernel_range()`, docs/model.md 12.10).
    pub(super) fn tlb_flush_cost(&self) -> u64 {
        let n = self.pk.cleared.len() as u64;
        if self.ranged_flush() {
            n * self.sc.tlb_invlpg_cycles
        } else {
            self.sc.tlb_flush_cycles
        }
    }

    /// How the current flush reaches a TLB for the trace: `full`, or `Range` when `ranged`
    /// invalidates the cleared slots only.
    pub(super) fn flush_why(&self, full: FlushWhy) -> FlushWhy {
        if self.ranged_flush() {
            FlushWhy::Range
        } else {
            full
        }
    }

    /// Whether the current flush invalidates the cleared slots one by one.
    #[inline]
    fn ranged_flush(&self) -> bool {
        self.sc.strategy == Strategy::Ranged
            && self.pk.cleared.len() as u64 <= self.sc.tlb_flush_ceiling
    }

    /// CPU `c`'s TLB is flushed by the current flush: every entry, or the cleared slots' only.
    pub(super) fn flush_tlb_of(&mut self, c: usize) {
        if self.ranged_flush() {
            let cpu = &mut self.cpus[c];
            for &s in &self.pk.cleared {
                cpu.tlb.invalidate(s);
            }
            cpu.may_hold = false;
            self.counters.range_flushes += 1;
            self.counters.invlpgs += self.pk.cleared.len() as u64;
        } else {
            self.cpus[c].full_flush(self.sc.tlb_refill_cycles);
            self.counters.tlb_flushes += 1;
        }
    }

    /// `call_lock` held: `smp_call_function()` sends the flush IPIs.
    // Rare (a flush or a sleep per hundreds of kmaps): kept out of the hot loop.
    #[inline(never)]
    pub(super) fn call_lock_granted(&mut self, c: usize, t: u64) -> Next {
        self.lock_running(c, CALL_LOCK, t);
        let sc = &self.sc;
        let targets = match sc.strategy {
            Strategy::Targeted => Targets::MayHold,
            Strategy::Defer => Targets::Behind(self.cpus[c].defer_gen),
            _ => Targets::All,
        };
        let busy = self.send_flush_ipis(c, t, targets);
        go(C::IpiSend, busy, Phase::IpiSent)
    }

    /// The IPIs are sent: wait for every target's ack.
    #[inline]
    pub(super) fn ipi_sent(&mut self, t: u64) -> Next {
        if self.sc.strategy == Strategy::Concurrent {
            // Flush the local TLB while the IPIs are in flight (docs/model.md, 12.8).
            return go(
                C::LocalFlush,
                self.sc.tlb_flush_cycles,
                Phase::ConcurrentFlushed,
            );
        }
        self.wait_for_acks(t)
    }

    /// `concurrent`: the flusher's own flush is done; now wait for the acks.
    #[inline(never)]
    pub(super) fn concurrent_flushed(&mut self, c: usize, t: u64) -> Next {
        self.own_flush(c, t);
        self.wait_for_acks(t)
    }

    /// Wait until every target has acked (at once if they all have).
    fn wait_for_acks(&mut self, t: u64) -> Next {
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
        if self.sc.strategy == Strategy::Defer {
            // Every CPU has now flushed since the slot was cleared: map it.
            return go(C::KmapLocked, 0, Phase::MapSet);
        }
        if self.sc.strategy == Strategy::Concurrent {
            // Its own flush was done while the IPIs were in flight.
            return self.shootdown_done(c, t);
        }
        go(C::LocalFlush, self.tlb_flush_cost(), Phase::LocalFlushDone)
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
        self.own_flush(c, t);
        self.shootdown_done(c, t)
    }

    /// The flusher's own TLB flush takes effect.
    fn own_flush(&mut self, c: usize, t: u64) {
        let why = self.flush_why(FlushWhy::Local);
        self.flush_tlb_of(c);
        trace!(self, t, c, E::TlbFlush { why });
        self.cpus[c].generation = self.flush_gen;
    }

    /// The shootdown is over: record it, and the scan resumes (under `split`, the kmap starts
    /// again from `spin_lock(&kmap_lock)`).
    fn shootdown_done(&mut self, c: usize, t: u64) -> Next {
        let cpu = &self.cpus[c];
        let (flush, shootdown) = (t - cpu.flush_start, t - cpu.shootdown_start);
        self.record(|h| &mut h.flush_duration, flush);
        self.record(|h| &mut h.shootdown, shootdown);
        if self.sc.strategy == Strategy::Split {
            return self.split_flushed(c, t);
        }
        self.resume_after_flush(c)
    }

    /// `split`: the retired half is clean again: the sleepers are woken if some slot is free or
    /// unused (else only a kunmap can help them, and wakes them, as in 2.4), and the flusher,
    /// which holds no lock now, retries its kmap from the top.
    #[inline(never)]
    fn split_flushed(&mut self, c: usize, t: u64) -> Next {
        self.pk.mark_clean();
        if self.pk.free_count + self.pk.unused_count > 0 {
            self.wake_sleepers(t);
        }
        // The scan resumes as right after a flush: it examines the slot under the cursor first.
        let cpu = &mut self.cpus[c];
        cpu.scan_flushes = cpu.scan_flushes.saturating_add(1);
        self.kmap_lock_request(c, t)
    }

    /// After a flush (or a skipped one), map_new_virtual() examines the current slot again.
    pub(super) fn resume_after_flush(&mut self, c: usize) -> Next {
        let cpu = &mut self.cpus[c];
        cpu.scan_flushes = cpu.scan_flushes.saturating_add(1);
        cpu.scan_left = self.pk.loop_count(cpu.scan_flushes);
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

    /// The lowest flush generation of any CPU, in one pass over the CPUs, kept in `min_gen`.
    /// Generations only grow, so `min_gen` stays a lower bound: `scan_resume` calls this only
    /// when a slot cleared later than `min_gen` is about to be reused.
    pub(super) fn min_generation(&mut self) -> u64 {
        self.min_gen = self.cpus.iter().map(|x| x.generation).min().unwrap_or(0);
        self.min_gen
    }

    /// `defer`: the slot about to be handed out was cleared in generation `defer_gen`. If some CPU
    /// has not flushed since, flush it first: the holder itself catches up, the others get an
    /// IPI under `call_lock` and are waited for; then the mapping is set.
    #[inline(never)]
    pub(super) fn defer_reuse(&mut self, c: usize, t: u64) -> Next {
        let g = self.cpus[c].defer_gen;
        let own = if self.cpus[c].generation < g {
            self.catch_up(c, t)
        } else {
            0
        };
        if self.others_behind(c, g) {
            go(C::LocalFlush, own, Phase::DeferFlush)
        } else {
            go(C::LocalFlush, own, Phase::MapSet)
        }
    }

    /// Whether a CPU other than `c` has not flushed since generation `g`.
    fn others_behind(&self, c: usize, g: u64) -> bool {
        (0..self.cpus.len()).any(|d| d != c && self.cpus[d].generation < g)
    }

    /// `defer`: take `call_lock` to send the IPIs to the CPUs still behind.
    #[inline(never)]
    pub(super) fn defer_flush(&mut self, c: usize, t: u64) -> Next {
        let g = self.cpus[c].defer_gen;
        if !self.others_behind(c, g) {
            // They caught up meanwhile (a context switch, a handler).
            return go(C::KmapLocked, 0, Phase::MapSet);
        }
        self.counters.deferred_shootdowns += 1;
        self.request_lock(c, CALL_LOCK, t);
        Next::Block {
            cat: C::CallLockSpin,
            wait: Wait::Lock(CALL_LOCK),
            phase: Phase::CallLockGranted,
        }
    }
}
