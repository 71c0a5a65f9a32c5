//! Run one scenario with no Python and print its summary:
//! `cargo run --release -p kmapsim-core --example summary -- [cpus] [cycles] [seed] [field=value ...]`

use kmapsim_core::{Category, Mode, Scenario, Value, run_to_end};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (cpus, cycles, seed) = (num(0, 8), num(1, 10_000_000), num(2, 0));
    let mut pairs = vec![("cpus".to_string(), Value::Int(cpus as i128))];
    for a in args.iter().skip(3) {
        let Some((k, v)) = a.split_once('=') else {
            eprintln!("expected field=value, got {a:?}");
            std::process::exit(2);
        };
        pairs.push((k.to_string(), Value::from_text(v)));
    }
    let sc = match Scenario::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.clone()))) {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let r = match run_to_end(&sc, cycles, seed, Mode::Skip) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(3);
        }
    };
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{} CPUs, {} cycles, seed {}: {:.3} s wall, {} events ({:.1} M events/s)",
        cpus,
        cycles,
        seed,
        wall,
        r.events,
        r.events as f64 / wall / 1e6
    );
    println!("throughput {:.2} kmaps per million cycles", r.throughput());
    for (k, v) in r.counters.pairs() {
        println!("  {k:<22} {v}");
    }
    let total = (cycles * cpus) as f64;
    println!("cycle breakdown (all CPUs):");
    for (i, name) in Category::NAMES.iter().enumerate() {
        let s: u64 = r.breakdown.iter().map(|row| row[i]).sum();
        println!("  {name:<16} {:6.2}%", 100.0 * s as f64 / total);
    }
}
