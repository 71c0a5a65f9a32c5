//! Invariants every run must satisfy, checked by the tests, the fuzzer and the corpus replay.

use crate::config::{Scenario, Strategy};
use crate::engine::{Engine, Mode};
use crate::error::SimError;

/// What a checked run did, for the fuzzer's notion of new behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Features {
    pub strategy: u8,
    pub freelist: bool,
    pub flushed: bool,
    pub slept: bool,
    pub stale: bool,
    pub deadlock: bool,
    pub handler_while_spinning: bool,
}

/// Run `sc` for `cycles` in both modes and check every invariant; `Err` describes a violation.
pub fn check(sc: &Scenario, cycles: u64, seed: u64) -> Result<Features, String> {
    let mut outs = Vec::new();
    for mode in [Mode::Step, Mode::Skip] {
        let mut e = Engine::new(sc, seed, mode).map_err(|e| format!("invalid scenario: {e}"))?;
        let res = e.advance_to(cycles, &mut || None);
        outs.push((res, e.report(), e.snapshot(), e));
    }
    let (skip, step) = (&outs[1], &outs[0]);
    if skip.0 != step.0 || skip.1 != step.1 || skip.2 != step.2 {
        return Err("step and skip differ".into());
    }
    let (res, r, snap, engine) = skip;
    let deadlock = match res {
        Ok(()) => false,
        Err(SimError::Deadlock(_)) => {
            let waits = matches!(sc.strategy, Strategy::Sync | Strategy::Targeted);
            if !(waits && sc.kmap_irqs_off_prob > 0.0) {
                return Err(format!(
                    "deadlock without the misuse switch under {:?}",
                    sc.strategy
                ));
            }
            true
        }
        Err(e) => return Err(format!("unexpected error: {e}")),
    };
    for (c, row) in r.breakdown.iter().enumerate() {
        if row.iter().sum::<u64>() != r.cycles {
            return Err(format!(
                "cpu {c}: categories sum to {} of {}",
                row.iter().sum::<u64>(),
                r.cycles
            ));
        }
    }
    let k = &r.counters;
    if k.ipis_sent != k.ipis_handled + k.ipis_pending {
        return Err("ipis_sent != handled + pending".into());
    }
    // kmaps - kunmaps counts the CPUs between a returned kmap and a completed kunmap.
    let open = k.kmaps - k.kunmaps;
    let kmapped = engine.cpus().iter().filter(|c| c.kmapped).count() as u64;
    if open != kmapped {
        return Err(format!(
            "kmaps - kunmaps = {open} but {kmapped} CPUs are between the two"
        ));
    }
    // Every reference beyond a slot's own (count - 1 for count >= 2) is a CPU holding it.
    let refs: u64 = engine
        .pkmap()
        .count
        .iter()
        .map(|&n| u64::from(n.saturating_sub(1)))
        .sum();
    let holders = engine
        .cpus()
        .iter()
        .filter(|c| c.holds && u64::from(c.slot) < sc.last_pkmap)
        .count() as u64;
    if refs != holders {
        return Err(format!(
            "slot counts hold {refs} references but {holders} CPUs hold a slot"
        ));
    }
    if engine.pkmap().free_count != snap.slots_free {
        return Err("the free-slot counter disagrees with the slot counts".into());
    }
    if snap.slots_free + snap.slots_unused + snap.slots_in_use != sc.last_pkmap as u32 {
        return Err("slot counts do not add up".into());
    }
    if k.stale_accesses > 0 && sc.strategy != Strategy::Async {
        return Err(format!(
            "{} stale accesses under {:?}",
            k.stale_accesses, sc.strategy
        ));
    }
    if r.violations.len() as u64 > sc.max_violation_records {
        return Err("more violation records than the cap".into());
    }
    Ok(Features {
        strategy: sc.strategy as u8,
        freelist: sc.slot_alloc == crate::config::SlotAlloc::Freelist,
        flushed: k.flushes > 0,
        slept: k.sleeps > 0,
        stale: k.stale_accesses > 0,
        deadlock,
        handler_while_spinning: r.histograms.ipi_pending.count > 0 && k.kmap_lock_contended > 0,
    })
}
