//! Renderers: turn outcomes into text for people or JSON for machines. They never do I/O
//! beyond writing the output they are given.

pub mod doctor_human;
pub mod doctor_json;
pub mod emit_human;
pub mod emit_json;
pub mod progress;
pub mod run_html;
pub mod run_human;
pub mod run_json;
pub mod run_junit;
pub mod sdk_human;
#[cfg(test)]
pub(crate) mod test_support;
pub mod timeline;
pub mod waterfall;

use crate::config::Sourced;
use crate::config::emitter::{Emitter, EmitterMode};
use crate::config::resource::ResourceSpec;
use crate::emit::outcome::ExportOutcome;
use crate::probe::{Probe, hex};
use crate::roundtrip::compare::Difference;
use crate::roundtrip::outcome::{
    AssertionOutcome, Check, Clue, Hop, PullOutcome, Reason, SignalOutcome, Status,
};
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

/// One emitter's probe under `--emitter both` (each has its own ids).
#[derive(Clone, Debug, Serialize)]
pub struct EmitterProbe {
    pub emitter: Emitter,
    /// No signal of this probe failed (for `emit`: every export accepted).
    pub ok: bool,
    /// Wall time of this probe.
    pub seconds: f64,
    pub probe: ProbeView,
}

/// Everything `emit` learned.
#[derive(Clone, Debug)]
pub struct EmitReport {
    pub probe: ProbeView,
    pub resource: ResourceView,
    pub exports: Vec<ExportOutcome>,
    /// Things the user should know that are not failures (insecure TLS, ignored paths).
    pub warnings: Vec<String>,
    /// `wire`, `sdk` or `both`.
    pub emitter: EmitterMode,
    /// Under `both`: each emitter's probe (`probe` is the wire emitter's).
    pub probes: Vec<EmitterProbe>,
    /// Under `both`: what the two emitters did differently.
    pub differences: Vec<Difference>,
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
    /// The scenario's pull paths (scrape marker, log line), under `serve`; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pulls: Vec<PullOutcome>,
    /// The scenario's `[[assert]]` checks; absent when it has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assertions: Vec<AssertionOutcome>,
    pub warnings: Vec<String>,
    /// `wire`, `sdk` or `both` (one probe with each emitter; `signals` then holds both
    /// probes' signals, each with its `emitter`, and `probe` is the wire emitter's).
    pub emitter: EmitterMode,
    /// Under `both`: each emitter's probe.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<EmitterProbe>,
    /// Under `both`: every difference in where a signal went, which setting chose it, the
    /// protocol, the tenant and the verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
}

/// A row group of a report: an OTLP signal or a pull path, seen the same way by renderers.
pub struct Lane<'a> {
    /// `trace`, `log`, `metric`, `scrape`, `log_line`.
    pub name: &'static str,
    pub status: Status,
    pub reason: Option<Reason>,
    pub hint: Option<&'a str>,
    pub hops: &'a [Hop],
    pub checks: &'a [Check],
    pub clues: &'a [Clue],
    /// The OTLP export, for signals.
    pub export: Option<&'a ExportOutcome>,
    /// Which emitter sent it, for signals.
    pub emitter: Option<Emitter>,
    /// Seconds after the probe began that the lane's export was sent (or its pull value
    /// exposed): where it starts on the waterfall.
    pub sent_at: f64,
}

impl RunReport {
    /// The exit code `run` ends with for this report: 0 when nothing failed, else 1 (2, a
    /// usage error, never gets as far as a report).
    pub fn exit_code(&self) -> u8 {
        if self.ok { 0 } else { 1 }
    }

    /// Signals, then pull paths.
    pub fn lanes(&self) -> Vec<Lane<'_>> {
        let signals = self.signals.iter().map(|s| Lane {
            name: s.signal.as_str(),
            status: s.status,
            reason: s.reason,
            hint: s.hint.as_deref(),
            hops: &s.hops,
            checks: &s.checks,
            clues: &s.clues,
            export: Some(&s.export),
            emitter: Some(s.emitter),
            sent_at: s.sent_at,
        });
        let pulls = self.pulls.iter().map(|p| Lane {
            name: p.path.as_str(),
            status: p.status,
            reason: p.reason,
            hint: p.hint.as_deref(),
            hops: &p.hops,
            checks: &p.checks,
            clues: &p.clues,
            export: None,
            emitter: None,
            sent_at: p.sent_at,
        });
        signals.chain(pulls).collect()
    }
}

/// What the export's final attempt got, in words: the answer's summary, the error class and
/// message when it failed, the SDK's calls when the SDK sent it.
pub fn export_detail(export: &ExportOutcome) -> String {
    let Some(last) = export.attempts.last() else {
        return "no attempt".into();
    };
    let mut d = last
        .response
        .as_ref()
        .map(|r| r.summary())
        .unwrap_or_else(|| "no answer".into());
    if let Some(e) = &last.error {
        d = format!("{}, {d}: {}", e.class, e.message);
    } else if let Some(sdk) = &export.sdk {
        d = format!("{d}; {}", sdk.calls_summary());
    }
    d
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
