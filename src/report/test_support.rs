//! Reports built by hand for the renderers' unit tests: one probe, signals with the hops a
//! test gives, everything else as `run` would fill it against a local stack.

use super::{ProbeView, ResourceView, RunReport};
use crate::config::emitter::{Emitter, EmitterMode};
use crate::config::otlp::{Compression, Protocol};
use crate::config::{Provenance, Sourced};
use crate::emit::outcome::{Attempt, ExportOutcome, Response};
use crate::roundtrip::outcome::{Hop, ReadView, SignalOutcome, Status};
use crate::signal::Signal;

/// An export acknowledged with HTTP 200 in 2 ms, sent where `--endpoint` said.
pub fn export(signal: Signal) -> ExportOutcome {
    ExportOutcome {
        signal,
        emitter: Emitter::Wire,
        url: Sourced::new(
            url::Url::parse(&format!("http://127.0.0.1:4318/v1/{}s", signal.as_str())).unwrap(),
            Provenance::flag("--endpoint"),
        ),
        protocol: Sourced::default_value(Protocol::HttpProtobuf),
        compression: Compression::None,
        headers: Vec::new(),
        payload_bytes: 300,
        bytes_sent: Some(300),
        attempts: vec![Attempt {
            number: 1,
            seconds: 0.002,
            response: Some(Response::Http {
                status: 200,
                reason: "OK".into(),
                content_type: Some("application/x-protobuf".into()),
                body_bytes: 0,
            }),
            partial_success: None,
            error: None,
            retryable: false,
            retry_after_seconds: None,
        }],
        sdk: None,
    }
}

/// A signal with these hops, settled (the first failed hop decides).
pub fn signal_outcome(signal: Signal, hops: Vec<Hop>) -> SignalOutcome {
    let backend = match signal {
        Signal::Trace => "tempo",
        Signal::Log => "loki",
        Signal::Metric => "mimir",
    };
    let mut s = SignalOutcome {
        signal,
        emitter: Emitter::Wire,
        sent_at: 0.001,
        status: Status::Ok,
        reason: None,
        hint: None,
        export: export(signal),
        read: Some(ReadView {
            backend,
            url: Sourced::new(
                format!("http://127.0.0.1:3200/{backend}"),
                Provenance::env("OTEL_CANARY_TEMPO_URL"),
            ),
            query: "{ span.canary.probe_id = \"p\" }".into(),
            deadline_seconds: 30.0,
        }),
        hops,
        checks: Vec::new(),
        clues: Vec::new(),
    };
    s.settle();
    s
}

/// A `run` report of these signals.
pub fn report(signals: Vec<SignalOutcome>) -> RunReport {
    RunReport {
        probe: ProbeView {
            probe_id: "8c1b7a52-0d6e-4a8f-9d3e-5b2a1c0f9e11".into(),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            client_span_id: "00f067aa0ba902b7".into(),
            server_span_id: "00f067aa0ba902b8".into(),
            started_at: "2026-12-02T03:00:00.000Z".into(),
            marker: 1764644400000.0,
        },
        resource: ResourceView {
            service_name: Sourced::default_value("otel-canary".into()),
            service_instance_id: Sourced::new("host-1".into(), Provenance::flag("--instance")),
            service_version: env!("CARGO_PKG_VERSION").into(),
            attributes: Vec::new(),
        },
        scenario: None,
        ok: signals.iter().all(|s| s.status != Status::Failed),
        seconds: 1.5,
        signals,
        pulls: Vec::new(),
        assertions: Vec::new(),
        warnings: Vec::new(),
        emitter: EmitterMode::Wire,
        probes: Vec::new(),
        differences: Vec::new(),
    }
}
