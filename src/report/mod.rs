//! Renderers: turn outcomes into text for people or JSON for machines. They never do I/O
//! beyond writing the output they are given.

pub mod doctor_human;
pub mod doctor_json;
pub mod emit_human;
pub mod emit_json;
pub mod progress;
pub mod run_human;
pub mod run_json;
pub mod run_junit;

use crate::config::Sourced;
use crate::config::resource::ResourceSpec;
use crate::emit::outcome::ExportOutcome;
use crate::probe::{Probe, hex};
use crate::roundtrip::outcome::{SignalOutcome, Status};
use serde::Serialize;

/// The probe's identifiers as reports show them.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeView {
    pub probe_id: String,
    pub trace_id: String,
    pub client_span_id: String,
    pub server_span_id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// The metric sample value that identifies this probe.
    pub marker: f64,
}

impl ProbeView {
    pub fn of(p: &Probe) -> Self {
        ProbeView {
            probe_id: p.probe_id.to_string(),
            trace_id: p.trace_id_hex(),
            client_span_id: p.client_span_id_hex(),
            server_span_id: hex(&p.server_span_id),
            started_at: humantime::format_rfc3339_millis(p.started_at).to_string(),
            marker: p.marker,
        }
    }
}

/// The resource as reports show it, with provenance.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceView {
    pub service_name: Sourced<String>,
    pub service_instance_id: Sourced<String>,
    pub service_version: String,
    pub attributes: Vec<(String, String)>,
}

impl ResourceView {
    pub fn of(r: &ResourceSpec) -> Self {
        ResourceView {
            service_name: r.service_name.clone(),
            service_instance_id: r.service_instance_id.clone(),
            service_version: r.service_version.clone(),
            attributes: r.extra.clone(),
        }
    }
}

/// Everything `emit` learned.
#[derive(Clone, Debug)]
pub struct EmitReport {
    pub probe: ProbeView,
    pub resource: ResourceView,
    pub exports: Vec<ExportOutcome>,
    /// Things the user should know that are not failures (insecure TLS, ignored paths).
    pub warnings: Vec<String>,
}

impl EmitReport {
    /// True when every export was fully accepted.
    pub fn ok(&self) -> bool {
        self.exports.iter().all(ExportOutcome::accepted)
    }
}

/// Everything `run` learned.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub probe: ProbeView,
    pub resource: ResourceView,
    /// The scenario file in effect, if any.
    pub scenario: Option<String>,
    /// True when no signal failed.
    pub ok: bool,
    /// Wall time of the round trip.
    pub seconds: f64,
    pub signals: Vec<SignalOutcome>,
    pub warnings: Vec<String>,
}

/// Colours a verdict word for stdout: green ok, red failed, dim skipped (only when stdout
/// supports colour and NO_COLOR is unset).
pub fn paint(s: &str, status: Status) -> String {
    use owo_colors::{OwoColorize, Stream};
    match status {
        Status::Ok => s
            .if_supports_color(Stream::Stdout, |t| t.green())
            .to_string(),
        Status::Failed => s.if_supports_color(Stream::Stdout, |t| t.red()).to_string(),
        Status::Skipped => s
            .if_supports_color(Stream::Stdout, |t| t.dimmed())
            .to_string(),
    }
}

/// `3.2 ms`, `1.25 s`: readable durations from float seconds.
pub fn fmt_seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// `416 B`, `12.3 KiB`.
pub fn fmt_bytes(n: usize) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}
