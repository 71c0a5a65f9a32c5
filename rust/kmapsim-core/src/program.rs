//! The per-CPU program: the dbench-like workload and the 2.4 `kmap_high()` / `kunmap_high()` /
//! `flush_all_zero_pkmaps()` paths, one transition rule per `Phase`.
//!
//! A transition runs at the cycle its stretch ends and returns the next stretch: a category and a
//! duration (zero-length stretches are taken at once, in the same cycle), or a wait that another
//! CPU, a lock grant or an IPI ends.

use crate::config::{Dist, EmptyFlush, SlotAlloc, Strategy};
use crate::cpu::{NEVER, Phase, Wait};
use crate::engine::Engine;
use crate::error::SimError;
use crate::lock::{CALL_LOCK, IRQ_LOCK_BASE, KMAP_LOCK, LockId};
use crate::pkmap::{NONE, ScanEnd};
use crate::replay::Op;
use crate::stats::{Category as C, StaleAccess};
use crate::trace::trace;
use crate::trace::{EventKind as E, FlushWhy};

/// What a CPU does after a transition.
enum Next {
    /// Spend `delay` cycles in `cat`, then run `phase`.
    Go { cat: C, delay: u64, phase: Phase },
    /// Spin or sleep in `cat` until woken; then run `phase`.
    Block { cat: C, wait: Wait, phase: Phase },
}

#[inline]
fn go(cat: C, delay: u64, phase: Phase) -> Next {
    Next::Go { cat, delay, phase }
}

impl Engine {
    /// CPU `c`'s stretch ends at cycle `t`.
    pub(crate) fn act(&mut self, c: usize, t: u64) -> Result<(), SimError> {
        self.events += 1;
        if self.cpus[c].phase == Phase::HandlerEnd {
            self.end_handler(c, t)
        } else {
            self.run_program(c, t)
        }
    }

    /// Run transitions until the CPU has a stretch of time ahead or waits.
    pub(crate) fn run_program(&mut self, c: usize, t: u64) -> Result<(), SimError> {
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
                0 => continue,
                NEVER => self.set_never(c),
                d => self.set_until(c, t + d),
            }
            return Ok(());
        }
    }

    fn bug(&self, c: usize, t: u64, message: String) -> SimError {
        SimError::KernelBug {
            cycle: t,
            cpu: c as u32,
            message,
        }
    }

    fn draw(dist: Dist, mean: u64, rng: &mut crate::rng::Stream) -> u64 {
        match dist {
            Dist::Exponential => rng.exponential(mean),
            Dist::Fixed => mean,
        }
    }

    fn transition(&mut self, c: usize, t: u64) -> Result<Next, SimError> {
        let sc = &self.sc;
        let cpu = &mut self.cpus[c];
        Ok(match cpu.phase {
            Phase::WorkBegin => match self.next_op(c) {
                None => {
                    let cpu = &mut self.cpus[c];
                    let work = Self::draw(self.sc.work_dist, self.sc.work_cycles, &mut cpu.rng);
                    cpu.op = Op {
                        work,
                        ..Op::default()
                    };
                    cpu.op_open = true;
                    go(C::Work, work, Phase::WorkDone)
                }
                Some(Some(op)) => {
                    self.cpus[c].op = op;
                    self.cpus[c].op_open = true;
                    go(C::Work, op.work, Phase::WorkDone)
                }
                Some(None) => {
                    self.done_cpus += 1;
                    trace!(self, t, c, E::Done);
                    Next::Block {
                        cat: C::Idle,
                        wait: Wait::Done,
                        phase: Phase::WorkBegin,
                    }
                }
            },
            Phase::WorkDone => {
                self.evict_unrelated(c, t);
                let replaying = self.replay.is_some();
                let sc = &self.sc;
                let cpu = &mut self.cpus[c];
                // The op was reset at WorkBegin: irq_lock is None unless a section is drawn.
                if !replaying && cpu.rng.chance(sc.irq_section_prob) {
                    cpu.op.irq_lock = Some(cpu.rng.below(0, sc.irq_locks) as u32);
                    cpu.op.irq_hold =
                        Self::draw(sc.irq_hold_dist, sc.irq_hold_cycles, &mut cpu.rng);
                }
                if let Some(k) = cpu.op.irq_lock {
                    cpu.irq_lock = IRQ_LOCK_BASE + k as LockId;
                    // spin_lock_irq(): interrupts go off before spinning.
                    cpu.irqs_on = false;
                    self.counters.irq_sections += 1;
                    let l = self.cpus[c].irq_lock;
                    self.request_lock(c, l, t);
                    Next::Block {
                        cat: C::IrqoffSpin,
                        wait: Wait::Lock(l),
                        phase: Phase::IrqLockGranted,
                    }
                } else {
                    go(C::Work, 0, Phase::KmapBegin)
                }
            }
            Phase::IrqLockGranted => go(C::IrqoffHold, cpu.op.irq_hold, Phase::IrqHoldDone),
            Phase::IrqHoldDone => {
                let l = cpu.irq_lock;
                cpu.irqs_on = true;
                self.release_lock(l, c, t);
                go(C::Work, 0, Phase::KmapBegin)
            }
            Phase::KmapBegin => {
                if self.replay.is_none() {
                    cpu.op.irqs_off = cpu.rng.chance(sc.kmap_irqs_off_prob);
                    let hot = cpu.rng.chance(sc.shared_page_prob);
                    cpu.op.page = if (hot && sc.hot_pages > 0) || sc.hot_pages == sc.pages {
                        cpu.rng.below(0, sc.hot_pages) as u32
                    } else {
                        cpu.rng.below(sc.hot_pages, sc.pages) as u32
                    };
                }
                cpu.misuse = cpu.op.irqs_off;
                cpu.page = cpu.op.page;
                if cpu.misuse {
                    self.counters.kmaps_irqs_off += 1;
                }
                if sc.strategy == Strategy::Local {
                    // kmap_local_page(): the CPU's own slot, a PTE write and one invlpg.
                    cpu.slot = sc.last_pkmap as u32;
                    cpu.local_page = cpu.page;
                    cpu.local_mapped_at = t;
                    cpu.tlb.invalidate(cpu.slot);
                    cpu.holds = true;
                    let (slot, page) = (cpu.slot, cpu.page);
                    trace!(
                        self,
                        t,
                        c,
                        E::Mapped {
                            slot,
                            page,
                            shared: false
                        }
                    );
                    self.counters.invlpgs += 1;
                    self.counters.new_mappings += 1;
                    go(
                        C::KmapLocal,
                        sc.kmap_local_cycles + sc.tlb_invlpg_cycles,
                        Phase::LocalMapped,
                    )
                } else {
                    self.kmap_lock_request(c, t)
                }
            }
            Phase::KmapRetry => self.kmap_lock_request(c, t),
            Phase::KmapGranted => {
                // spin_lock() returns: the wait ends and the hold begins (docs/model.md, 9).
                self.hist.kmap_lock_wait.record(cpu.kmap_wait(t));
                cpu.hold_start = t;
                cpu.scan_check_current = false;
                if sc.strategy.uses_generations() && cpu.generation < self.flush_gen {
                    // A flush happened since this CPU's TLB was last clean: catch up first.
                    let f = self.catch_up(c, t);
                    go(C::LocalFlush, f, Phase::KmapMapped)
                } else {
                    go(C::KmapLocked, 0, Phase::KmapMapped)
                }
            }
            Phase::KmapMapped => {
                let page = cpu.page as usize;
                let slot = self.pk.virt[page];
                if slot != NONE {
                    // The page is mapped already: share the slot.
                    let n = &mut self.pk.count[slot as usize];
                    *n += 1;
                    let n = *n;
                    if n < 2 {
                        return Err(self.bug(c, t, format!("kmap_high: slot {slot} count < 2")));
                    }
                    if n == 2 && sc.slot_alloc == SlotAlloc::Freelist {
                        self.pk.remove_dirty(slot);
                    }
                    cpu.slot = slot;
                    cpu.holds = true;
                    let page = cpu.page;
                    trace!(
                        self,
                        t,
                        c,
                        E::Mapped {
                            slot,
                            page,
                            shared: true
                        }
                    );
                    self.counters.map_hits += 1;
                    go(C::KmapLocked, sc.kmap_hit_cycles, Phase::MapSet)
                } else {
                    cpu.scan_left = sc.last_pkmap as u32;
                    go(C::KmapLocked, 0, Phase::ScanResume)
                }
            }
            Phase::ScanResume => {
                let (end, advanced) = match sc.slot_alloc {
                    SlotAlloc::Scan => self.pk.scan(
                        cpu.page,
                        &mut cpu.scan_left,
                        cpu.scan_check_current,
                        t,
                        c as u32,
                    ),
                    SlotAlloc::Freelist => match self.pk.pop_free(cpu.page, t, c as u32) {
                        Some(slot) => (ScanEnd::Mapped { slot }, 1),
                        // Nothing free even right after a flush: sleep.
                        None if cpu.scan_check_current => (ScanEnd::Exhausted, 1),
                        None => (ScanEnd::Wrapped, 1),
                    },
                };
                self.counters.slots_examined += advanced;
                let cost = advanced * sc.scan_slot_cycles;
                match end {
                    ScanEnd::Mapped { slot } => {
                        let free = self.pk.free_count;
                        trace!(self, t, c, E::FreeSlots { free });
                        cpu.slot = slot;
                        cpu.holds = true;
                        let page = cpu.page;
                        trace!(
                            self,
                            t,
                            c,
                            E::Mapped {
                                slot,
                                page,
                                shared: false
                            }
                        );
                        self.counters.new_mappings += 1;
                        go(C::KmapLocked, cost + sc.kmap_new_cycles, Phase::MapSet)
                    }
                    ScanEnd::Wrapped => go(C::KmapLocked, cost, Phase::FlushBegin),
                    ScanEnd::Exhausted => go(C::KmapLocked, cost, Phase::SleepBegin),
                }
            }
            Phase::FlushBegin => {
                cpu.flush_start = t;
                let cleared = match sc.slot_alloc {
                    SlotAlloc::Scan => self.pk.clear_unused(t, c as u32),
                    SlotAlloc::Freelist => self.pk.clear_dirty(t, c as u32),
                };
                let cleared = match cleared {
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
                // The scan walks the whole pool; the freelist only its dirty list.
                let walked = match sc.slot_alloc {
                    SlotAlloc::Scan => sc.last_pkmap,
                    SlotAlloc::Freelist => cleared,
                };
                go(
                    C::FlushScan,
                    walked * sc.flush_slot_cycles,
                    Phase::FlushScanDone,
                )
            }
            Phase::FlushScanDone => {
                cpu.shootdown_start = t;
                if cpu.flush_cleared == 0 && sc.empty_flush == EmptyFlush::Skip {
                    self.counters.flushes_skipped += 1;
                    self.hist.flush_duration.record(t - cpu.flush_start);
                    return Ok(self.resume_after_flush(c));
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
            Phase::CallLockGranted => {
                let busy = self.send_flush_ipis(c, t, sc.strategy == Strategy::Targeted);
                go(C::IpiSend, busy, Phase::IpiSent)
            }
            Phase::IpiSent => {
                if self.call.finished == self.call.targets {
                    go(C::IpiWait, 0, Phase::AcksDone)
                } else {
                    let wait = Wait::Acks(self.call.id);
                    Next::Block {
                        cat: C::IpiWait,
                        wait,
                        phase: Phase::AcksDone,
                    }
                }
            }
            Phase::AcksDone => {
                self.release_lock(CALL_LOCK, c, t);
                go(
                    C::LocalFlush,
                    self.sc.tlb_flush_cycles,
                    Phase::LocalFlushDone,
                )
            }
            Phase::AsyncSent => go(C::LocalFlush, sc.tlb_flush_cycles, Phase::LocalFlushDone),
            Phase::LocalFlushDone => {
                cpu.tlb.flush();
                trace!(
                    self,
                    t,
                    c,
                    E::TlbFlush {
                        why: FlushWhy::Local
                    }
                );
                let cpu = &mut self.cpus[c];
                cpu.may_hold = false;
                cpu.generation = self.flush_gen;
                self.counters.tlb_flushes += 1;
                self.hist.flush_duration.record(t - cpu.flush_start);
                self.hist.shootdown.record(t - cpu.shootdown_start);
                self.resume_after_flush(c)
            }
            Phase::MapSet => {
                if cpu.misuse {
                    cpu.irqs_on = true;
                }
                self.release_lock(KMAP_LOCK, c, t);
                self.mapped(c, t)
            }
            Phase::LocalMapped => self.mapped(c, t),
            Phase::CopyLookup => {
                let extra = self.tlb_lookup(c, t)?;
                let cat = if extra > 0 { C::TlbMiss } else { C::Copy };
                go(cat, extra, Phase::CopyRun)
            }
            Phase::CopyRun => {
                // Lookup i happens at offset floor(i * copy / lookups) into the copy.
                let (i, n) = (cpu.lookup as u64, sc.copy_lookups);
                let seg = (i + 1) * sc.copy_cycles / n - i * sc.copy_cycles / n;
                go(C::Copy, seg, Phase::CopyStepDone)
            }
            Phase::CopyStepDone => {
                cpu.lookup += 1;
                if cpu.lookup as u64 == sc.copy_lookups {
                    go(C::Copy, 0, Phase::KunmapBegin)
                } else {
                    go(C::Copy, 0, Phase::CopyLookup)
                }
            }
            Phase::KunmapBegin => {
                if sc.strategy == Strategy::Local {
                    // kunmap_local(): the slot is released (the model keeps its PTE, which only
                    // this CPU can reach); the next map's invlpg drops the stale entry.
                    go(C::KmapLocal, sc.kmap_local_cycles, Phase::LocalUnmapped)
                } else {
                    self.request_lock(c, KMAP_LOCK, t);
                    let wait = Wait::Lock(KMAP_LOCK);
                    Next::Block {
                        cat: C::KmapSpin,
                        wait,
                        phase: Phase::KunmapGranted,
                    }
                }
            }
            Phase::KunmapGranted => {
                self.hist.kmap_lock_wait.record(cpu.kmap_wait(t));
                cpu.hold_start = t;
                let page = cpu.page;
                let slot = self.pk.virt[page as usize];
                if slot == NONE {
                    return Err(self.bug(c, t, format!("kunmap_high: page {page} not mapped")));
                }
                let n = &mut self.pk.count[slot as usize];
                *n -= 1;
                let count = *n;
                self.cpus[c].holds = false;
                trace!(self, t, c, E::Unmapped { slot, page, count });
                let cpu = &mut self.cpus[c];
                match count {
                    0 => return Err(self.bug(c, t, format!("kunmap_high: slot {slot} count 0"))),
                    1 => {
                        cpu.need_wakeup = !self.pk.waitq.is_empty();
                        if sc.slot_alloc == SlotAlloc::Freelist {
                            self.pk.push_dirty(slot);
                        }
                    }
                    _ => cpu.need_wakeup = false,
                }
                go(C::KmapLocked, sc.kunmap_cycles, Phase::KunmapDone)
            }
            Phase::KunmapDone => {
                let wake = cpu.need_wakeup;
                self.release_lock(KMAP_LOCK, c, t);
                if wake {
                    // wake_up() outside the lock wakes every sleeper.
                    for i in 0..self.pk.waitq.len() {
                        let s = self.pk.waitq[i] as usize;
                        self.counters.wakeups += 1;
                        self.wake(s, t, 1);
                    }
                    self.pk.waitq.clear();
                }
                self.unmapped(c, t)?
            }
            Phase::LocalUnmapped => {
                cpu.holds = false;
                let (slot, page) = (cpu.slot, cpu.page);
                trace!(
                    self,
                    t,
                    c,
                    E::Unmapped {
                        slot,
                        page,
                        count: 0
                    }
                );
                self.unmapped(c, t)?
            }
            Phase::SleepBegin => {
                // Interrupts are on while the CPU idles, even after a (misused) interrupts-off kmap.
                cpu.irqs_on = true;
                self.counters.sleeps += 1;
                trace!(self, t, c, E::Sleep);
                self.pk.waitq.push(c as u32);
                self.release_lock(KMAP_LOCK, c, t);
                Next::Block {
                    cat: C::Sleep,
                    wait: Wait::Sleep,
                    phase: Phase::Woken,
                }
            }
            Phase::Woken => {
                // schedule() back in: a context switch, with the generation check.
                trace!(self, t, c, E::Wake);
                let f = self.catch_up_at_switch(c, t);
                go(
                    C::ContextSwitch,
                    self.sc.ctx_switch_cycles + f,
                    Phase::KmapRetry,
                )
            }
            Phase::HandlerEnd => unreachable!("handler ends are dispatched by act()"),
        })
    }

    /// The kmap returned: count it, start the copy.
    fn mapped(&mut self, c: usize, t: u64) -> Next {
        self.cpus[c].lookup = 0;
        self.cpus[c].kmapped = true;
        self.counters.kmaps += 1;
        self.last_progress = t;
        go(C::Copy, 0, Phase::CopyLookup)
    }

    /// The kunmap returned: count it, maybe switch context, back to work.
    fn unmapped(&mut self, c: usize, t: u64) -> Result<Next, SimError> {
        self.counters.kunmaps += 1;
        self.cpus[c].kmapped = false;
        self.last_progress = t;
        let cpu = &mut self.cpus[c];
        if self.replay.is_none() {
            cpu.op.switch = cpu.rng.chance(self.sc.ctx_switch_prob);
        }
        cpu.op_open = false;
        let switch = cpu.op.switch;
        self.record_op(c)?;
        Ok(if switch {
            self.counters.context_switches += 1;
            let f = self.catch_up_at_switch(c, t);
            go(
                C::ContextSwitch,
                self.sc.ctx_switch_cycles + f,
                Phase::WorkBegin,
            )
        } else {
            go(C::Work, 0, Phase::WorkBegin)
        })
    }

    /// After a flush (or a skipped one), map_new_virtual() examines the current slot again.
    fn resume_after_flush(&mut self, c: usize) -> Next {
        let cpu = &mut self.cpus[c];
        cpu.scan_left = self.sc.last_pkmap as u32;
        cpu.scan_check_current = true;
        go(C::KmapLocked, 0, Phase::ScanResume)
    }

    /// Flush the local TLB now to catch up with the flush generation; returns its cost.
    fn catch_up(&mut self, c: usize, t: u64) -> u64 {
        trace!(
            self,
            t,
            c,
            E::TlbFlush {
                why: FlushWhy::Generation
            }
        );
        let cpu = &mut self.cpus[c];
        cpu.tlb.flush();
        cpu.may_hold = false;
        cpu.generation = self.flush_gen;
        self.counters.gen_flushes += 1;
        self.counters.tlb_flushes += 1;
        self.sc.tlb_flush_cycles
    }

    /// The generation check in schedule() (`guarded`, `lazy`): extra cycles of the switch.
    fn catch_up_at_switch(&mut self, c: usize, t: u64) -> u64 {
        if self.sc.strategy.uses_generations() && self.cpus[c].generation < self.flush_gen {
            self.catch_up(c, t)
        } else {
            0
        }
    }

    /// `spin_lock(&kmap_lock)` at the top of `kmap_high()` (again after a sleep).
    fn kmap_lock_request(&mut self, c: usize, t: u64) -> Next {
        if self.cpus[c].misuse {
            self.cpus[c].irqs_on = false;
        }
        self.request_lock(c, KMAP_LOCK, t);
        Next::Block {
            cat: C::KmapSpin,
            wait: Wait::Lock(KMAP_LOCK),
            phase: Phase::KmapGranted,
        }
    }

    pub(crate) fn request_lock(&mut self, c: usize, l: LockId, t: u64) {
        let cpu = &mut self.cpus[c];
        cpu.lock_req_at = t;
        cpu.wait = Wait::Lock(l);
        self.locks[l as usize].waiters.push(c as u32);
        if l == KMAP_LOCK {
            let waiters = self.locks[l as usize].waiters.len() as u32;
            trace!(self, t, c, E::LockQueue { waiters });
        }
        if self.locks[l as usize].holder.is_none() {
            self.mark_dirty(l);
        }
    }

    pub(crate) fn release_lock(&mut self, l: LockId, c: usize, t: u64) {
        trace!(self, t, c, E::LockReleased { lock: l });
        let lock = &mut self.locks[l as usize];
        debug_assert_eq!(lock.holder, Some(c as u32));
        lock.holder = None;
        let waiters = !lock.waiters.is_empty();
        if l == KMAP_LOCK {
            // From the holder's first cycle under the lock (not the grant) to this release.
            self.hist.kmap_lock_hold.record(t - self.cpus[c].hold_start);
        }
        if waiters {
            self.mark_dirty(l);
        }
    }

    /// Phase 3: give free lock `l` to one of its spinners.
    pub(crate) fn grant(&mut self, l: LockId, t: u64) {
        let cpus = &self.cpus;
        let Some(g) = self.locks[l as usize].arbitrate(
            self.sc.lock_arbitration,
            |w| !cpus[w as usize].in_handler(),
            |w| cpus[w as usize].lock_req_at == t,
        ) else {
            return;
        };
        self.events += 1;
        let c = g.cpu as usize;
        if l == KMAP_LOCK {
            let waiters = self.locks[l as usize].waiters.len() as u32;
            trace!(self, t, c, E::LockQueue { waiters });
        }
        let cost = if g.contended {
            self.sc.lock_handoff_cycles
        } else {
            self.sc.lock_acquire_cycles
        };
        trace!(self, t, c, E::LockAcquired { lock: l });
        if l == KMAP_LOCK {
            self.counters.kmap_lock_acquires += 1;
            self.counters.kmap_lock_contended += g.contended as u64;
            self.cpus[c].kmap_contended = g.contended;
        }
        // The acquire/hand-off cost is not hold time (it is booked as `kmap_spin`): the holder's
        // `kmap_lock_wait` ends and its `kmap_lock_hold` begins only when it runs under the lock
        // (`KmapGranted`/`KunmapGranted`), where lockmeter's spin_lock() would return.
        self.wake(c, t, cost);
    }

    /// End CPU `c`'s wait: its program goes on `delay` cycles from `t` (after the IPI handler
    /// it may be in).
    pub(crate) fn wake(&mut self, c: usize, t: u64, delay: u64) {
        let cpu = &mut self.cpus[c];
        cpu.wait = Wait::None;
        match cpu.saved.as_mut() {
            Some(s) => s.remaining = delay,
            None => self.set_until(c, t + delay),
        }
    }

    /// Unrelated memory traffic during the work just done pushes pkmap entries out of the TLB.
    fn evict_unrelated(&mut self, c: usize, t: u64) {
        let cpu = &mut self.cpus[c];
        let acc = cpu.evict_carry as u128 + cpu.op.work as u128 * self.evict_per_cycle as u128;
        cpu.evict_carry = (acc & 0xFFFF_FFFF) as u64;
        let n = (acc >> 32).min(u64::MAX as u128) as u64;
        if n > 0 {
            let entries = cpu.tlb.evict_lru(n);
            self.counters.tlb_evictions += entries;
            if entries > 0 {
                trace!(self, t, c, E::TlbEvict { entries });
            }
        }
    }

    /// One TLB lookup of the CPU's mapped address, with the safety check. Returns the page-walk
    /// cycles of a miss.
    fn tlb_lookup(&mut self, c: usize, t: u64) -> Result<u64, SimError> {
        let cpu = &mut self.cpus[c];
        let (slot, page) = (cpu.slot, cpu.page);
        // The kmap_local slot is numbered just past the pkmap pool, in each CPU's own space.
        let local = slot as u64 >= self.sc.last_pkmap;
        let (actual, loaded_at, extra) = match cpu.tlb.lookup(slot) {
            Some(e) => {
                self.counters.tlb_hits += 1;
                (e.page, e.loaded_at, 0)
            }
            None => {
                self.counters.tlb_misses += 1;
                let p = if local {
                    cpu.local_page
                } else {
                    self.pk.pte[slot as usize]
                };
                if p == NONE {
                    return Err(self.bug(c, t, format!("page fault on pkmap slot {slot}")));
                }
                let cpu = &mut self.cpus[c];
                cpu.tlb.insert(slot, p, t);
                cpu.may_hold |= !local;
                trace!(self, t, c, E::TlbFill { slot, page: p });
                (p, t, self.sc.tlb_miss_cycles)
            }
        };
        if actual != page {
            self.counters.stale_accesses += 1;
            trace!(
                self,
                t,
                c,
                E::StaleRead {
                    slot,
                    expected: page,
                    actual
                }
            );
            if self.violations.len() < self.sc.max_violation_records as usize {
                let (at, by) = if local {
                    (self.cpus[c].local_mapped_at, c as u32)
                } else {
                    (
                        self.pk.pte_changed_at[slot as usize],
                        self.pk.pte_changed_by[slot as usize],
                    )
                };
                self.violations.push(StaleAccess {
                    cycle: t,
                    cpu: c as u32,
                    slot,
                    expected_page: page,
                    actual_page: actual,
                    entry_loaded_at: loaded_at,
                    slot_remapped_at: at,
                    remapped_by: (by != NONE).then_some(by),
                });
            }
        }
        Ok(extra)
    }
}
