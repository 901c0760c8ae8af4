//! The hint for a failed export: what broke on the way to the first receiver and which
//! setting or flag fixes it. Every class of `ErrorClass` has its sentence; the facts come from
//! the export's own outcome (URL and the setting that chose it, protocol, the server's answer,
//! what a second look at the port found).

use super::error_class::ErrorClass;
use super::sniff::PortSpeaks;
use crate::config::otlp::Protocol;
use crate::emit::outcome::{ExportError, ExportOutcome, Response};
use crate::signal::Signal;

/// `host:port` of the export URL.
pub fn authority(export: &ExportOutcome) -> String {
    let url = &export.url.value;
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// The OTLP/HTTP path each kind of receiver takes for a signal, for 404 advice.
fn otlp_paths(signal: Signal) -> &'static str {
    match signal {
        Signal::Trace => {
            "a collector and Tempo take /v1/traces on their OTLP/HTTP port (4318); Tempo's \
             query port (3200) takes no OTLP"
        }
        Signal::Log => "Loki takes OTLP at /otlp/v1/logs (port 3100), a collector at /v1/logs",
        Signal::Metric => {
            "Mimir takes OTLP at /otlp/v1/metrics, VictoriaMetrics at /opentelemetry/v1/metrics, \
             Prometheus 3 at /api/v1/otlp/v1/metrics, a collector at /v1/metrics"
        }
    }
}

fn retry_note(export: &ExportOutcome) -> String {
    match export.attempts.len() {
        1 => String::new(),
        n => format!("; {n} attempts were made"),
    }
}

/// The hint for a failed export, or `None` when it was accepted.
pub fn export_hint(export: &ExportOutcome) -> Option<String> {
    let error = export.last().error.as_ref()?;
    Some(hint_for(export, error))
}

fn hint_for(export: &ExportOutcome, error: &ExportError) -> String {
    let at = authority(export);
    let url = export.url.value.as_str();
    let chosen = &export.url.source;
    let host = export.url.value.host_str().unwrap_or("HOST");
    let signal = export.signal;
    let protocol = export.protocol.value;
    let status = match &export.last().response {
        Some(Response::Http { status, .. }) => Some(*status),
        _ => None,
    };
    match error.class {
        ErrorClass::ConnectRefused => format!(
            "nothing listens on {at} (chosen by {chosen}); is the collector's receiver on \
             another port? (`otel-canary doctor {host}` shows what answers where)"
        ),
        ErrorClass::Dns => format!(
            "the host '{host}' (chosen by {chosen}) does not resolve: a typo, or a name known \
             only inside the cluster or compose network?"
        ),
        ErrorClass::ConnectTimeout => connect_timeout_hint(export, &at, host),
        ErrorClass::TlsMismatch => match error.port_speaks {
            Some(PortSpeaks::Tls) => format!(
                "{at} expects TLS but the canary spoke plain text: use https://{at} (the URL \
                 was chosen by {chosen})"
            ),
            other => format!(
                "{at} speaks {}, but the canary started TLS: use http://{at}, or enable TLS on \
                 the receiver (the URL was chosen by {chosen})",
                other.unwrap_or(PortSpeaks::Plaintext).describe()
            ),
        },
        ErrorClass::TlsHandshake => tls_hint(&at, &error.message),
        ErrorClass::ProtocolMismatch => match (error.port_speaks, status) {
            (Some(PortSpeaks::Grpc), _) => format!(
                "{at} speaks gRPC (HTTP/2 without TLS), not {protocol}: use --protocol grpc, or \
                 the collector's OTLP/HTTP port (usually 4318)"
            ),
            (Some(PortSpeaks::Http1), _) if error.port_backend.as_deref() == Some("loki") => {
                format!(
                    "{at} is Loki, which has no OTLP gRPC receiver: send logs with --protocol \
                     http/protobuf to http://{at}/otlp (Loki takes OTLP at /otlp/v1/logs), or \
                     through a collector's gRPC port (usually 4317)"
                )
            }
            (Some(PortSpeaks::Http1), _) => format!(
                "{at} speaks OTLP/HTTP (HTTP/1.1), not gRPC: use --protocol http/protobuf, or \
                 the collector's gRPC port (usually 4317)"
            ),
            (_, Some(415)) => format!(
                "the receiver at {url} does not take {protocol} (HTTP 415): use --protocol \
                 http/protobuf (VictoriaMetrics, for one, takes no OTLP JSON)"
            ),
            _ if protocol == Protocol::Grpc => format!(
                "{at} answered, but not in gRPC: is it an OTLP/HTTP port? try --protocol \
                 http/protobuf (`otel-canary doctor {host}`)"
            ),
            _ => format!(
                "{at} does not answer as {protocol} expects: is it a gRPC port? \
                 (`otel-canary doctor {host}`)"
            ),
        },
        ErrorClass::WrongPath if protocol == Protocol::Grpc => format!(
            "the gRPC server at {at} does not serve the OTLP {signal} service (UNIMPLEMENTED): \
             is this a receiver with a {} pipeline?",
            signal.plural()
        ),
        ErrorClass::WrongPath => format!(
            "{url} (chosen by {chosen}) is not an OTLP path on this server (HTTP 404): {}; \
             --endpoint appends /v1/{}, --{}-endpoint is used as is",
            otlp_paths(signal),
            signal.plural(),
            signal.plural()
        ),
        ErrorClass::Auth if error.message.contains("no org id") => {
            "the receiver is multi-tenant and got no tenant: pass --tenant ORG_ID (sent as \
             X-Scope-OrgID on writes and reads)"
                .to_string()
        }
        ErrorClass::Auth => format!(
            "the receiver refused the credentials ({}): check --header Authorization=… or \
             OTEL_EXPORTER_OTLP_HEADERS, and --tenant on a multi-tenant stack",
            status.map_or("UNAUTHENTICATED".to_string(), |s| format!("HTTP {s}"))
        ),
        ErrorClass::TooLarge => format!(
            "the receiver refused a {}-byte request as too large (HTTP 413): raise its request \
             size limit (collector: max_request_body_size) or that of a proxy in front",
            export.bytes_sent.unwrap_or(export.payload_bytes)
        ),
        ErrorClass::RateLimited => {
            let after = export
                .last()
                .retry_after_seconds
                .map(|s| format!(", Retry-After {s:.0}s"))
                .unwrap_or_default();
            format!(
                "the receiver is rate-limiting ({}{after}): check the receiver's or tenant's \
                 ingestion limits{}; --retries N retries",
                status.map_or("RESOURCE_EXHAUSTED".to_string(), |s| format!("HTTP {s}")),
                retry_note(export)
            )
        }
        ErrorClass::Unavailable if error.message.contains("error received") => format!(
            "the receiver at {at} ended the HTTP/2 connection or stream without answering \
             (GOAWAY or RST_STREAM: {}): it is shutting down or shedding load, or a proxy in \
             front closes connections{}",
            error.message,
            retry_note(export)
        ),
        ErrorClass::Unavailable => format!(
            "the receiver at {at} is unavailable ({}): starting, overloaded, or a proxy in front \
             has no healthy backend{}",
            status.map_or("UNAVAILABLE".to_string(), |s| format!("HTTP {s}")),
            retry_note(export)
        ),
        ErrorClass::PartialSuccess => format!(
            "the receiver accepted the request but rejected {} (OTLP partial success): its \
             message says why; behind a collector this is the backend refusing data after \
             receiving it (Tempo: the distributor could not hand spans to an ingester)",
            rejected_items(export)
        ),
        ErrorClass::HttpStatus if error.message.contains("redirects to") => format!(
            "{at} answered the export with a redirect ({}): an OTLP receiver does not redirect, \
             a proxy or a login page does; the canary does not follow it (the export and its \
             credentials go only where you pointed them): point the endpoint at the receiver \
             itself (chosen by {chosen})",
            error.message
        ),
        ErrorClass::HttpStatus | ErrorClass::GrpcStatus => {
            "the receiver refused the export: its answer is in the detail".to_string()
        }
        ErrorClass::Timeout => format!(
            "{at} took the connection but never acknowledged the export within the export \
             timeout: a hung receiver, or a proxy that swallows the request; an unacknowledged \
             export counts as failed{}",
            retry_note(export)
        ),
        ErrorClass::Body => format!(
            "{at} answered 2xx, but not with an OTLP export response: a proxy or another \
             service on this port?"
        ),
        ErrorClass::Transport => format!(
            "the connection to {at} broke without an answer: `otel-canary doctor {host}` shows \
             what speaks there"
        ),
        ErrorClass::NotSent => format!(
            "the OpenTelemetry SDK never sent the {signal} to {url} (chosen by {chosen}): the \
             flush returned without a request leaving the process; the detail says what the SDK \
             reported (its sampler, a full queue, a flush timeout); an app configured this way \
             loses this telemetry silently"
        ),
    }
}

/// The client's connect timeout spans the name lookup, the TCP connect and (for `https`) the
/// TLS handshake, and from outside they look the same: name each step it may have been, and
/// only the TCP connect for a plain address.
fn connect_timeout_hint(export: &ExportOutcome, at: &str, host: &str) -> String {
    let url = &export.url.value;
    let by_name = matches!(url.host(), Some(url::Host::Domain(_)));
    let tls = url.scheme() == "https";
    if !by_name && !tls {
        return format!(
            "no TCP connection to {at} within the export timeout: a firewall drops it or the \
             address is wrong (`otel-canary doctor {host}`)"
        );
    }
    let mut steps = Vec::new();
    let mut causes = Vec::new();
    if by_name {
        steps.push(format!("the name lookup of '{host}'"));
        causes.push("a DNS server that does not answer");
    }
    steps.push("the TCP connect".to_string());
    causes.push("a firewall that drops the connection");
    if tls {
        steps.push("the TLS handshake".to_string());
    }
    causes.push("a wrong address");
    format!(
        "no connection to {at} within the export timeout: {} never finished ({}; `otel-canary \
         doctor {host}`)",
        steps.join(" or "),
        causes.join(", ")
    )
}

fn tls_hint(at: &str, message: &str) -> String {
    let m = message.to_ascii_lowercase();
    if message.contains(crate::diagnose::second_look::STALLED_HANDSHAKE) {
        format!(
            "{at} takes the TCP connection but never finished the TLS handshake within the \
             export timeout: a TLS proxy whose upstream hangs, or a port that accepts \
             connections and does not answer TLS (`otel-canary doctor`)"
        )
    } else if m.contains("unknownissuer")
        || m.contains("unknown issuer")
        || m.contains("badsignature")
    {
        format!(
            "{at} presented a certificate the canary does not trust (self-signed or a private \
             CA): pass --ca-cert CA.pem (--insecure-skip-verify only to debug)"
        )
    } else if m.contains("notvalidforname") || m.contains("not valid for name") {
        format!(
            "{at}'s certificate is not issued for this host name: use the name the certificate \
             carries in the URL"
        )
    } else if m.contains("expired") {
        format!("{at}'s certificate has expired or is not yet valid")
    } else if m.contains("refused the tls session") || m.contains("certificaterequired") {
        format!(
            "{at} refused the TLS session: it wants a client certificate the canary did not \
             present or it does not trust (--client-cert, --client-key)"
        )
    } else {
        format!("the TLS handshake with {at} failed: see the detail")
    }
}

fn rejected_items(export: &ExportOutcome) -> String {
    let n = export
        .last()
        .partial_success
        .as_ref()
        .map_or(0, |p| p.rejected);
    let what = match (export.signal, n) {
        (Signal::Trace, 1) => "span",
        (Signal::Trace, _) => "spans",
        (Signal::Log, 1) => "log record",
        (Signal::Log, _) => "log records",
        (Signal::Metric, 1) => "data point",
        (Signal::Metric, _) => "data points",
    };
    format!("{n} {what}")
}
