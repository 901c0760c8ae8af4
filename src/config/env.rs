//! A snapshot of the environment variables otel-canary reads, so resolution is a pure
//! function that tests can drive with a table instead of mutating the process environment.

use std::collections::BTreeMap;

/// The `OTEL_*` variables seen at start-up. Empty values count as unset, as the OTel
/// specification requires.
#[derive(Clone, Debug, Default)]
pub struct EnvSnapshot {
    vars: BTreeMap<String, String>,
}

impl EnvSnapshot {
    /// Captures the process environment (only `OTEL_` variables; nothing else is read).
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")))
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        EnvSnapshot {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, trimmed, or `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}
