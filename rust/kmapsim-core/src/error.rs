//! Typed errors. The binding maps each variant once to its Python exception class.

use thiserror::Error;

/// A scenario field with a bad value: which field, what is wrong, and what is allowed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{field}: {problem}; allowed: {allowed}")]
pub struct ConfigError {
    pub field: String,
    pub problem: String,
    pub allowed: String,
}

impl ConfigError {
    pub fn new(field: &str, problem: String, allowed: String) -> Self {
        ConfigError {
            field: field.to_string(),
            problem,
            allowed,
        }
    }
}

/// A caller's string as an error message quotes it: at most 60 characters, and the length of
/// the rest, so that a huge value never becomes a huge message.
pub fn shown(s: &str) -> String {
    const LIMIT: usize = 60;
    match s.char_indices().nth(LIMIT) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}... ({} chars)", &s[..cut], s.chars().count()),
    }
}

/// The known name nearest to `name` by edit distance, if it is close enough to be a typo. A
/// name far longer than any known one is no typo (and its distance would be slow to compute).
///
/// Case is compared last: the distance is taken between lower-case forms, so `Async` suggests
/// `async` (not `sync`, one letter off as written) and `LAZY` or `CPUS` find their names; the
/// distance as written only breaks ties. Names themselves stay case-sensitive: this only
/// suggests. Every "did you mean" of the project (Rust and Python) comes from here.
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    if name.len() > 64 {
        return None;
    }
    let folded = name.to_lowercase();
    known
        .iter()
        .map(|k| {
            (
                levenshtein(&folded, &k.to_lowercase()),
                levenshtein(name, k),
                *k,
            )
        })
        .filter(|(d, _, k)| *d <= 2.max(k.chars().count() / 4))
        .min()
        .map(|(_, _, k)| k)
}

/// `` (did you mean "x"?)`` for the name nearest to `name`, or `""`.
pub fn did_you_mean(name: &str, known: &[&str]) -> String {
    closest(name, known).map_or_else(String::new, |best| format!(" (did you mean {best:?}?)"))
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// One edge of a wait-for graph: `cpu` cannot go on until `on` does something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitEdge {
    pub cpu: u32,
    /// What it waits for, e.g. "spins on kmap_lock with interrupts disabled".
    pub what: String,
    /// The CPU it waits on, when there is one.
    pub on: Option<u32>,
}

/// The state of a stuck machine: frozen (nothing can ever happen again) or stalled (no
/// operation completed for `watchdog_cycles`); see `engine/watchdog.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlockReport {
    pub cycle: u64,
    /// Why the machine counts as stuck, in words.
    pub reason: String,
    /// The CPUs of a wait-for cycle in order (empty when no cycle was found, e.g. a livelock);
    /// for a pool exhaustion, the tasks asleep on `pkmap_map_wait` holding slots.
    pub chain: Vec<u32>,
    /// What every stuck CPU waits for.
    pub edges: Vec<WaitEdge>,
    /// The tasks asleep on `pkmap_map_wait` while holding mappings: `(task, [(slot, page)])`.
    pub sleepers: Vec<(u32, Vec<(u32, u32)>)>,
    /// Whether the pool is exhausted for good: every slot is held by a task asleep on
    /// `pkmap_map_wait`, so no kunmap can ever free one (the two-kmap deadlock).
    pub pool_exhausted: bool,
}

impl std::fmt::Display for DeadlockReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at cycle {}: {}", self.cycle, self.reason)?;
        let who = if self.pool_exhausted { "task" } else { "cpu" };
        if !self.chain.is_empty() {
            let names: Vec<String> = self.chain.iter().map(|c| format!("{who}{c}")).collect();
            write!(
                f,
                "; wait-for cycle: {} -> {who}{}",
                names.join(" -> "),
                self.chain[0]
            )?;
        }
        for e in &self.edges {
            write!(f, "\n  cpu{}: {}", e.cpu, e.what)?;
        }
        for (task, held) in &self.sleepers {
            let held: Vec<String> = held
                .iter()
                .map(|(s, p)| format!("slot {s} (page {p})"))
                .collect();
            write!(
                f,
                "\n  task{task}: sleeps on pkmap_map_wait holding {}",
                held.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Why a run stopped early.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("deadlock: {0}")]
    Deadlock(Box<DeadlockReport>),
    /// A condition on which the 2.4 kernel calls BUG().
    #[error("kernel BUG at cycle {cycle} on cpu{cpu}: {message}")]
    KernelBug {
        cycle: u64,
        cpu: u32,
        message: String,
    },
    /// Memory for the run's records (trace, samples, recorded operations) could not be had.
    #[error("out of memory for {what}: turn records off or make them smaller")]
    OutOfMemory { what: String },
    /// The caller's poll callback asked to stop, for `reason`: the run is consistent and may go
    /// on.
    #[error("interrupted at cycle {cycle} ({reason})")]
    Interrupted { cycle: u64, reason: StopReason },
}

impl SimError {
    /// Whether this error, raised while advancing, ends the simulation: every error but an
    /// interruption does (the engine keeps it and returns it again from every later advance).
    /// An invalid argument to `advance_to` is refused before any cycle runs and changes nothing.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, SimError::Interrupted { .. })
    }
}

/// Why the caller's poll callback stops a run (`Engine::advance_to`): returned as
/// `Some(reason)`, it ends the advance with `SimError::Interrupted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// A signal arrived (Ctrl-C).
    Signal,
    /// The caller cancelled the run (a cancel token, or every run in progress).
    Cancelled,
    /// The wall-clock limit of one advance passed.
    WallClock,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Signal => "signal",
            StopReason::Cancelled => "cancelled",
            StopReason::WallClock => "wall-clock limit",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_only() {
        let known = ["cpus", "strategy", "tlb_entries"];
        assert_eq!(closest("cpu", &known), Some("cpus"));
        assert_eq!(closest("stratgy", &known), Some("strategy"));
        assert_eq!(closest("zzzzzzzz", &known), None);
        assert_eq!(closest(&"cpus".repeat(1000), &known), None);
    }

    #[test]
    fn closest_compares_case_last() {
        let strategies = ["sync", "async", "lazy"];
        assert_eq!(closest("Async", &strategies), Some("async"));
        assert_eq!(closest("ASYNC", &strategies), Some("async"));
        assert_eq!(closest("LAZY", &strategies), Some("lazy"));
        assert_eq!(closest("SYNC", &strategies), Some("sync"));
        assert_eq!(closest("CPUS", &["cpus", "tasks"]), Some("cpus"));
        assert_eq!(closest("KMAP", &["kmap", "kunmap"]), Some("kmap"));
        assert_eq!(
            did_you_mean("Sync", &strategies),
            " (did you mean \"sync\"?)"
        );
        assert_eq!(did_you_mean("zzzzzz", &strategies), "");
    }

    #[test]
    fn huge_values_are_shown_short() {
        assert_eq!(shown("sync"), "\"sync\"");
        let long = "x".repeat(1_000_000);
        let s = shown(&long);
        assert!(s.len() < 100 && s.ends_with("(1000000 chars)"), "{s}");
    }
}
