//! A whole scenario: its fields and its workload's program, built and checked together. Here
//! rather than in `config.rs` so that the field table stays a leaf that knows nothing of
//! programs (`workload.rs` compiles them against it).

use crate::config::{ProgramSpec, Scenario, Value};
use crate::error::ConfigError;

impl Scenario {
    /// Build a scenario from defaults and `(name, value)` pairs, then validate it as a whole.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> Result<Self, ConfigError> {
        Self::from_parts(pairs, None)
    }

    /// `from_pairs` with a `custom` workload's program.
    pub fn from_parts<'a>(
        pairs: impl IntoIterator<Item = (&'a str, Value)>,
        program: Option<ProgramSpec>,
    ) -> Result<Self, ConfigError> {
        let mut sc = Scenario::default();
        for (k, v) in pairs {
            sc.set(k, v)?;
        }
        sc.program = program.map(|mut spec| {
            crate::workload::hold_flags(&mut spec);
            spec
        });
        sc.validate()?;
        Ok(sc)
    }

    /// Every check: the rules that span fields, and the workload's program compiled against the
    /// scenario (its steps, their fields and the pages they draw from).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_fields()?;
        crate::workload::compile(self)?;
        Ok(())
    }
}
