//! What the SDK emitter learned about one signal's export, beyond what every export reports:
//! how the SDK exported (batch processor or periodic reader), what `force_flush` and
//! `shutdown` returned and how long they took, every request that left the process as the
//! canary saw it, what the SDK said through its internal diagnostics, and which values it
//! chose by itself. Nothing here does I/O.

use crate::config::Sourced;
use crate::emit::outcome::Attempt;
use serde::Serialize;

/// One call into the SDK's pipeline and what it returned.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SdkCall {
    /// `force_flush` or `shutdown`.
    pub call: &'static str,
    /// The provider's service (`otel-canary`, `otel-canary-peer`).
    pub service: String,
    pub seconds: f64,
    pub ok: bool,
    /// `Ok`, or the SDK's error as it returned it (`InternalFailure("…")`, `Timeout(5s)`).
    pub result: String,
}

/// A request the SDK sent, as the canary saw it leave: over HTTP through the canary's HTTP
/// client (everything is known), over gRPC through the exporter's interceptor (the metadata;
/// the answer comes from what the SDK returned and logged).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SdkRequest {
    /// The provider's service whose batch it carried.
    pub service: String,
    /// During which call it went out: `force_flush`, `shutdown`, or `background` (the SDK's
    /// own timer).
    pub during: &'static str,
    /// Where it went (HTTP: the request URL; gRPC: the channel's endpoint).
    pub url: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// Header (or metadata) names, values never shown here.
    pub header_names: Vec<String>,
    pub attempt: Attempt,
}

/// One event the SDK emitted through its internal diagnostics (the `tracing` events of
/// opentelemetry, opentelemetry_sdk and opentelemetry-otlp), captured instead of printed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SdkDiagnostic {
    /// `error`, `warn`.
    pub level: &'static str,
    /// The crate that said it.
    pub target: String,
    /// The event's name (`BatchSpanProcessor.ExportError`, `HttpTraceClient.PartialSuccess`).
    pub name: String,
    /// Its fields, secrets scrubbed.
    pub message: String,
}

/// The `sdk` section of an export by the SDK emitter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SdkExport {
    /// The exporter crate: `opentelemetry-otlp 0.33.1`.
    pub exporter: &'static str,
    /// `batch` (BatchSpanProcessor, BatchLogProcessor) or `periodic` (PeriodicReader).
    pub processor: &'static str,
    /// `force_flush` then `shutdown` on every provider, in order.
    pub calls: Vec<SdkCall>,
    pub requests: Vec<SdkRequest>,
    /// Every warning and error the SDK reported while this export ran.
    pub diagnostics: Vec<SdkDiagnostic>,
    /// The export timeout the SDK used, and the setting that chose it.
    pub timeout_seconds: Sourced<f64>,
    /// The settings the SDK chose by itself, because nothing set them: `endpoint`,
    /// `protocol`, `compression`, `timeout`.
    pub sdk_defaults: Vec<&'static str>,
    /// Traces: whether the SDK's sampler sampled the probe's spans (OTEL_TRACES_SAMPLER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled: Option<bool>,
    /// Where the SDK departs from the spec, ignores a setting, or did something the canary
    /// did not predict.
    pub notes: Vec<String>,
}

impl SdkExport {
    /// The first call that did not return `Ok`.
    pub fn failed_call(&self) -> Option<&SdkCall> {
        self.calls.iter().find(|c| !c.ok)
    }

    /// `force_flush ok in 3.1 ms; shutdown ok`: the calls in one line, for reports.
    pub fn calls_summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for c in &self.calls {
            let what = if c.ok {
                "ok".to_string()
            } else {
                c.result.clone()
            };
            let part = format!("{} {what}", c.call);
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
        parts.join("; ")
    }
}
