//! Which emitter sends a probe: the canary's own OTLP requests (`wire`), the OpenTelemetry
//! SDK configured the way an instrumented app is (`sdk`), or one probe with each (`both`).

use super::scenario::Scenario;
use super::{ConfigError, Provenance, Sourced};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// The emitter that sent one probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Emitter {
    /// Exact OTLP requests over the canary's own reqwest/tonic transports: every attempt,
    /// status and partial success seen first hand.
    #[default]
    Wire,
    /// `opentelemetry_sdk` providers with `opentelemetry-otlp` exporters, configured from the
    /// standard environment as an instrumented Rust app is.
    Sdk,
}

impl Emitter {
    pub fn as_str(self) -> &'static str {
        match self {
            Emitter::Wire => "wire",
            Emitter::Sdk => "sdk",
        }
    }
}

impl fmt::Display for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `--emitter` (or a scenario's `probe.emitter`) asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmitterMode {
    #[default]
    Wire,
    Sdk,
    /// One probe with each emitter (distinct probe ids), compared side by side.
    Both,
}

impl EmitterMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EmitterMode::Wire => "wire",
            EmitterMode::Sdk => "sdk",
            EmitterMode::Both => "both",
        }
    }

    /// The emitters this mode runs, in report order.
    pub fn emitters(self) -> &'static [Emitter] {
        match self {
            EmitterMode::Wire => &[Emitter::Wire],
            EmitterMode::Sdk => &[Emitter::Sdk],
            EmitterMode::Both => &[Emitter::Wire, Emitter::Sdk],
        }
    }
}

impl fmt::Display for EmitterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EmitterMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wire" => Ok(EmitterMode::Wire),
            "sdk" => Ok(EmitterMode::Sdk),
            "both" => Ok(EmitterMode::Both),
            other => Err(format!(
                "'{other}' is not an emitter: expected wire (the canary's own OTLP requests), \
                 sdk (the OpenTelemetry SDK, configured from the environment like an app) or both"
            )),
        }
    }
}

/// The emitter mode: `--emitter`, then the scenario's `probe.emitter`, then `wire`.
pub fn resolve_emitter(
    flag: Option<EmitterMode>,
    scenario: Option<&Scenario>,
) -> Result<Sourced<EmitterMode>, ConfigError> {
    if let Some(m) = flag {
        return Ok(Sourced::new(m, Provenance::flag("--emitter")));
    }
    if let Some(sc) = scenario
        && let Some(v) = &sc.data.probe.emitter
    {
        return sc.parse_value(v, "probe.emitter");
    }
    Ok(Sourced::default_value(EmitterMode::Wire))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_unknown_ones_name_the_choices() {
        assert_eq!("SDK".parse::<EmitterMode>(), Ok(EmitterMode::Sdk));
        assert_eq!(
            EmitterMode::Both.emitters(),
            &[Emitter::Wire, Emitter::Sdk][..]
        );
        let e = "otlp".parse::<EmitterMode>().unwrap_err();
        assert!(
            e.contains("'otlp' is not an emitter") && e.contains("both"),
            "{e}"
        );
        let m = resolve_emitter(None, None).unwrap();
        assert_eq!(
            (m.value, m.source),
            (EmitterMode::Wire, Provenance::Default)
        );
    }
}
