//! The three OpenTelemetry signals a probe emits, and the names each one goes by on the wire
//! and in the `OTEL_EXPORTER_OTLP_<SIGNAL>_*` environment variables.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// One of the three telemetry signals. The closed set keeps metric labels bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    Trace,
    Log,
    Metric,
}

impl Signal {
    /// Every signal, in report order.
    pub const ALL: [Signal; 3] = [Signal::Trace, Signal::Log, Signal::Metric];

    /// The word used in output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Trace => "trace",
            Signal::Log => "log",
            Signal::Metric => "metric",
        }
    }

    /// The plural used in OTLP paths (`v1/traces`) and in flag names (`--traces-endpoint`).
    pub fn plural(self) -> &'static str {
        match self {
            Signal::Trace => "traces",
            Signal::Log => "logs",
            Signal::Metric => "metrics",
        }
    }

    /// The relative OTLP/HTTP path appended to a base endpoint, per the OTel exporter spec.
    pub fn otlp_http_path(self) -> &'static str {
        match self {
            Signal::Trace => "v1/traces",
            Signal::Log => "v1/logs",
            Signal::Metric => "v1/metrics",
        }
    }

    /// The infix of the per-signal environment variables (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    pub fn env_infix(self) -> &'static str {
        match self {
            Signal::Trace => "TRACES",
            Signal::Log => "LOGS",
            Signal::Metric => "METRICS",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Signal {
    type Err = String;

    /// Accepts the singular and plural forms, so `traces,logs` and `trace,log` both work.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "trace" | "traces" => Ok(Signal::Trace),
            "log" | "logs" => Ok(Signal::Log),
            "metric" | "metrics" => Ok(Signal::Metric),
            other => Err(format!(
                "unknown signal '{other}': expected trace, log or metric"
            )),
        }
    }
}
