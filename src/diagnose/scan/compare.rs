//! Holding the configured targets against the scan: one verdict per export signal and read
//! backend, OK or the mismatch in one sentence that names the setting that chose the value
//! and what to change ("your traces go to … over gRPC (chosen by flag --protocol), but :4318
//! speaks OTLP/HTTP: use --protocol http/protobuf or port 4317"). Pure: findings and check
//! results in, verdicts out.

use super::check::{ExportCheck, ReadCheck};
use super::http_probe::shorten;
use super::plan::{authority, normalise_host};
use super::read_verdict::read_verdict;
use super::{
    Budget, Mismatch, PathAnswer, PortFinding, PortState, Speaks, TargetVerdict, Transport,
};
use crate::config::Sourced;
use crate::config::otlp::{Protocol, SignalTarget};
use crate::diagnose::error_class::ErrorClass;
use crate::emit::outcome::{Attempt, Response};
use crate::redact::{redact_url, scrub};
use crate::signal::Signal;
use url::Url;

/// The finding for the host and port of `url`.
pub(super) fn finding<'a>(findings: &'a [PortFinding], url: &Url) -> Option<&'a PortFinding> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    findings.iter().find(|f| f.is(host, port))
}

/// Other open ports on the same address as `f` (or on the named host).
pub(super) fn neighbours<'a>(
    findings: &'a [PortFinding],
    host: &str,
    f: Option<&'a PortFinding>,
    port: u16,
) -> impl Iterator<Item = &'a PortFinding> {
    let host = normalise_host(host);
    let address = f.and_then(|f| f.address);
    findings.iter().filter(move |o| {
        o.port != port
            && o.state == PortState::Open
            && match address {
                Some(a) => o.address == Some(a),
                None => o.names.contains(&host),
            }
    })
}

/// "OTLP/HTTP answers on :4318" / "OTLP gRPC answers on :4317" for `signal` elsewhere on the
/// host, preferring `protocol`'s family; empty when nothing does.
fn alternatives(
    findings: &[PortFinding],
    host: &str,
    f: Option<&PortFinding>,
    port: u16,
    signal: Signal,
    protocol: Protocol,
) -> String {
    let mut http = Vec::new();
    let mut grpc = Vec::new();
    for o in neighbours(findings, host, f, port) {
        if let Some(p) = o.otlp_paths_for(signal).first() {
            http.push(format!(":{} ({})", o.port, p.path));
        }
        if o.grpc_takes(signal) {
            grpc.push(format!(":{}", o.port));
        }
    }
    let h = (!http.is_empty()).then(|| {
        format!(
            "OTLP/HTTP for {} answers on {}",
            signal.plural(),
            http.join(", ")
        )
    });
    let g = (!grpc.is_empty()).then(|| {
        format!(
            "OTLP gRPC for {} answers on {}",
            signal.plural(),
            grpc.join(", ")
        )
    });
    let parts: Vec<String> = if protocol.is_http() { [h, g] } else { [g, h] }
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join("; "))
    }
}

/// The first other port on the host speaking OTLP `signal` over gRPC (`grpc`) or HTTP.
fn other_port(
    findings: &[PortFinding],
    host: &str,
    f: Option<&PortFinding>,
    port: u16,
    signal: Signal,
    grpc: bool,
) -> Option<u16> {
    neighbours(findings, host, f, port)
        .find(|o| {
            if grpc {
                o.grpc_takes(signal)
            } else {
                !o.otlp_paths_for(signal).is_empty()
            }
        })
        .map(|o| o.port)
}

/// `HTTP 200 OK`, `gRPC UNIMPLEMENTED (12): …`, `connect_refused: …`, secrets scrubbed.
fn attempt_summary(a: &Attempt, t: &SignalTarget) -> String {
    let text = match (&a.response, &a.error) {
        (Some(r), None) => r.summary(),
        // An HTTP error's message already starts with the status line.
        (Some(r), Some(e)) if e.message.starts_with(&r.summary()) => e.message.clone(),
        (Some(r), Some(e)) => format!("{}: {}", r.summary(), e.message),
        (None, Some(e)) => format!("{}: {}", e.class, e.message),
        (None, None) => "no answer".to_string(),
    };
    shorten(&scrub(&text, &t.headers, &t.url.value))
}

fn over(p: Protocol) -> &'static str {
    match p {
        Protocol::Grpc => "gRPC",
        Protocol::HttpProtobuf => "OTLP/HTTP (http/protobuf)",
        Protocol::HttpJson => "OTLP/HTTP (http/json)",
    }
}

/// A gRPC target shown without the meaningless trailing `/`.
fn shown(url: &Url, p: Protocol) -> String {
    let s = redact_url(url).to_string();
    if p == Protocol::Grpc && url.path() == "/" {
        s.trim_end_matches('/').to_string()
    } else {
        s
    }
}

fn with_scheme(url: &Url, scheme: &str) -> String {
    let mut u = redact_url(url);
    let _ = u.set_scheme(scheme);
    u.to_string()
}

/// Which header names carry credentials or a tenant.
fn auth_note(t: &SignalTarget) -> String {
    let sent: Vec<String> = t
        .headers
        .iter()
        .filter(|h| h.is_secret() || h.name == "x-scope-orgid")
        .map(|h| format!("{} ({})", h.name, h.source))
        .collect();
    if sent.is_empty() {
        "none is configured: give --tenant ORG or -H authorization=…".to_string()
    } else {
        format!("the configured {} was not accepted", sent.join(", "))
    }
}

/// Why a finding's port is not usable at all, if it is not open.
pub(super) fn not_open(
    f: &PortFinding,
    host: &str,
    hp: &str,
    budget: &Budget,
) -> Option<(Mismatch, String)> {
    let note = f.note.as_deref().unwrap_or("no detail");
    Some(match f.state {
        PortState::Open => return None,
        PortState::Closed => (Mismatch::Closed, format!("nothing listens on {hp}")),
        PortState::Filtered => (
            Mismatch::Filtered,
            format!(
                "{hp} did not answer the TCP connect within {:.1} s: a firewall drops it, or \
                 the host is wrong",
                budget.connect.as_secs_f64()
            ),
        ),
        PortState::Unreachable => (
            Mismatch::Unreachable,
            format!("{hp} is unreachable ({note})"),
        ),
        PortState::Unresolved => (Mismatch::Dns, format!("{host} does not resolve ({note})")),
        PortState::NoVerdict => (
            Mismatch::NoVerdict,
            format!("{hp} gave no verdict before the deadline"),
        ),
    })
}

/// Plain text to a TLS port, or TLS to a plain one.
pub(super) fn tls_mismatch(f: &PortFinding, url: &Url, port: u16) -> Option<(Mismatch, String)> {
    let https = url.scheme() == "https";
    if !https && f.is_tls() {
        return Some((
            Mismatch::TlsMismatch,
            format!(":{port} expects TLS: use {}", with_scheme(url, "https")),
        ));
    }
    if https && matches!(f.transport, Some(Transport::Http1 | Transport::H2c)) {
        return Some((
            Mismatch::TlsMismatch,
            format!(
                ":{port} is plain text, without TLS: use {}",
                with_scheme(url, "http")
            ),
        ));
    }
    None
}

/// Which of the URL's settings a mismatch is about.
enum Blame {
    Url,
    Protocol,
}

fn export_mismatch(
    c: &ExportCheck,
    f: Option<&PortFinding>,
    findings: &[PortFinding],
    budget: &Budget,
) -> (Mismatch, String, Blame) {
    let t = &c.target;
    let url = &t.url.value;
    let (s, p) = (t.signal, t.protocol.value);
    let host = normalise_host(url.host_str().unwrap_or(""));
    let port = url.port_or_known_default().unwrap_or(0);
    let hp = authority(&host, port);
    let alts = || alternatives(findings, &host, f, port, s, p);
    if let Some(f) = f {
        if let Some((m, text)) = not_open(f, &host, &hp, budget) {
            return (m, format!("{text}{}", alts()), Blame::Url);
        }
        if let Some((m, text)) = tls_mismatch(f, url, port) {
            return (m, text, Blame::Url);
        }
        if p == Protocol::Grpc && !f.speaks_grpc() && f.speaks_http1() {
            let paths: Vec<&str> = f
                .otlp_paths_for(s)
                .iter()
                .map(|x| x.path.as_str())
                .collect();
            let what = match (
                f.speaks
                    .iter()
                    .any(|x| matches!(x, Speaks::OtlpHttp { .. })),
                f.backend(),
            ) {
                (true, Some((name, _))) if !paths.is_empty() => {
                    format!("OTLP/HTTP ({name}, {} at {})", s.plural(), paths.join(", "))
                }
                (true, Some((name, _))) => format!("OTLP/HTTP ({name}, no {} path)", s.plural()),
                (true, None) => "OTLP/HTTP".to_string(),
                (false, _) => format!("HTTP/1.1, not gRPC ({})", f.summary()),
            };
            let port_hint = other_port(findings, &host, Some(f), port, s, true)
                .map(|o| format!(" or port {o}"))
                .unwrap_or_default();
            return (
                Mismatch::ProtocolMismatch,
                format!(":{port} speaks {what}: use --protocol http/protobuf{port_hint}"),
                Blame::Protocol,
            );
        }
        if p.is_http() && f.speaks_grpc() && !f.speaks_http1() {
            let port_hint = other_port(findings, &host, Some(f), port, s, false)
                .map(|o| format!(" or port {o}"))
                .unwrap_or_default();
            return (
                Mismatch::ProtocolMismatch,
                format!(":{port} speaks gRPC: use --protocol grpc{port_hint}"),
                Blame::Protocol,
            );
        }
        let tls_failed = c
            .attempt
            .as_ref()
            .and_then(|a| a.error.as_ref())
            .is_some_and(|e| e.class == ErrorClass::TlsHandshake);
        if f.speaks.is_empty() && !tls_failed {
            return (
                Mismatch::NotOtlp,
                format!("{hp} does not speak OTLP: {}{}", f.summary(), alts()),
                Blame::Url,
            );
        }
    }
    let Some(a) = &c.attempt else {
        return (
            Mismatch::NoVerdict,
            format!("the empty export to {hp} got no answer before the deadline"),
            Blame::Url,
        );
    };
    let got = attempt_summary(a, t);
    let class = a.error.as_ref().map(|e| e.class);
    match (&a.response, class) {
        (
            Some(Response::Http {
                status: 401 | 403, ..
            }),
            _,
        )
        | (Some(Response::Grpc { code: 7 | 16, .. }), _) => (
            Mismatch::NeedsAuth,
            format!(
                "it answers {got}: it needs credentials or a tenant; {}",
                auth_note(t)
            ),
            Blame::Url,
        ),
        (Some(Response::Http { status, .. }), Some(_))
            if matches!(status, 404 | 405)
                || (*status == 400 && got.contains("unsupported path")) =>
        {
            wrong_path(t, f, findings, &host, port, &got)
        }
        (Some(Response::Grpc { code: 12, .. }), _) => {
            let takes: Vec<&str> = Signal::ALL
                .iter()
                .filter(|x| f.is_some_and(|f| f.grpc_takes(**x)))
                .map(|x| x.plural())
                .collect();
            let only = if takes.is_empty() {
                String::new()
            } else {
                format!(" (it takes {} only)", takes.join(", "))
            };
            (
                Mismatch::Unimplemented,
                format!(
                    ":{port} speaks gRPC but has no OTLP {} service{only}{}",
                    s.plural(),
                    alts()
                ),
                Blame::Url,
            )
        }
        (_, Some(ErrorClass::Body)) => (
            Mismatch::NotOtlp,
            format!(
                "{hp} answered with something that is not an OTLP response ({got}): a proxy or a web page?"
            ),
            Blame::Url,
        ),
        (_, Some(ErrorClass::TlsMismatch)) => (
            Mismatch::TlsMismatch,
            format!("{hp}: one side speaks TLS, the other plain text ({got})"),
            Blame::Url,
        ),
        (_, Some(ErrorClass::TlsHandshake)) => (
            Mismatch::TlsHandshake,
            format!(
                "TLS with {hp} failed ({got}): an untrusted certificate needs --ca-cert, a \
                 client certificate --client-cert/--client-key"
            ),
            Blame::Url,
        ),
        (_, Some(ErrorClass::ProtocolMismatch)) => (
            Mismatch::ProtocolMismatch,
            format!("{hp} speaks another protocol ({got})"),
            Blame::Protocol,
        ),
        (_, Some(ErrorClass::ConnectRefused)) => (
            Mismatch::Closed,
            format!("nothing listens on {hp}{}", alts()),
            Blame::Url,
        ),
        (_, Some(ErrorClass::Dns)) => (
            Mismatch::Dns,
            format!("{host} does not resolve ({got})"),
            Blame::Url,
        ),
        (_, Some(ErrorClass::ConnectTimeout | ErrorClass::Timeout)) => (
            Mismatch::Filtered,
            format!("the empty export got no answer in time ({got})"),
            Blame::Url,
        ),
        _ => (
            Mismatch::Refused,
            format!("the empty export was refused: {got}"),
            Blame::Url,
        ),
    }
}

/// 404 at the configured path: where on this port (or host) the signal is taken instead.
fn wrong_path(
    t: &SignalTarget,
    f: Option<&PortFinding>,
    findings: &[PortFinding],
    host: &str,
    port: u16,
    got: &str,
) -> (Mismatch, String, Blame) {
    let s = t.signal;
    let here: Vec<&str> = f
        .map(|f| {
            f.otlp_paths_for(s)
                .iter()
                .map(|p| p.path.as_str())
                .collect()
        })
        .unwrap_or_default();
    if let Some(first) = here.first() {
        let mut fixed = redact_url(&t.url.value);
        fixed.set_path(first);
        let who = match f.and_then(PortFinding::backend) {
            Some((name, _)) if !name.contains("self-metrics") => name.to_string(),
            _ => format!(":{port}"),
        };
        return (
            Mismatch::WrongPath,
            format!(
                "{who} answers OTLP {} at {}: use --{}-endpoint {fixed}",
                s.plural(),
                here.join(", "),
                s.plural()
            ),
            Blame::Url,
        );
    }
    let what = match f.and_then(PortFinding::backend) {
        Some((name, _)) => format!("; :{port} is {name}'s API"),
        None => String::new(),
    };
    let otlp_here = f.is_some_and(|f| f.otlp_paths.iter().any(|p| p.answer == PathAnswer::Accepts));
    (
        if otlp_here {
            Mismatch::WrongPath
        } else {
            Mismatch::NotOtlp
        },
        format!(
            ":{port} takes no OTLP {} at any known path (the empty export got {got}){what}{}",
            s.plural(),
            alternatives(findings, host, f, port, s, t.protocol.value)
        ),
        Blame::Url,
    )
}

/// The verdict for one configured export signal.
pub fn export_verdict(c: &ExportCheck, findings: &[PortFinding], budget: &Budget) -> TargetVerdict {
    let t = &c.target;
    let (s, p) = (t.signal, t.protocol.value);
    let f = finding(findings, &t.url.value);
    let target = shown(&t.url.value, p);
    // Loki's 422 to an empty push means the path takes OTLP logs (`path_answer`).
    let accepted = c.attempt.as_ref().is_some_and(|a| {
        a.error
            .as_ref()
            .is_none_or(|e| e.class == ErrorClass::PartialSuccess)
            || super::http_probe::path_answer(a).1 == PathAnswer::Accepts
    });
    let check = c.attempt.as_ref().map(|a| attempt_summary(a, t));
    let (ok, reason, message) = if accepted {
        (
            true,
            None,
            format!(
                "your {} go to {target} (chosen by {}) over {}: {} ({})",
                s.plural(),
                t.url.source,
                over(p),
                if c.attempt.as_ref().is_some_and(|a| a.error.is_some()
                    && a.error
                        .as_ref()
                        .is_some_and(|e| e.class != ErrorClass::PartialSuccess))
                {
                    "Loki takes OTLP logs here (it refuses only the empty export, as it does every push without a log record)"
                } else {
                    "an empty export was accepted there"
                },
                check.as_deref().unwrap_or("")
            ),
        )
    } else {
        let (m, text, blame) = export_mismatch(c, f, findings, budget);
        let head = match blame {
            Blame::Url => format!("{target} (chosen by {}) over {}", t.url.source, over(p)),
            Blame::Protocol => match p {
                Protocol::Grpc => format!("{target} over gRPC (chosen by {})", t.protocol.source),
                _ => format!(
                    "{target} over OTLP/HTTP ({p}, chosen by {})",
                    t.protocol.source
                ),
            },
        };
        (
            false,
            Some(m),
            format!("your {} go to {head}, but {text}", s.plural()),
        )
    };
    TargetVerdict {
        kind: "export",
        target: s.as_str().to_string(),
        url: Sourced::new(redact_url(&t.url.value).to_string(), t.url.source.clone()),
        protocol: Some(t.protocol.clone()),
        ok,
        reason,
        message,
        check,
    }
}

/// Every verdict: export signals first, then read backends.
pub fn compare(
    exports: &[ExportCheck],
    reads: &[ReadCheck],
    findings: &[PortFinding],
    budget: &Budget,
) -> Vec<TargetVerdict> {
    exports
        .iter()
        .map(|c| export_verdict(c, findings, budget))
        .chain(reads.iter().map(|c| read_verdict(c, findings, budget)))
        .collect()
}
