//! Hints: the sentence a person at 2 a.m. can act on, built from which hop failed, how, and
//! what the target looked like (a collector in front, or a backend's own OTLP endpoint).

use crate::backends::QueryError;
use crate::diagnose::error_class::ErrorClass;
use crate::diagnose::export_hint::{authority, export_hint};
use crate::emit::outcome::ExportOutcome;
use crate::roundtrip::outcome::{Clue, HopName, Reason};
use crate::signal::Signal;

/// The facts a hint may draw on.
#[derive(Debug)]
pub struct HintContext<'a> {
    pub signal: Signal,
    pub hop: HopName,
    pub reason: Reason,
    pub export: &'a ExportOutcome,
    /// `Tempo`, `Loki`, `Mimir`, `Prometheus`.
    pub backend: &'a str,
    pub backend_url: &'a str,
    pub deadline_seconds: f64,
    pub query_error: Option<&'a QueryError>,
    /// What the last read saw ("no matching log line", "the marker series holds …").
    pub last_seen: Option<&'a str>,
    pub tenant: bool,
    /// What a look beyond the query found; one that explains the failure is the hint.
    pub clues: &'a [Clue],
    /// Reads that got no answer, of all reads sent.
    pub reads: (u32, u32),
}

/// True when the export went to the backend's own OTLP endpoint rather than a collector: the
/// same host and port as the read URL, or a backend's OTLP path (`/otlp/v1/logs`).
fn direct_to_backend(export: &ExportOutcome, backend_url: &str) -> bool {
    let url = &export.url.value;
    let same_port = url::Url::parse(backend_url).is_ok_and(|b| {
        b.host_str() == url.host_str() && b.port_or_known_default() == url.port_or_known_default()
    });
    let path = url.path();
    same_port || path.contains("/otlp/") || path.contains("/opentelemetry/")
}

/// `HTTP 200 OK in 3 ms`.
fn ack_text(export: &ExportOutcome) -> String {
    let answer = export
        .last()
        .response
        .as_ref()
        .map(|r| r.summary())
        .unwrap_or_else(|| "an ack".into());
    format!("{answer} in {:.0} ms", export.seconds() * 1e3)
}

fn fmt_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}

/// A hint for a failed hop, or `None` when there is nothing better to say than the detail.
pub fn hint(c: &HintContext<'_>) -> Option<String> {
    if c.hop == HopName::Grafana {
        // The Grafana hop diagnoses itself (roundtrip::grafana): its explaining clue.
        return c
            .clues
            .iter()
            .find(|k| k.explains)
            .map(|k| k.finding.clone());
    }
    let s = c.signal;
    let b = c.backend;
    match (c.hop, c.reason) {
        (_, Reason::Export(_)) => {
            export_hint(c.export).map(|h| format!("{h}; the {} was not polled", c.export.signal))
        }
        (HopName::Search, Reason::NotFound) => Some(format!(
            "the trace is readable by id but TraceQL search did not find it within {}: Tempo \
             search only sees a trace after the ingester cuts it (trace_idle_period, and \
             query_end_cutoff = 30s in Tempo 3); raise --search-timeout or check Tempo's search \
             settings",
            fmt_secs(c.deadline_seconds)
        )),
        (_, Reason::NotFound) => {
            let deadline = fmt_secs(c.deadline_seconds);
            if let Some(clue) = c.clues.iter().find(|k| k.explains) {
                // A pipeline's counters explain a loss: say first what was acknowledged.
                if matches!(clue.source, "collector_metrics" | "backend_metrics") {
                    return Some(format!(
                        "{} acknowledged the {s} ({}) but it never reached {b} within \
                         {deadline}: {}",
                        authority(c.export),
                        ack_text(c.export),
                        clue.finding
                    ));
                }
                return Some(clue.finding.clone());
            }
            let mut h = if direct_to_backend(c.export, c.backend_url) {
                format!(
                    "{b} acknowledged the {s} ({}) but the query never found it within \
                     {deadline}: the query does not match what was written",
                    ack_text(c.export)
                )
            } else {
                let head = format!(
                    "the collector at {} acknowledged the {s} ({}) but it never reached {b} \
                     within {deadline}",
                    authority(c.export),
                    ack_text(c.export),
                );
                let pages: Vec<&Clue> = c
                    .clues
                    .iter()
                    .filter(|k| k.source == "collector_metrics")
                    .collect();
                let read = pages.iter().any(|k| !k.unread);
                let unread = pages.iter().any(|k| k.unread);
                if read {
                    format!("{head}; the collector's own counters are below")
                } else if unread {
                    format!(
                        "{head}: the collector has no {} pipeline exporting to {b}, or its \
                         exporter fails; its metrics page could not be read (below), so its \
                         counters cannot say which: check its logs",
                        s.plural()
                    )
                } else {
                    format!(
                        "{head}: the collector has no {} pipeline exporting to {b}, or its \
                         exporter fails (check its logs, or give --collector-metrics URL to read \
                         its counters)",
                        s.plural()
                    )
                }
            };
            let searched = !c.clues.is_empty();
            match s {
                Signal::Log if !searched => h.push_str(
                    "; if the pipeline relabels logs (an Alloy loki exporter), try --log-match line \
                     or --log-selector",
                ),
                Signal::Metric => {
                    if let Some(seen) = c.last_seen {
                        h.push_str(&format!("; last read: {seen}"));
                    }
                    if !searched {
                        h.push_str(
                            "; the marker is matched by job/instance (service.name/\
                             service.instance.id): give --metric-selector if your pipeline relabels",
                        );
                    }
                }
                _ => {}
            }
            if !c.tenant {
                h.push_str("; on a multi-tenant stack, writes and reads need the same --tenant");
            }
            Some(h)
        }
        (_, Reason::Timeout) => {
            let (silent, all) = c.reads;
            let last = c
                .query_error
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default();
            Some(format!(
                "{b} at {} did not answer within {}: {silent} of {all} read{} went unanswered{last}. \
                 Whether the {s} arrived is unknown, so nothing before {b} is blamed: check {b}'s \
                 load and readiness, the network path to it (a proxy, a firewall that drops), \
                 and --query-timeout",
                c.backend_url,
                fmt_secs(c.deadline_seconds),
                if all == 1 { "" } else { "s" },
            ))
        }
        (_, Reason::QueryFailed) => match c.clues.iter().find(|k| k.explains) {
            Some(clue) => Some(clue.finding.clone()),
            None => Some(query_hint(c)),
        },
        (_, Reason::Incomplete) => Some(format!(
            "only part of the {s} arrived in {b}: {}; the pipeline drops spans of one service \
             (a filter or sampling processor?)",
            c.last_seen.unwrap_or("one span is missing")
        )),
        // Mismatches quote the failed check; expose failures belong to pull paths, derived
        // and assertion failures to their own checks, which write their own hints.
        (_, Reason::Mismatch | Reason::ExposeFailed) => None,
        (_, Reason::DerivedMissing | Reason::AssertionFailed) => None,
    }
}

/// Whether a TLS error's text names one of these reasons (rustls writes `Expired`,
/// `NotValidForName`, `UnknownIssuer`).
fn tls_says(message: &str, any: &[&str]) -> bool {
    let m = message.to_ascii_lowercase();
    any.iter().any(|w| m.contains(w))
}

/// What a failed TLS handshake with `url` means, in the words of the certificate problem
/// rustls named (expired, another host name, an unknown issuer) when it named one.
pub fn tls_hint(url: &str, e: &QueryError) -> String {
    if tls_says(&e.message, &["expired", "notvalidyet", "not valid yet"]) {
        format!(
            "TLS with {url} failed: the server's certificate has expired (or is not valid yet): \
             renew it, or check the clock ({})",
            e.message
        )
    } else if tls_says(
        &e.message,
        &["notvalidforname", "not valid for name", "not valid for"],
    ) {
        format!(
            "TLS with {url} failed: the server's certificate is not valid for this host name: use \
             the name the certificate was issued for, or reissue it with this one ({})",
            e.message
        )
    } else if tls_says(&e.message, &["unknownissuer", "unknown issuer"]) {
        format!(
            "TLS with {url} failed: the server's certificate is signed by an unknown authority: \
             give its CA with --read-ca-cert ({})",
            e.message
        )
    } else {
        format!(
            "TLS with {url} failed: a plain-text port, or an untrusted certificate \
             (--read-ca-cert)"
        )
    }
}

fn query_hint(c: &HintContext<'_>) -> String {
    let b = c.backend;
    let url = c.backend_url;
    let Some(e) = c.query_error else {
        return format!("{b} refused the query");
    };
    match (e.class, e.status) {
        (_, Some(401)) if e.message.contains("no org id") => format!(
            "{b} is multi-tenant and the read had no tenant: pass --tenant ORG_ID (X-Scope-OrgID on \
             writes and reads)"
        ),
        (_, Some(401 | 403)) => format!(
            "{b} refused the credentials: check --read-user/OTEL_CANARY_READ_PASSWORD or \
             OTEL_CANARY_READ_TOKEN"
        ),
        (_, Some(300..=399)) => format!("{url} {}", e.message),
        (_, Some(404)) => format!(
            "{url} has no such API path: is it the {b} query port? (Mimir: --mimir adds \
             /prometheus; Prometheus/VictoriaMetrics: --prometheus)"
        ),
        // A 2xx answer that is not the API's: its own words, whatever the status.
        (ErrorClass::Body, _) if e.message.starts_with("an HTML page answered") => format!(
            "{}: a login page, a proxy or Grafana's UI in front of the API? Point the read URL \
             at {b}'s own HTTP API (or, behind an auth proxy, give its credentials with \
             --read-token-file / --read-user)",
            e.message
        ),
        (ErrorClass::Body, _) if e.message.contains("larger than") => format!(
            "{url} answered more than a reader accepts ({}): is it {b}'s query API?",
            e.message
        ),
        (ErrorClass::Body, _) => format!("{b}'s answer made no sense: {}", e.message),
        (_, Some(_)) if e.message.contains("empty ring") => format!(
            "{b} answered \"{}\": no ingester (or, for TraceQL metrics, no metrics-generator) has \
             joined its ring, so nothing can be written or read; check {b}'s /ready and /ring \
             pages and that the component runs for this tenant",
            e.message
        ),
        (_, Some(400 | 422))
            if e.message.contains("parse error") || e.message.contains("bad_data") =>
        {
            let flag = match c.signal {
                Signal::Log => "--log-selector",
                Signal::Metric => "--metric-selector",
                Signal::Trace => "the trace id",
            };
            format!("{b} could not parse the query: {}; check {flag}", e.message)
        }
        (_, Some(_)) => format!("{b} refused the query: {}", e.message),
        (ErrorClass::ConnectRefused, _) => {
            format!("nothing listens at {url}: is {b} running and is this its query port?")
        }
        (ErrorClass::Dns, _) => format!("the host of {url} does not resolve"),
        (ErrorClass::TlsHandshake, _) => tls_hint(url, e),
        (ErrorClass::ProtocolMismatch, _) => {
            format!("{url} does not speak HTTP as expected: is it the {b} query port?")
        }
        _ => format!("{b} could not be queried: {}", e.message),
    }
}
