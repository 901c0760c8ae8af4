//! What the scan learned about one port, in the vocabulary the reports and the JSON schema
//! use: the connect's state, the transport, what speaks there (OTLP, a backend, unknown),
//! every OTLP path and gRPC service asked, and a one-line summary for people.

use super::plan;
use crate::signal::Signal;
use serde::Serialize;
use std::net::IpAddr;

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
    /// The word reports use (`no verdict` with a space, for people).
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
                    let Some((name, b)) = other.backend() else {
                        continue;
                    };
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
