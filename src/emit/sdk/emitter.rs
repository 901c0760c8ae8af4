//! The SDK emitter: the same probe sent the way an instrumented Rust app sends it. Each probe
//! starts the SDK as a freshly started app would: a `SdkTracerProvider` per service (the
//! client span in `otel-canary`, the server span in `otel-canary-peer`, the probe's own ids),
//! a `SdkLoggerProvider`, a `SdkMeterProvider` with a `PeriodicReader`, each with an
//! opentelemetry-otlp exporter configured from the environment (retries off), then the item
//! emitted, `force_flush` and `shutdown`. The export hop is the flush's duration; the outcome
//! is built from what the SDK returned, what it logged and what the canary saw leave.

use super::diagnostics::{self, Captured, Sink, claim_thread, with_sink};
use super::ids::ProbeIds;
use super::observe::{GrpcCall, ObservingClient, Phase, Recorder};
use super::outcome::{SdkCall, SdkDiagnostic, SdkExport, SdkRequest};
use super::resource::{resource_mismatches, sdk_resource};
use super::settings::{SDK_EXPORTER, SdkSignalTarget, SdkTarget};
use crate::config::emitter::Emitter;
use crate::config::headers::{Header, ShownHeader};
use crate::config::otlp::{Compression, Protocol, SignalTarget};
use crate::config::resource::ResourceSpec;
use crate::config::{ConfigError, Provenance, Sourced};
use crate::diagnose::error_class::{
    ErrorClass, classify_grpc_code, classify_message, grpc_code_name, grpc_code_retryable,
};
use crate::diagnose::second_look::sharpen;
use crate::emit::grpc::made_up_by_tonic;
use crate::emit::http::HttpTransport;
use crate::emit::outcome::{Attempt, ExportError, ExportOutcome, PartialSuccess, Response};
use crate::emit::payload::{
    CLIENT_SPAN_NAME, MARKER_METRIC, MetricTag, PROBE_ID_ATTRIBUTE, PROBE_ID_LABEL, SCOPE_NAME,
    SERVER_SPAN_NAME, log_body,
};
use crate::probe::Probe;
use crate::redact::{redact_url, scrub};
use crate::signal::Signal;
use futures_util::future::join_all;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status as SpanStatus, TraceContextExt, TraceFlags,
    TraceId, TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::{RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Level;
use url::Url;

/// The metric attribute that keeps the SDK's marker sample on its own stable series, so under
/// `--emitter both` the two emitters' samples do not replace each other.
pub const EMITTER_LABEL: &str = "canary_emitter";

/// Longer than the SDK's own flush and shutdown timeouts (5 s each, fixed) plus the export
/// timeout: past this the canary stops waiting for a call that does not return.
const CALL_SLACK: Duration = Duration::from_secs(6);

/// One signal's exporter wiring, prepared once (clients and certificates), reused per probe.
struct Lane {
    target: SdkSignalTarget,
    /// HTTP: the canary's client (TLS from flags only, as the SDK reads no certificates).
    http: Option<HttpTransport>,
    /// gRPC over https: the TLS configuration the code hands tonic.
    grpc_tls: Option<tonic::transport::ClientTlsConfig>,
}

/// Sends probes through the OpenTelemetry SDK.
pub struct SdkEmitter {
    target: SdkTarget,
    resource: ResourceSpec,
    tag: MetricTag,
    lanes: Vec<Lane>,
    runtime: tokio::runtime::Handle,
}

/// A provider the canary flushes and then shuts down.
trait Provider: Send + Sync + 'static {
    fn flush(&self) -> OTelSdkResult;
    fn stop(&self) -> OTelSdkResult;
}

impl Provider for SdkTracerProvider {
    fn flush(&self) -> OTelSdkResult {
        self.force_flush()
    }
    fn stop(&self) -> OTelSdkResult {
        self.shutdown()
    }
}

impl Provider for SdkLoggerProvider {
    fn flush(&self) -> OTelSdkResult {
        self.force_flush()
    }
    fn stop(&self) -> OTelSdkResult {
        self.shutdown()
    }
}

impl Provider for SdkMeterProvider {
    fn flush(&self) -> OTelSdkResult {
        self.force_flush()
    }
    fn stop(&self) -> OTelSdkResult {
        self.shutdown()
    }
}

/// What one probe's SDK run left to judge.
struct Run {
    sink: Arc<Sink>,
    recorder: Arc<Recorder>,
    calls: Vec<SdkCall>,
    flush_seconds: f64,
    sampled: Option<bool>,
    notes: Vec<String>,
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn otlp_protocol(p: Protocol) -> opentelemetry_otlp::Protocol {
    match p {
        Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
        Protocol::Grpc => opentelemetry_otlp::Protocol::Grpc,
        Protocol::HttpProtobuf => opentelemetry_otlp::Protocol::HttpBinary,
    }
}

fn metadata(headers: &[Header]) -> tonic::metadata::MetadataMap {
    let mut map = http::HeaderMap::new();
    for h in headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(h.name.as_bytes()),
            http::HeaderValue::from_str(&h.value),
        ) {
            map.insert(k, v);
        }
    }
    tonic::metadata::MetadataMap::from_headers(map)
}

fn read_pem(p: &Sourced<std::path::PathBuf>) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(&p.value)
        .map_err(|e| ConfigError::at(&p.source, format!("cannot read {}: {e}", p.value.display())))
}

fn grpc_tls(t: &SdkSignalTarget) -> Result<Option<tonic::transport::ClientTlsConfig>, ConfigError> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    if t.url.value.scheme() != "https" {
        return Ok(None);
    }
    let mut c = ClientTlsConfig::new();
    c = match &t.tls.ca_cert {
        Some(ca) => c.ca_certificate(Certificate::from_pem(read_pem(ca)?)),
        None => c.with_native_roots(),
    };
    if let (Some(cert), Some(key)) = (&t.tls.client_cert, &t.tls.client_key) {
        c = c.identity(Identity::from_pem(read_pem(cert)?, read_pem(key)?));
    }
    Ok(Some(c))
}

/// The wire emitter's target shape, for building the canary's HTTP client.
fn as_signal_target(t: &SdkSignalTarget) -> SignalTarget {
    SignalTarget {
        signal: t.signal,
        url: t.url.clone(),
        protocol: t.protocol.clone(),
        headers: t.headers.clone(),
        compression: t.compression.clone(),
        timeout: Sourced::new(Some(t.timeout.value), t.timeout.source.clone()),
        tls: t.tls.clone(),
    }
}

/// Builds one opentelemetry-otlp exporter (span, log or metric) for a lane, the way the
/// app's code would: transport chosen, retries off, flags passed to the builder, the rest
/// left to the SDK; plus the canary's observation (HTTP client or gRPC interceptor).
macro_rules! exporter {
    ($builder:expr, $lane:expr, $recorder:expr, $sink:expr, $service:expr, $runtime:expr) => {{
        let lane: &Lane = $lane;
        let t = &lane.target;
        match &lane.http {
            None => {
                let mut b = $builder
                    .with_tonic()
                    .with_retry_policy(RetryPolicy::disabled());
                if let Some(e) = &t.code.endpoint {
                    b = b.with_endpoint(e.clone());
                }
                if let Some(d) = t.code.timeout {
                    b = b.with_timeout(d);
                }
                if t.code.compression == Some(Compression::Gzip) {
                    b = b.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                if !t.code.headers.is_empty() {
                    b = b.with_metadata(metadata(&t.code.headers));
                }
                if let Some(tls) = &lane.grpc_tls {
                    b = b.with_tls_config(tls.clone());
                }
                let (rec, sink, service): (Arc<Recorder>, Arc<Sink>, String) =
                    ($recorder.clone(), $sink.clone(), $service.to_string());
                b = b.with_interceptor(move |req: tonic::Request<()>| {
                    claim_thread(&sink);
                    rec.push_grpc(&service, req.metadata());
                    Ok(req)
                });
                b.build()
            }
            Some(http) => {
                let client = ObservingClient {
                    client: http.client().clone(),
                    tls: http.tls().cloned(),
                    runtime: $runtime.clone(),
                    recorder: $recorder.clone(),
                    sink: $sink.clone(),
                    signal: t.signal,
                    service: $service.to_string(),
                    timeout: t.timeout.value,
                };
                let mut b = $builder
                    .with_http()
                    .with_retry_policy(RetryPolicy::disabled())
                    .with_http_client(client);
                if let Some(p) = t.code.protocol {
                    b = b.with_protocol(otlp_protocol(p));
                }
                if let Some(e) = &t.code.endpoint {
                    b = b.with_endpoint(e.clone());
                }
                if let Some(d) = t.code.timeout {
                    b = b.with_timeout(d);
                }
                if t.code.compression == Some(Compression::Gzip) {
                    b = b.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                if !t.code.headers.is_empty() {
                    b = b.with_headers(
                        t.code
                            .headers
                            .iter()
                            .map(|h| (h.name.clone(), h.value.clone()))
                            .collect(),
                    );
                }
                b.build()
            }
        }
    }};
}

fn build_error(signal: Signal, e: opentelemetry_otlp::ExporterBuildError) -> ConfigError {
    ConfigError::new(
        format!("{} exporter of the SDK emitter", signal.plural()),
        format!("{SDK_EXPORTER} refused its configuration: {e}"),
    )
}

fn call(call: &'static str, service: &str, seconds: f64, r: &OTelSdkResult) -> SdkCall {
    SdkCall {
        call,
        service: service.to_string(),
        seconds,
        ok: r.is_ok(),
        result: match r {
            Ok(()) => "Ok".to_string(),
            Err(e) => e.to_string(),
        },
    }
}

/// Flushes, then shuts down, every provider (concurrently, on blocking threads, with this
/// probe's sink current); returns the calls and the flush's wall time.
async fn drive(
    providers: Vec<(String, Box<dyn Provider>)>,
    sink: Arc<Sink>,
    recorder: Arc<Recorder>,
    export_timeout: Duration,
) -> (Vec<SdkCall>, f64) {
    let bound = export_timeout + CALL_SLACK * 2;
    let names: Vec<String> = providers.iter().map(|(n, _)| n.clone()).collect();
    let work = tokio::task::spawn_blocking(move || {
        let run = |which: u8| -> (Vec<SdkCall>, f64) {
            recorder.phase.set(which);
            let started = Instant::now();
            let calls = std::thread::scope(|s| {
                let handles: Vec<_> = providers
                    .iter()
                    .map(|(name, p)| {
                        let sink = sink.clone();
                        s.spawn(move || {
                            with_sink(&sink, || {
                                let t = Instant::now();
                                let (label, r) = if which == Phase::FLUSH {
                                    ("force_flush", p.flush())
                                } else {
                                    ("shutdown", p.stop())
                                };
                                call(label, name, t.elapsed().as_secs_f64(), &r)
                            })
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| SdkCall {
                            call: "force_flush",
                            service: String::new(),
                            seconds: 0.0,
                            ok: false,
                            result: "the SDK call panicked".into(),
                        })
                    })
                    .collect::<Vec<_>>()
            });
            (calls, started.elapsed().as_secs_f64())
        };
        let (mut calls, flush_seconds) = run(Phase::FLUSH);
        let (stops, _) = run(Phase::SHUTDOWN);
        recorder.phase.set(Phase::BACKGROUND);
        calls.extend(stops);
        (calls, flush_seconds)
    });
    match tokio::time::timeout(bound, work).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => (
            vec![SdkCall {
                call: "force_flush",
                service: names.join(", "),
                seconds: 0.0,
                ok: false,
                result: format!("the flush task failed: {e}"),
            }],
            0.0,
        ),
        Err(_) => (
            vec![SdkCall {
                call: "force_flush",
                service: names.join(", "),
                seconds: bound.as_secs_f64(),
                ok: false,
                result: format!(
                    "did not return within {}: the canary stopped waiting",
                    humantime::format_duration(bound)
                ),
            }],
            bound.as_secs_f64(),
        ),
    }
}

/// tonic's code numbers by the names the SDK logs them under (`Unavailable`).
fn grpc_code_by_name(name: &str) -> Option<i32> {
    (0..=16).find(|i| format!("{:?}", tonic::Code::from(*i)) == name)
}

fn diagnostics_of(events: &[Captured], headers: &[Header], url: &Url) -> Vec<SdkDiagnostic> {
    events
        .iter()
        .filter(|e| e.level <= Level::WARN)
        .map(|e| SdkDiagnostic {
            level: if e.level == Level::ERROR {
                "error"
            } else {
                "warn"
            },
            target: e.target.clone(),
            name: e.name.clone(),
            message: scrub(&e.fields_text(), headers, url),
        })
        .collect()
}

/// A gRPC export's failure, from what the SDK returned and logged: the status code and the
/// server's message (logged at DEBUG by opentelemetry-otlp) and the transport's error chain
/// (appended to the error it returns).
fn grpc_failure(
    events: &[Captured],
    calls: &[SdkCall],
) -> Option<(ExportError, Option<Response>, bool)> {
    let failed = events.iter().find(|e| e.name.ends_with(".ExportFailed"));
    let returned = events
        .iter()
        .find(|e| e.name.ends_with(".ExportError"))
        .and_then(|e| e.field("error").map(str::to_string))
        .or_else(|| {
            calls
                .iter()
                .find(|c| c.call == "force_flush" && !c.ok)
                .map(|c| c.result.clone())
        })?;
    let code_name = failed.and_then(|e| e.field("grpc_code"));
    let code = code_name.and_then(grpc_code_by_name);
    let server_text = failed
        .and_then(|e| e.field("grpc_message"))
        .unwrap_or_default()
        .to_string();
    // "… export failed with gRPC code: Unavailable: <transport chain>" when tonic made the
    // status up from a local failure; no chain when the server sent it.
    let chain = code_name.and_then(|n| {
        returned
            .split_once(&format!("gRPC code: {n}: "))
            .map(|(_, rest)| rest.to_string())
    });
    Some(match (code, chain) {
        (Some(c), None) if !made_up_by_tonic(&server_text) => {
            let class = if server_text.contains("Timeout expired") {
                ErrorClass::Timeout
            } else {
                classify_grpc_code(c)
            };
            let message = if server_text.is_empty() {
                format!("{} ({c})", grpc_code_name(c))
            } else {
                format!("{} ({c}): {server_text}", grpc_code_name(c))
            };
            let response = Response::Grpc {
                code: c,
                name: grpc_code_name(c),
            };
            (
                ExportError::new(class, message),
                Some(response),
                grpc_code_retryable(c),
            )
        }
        (_, chain) => {
            let text = chain.unwrap_or_else(|| format!("{server_text} {returned}"));
            let class = if made_up_by_tonic(&text) || made_up_by_tonic(&server_text) {
                ErrorClass::ProtocolMismatch
            } else {
                classify_message(&text, false)
            };
            (ExportError::new(class, returned.clone()), None, false)
        }
    })
}

/// Partial success the SDK only logged (`*.PartialSuccess` warnings), summed over the
/// requests (the trace's two providers each send one).
fn logged_partial_success(events: &[Captured]) -> Option<PartialSuccess> {
    let logged: Vec<&Captured> = events
        .iter()
        .filter(|e| e.name.ends_with(".PartialSuccess"))
        .collect();
    let first = logged.first()?;
    let rejected = logged
        .iter()
        .map(|e| {
            [
                "rejected_spans",
                "rejected_log_records",
                "rejected_data_points",
            ]
            .iter()
            .find_map(|k| e.field(k))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
        })
        .sum();
    Some(PartialSuccess {
        rejected,
        message: first.field("error_message").unwrap_or_default().to_string(),
    })
}

/// The SDK's own flush or shutdown timeout (`Timeout(5s)`, possibly inside `errs: [...]`).
fn flush_timed_out(result: &str) -> bool {
    result.contains("Timeout(") || result.contains("timed out")
}

impl SdkEmitter {
    /// Prepares the lanes and builds every exporter once, so a configuration the SDK refuses
    /// (an unparsable endpoint variable, say) is an error before any probe (exit 2).
    pub fn new(
        target: SdkTarget,
        resource: ResourceSpec,
        tag: MetricTag,
    ) -> Result<SdkEmitter, ConfigError> {
        diagnostics::ensure_installed();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigError::new("--emitter", "the SDK emitter needs a running Tokio runtime")
        })?;
        let mut lanes = Vec::new();
        for t in &target.signals {
            let lane = if t.protocol.value.is_http() {
                Lane {
                    target: t.clone(),
                    http: Some(HttpTransport::new(&as_signal_target(t))?),
                    grpc_tls: None,
                }
            } else {
                Lane {
                    target: t.clone(),
                    http: None,
                    grpc_tls: grpc_tls(t)?,
                }
            };
            lanes.push(lane);
        }
        let emitter = SdkEmitter {
            target,
            resource,
            tag,
            lanes,
            runtime,
        };
        // A dry run of every builder: nothing is sent (channels connect lazily).
        let (recorder, sink) = (Recorder::new(), Sink::new());
        for lane in &emitter.lanes {
            let s = lane.target.signal;
            with_sink(&sink, || -> Result<(), ConfigError> {
                let rt = &emitter.runtime;
                match s {
                    Signal::Trace => exporter!(
                        opentelemetry_otlp::SpanExporter::builder(),
                        lane,
                        recorder,
                        sink,
                        "check",
                        rt
                    )
                    .map(drop),
                    Signal::Log => exporter!(
                        opentelemetry_otlp::LogExporter::builder(),
                        lane,
                        recorder,
                        sink,
                        "check",
                        rt
                    )
                    .map(drop),
                    Signal::Metric => exporter!(
                        opentelemetry_otlp::MetricExporter::builder(),
                        lane,
                        recorder,
                        sink,
                        "check",
                        rt
                    )
                    .map(drop),
                }
                .map_err(|e| build_error(s, e))
            })?;
        }
        Ok(emitter)
    }

    /// The signals this emitter sends, in order.
    pub fn signals(&self) -> Vec<Signal> {
        self.lanes.iter().map(|l| l.target.signal).collect()
    }

    /// The resource the readers look for (the SDK builds its own from the environment).
    pub fn resource(&self) -> &ResourceSpec {
        &self.resource
    }

    /// The resolved target (with provenance), for reports and comparisons.
    pub fn target(&self) -> &SdkTarget {
        &self.target
    }

    /// Notes worth a warning before any probe: settings the SDK ignores or treats unlike
    /// the spec.
    pub fn warnings(&self) -> Vec<String> {
        let mut w: Vec<String> = self
            .target
            .notes
            .iter()
            .map(|n| format!("sdk: {n}"))
            .collect();
        for l in &self.lanes {
            for n in &l.target.notes {
                let line = format!("sdk {}: {n}", l.target.signal);
                if !w.contains(&line) {
                    w.push(line);
                }
            }
        }
        w
    }

    /// Exports every signal of the probe concurrently; outcomes in signal order.
    pub async fn export(&self, probe: &Probe) -> Vec<ExportOutcome> {
        join_all(self.lanes.iter().map(|l| self.export_lane(l, probe))).await
    }

    /// Exports one signal of the probe; `None` when this emitter does not send it.
    pub async fn export_one(&self, signal: Signal, probe: &Probe) -> Option<ExportOutcome> {
        let lane = self.lanes.iter().find(|l| l.target.signal == signal)?;
        Some(self.export_lane(lane, probe).await)
    }

    async fn export_lane(&self, lane: &Lane, probe: &Probe) -> ExportOutcome {
        let run = match lane.target.signal {
            Signal::Trace => self.run_trace(lane, probe).await,
            Signal::Log => self.run_log(lane, probe).await,
            Signal::Metric => self.run_metric(lane, probe).await,
        };
        let mut outcome = self.assemble(lane, run);
        if outcome.protocol.value == Protocol::Grpc {
            sharpen_grpc(&mut outcome).await;
        }
        outcome
    }

    fn client_service(&self) -> String {
        self.resource.service_name.value.clone()
    }

    /// Builds a provider (or fails with the builder's error as a finished run).
    fn failed_build(
        &self,
        sink: Arc<Sink>,
        recorder: Arc<Recorder>,
        signal: Signal,
        e: String,
    ) -> Run {
        Run {
            sink,
            recorder,
            calls: vec![SdkCall {
                call: "build",
                service: self.client_service(),
                seconds: 0.0,
                ok: false,
                result: format!("the {} exporter could not be built: {e}", signal.plural()),
            }],
            flush_seconds: 0.0,
            sampled: None,
            notes: Vec::new(),
        }
    }

    async fn run_trace(&self, lane: &Lane, probe: &Probe) -> Run {
        let (sink, recorder) = (Sink::new(), Recorder::new());
        let client = self.client_service();
        let peer = self.resource.peer_service_name();
        let client_res = sdk_resource(&self.resource, false);
        let peer_res = sdk_resource(&self.resource, true);
        let mut notes = resource_mismatches(&client_res, &self.resource, false);
        notes.extend(resource_mismatches(&peer_res, &self.resource, true));
        let rt = &self.runtime;
        let built = with_sink(&sink, || {
            let ce = exporter!(
                opentelemetry_otlp::SpanExporter::builder(),
                lane,
                recorder,
                sink,
                &client,
                rt
            )?;
            let pe = exporter!(
                opentelemetry_otlp::SpanExporter::builder(),
                lane,
                recorder,
                sink,
                &peer,
                rt
            )?;
            let cp = SdkTracerProvider::builder()
                .with_resource(client_res)
                .with_id_generator(ProbeIds {
                    trace_id: probe.trace_id,
                    span_id: probe.client_span_id,
                })
                .with_batch_exporter(ce)
                .build();
            let pp = SdkTracerProvider::builder()
                .with_resource(peer_res)
                .with_id_generator(ProbeIds {
                    trace_id: probe.trace_id,
                    span_id: probe.server_span_id,
                })
                .with_batch_exporter(pe)
                .build();
            Ok::<_, opentelemetry_otlp::ExporterBuildError>((cp, pp))
        });
        let (cp, pp) = match built {
            Ok(p) => p,
            Err(e) => return self.failed_build(sink, recorder, Signal::Trace, e.to_string()),
        };
        let id = probe.probe_id.to_string();
        let sampled = with_sink(&sink, || {
            let tracer = cp.tracer_with_scope(scope());
            let mut span = tracer
                .span_builder(CLIENT_SPAN_NAME)
                .with_kind(SpanKind::Client)
                .with_start_time(probe.client_span.start)
                .with_attributes([KeyValue::new(PROBE_ID_ATTRIBUTE, id.clone())])
                .start(&tracer);
            let sc = span.span_context().clone();
            span.set_status(SpanStatus::Ok);
            span.end_with_timestamp(probe.client_span.end);
            // The server span's parent arrives "over the wire", as in the peer service.
            let parent = Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from_bytes(probe.trace_id),
                SpanId::from_bytes(probe.client_span_id),
                sc.trace_flags(),
                true,
                TraceState::default(),
            ));
            let peer_tracer = pp.tracer_with_scope(scope());
            let mut server = peer_tracer
                .span_builder(SERVER_SPAN_NAME)
                .with_kind(SpanKind::Server)
                .with_start_time(probe.server_span.start)
                .with_attributes([KeyValue::new(PROBE_ID_ATTRIBUTE, id)])
                .start_with_context(&peer_tracer, &parent);
            let sampled = sc.is_sampled() && server.span_context().is_sampled();
            server.set_status(SpanStatus::Ok);
            server.end_with_timestamp(probe.server_span.end);
            sampled
        });
        let providers: Vec<(String, Box<dyn Provider>)> =
            vec![(client, Box::new(cp)), (peer, Box::new(pp))];
        let (calls, flush_seconds) = drive(
            providers,
            sink.clone(),
            recorder.clone(),
            lane.target.timeout.value,
        )
        .await;
        Run {
            sink,
            recorder,
            calls,
            flush_seconds,
            sampled: Some(sampled),
            notes,
        }
    }

    async fn run_log(&self, lane: &Lane, probe: &Probe) -> Run {
        let (sink, recorder) = (Sink::new(), Recorder::new());
        let service = self.client_service();
        let res = sdk_resource(&self.resource, false);
        let notes = resource_mismatches(&res, &self.resource, false);
        let rt = &self.runtime;
        let built = with_sink(&sink, || {
            let e = exporter!(
                opentelemetry_otlp::LogExporter::builder(),
                lane,
                recorder,
                sink,
                &service,
                rt
            )?;
            Ok::<_, opentelemetry_otlp::ExporterBuildError>(
                SdkLoggerProvider::builder()
                    .with_resource(res)
                    .with_batch_exporter(e)
                    .build(),
            )
        });
        let provider = match built {
            Ok(p) => p,
            Err(e) => return self.failed_build(sink, recorder, Signal::Log, e.to_string()),
        };
        with_sink(&sink, || {
            let logger = provider.logger_with_scope(scope());
            let mut record = logger.create_log_record();
            record.set_timestamp(probe.client_span.end);
            record.set_observed_timestamp(probe.client_span.end);
            record.set_severity_number(Severity::Info);
            record.set_severity_text("INFO");
            record.set_body(AnyValue::from(log_body(probe)));
            record.add_attribute(PROBE_ID_ATTRIBUTE, probe.probe_id.to_string());
            record.set_trace_context(
                TraceId::from_bytes(probe.trace_id),
                SpanId::from_bytes(probe.client_span_id),
                Some(TraceFlags::SAMPLED),
            );
            logger.emit(record);
        });
        let (calls, flush_seconds) = drive(
            vec![(service, Box::new(provider))],
            sink.clone(),
            recorder.clone(),
            lane.target.timeout.value,
        )
        .await;
        Run {
            sink,
            recorder,
            calls,
            flush_seconds,
            sampled: None,
            notes,
        }
    }

    async fn run_metric(&self, lane: &Lane, probe: &Probe) -> Run {
        let (sink, recorder) = (Sink::new(), Recorder::new());
        let service = self.client_service();
        let res = sdk_resource(&self.resource, false);
        let notes = resource_mismatches(&res, &self.resource, false);
        let rt = &self.runtime;
        let built = with_sink(&sink, || {
            let e = exporter!(
                opentelemetry_otlp::MetricExporter::builder(),
                lane,
                recorder,
                sink,
                &service,
                rt
            )?;
            Ok::<_, opentelemetry_otlp::ExporterBuildError>(
                SdkMeterProvider::builder()
                    .with_resource(res)
                    .with_reader(PeriodicReader::builder(e).build())
                    .build(),
            )
        });
        let provider = match built {
            Ok(p) => p,
            Err(e) => return self.failed_build(sink, recorder, Signal::Metric, e.to_string()),
        };
        with_sink(&sink, || {
            let meter = provider.meter_with_scope(scope());
            let gauge = meter
                .f64_gauge(MARKER_METRIC)
                .with_description("otel-canary probe marker: emit time in ms since the epoch")
                .build();
            let mut attrs = vec![KeyValue::new(EMITTER_LABEL, "sdk")];
            if self.tag == MetricTag::Label {
                attrs.push(KeyValue::new(PROBE_ID_LABEL, probe.probe_id.to_string()));
            }
            gauge.record(probe.marker, &attrs);
        });
        let (calls, flush_seconds) = drive(
            vec![(service, Box::new(provider))],
            sink.clone(),
            recorder.clone(),
            lane.target.timeout.value,
        )
        .await;
        Run {
            sink,
            recorder,
            calls,
            flush_seconds,
            sampled: None,
            notes,
        }
    }

    /// Turns what the SDK did into an export outcome (one attempt: the flush) and its `sdk`
    /// section.
    fn assemble(&self, lane: &Lane, run: Run) -> ExportOutcome {
        let t = &lane.target;
        let events = run.sink.events();
        let grpc = !t.protocol.value.is_http();
        let mut notes = t.notes.clone();
        notes.extend(run.notes.iter().cloned());
        if !diagnostics::installed() {
            notes.push(
                "the SDK's internal diagnostics were not captured: this process's tracing \
                 subscriber has no otel-canary capture layer"
                    .into(),
            );
        }
        // Where it went: observed, else predicted.
        let observed_url = if grpc {
            events
                .iter()
                .find(|e| e.name == "TonicChannelBuilt")
                .and_then(|e| e.field("endpoint"))
                .and_then(|u| Url::parse(u).ok())
        } else {
            run.recorder
                .http_requests()
                .first()
                .and_then(|r| Url::parse(&r.url).ok())
        };
        let url = match observed_url {
            Some(u) if u != t.url.value => {
                notes.push(format!(
                    "the SDK sent to {} where the canary predicted {} ({})",
                    redact_url(&u),
                    redact_url(&t.url.value),
                    t.url.source
                ));
                u
            }
            Some(u) => u,
            None => t.url.value.clone(),
        };
        let mut requests: Vec<SdkRequest> = if grpc {
            grpc_requests(&run, &url, t.compression.value)
        } else {
            run.recorder.http_requests()
        };
        let mut attempt = self.judge(lane, &run, &events, &requests, &url);
        attempt.seconds = run.flush_seconds;
        if let Some(e) = &mut attempt.error {
            e.message = scrub(&e.message, &t.headers, &url);
        }
        if grpc {
            // The interceptor sees a call leave, not its answer: the flush's answer is it.
            for r in requests.iter_mut().filter(|r| r.during != "shutdown") {
                r.attempt = attempt.clone();
            }
        }
        for r in &mut requests {
            if let Some(e) = &mut r.attempt.error {
                e.message = scrub(&e.message, &t.headers, &url);
            }
        }
        let sdk = SdkExport {
            exporter: SDK_EXPORTER,
            processor: if t.signal == Signal::Metric {
                "periodic"
            } else {
                "batch"
            },
            calls: run.calls,
            requests,
            diagnostics: diagnostics_of(&events, &t.headers, &url),
            timeout_seconds: Sourced::new(t.timeout.value.as_secs_f64(), t.timeout.source.clone()),
            sdk_defaults: t.sdk_defaults(),
            sampled: run.sampled,
            notes,
        };
        ExportOutcome {
            signal: t.signal,
            emitter: Emitter::Sdk,
            url: Sourced::new(redact_url(&url), t.url.source.clone()),
            protocol: t.protocol.clone(),
            compression: t.compression.value,
            headers: shown_headers(&t.headers),
            payload_bytes: run.recorder.payload_bytes(),
            bytes_sent: if grpc {
                None
            } else {
                Some(run.recorder.sent_bytes())
            },
            attempts: vec![attempt],
            sdk: Some(Box::new(sdk)),
        }
    }

    /// The deciding attempt: a request that failed, else what the SDK returned or logged,
    /// else (nothing sent at all) `not_sent`.
    fn judge(
        &self,
        lane: &Lane,
        run: &Run,
        events: &[Captured],
        requests: &[SdkRequest],
        url: &Url,
    ) -> Attempt {
        let t = &lane.target;
        let client = self.client_service();
        let flushed: Vec<&SdkRequest> =
            requests.iter().filter(|r| r.during != "shutdown").collect();
        let failed_flush = run.calls.iter().find(|c| c.call != "shutdown" && !c.ok);
        let mut attempt = Attempt {
            number: 1,
            seconds: run.flush_seconds,
            response: None,
            partial_success: None,
            error: None,
            retryable: false,
            retry_after_seconds: None,
        };
        if flushed.is_empty() {
            let why = if run.sampled == Some(false) {
                "the SDK's sampler did not sample the probe's spans (see OTEL_TRACES_SAMPLER and \
                 OTEL_TRACES_SAMPLER_ARG), so nothing was exported"
                    .to_string()
            } else {
                match failed_flush {
                    Some(c) => format!(
                        "{} returned {} and no request left the process",
                        c.call, c.result
                    ),
                    None => "force_flush returned Ok, yet no request left the process".to_string(),
                }
            };
            let said: Vec<String> = diagnostics_of(events, &t.headers, url)
                .into_iter()
                .map(|d| format!("{}: {}", d.name, d.message))
                .collect();
            let message = if said.is_empty() {
                why
            } else {
                format!("{why}; the SDK reported: {}", said.join("; "))
            };
            attempt.error = Some(ExportError::new(ErrorClass::NotSent, message));
            return attempt;
        }
        if t.protocol.value.is_http() {
            // The canary saw every request: a failed one decides, else the last.
            let failed = |r: &&&SdkRequest| r.attempt.error.is_some();
            let decisive = flushed
                .iter()
                .filter(failed)
                .find(|r| r.service == client)
                .or_else(|| flushed.iter().find(failed))
                .unwrap_or_else(|| flushed.last().expect("not empty"));
            let mut a = decisive.attempt.clone();
            if let Some(e) = &mut a.error
                && decisive.service != client
            {
                e.message = format!("{} spans: {}", decisive.service, e.message);
            }
            let rejected: i64 = flushed
                .iter()
                .filter_map(|r| r.attempt.partial_success.as_ref())
                .map(|p| p.rejected)
                .sum();
            if a.error.is_none()
                && let Some(c) = failed_flush
            {
                // Every request was answered, yet the SDK's call failed: the app's flush
                // reports failure.
                let answer = a.response.as_ref().map(|r| r.summary()).unwrap_or_default();
                a.error = Some(if flush_timed_out(&c.result) {
                    ExportError::new(
                        ErrorClass::Timeout,
                        format!(
                            "{} gave up after {} (the SDK's fixed flush timeout; the export \
                             timeout is {}) while the request was in flight; it was answered \
                             {answer} after {} (at shutdown)",
                            c.call,
                            crate::report::fmt_seconds(c.seconds),
                            crate::report::fmt_seconds(t.timeout.value.as_secs_f64()),
                            crate::report::fmt_seconds(decisive.attempt.seconds),
                        ),
                    )
                } else {
                    ExportError::new(
                        ErrorClass::Transport,
                        format!(
                            "{} returned {} although the request was answered ({answer})",
                            c.call, c.result
                        ),
                    )
                });
            }
            if rejected > 0
                && let Some(p) = &mut a.partial_success
            {
                p.rejected = rejected;
                if let Some(e) = &mut a.error {
                    e.message = format!("{rejected} rejected: {}", p.message);
                }
            }
            return a;
        }
        // gRPC: the answer is what the SDK returned and logged.
        if let Some(c) = failed_flush
            && flush_timed_out(&c.result)
            && !events.iter().any(|e| e.name.ends_with(".ExportFailed"))
        {
            attempt.error = Some(ExportError::new(
                ErrorClass::Timeout,
                format!(
                    "{} gave up after {} (the SDK's fixed flush timeout) with the export still \
                     unanswered",
                    c.call,
                    crate::report::fmt_seconds(c.seconds)
                ),
            ));
            return attempt;
        }
        match grpc_failure(events, &run.calls) {
            Some((error, response, retryable)) if failed_flush.is_some() || response.is_some() => {
                attempt.response = response;
                attempt.retryable = retryable;
                attempt.error = Some(error);
            }
            _ => {
                attempt.response = Some(Response::Grpc {
                    code: 0,
                    name: grpc_code_name(0),
                });
                if let Some(p) = logged_partial_success(events) {
                    if p.rejected > 0 {
                        attempt.error = Some(ExportError::new(
                            ErrorClass::PartialSuccess,
                            format!(
                                "{} rejected: {} (the SDK's flush returned Ok and only logged it)",
                                p.rejected, p.message
                            ),
                        ));
                    }
                    attempt.partial_success = Some(p);
                }
            }
        }
        attempt
    }
}

/// A second look at the port after an ambiguous gRPC failure, as the wire emitter takes.
async fn sharpen_grpc(outcome: &mut ExportOutcome) {
    let url = outcome.url.value.clone();
    let Some(a) = outcome.attempts.last_mut() else {
        return;
    };
    if let Some(e) = a.error.take() {
        let e = if matches!(
            e.class,
            ErrorClass::Transport | ErrorClass::ProtocolMismatch
        ) {
            sharpen(e, &url, true, None).await
        } else {
            e
        };
        a.error = Some(e);
    }
}

fn shown_headers(headers: &[Header]) -> Vec<ShownHeader> {
    let mut out: Vec<ShownHeader> = headers.iter().map(Header::shown).collect();
    out.push(ShownHeader {
        name: "user-agent".into(),
        value: "OTel-OTLP-Exporter-Rust/0.33.1".into(),
        source: Provenance::SdkDefault { unset: Vec::new() },
    });
    out
}

fn grpc_requests(run: &Run, url: &Url, compression: Compression) -> Vec<SdkRequest> {
    let calls: Vec<GrpcCall> = run.recorder.grpc_calls();
    calls
        .into_iter()
        .map(|c| SdkRequest {
            service: c.service,
            during: c.during,
            url: redact_url(url).to_string(),
            content_type: Some("application/grpc".into()),
            content_encoding: (compression == Compression::Gzip).then(|| "gzip".into()),
            header_names: c.header_names,
            attempt: Attempt {
                number: 1,
                seconds: 0.0,
                response: None,
                partial_success: None,
                error: None,
                retryable: false,
                retry_after_seconds: None,
            },
        })
        .collect()
}
