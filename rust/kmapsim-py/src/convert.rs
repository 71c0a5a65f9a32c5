//! Python values in, Python values out. Nothing here simulates.

use kmapsim_core::trace::FieldValue;
use kmapsim_core::workload::ProgramSpec;
use kmapsim_core::{ConfigError, FIELDS, Kind, RunReport, Scenario, Snapshot, Value};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyType};

/// A Python object as a scenario value, or a ConfigError naming `field`.
pub fn value(field: &str, obj: &Bound<'_, PyAny>) -> Result<Value, ConfigError> {
    let bad = |what: String| {
        let allowed = FIELDS
            .iter()
            .find(|f| f.name == field)
            .map(|f| allowed(f.kind))
            .unwrap_or_else(|| "a number or string".into());
        ConfigError::new(field, what, allowed)
    };
    // bool is an int subclass in Python; True is never a CPU count.
    if is_bool(obj) {
        return Err(bad("got a bool".into()));
    }
    // An array is not a scalar, even a 0-D one that converts to one: refused here as the Python
    // layer refuses it (kmapsim._numbers), so that a program step takes what a field takes.
    if is_array(obj) {
        return Err(bad(
            "got a numpy array, which is no scalar even when 0-D (give value.item())".into(),
        ));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj
            .extract::<i128>()
            .map(Value::Int)
            .map_err(|_| bad("the integer is too large".into()));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Value::Float(
            obj.extract::<f64>()
                .map_err(|_| bad("not a float".into()))?,
        ));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Str(s.to_string()));
    }
    if let Some(v) = number_like(obj) {
        return v.map_err(bad);
    }
    let ty = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(bad(format!("got an object of type {ty}")))
}

/// Any other object that behaves as a number (numpy scalars, `Fraction`): an integer through
/// `__index__`, else a float through `__float__`. Booleans of any kind are not numbers here.
fn number_like(obj: &Bound<'_, PyAny>) -> Option<Result<Value, String>> {
    let ty = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    if obj.hasattr("__index__").unwrap_or(false) {
        let i = obj
            .call_method0("__index__")
            .and_then(|i| i.extract::<i128>());
        return Some(
            i.map(Value::Int)
                .map_err(|_| "the integer is too large".into()),
        );
    }
    if obj.hasattr("__float__").unwrap_or(false) {
        let f = obj
            .call_method0("__float__")
            .and_then(|f| f.extract::<f64>());
        return Some(
            f.map(Value::Float)
                .map_err(|_| format!("{ty} is not a float")),
        );
    }
    None
}

/// Whether `obj` is a bool of any kind: Python's, or one whose type is named so (numpy's
/// `bool_`, which is no int subclass).
fn is_bool(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyBool>()
        || obj
            .get_type()
            .name()
            .is_ok_and(|n| n.to_string().contains("bool"))
}

/// Whether `obj` is a numpy array, or of a subclass of one.
fn is_array(obj: &Bound<'_, PyAny>) -> bool {
    obj.get_type().mro().iter().any(|t| {
        t.cast::<PyType>()
            .is_ok_and(|t| t.fully_qualified_name().is_ok_and(|n| n == "numpy.ndarray"))
    })
}

/// Human description of a field's allowed values.
pub fn allowed(kind: Kind) -> String {
    match kind {
        Kind::Int { min, max } => format!("an integer in [{min}, {max}]"),
        Kind::Float { min, max } => format!("a number in [{min}, {max}]"),
        Kind::Choice(names) => format!("one of {}", names.join(", ")),
    }
}

/// A scenario from a dict of field values (missing fields take their defaults), and a
/// `program` key: None, or a list of steps, each a dict of its fields.
pub fn scenario(d: &Bound<'_, PyDict>) -> Result<Scenario, ConfigError> {
    let mut pairs = Vec::with_capacity(d.len());
    let mut program = None;
    for (k, v) in d.iter() {
        let key: String = k.extract().map_err(|_| {
            ConfigError::new(
                "<key>",
                "scenario keys must be strings".into(),
                "field names".into(),
            )
        })?;
        if key == "program" {
            program = program_spec(&v)?;
            continue;
        }
        let val = value(&key, &v)?;
        pairs.push((key, val));
    }
    Scenario::from_parts(pairs.iter().map(|(k, v)| (k.as_str(), v.clone())), program)
}

/// A program as given: None, or a list (or tuple) of dicts (or of `(field, value)` pairs).
fn program_spec(obj: &Bound<'_, PyAny>) -> Result<Option<ProgramSpec>, ConfigError> {
    if obj.is_none() {
        return Ok(None);
    }
    let allowed = || {
        "a list of steps, each a dict such as {\"op\": \"kmap\", \"handle\": \"src\"}, or \
         the one-line form, a string such as \"kmap handle=0 page=cold; access handle=0; \
         kunmap handle=0\""
            .to_string()
    };
    let steps: Vec<Bound<'_, PyAny>> = match obj.extract() {
        Ok(steps) if !obj.is_instance_of::<PyString>() && !obj.is_instance_of::<PyDict>() => steps,
        _ => return Err(ConfigError::new("program", "not a list".into(), allowed())),
    };
    let mut spec = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let fields: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = match step.cast::<PyDict>() {
            Ok(d) => d.iter().collect(),
            Err(_) => step.extract().map_err(|_| {
                ConfigError::new(&format!("program step {i}"), "not a dict".into(), allowed())
            })?,
        };
        let mut pairs = Vec::with_capacity(fields.len());
        for (k, v) in fields {
            let key: String = k.extract().map_err(|_| {
                ConfigError::new(
                    &format!("program step {i}"),
                    "a field name that is not a string".into(),
                    "string field names".into(),
                )
            })?;
            let at = format!("program step {i}: {key}");
            let val = step_value(&at, &v)?;
            pairs.push((key, val));
        }
        spec.push(pairs);
    }
    Ok(Some(spec))
}

/// A program step's value. A bool (Python's or numpy's) is held as one: the step's parser
/// takes it where a flag is meant and refuses it elsewhere (`True` is never a handle or a
/// count). An integer too large for the core is passed on as the float nearest it, so that the
/// parser refuses it naming the step's op and field and their allowed values.
fn step_value(at: &str, v: &Bound<'_, PyAny>) -> Result<Value, ConfigError> {
    if is_bool(v) {
        return Ok(Value::Bool(v.is_truthy().unwrap_or(false)));
    }
    if v.is_instance_of::<PyInt>() && v.extract::<i128>().is_err() {
        let negative = v.lt(0).unwrap_or(false);
        let f = v.extract::<f64>().unwrap_or(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
        return Ok(Value::Float(f));
    }
    value(at, v)
}

pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => f.into_pyobject(py)?.into_any(),
        Value::Str(s) => s.into_pyobject(py)?.into_any(),
        Value::Bool(b) => pyo3::types::PyBool::new(py, *b).to_owned().into_any(),
    })
}

pub fn scenario_to_dict<'py>(py: Python<'py>, sc: &Scenario) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in sc.pairs() {
        d.set_item(k, value_to_py(py, &v)?)?;
    }
    if let Some(spec) = &sc.program {
        d.set_item("program", program_to_list(py, spec)?)?;
    }
    Ok(d)
}

/// A program as a list of steps, each a dict of its fields in the order given.
pub fn program_to_list<'py>(py: Python<'py>, spec: &ProgramSpec) -> PyResult<Bound<'py, PyList>> {
    let steps = PyList::empty(py);
    for step in spec {
        let s = PyDict::new(py);
        for (k, v) in step {
            s.set_item(k, value_to_py(py, v)?)?;
        }
        steps.append(s)?;
    }
    Ok(steps)
}

pub fn field_specs<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
    let defaults = Scenario::default();
    let out = PyList::empty(py);
    for f in FIELDS {
        let d = PyDict::new(py);
        d.set_item("name", f.name)?;
        let (kind, min, max, choices): (&str, Option<Value>, Option<Value>, Option<Vec<&str>>) =
            match f.kind {
                Kind::Int { min, max } => (
                    "int",
                    Some(Value::Int(min as i128)),
                    Some(Value::Int(max as i128)),
                    None,
                ),
                Kind::Float { min, max } => (
                    "float",
                    Some(Value::Float(min)),
                    Some(Value::Float(max)),
                    None,
                ),
                Kind::Choice(names) => ("choice", None, None, Some(names.to_vec())),
            };
        d.set_item("kind", kind)?;
        d.set_item("min", min.map(|v| value_to_py(py, &v)).transpose()?)?;
        d.set_item("max", max.map(|v| value_to_py(py, &v)).transpose()?)?;
        d.set_item("choices", choices)?;
        d.set_item("unit", f.unit)?;
        d.set_item("doc", f.doc)?;
        let def = defaults.get(f.name).expect("every field has a default");
        d.set_item("default", value_to_py(py, &def)?)?;
        out.append(d)?;
    }
    Ok(out)
}

/// The parts of a report as plain Python containers.
pub struct ReportObjects {
    pub counters: Py<PyDict>,
    pub breakdown: Py<PyList>,
    pub task_breakdown: Py<PyList>,
    pub histograms: Py<PyDict>,
    pub lock_stats: Py<PyList>,
    pub violations: Py<PyList>,
    pub trace: Py<PyList>,
}

/// One dict per lock: its name, lockmeter's exact sums and the figures derived from them
/// (`LockStat::figures`), in cycles.
fn lock_stats<'py>(py: Python<'py>, r: &RunReport) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let cpus = r.breakdown.len() as u64;
    for (l, s) in r.lock_stats.iter().enumerate() {
        let d = PyDict::new(py);
        let f = s.figures(r.cycles, cpus);
        d.set_item("lock", kmapsim_core::lock_name(l as u32))?;
        d.set_item("acquisitions", s.acquisitions)?;
        d.set_item("contended", s.contended)?;
        d.set_item("releases", s.releases)?;
        d.set_item("hold_sum", s.hold_sum)?;
        d.set_item("hold_max", s.hold_max)?;
        d.set_item("wait_sum", s.wait_sum)?;
        d.set_item("wait_max", s.wait_max)?;
        d.set_item("open_hold", s.open_hold)?;
        d.set_item("open_wait", s.open_wait)?;
        d.set_item("open_wait_max", s.open_wait_max)?;
        d.set_item("contended_pct", f.contended_pct)?;
        d.set_item("util_pct", f.util_pct)?;
        d.set_item("hold_mean_cycles", f.hold_mean_cycles)?;
        d.set_item("hold_max_cycles", f.hold_max_cycles)?;
        d.set_item("wait_mean_cycles", f.wait_mean_cycles)?;
        d.set_item("wait_max_cycles", f.wait_max_cycles)?;
        d.set_item("spin_cpu_pct", f.spin_cpu_pct)?;
        out.append(d)?;
    }
    Ok(out)
}

pub fn report(py: Python<'_>, r: &RunReport) -> PyResult<ReportObjects> {
    let counters = PyDict::new(py);
    for (k, v) in r.counters.pairs() {
        counters.set_item(k, v)?;
    }
    let breakdown = PyList::empty(py);
    for row in &r.breakdown {
        breakdown.append(row.to_vec())?;
    }
    let task_breakdown = PyList::empty(py);
    for row in &r.task_breakdown {
        task_breakdown.append(row.to_vec())?;
    }
    let histograms = PyDict::new(py);
    for (name, h) in r.histograms.pairs() {
        let d = PyDict::new(py);
        d.set_item("counts", h.counts.to_vec())?;
        d.set_item("count", h.count)?;
        d.set_item("sum", h.sum)?;
        d.set_item("min", h.min)?;
        d.set_item("max", h.max)?;
        histograms.set_item(name, d)?;
    }
    let lock_stats = lock_stats(py, r)?;
    let violations = PyList::empty(py);
    for v in &r.violations {
        let d = PyDict::new(py);
        d.set_item("cycle", v.cycle)?;
        d.set_item("cpu", v.cpu)?;
        d.set_item("slot", v.slot)?;
        d.set_item("expected_page", v.expected_page)?;
        d.set_item("actual_page", v.actual_page)?;
        d.set_item("entry_loaded_at", v.entry_loaded_at)?;
        d.set_item("slot_remapped_at", v.slot_remapped_at)?;
        d.set_item("remapped_by", v.remapped_by.map_or(-1, i64::from))?;
        violations.append(d)?;
    }
    let trace = PyList::empty(py);
    for e in &r.trace {
        let d = PyDict::new(py);
        for (k, v) in e.fields() {
            match v {
                FieldValue::Int(i) => d.set_item(k, i)?,
                FieldValue::Text(s) => d.set_item(k, s)?,
            }
        }
        trace.append((e.cycle, e.cpu, e.name(), d))?;
    }
    Ok(ReportObjects {
        counters: counters.unbind(),
        breakdown: breakdown.unbind(),
        task_breakdown: task_breakdown.unbind(),
        histograms: histograms.unbind(),
        lock_stats: lock_stats.unbind(),
        violations: violations.unbind(),
        trace: trace.unbind(),
    })
}

/// A snapshot of the machine as nested dicts and lists (`kmapsim.Snapshot` wraps them).
pub fn snapshot<'py>(py: Python<'py>, s: &Snapshot) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("cycle", s.cycle)?;
    let cpus = PyList::empty(py);
    for c in &s.cpus {
        let x = PyDict::new(py);
        x.set_item("cpu", c.cpu)?;
        x.set_item("phase", &c.phase)?;
        x.set_item("category", c.category)?;
        x.set_item("irqs_on", c.irqs_on)?;
        x.set_item("in_handler", c.in_handler)?;
        x.set_item("waiting_for", &c.waiting_for)?;
        x.set_item("next_action", c.next_action)?;
        x.set_item("pending_ipis", c.pending_ipis)?;
        x.set_item("inflight_ipis", c.inflight_ipis)?;
        x.set_item("slot", c.holds.map(|h| h.0))?;
        x.set_item("page", c.holds.map(|h| h.1))?;
        x.set_item("tlb_entries", c.tlb_entries)?;
        cpus.append(x)?;
    }
    d.set_item("cpus", cpus)?;
    let locks = PyList::empty(py);
    for l in &s.locks {
        let x = PyDict::new(py);
        x.set_item("name", &l.name)?;
        x.set_item("holder", l.holder)?;
        x.set_item("waiters", l.waiters.clone())?;
        locks.append(x)?;
    }
    d.set_item("locks", locks)?;
    let slots = PyDict::new(py);
    slots.set_item("free", s.slots_free)?;
    slots.set_item("unused", s.slots_unused)?;
    slots.set_item("in_use", s.slots_in_use)?;
    slots.set_item("cursor", s.cursor)?;
    slots.set_item("half", s.half)?;
    slots.set_item("half_in_flight", s.half_in_flight)?;
    d.set_item("slots", slots)?;
    d.set_item("flush_generation", s.flush_generation)?;
    d.set_item("sleeping", s.sleeping.clone())?;
    let counters = PyDict::new(py);
    for (k, v) in s.counters.pairs() {
        counters.set_item(k, v)?;
    }
    d.set_item("counters", counters)?;
    Ok(d)
}
