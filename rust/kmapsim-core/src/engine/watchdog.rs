//! Deadlock detection and its report (docs/model.md, section 8): who holds what, who waits for
//! whom, the wait-for cycle.
//!
//! Two conditions stop a run with `SimError::Deadlock`, identically in both time-advance modes:
//! - *frozen*: after some cycle no CPU has anything scheduled (every one spins, sleeps or waits
//!   for acks, or has finished its replayed list) and no IPI is in flight, so nothing can ever
//!   happen again. This is exact and immediate, whatever `watchdog_cycles` is.
//! - *stalled*: no CPU completed a kmap or kunmap for `watchdog_cycles` although the machine
//!   still moves (a livelock). A single stretch at least `watchdog_cycles` long (a long work,
//!   interrupts-off hold or handler) is legitimate: the watchdog waits until `watchdog_cycles`
//!   after it ends.

use super::Engine;
use crate::cpu::{NEVER, Wait};
use crate::error::{DeadlockReport, SimError, WaitEdge};
use crate::lock::lock_name;

/// Which of the two conditions stopped the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stuck {
    Frozen,
    Stalled,
}

impl Engine {
    /// Build the error raised when the machine is stuck at cycle `t`.
    pub(super) fn deadlock(&self, t: u64, why: Stuck) -> SimError {
        let n = self.cpus.len();
        let sleepers = self.pool_sleepers();
        let pool_exhausted = why == Stuck::Frozen
            && !sleepers.is_empty()
            && self.pk.count.iter().all(|&n| n >= 2)
            && self.cpus.iter().all(|cpu| cpu.idle());
        let mut edges = Vec::new();
        let mut on: Vec<Option<u32>> = vec![None; n];
        for (c, cpu) in self.cpus.iter().enumerate() {
            // In a pool exhaustion every CPU idles: the sleeping tasks tell the story.
            if cpu.until != NEVER || cpu.in_handler() || pool_exhausted {
                continue;
            }
            let held: Vec<String> = (0..self.locks.len())
                .filter(|&l| self.locks[l].holder == Some(c as u32))
                .map(|l| lock_name(l as u32))
                .collect();
            let mut what = if held.is_empty() {
                String::new()
            } else {
                format!("holds {}; ", held.join(", "))
            };
            let irqs = if cpu.irqs_on { "enabled" } else { "disabled" };
            match cpu.wait {
                Wait::Lock(l) => {
                    let h = self.locks[l as usize].holder;
                    what += &format!("spins on {} with interrupts {irqs}", lock_name(l));
                    if let Some(h) = h {
                        what += &format!(", held by cpu{h}");
                    }
                    on[c] = h;
                }
                Wait::Acks(call) => {
                    let missing: Vec<usize> = (0..n)
                        .filter(|&d| {
                            self.cpus[d].targeted_by_call == call && self.cpus[d].acked_call < call
                        })
                        .collect();
                    // The CPU that cannot take the IPI is the one to blame.
                    let blocker = missing
                        .iter()
                        .copied()
                        .find(|&d| !self.cpus[d].irqs_on)
                        .or(missing.first().copied());
                    let names: Vec<String> = missing.iter().map(|d| format!("cpu{d}")).collect();
                    what += &format!(
                        "waits in flush_tlb_all() for the IPI acks of {}",
                        names.join(", ")
                    );
                    if let Some(b) = blocker {
                        if !self.cpus[b].irqs_on {
                            what += &format!(" (cpu{b} has interrupts disabled)");
                        }
                    }
                    on[c] = blocker.map(|b| b as u32);
                }
                Wait::Sleep => what += "sleeps on pkmap_map_wait",
                Wait::Done | Wait::Idle => continue,
                Wait::None => what += "waits",
            }
            if !cpu.pending.is_empty() {
                what += &format!(" [{} IPI pending]", cpu.pending.len());
            }
            edges.push(WaitEdge {
                cpu: c as u32,
                what,
                on: on[c],
            });
        }
        let held: usize = sleepers.iter().map(|(_, h)| h.len()).sum();
        let reason = match why {
            Stuck::Frozen if pool_exhausted => format!(
                "the pkmap pool is exhausted for good: every one of its {} slots is in use, \
                 {} tasks sleep on pkmap_map_wait holding {held} of them, and no task that \
                 could kunmap one can run (the two-kmap deadlock)",
                self.sc.last_pkmap,
                sleepers.len()
            ),
            Stuck::Frozen => "no CPU can ever run again: every CPU that has work left waits \
                              (spins, sleeps or waits for IPI acks) and no IPI is in flight"
                .to_string(),
            Stuck::Stalled => format!(
                "no CPU completed a kmap or kunmap for {} cycles (watchdog_cycles) although \
                 CPUs still run: a livelock, or stretches each shorter than watchdog_cycles \
                 that add up to more (then raise watchdog_cycles)",
                self.sc.watchdog_cycles
            ),
        };
        SimError::Deadlock(Box::new(DeadlockReport {
            cycle: t,
            reason,
            // A pool exhaustion is a cycle among the sleeping tasks: each waits for a slot that
            // only another sleeper's kunmap could free.
            chain: if pool_exhausted {
                sleepers.iter().map(|(task, _)| *task).collect()
            } else {
                find_cycle(&on)
            },
            edges,
            sleepers,
            pool_exhausted,
        }))
    }

    /// The tasks asleep on `pkmap_map_wait` that hold mappings, with what they hold.
    fn pool_sleepers(&self) -> Vec<(u32, Vec<(u32, u32)>)> {
        self.pk
            .waitq
            .iter()
            .map(|&id| {
                let held = self.task_ctx(id as usize).held().map(|(_, p, s)| (s, p));
                (id, held.collect::<Vec<_>>())
            })
            .filter(|(_, held)| !held.is_empty())
            .collect()
    }
}

/// The first cycle of the functional graph `on` (each node points to at most one other),
/// starting at its lowest CPU.
fn find_cycle(on: &[Option<u32>]) -> Vec<u32> {
    for start in 0..on.len() {
        let mut path = vec![start as u32];
        let mut cur = start;
        while let Some(next) = on[cur] {
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let mut cyc = path[pos..].to_vec();
                let min = cyc
                    .iter()
                    .enumerate()
                    .min_by_key(|&(_, v)| *v)
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                cyc.rotate_left(min);
                return cyc;
            }
            if path.len() > on.len() {
                break;
            }
            path.push(next);
            cur = next as usize;
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::find_cycle;

    #[test]
    fn finds_the_cycle_from_its_lowest_cpu() {
        assert_eq!(
            find_cycle(&[None, Some(2), Some(3), Some(1)]),
            vec![1, 2, 3]
        );
        assert_eq!(find_cycle(&[Some(1), None]), Vec::<u32>::new());
    }
}
