//! The scenario: every parameter of the simulated machine and workload, with its allowed range.
//!
//! One table (`FIELDS`) declares each field once: its name, kind, range and meaning. The Python
//! binding, the validation and the docs all read that table, so a new field cannot drift between
//! them. Defaults are the `pIII-8way-2001` preset (see `docs/model.md` for the source of each).

use crate::error::{ConfigError, did_you_mean, shown};

/// A field whose value is one of a few names: the enum, its `NAMES` (in variant order), and
/// `name`/`parse` between the two, written once for every such field.
macro_rules! choice {
    ($(#[$doc:meta])* $ty:ident { $( $(#[$vdoc:meta])* $variant:ident = $name:literal, )+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $ty {
            $( $(#[$vdoc])* $variant, )+
        }

        impl $ty {
            pub const NAMES: &'static [&'static str] = &[$($name),+];
            /// Every variant, in order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $name => Some(Self::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

choice! {
    /// What happens when pkmap slots must be recycled.
    Strategy {
        /// Linux 2.4: broadcast IPI and wait for every ack, all under `kmap_lock`.
        Sync = "sync",
        /// The 2001 proposal: send the IPI, do not wait.
        Async = "async",
        /// Async plus a per-CPU flush-generation check at kmap and context switch.
        Guarded = "guarded",
        /// No IPI at all; each CPU catches up with the flush generation lazily.
        Lazy = "lazy",
        /// Sync, but only to CPUs that may hold pkmap entries.
        Targeted = "targeted",
        /// `kmap_local`: per-CPU slots, no global lock.
        Local = "local",
        /// Hardware broadcast invalidation (AMD INVLPGB + TLBSYNC, Arm TLBI IS + DSB): every
        /// TLB is invalidated without interrupting its CPU.
        Broadcast = "broadcast",
        /// Sync, with the flusher's own flush done while its IPIs are in flight (Amit, 2019).
        Concurrent = "concurrent",
        /// Sync, with each target acknowledging on entry to its handler, before it flushes
        /// (Amit, Tai and Wei, EuroSys 2020).
        EarlyAck = "early-ack",
        /// Sync with `flush_tlb_kernel_range()` over the cleared slots: one invlpg each up to
        /// `tlb_flush_ceiling`, a full flush beyond (Mackerras, Arcangeli, LKML 2002).
        Ranged = "ranged",
        /// No IPI at the wrap: a cleared slot is handed out again only once every CPU has
        /// flushed since it was cleared; CPUs flush at context switch, and the ones still behind
        /// get an IPI when such a slot is about to be reused (migrc/LUF, LKML 2024).
        Defer = "defer",
        /// Bligh's split pool (LKML, March 2002): allocate from one half of the pool while the
        /// other half's shootdown (sync's IPIs and acks) runs with `kmap_lock` dropped.
        Split = "split",
    }
}

impl Strategy {
    /// Whether CPUs check a flush generation at kmap and context switch.
    pub fn uses_generations(self) -> bool {
        matches!(self, Self::Guarded | Self::Lazy | Self::Defer)
    }

    /// Whether the flusher sends the flush IPIs through `smp_call_function()` and waits for
    /// every ack under `call_lock` (2.4's `flush_tlb_all()` and its variants).
    pub fn waits_for_acks(self) -> bool {
        matches!(
            self,
            Self::Sync
                | Self::Targeted
                | Self::Concurrent
                | Self::EarlyAck
                | Self::Ranged
                | Self::Defer
                | Self::Split
        )
    }

    /// Whether the strategy lays the pkmap pool out in two halves allocated from in turn:
    /// `split` flushes one while allocating from the other, `defer` reuses a half only a
    /// half-lap after clearing it (docs/model.md, 12.11 and 12.12).
    pub fn splits_pool(self) -> bool {
        matches!(self, Self::Split | Self::Defer)
    }
}

choice! {
    /// How a new mapping finds a free pkmap slot.
    SlotAlloc {
        /// The 2.4 cursor: examine slots one by one, flush on wrapping to slot 0.
        Scan = "scan",
        /// The 2001 proposal: pop a free list; freed slots wait on a dirty list until the next
        /// flush.
        Freelist = "freelist",
    }
}

choice! {
    /// Which spinner wins a contended spinlock.
    Arbitration {
        /// Test-and-set (2.4 spinlocks): the winner is drawn from the lock's random stream
        /// among the CPUs spinning at that moment.
        Tas = "tas",
        /// Ticket lock: strict arrival order, even if the next ticket holder is in an interrupt.
        Fifo = "fifo",
    }
}

choice! {
    /// The distribution of a drawn duration.
    Dist {
        /// Exponential with the given mean, rounded down, at least 1 cycle.
        Exponential = "exponential",
        /// Exactly the mean every time (for hand-checked scenarios and teaching).
        Fixed = "fixed",
    }
}

choice! {
    /// The program every task runs (docs/model.md, section 16).
    Workload {
        /// Work, maybe an interrupts-off section, kmap, copy, kunmap, maybe a context switch.
        Dbench = "dbench",
        /// Tiny reads of a cached file: nearly every kmap a hit on a hot page.
        FileRead = "file-read",
        /// Page-table pages kmapped and held across I/O (pool clogging).
        PteHighmem = "pte-highmem",
        /// Hold one mapping, block, ask for a second (the two-kmap deadlock).
        TwoPageCopy = "two-page-copy",
        /// A kmapped page touched with interrupts disabled.
        IrqsOffAccess = "irqs-off-access",
        /// The scenario's own `program`.
        Custom = "custom",
    }
}

choice! {
    /// What the flush does when it cleared no slot.
    EmptyFlush {
        /// 2.4: call `flush_tlb_all()` anyway.
        Flush = "flush",
        /// Later kernels: no slot was cleared, so no TLB can hold a translation that matters.
        Skip = "skip",
    }
}

/// A `custom` workload's program as given by a caller: one list of `(field, value)` pairs per
/// step, kept verbatim (it is part of the scenario) and compiled by `workload::compile`.
pub type ProgramSpec = Vec<Vec<(String, Value)>>;

/// A value as given by a caller (Python dict, TOML file, command line).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i128),
    Float(f64),
    Str(String),
    /// `true` or `false`: only a program step's `irqs_off` takes one (held as 1 or 0,
    /// `workload::hold_flags`); anywhere else it is refused, never read as 1 or 0.
    Bool(bool),
}

impl Value {
    /// A value written as text (a command line's `field=value`): an integer if it reads as
    /// one, else a float if it reads as one, else the text.
    pub fn from_text(v: &str) -> Value {
        // Underscores between digits group them, as in Python, TOML and `--set` (1_000_000).
        let b = v.as_bytes();
        let grouped = v.contains('_')
            && (0..b.len()).all(|i| {
                b[i] != b'_'
                    || (i > 0
                        && i + 1 < b.len()
                        && b[i - 1].is_ascii_digit()
                        && b[i + 1].is_ascii_digit())
            });
        let plain = if grouped {
            v.replace('_', "")
        } else {
            v.to_string()
        };
        if let Ok(i) = plain.parse::<i128>() {
            Value::Int(i)
        } else if let Ok(f) = plain.parse::<f64>() {
            Value::Float(f)
        } else {
            // Text stays as it was written, underscores and all (a handle named a1_2).
            Value::Str(v.to_string())
        }
    }
}

/// The kind and range of one field, for validation and documentation.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Int { min: u64, max: u64 },
    Float { min: f64, max: f64 },
    Choice(&'static [&'static str]),
}

/// One row of the field table.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: &'static str,
    pub doc: &'static str,
}

macro_rules! scenario {
    (
        ints { $( $iname:ident : $imin:expr, $imax:expr, $idef:expr, $iunit:literal, $idoc:literal; )* }
        floats { $( $fname:ident : $fmin:expr, $fmax:expr, $fdef:expr, $funit:literal, $fdoc:literal; )* }
    ) => {
        /// A complete, validated description of one simulated machine and its workload.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Scenario {
            pub strategy: Strategy,
            pub slot_alloc: SlotAlloc,
            pub lock_arbitration: Arbitration,
            pub work_dist: Dist,
            pub irq_hold_dist: Dist,
            pub empty_flush: EmptyFlush,
            pub workload: Workload,
            /// The steps of a `custom` workload, as given (compiled by `workload::compile`).
            pub program: Option<ProgramSpec>,
            $( #[doc = $idoc] pub $iname: u64, )*
            $( #[doc = $fdoc] pub $fname: f64, )*
        }

        impl Default for Scenario {
            fn default() -> Self {
                Scenario {
                    strategy: Strategy::Sync,
                    slot_alloc: SlotAlloc::Scan,
                    lock_arbitration: Arbitration::Tas,
                    work_dist: Dist::Exponential,
                    irq_hold_dist: Dist::Exponential,
                    empty_flush: EmptyFlush::Flush,
                    workload: Workload::Dbench,
                    program: None,
                    $( $iname: $idef, )*
                    $( $fname: $fdef, )*
                }
            }
        }

        /// Every field, in declaration order (the choices first).
        pub const FIELDS: &[FieldSpec] = &[
            FieldSpec { name: "strategy", kind: Kind::Choice(Strategy::NAMES), unit: "",
                doc: "what happens when pkmap slots are recycled" },
            FieldSpec { name: "slot_alloc", kind: Kind::Choice(SlotAlloc::NAMES), unit: "",
                doc: "how a new mapping finds a free slot" },
            FieldSpec { name: "lock_arbitration", kind: Kind::Choice(Arbitration::NAMES), unit: "",
                doc: "which spinner wins a contended spinlock" },
            FieldSpec { name: "work_dist", kind: Kind::Choice(Dist::NAMES), unit: "",
                doc: "distribution of the work between kmaps" },
            FieldSpec { name: "irq_hold_dist", kind: Kind::Choice(Dist::NAMES), unit: "",
                doc: "distribution of interrupts-off lock hold times" },
            FieldSpec { name: "empty_flush", kind: Kind::Choice(EmptyFlush::NAMES), unit: "",
                doc: "whether a flush that cleared no slot still flushes the TLBs (2.4: flush)" },
            FieldSpec { name: "workload", kind: Kind::Choice(Workload::NAMES), unit: "",
                doc: "the program every task runs (custom: the scenario's own program)" },
            $( FieldSpec { name: stringify!($iname), kind: Kind::Int { min: $imin, max: $imax },
                unit: $iunit, doc: $idoc }, )*
            $( FieldSpec { name: stringify!($fname), kind: Kind::Float { min: $fmin, max: $fmax },
                unit: $funit, doc: $fdoc }, )*
        ];

        impl Scenario {
            /// Set one field by name, checking its type and range.
            pub fn set(&mut self, name: &str, value: Value) -> Result<(), ConfigError> {
                match name {
                    "strategy" => self.strategy = choice(name, &value, Strategy::NAMES, Strategy::parse)?,
                    "slot_alloc" => self.slot_alloc = choice(name, &value, SlotAlloc::NAMES, SlotAlloc::parse)?,
                    "lock_arbitration" => self.lock_arbitration = choice(name, &value, Arbitration::NAMES, Arbitration::parse)?,
                    "work_dist" => self.work_dist = choice(name, &value, Dist::NAMES, Dist::parse)?,
                    "irq_hold_dist" => self.irq_hold_dist = choice(name, &value, Dist::NAMES, Dist::parse)?,
                    "empty_flush" => self.empty_flush = choice(name, &value, EmptyFlush::NAMES, EmptyFlush::parse)?,
                    "workload" => self.workload = choice(name, &value, Workload::NAMES, Workload::parse)?,
                    $( stringify!($iname) => self.$iname = int(name, &value, $imin, $imax)?, )*
                    $( stringify!($fname) => self.$fname = float(name, &value, $fmin, $fmax)?, )*
                    _ => return Err(ConfigError::unknown_field(name)),
                }
                Ok(())
            }

            /// Read one field by name (for round trips through Python and files).
            pub fn get(&self, name: &str) -> Option<Value> {
                Some(match name {
                    "strategy" => Value::Str(self.strategy.name().into()),
                    "slot_alloc" => Value::Str(self.slot_alloc.name().into()),
                    "lock_arbitration" => Value::Str(self.lock_arbitration.name().into()),
                    "work_dist" => Value::Str(self.work_dist.name().into()),
                    "irq_hold_dist" => Value::Str(self.irq_hold_dist.name().into()),
                    "empty_flush" => Value::Str(self.empty_flush.name().into()),
                    "workload" => Value::Str(self.workload.name().into()),
                    $( stringify!($iname) => Value::Int(self.$iname as i128), )*
                    $( stringify!($fname) => Value::Float(self.$fname), )*
                    _ => return None,
                })
            }
        }
    };
}

/// The longest duration any field or replayed operation may give, in cycles (about 18 minutes
/// at 1 GHz). Sums of a few such durations on top of a clock of at most `MAX_CYCLES` stay far
/// below 2^64, so the engine's time never overflows.
pub const MAX_DURATION: u64 = 1 << 40;
const BIG: u64 = MAX_DURATION;

scenario! {
    ints {
        cpus: 1, 4096, 8, "CPUs", "number of CPUs";
        tasks: 0, 1 << 20, 0, "tasks", "tasks in all, each running the workload's program (0: one per CPU)";
        last_pkmap: 2, 65536, 1024, "slots", "pkmap pool size LAST_PKMAP (a power of two: 1024 without PAE, 512 with)";
        pages: 1, 1 << 24, 65536, "pages", "highmem pages in the workload's page pool";
        hot_pages: 0, 1 << 24, 256, "pages", "pages of the pool that are shared and reused by all CPUs (the first ones)";
        tlb_entries: 1, 4096, 32, "entries", "TLB entries available to pkmap translations, per CPU (fully associative, LRU)";
        tlb_miss_cycles: 0, BIG, 30, "cycles", "page walk on a TLB miss";
        tlb_flush_cycles: 0, BIG, 200, "cycles", "a full local TLB flush, global pages included";
        tlb_refill_cycles: 0, BIG, 0, "cycles", "refilling the rest of a CPU's working set after a full TLB flush, paid at the start of its next work (0: free)";
        tlb_broadcast_cycles: 0, BIG, 700, "cycles", "broadcast: one hardware-broadcast invalidation of every TLB and the wait for its completion (INVLPGB + TLBSYNC)";
        tlb_flush_ceiling: 0, 65536, 33, "slots", "ranged: most cleared slots flushed one invlpg each; more take a full flush (x86's tlb_single_page_flush_ceiling)";
        tlb_invlpg_cycles: 0, BIG, 100, "cycles", "invalidating one TLB entry (invlpg), as kmap_atomic / kmap_local do";
        kmap_local_cycles: 1, BIG, 20, "cycles", "setting (or clearing) a per-CPU kmap_local page table entry";
        ipi_latency: 1, BIG, 1400, "cycles", "from sending an IPI to its arrival at the target's APIC";
        ipi_send_cycles: 0, BIG, 300, "cycles", "sender's cost to issue one broadcast IPI";
        ipi_send_per_target_cycles: 0, BIG, 0, "cycles", "extra sender cost per target (serial unicast IPIs); target k arrives k times this later";
        ipi_ack_per_target_cycles: 0, BIG, 0, "cycles", "writing the shared started/finished line of smp_call_function() once per target: acks that land together queue on it, so the sender's wait grows with the targets (0: free)";
        ipi_handler_cycles: 1, BIG, 600, "cycles", "IPI handler entry and exit, excluding the TLB flush it does";
        lock_acquire_cycles: 1, BIG, 30, "cycles", "uncontended spinlock acquire";
        lock_handoff_cycles: 1, BIG, 250, "cycles", "acquire by a CPU that was spinning (the lock's cache line moves)";
        lock_handoff_per_waiter_cycles: 0, BIG, 0, "cycles", "extra hand-off cost per other CPU still spinning on the lock, whose reads of its cache line slow the transfer (0: free)";
        lock_hold_per_waiter_cycles: 0, BIG, 0, "cycles", "extra cycles of a kmap_lock section (hit, new mapping, kunmap) per CPU spinning on the lock as it runs: the holder's accesses to the lock's cache line, stolen back by each spinner (0: free)";
        irq_locks: 0, 4096, 4, "locks", "K interrupts-off spinlocks (spin_lock_irq) the workload takes";
        irq_hold_cycles: 1, BIG, 3000, "cycles", "mean hold time of an interrupts-off lock";
        work_cycles: 1, BIG, 15000, "cycles", "mean work between kmaps";
        copy_cycles: 1, BIG, 2500, "cycles", "copy of one mapped page";
        copy_lookups: 1, 4096, 4, "lookups", "TLB lookups of the mapped address during one copy, evenly spread";
        kmap_hit_cycles: 1, BIG, 60, "cycles", "kmap_high under the lock when the page is already mapped";
        kmap_new_cycles: 1, BIG, 120, "cycles", "kmap_high under the lock for a new mapping, besides the slot scan";
        scan_slot_cycles: 0, BIG, 4, "cycles", "one step of the map_new_virtual cursor (or one freelist pop)";
        flush_slot_cycles: 0, BIG, 6, "cycles", "one slot of the flush_all_zero_pkmaps loop";
        flush_clear_slot_cycles: 0, BIG, 0, "cycles", "extra cost of a slot the flush_all_zero_pkmaps loop clears (its cold struct page and pte)";
        kunmap_cycles: 1, BIG, 50, "cycles", "kunmap_high under the lock";
        ctx_switch_cycles: 1, BIG, 2000, "cycles", "a context switch (schedule() switching a task in, or back in after a yield)";
        block_cycles: 1, BIG, 1_000_000, "cycles", "mean time a task blocks on I/O in the workloads that block (exponential)";
        watchdog_cycles: 1, 1 << 62, 50_000_000, "cycles", "stop with DeadlockError when no CPU completes a kmap or kunmap for this long while CPUs still run (a livelock; a frozen machine stops at once, a single longer stretch is waited out)";
        max_violation_records: 0, 4096, 16, "records", "stale accesses kept in detail (all are counted)";
    }
    floats {
        cpu_mhz: 1e-3, 1e6, 700.0, "MHz", "clock rate, only to turn cycles into seconds";
        shared_page_prob: 0.0, 1.0, 0.25, "probability", "chance that a kmap picks a hot (shared) page";
        tlb_evict_rate: 0.0, 1000.0, 0.5, "per 1000 cycles", "pkmap TLB entries evicted by unrelated traffic per 1000 cycles of work";
        irq_section_prob: 0.0, 1.0, 0.3, "probability", "chance that an iteration takes an interrupts-off lock before its kmap";
        ctx_switch_prob: 0.0, 1.0, 0.1, "probability", "chance of a context switch after a kunmap";
        kmap_irqs_off_prob: 0.0, 1.0, 0.0, "probability", "misuse: chance that a kmap is called with interrupts disabled";
    }
}

impl ConfigError {
    /// An unknown field name, with the closest known name when one is near.
    pub fn unknown_field(name: &str) -> Self {
        let names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        let problem = format!("unknown field{}", did_you_mean(name, &names));
        let field = if name.chars().count() > 60 {
            shown(name)
        } else {
            name.to_string()
        };
        ConfigError::new(&field, problem, format!("one of {}", names.join(", ")))
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Str(_) => "a string",
        Value::Bool(_) => "a bool",
    }
}

fn int(name: &str, v: &Value, min: u64, max: u64) -> Result<u64, ConfigError> {
    let range = format!("an integer in [{min}, {max}]");
    match *v {
        Value::Int(i) if i >= min as i128 && i <= max as i128 => Ok(i as u64),
        Value::Int(i) => Err(ConfigError::new(
            name,
            format!("{i} is out of range"),
            range,
        )),
        // A float is refused even when whole (8.0, 1e6): one rule for every integer, in every
        // reader (docs/model.md, section 11), and no float ever stands in for a count.
        Value::Float(f) if plainly_float(f, min, max) => Err(ConfigError::new(
            name,
            format!("got a float {f:?}, not an integer"),
            range,
        )),
        Value::Float(f) => Err(ConfigError::new(
            name,
            format!("{f:?} is not allowed"),
            range,
        )),
        Value::Str(_) | Value::Bool(_) => Err(ConfigError::new(
            name,
            format!("got {}", type_name(v)),
            range,
        )),
    }
}

/// Whether a float given for an integer in [`min`, `max`] is to be called a float: a whole
/// one out of range (or infinite) may be an integer too large for the binding to pass as one
/// (10**40 arrives as 1e40), so it is said to be out of range instead, as given.
pub(crate) fn plainly_float(f: f64, min: u64, max: u64) -> bool {
    f.is_finite() && (f.fract() != 0.0 || (f >= min as f64 && f <= max as f64))
}

fn float(name: &str, v: &Value, min: f64, max: f64) -> Result<f64, ConfigError> {
    let range = format!("a number in [{min}, {max}]");
    let f = match *v {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        Value::Str(_) | Value::Bool(_) => {
            return Err(ConfigError::new(
                name,
                format!("got {}", type_name(v)),
                range,
            ));
        }
    };
    // `!(a <= b)` also catches NaN.
    if !(f >= min && f <= max) {
        return Err(ConfigError::new(
            name,
            format!("{f:?} is out of range"),
            range,
        ));
    }
    Ok(f)
}

fn choice<T>(
    name: &str,
    v: &Value,
    names: &[&str],
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, ConfigError> {
    let allowed = format!("one of {}", names.join(", "));
    match v {
        Value::Str(s) => {
            let problem = format!("unknown value {}{}", shown(s), did_you_mean(s, names));
            parse(s).ok_or_else(|| ConfigError::new(name, problem, allowed))
        }
        _ => Err(ConfigError::new(
            name,
            format!("got {}", type_name(v)),
            allowed,
        )),
    }
}

impl Scenario {
    /// Checks that span several scalar fields (`validate` adds the workload's program).
    pub fn validate_fields(&self) -> Result<(), ConfigError> {
        if !self.last_pkmap.is_power_of_two() {
            return Err(ConfigError::new(
                "last_pkmap",
                format!("{} is not a power of two", self.last_pkmap),
                "a power of two in [2, 65536] (1024 without PAE, 512 with)".into(),
            ));
        }
        if self.hot_pages > self.pages {
            return Err(ConfigError::new(
                "hot_pages",
                format!("{} exceeds pages = {}", self.hot_pages, self.pages),
                format!("an integer in [0, pages = {}]", self.pages),
            ));
        }
        if self.copy_lookups > self.copy_cycles {
            return Err(ConfigError::new(
                "copy_lookups",
                format!(
                    "{} exceeds copy_cycles = {}",
                    self.copy_lookups, self.copy_cycles
                ),
                format!("an integer in [1, copy_cycles = {}]", self.copy_cycles),
            ));
        }
        if self.program.is_some() != (self.workload == Workload::Custom) {
            return Err(ConfigError::new(
                "program",
                format!(
                    "{} with workload = {:?}",
                    if self.program.is_some() {
                        "given"
                    } else {
                        "missing"
                    },
                    self.workload.name()
                ),
                "a program exactly when workload is \"custom\"".into(),
            ));
        }
        if self.irq_locks == 0 && self.irq_section_prob > 0.0 {
            return Err(ConfigError::new(
                "irq_section_prob",
                format!("{} with irq_locks = 0", self.irq_section_prob),
                "0 when irq_locks is 0 (there is no lock to take)".into(),
            ));
        }
        Ok(())
    }

    /// The number of tasks: `tasks`, or one per CPU when it is 0.
    pub fn task_count(&self) -> u64 {
        if self.tasks == 0 {
            self.cpus
        } else {
            self.tasks
        }
    }

    /// How errors name the program: the workload, or the custom program.
    pub fn workload_field(&self) -> String {
        match self.workload {
            Workload::Custom => "program".into(),
            w => format!("workload {:?}", w.name()),
        }
    }

    /// All fields as `(name, value)` pairs, in table order.
    pub fn pairs(&self) -> Vec<(&'static str, Value)> {
        FIELDS
            .iter()
            .map(|f| {
                (
                    f.name,
                    self.get(f.name).expect("every table field has a getter"),
                )
            })
            .collect()
    }
}

// SAFETY: a field-less enum.
crate::pack::plain!(unsafe SlotAlloc);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let sc = Scenario::default();
        sc.validate().unwrap();
        let back = Scenario::from_pairs(sc.pairs().iter().map(|(k, v)| (*k, v.clone()))).unwrap();
        assert_eq!(sc, back);
    }

    #[test]
    fn errors_name_field_and_range() {
        let e = Scenario::from_pairs([("cpus", Value::Int(0))]).unwrap_err();
        assert_eq!(e.field, "cpus");
        assert!(e.allowed.contains("[1, 4096]"), "{e}");
        let e = Scenario::from_pairs([("last_pkmap", Value::Int(1000))]).unwrap_err();
        assert!(e.to_string().contains("power of two"), "{e}");
        let e = Scenario::from_pairs([("shared_page_prob", Value::Float(f64::NAN))]).unwrap_err();
        assert_eq!(e.field, "shared_page_prob");
        let e = Scenario::from_pairs([("strategy", Value::Str("fast".into()))]).unwrap_err();
        assert!(e.allowed.contains("sync"), "{e}");
        let e = Scenario::from_pairs([("cpuz", Value::Int(2))]).unwrap_err();
        assert!(e.to_string().contains("cpus"), "did-you-mean missing: {e}");
        // A huge or tiny float is shown as written short, not as hundreds of digits.
        let e = Scenario::from_pairs([("tlb_evict_rate", Value::Float(1e300))]).unwrap_err();
        assert_eq!(e.problem, "1e300 is out of range");
        let e = Scenario::from_pairs([("cpus", Value::Float(1e300))]).unwrap_err();
        assert_eq!(e.problem, "1e300 is not allowed");
        // A whole float is no integer: one rule for every reader (docs/model.md, section 11).
        let e = Scenario::from_pairs([("cpus", Value::Float(8.0))]).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.problem.as_str()),
            ("cpus", "got a float 8.0, not an integer")
        );
        // A bool is no number and no name.
        for field in ["cpus", "tlb_evict_rate", "strategy"] {
            let e = Scenario::from_pairs([(field, Value::Bool(true))]).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.problem.as_str()),
                (field, "got a bool")
            );
        }
    }
}
