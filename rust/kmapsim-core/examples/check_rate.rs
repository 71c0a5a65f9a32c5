//! The checker's state rate with no Python: `cargo run --release -p kmapsim-core --example
//! check_rate -- [max_states] [field=value ...]` (the fields of a scenario, as for `summary`,
//! and `program=STEPS` for a custom program; the machine defaults to the checker's own: 2 CPUs
//! x 2 slots x 3 pages, `sync`). The environment's `MAX_FRONTIER` (default 200,000),
//! `MAX_DEPTH` (100,000), `MAX_IPIS` (no bound) and `THREADS` (1) set the other bounds. docs/verification.md
//! quotes its run of tasks holding two mappings on 4 slots and 5 pages.

use kmapsim_core::check::{Bounds, check, packed_bytes};
use kmapsim_core::{Scenario, Value};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let max_states = args
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let max_frontier = std::env::var("MAX_FRONTIER")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let mut pairs: Vec<(String, Value)> = [
        ("cpus", 2),
        ("last_pkmap", 2),
        ("pages", 3),
        ("hot_pages", 0),
        ("copy_lookups", 1),
    ]
    .iter()
    .map(|&(k, v)| (k.to_string(), Value::Int(v)))
    .collect();
    for (k, v) in [
        ("shared_page_prob", 0.0),
        ("irq_section_prob", 0.0),
        ("ctx_switch_prob", 0.0),
        ("tlb_evict_rate", 0.0),
    ] {
        pairs.push((k.to_string(), Value::Float(v)));
    }
    for a in args.iter().skip(1) {
        let Some((k, v)) = a.split_once('=') else {
            eprintln!("expected field=value, got {a:?}");
            std::process::exit(2);
        };
        pairs.push((k.to_string(), Value::from_text(v)));
    }
    // `program=kmap handle=0 page=cold; access handle=0; ...`: a custom program, step by step.
    let program = pairs.iter().position(|(k, _)| k == "program").map(|i| {
        let Value::Str(text) = pairs.remove(i).1 else {
            eprintln!("program: expected steps separated by ';'");
            std::process::exit(2);
        };
        text.split(';')
            .map(|step| {
                let mut words = step.split_whitespace();
                let op = words.next().unwrap_or("").to_string();
                let mut fields = vec![("op".to_string(), Value::Str(op))];
                for w in words {
                    let (k, v) = w.split_once('=').unwrap_or((w, ""));
                    fields.push((k.to_string(), Value::from_text(v)));
                }
                fields
            })
            .collect::<Vec<_>>()
    });
    let sc = match Scenario::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.clone()))) {
        Ok(mut sc) => {
            if program.is_some() {
                sc.workload = kmapsim_core::Workload::Custom;
                sc.program = program;
            }
            sc
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let bounds = Bounds {
        max_states,
        max_depth: std::env::var("MAX_DEPTH")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100_000),
        max_frontier,
        max_ipis: std::env::var("MAX_IPIS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u32::MAX),
        symmetry: true,
        threads: std::env::var("THREADS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
    };
    if let Ok(n) = packed_bytes(&sc) {
        println!("a packed machine: {n} bytes (the initial state)");
    }
    let t = Instant::now();
    match check(&sc, &bounds, &mut || None) {
        Ok(r) => {
            let s = t.elapsed().as_secs_f64();
            println!(
                "{}{}: {} states, {} transitions, depth {}, {:.2} s, {:.0} states/s",
                r.verdict.name(),
                r.depth_first_from
                    .map_or(String::new(), |d| format!(" (depth-first from level {d})")),
                r.states,
                r.transitions,
                r.depth,
                s,
                r.states as f64 / s
            );
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
