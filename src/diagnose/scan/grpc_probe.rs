//! Confirming OTLP gRPC on an HTTP/2 port: one EMPTY Export call per OTLP service (trace,
//! logs, metrics; an empty request stores nothing) through the crate's own gRPC transport,
//! certificate checks off. OK means the service is there; UNIMPLEMENTED from a real gRPC
//! server means gRPC without that service (Tempo's 4317 takes traces only); a non-gRPC answer
//! (an HTTP/2 web server's 404) means not gRPC at all.

use super::http_probe::{probe_target, shorten};
use super::{Budget, GrpcService, ServiceAnswer, Speaks};
use crate::config::otlp::Protocol;
use crate::diagnose::error_class::ErrorClass;
use crate::emit::encoding::Payload;
use crate::emit::grpc::GrpcTransport;
use crate::emit::outcome::{Attempt, Response};
use crate::signal::Signal;
use futures_util::future::join_all;
use url::Url;

/// An empty export request for `signal`.
pub fn empty_payload(signal: Signal) -> Payload {
    match signal {
        Signal::Trace => Payload::Trace(Default::default()),
        Signal::Log => Payload::Log(Default::default()),
        Signal::Metric => Payload::Metric(Default::default()),
    }
}

/// Sorts a gRPC export attempt into a service answer.
pub fn service_answer(a: &Attempt) -> (Option<i32>, ServiceAnswer, Option<String>) {
    let code = match &a.response {
        Some(Response::Grpc { code, .. }) => Some(*code),
        _ => None,
    };
    let detail = a.error.as_ref().map(|e| shorten(&e.message));
    let answer = match (&a.error, code) {
        (None, Some(_)) => ServiceAnswer::Accepts,
        (Some(e), _) if e.class == ErrorClass::PartialSuccess => ServiceAnswer::Accepts,
        (Some(_), Some(12)) => ServiceAnswer::Unimplemented,
        (Some(_), Some(7 | 16)) => ServiceAnswer::NeedsAuth,
        (Some(_), Some(_)) => ServiceAnswer::Refused,
        (Some(e), None) if e.class == ErrorClass::ProtocolMismatch => ServiceAnswer::NotGrpc,
        (_, None) => ServiceAnswer::NoAnswer,
    };
    (code, answer, detail)
}

/// Calls every OTLP service on `base` (`http://host:port` or `https://…`) at once.
pub async fn probe(base: &Url, budget: &Budget) -> (Vec<GrpcService>, Vec<Speaks>) {
    let services = join_all(Signal::ALL.iter().map(|&signal| async move {
        let target = probe_target(signal, base.clone(), Protocol::Grpc, budget);
        let attempt = match GrpcTransport::new(&target) {
            Ok(t) => t.send(&target, &empty_payload(signal), 1).await,
            Err(e) => {
                return GrpcService {
                    signal,
                    code: None,
                    answer: ServiceAnswer::NoAnswer,
                    detail: Some(e.to_string()),
                };
            }
        };
        let (code, answer, detail) = service_answer(&attempt);
        GrpcService {
            signal,
            code,
            answer,
            detail,
        }
    }))
    .await;
    let tls = base.scheme() == "https";
    let otlp: Vec<Signal> = services
        .iter()
        .filter(|s| matches!(s.answer, ServiceAnswer::Accepts | ServiceAnswer::NeedsAuth))
        .map(|s| s.signal)
        .collect();
    let speaks = if !otlp.is_empty() {
        vec![Speaks::OtlpGrpc { tls, signals: otlp }]
    } else if services.iter().any(|s| {
        matches!(
            s.answer,
            ServiceAnswer::Unimplemented | ServiceAnswer::Refused
        )
    }) {
        vec![Speaks::Grpc { tls }]
    } else {
        Vec::new()
    };
    (services, speaks)
}
