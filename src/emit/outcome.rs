//! What one export did: every attempt with its response, timing, partial success and error
//! class. Renderers and (later) metrics read this; nothing here does I/O.

use crate::config::Sourced;
use crate::config::emitter::Emitter;
use crate::config::headers::ShownHeader;
use crate::config::otlp::{Compression, Protocol};
use crate::diagnose::error_class::ErrorClass;
use crate::diagnose::sniff::PortSpeaks;
use crate::signal::Signal;
use serde::Serialize;
use url::Url;

/// The server's answer, when there was one.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    Http {
        status: u16,
        reason: String,
        content_type: Option<String>,
        body_bytes: usize,
    },
    Grpc {
        code: i32,
        name: &'static str,
    },
}

impl Response {
    /// `200 OK`, `204 No Content`, `gRPC OK`, `gRPC UNAVAILABLE (14)`.
    pub fn summary(&self) -> String {
        match self {
            Response::Http { status, reason, .. } => format!("HTTP {status} {reason}"),
            Response::Grpc { code: 0, name } => format!("gRPC {name}"),
            Response::Grpc { code, name } => format!("gRPC {name} ({code})"),
        }
    }
}

/// OTLP partial success as the server sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartialSuccess {
    /// `rejected_spans` / `rejected_log_records` / `rejected_data_points`.
    pub rejected: i64,
    pub message: String,
}

/// A classified failure with the underlying text kept for people.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportError {
    pub class: ErrorClass,
    pub message: String,
    /// What a second look at the port found it speaks, when the library's error alone was
    /// ambiguous; the hint builds its advice on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_speaks: Option<PortSpeaks>,
    /// The backend the second look recognised on the port (`loki`), when it tells the fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_backend: Option<String>,
}

impl ExportError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        ExportError {
            class,
            message: message.into(),
            port_speaks: None,
            port_backend: None,
        }
    }
}

/// One try at exporting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    /// Send -> ack (or failure), including connection set-up.
    pub seconds: f64,
    pub response: Option<Response>,
    pub partial_success: Option<PartialSuccess>,
    pub error: Option<ExportError>,
    /// Whether the OTLP spec allows retrying this failure.
    pub retryable: bool,
    /// Server-requested delay (`Retry-After`), in seconds.
    pub retry_after_seconds: Option<f64>,
}

impl Attempt {
    /// Partial success with zero rejected but a message is a warning, not a failure.
    pub fn warning(&self) -> Option<&str> {
        self.partial_success
            .as_ref()
            .filter(|p| p.rejected == 0 && !p.message.is_empty())
            .map(|p| p.message.as_str())
    }
}

/// The full story of one signal's export.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportOutcome {
    pub signal: Signal,
    /// Which emitter sent it: `wire` (the canary's own requests) or `sdk`.
    pub emitter: Emitter,
    pub url: Sourced<Url>,
    pub protocol: Sourced<Protocol>,
    pub compression: Compression,
    pub headers: Vec<ShownHeader>,
    /// Encoded message size before compression.
    pub payload_bytes: usize,
    /// Request body size on the wire (after compression, plus gRPC framing); `None` when the
    /// transport compresses internally and does not tell.
    pub bytes_sent: Option<usize>,
    pub attempts: Vec<Attempt>,
    /// What the OpenTelemetry SDK did (`sdk` emitter only): how it exported and flushed,
    /// what each call returned, what it reported through its own diagnostics, and which
    /// values it chose by itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdk: Option<Box<crate::emit::sdk::outcome::SdkExport>>,
}

impl ExportOutcome {
    /// The attempt that decided the outcome.
    pub fn last(&self) -> &Attempt {
        self.attempts
            .last()
            .expect("an export has at least one attempt")
    }

    /// Fully accepted: the final attempt succeeded and nothing was rejected.
    pub fn accepted(&self) -> bool {
        self.last().error.is_none()
    }

    /// Send -> ack of the deciding (last) attempt; earlier attempts are in `attempts`.
    pub fn seconds(&self) -> f64 {
        self.last().seconds
    }
}
