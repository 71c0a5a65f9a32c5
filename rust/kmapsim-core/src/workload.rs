//! Workload programs (docs/model.md, section 16): the small vocabulary each task's program is made
//! of, the built-in workloads by name, and the compilation of a program (built-in or given as
//! data) against a scenario into the steps the engine interprets. A leaf: no engine state here.
//!
//! A program is a list of steps run in order and then again from the top, forever. Each step may
//! carry a probability: it is then taken only when one draw of the task's random stream says so
//! (and skipped otherwise). Fields a step leaves out take the scenario's values (`work` takes
//! `work_cycles`, `access` takes `copy_lookups` and `copy_cycles`, ...), so that a program stays
//! meaningful when the scenario's costs change.

use crate::config::{Dist, MAX_DURATION, Scenario, Value, Workload};
use crate::error::{ConfigError, did_you_mean, shown};

/// Most mappings a task may hold at once (named handles in a program).
pub const MAX_HANDLES: usize = 8;
/// Most `repeat` steps in one program.
pub const MAX_REPEATS: usize = 8;
/// Most steps in one program.
pub const MAX_STEPS: usize = 256;

/// A chance drawn from the task's stream when a step runs, or none (no draw at all). NaN
/// stands for none, so that a step stays small (the interpreter copies one per step).
#[derive(Clone, Copy, Debug)]
pub struct Chance(f64);

impl Chance {
    pub const NONE: Chance = Chance(f64::NAN);

    pub fn of(p: f64) -> Self {
        Chance(p)
    }

    pub fn from_option(p: Option<f64>) -> Self {
        p.map_or(Self::NONE, Chance)
    }

    #[inline(always)]
    pub fn get(self) -> Option<f64> {
        if self.0.is_nan() { None } else { Some(self.0) }
    }
}

impl PartialEq for Chance {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// Where a `kmap` finds its page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PageSource {
    /// A hot page with probability `shared_page_prob`, else a cold one (the `dbench` loop's
    /// choice).
    Mixed,
    /// One of the `hot_pages` shared pages, uniformly.
    Hot,
    /// One of the cold pages (`hot_pages..pages`), uniformly.
    Cold,
    /// One of the task's own pages: the cold pages split evenly among the tasks.
    Private,
    /// The task's own pages in turn, one after another (a file read front to back).
    Sequential,
    /// Exactly this page.
    Page(u32),
}

/// One operation of a program.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    /// Run for a drawn number of cycles (unrelated traffic evicts TLB entries meanwhile).
    Work { dist: Dist, cycles: u64 },
    /// `spin_lock_irq()` on interrupts-off lock `lock` (None: one drawn uniformly), held for a
    /// drawn time, then `spin_unlock_irq()`.
    IrqSection {
        lock: Option<u32>,
        dist: Dist,
        cycles: u64,
    },
    /// `kmap()` a page into `handle`; `irqs_off` is the chance of the misuse (interrupts
    /// disabled around the call), drawn when given.
    Kmap {
        handle: u8,
        source: PageSource,
        irqs_off: Chance,
    },
    /// Touch the page mapped by `handle`: `lookups` TLB lookups spread over `cycles`, optionally
    /// with interrupts disabled throughout (`local_irq_disable()` ... `local_irq_enable()`).
    Access {
        handle: u8,
        lookups: u64,
        cycles: u64,
        irqs_off: bool,
    },
    /// `kunmap()` the page of `handle`; `irqs_off` as for `Kmap` (ARM's `lock_kmap_any`).
    Kunmap { handle: u8, irqs_off: Chance },
    /// Sleep (I/O) for a drawn time, holding whatever the task holds; the CPU runs another task.
    Block { dist: Dist, cycles: u64 },
    /// `schedule()`: a context switch, to the next runnable task if there is one.
    Yield,
    /// `local_irq_disable()` (`on: false`) or `local_irq_enable()` (`on: true`): while
    /// interrupts are disabled, kmaps and kunmaps are made with interrupts disabled.
    Irqs { on: bool },
    /// The task's replayed call list ended: it exits.
    Exit,
    /// Go back to step `to`, `times` more times, then go on (`counter` is the task's loop slot).
    Repeat { to: u32, times: u32, counter: u8 },
}

/// One step: an operation and the chance that it is taken.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    pub instr: Instr,
    pub prob: Chance,
}

/// One line per workload, for `kmapsim workloads`: the kernel path it stands for.
pub const WORKLOAD_DOCS: &[(&str, &str)] = &[
    (
        "dbench",
        "work, maybe an interrupts-off section, kmap a page (hot with shared_page_prob), copy it, \
         kunmap, maybe a context switch: a file server's generic_file_read/write (the default)",
    ),
    (
        "file-read",
        "tiny reads of a cached file: kmap one of the hot pages, copy a few bytes, kunmap; \
         nearly every kmap finds its page mapped already (file_read_actor)",
    ),
    (
        "pte-highmem",
        "page-table pages in highmem kmapped for long stretches: kmap a private page, touch it, \
         block on I/O holding it, touch it again, kunmap (the 2002 -aa pte-highmem kernels)",
    ),
    (
        "two-page-copy",
        "hold one mapping and ask for a second: kmap src, block, kmap dst, copy, kunmap both \
         (copy_highpage-style callers; deadlocks once the pool runs out)",
    ),
    (
        "irqs-off-access",
        "a page kmapped and touched inside an interrupts-off section: local_irq_disable, kmap, \
         access, kunmap, local_irq_enable (what the 2001 proposal assumed never happens; \
         deadlocks every strategy that waits for IPI acks holding kmap_lock, sync and targeted \
         among them, as ARM's kmap_high did in 2024)",
    ),
    (
        "custom",
        "the scenario's own program: up to 256 steps (work, irq_section, kmap, access, kunmap, \
         block, yield, repeat, irq_disable, irq_enable), 8 handles and 8 repeats",
    ),
];

/// The operation names of a program given as data.
pub const OPS: &[&str] = &[
    "work",
    "irq_section",
    "kmap",
    "access",
    "kunmap",
    "block",
    "yield",
    "repeat",
    "irq_disable",
    "irq_enable",
];

/// The page sources a `kmap` step may name (or a page number).
pub const PAGE_SOURCES: &[&str] = &["mixed", "hot", "cold", "private", "sequential"];

pub use crate::config::ProgramSpec;

/// The compiled program of `sc`: its workload, built in or its own.
pub fn compile(sc: &Scenario) -> Result<Vec<Step>, ConfigError> {
    let steps = match sc.workload {
        Workload::Dbench => dbench(sc),
        Workload::FileRead => file_read(sc),
        Workload::PteHighmem => pte_highmem(sc),
        Workload::TwoPageCopy => two_page_copy(sc),
        Workload::IrqsOffAccess => irqs_off_access(sc),
        Workload::Custom => match &sc.program {
            Some(spec) => parse(spec, sc)?,
            None => {
                return Err(ConfigError::new(
                    "program",
                    "missing with workload = \"custom\"".into(),
                    "a list of steps (docs/model.md, section 16)".into(),
                ));
            }
        },
    };
    check_pages(&steps, sc)?;
    Ok(steps)
}

fn step(instr: Instr) -> Step {
    Step {
        instr,
        prob: Chance::NONE,
    }
}

fn maybe(prob: f64, instr: Instr) -> Step {
    Step {
        instr,
        prob: Chance::of(prob),
    }
}

fn work(sc: &Scenario) -> Step {
    step(Instr::Work {
        dist: sc.work_dist,
        cycles: sc.work_cycles,
    })
}

fn access(sc: &Scenario, handle: u8, irqs_off: bool) -> Step {
    step(Instr::Access {
        handle,
        lookups: sc.copy_lookups,
        cycles: sc.copy_cycles,
        irqs_off,
    })
}

fn kmap(handle: u8, source: PageSource, sc: &Scenario) -> Step {
    step(Instr::Kmap {
        handle,
        source,
        irqs_off: Chance::of(sc.kmap_irqs_off_prob),
    })
}

fn kunmap(handle: u8) -> Step {
    step(Instr::Kunmap {
        handle,
        irqs_off: Chance::NONE,
    })
}

fn irq_section(sc: &Scenario) -> Step {
    maybe(
        sc.irq_section_prob,
        Instr::IrqSection {
            lock: None,
            dist: sc.irq_hold_dist,
            cycles: sc.irq_hold_cycles,
        },
    )
}

fn block(sc: &Scenario) -> Step {
    step(Instr::Block {
        dist: Dist::Exponential,
        cycles: sc.block_cycles,
    })
}

/// docs/model.md, section 3: the loop every CPU ran before tasks existed, draw for draw.
fn dbench(sc: &Scenario) -> Vec<Step> {
    let hot = PageSource::Mixed;
    vec![
        work(sc),
        irq_section(sc),
        kmap(0, hot, sc),
        access(sc, 0, false),
        kunmap(0),
        maybe(sc.ctx_switch_prob, Instr::Yield),
    ]
}

/// Small reads of a cached file: one lookup of a hot page, a sixteenth of a page copied.
fn file_read(sc: &Scenario) -> Vec<Step> {
    vec![
        work(sc),
        kmap(0, PageSource::Hot, sc),
        step(Instr::Access {
            handle: 0,
            lookups: 1,
            cycles: (sc.copy_cycles / 16).max(1),
            irqs_off: false,
        }),
        kunmap(0),
        maybe(sc.ctx_switch_prob, Instr::Yield),
    ]
}

/// A page-table page kmapped across a fault that blocks.
fn pte_highmem(sc: &Scenario) -> Vec<Step> {
    vec![
        work(sc),
        kmap(0, PageSource::Private, sc),
        access(sc, 0, false),
        block(sc),
        access(sc, 0, false),
        kunmap(0),
        maybe(sc.ctx_switch_prob, Instr::Yield),
    ]
}

/// Hold a source mapping, block, then ask for a destination mapping.
fn two_page_copy(sc: &Scenario) -> Vec<Step> {
    vec![
        work(sc),
        kmap(0, PageSource::Private, sc),
        block(sc),
        kmap(1, PageSource::Private, sc),
        access(sc, 0, false),
        access(sc, 1, false),
        kunmap(1),
        kunmap(0),
    ]
}

/// A page kmapped and touched inside one interrupts-off section.
fn irqs_off_access(sc: &Scenario) -> Vec<Step> {
    let hot = PageSource::Mixed;
    vec![
        work(sc),
        step(Instr::Irqs { on: false }),
        kmap(0, hot, sc),
        access(sc, 0, false),
        kunmap(0),
        step(Instr::Irqs { on: true }),
        maybe(sc.ctx_switch_prob, Instr::Yield),
    ]
}

/// The pages a task may use under `Private`/`Sequential`: each task's share of the cold pages.
pub fn private_pages(sc: &Scenario) -> u64 {
    (sc.pages - sc.hot_pages) / sc.task_count()
}

/// Every page source must have pages to draw from in this scenario.
fn check_pages(steps: &[Step], sc: &Scenario) -> Result<(), ConfigError> {
    for (i, s) in steps.iter().enumerate() {
        let Instr::Kmap { source, .. } = s.instr else {
            continue;
        };
        let field = format!("{} step {i} (kmap): page", sc.workload_field());
        let cold = sc.pages - sc.hot_pages;
        // The problem, and what the scenario would need for the step to have a page.
        let (problem, needs) = match source {
            PageSource::Hot if sc.hot_pages == 0 => (
                "\"hot\" with hot_pages = 0".to_string(),
                "hot_pages >= 1".to_string(),
            ),
            PageSource::Cold if cold == 0 => (
                "\"cold\" with no cold page".into(),
                "pages > hot_pages".into(),
            ),
            PageSource::Private | PageSource::Sequential if private_pages(sc) == 0 => {
                let pages = if cold == 1 { "page" } else { "pages" };
                (
                    format!(
                        "the task's own pages with {cold} cold {pages} for {} tasks",
                        sc.task_count()
                    ),
                    "pages - hot_pages >= tasks".into(),
                )
            }
            PageSource::Page(p) if p as u64 >= sc.pages => (format!("{p}"), format!("pages > {p}")),
            _ => continue,
        };
        // A built-in workload's steps are not the user's to change: the scenario is.
        let allowed = match sc.workload {
            crate::config::Workload::Custom => format!(
                "one of {} with pages to draw from (private: pages - hot_pages >= tasks), or a \
                 page below pages = {}",
                PAGE_SOURCES.join(", "),
                sc.pages
            ),
            _ => format!("a scenario with {needs}, which this workload's step needs"),
        };
        return Err(ConfigError::new(&field, problem, allowed));
    }
    Ok(())
}

/// A program in its one-line form: steps separated by `;` (or newlines), each an operation and
/// its `field=value` pairs, e.g. `kmap handle=src page=private; block cycles=100000; kunmap
/// handle=src`. Values are integers, floats, `true`/`false` (1/0) or else strings. Only the
/// shape is checked here (each pair has one `=`); `parse` checks the steps themselves.
pub fn from_text(text: &str) -> Result<ProgramSpec, ConfigError> {
    let mut spec = Vec::new();
    for (i, step) in text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let mut words = step.split_whitespace();
        let op = words.next().unwrap_or_default();
        let mut pairs = vec![("op".to_string(), Value::Str(op.to_string()))];
        for word in words {
            let Some((k, v)) = word
                .split_once('=')
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            else {
                return Err(ConfigError::new(
                    &format!("program step {i} ({})", shown(op)),
                    format!("{} is not field=value", shown(word)),
                    "an operation and field=value pairs, e.g. \"kmap handle=src page=hot\"".into(),
                ));
            };
            if pairs.iter().any(|(given, _)| given == k) {
                return Err(ConfigError::new(
                    &format!("program step {i} ({})", shown(op)),
                    format!("{} is given twice", shown(k)),
                    "each field at most once (and the operation only as the first word)".into(),
                ));
            }
            pairs.push((k.to_string(), text_value(v)));
        }
        spec.push(pairs);
    }
    hold_flags(&mut spec);
    Ok(spec)
}

/// The one step field that takes `true` or `false`: interrupts disabled around an access, or
/// the chance of it around a kmap or kunmap (always or never).
const FLAG: &str = "irqs_off";

/// Hold every `irqs_off` given as `true` or `false` as 1 or 0, so that a program reads the
/// same however its flags were written (text, Python bools, integers). A bool in any other
/// field is left for the step's parser, which refuses it: `true` is never a handle, a count
/// or a chance of a step.
pub fn hold_flags(spec: &mut ProgramSpec) {
    for (k, v) in spec.iter_mut().flatten() {
        if let (FLAG, Value::Bool(b)) = (k.as_str(), &*v) {
            *v = Value::Int(*b as i128);
        }
    }
}

/// A value of the one-line form: `true`/`false`, else as a command line's (`Value::from_text`:
/// digits grouped by underscores too).
fn text_value(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::from_text(v),
    }
}

/// The one-line form of a program (`from_text` reads it back to the same steps, provided its
/// strings hold no space, `;` or `=`).
pub fn to_text(spec: &ProgramSpec) -> String {
    let steps: Vec<String> = spec
        .iter()
        .map(|pairs| {
            let op = pairs.iter().find(|(k, _)| k == "op");
            let mut words: Vec<String> = op.map(|(_, v)| value_text(v)).into_iter().collect();
            for (k, v) in pairs.iter().filter(|(k, _)| k != "op") {
                words.push(format!("{k}={}", value_text(v)));
            }
            words.join(" ")
        })
        .collect();
    steps.join("; ")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
    }
}

/// Compile a program given as data, naming the step and field of any error.
pub fn parse(spec: &ProgramSpec, sc: &Scenario) -> Result<Vec<Step>, ConfigError> {
    if spec.is_empty() || spec.len() > MAX_STEPS {
        return Err(ConfigError::new(
            "program",
            format!("{} steps", spec.len()),
            format!("1 to {MAX_STEPS} steps, at least one of them a kmap"),
        ));
    }
    let mut p = Parser {
        sc,
        handles: Vec::new(),
        repeats: 0,
    };
    let steps = spec
        .iter()
        .enumerate()
        .map(|(i, fields)| p.step(i, fields))
        .collect::<Result<Vec<_>, _>>()?;
    // A kmap always taken: the watchdog counts kmaps and kunmaps as progress, and a program
    // whose every step may be skipped could loop forever within one cycle.
    if !steps
        .iter()
        .any(|s| matches!(s.instr, Instr::Kmap { .. }) && s.prob.get().is_none_or(|p| p >= 1.0))
    {
        return Err(ConfigError::new(
            "program",
            "no kmap step that is always taken".into(),
            "a program with at least one kmap without a chance below 1 (prob) (the watchdog \
             counts kmaps and kunmaps as progress, and every iteration must take time)"
                .into(),
        ));
    }
    Ok(steps)
}

/// The fields each operation takes (besides `op` and `prob`).
fn fields_of(op: &str) -> &'static [&'static str] {
    match op {
        "work" | "block" => &["cycles", "dist"],
        "irq_section" => &["lock", "cycles", "dist"],
        "kmap" => &["handle", "page", "irqs_off"],
        "access" => &["handle", "lookups", "cycles", "irqs_off"],
        "kunmap" => &["handle", "irqs_off"],
        "repeat" => &["to", "times"],
        _ => &[],
    }
}

struct Parser<'a> {
    sc: &'a Scenario,
    handles: Vec<String>,
    repeats: usize,
}

/// One step's fields, looked up by name, each error naming the step and the field.
struct Fields<'a> {
    at: String,
    pairs: &'a [(String, Value)],
}

impl Fields<'_> {
    fn err(&self, field: &str, problem: String, allowed: String) -> ConfigError {
        ConfigError::new(&format!("{}: {field}", self.at), problem, allowed)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    fn int(&self, name: &str, min: u64, max: u64, default: u64) -> Result<u64, ConfigError> {
        let allowed = || format!("an integer in [{min}, {max}]");
        match self.get(name) {
            None => Ok(default),
            Some(Value::Int(i)) if *i >= min as i128 && *i <= max as i128 => Ok(*i as u64),
            // Even a whole float is refused, as for the scenario's integer fields.
            Some(Value::Float(f)) if crate::config::plainly_float(*f, min, max) => Err(self.err(
                name,
                format!("got a float {f:?}, not an integer"),
                allowed(),
            )),
            Some(v) => Err(self.err(name, describe(v), allowed())),
        }
    }

    fn prob(&self, name: &str) -> Result<Option<f64>, ConfigError> {
        let allowed = || match name {
            FLAG => "a probability in [0, 1], or true or false".to_string(),
            _ => "a probability in [0, 1]".to_string(),
        };
        match self.get(name) {
            None => Ok(None),
            // A chance given as always or never (`irqs_off=true` on a kmap).
            Some(Value::Bool(b)) if name == FLAG => Ok(Some(*b as u8 as f64)),
            Some(Value::Int(i)) if *i == 0 || *i == 1 => Ok(Some(*i as f64)),
            Some(Value::Float(f)) if (0.0..=1.0).contains(f) => Ok(Some(*f)),
            Some(v) => Err(self.err(name, describe(v), allowed())),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Int(i)) if *i == 0 || *i == 1 => Ok(*i == 1),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.err(name, describe(v), "true or false".into())),
        }
    }

    fn dist(&self, default: Dist) -> Result<Dist, ConfigError> {
        match self.get("dist") {
            None => Ok(default),
            Some(Value::Str(s)) if Dist::parse(s).is_some() => Ok(Dist::parse(s).unwrap()),
            Some(v) => {
                let hint = match v {
                    Value::Str(s) => did_you_mean(s, Dist::NAMES),
                    _ => String::new(),
                };
                Err(self.err(
                    "dist",
                    describe(v) + &hint,
                    format!("one of {}", Dist::NAMES.join(", ")),
                ))
            }
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Int(i) => format!("{i} is not allowed"),
        // A number past the largest float (300-odd digits) reads as infinite.
        Value::Float(f) if f.is_infinite() => {
            format!("{f:?} (past the largest float) is not allowed")
        }
        Value::Float(f) => format!("{f:?} is not allowed"),
        Value::Str(s) => format!("{} is not allowed", shown(s)),
        Value::Bool(b) => format!("{b} (a bool) is not allowed"),
    }
}

impl Parser<'_> {
    fn step(&mut self, i: usize, pairs: &[(String, Value)]) -> Result<Step, ConfigError> {
        let op = match pairs.iter().find(|(k, _)| k == "op").map(|(_, v)| v) {
            Some(Value::Str(s)) if OPS.contains(&s.as_str()) => s.as_str(),
            other => {
                let problem = match other {
                    None => "missing".to_string(),
                    Some(Value::Str(s)) => {
                        format!("unknown op {}{}", shown(s), did_you_mean(s, OPS))
                    }
                    Some(v) => describe(v),
                };
                return Err(ConfigError::new(
                    &format!("program step {i}: op"),
                    problem,
                    format!("one of {}", OPS.join(", ")),
                ));
            }
        };
        let f = Fields {
            at: format!("program step {i} ({op})"),
            pairs,
        };
        for (k, _) in pairs {
            if k != "op" && k != "prob" && !fields_of(op).contains(&k.as_str()) {
                let mut known = vec!["op", "prob"];
                known.extend_from_slice(fields_of(op));
                return Err(f.err(
                    k,
                    format!("unknown field{}", did_you_mean(k, &known)),
                    format!("one of {}", known.join(", ")),
                ));
            }
        }
        let prob = Chance::from_option(f.prob("prob")?);
        let instr = self.instr(op, &f, i)?;
        Ok(Step { instr, prob })
    }

    fn instr(&mut self, op: &str, f: &Fields, i: usize) -> Result<Instr, ConfigError> {
        let sc = self.sc;
        let big = MAX_DURATION;
        Ok(match op {
            "work" => Instr::Work {
                dist: f.dist(sc.work_dist)?,
                cycles: f.int("cycles", 1, big, sc.work_cycles)?,
            },
            "block" => Instr::Block {
                dist: f.dist(Dist::Exponential)?,
                cycles: f.int("cycles", 1, big, sc.block_cycles)?,
            },
            "irq_section" => {
                if sc.irq_locks == 0 {
                    return Err(f.err(
                        "op",
                        "irq_section with irq_locks = 0".into(),
                        "irq_locks >= 1 for a program with an irq_section".into(),
                    ));
                }
                Instr::IrqSection {
                    lock: match f.get("lock") {
                        None => None,
                        Some(_) => Some(f.int("lock", 0, sc.irq_locks - 1, 0)? as u32),
                    },
                    dist: f.dist(sc.irq_hold_dist)?,
                    cycles: f.int("cycles", 1, big, sc.irq_hold_cycles)?,
                }
            }
            "kmap" => Instr::Kmap {
                handle: self.handle(f)?,
                source: self.source(f)?,
                irqs_off: Chance::from_option(f.prob("irqs_off")?),
            },
            "access" => {
                let cycles = f.int("cycles", 1, big, sc.copy_cycles)?;
                Instr::Access {
                    handle: self.handle(f)?,
                    lookups: f.int("lookups", 1, cycles.min(4096), sc.copy_lookups.min(cycles))?,
                    cycles,
                    irqs_off: f.flag("irqs_off")?,
                }
            }
            "kunmap" => Instr::Kunmap {
                handle: self.handle(f)?,
                irqs_off: Chance::from_option(f.prob("irqs_off")?),
            },
            "yield" => Instr::Yield,
            "irq_disable" => Instr::Irqs { on: false },
            "irq_enable" => Instr::Irqs { on: true },
            "repeat" => self.repeat(f, i)?,
            _ => unreachable!("ops are checked in step()"),
        })
    }

    fn repeat(&mut self, f: &Fields, i: usize) -> Result<Instr, ConfigError> {
        if f.get("to").is_none() {
            return Err(f.err(
                "to",
                "missing".into(),
                format!(
                    "the index of an earlier step, in [0, {}]",
                    i.saturating_sub(1)
                ),
            ));
        }
        if i == 0 {
            return Err(f.err(
                "to",
                "a repeat as the first step".into(),
                "a repeat after the steps it repeats".into(),
            ));
        }
        let to = f.int("to", 0, i as u64 - 1, 0)? as u32;
        let times = f.int("times", 1, u32::MAX as u64, 1)? as u32;
        if self.repeats == MAX_REPEATS {
            return Err(f.err(
                "op",
                format!("more than {MAX_REPEATS} repeat steps"),
                format!("at most {MAX_REPEATS} repeat steps in a program"),
            ));
        }
        self.repeats += 1;
        Ok(Instr::Repeat {
            to,
            times,
            counter: (self.repeats - 1) as u8,
        })
    }

    /// A handle's number: names are numbered in order of first use.
    fn handle(&mut self, f: &Fields) -> Result<u8, ConfigError> {
        let name = match f.get("handle") {
            None => "page".to_string(),
            Some(Value::Str(s)) if !s.is_empty() && s.len() <= 64 => s.clone(),
            Some(Value::Int(i)) if (0..MAX_HANDLES as i128).contains(i) => i.to_string(),
            Some(v) => {
                return Err(f.err(
                    "handle",
                    describe(v),
                    format!("a name (1 to 64 characters) or a number below {MAX_HANDLES}"),
                ));
            }
        };
        if let Some(h) = self.handles.iter().position(|n| *n == name) {
            return Ok(h as u8);
        }
        if self.handles.len() == MAX_HANDLES {
            return Err(f.err(
                "handle",
                format!("a {}th handle {}", MAX_HANDLES + 1, shown(&name)),
                format!("at most {MAX_HANDLES} handles (mappings a task holds at once)"),
            ));
        }
        self.handles.push(name);
        Ok((self.handles.len() - 1) as u8)
    }

    fn source(&self, f: &Fields) -> Result<PageSource, ConfigError> {
        let allowed = || {
            format!(
                "one of {} or a page number below pages = {}",
                PAGE_SOURCES.join(", "),
                self.sc.pages
            )
        };
        Ok(match f.get("page") {
            None => PageSource::Mixed,
            Some(Value::Str(s)) => match s.as_str() {
                "mixed" => PageSource::Mixed,
                "hot" => PageSource::Hot,
                "cold" => PageSource::Cold,
                "private" => PageSource::Private,
                "sequential" => PageSource::Sequential,
                _ => {
                    let problem = describe(&Value::Str(s.clone())) + &did_you_mean(s, PAGE_SOURCES);
                    return Err(f.err("page", problem, allowed()));
                }
            },
            Some(Value::Int(p)) if *p >= 0 && *p < i128::from(self.sc.pages) => {
                PageSource::Page(*p as u32)
            }
            Some(v) => return Err(f.err("page", describe(v), allowed())),
        })
    }
}

/// A program written tersely, for tests.
#[cfg(test)]
pub(crate) fn spec(steps: &[&[(&str, Value)]]) -> ProgramSpec {
    steps
        .iter()
        .map(|s| s.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn every_builtin_compiles_on_the_defaults() {
        for w in Workload::NAMES.iter().filter(|w| **w != "custom") {
            let sc = Scenario {
                workload: Workload::parse(w).unwrap(),
                ..Scenario::default()
            };
            let steps = compile(&sc).unwrap();
            assert!(
                steps.iter().any(|s| matches!(s.instr, Instr::Kmap { .. })),
                "{w}"
            );
        }
        let names: Vec<&str> = WORKLOAD_DOCS.iter().map(|d| d.0).collect();
        assert_eq!(names, Workload::NAMES);
    }

    #[test]
    fn a_program_names_handles_and_defaults_from_the_scenario() {
        let sc = Scenario::default();
        let p = spec(&[
            &[("op", s("kmap")), ("handle", s("src")), ("page", s("hot"))],
            &[
                ("op", s("kmap")),
                ("handle", s("dst")),
                ("page", Value::Int(7)),
            ],
            &[("op", s("access")), ("handle", s("dst"))],
            &[
                ("op", s("repeat")),
                ("to", Value::Int(2)),
                ("times", Value::Int(3)),
            ],
            &[
                ("op", s("kunmap")),
                ("handle", s("src")),
                ("prob", Value::Float(0.5)),
            ],
        ]);
        let steps = parse(&p, &sc).unwrap();
        assert_eq!(
            steps[2].instr,
            Instr::Access {
                handle: 1,
                lookups: sc.copy_lookups,
                cycles: sc.copy_cycles,
                irqs_off: false
            }
        );
        assert_eq!(
            steps[1].instr,
            Instr::Kmap {
                handle: 1,
                source: PageSource::Page(7),
                irqs_off: Chance::NONE
            }
        );
        assert_eq!(steps[4].prob.get(), Some(0.5));
    }

    #[test]
    fn errors_name_the_step_and_the_field() {
        let sc = Scenario::default();
        let cases: Vec<(ProgramSpec, &str)> = vec![
            (spec(&[&[("op", s("kmapp"))]]), "program step 0: op"),
            (
                spec(&[&[("op", s("kmap")), ("page", s("warm"))]]),
                "program step 0 (kmap): page",
            ),
            (
                spec(&[
                    &[("op", s("kmap"))],
                    &[("op", s("work")), ("cycles", Value::Int(0))],
                ]),
                "program step 1 (work): cycles",
            ),
            (
                spec(&[&[("op", s("kmap")), ("colour", Value::Int(1))]]),
                "program step 0 (kmap): colour",
            ),
            (
                spec(&[
                    &[("op", s("kmap"))],
                    &[("op", s("repeat")), ("to", Value::Int(1))],
                ]),
                "program step 1 (repeat): to",
            ),
            (spec(&[&[("op", s("work"))]]), "program"),
            (spec(&[]), "program"),
        ];
        for (p, field) in cases {
            let e = parse(&p, &sc).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
        let e = parse(&spec(&[&[("op", s("kmapp"))]]), &sc).unwrap_err();
        assert!(e.problem.contains("did you mean \"kmap\""), "{e}");
    }

    /// `true` and `false` are flags: only `irqs_off` takes one (held as 1 or 0); in any other
    /// field, text or Python bool, it is refused with the step and the field, never read as 1.
    #[test]
    fn a_bool_is_a_flag_and_nothing_else() {
        let sc = Scenario::default();
        let refused = [
            ("kmap handle=true", "program step 0 (kmap): handle"),
            ("kmap prob=true", "program step 0 (kmap): prob"),
            ("kmap page=false", "program step 0 (kmap): page"),
            (
                "kmap; access handle=page lookups=true",
                "program step 1 (access): lookups",
            ),
            ("kmap; work cycles=true", "program step 1 (work): cycles"),
            ("kmap; block dist=true", "program step 1 (block): dist"),
            (
                "kmap; irq_section lock=false",
                "program step 1 (irq_section): lock",
            ),
            (
                "kmap; repeat to=0 times=true",
                "program step 1 (repeat): times",
            ),
            ("kmap; repeat to=false", "program step 1 (repeat): to"),
        ];
        for (text, field) in refused {
            let e = parse(&from_text(text).unwrap(), &sc).unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
            assert!(e.problem.contains("(a bool) is not allowed"), "{text}: {e}");
        }
        // A number too long for any integer or float is said to be so, not shown as "inf".
        let nines = "9".repeat(400);
        let e = parse(
            &from_text(&format!("kmap; work cycles={nines}")).unwrap(),
            &sc,
        )
        .unwrap_err();
        assert_eq!(
            e.problem, "inf (past the largest float) is not allowed",
            "{e}"
        );
        // A whole float is no integer here either.
        let e = parse(&from_text("kmap; work cycles=500.0").unwrap(), &sc).unwrap_err();
        assert_eq!(e.problem, "got a float 500.0, not an integer", "{e}");
        let p =
            from_text("kmap irqs_off=true; access irqs_off=false; kunmap irqs_off=false").unwrap();
        let held: Vec<&Value> = p.iter().map(|step| &step[1].1).collect();
        assert_eq!(held, [&Value::Int(1), &Value::Int(0), &Value::Int(0)]);
        let steps = parse(&p, &sc).unwrap();
        assert!(
            matches!(steps[0].instr, Instr::Kmap { irqs_off, .. } if irqs_off.get() == Some(1.0))
        );
        assert!(matches!(
            steps[1].instr,
            Instr::Access {
                irqs_off: false,
                ..
            }
        ));
        // A program built in Rust with a bool left unheld still reads it as the flag.
        let unheld = spec(&[
            &[("op", s("access")), ("irqs_off", Value::Bool(true))],
            &[("op", s("kmap"))],
        ]);
        assert!(matches!(
            parse(&unheld, &sc).unwrap()[0].instr,
            Instr::Access { irqs_off: true, .. }
        ));
    }

    #[test]
    fn the_one_line_form_reads_back() {
        let text = "work cycles=500; kmap handle=src page=private irqs_off=0.5; \
                    access handle=src irqs_off=true; kunmap handle=src";
        let p = from_text(text).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[1][3], ("irqs_off".to_string(), Value::Float(0.5)));
        assert_eq!(p[2][2], ("irqs_off".to_string(), Value::Int(1)));
        assert_eq!(from_text(&to_text(&p)).unwrap(), p);
        parse(&p, &Scenario::default()).unwrap();
        let e = from_text("kmap handle").unwrap_err();
        assert_eq!(e.field, "program step 0 (\"kmap\")");
    }

    #[test]
    fn private_pages_need_enough_cold_pages() {
        let sc = Scenario {
            workload: Workload::PteHighmem,
            pages: 300,
            hot_pages: 256,
            tasks: 64,
            ..Scenario::default()
        };
        let e = compile(&sc).unwrap_err();
        assert!(e.field.contains("step 1 (kmap): page"), "{e}");
    }

    /// Digits grouped by underscores read as in Python, TOML and `--set`; an underscore
    /// anywhere else leaves the text a string, which the step's parser refuses.
    #[test]
    fn the_one_line_form_reads_grouped_digits() {
        let v = |t: &str| {
            from_text(&format!("work cycles={t}")).unwrap()[0][1]
                .1
                .clone()
        };
        assert_eq!(v("1_000_000"), Value::Int(1_000_000));
        assert_eq!(v("2_500.5"), Value::Float(2500.5));
        for bad in ["1__000", "_1000", "1000_", "1_e3", "a1_2", "p1_2x"] {
            assert_eq!(v(bad), Value::Str(bad.into()), "{bad}");
        }
    }
}
