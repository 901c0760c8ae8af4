//! Asking an HTTP port (plain or TLS) what it is, all requests at once: the build-info,
//! readiness, health and self-metrics GETs of `fingerprint`, and an EMPTY OTLP export
//! (`Content-Type: application/x-protobuf`, zero bytes: an empty `Export*ServiceRequest`,
//! which stores nothing) POSTed to each of `OTLP_PATHS`. The requests go through the crate's
//! own read client and OTLP/HTTP transport, with certificate checks off: this is a diagnosis,
//! and no credentials are sent.

use super::fingerprint::{self, GETS};
use super::{Budget, OTLP_PATHS, OtlpPath, PathAnswer, Speaks};
use crate::backends::client::{Answer, ReadClient, join};
use crate::config::Sourced;
use crate::config::otlp::{Compression, Protocol, SignalTarget, TlsSettings};
use crate::diagnose::error_class::ErrorClass;
use crate::emit::encoding::Encoding;
use crate::emit::http::HttpTransport;
use crate::emit::outcome::{Attempt, Response};
use crate::signal::Signal;
use bytes::Bytes;
use futures_util::future::join_all;
use std::collections::BTreeMap;
use url::Url;

/// Certificate checks off: the scan wants to know what answers, not whether to trust it.
pub fn insecure() -> TlsSettings {
    TlsSettings {
        insecure_skip_verify: true,
        ..Default::default()
    }
}

/// A synthetic export target: `url`, no headers, the scan's timeout, checks off.
pub fn probe_target(signal: Signal, url: Url, protocol: Protocol, budget: &Budget) -> SignalTarget {
    SignalTarget {
        signal,
        url: Sourced::default_value(url),
        protocol: Sourced::default_value(protocol),
        headers: Vec::new(),
        compression: Sourced::default_value(Compression::None),
        timeout: Sourced::default_value(Some(budget.request)),
        tls: insecure(),
    }
}

/// What the HTTP probe learned.
pub struct HttpFindings {
    pub paths: Vec<OtlpPath>,
    pub speaks: Vec<Speaks>,
    pub error: Option<String>,
}

/// Loki's words for an OTLP push without a log record.
const LOKI_EMPTY_PUSH: &str = "at least one valid stream is required for ingestion";

/// Sorts an OTLP/HTTP export attempt into a path answer.
pub fn path_answer(a: &Attempt) -> (Option<u16>, PathAnswer, Option<String>) {
    let status = match &a.response {
        Some(Response::Http { status, .. }) => Some(*status),
        _ => None,
    };
    let detail = a.error.as_ref().map(|e| shorten(&e.message));
    let answer = match (&a.error, status) {
        (None, Some(_)) => PathAnswer::Accepts,
        (Some(e), Some(_)) if e.class == ErrorClass::PartialSuccess => PathAnswer::Accepts,
        (Some(e), Some(_)) if e.class == ErrorClass::Body => PathAnswer::NotOtlp,
        // Loki refuses an empty push (no log record) with 422 and this Status: the path does
        // take OTLP logs (shared/fixtures/loki/otlp-logs-empty-*).
        (Some(e), Some(422)) if e.message.contains(LOKI_EMPTY_PUSH) => PathAnswer::Accepts,
        (Some(_), Some(401 | 403)) => PathAnswer::NeedsAuth,
        (Some(_), Some(404)) => PathAnswer::NotFound,
        (Some(_), Some(405)) => PathAnswer::MethodNotAllowed,
        (Some(_), Some(415)) => PathAnswer::UnsupportedMediaType,
        (Some(_), Some(s)) if s >= 500 => PathAnswer::ServerError,
        (Some(_), Some(_)) => PathAnswer::Rejected,
        (_, None) => PathAnswer::NoAnswer,
    };
    (status, answer, detail)
}

/// At most one line of 160 characters, without control characters (it may quote a server).
pub fn shorten(s: &str) -> String {
    let line: String = s
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if line.chars().count() > 160 {
        format!("{}…", line.chars().take(160).collect::<String>())
    } else {
        line
    }
}

/// Probes `base` (`http://host:port` or `https://…`).
pub async fn probe(base: &Url, budget: &Budget) -> HttpFindings {
    let client = match ReadClient::new(base, Vec::new(), &insecure(), budget.request) {
        Ok(c) => c,
        Err(e) => {
            return HttpFindings {
                paths: Vec::new(),
                speaks: Vec::new(),
                error: Some(e.to_string()),
            };
        }
    };
    let first = probe_target(Signal::Trace, base.clone(), Protocol::HttpProtobuf, budget);
    let transport = match HttpTransport::new(&first) {
        Ok(t) => t,
        Err(e) => {
            return HttpFindings {
                paths: Vec::new(),
                speaks: Vec::new(),
                error: Some(e.to_string()),
            };
        }
    };
    let gets = join_all(GETS.iter().map(|&path| {
        let client = &client;
        async move { (path, client.get(&join(base, path), &[], &[]).await) }
    }));
    let posts = join_all(OTLP_PATHS.iter().map(|&(path, signal)| {
        let transport = &transport;
        async move {
            let target = probe_target(signal, join(base, path), Protocol::HttpProtobuf, budget);
            let attempt = transport
                .send(&target, Encoding::Protobuf, Bytes::new(), 1)
                .await;
            let (status, answer, detail) = path_answer(&attempt);
            OtlpPath {
                path: path.to_string(),
                signal,
                status,
                answer,
                detail,
            }
        }
    }));
    let (gets, paths) = tokio::join!(gets, posts);
    let mut first_error = None;
    let mut answers: BTreeMap<&'static str, Answer> = BTreeMap::new();
    for (path, got) in gets {
        match got {
            Ok(a) => {
                answers.insert(path, a);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let mut speaks = fingerprint::backends(&answers);
    let tls = base.scheme() == "https";
    let accepting: Vec<String> = paths
        .iter()
        .filter(|p| p.answer.is_otlp())
        .map(|p| p.path.clone())
        .collect();
    if !accepting.is_empty() {
        speaks.insert(
            0,
            Speaks::OtlpHttp {
                tls,
                paths: accepting,
            },
        );
    }
    let any_answer = !answers.is_empty() || paths.iter().any(|p| p.status.is_some());
    if speaks.is_empty() && any_answer {
        speaks.push(Speaks::Http { tls });
    }
    let error = (!any_answer).then(|| match first_error {
        Some(e) => format!("no HTTP request was answered ({})", shorten(&e.to_string())),
        None => "no HTTP request was answered".to_string(),
    });
    HttpFindings {
        paths,
        speaks,
        error,
    }
}
