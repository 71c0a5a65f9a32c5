//! A fuzzer over the scenario space: random scenarios (every strategy, allocator, switch and
//! workload, random well-formed programs, tasks, small pools, many CPUs, extreme costs), each
//! run in both time modes and checked against `kmapsim_core::invariants::check`. A case that
//! shows a new combination of behaviours (strategy x workload x allocator x flushed/slept/stale/
//! deadlock/migrated/...) is written to the corpus (a program in its one-line form, as
//! `_program`), which `cargo test` replays. A violation is written to `fuzz/failures/` and stops the campaign.
//!
//! `cargo run --release -p kmapsim-core --example fuzz_invariants -- SECONDS [SEED] [CORPUS_DIR]`

use kmapsim_core::invariants::{Features, check, generated_program};
use kmapsim_core::rng::task_stream;
use kmapsim_core::workload::to_text;
use kmapsim_core::{FIELDS, Kind, Scenario, Value, Workload};
use std::collections::BTreeSet;
use std::time::Instant;

fn pick(s: &mut kmapsim_core::rng::Stream, xs: &[u64]) -> u64 {
    xs[s.below(0, xs.len() as u64) as usize]
}

/// A random valid scenario: every field drawn, ranges kept where runs stay short.
fn scenario(s: &mut kmapsim_core::rng::Stream) -> Scenario {
    let mut pairs: Vec<(&str, Value)> = Vec::new();
    for f in FIELDS.iter().filter(|f| f.name != "workload") {
        if let Kind::Choice(names) = f.kind {
            pairs.push((
                f.name,
                Value::Str(names[s.below(0, names.len() as u64) as usize].into()),
            ));
        }
    }
    let pool = pick(s, &[2, 4, 8, 16, 64]);
    let pages = pick(s, &[4, 16, 64, 1000]);
    let ints: [(&str, u64); 20] = [
        ("cpus", pick(s, &[1, 2, 3, 5, 8, 17, 40])),
        ("last_pkmap", pool),
        ("pages", pages),
        ("hot_pages", s.below(0, pages.min(8) + 1)),
        ("tlb_entries", pick(s, &[1, 2, 4, 32])),
        ("tlb_miss_cycles", pick(s, &[0, 1, 30, 500])),
        ("tlb_flush_cycles", pick(s, &[0, 1, 200, 3000])),
        ("ipi_latency", pick(s, &[1, 2, 100, 1400, 20_000])),
        ("ipi_send_cycles", pick(s, &[0, 300, 2000])),
        ("ipi_send_per_target_cycles", pick(s, &[0, 1, 810])),
        ("ipi_handler_cycles", pick(s, &[1, 600, 5000])),
        ("lock_acquire_cycles", pick(s, &[1, 30])),
        ("lock_handoff_cycles", pick(s, &[1, 250, 3000])),
        ("irq_locks", pick(s, &[1, 2, 4])),
        ("irq_hold_cycles", pick(s, &[1, 100, 3000, 30_000])),
        ("work_cycles", pick(s, &[1, 50, 1000, 15_000])),
        ("copy_cycles", pick(s, &[8, 300, 2500])),
        ("copy_lookups", pick(s, &[1, 2, 8])),
        ("scan_slot_cycles", pick(s, &[0, 4])),
        ("flush_slot_cycles", pick(s, &[0, 6])),
    ];
    for (k, v) in ints {
        pairs.push((k, Value::Int(v as i128)));
    }
    for (k, p) in [
        ("shared_page_prob", s.unit()),
        ("irq_section_prob", s.unit()),
        ("ctx_switch_prob", s.unit()),
        ("tlb_evict_rate", pick(s, &[0, 1, 50]) as f64),
    ] {
        pairs.push((k, Value::Float(p)));
    }
    // The misuse switch in a fifth of the cases: it must deadlock sync and targeted only.
    let misuse = if s.chance(0.2) { s.unit() } else { 0.0 };
    pairs.push(("kmap_irqs_off_prob", Value::Float(misuse)));
    pairs.push(("watchdog_cycles", Value::Int(2_000_000)));
    // Tasks and workloads: every built-in, and random well-formed programs.
    let workload = Workload::ALL[s.below(0, Workload::ALL.len() as u64) as usize];
    let tasks = pick(s, &[0, 0, 1, 3, 9, 40]);
    pairs.push(("workload", Value::Str(workload.name().into())));
    pairs.push(("tasks", Value::Int(tasks as i128)));
    pairs.push((
        "block_cycles",
        Value::Int(pick(s, &[1, 500, 20_000, 300_000]) as i128),
    ));
    // The cost terms of docs/model.md section 18, each off in half the cases.
    for (k, xs) in [
        ("lock_handoff_per_waiter_cycles", &[0, 0, 1, 400][..]),
        ("lock_hold_per_waiter_cycles", &[0, 0, 1, 700]),
        ("ipi_ack_per_target_cycles", &[0, 0, 1, 414]),
        ("flush_clear_slot_cycles", &[0, 0, 1, 80]),
        ("tlb_refill_cycles", &[0, 0, 1, 5000]),
    ] {
        pairs.push((k, Value::Int(pick(s, xs) as i128)));
    }
    let mut sc = Scenario::default();
    for (k, v) in pairs {
        sc.set(k, v).expect("the generator only draws valid values");
    }
    // Private pages for every task, and a hot page for the sources that need one.
    sc.hot_pages = sc.hot_pages.max(1);
    sc.pages = sc.pages.max(sc.hot_pages + sc.task_count());
    if workload == Workload::Custom {
        let steps = s.below(0, 12) as usize;
        let choices: Vec<u8> = (0..steps).map(|_| s.below(0, 256) as u8).collect();
        let handles = s.below(1, 4) as u8;
        sc.program = Some(generated_program(&choices, handles, misuse > 0.0));
    }
    sc.validate()
        .expect("the generator only draws valid values");
    sc
}

fn to_toml(sc: &Scenario, seed: u64, cycles: u64) -> String {
    let mut out = format!("# kmapsim fuzz corpus case\n_seed = {seed}\n_cycles = {cycles}\n");
    for (k, v) in sc.pairs() {
        let v = match v {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Str(s) => format!("{s:?}"),
            Value::Bool(b) => b.to_string(),
        };
        out += &format!("{k} = {v}\n");
    }
    if let Some(p) = &sc.program {
        out += &format!("_program = {:?}\n", to_text(p));
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let seed: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let dir = args.get(2).cloned().unwrap_or_else(|| "fuzz/corpus".into());
    std::fs::create_dir_all(&dir).expect("corpus directory");
    let mut draws = task_stream(seed, 0);
    let mut seen: BTreeSet<Features> = BTreeSet::new();
    let start = Instant::now();
    let (mut cases, mut kept) = (0u64, 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        let sc = scenario(&mut draws);
        let run_seed = draws.below(0, u64::MAX);
        let cycles = pick(&mut draws, &[1, 1000, 50_000, 300_000]);
        cases += 1;
        match check(&sc, cycles, run_seed) {
            Ok(f) => {
                if seen.insert(f) {
                    kept += 1;
                    let path = format!("{dir}/case-{seed}-{cases}.toml");
                    std::fs::write(&path, to_toml(&sc, run_seed, cycles)).expect("write corpus");
                }
            }
            Err(why) => {
                std::fs::create_dir_all("fuzz/failures").ok();
                let path = format!("fuzz/failures/case-{seed}-{cases}.toml");
                std::fs::write(
                    &path,
                    format!("# {why}\n{}", to_toml(&sc, run_seed, cycles)),
                )
                .ok();
                eprintln!("INVARIANT VIOLATED after {cases} cases: {why} ({path})");
                std::process::exit(1);
            }
        }
    }
    println!(
        "{cases} cases in {:.0} s, 0 violations; {kept} new behaviours kept in {dir} ({} in all)",
        start.elapsed().as_secs_f64(),
        seen.len()
    );
}
