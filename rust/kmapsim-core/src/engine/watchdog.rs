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

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A task asleep on `pkmap_map_wait` and the `(slot, page)` mappings it holds.
type Sleeper = (u32, Vec<(u32, u32)>);

/// Which of the two conditions stopped the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stuck {
    Frozen,
    Stalled,
}

impl Engine {
    /// Build the error raised when the machine is stuck at cycle `t`.
    pub(super) fn deadlock(&self, t: u64, why: Stuck) -> SimError {
        let sleepers = self.pool_sleepers();
        // Every slot in use, tasks asleep for one, and nobody left to run: the holders sleep
        // too, or have exited holding their mappings (a replayed list that never kunmaps).
        let pool_exhausted = why == Stuck::Frozen
            && !self.pk.waitq.is_empty()
            && self.pk.count.iter().all(|&n| n >= 2)
            && self.cpus.iter().all(|cpu| cpu.idle());
        // In a pool exhaustion every CPU idles: the sleeping tasks tell the story. When they
        // hold the whole pool, the wait-for cycle is among them (each waits for a slot only
        // another's kunmap frees); when tasks that no longer run hold some, there is none.
        let slots = sleepers_slots(&sleepers);
        let whole = slots.len() as u64 == self.sc.last_pkmap;
        let (edges, chain) = if pool_exhausted {
            let chain = match whole {
                true => sleepers.iter().map(|(task, _)| *task).collect(),
                false => Vec::new(),
            };
            (Vec::new(), chain)
        } else {
            let (edges, on) = self.cpu_edges();
            (edges, find_cycle(&on))
        };
        SimError::Deadlock(Box::new(DeadlockReport {
            cycle: t,
            reason: self.stuck_reason(why, pool_exhausted, &slots, whole),
            chain,
            edges,
            sleepers,
            pool_exhausted,
        }))
    }

    /// Who holds the slots of an exhausted pool: the sleepers (`asleep`, the slots they hold;
    /// `whole`: all of them), then, from the tasks' own mappings, tasks not asleep on it and
    /// tasks whose call list ended. A shared slot is counted once, with the first that holds it.
    fn held_by(&self, asleep: &[u32], whole: bool) -> String {
        if whole {
            return "the sleepers hold all of them".to_string();
        }
        let mut counted: Vec<u32> = asleep.to_vec();
        let mut tally = |done: bool| {
            let mut n = 0;
            for (id, sched) in self.sched.iter().enumerate() {
                let exited = sched.state == crate::task::TaskState::Exited;
                if sched.state == crate::task::TaskState::PoolSleep || exited != done {
                    continue;
                }
                for h in self.task_ctx(id).handles.iter().filter(|h| h.held()) {
                    if !counted.contains(&h.slot) {
                        counted.push(h.slot);
                        n += 1;
                    }
                }
            }
            n
        };
        let (others, ended) = (tally(false), tally(true));
        let mut parts = vec![format!("the sleepers hold {} of them", asleep.len())];
        if others > 0 {
            parts.push(format!("tasks not asleep on it hold {others}"));
        }
        if ended > 0 {
            parts.push(format!("tasks that exited hold {ended}"));
        }
        parts.join("; ")
    }

    /// Why the machine counts as stuck, in words.
    /// `slots`: those the sleepers hold; `whole`: all of the pool's.
    fn stuck_reason(&self, why: Stuck, pool_exhausted: bool, slots: &[u32], whole: bool) -> String {
        // The two-kmap deadlock proper: the sleepers hold every slot between them.
        let two_kmap = match whole {
            true => " (the two-kmap deadlock)",
            false => "",
        };
        match why {
            Stuck::Frozen if pool_exhausted => format!(
                "the pkmap pool is exhausted for good: every one of its {} slots is in use, \
                 {} asleep on pkmap_map_wait ({}), and no task that could kunmap one can \
                 run{two_kmap}",
                self.sc.last_pkmap,
                plural(self.pk.waitq.len(), "task", "tasks"),
                self.held_by(slots, whole),
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
        }
    }

    /// What every blocked CPU (not in a handler) holds and waits for, and on which CPU.
    fn cpu_edges(&self) -> (Vec<WaitEdge>, Vec<Option<u32>>) {
        let n = self.cpus.len();
        let mut edges = Vec::new();
        let mut on: Vec<Option<u32>> = vec![None; n];
        for (c, cpu) in self.cpus.iter().enumerate() {
            if cpu.until != NEVER || cpu.in_handler() {
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
                    let (text, blocker) = self.missing_acks(call);
                    what += &text;
                    on[c] = blocker;
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
        (edges, on)
    }

    /// A flusher waiting for the acks of IPI call `call`: whose acks are missing, and the CPU
    /// to blame (the first that cannot take the IPI, else the first missing one).
    fn missing_acks(&self, call: u64) -> (String, Option<u32>) {
        let missing: Vec<usize> = (0..self.cpus.len())
            .filter(|&d| self.cpus[d].targeted_by_call == call && self.cpus[d].acked_call < call)
            .collect();
        let blocker = missing
            .iter()
            .copied()
            .find(|&d| !self.cpus[d].irqs_on)
            .or(missing.first().copied());
        let names: Vec<String> = missing.iter().map(|d| format!("cpu{d}")).collect();
        // Under `defer` the only IPIs are the shootdown before a cleared slot is reused.
        let place = if self.sc.strategy == crate::config::Strategy::Defer {
            "before reusing a cleared slot (defer)"
        } else {
            "in flush_tlb_all()"
        };
        let mut what = format!("waits {place} for the IPI acks of {}", names.join(", "));
        if let Some(b) = blocker {
            if !self.cpus[b].irqs_on {
                what += &format!(" (cpu{b} has interrupts disabled)");
            }
        }
        (what, blocker.map(|b| b as u32))
    }

    /// The tasks asleep on `pkmap_map_wait` that hold mappings, with what they hold.
    fn pool_sleepers(&self) -> Vec<Sleeper> {
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

/// The slots the sleepers hold, each once: slots, not mappings (two tasks may share a slot,
/// the same page, and a task may hold the same page twice).
fn sleepers_slots(sleepers: &[Sleeper]) -> Vec<u32> {
    let mut slots: Vec<u32> = sleepers
        .iter()
        .flat_map(|(_, h)| h.iter().map(|m| m.0))
        .collect();
    slots.sort_unstable();
    slots.dedup();
    slots
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
