//! `otel-canary doctor`'s port scan: which of the usual observability ports of a host are
//! open and what speaks on each (OTLP gRPC or OTLP/HTTP, plain or TLS; Tempo, Loki, Mimir,
//! Prometheus, Grafana; a collector's self-metrics), so that a wrong port, protocol, scheme
//! or path in the configured target can be named in one sentence (incidents 1 to 3) instead
//! of an hour of curl.
//!
//! Every step has its own short timeout and every port is scanned at once, under one overall
//! deadline, so a host whose ports are all filtered is done in well under 3 s.
//!
//! The scan writes nothing: OTLP paths and gRPC services are asked with EMPTY export
//! requests, which a receiver acknowledges without storing anything.

pub mod check;
pub mod compare;
mod finding;
pub mod fingerprint;
mod grpc_probe;
mod http_probe;
pub mod identify;
pub mod plan;
pub(crate) mod read_verdict;

pub use finding::{
    Build, GrpcService, OtlpPath, PathAnswer, PortFinding, PortState, ServiceAnswer, Speaks,
    TlsInfo, Transport,
};

use crate::config::Sourced;
use crate::signal::Signal;
use serde::Serialize;
use std::time::{Duration, Instant};

/// The ports observability stacks usually listen on: OTLP gRPC/HTTP (and the legacy 55680/1
/// and a second HTTP receiver on 4319), Tempo 3200, Loki 3100, Mimir 9009, Prometheus 9090,
/// Grafana 3000, the collector's self-metrics 8888 and Alloy's UI/metrics 12345.
pub const USUAL_PORTS: [u16; 12] = [
    4317, 4318, 4319, 55680, 55681, 3200, 3100, 9009, 9090, 3000, 8888, 12345,
];

/// The OTLP/HTTP paths asked on every HTTP port: the collector's and Tempo's `/v1/<signal>`,
/// Loki's and Mimir's `/otlp/v1/<signal>`, Prometheus' `/api/v1/otlp/v1/metrics` and
/// VictoriaMetrics' `/opentelemetry/v1/metrics` (shared/fixtures/victoriametrics).
pub const OTLP_PATHS: [(&str, Signal); 7] = [
    ("/v1/traces", Signal::Trace),
    ("/v1/logs", Signal::Log),
    ("/v1/metrics", Signal::Metric),
    ("/otlp/v1/logs", Signal::Log),
    ("/otlp/v1/metrics", Signal::Metric),
    ("/api/v1/otlp/v1/metrics", Signal::Metric),
    ("/opentelemetry/v1/metrics", Signal::Metric),
];

/// How long each step may take. The defaults keep a fully filtered host (connects that never
/// complete) and a port that accepts but never answers both well inside the 3 s promise.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Name resolution of each host.
    pub resolve: Duration,
    /// The TCP connect: longer means filtered.
    pub connect: Duration,
    /// Waiting for the answer to the plain HTTP/1.1 request.
    pub sniff: Duration,
    /// The TLS handshake.
    pub tls: Duration,
    /// Each HTTP request and gRPC call.
    pub request: Duration,
    /// Everything, from the start of the scan: a port without a verdict by then says so.
    pub deadline: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            resolve: Duration::from_millis(1000),
            connect: Duration::from_millis(600),
            sniff: Duration::from_millis(400),
            tls: Duration::from_millis(500),
            request: Duration::from_millis(700),
            deadline: Duration::from_millis(2500),
        }
    }
}

/// Which configured target a verdict is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadKind {
    Tempo,
    Loki,
    Mimir,
    Prometheus,
}

impl ReadKind {
    /// The backend's name: `Tempo`.
    pub fn name(self) -> &'static str {
        match self {
            ReadKind::Tempo => "Tempo",
            ReadKind::Loki => "Loki",
            ReadKind::Mimir => "Mimir",
            ReadKind::Prometheus => "Prometheus",
        }
    }
}

/// Why a configured target does not fit what the scan found. A closed set, like the export
/// error classes, so scripts can act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mismatch {
    /// Nothing listens on the port.
    Closed,
    /// The connect was not answered in time.
    Filtered,
    /// No route to the host.
    Unreachable,
    /// The host does not resolve.
    Dns,
    /// gRPC sent to an HTTP port, or OTLP/HTTP to a gRPC port.
    ProtocolMismatch,
    /// Plain text to a TLS port, or TLS to a plain one.
    TlsMismatch,
    /// The port speaks OTLP/HTTP, but not at this path.
    WrongPath,
    /// A read URL points at another backend.
    WrongBackend,
    /// The endpoint wants credentials or a tenant that were not sent or not accepted.
    NeedsAuth,
    /// The endpoint answered the empty export (or build-info request) with another error.
    Refused,
    /// A gRPC server without the signal's OTLP service (UNIMPLEMENTED).
    Unimplemented,
    /// The port speaks something that is not OTLP.
    NotOtlp,
    /// A read URL answers, but not like any backend doctor knows.
    Unrecognised,
    /// TLS failed for another reason (an untrusted certificate, mTLS).
    TlsHandshake,
    /// No verdict before the deadline.
    NoVerdict,
}

impl Mismatch {
    /// The JSON value, also shown in brackets after a human verdict.
    pub fn as_str(self) -> &'static str {
        match self {
            Mismatch::Closed => "closed",
            Mismatch::Filtered => "filtered",
            Mismatch::Unreachable => "unreachable",
            Mismatch::Dns => "dns",
            Mismatch::ProtocolMismatch => "protocol_mismatch",
            Mismatch::TlsMismatch => "tls_mismatch",
            Mismatch::WrongPath => "wrong_path",
            Mismatch::WrongBackend => "wrong_backend",
            Mismatch::NeedsAuth => "needs_auth",
            Mismatch::Refused => "refused",
            Mismatch::Unimplemented => "unimplemented",
            Mismatch::NotOtlp => "not_otlp",
            Mismatch::Unrecognised => "unrecognised",
            Mismatch::TlsHandshake => "tls_handshake",
            Mismatch::NoVerdict => "no_verdict",
        }
    }
}

/// One configured target held against the scan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetVerdict {
    /// `export` or `read`.
    pub kind: &'static str,
    /// The signal (export) or backend (read): `trace`, `tempo`.
    pub target: String,
    /// The URL (password redacted) and the setting that chose it.
    pub url: Sourced<String>,
    /// The export protocol and the setting that chose it (export only).
    pub protocol: Option<Sourced<crate::config::otlp::Protocol>>,
    pub ok: bool,
    pub reason: Option<Mismatch>,
    /// One sentence: what goes where, and what to change.
    pub message: String,
    /// What the exact request to the configured URL got: `HTTP 200 OK`, `gRPC UNIMPLEMENTED
    /// (12)`, an error.
    pub check: Option<String>,
}

/// Everything `doctor` learned.
#[derive(Clone, Debug, Serialize)]
pub struct DoctorReport {
    /// The host scanned for the usual ports, and the setting that chose it.
    pub host: Sourced<String>,
    pub scenario: Option<String>,
    /// No configured target mismatches.
    pub ok: bool,
    /// Wall time of the whole diagnosis.
    pub seconds: f64,
    pub deadline_seconds: f64,
    pub connect_timeout_seconds: f64,
    pub ports: Vec<PortFinding>,
    pub targets: Vec<TargetVerdict>,
    pub warnings: Vec<String>,
}

/// Scans every target at once; each finishes by `deadline` (a port still busy then is
/// reported as `no_verdict`).
pub async fn scan(
    targets: Vec<plan::ScanTarget>,
    budget: &Budget,
    deadline: Instant,
) -> Vec<PortFinding> {
    let jobs = targets.into_iter().map(|t| async move {
        let started = Instant::now();
        match tokio::time::timeout_at(deadline.into(), identify::identify(&t, budget)).await {
            Ok(f) => f,
            Err(_) => {
                let mut f = PortFinding::new(t.names.clone(), t.address, t.port, t.why.clone());
                f.note = Some(format!(
                    "no verdict within the {:.1} s deadline",
                    budget.deadline.as_secs_f64()
                ));
                f.seconds = started.elapsed().as_secs_f64();
                f
            }
        }
    });
    futures_util::future::join_all(jobs).await
}
