//! The exporter: one transport per signal, built once (certificates read, clients made) and
//! reused for every probe; exports all signals concurrently and retries only when asked.

use super::encoding::{Encoding, Payload};
use super::grpc::GrpcTransport;
use super::http::HttpTransport;
use super::outcome::{Attempt, ExportOutcome};
use super::payload::{MetricTag, log_request, metric_request, trace_request};
use crate::config::ConfigError;
use crate::config::Sourced;
use crate::config::otlp::{Compression, ExportTarget, Protocol, SignalTarget};
use crate::config::resource::ResourceSpec;
use crate::probe::Probe;
use crate::redact::{redact_url, scrub};
use crate::signal::Signal;
use bytes::Bytes;
use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use futures_util::future::join_all;
use prost::Message;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait between retries, whatever the server's `Retry-After` asks for.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

enum Transport {
    Http(HttpTransport),
    Grpc(Box<GrpcTransport>),
}

struct Lane {
    target: SignalTarget,
    transport: Transport,
    retries: u32,
}

/// Exports probes to a resolved target.
pub struct Exporter {
    lanes: Vec<Arc<Lane>>,
}

/// Builds one signal's payload for a probe.
pub fn build_payload(
    signal: Signal,
    probe: &Probe,
    resource: &ResourceSpec,
    tag: MetricTag,
) -> Payload {
    match signal {
        Signal::Trace => Payload::Trace(trace_request(probe, resource)),
        Signal::Log => Payload::Log(log_request(probe, resource)),
        Signal::Metric => Payload::Metric(metric_request(probe, resource, tag)),
    }
}

/// Gzips a body (OTLP servers must accept gzip).
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 2 + 64), GzLevel::fast());
    enc.write_all(body).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

impl Exporter {
    /// Prepares transports; fails on unreadable certificates or unusable headers.
    pub fn new(target: &ExportTarget) -> Result<Exporter, ConfigError> {
        let lanes = target
            .signals
            .iter()
            .map(|t| {
                let transport = match t.protocol.value {
                    Protocol::Grpc => Transport::Grpc(Box::new(GrpcTransport::new(t)?)),
                    _ => Transport::Http(HttpTransport::new(t)?),
                };
                Ok(Arc::new(Lane {
                    target: t.clone(),
                    transport,
                    retries: target.retries,
                }))
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(Exporter { lanes })
    }

    /// Exports every signal of the probe concurrently; outcomes in signal order.
    pub async fn export(
        &self,
        probe: &Probe,
        resource: &ResourceSpec,
        tag: MetricTag,
    ) -> Vec<ExportOutcome> {
        join_all(self.lanes.iter().map(|lane| {
            let payload = build_payload(lane.target.signal, probe, resource, tag);
            self.export_lane(lane, payload)
        }))
        .await
    }

    /// Exports one signal of the probe; `None` when this exporter has no lane for it.
    pub async fn export_one(
        &self,
        signal: Signal,
        probe: &Probe,
        resource: &ResourceSpec,
        tag: MetricTag,
    ) -> Option<ExportOutcome> {
        let lane = self.lanes.iter().find(|l| l.target.signal == signal)?;
        let payload = build_payload(signal, probe, resource, tag);
        Some(self.export_lane(lane, payload).await)
    }

    /// The signals this exporter sends, in order.
    pub fn signals(&self) -> Vec<Signal> {
        self.lanes.iter().map(|l| l.target.signal).collect()
    }

    async fn export_lane(&self, lane: &Lane, payload: Payload) -> ExportOutcome {
        let t = &lane.target;
        let gzip_on = t.compression.value == Compression::Gzip;
        let (payload_bytes, bytes_sent, http_body) = match (&lane.transport, t.protocol.value) {
            (Transport::Http(_), protocol) => {
                let enc = if protocol == Protocol::HttpJson {
                    Encoding::Json
                } else {
                    Encoding::Protobuf
                };
                let raw = payload.encode(enc);
                let wire = if gzip_on { gzip(&raw) } else { raw.clone() };
                (raw.len(), Some(wire.len()), Some((enc, Bytes::from(wire))))
            }
            (Transport::Grpc(_), _) => {
                let len = match &payload {
                    Payload::Trace(m) => m.encoded_len(),
                    Payload::Log(m) => m.encoded_len(),
                    Payload::Metric(m) => m.encoded_len(),
                };
                (len, (!gzip_on).then_some(len + 5), None)
            }
        };
        let mut attempts: Vec<Attempt> = Vec::new();
        for number in 1..=lane.retries + 1 {
            let attempt = match (&lane.transport, &http_body) {
                (Transport::Http(h), Some((enc, body))) => {
                    h.send(t, *enc, body.clone(), number).await
                }
                (Transport::Grpc(g), _) => g.send(t, &payload, number).await,
                (Transport::Http(_), None) => unreachable!("HTTP lanes always have a body"),
            };
            let again = attempt.error.is_some() && attempt.retryable && number <= lane.retries;
            let wait = attempt
                .retry_after_seconds
                .map(Duration::from_secs_f64)
                .unwrap_or(FIRST_BACKOFF * 2u32.saturating_pow(number - 1))
                .min(MAX_RETRY_WAIT);
            attempts.push(attempt);
            if !again {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        for a in &mut attempts {
            if let Some(e) = &mut a.error {
                e.message = scrub(&e.message, &t.headers, &t.url.value);
            }
            if let Some(p) = &mut a.partial_success {
                p.message = scrub(&p.message, &t.headers, &t.url.value);
            }
        }
        ExportOutcome {
            signal: t.signal,
            emitter: crate::config::emitter::Emitter::Wire,
            url: Sourced::new(redact_url(&t.url.value), t.url.source.clone()),
            protocol: t.protocol.clone(),
            compression: t.compression.value,
            headers: t.headers.iter().map(|h| h.shown()).collect(),
            payload_bytes,
            bytes_sent,
            attempts,
            sdk: None,
        }
    }
}
