//! The canary's own probes as traces (`--self-trace URL`): one trace per probe describing the
//! probe itself, exported through the OpenTelemetry SDK as service `otel-canary-self`, so the
//! canary's own timeline can be looked at in Tempo or Jaeger. A root span `otel-canary probe`,
//! a child per signal (and pull path), a grandchild per hop (export, ingest with its poll
//! count, query, search, and any later hop), each with its status and reason, and a link to
//! the probe's own trace.
//!
//! It goes to its own endpoint, is never read back and never counted as a probe signal, and it
//! never blocks a probe: probes hand their outcome to a bounded queue and a background task
//! exports it; what does not fit, or fails to export, is counted as dropped spans.

use crate::config::otlp::{Protocol, append_signal_path, parse_endpoint};
use crate::config::{ConfigError, Provenance, Sourced};
use crate::emit::http::HttpTransport;
use crate::emit::sdk::diagnostics::{Sink, claim_thread, ensure_installed, with_sink};
use crate::emit::sdk::observe::{ObservingClient, Recorder};
use crate::probe::Probe;
use crate::report::RunReport;
use crate::roundtrip::outcome::{Hop, HopName, Status};
use crate::signal::Signal;
use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanId, SpanKind, Status as SpanStatus, TraceContextExt,
    TraceFlags, TraceId, TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::{RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use prometheus_client::metrics::counter::Counter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use url::Url;

/// The service the canary's own traces are reported under.
pub const SELF_SERVICE: &str = "otel-canary-self";
/// Probe traces waiting for export at most; a full queue drops (and counts) the newest.
const QUEUE: usize = 64;
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the self-traces go.
#[derive(Clone, Debug, PartialEq)]
pub struct SelfTraceTarget {
    pub url: Sourced<Url>,
    pub protocol: Protocol,
}

impl SelfTraceTarget {
    /// `--self-trace URL` (a base URL gets `/v1/traces` for HTTP) and its protocol.
    pub fn resolve(
        url: Option<&str>,
        protocol: Option<Protocol>,
    ) -> Result<Option<SelfTraceTarget>, ConfigError> {
        let Some(raw) = url else { return Ok(None) };
        let source = Provenance::flag("--self-trace");
        let base = parse_endpoint(raw, &source)?;
        let protocol = protocol.unwrap_or(Protocol::HttpProtobuf);
        let url = if protocol.is_http() && matches!(base.path(), "" | "/") {
            append_signal_path(&base, Signal::Trace)
        } else {
            base
        };
        Ok(Some(SelfTraceTarget {
            url: Sourced::new(url, source),
            protocol,
        }))
    }
}

/// One span to emit, planned from a report.
#[derive(Clone, Debug)]
struct Planned {
    name: String,
    /// Index of the parent in the job, `None` for the root.
    parent: Option<usize>,
    start: SystemTime,
    end: SystemTime,
    attributes: Vec<KeyValue>,
    status: SpanStatus,
    link: Option<SpanContext>,
}

/// One probe's trace.
struct Job {
    spans: Vec<Planned>,
}

/// Exports probe traces in the background; cheap to share.
pub struct SelfTracer {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
    dropped: Counter,
    exported: Arc<AtomicU64>,
    pub target: SelfTraceTarget,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn hop_attrs(h: &Hop) -> Vec<KeyValue> {
    let mut a = vec![
        KeyValue::new("canary.hop", h.hop.as_str()),
        KeyValue::new("canary.status", h.status.to_string()),
    ];
    if let Some(q) = h.queries {
        a.push(KeyValue::new("canary.queries", i64::from(q)));
    }
    if let Some(r) = h.reason {
        a.push(KeyValue::new("canary.reason", r.as_str()));
    }
    if let Some(d) = &h.detail {
        a.push(KeyValue::new("canary.detail", d.clone()));
    }
    if let Some(s) = h.seconds {
        a.push(KeyValue::new("canary.seconds", s));
    }
    a
}

fn status_of(status: Status, reason: Option<&str>, hint: Option<&str>) -> SpanStatus {
    match status {
        Status::Failed => SpanStatus::error(match (reason, hint) {
            (Some(r), Some(h)) => format!("{r}: {h}"),
            (Some(r), None) => r.to_string(),
            (None, h) => h.unwrap_or("failed").to_string(),
        }),
        Status::Ok => SpanStatus::Ok,
        Status::Skipped => SpanStatus::Unset,
    }
}

/// The hops of a lane as spans on the probe's timeline: `export` from the send, the query
/// ending where visibility was proven, the others from the ack.
fn plan_hops(spans: &mut Vec<Planned>, parent: usize, start: SystemTime, hops: &[Hop]) {
    let first = |name: HopName| hops.iter().find(|h| h.hop == name);
    let lead = first(HopName::Export)
        .or_else(|| first(HopName::Expose))
        .and_then(|h| h.seconds)
        .unwrap_or(0.0);
    let ack = start + secs(lead);
    let ingest_end = first(HopName::Ingest)
        .and_then(|h| h.visible_by)
        .map(|b| ack + secs(b));
    for h in hops.iter().filter(|h| h.hop != HopName::Total) {
        let (s, e) = match h.hop {
            HopName::Export | HopName::Expose => (start, start + secs(h.seconds.unwrap_or(0.0))),
            HopName::Query => {
                let end = ingest_end.unwrap_or(ack);
                let q = secs(h.seconds.unwrap_or(0.0));
                (end.checked_sub(q).unwrap_or(end), end)
            }
            _ => {
                let len = h.visible_by.or(h.seconds).unwrap_or(0.0);
                (ack, ack + secs(len))
            }
        };
        spans.push(Planned {
            name: format!("hop {}", h.hop),
            parent: Some(parent),
            start: s,
            end: e.max(s),
            attributes: hop_attrs(h),
            status: status_of(h.status, h.reason.as_ref().map(|r| r.as_str()), None),
            link: None,
        });
    }
}

/// The spans describing one probe (one emitter's) of a report.
fn plan(report: &RunReport, probe: &Probe, emitter: &str) -> Vec<Planned> {
    let start = probe.started_at;
    let mut spans = Vec::new();
    let lanes: Vec<_> = report
        .lanes()
        .into_iter()
        .filter(|l| l.emitter.is_none_or(|e| e.as_str() == emitter))
        .collect();
    let probe_seconds = report
        .probes
        .iter()
        .find(|p| p.emitter.as_str() == emitter)
        .map_or(report.seconds, |p| p.seconds);
    let ok = lanes.iter().all(|l| l.status != Status::Failed);
    let mut root_attrs = vec![
        KeyValue::new("canary.probe_id", probe.probe_id.to_string()),
        KeyValue::new("canary.trace_id", probe.trace_id_hex()),
        KeyValue::new("canary.emitter", emitter.to_string()),
        KeyValue::new("canary.ok", ok),
    ];
    if let Some(s) = &report.scenario {
        root_attrs.push(KeyValue::new("canary.scenario", s.clone()));
    }
    spans.push(Planned {
        name: "otel-canary probe".into(),
        parent: None,
        start,
        end: start + secs(probe_seconds),
        attributes: root_attrs,
        status: if ok {
            SpanStatus::Ok
        } else {
            SpanStatus::error("a signal failed")
        },
        link: Some(SpanContext::new(
            TraceId::from_bytes(probe.trace_id),
            SpanId::from_bytes(probe.client_span_id),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        )),
    });
    for lane in lanes {
        let total = lane
            .hops
            .iter()
            .find(|h| h.hop == HopName::Total)
            .and_then(|h| h.seconds)
            .unwrap_or(probe_seconds);
        let index = spans.len();
        let mut attrs = vec![
            KeyValue::new(
                if lane.export.is_some() {
                    "canary.signal"
                } else {
                    "canary.pull"
                },
                lane.name,
            ),
            KeyValue::new("canary.status", lane.status.to_string()),
        ];
        if let Some(r) = lane.reason {
            attrs.push(KeyValue::new("canary.reason", r.as_str()));
        }
        if let Some(e) = lane.export {
            attrs.push(KeyValue::new("canary.export.url", e.url.value.to_string()));
            attrs.push(KeyValue::new(
                "canary.export.protocol",
                e.protocol.value.as_str(),
            ));
        }
        spans.push(Planned {
            name: format!(
                "{} {}",
                if lane.export.is_some() {
                    "signal"
                } else {
                    "pull"
                },
                lane.name
            ),
            parent: Some(0),
            start,
            end: start + secs(total),
            attributes: attrs,
            status: status_of(
                lane.status,
                lane.reason.as_ref().map(|r| r.as_str()),
                lane.hint,
            ),
            link: None,
        });
        plan_hops(&mut spans, index, start, lane.hops);
    }
    spans
}

fn exporter(
    target: &SelfTraceTarget,
    sink: &Arc<Sink>,
) -> Result<opentelemetry_otlp::SpanExporter, ConfigError> {
    let bad = |e: String| ConfigError::at(&target.url.source, e);
    let url = target.url.value.to_string();
    let built = if target.protocol.is_http() {
        let http = HttpTransport::new(&crate::config::otlp::SignalTarget {
            signal: Signal::Trace,
            url: target.url.clone(),
            protocol: Sourced::new(target.protocol, target.url.source.clone()),
            headers: Vec::new(),
            compression: Sourced::default_value(crate::config::otlp::Compression::None),
            timeout: Sourced::default_value(Some(EXPORT_TIMEOUT)),
            tls: Default::default(),
        })?;
        let client = ObservingClient {
            client: http.client().clone(),
            tls: http.tls().cloned(),
            runtime: tokio::runtime::Handle::try_current()
                .map_err(|_| bad("needs a running Tokio runtime".into()))?,
            recorder: Recorder::new(),
            sink: sink.clone(),
            signal: Signal::Trace,
            service: SELF_SERVICE.into(),
            timeout: EXPORT_TIMEOUT,
        };
        let protocol = match target.protocol {
            Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
            _ => opentelemetry_otlp::Protocol::HttpBinary,
        };
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(protocol)
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .with_retry_policy(RetryPolicy::disabled())
            .build()
    } else {
        let sink = sink.clone();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .with_retry_policy(RetryPolicy::disabled())
            .with_interceptor(move |req: tonic::Request<()>| {
                claim_thread(&sink);
                Ok(req)
            })
            .build()
    };
    built.map_err(|e| bad(format!("the self-trace exporter refused it: {e}")))
}

impl SelfTracer {
    /// Starts the background exporter. `dropped` counts spans that were not exported (a full
    /// queue, a failed export); `serve` registers it as a metric.
    pub fn start(
        target: SelfTraceTarget,
        instance: &str,
        dropped: Counter,
    ) -> Result<SelfTracer, ConfigError> {
        ensure_installed();
        let sink = Sink::new();
        let exporter = with_sink(&sink, || exporter(&target, &sink))?;
        let resource = Resource::builder_empty()
            .with_service_name(SELF_SERVICE)
            .with_attributes([
                KeyValue::new("service.instance.id", instance.to_string()),
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            ])
            .build();
        let provider = with_sink(&sink, || {
            SdkTracerProvider::builder()
                .with_resource(resource)
                .with_sampler(Sampler::AlwaysOn)
                .with_batch_exporter(exporter)
                .build()
        });
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let exported = Arc::new(AtomicU64::new(0));
        let (counted, lost) = (exported.clone(), dropped.clone());
        let worker = tokio::spawn(async move {
            let tracer = provider.tracer_with_scope(
                InstrumentationScope::builder("otel-canary")
                    .with_version(env!("CARGO_PKG_VERSION"))
                    .build(),
            );
            while let Some(job) = rx.recv().await {
                let n = job.spans.len() as u64;
                with_sink(&sink, || emit(&tracer, job));
                let p = provider.clone();
                let s = sink.clone();
                let flushed =
                    tokio::task::spawn_blocking(move || with_sink(&s, || p.force_flush())).await;
                match flushed {
                    Ok(Ok(())) => {
                        counted.fetch_add(n, Ordering::Relaxed);
                    }
                    Ok(Err(e)) => {
                        lost.inc_by(n);
                        tracing::debug!(spans = n, "self-trace export failed: {e}");
                    }
                    Err(e) => {
                        lost.inc_by(n);
                        tracing::debug!(spans = n, "self-trace flush task failed: {e}");
                    }
                }
            }
            let s = sink.clone();
            let _ =
                tokio::task::spawn_blocking(move || with_sink(&s, || provider.shutdown())).await;
        });
        Ok(SelfTracer {
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
            dropped,
            exported,
            target,
        })
    }

    /// Queues the trace of every probe of a report (one per emitter); never waits.
    pub fn record(&self, report: &RunReport, probes: &[(&str, &Probe)]) {
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        for (emitter, probe) in probes {
            let spans = plan(report, probe, emitter);
            let n = spans.len() as u64;
            let sent = guard
                .as_ref()
                .map(|tx| tx.try_send(Job { spans }).is_ok())
                .unwrap_or(false);
            if !sent {
                self.dropped.inc_by(n);
            }
        }
    }

    /// Spans not exported so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Spans exported so far.
    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// Stops taking traces and waits up to `grace` for the queued ones to be exported.
    pub async fn finish(&self, grace: Duration) {
        drop(self.tx.lock().unwrap_or_else(|p| p.into_inner()).take());
        let worker = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = worker {
            let _ = tokio::time::timeout(grace, w).await;
        }
    }
}

fn emit(tracer: &opentelemetry_sdk::trace::SdkTracer, job: Job) {
    let mut contexts: Vec<Context> = Vec::with_capacity(job.spans.len());
    let mut ends = Vec::with_capacity(job.spans.len());
    for p in job.spans {
        let mut b = tracer
            .span_builder(p.name)
            .with_kind(SpanKind::Internal)
            .with_start_time(p.start)
            .with_attributes(p.attributes);
        if let Some(l) = p.link {
            b = b.with_links(vec![Link::with_context(l)]);
        }
        let parent = match p.parent {
            Some(i) => contexts[i].clone(),
            None => Context::new(),
        };
        let mut span = b.start_with_context(tracer, &parent);
        span.set_status(p.status);
        contexts.push(parent.with_span(span));
        ends.push(p.end);
    }
    // Children end before their parents, as they would have.
    for (cx, end) in contexts.iter().zip(ends).rev() {
        cx.span().end_with_timestamp(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_needs_a_url_and_gets_the_traces_path() {
        let t = SelfTraceTarget::resolve(Some("http://tempo:4318"), None)
            .unwrap()
            .unwrap();
        assert_eq!(t.url.value.as_str(), "http://tempo:4318/v1/traces");
        let t = SelfTraceTarget::resolve(Some("http://tempo:4317"), Some(Protocol::Grpc))
            .unwrap()
            .unwrap();
        assert_eq!(t.url.value.as_str(), "http://tempo:4317/");
        let e = SelfTraceTarget::resolve(Some("tempo:4318"), None).unwrap_err();
        assert_eq!(e.input, "flag --self-trace");
        assert!(SelfTraceTarget::resolve(None, None).unwrap().is_none());
    }
}
