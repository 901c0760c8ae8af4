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
pub mod fingerprint;
mod grpc_probe;
mod http_probe;
pub mod identify;
pub mod plan;

use crate::config::Sourced;
use crate::signal::Signal;
use serde::Serialize;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The ports observability stacks usually listen on: OTLP gRPC/HTTP (and the legacy 55680/1
/// and a second HTTP receiver on 4319), Tempo 3200, Loki 3100, Mimir 9009, Prometheus 9090,
/// Grafana 3000, the collector's self-metrics 8888 and Alloy's UI/metrics 12345.
pub const USUAL_PORTS: [u16; 12] = [
    4317, 4318, 4319, 55680, 55681, 3200, 3100, 9009, 9090, 3000, 8888, 12345,
];

/// The OTLP/HTTP paths asked on every HTTP port: the collector's and Tempo's `/v1/<signal>`,
/// Loki's and Mimir's `/otlp/v1/<signal>`, Prometheus' `/api/v1/otlp/v1/metrics`.
pub const OTLP_PATHS: [(&str, Signal); 6] = [
    ("/v1/traces", Signal::Trace),
    ("/v1/logs", Signal::Log),
    ("/v1/metrics", Signal::Metric),
    ("/otlp/v1/logs", Signal::Log),
    ("/otlp/v1/metrics", Signal::Metric),
    ("/api/v1/otlp/v1/metrics", Signal::Metric),
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

/// What the TCP connect found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortState {
    Open,
    /// Refused: nothing listens.
    Closed,
    /// No answer to the connect in time: a firewall drops it, or the host is wrong.
    Filtered,
    /// The network said no route (or another connect error).
    Unreachable,
    /// The host name did not resolve.
    Unresolved,
    /// The overall deadline passed before the port had a verdict.
    NoVerdict,
}

impl PortState {
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::Unreachable => "unreachable",
            PortState::Unresolved => "unresolved",
            PortState::NoVerdict => "no verdict",
        }
    }
}

/// What answered on an open port at the connection level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Plain HTTP/1.x.
    Http1,
    /// Plain HTTP/2 (h2c): what gRPC without TLS looks like.
    H2c,
    /// TLS (see `tls` for the negotiated ALPN).
    Tls,
}

/// The TLS session a handshake (certificate not verified) negotiated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    /// `TLS 1.3`, `TLS 1.2`.
    pub version: String,
    /// `h2` or `http/1.1`; `None` when the server chose none.
    pub alpn: Option<String>,
}

/// What an empty OTLP/HTTP export POSTed to a path got back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathAnswer {
    /// 2xx with an OTLP export response (or an empty body).
    Accepts,
    /// 401 / 403: the path exists, it wants credentials or a tenant.
    NeedsAuth,
    /// 404.
    NotFound,
    /// 405: something lives there, but it does not take POST.
    MethodNotAllowed,
    /// 415: something lives there, but it refuses `application/x-protobuf`.
    UnsupportedMediaType,
    /// Another 4xx (or 3xx): the body says why.
    Rejected,
    /// 5xx.
    ServerError,
    /// 2xx whose body is not an OTLP export response: a web page or a proxy.
    NotOtlp,
    /// No HTTP answer at all.
    NoAnswer,
}

impl PathAnswer {
    /// True when the path exists as an OTLP endpoint (it accepted, or wants credentials).
    pub fn is_otlp(self) -> bool {
        matches!(self, PathAnswer::Accepts | PathAnswer::NeedsAuth)
    }
}

/// One OTLP/HTTP path's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OtlpPath {
    pub path: String,
    pub signal: Signal,
    pub status: Option<u16>,
    pub answer: PathAnswer,
    /// The server's words (error body) or the transport error, for people.
    pub detail: Option<String>,
}

/// What an empty gRPC Export call to one OTLP service got back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAnswer {
    /// gRPC OK.
    Accepts,
    /// UNAUTHENTICATED / PERMISSION_DENIED.
    NeedsAuth,
    /// A gRPC server without this service.
    Unimplemented,
    /// Another gRPC status.
    Refused,
    /// Not a gRPC answer (an HTTP/2 web server, say).
    NotGrpc,
    /// No answer at all.
    NoAnswer,
}

/// One OTLP gRPC service's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GrpcService {
    pub signal: Signal,
    /// The gRPC status code, when a gRPC server answered.
    pub code: Option<i32>,
    pub answer: ServiceAnswer,
    pub detail: Option<String>,
}

/// A backend recognised by its build-info (or health, or self-metrics) endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Build {
    pub version: Option<String>,
    /// `GET /ready` (Prometheus: `/-/ready`) answered 200; `None` when not asked or no answer.
    pub ready: Option<bool>,
    /// The request that identified it, e.g. `GET /api/status/buildinfo`.
    pub evidence: String,
}

/// One thing a port speaks. A port can speak several (Loki's API plus OTLP/HTTP logs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Speaks {
    /// OTLP over gRPC: the signals whose Export answered OK (or asked for credentials).
    OtlpGrpc {
        tls: bool,
        signals: Vec<Signal>,
    },
    /// OTLP over HTTP: the paths that accept an export (or ask for credentials).
    OtlpHttp {
        tls: bool,
        paths: Vec<String>,
    },
    /// gRPC, but none of the OTLP services.
    Grpc {
        tls: bool,
    },
    Tempo(Build),
    Loki(Build),
    Mimir(Build),
    Prometheus(Build),
    #[serde(rename = "victoriametrics")]
    VictoriaMetrics(Build),
    Grafana(Build),
    /// An OpenTelemetry Collector's self-metrics (`otelcol_*` on `/metrics`).
    Collector(Build),
    /// Grafana Alloy's own metrics (`alloy_build_info` on `/metrics`).
    Alloy(Build),
    /// HTTP that none of the above recognised.
    Http {
        tls: bool,
    },
}

impl Speaks {
    /// The backend's name and build, for the backend variants.
    pub fn backend(&self) -> Option<(&'static str, &Build)> {
        Some(match self {
            Speaks::Tempo(b) => ("Tempo", b),
            Speaks::Loki(b) => ("Loki", b),
            Speaks::Mimir(b) => ("Mimir", b),
            Speaks::Prometheus(b) => ("Prometheus", b),
            Speaks::VictoriaMetrics(b) => ("VictoriaMetrics", b),
            Speaks::Grafana(b) => ("Grafana", b),
            Speaks::Collector(b) => ("collector self-metrics", b),
            Speaks::Alloy(b) => ("Alloy self-metrics", b),
            _ => return None,
        })
    }
}

/// Everything the scan learned about one address and port.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortFinding {
    /// The host names (and literal addresses) that led here, as given; the first is shown.
    pub names: Vec<String>,
    pub address: Option<IpAddr>,
    pub port: u16,
    /// Why it was scanned: `usual`, `--ports`, `trace export`, `tempo read`, `scenario`.
    pub why: Vec<String>,
    pub state: PortState,
    pub transport: Option<Transport>,
    pub tls: Option<TlsInfo>,
    pub speaks: Vec<Speaks>,
    /// Every OTLP/HTTP path asked, with its answer (empty when the port is not HTTP).
    pub otlp_paths: Vec<OtlpPath>,
    /// Every OTLP gRPC service asked (empty when the port is not HTTP/2).
    pub grpc_services: Vec<GrpcService>,
    /// The first line the port sent back to a plain `GET /` (printable characters only).
    pub first_answer: Option<String>,
    /// What else there is to say: why the port is unknown, a TLS failure, an error.
    pub note: Option<String>,
    /// Time spent on this port.
    pub seconds: f64,
}

impl PortFinding {
    /// An empty finding for a port about to be scanned.
    pub fn new(names: Vec<String>, address: Option<IpAddr>, port: u16, why: Vec<String>) -> Self {
        PortFinding {
            names,
            address,
            port,
            why,
            state: PortState::NoVerdict,
            transport: None,
            tls: None,
            speaks: Vec::new(),
            otlp_paths: Vec::new(),
            grpc_services: Vec::new(),
            first_answer: None,
            note: None,
            seconds: 0.0,
        }
    }

    /// `127.0.0.1:4318`, `collector:4318`, `[::1]:4318`.
    pub fn shown(&self) -> String {
        let name = self.names.first().map(String::as_str).unwrap_or("?");
        plan::authority(name, self.port)
    }

    /// True when this finding is `host:port` (host as written in a URL).
    pub fn is(&self, host: &str, port: u16) -> bool {
        let host = plan::normalise_host(host);
        self.port == port && self.names.contains(&host)
    }

    /// Whether the port answered TLS.
    pub fn is_tls(&self) -> bool {
        self.transport == Some(Transport::Tls)
    }

    /// Whether HTTP/1.1 works here (plain, or TLS without h2-only ALPN).
    pub fn speaks_http1(&self) -> bool {
        match self.transport {
            Some(Transport::Http1) => true,
            Some(Transport::Tls) => self
                .speaks
                .iter()
                .any(|s| !matches!(s, Speaks::OtlpGrpc { .. } | Speaks::Grpc { .. })),
            _ => false,
        }
    }

    /// Whether gRPC answered here (OTLP or not).
    pub fn speaks_grpc(&self) -> bool {
        self.speaks
            .iter()
            .any(|s| matches!(s, Speaks::OtlpGrpc { .. } | Speaks::Grpc { .. }))
    }

    /// The OTLP/HTTP paths here that take `signal` (accept, or ask for credentials).
    pub fn otlp_paths_for(&self, signal: Signal) -> Vec<&OtlpPath> {
        self.otlp_paths
            .iter()
            .filter(|p| p.signal == signal && p.answer.is_otlp())
            .collect()
    }

    /// Whether OTLP gRPC takes `signal` here.
    pub fn grpc_takes(&self, signal: Signal) -> bool {
        self.speaks
            .iter()
            .any(|s| matches!(s, Speaks::OtlpGrpc { signals, .. } if signals.contains(&signal)))
    }

    /// The first backend recognised here: `("Loki", build)`.
    pub fn backend(&self) -> Option<(&'static str, &Build)> {
        self.speaks.iter().find_map(Speaks::backend)
    }

    /// One line for people: what speaks here.
    pub fn summary(&self) -> String {
        if self.state != PortState::Open {
            return match &self.note {
                Some(n) => format!("{}: {n}", self.state.as_str()),
                None => self.state.as_str().to_string(),
            };
        }
        let tls = |t: bool| if t { "TLS" } else { "plain" };
        let mut parts: Vec<String> = Vec::new();
        for s in &self.speaks {
            parts.push(match s {
                Speaks::OtlpGrpc { tls: t, signals } => format!(
                    "OTLP gRPC ({}): {}",
                    tls(*t),
                    signals
                        .iter()
                        .map(|s| s.plural())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Speaks::OtlpHttp { tls: t, paths } => {
                    format!("OTLP/HTTP ({}): {}", tls(*t), paths.join(", "))
                }
                Speaks::Grpc { tls: t } => format!("gRPC ({}), no OTLP service", tls(*t)),
                Speaks::Http { tls: t } => match &self.first_answer {
                    Some(a) if !*t => format!("unknown HTTP server (GET / -> {a})"),
                    _ => format!("unknown HTTP server ({})", tls(*t)),
                },
                other => {
                    let (name, b) = other.backend().expect("a backend variant");
                    let mut s = name.to_string();
                    if let Some(v) = &b.version {
                        s.push(' ');
                        s.push_str(v);
                    }
                    if b.ready == Some(false) {
                        s.push_str(" (not ready)");
                    }
                    s
                }
            });
        }
        let needs_auth: Vec<&str> = self
            .otlp_paths
            .iter()
            .filter(|p| p.answer == PathAnswer::NeedsAuth)
            .map(|p| p.path.as_str())
            .collect();
        if !needs_auth.is_empty() {
            parts.push(format!(
                "{} need credentials or a tenant",
                needs_auth.join(", ")
            ));
        }
        if parts.is_empty() {
            let how = match (self.transport, &self.tls) {
                (Some(Transport::Tls), Some(t)) => format!(
                    "TLS ({}, ALPN {}), nothing recognised behind it",
                    t.version,
                    t.alpn.as_deref().unwrap_or("none")
                ),
                (Some(Transport::H2c), _) => "HTTP/2 without TLS, but not gRPC".to_string(),
                _ => "unknown".to_string(),
            };
            parts.push(match &self.note {
                Some(n) => format!("{how}: {n}"),
                None => how,
            });
        } else if self.is_tls()
            && let Some(t) = &self.tls
        {
            parts.push(format!(
                "{}, ALPN {}",
                t.version,
                t.alpn.as_deref().unwrap_or("none")
            ));
        }
        parts.join("; ")
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
    /// The flag that sets it: `--tempo`.
    pub fn flag(self) -> &'static str {
        match self {
            ReadKind::Tempo => "--tempo",
            ReadKind::Loki => "--loki",
            ReadKind::Mimir => "--mimir",
            ReadKind::Prometheus => "--prometheus",
        }
    }

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
