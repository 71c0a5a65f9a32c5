//! A readable picture of the machine at the current cycle, for the step-wise API
//! (docs/model.md, section 15, "Snapshots").

use super::Engine;
use crate::cpu::{NEVER, Wait};
use crate::lock::lock_name;
use crate::report::{CpuSnapshot, LockSnapshot, Snapshot};
use crate::stats::Category;

impl Engine {
    pub fn snapshot(&self) -> Snapshot {
        let cpus = self
            .cpus
            .iter()
            .enumerate()
            .map(|(c, cpu)| CpuSnapshot {
                cpu: c as u32,
                phase: format!(
                    "{:?}",
                    cpu.saved.map_or(self.unfolded_phase(c), |s| s.phase)
                ),
                category: Category::NAMES[self.category_now(c) as usize],
                irqs_on: cpu.irqs_on,
                in_handler: cpu.in_handler(),
                waiting_for: match cpu.wait {
                    Wait::None => None,
                    Wait::Lock(l) => Some(lock_name(l)),
                    Wait::Acks(call) => Some(format!("IPI acks (call {call})")),
                    Wait::Sleep => Some("pkmap_map_wait".into()),
                    Wait::Done => Some("nothing (its task's replayed list ended)".into()),
                    Wait::Idle => Some("a runnable task (idle)".into()),
                },
                next_action: (cpu.until != NEVER).then(|| self.unfolded_until(c)),
                pending_ipis: cpu.pending.len() as u32,
                inflight_ipis: cpu.inflight.len() as u32,
                holds: cpu.t.held().next().map(|(_, page, slot)| (slot, page)),
                tlb_entries: cpu.tlb.len() as u32,
            })
            .collect();
        let locks = self
            .locks
            .iter()
            .enumerate()
            .map(|(l, lock)| LockSnapshot {
                name: lock_name(l as u32),
                holder: lock.holder,
                waiters: lock.waiters.clone(),
            })
            .collect();
        let count = |f: fn(u32) -> bool| self.pk.count.iter().filter(|&&n| f(n)).count() as u32;
        let counters = self.counters_now();
        Snapshot {
            cycle: self.now,
            cpus,
            locks,
            slots_free: count(|n| n == 0),
            slots_unused: count(|n| n == 1),
            slots_in_use: count(|n| n >= 2),
            cursor: self.pk.cursor,
            half: self.pk.split().then_some(self.pk.active_half() as u32),
            half_in_flight: self.pk.dirty_half().map(|h| h as u32),
            flush_generation: self.flush_gen,
            sleeping: self.pk.waitq.clone(),
            counters,
        }
    }
}
