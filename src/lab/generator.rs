//! The lab's Tempo metrics-generator: the span-metrics and service-graph counters real Tempo
//! derives from the spans it receives and remote-writes to Mimir, which RED dashboards and
//! the service map read (incident 9). Computed from the stored traces at query time, so the
//! lab's Prometheus/Mimir serves them beside the pushed series.
//!
//! Shapes (shared/fixtures/mimir/spanmetrics-calls.json, service-graph-request.json,
//! victoriametrics/tempo-generator-*.json, real Tempo 2.8.2):
//! `traces_spanmetrics_calls_total{service, span_name, span_kind="SPAN_KIND_CLIENT",
//! status_code="STATUS_CODE_OK", __metrics_gen_instance}` per span, and
//! `traces_service_graph_request_total{client, server, __metrics_gen_instance}` per client
//! span whose child server span is in another service (no `connection_type` when unset). The
//! `source="tempo"` label of the fixtures is an external label of that Tempo's config, not a
//! default, so the lab does not add it.
//!
//! Timing: a span counts from `Received::generated_at` (visible + the generator delay, default
//! [`DEFAULT_GENERATOR_DELAY`]: real Tempo collects every 15 s, then remote-writes), never
//! when the trace was stored with `trace:generator-disabled` (the generator is not enabled for
//! the tenant). Each series also gets a sample at the query's "now", as a generator that
//! re-writes its registry every collection keeps it inside Prometheus' lookback.
//!
//! Lab simplification: a service-graph edge is paired within one export request (the probe
//! sends both spans in one), where Tempo pairs across requests within `wait` (10 s).

use super::aggregate::Labels;
use super::params::millis_of;
use super::store::Received;
use super::tempo_data::service_name;
use crate::emit::encoding::Payload;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long after a trace is visible its derived series appear, unless a fault says otherwise.
pub const DEFAULT_GENERATOR_DELAY: Duration = Duration::from_secs(2);

/// The `__metrics_gen_instance` label: the generator's host name in real Tempo.
pub const GENERATOR_INSTANCE: &str = "otel-canary-lab";

/// The span-metrics call counter.
pub const SPAN_METRICS_CALLS: &str = "traces_spanmetrics_calls_total";

/// The service-graph request counter.
pub const SERVICE_GRAPH_REQUESTS: &str = "traces_service_graph_request_total";

/// Whether a series name may be one the generator writes (so a query that cannot match one
/// skips computing them).
pub fn may_be_generated(name: &str) -> bool {
    name.starts_with("traces_")
}

fn span_kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => "SPAN_KIND_UNSPECIFIED",
    }
}

fn status_code_name(span: &Span) -> &'static str {
    match span.status.as_ref().map_or(0, |s| s.code) {
        1 => "STATUS_CODE_OK",
        2 => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    }
}

fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut l = Labels::from([
        ("__name__".to_string(), name.to_string()),
        (
            "__metrics_gen_instance".to_string(),
            GENERATOR_INSTANCE.to_string(),
        ),
    ]);
    l.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    l
}

/// What one stored request contributes: a label set per counted span or edge.
fn contributions(r: &Received) -> Vec<Labels> {
    let Payload::Trace(req) = &r.payload else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // (span id, kind, service) of every span, to pair clients with their server children.
    let mut spans: Vec<(&Span, &str)> = Vec::new();
    for rs in &req.resource_spans {
        let service = service_name(rs.resource.as_ref()).unwrap_or("unknown_service");
        for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            out.push(labels(
                SPAN_METRICS_CALLS,
                &[
                    ("service", service),
                    ("span_name", &span.name),
                    ("span_kind", span_kind_name(span.kind)),
                    ("status_code", status_code_name(span)),
                ],
            ));
            spans.push((span, service));
        }
    }
    for (server, server_service) in spans.iter().filter(|(s, _)| s.kind == 2) {
        let client = spans.iter().find(|(c, _)| {
            c.kind == 3 && c.span_id == server.parent_span_id && c.trace_id == server.trace_id
        });
        if let Some((_, client_service)) = client {
            out.push(labels(
                SERVICE_GRAPH_REQUESTS,
                &[("client", client_service), ("server", server_service)],
            ));
        }
    }
    out
}

/// The generated counter series over `items` (the trace requests a query may read), as
/// Prometheus stores them: cumulative samples at each generation time, plus one at `now`.
pub fn series(items: &[Arc<Received>], now: SystemTime) -> BTreeMap<Labels, Vec<(i64, f64)>> {
    let mut events: Vec<(i64, Labels)> = Vec::new();
    for r in items {
        let Some(at) = r.generated_at.filter(|t| *t <= now) else {
            continue;
        };
        let ts = millis_of(at);
        events.extend(contributions(r).into_iter().map(|l| (ts, l)));
    }
    events.sort_by_key(|(ts, _)| *ts);
    let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for (ts, labels) in events {
        let points = out.entry(labels).or_default();
        let count = points.last().map_or(0.0, |(_, v)| *v) + 1.0;
        match points.last_mut() {
            Some(last) if last.0 == ts => last.1 = count,
            _ => points.push((ts, count)),
        }
    }
    let now_ms = millis_of(now);
    for points in out.values_mut() {
        if let Some(&(ts, v)) = points.last()
            && ts < now_ms
        {
            points.push((now_ms, v));
        }
    }
    out
}
