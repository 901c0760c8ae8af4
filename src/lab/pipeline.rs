//! The lab's pipeline self-metrics: the counters a collector (`:8888/metrics`) and Tempo
//! (`:3200/metrics`) keep about what their receivers accepted and their exporters or
//! distributor passed on, moved by the lab's receivers as they accept and forward, and
//! rendered byte for byte in the shape of the real pages (shared/fixtures/collector/
//! self-metrics-*.txt; Tempo's client_golang families), so the self-metrics reader and the
//! failure attribution can be tested end to end under each fault.
//!
//! The lab plays a collector with one `otlp` receiver (transports `http` and `grpc`) and three
//! pipelines, named as in the captured collector's config: traces → `otlp/tempo`, logs →
//! `otlphttp/loki`, metrics → `otlphttp/mimir`. Behind `otlp/tempo` it plays Tempo's
//! distributor (receiver `otlp/otlp_receiver` over gRPC, one ingester).
//!
//! Written by hand rather than with `prometheus-client`: that crate only writes OpenMetrics
//! text, where a counter's `# TYPE` line drops the `_total` its samples carry and the page
//! ends in `# EOF`; the collector's 0.0.4 page has `# TYPE otelcol_…_total counter`, no EOF
//! line, and Go's float spelling (`3.5549184e+07`), which is what the reader must be tested
//! against.

use super::faults::{Faults, SignalFault};
use super::http_util::{not_found, respond};
use crate::emit::encoding::Payload;
use crate::signal::Signal;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The port a collector serves its self-metrics on.
pub const COLLECTOR_METRICS_PORT: u16 = 8888;

/// The Content-Type both the collector and Tempo (client_golang's promhttp) send.
pub const METRICS_CONTENT_TYPE: &str =
    "text/plain; version=0.0.4; charset=utf-8; escaping=underscores";

/// The lab collector's receiver.
pub const RECEIVER: &str = "otlp";

/// The receiver name Tempo gives its embedded OTLP receiver (`<type>/<type>_receiver`).
pub const TEMPO_RECEIVER: &str = "otlp/otlp_receiver";

/// The ingester the lab's Tempo distributor pushes to (Tempo's default gRPC port).
pub const TEMPO_INGESTER: &str = "127.0.0.1:9095";

/// Tempo's tenant when multi-tenancy is off.
pub const TEMPO_SINGLE_TENANT: &str = "single-tenant";

const EXPORTER_SCOPE: &str = "go.opentelemetry.io/collector/exporter/exporterhelper";
const RECEIVER_SCOPE: &str = "go.opentelemetry.io/collector/receiver/receiverhelper";
const SERVICE_SCOPE: &str = "go.opentelemetry.io/collector/service";

/// The lab collector's exporter for a signal, named as in the captured collector's config.
pub fn exporter_for(signal: Signal) -> &'static str {
    match signal {
        Signal::Trace => "otlp/tempo",
        Signal::Log => "otlphttp/loki",
        Signal::Metric => "otlphttp/mimir",
    }
}

/// The transport a receiver got data over, as the `transport` label spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Transport {
    Grpc,
    Http,
}

impl Transport {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }
}

/// How many items the collector counts in a request: spans, log records, metric data points
/// (what `otelcol_receiver_accepted_*` adds).
pub fn item_count(payload: &Payload) -> u64 {
    let n: usize = match payload {
        Payload::Trace(r) => r
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum(),
        Payload::Log(r) => r
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .map(|sl| sl.log_records.len())
            .sum(),
        Payload::Metric(r) => r
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                Some(Data::Summary(s)) => s.data_points.len(),
                None => 0,
            })
            .sum(),
    };
    n as u64
}

/// What happened to an accepted request after the collector's receiver, per the fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forwarded {
    /// No pipeline for the signal: accepted, then gone.
    NoPipeline,
    /// The exporter failed (including Tempo refusing after an ingester failure).
    Failed,
    /// The exporter sent it and the backend took it.
    Sent,
}

/// Receiver (or exporter) counters of one series: both exist once either moved, as in the
/// collector, which records accepted and refused (sent and send_failed) on every call.
#[derive(Clone, Copy, Debug, Default)]
struct Pair {
    ok: u64,
    bad: u64,
}

#[derive(Debug, Default)]
struct Counts {
    receivers: BTreeMap<(Signal, Transport), Pair>,
    exporters: BTreeMap<Signal, Pair>,
    tempo_received: BTreeMap<String, u64>,
    tempo_receiver: Option<Pair>,
    tempo_appends: u64,
    tempo_append_failures: Option<u64>,
}

/// The lab collector's and Tempo's self-metrics.
#[derive(Debug)]
pub struct PipelineCounters {
    counts: Mutex<Counts>,
    started: Instant,
    instance_id: String,
}

impl Default for PipelineCounters {
    fn default() -> Self {
        PipelineCounters {
            counts: Mutex::default(),
            started: Instant::now(),
            instance_id: uuid::Uuid::new_v4().to_string(),
        }
    }
}

impl PipelineCounters {
    fn with<T>(&self, f: impl FnOnce(&mut Counts) -> T) -> T {
        // A panic elsewhere while holding the lock leaves plain counters: still usable.
        let mut guard = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// The receiver refused `items` (the pipeline pushed back: what a 429/5xx answer from a
    /// collector means).
    pub fn refused(&self, signal: Signal, transport: Transport, items: u64) {
        self.with(|c| c.receivers.entry((signal, transport)).or_default().bad += items);
    }

    /// The receiver accepted `items`; the fault decides what the pipeline did next. Returns
    /// that, so the caller stores the data only when it reached the backend.
    pub fn accepted(
        &self,
        signal: Signal,
        transport: Transport,
        items: u64,
        fault: &SignalFault,
        tenant: &str,
    ) -> Forwarded {
        self.with(|c| {
            c.receivers.entry((signal, transport)).or_default().ok += items;
            if fault.drop {
                return Forwarded::NoPipeline;
            }
            let exporter = c.exporters.entry(signal).or_default();
            if fault.export_fail {
                exporter.bad += items;
                return Forwarded::Failed;
            }
            if signal == Signal::Trace {
                // Behind otlp/tempo: Tempo's receiver and distributor.
                *c.tempo_received.entry(tenant.to_string()).or_default() += items;
                c.tempo_appends += 1;
                let tempo = c.tempo_receiver.get_or_insert_with(Pair::default);
                if fault.ingester_fail {
                    *c.tempo_append_failures.get_or_insert(0) += 1;
                    tempo.bad += items;
                    exporter.bad += items;
                    return Forwarded::Failed;
                }
                tempo.ok += items;
            }
            exporter.ok += items;
            Forwarded::Sent
        })
    }

    /// The collector's `/metrics` page. A signal whose current fault is `drop` has no
    /// exporter listed: that is how a collector without a pipeline for it looks.
    pub fn render_collector(&self, faults: &Faults) -> String {
        let (receivers, exporters) = self.with(|c| (c.receivers.clone(), c.exporters.clone()));
        let piped: Vec<Signal> = Signal::ALL
            .into_iter()
            .filter(|s| !faults.get(*s).drop)
            .collect();
        let mut page = Page::default();

        let mut scopes = Vec::new();
        if !piped.is_empty() {
            scopes.push(EXPORTER_SCOPE);
        }
        if !receivers.is_empty() {
            scopes.push(RECEIVER_SCOPE);
        }
        scopes.push(SERVICE_SCOPE);
        page.family("otel_scope_info", "Instrumentation Scope metadata", "gauge");
        for scope in scopes {
            page.sample(
                "otel_scope_info",
                &[("otel_scope_name", scope), ("otel_scope_version", "")],
                1.0,
            );
        }

        // Exporters in data_type order (logs, metrics, traces), as the collector sorts them.
        let mut by_data_type = piped.clone();
        by_data_type.sort_by_key(|s| s.plural());
        for (name, help, value) in [
            (
                "otelcol_exporter_queue_capacity",
                "Fixed capacity of the retry queue (in batches) [alpha]",
                1000.0,
            ),
            (
                "otelcol_exporter_queue_size",
                "Current size of the retry queue (in batches) [alpha]",
                0.0,
            ),
        ] {
            if by_data_type.is_empty() {
                continue;
            }
            page.family(name, help, "gauge");
            for s in &by_data_type {
                page.sample(
                    name,
                    &[
                        ("data_type", s.plural()),
                        ("exporter", exporter_for(*s)),
                        ("otel_scope_name", EXPORTER_SCOPE),
                        ("otel_scope_version", ""),
                    ],
                    value,
                );
            }
        }
        for (kind, help) in [
            ("send_failed", "in failed attempts to send to destination."),
            ("sent", "successfully sent to destination."),
        ] {
            for s in &by_data_type {
                let Some(pair) = exporters.get(s) else {
                    continue;
                };
                let (items, what) = match s {
                    Signal::Trace => ("spans", "spans"),
                    Signal::Log if kind == "sent" => ("log_records", "log record"),
                    Signal::Log => ("log_records", "log records"),
                    Signal::Metric => ("metric_points", "metric points"),
                };
                let name = format!("otelcol_exporter_{kind}_{items}_total");
                page.family(
                    &name,
                    &format!("Number of {what} {help} [alpha]"),
                    "counter",
                );
                page.sample(
                    &name,
                    &[
                        ("exporter", exporter_for(*s)),
                        ("otel_scope_name", EXPORTER_SCOPE),
                        ("otel_scope_version", ""),
                    ],
                    (if kind == "sent" { pair.ok } else { pair.bad }) as f64,
                );
            }
        }

        page.family(
            "otelcol_process_uptime_seconds_total",
            "Uptime of the process [alpha]",
            "counter",
        );
        page.sample(
            "otelcol_process_uptime_seconds_total",
            &[
                ("otel_scope_name", SERVICE_SCOPE),
                ("otel_scope_version", ""),
            ],
            self.started.elapsed().as_secs_f64(),
        );

        for (kind, help) in [
            ("accepted", "successfully pushed into the pipeline."),
            ("refused", "that could not be pushed into the pipeline."),
        ] {
            for (s, items, what) in [
                (Signal::Log, "log_records", "log records"),
                (Signal::Metric, "metric_points", "metric points"),
                (Signal::Trace, "spans", "spans"),
            ] {
                let series: Vec<(Transport, Pair)> = receivers
                    .iter()
                    .filter(|((sig, _), _)| *sig == s)
                    .map(|((_, t), p)| (*t, *p))
                    .collect();
                if series.is_empty() {
                    continue;
                }
                let name = format!("otelcol_receiver_{kind}_{items}_total");
                page.family(
                    &name,
                    &format!("Number of {what} {help} [alpha]"),
                    "counter",
                );
                for (t, pair) in series {
                    page.sample(
                        &name,
                        &[
                            ("otel_scope_name", RECEIVER_SCOPE),
                            ("otel_scope_version", ""),
                            ("receiver", RECEIVER),
                            ("transport", t.as_str()),
                        ],
                        (if kind == "accepted" {
                            pair.ok
                        } else {
                            pair.bad
                        }) as f64,
                    );
                }
            }
        }

        page.family("target_info", "Target metadata", "gauge");
        page.sample(
            "target_info",
            &[
                ("service_instance_id", &self.instance_id),
                ("service_name", "otel-canary-lab"),
                ("service_version", env!("CARGO_PKG_VERSION")),
            ],
            1.0,
        );
        page.text
    }

    /// Tempo's `/metrics` page, reduced to its build info and the distributor and receiver
    /// families the attribution reads. Like client_golang, a labelled family appears only
    /// once one of its series exists.
    pub fn render_tempo(&self) -> String {
        let (received, receiver, appends, failures) = self.with(|c| {
            (
                c.tempo_received.clone(),
                c.tempo_receiver,
                c.tempo_appends,
                c.tempo_append_failures,
            )
        });
        let mut page = Page::default();
        page.family(
            "tempo_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, \
             goversion from which tempo was built, and the goos and goarch for the build.",
            "gauge",
        );
        page.sample(
            "tempo_build_info",
            &[
                ("branch", "v2.8.2"),
                ("goarch", std::env::consts::ARCH),
                ("goos", std::env::consts::OS),
                ("goversion", "go1.24.4"),
                ("revision", "otel-canary-lab"),
                ("tags", "unknown"),
                ("version", "2.8.2-otel-canary-lab"),
            ],
            1.0,
        );
        let ingester = [("ingester", TEMPO_INGESTER)];
        if let Some(n) = failures {
            let name = "tempo_distributor_ingester_append_failures_total";
            page.family(
                name,
                "The total number of failed batch appends sent to ingesters.",
                "counter",
            );
            page.sample(name, &ingester, n as f64);
        }
        if appends > 0 {
            let name = "tempo_distributor_ingester_appends_total";
            page.family(
                name,
                "The total number of batch appends sent to ingesters.",
                "counter",
            );
            page.sample(name, &ingester, appends as f64);
        }
        if !received.is_empty() {
            let name = "tempo_distributor_spans_received_total";
            page.family(
                name,
                "The total number of spans received per tenant",
                "counter",
            );
            for (tenant, n) in &received {
                page.sample(name, &[("tenant", tenant)], *n as f64);
            }
        }
        if let Some(pair) = receiver {
            for (name, help, value) in [
                (
                    "tempo_receiver_accepted_spans",
                    "Number of spans successfully pushed into the pipeline.",
                    pair.ok,
                ),
                (
                    "tempo_receiver_refused_spans",
                    "Number of spans that could not be pushed into the pipeline.",
                    pair.bad,
                ),
            ] {
                page.family(name, help, "counter");
                page.sample(
                    name,
                    &[("receiver", TEMPO_RECEIVER), ("transport", "grpc")],
                    value as f64,
                );
            }
        }
        page.text
    }
}

/// A text exposition being written.
#[derive(Default)]
struct Page {
    text: String,
}

impl Page {
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample; labels are written in the order given (callers give them sorted, as
    /// client_golang does).
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape_value(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", go_float(value));
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` writes it, which the exposition
/// uses: shortest digits, in exponent form from 1e6 up and below 1e-4 (`3.5549184e+07`,
/// as in the captured page).
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the same shortest digits: `3.5549184e7`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// The collector's self-metrics endpoint: `GET /metrics`, anything else 404.
pub fn collector_router(state: Arc<super::LabState>) -> Router {
    Router::new().fallback(serve).with_state(state)
}

async fn serve(State(state): State<Arc<super::LabState>>, req: Request) -> Response {
    if req.uri().path() != "/metrics" {
        return not_found();
    }
    respond(
        StatusCode::OK,
        Some(METRICS_CONTENT_TYPE),
        state.pipeline.render_collector(&state.faults),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_the_way_go_writes_them() {
        for (f, s) in [
            (0.0, "0"),
            (1.0, "1"),
            (2.0, "2"),
            (1000.0, "1000"),
            (0.02, "0.02"),
            (3.74935657, "3.74935657"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (35549184.0, "3.5549184e+07"),
            (5.923664e+06, "5.923664e+06"),
            (0.0001, "0.0001"),
            (1e21, "1e+21"),
            (0.00001, "1e-05"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(go_float(f), s, "{f}");
        }
    }
}
