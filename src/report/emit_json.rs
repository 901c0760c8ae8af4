//! The `emit --output json` document. Schema (stable; additions only) in docs/json-output.md.

use super::{EmitReport, EmitterProbe, ProbeView, ResourceView};
use crate::config::Sourced;
use crate::config::emitter::{Emitter, EmitterMode};
use crate::config::headers::ShownHeader;
use crate::config::otlp::{Compression, Protocol};
use crate::diagnose::error_class::ErrorClass;
use crate::diagnose::export_hint::export_hint;
use crate::diagnose::sniff::PortSpeaks;
use crate::emit::outcome::{Attempt, ExportOutcome, PartialSuccess, Response};
use crate::emit::sdk::outcome::SdkExport;
use crate::roundtrip::compare::Difference;
use crate::signal::Signal;
use serde::Serialize;

pub const SCHEMA: &str = "otel-canary/emit/v1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    ok: bool,
    probe: &'a ProbeView,
    resource: &'a ResourceView,
    warnings: &'a [String],
    /// `wire`, `sdk` or `both`.
    emitter: EmitterMode,
    /// Under `both`: each emitter's probe.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    probes: &'a [EmitterProbe],
    /// Under `both`: what the two emitters did differently.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    differences: &'a [Difference],
    signals: Vec<SignalDoc<'a>>,
}

#[derive(Serialize)]
struct SignalDoc<'a> {
    signal: Signal,
    /// `wire` or `sdk`.
    emitter: Emitter,
    ok: bool,
    /// Error class of the final attempt, if it failed.
    reason: Option<ErrorClass>,
    message: Option<&'a str>,
    /// What a second look at the port found it speaks, when that named the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    port_speaks: Option<PortSpeaks>,
    /// What to check or change, for a failed export.
    hint: Option<String>,
    warning: Option<&'a str>,
    url: Sourced<String>,
    protocol: &'a Sourced<Protocol>,
    compression: Compression,
    headers: &'a [ShownHeader],
    response: Option<&'a Response>,
    partial_success: Option<&'a PartialSuccess>,
    payload_bytes: usize,
    bytes_sent: Option<usize>,
    seconds: f64,
    attempts: &'a [Attempt],
    /// What the OpenTelemetry SDK did (`sdk` emitter only).
    #[serde(skip_serializing_if = "Option::is_none")]
    sdk: Option<&'a SdkExport>,
}

fn signal_doc(o: &ExportOutcome) -> SignalDoc<'_> {
    let last = o.last();
    SignalDoc {
        signal: o.signal,
        emitter: o.emitter,
        ok: o.accepted(),
        reason: last.error.as_ref().map(|e| e.class),
        message: last.error.as_ref().map(|e| e.message.as_str()),
        port_speaks: last.error.as_ref().and_then(|e| e.port_speaks),
        hint: export_hint(o),
        warning: last.warning(),
        url: Sourced::new(o.url.value.to_string(), o.url.source.clone()),
        protocol: &o.protocol,
        compression: o.compression,
        headers: &o.headers,
        response: last.response.as_ref(),
        partial_success: last.partial_success.as_ref(),
        payload_bytes: o.payload_bytes,
        bytes_sent: o.bytes_sent,
        seconds: o.seconds(),
        attempts: &o.attempts,
        sdk: o.sdk.as_deref(),
    }
}

/// Renders the report as one JSON document (pretty-printed, newline-terminated).
pub fn render(r: &EmitReport) -> String {
    let doc = Doc {
        schema: SCHEMA,
        ok: r.ok(),
        probe: &r.probe,
        resource: &r.resource,
        warnings: &r.warnings,
        emitter: r.emitter,
        probes: &r.probes,
        differences: &r.differences,
        signals: r.exports.iter().map(signal_doc).collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("report serialises");
    s.push('\n');
    s
}
