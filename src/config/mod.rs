//! Configuration: where every setting comes from. Each resolved value keeps its provenance
//! (flag, env var, scenario file, default) so the report can say which setting chose it: the
//! "stale env var beats the scenario file" story of incident 1.

pub mod assertions;
pub mod derived;
pub mod emitter;
pub mod env;
pub mod grafana;
pub mod headers;
pub mod otlp;
pub mod pull;
pub mod read;
pub mod resource;
pub mod scenario;

use serde::Serialize;
use std::fmt;

/// Where a resolved setting came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Provenance {
    /// A command-line flag, e.g. `--endpoint`.
    Flag { name: String },
    /// An environment variable, e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`.
    Env { name: String },
    /// A key in a scenario file.
    Scenario { file: String, key: String },
    /// Built-in default.
    Default,
    /// A default the OpenTelemetry SDK (opentelemetry-otlp) applied by itself, because none
    /// of the variables it reads for the setting (`unset`) was set.
    SdkDefault { unset: Vec<String> },
}

impl Provenance {
    pub fn flag(name: &str) -> Self {
        Provenance::Flag {
            name: name.to_string(),
        }
    }

    pub fn env(name: &str) -> Self {
        Provenance::Env {
            name: name.to_string(),
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Flag { name } => write!(f, "flag {name}"),
            Provenance::Env { name } => write!(f, "env {name}"),
            Provenance::Scenario { file, key } => write!(f, "scenario {file} ({key})"),
            Provenance::Default => f.write_str("default"),
            Provenance::SdkDefault { unset } if unset.is_empty() => f.write_str("SDK default"),
            Provenance::SdkDefault { unset } => {
                write!(f, "SDK default ({} unset)", unset.join(" and "))
            }
        }
    }
}

/// A value and the setting that chose it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Provenance,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Provenance) -> Self {
        Sourced { value, source }
    }

    pub fn default_value(value: T) -> Self {
        Sourced {
            value,
            source: Provenance::Default,
        }
    }
}

/// A usage or configuration mistake: exit code 2, and the message names the input at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{input}: {problem}")]
pub struct ConfigError {
    /// The flag, variable, file or key that holds the bad value.
    pub input: String,
    /// What is wrong with it and, where possible, what would be right.
    pub problem: String,
}

impl ConfigError {
    /// The problem's text is cleaned of URL credentials, whatever value it quotes.
    pub fn new(input: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            input: input.into(),
            problem: crate::redact::redact_urls_in_text(&problem.into()),
        }
    }

    /// The error for a bad value in a sourced setting, naming that setting.
    pub fn at(source: &Provenance, problem: impl Into<String>) -> Self {
        ConfigError::new(source.to_string(), problem)
    }
}
