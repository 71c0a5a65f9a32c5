//! Invariants every run must satisfy, checked by the tests, the fuzzer and the corpus replay.

use crate::config::{ProgramSpec, Scenario, Strategy, Value};
use crate::cpu::Phase;
use crate::engine::{Engine, Mode};
use crate::error::SimError;
use crate::workload::Instr;

/// What a checked run did, for the fuzzer's notion of new behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Features {
    pub strategy: u8,
    pub workload: u8,
    pub migrated: bool,
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
    let differ = [
        (skip.0 != step.0, "outcome"),
        (skip.1 != step.1, "report"),
        (skip.2 != step.2, "snapshot"),
    ];
    if let Some((_, what)) = differ.iter().find(|d| d.0) {
        return Err(format!("step and skip differ in their {what}"));
    }
    let (res, r, snap, engine) = skip;
    let deadlock = match res {
        Ok(()) => false,
        Err(SimError::Deadlock(rep)) => {
            let waits = sc.strategy.waits_for_acks();
            if !(rep.pool_exhausted || waits && misused(sc)) {
                return Err(format!(
                    "deadlock without the misuse switch or a pool exhaustion under {:?}",
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
    check_lock_stats(r, sc.cpus)?;
    if k.ipis_sent != k.ipis_handled + k.ipis_pending {
        return Err("ipis_sent != handled + pending".into());
    }
    check_mappings(sc, engine, k)?;
    check_tasks(r.cycles, engine)?;
    check_split_pool(sc, engine)?;
    if engine.pkmap().free_count != snap.slots_free {
        return Err("the free-slot counter disagrees with the slot counts".into());
    }
    if engine.pkmap().unused_count != snap.slots_unused {
        return Err("the unused-slot counter disagrees with the slot counts".into());
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
        workload: sc.workload as u8,
        migrated: k.migrations > 0,
        freelist: sc.slot_alloc == crate::config::SlotAlloc::Freelist,
        flushed: k.flushes > 0,
        slept: k.sleeps > 0,
        stale: k.stale_accesses > 0,
        deadlock,
        handler_while_spinning: r.histograms.ipi_pending.count > 0 && k.kmap_lock_contended > 0,
    })
}

/// lockmeter's sums agree with the counters, and no lock is held or spun on
/// for more cycles than the run has: a lock has one holder at a time, each CPU spins on one lock.
fn check_lock_stats(r: &crate::report::RunReport, cpus: u64) -> Result<(), String> {
    let kmap = &r.lock_stats[crate::lock::KMAP_LOCK as usize];
    // Its sums come from its histograms; the grants counted apart must agree with them.
    let acquires = r.counters.kmap_lock_acquires;
    if kmap.contended > r.counters.kmap_lock_contended {
        return Err("more contended kmap_lock acquisitions than contended grants".into());
    }
    if kmap.acquisitions > acquires || acquires > kmap.acquisitions + cpus {
        return Err("kmap_lock acquisitions disagree with kmap_lock_acquires".into());
    }
    let mut spin = 0u128;
    for (l, s) in r.lock_stats.iter().enumerate() {
        if s.hold_sum + s.open_hold > r.cycles
            || s.releases > s.acquisitions
            || s.contended > s.acquisitions
            || s.open_wait_max > r.cycles
        {
            return Err(format!("lock {l}: impossible lock_stats {s:?}"));
        }
        spin += s.wait_sum + s.open_wait;
    }
    if spin > r.cycles as u128 * cpus as u128 {
        return Err("more cycles spinning than all CPUs have".into());
    }
    Ok(())
}

/// Whether the workload may kmap or kunmap with interrupts disabled (the misuse switches).
fn misused(sc: &Scenario) -> bool {
    let steps = crate::workload::compile(sc).unwrap_or_default();
    steps.iter().any(|s| match s.instr {
        Instr::Kmap { irqs_off, .. } | Instr::Kunmap { irqs_off, .. } => {
            irqs_off.get().is_some_and(|p| p > 0.0)
        }
        Instr::Irqs { on } => !on,
        _ => false,
    })
}

/// The phase a CPU runs next (the interrupted one while it runs an IPI handler).
fn next_phase(cpu: &crate::cpu::Cpu) -> Phase {
    cpu.saved.map_or(cpu.phase, |s| s.phase)
}

/// Every held mapping is accounted for: the slot counts hold one reference per pkmap mapping
/// held by a task, and kmaps - kunmaps counts the mappings between a kmap's return and its
/// kunmap's (a mapping is held from the moment its slot is taken until its count drops).
fn check_mappings(
    sc: &Scenario,
    engine: &Engine,
    k: &crate::stats::Counters,
) -> Result<(), String> {
    let held: Vec<(u32, u32)> = (0..sc.task_count() as usize)
        .flat_map(|id| {
            engine
                .task_ctx(id)
                .held()
                .map(|(_, p, s)| (s, p))
                .collect::<Vec<_>>()
        })
        .collect();
    let refs: u64 = engine
        .pkmap()
        .count
        .iter()
        .map(|&n| u64::from(n.saturating_sub(1)))
        .sum();
    let pkmap_held = held
        .iter()
        .filter(|(s, _)| u64::from(*s) < sc.last_pkmap)
        .count() as u64;
    if refs != pkmap_held {
        return Err(format!(
            "slot counts hold {refs} references but tasks hold {pkmap_held} pkmap mappings"
        ));
    }
    for &(s, p) in held.iter().filter(|(s, _)| u64::from(*s) < sc.last_pkmap) {
        if engine.pkmap().pte[s as usize] != p {
            return Err(format!(
                "a task holds slot {s} for page {p}, which it does not map"
            ));
        }
    }
    let cpus = engine.cpus();
    // A kmap between taking its slot and returning; under `defer` that includes the forced
    // shootdown before a cleared slot is reused (its only use of call_lock and IPIs).
    let defer = sc.strategy == Strategy::Defer;
    let taking = cpus
        .iter()
        .filter(|c| match next_phase(c) {
            Phase::MapSet | Phase::LocalMapped | Phase::DeferReuse | Phase::DeferFlush => true,
            Phase::CallLockGranted | Phase::IpiSent | Phase::AcksDone => defer,
            _ => false,
        })
        .count();
    let releasing = cpus
        .iter()
        .filter(|c| next_phase(c) == Phase::KunmapDone)
        .count();
    let open = k.kmaps as i128 - k.kunmaps as i128;
    let between = held.len() as i128 - taking as i128 + releasing as i128;
    if open != between {
        return Err(format!(
            "kmaps - kunmaps = {open} but {between} mappings are between a kmap and its kunmap"
        ));
    }
    Ok(())
}

/// `split`: a half in flight is the one the cursor is not in, exactly one CPU is running its
/// shootdown (the only use of `call_lock` under `split`), and none of its slots was mapped since
/// it was retired. Other strategies never split the pool.
fn check_split_pool(sc: &Scenario, engine: &Engine) -> Result<(), String> {
    let pk = engine.pkmap();
    if pk.split() != sc.strategy.splits_pool() {
        return Err("the pool is split under a strategy that does not split it".into());
    }
    let flushers: Vec<&crate::cpu::Cpu> = engine
        .cpus()
        .iter()
        .filter(|c| {
            sc.strategy == Strategy::Split
                && matches!(
                    next_phase(c),
                    Phase::CallLockGranted
                        | Phase::IpiSent
                        | Phase::AcksDone
                        | Phase::LocalFlushDone
                )
        })
        .collect();
    let Some(h) = pk.dirty_half() else {
        return match flushers.len() {
            0 => Ok(()),
            n => Err(format!("{n} CPUs flush a half that is not dirty")),
        };
    };
    if flushers.len() != 1 || pk.active_half() == h {
        return Err(format!(
            "half {h} is in flight with {} flushers and the cursor in half {}",
            flushers.len(),
            pk.active_half()
        ));
    }
    let lap = pk.lap() as usize;
    let retired = flushers[0].flush_start;
    for s in h * lap..(h + 1) * lap {
        if pk.pte[s] != crate::pkmap::NONE && pk.pte_changed_at[s] > retired {
            return Err(format!(
                "slot {s} of half {h}, in flight since cycle {retired}, was mapped at cycle {}",
                pk.pte_changed_at[s]
            ));
        }
    }
    Ok(())
}

/// Every task's breakdown sums to the cycles; a task runs on at most one CPU, the one that
/// says it runs it.
fn check_tasks(cycles: u64, engine: &Engine) -> Result<(), String> {
    for (id, s) in engine.task_scheds().iter().enumerate() {
        let sum: u64 = s.breakdown(cycles).iter().sum();
        if sum != cycles {
            return Err(format!("task {id}: states sum to {sum} of {cycles}"));
        }
        if s.cpu != crate::pkmap::NONE && engine.cpus()[s.cpu as usize].task != id as u32 {
            return Err(format!(
                "task {id} thinks it runs on cpu{}, which runs another",
                s.cpu
            ));
        }
    }
    Ok(())
}

/// A well-formed program drawn from `choices` (one byte a step) over `handles` handles, for the
/// proptests and the fuzzer: every kmap is kunmapped before the end, every
/// access and kunmap goes through a held handle, chances only on steps that keep it so.
pub fn generated_program(choices: &[u8], handles: u8, misuse: bool) -> ProgramSpec {
    let step = |pairs: &[(&str, Value)]| -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let op = |name: &str| ("op", Value::Str(name.into()));
    let h = |i: u8| ("handle", Value::Int(i as i128));
    let mut held = vec![false; handles as usize];
    let mut out = vec![step(&[op("kmap"), h(0)])];
    held[0] = true;
    for (i, &c) in choices.iter().enumerate() {
        let k = (c as usize / 8) % handles as usize;
        let prob = ("prob", Value::Float((c % 4) as f64 / 4.0 + 0.2));
        out.push(match (c % 8, held[k]) {
            (0, _) => step(&[op("work"), ("cycles", Value::Int(1 + (c as i128) * 37))]),
            (1, _) => step(&[
                op("block"),
                ("cycles", Value::Int(1 + (c as i128) * 91)),
                prob,
            ]),
            (2, _) => step(&[op("yield"), prob]),
            (3, _) => step(&[op("irq_section"), prob]),
            (4 | 5, true) => step(&[
                op("access"),
                h(k as u8),
                ("irqs_off", Value::Int((c % 3 == 0) as i128)),
            ]),
            (6, true) if misuse => {
                held[k] = false;
                step(&[op("kunmap"), h(k as u8), ("irqs_off", Value::Float(0.3))])
            }
            (_, true) => {
                held[k] = false;
                step(&[op("kunmap"), h(k as u8)])
            }
            (_, false) => {
                held[k] = true;
                let page = match i % 4 {
                    0 => Value::Str("hot".into()),
                    1 => Value::Str("private".into()),
                    2 => Value::Str("sequential".into()),
                    _ => Value::Str("mixed".into()),
                };
                step(&[op("kmap"), h(k as u8), ("page", page)])
            }
        });
    }
    for (k, held) in held.iter().enumerate() {
        if *held {
            out.push(step(&[op("kunmap"), h(k as u8)]));
        }
    }
    // With the misuse switches on, sometimes the whole program runs with interrupts disabled.
    if misuse && choices.first().is_some_and(|c| c % 2 == 0) {
        out.insert(0, step(&[op("irq_disable")]));
        out.push(step(&[op("irq_enable")]));
    }
    // Sometimes a repeat of the whole (balanced) program.
    if let Some(&c) = choices.get(1).filter(|c| *c % 3 == 0) {
        let times = Value::Int(1 + (c % 4) as i128);
        out.push(step(&[
            op("repeat"),
            ("to", Value::Int(0)),
            ("times", times),
        ]));
    }
    out
}
