//! Pure payload builders: probe + resource -> OTLP export request. No I/O and no clock reads,
//! so the same probe always yields the same bytes (golden files rely on it) and later stages
//! (lab, readers) can rebuild what was sent.

use crate::config::resource::ResourceSpec;
use crate::probe::{Probe, unix_nanos};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

/// Span and log attribute carrying the probe id (Loki shows it as `canary_probe_id`).
pub const PROBE_ID_ATTRIBUTE: &str = "canary.probe_id";
/// Metric label added in `--metric-tag label` mode.
pub const PROBE_ID_LABEL: &str = "canary_probe_id";
/// The marker gauge: a Prometheus-safe name with no unit, so Prometheus (suffixes on) and
/// Mimir (suffixes off) store it under the same name.
pub const MARKER_METRIC: &str = "otel_canary_probe_marker";
pub const CLIENT_SPAN_NAME: &str = "canary.client";
pub const SERVER_SPAN_NAME: &str = "canary.server";
pub const SCOPE_NAME: &str = "otel-canary";

/// How the metric identifies its probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetricTag {
    /// Stable series; the probe is recognised by the sample value (its marker).
    #[default]
    Value,
    /// Also add `canary_probe_id` as a label: one new series per probe, for one-shot tests.
    Label,
}

impl std::str::FromStr for MetricTag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "value" => Ok(MetricTag::Value),
            "label" => Ok(MetricTag::Label),
            other => Err(format!(
                "'{other}' is not a metric tag mode (value or label)"
            )),
        }
    }
}

/// The log body, also what a line filter searches for.
pub fn log_body(probe: &Probe) -> String {
    format!("otel-canary probe {}", probe.probe_id)
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn resource(spec: &ResourceSpec, service_name: &str) -> Resource {
    let mut attributes = vec![
        kv("service.name", service_name),
        kv("service.instance.id", &spec.service_instance_id.value),
        kv("service.version", &spec.service_version),
    ];
    attributes.extend(spec.extra.iter().map(|(k, v)| kv(k, v)));
    Resource {
        attributes,
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    }
}

fn probe_span(probe: &Probe, server: bool) -> Span {
    let (span_id, parent, name, kind, times) = if server {
        (
            probe.server_span_id,
            probe.client_span_id.to_vec(),
            SERVER_SPAN_NAME,
            span::SpanKind::Server,
            probe.server_span,
        )
    } else {
        (
            probe.client_span_id,
            Vec::new(),
            CLIENT_SPAN_NAME,
            span::SpanKind::Client,
            probe.client_span,
        )
    };
    Span {
        trace_id: probe.trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id: parent,
        name: name.to_string(),
        kind: kind as i32,
        start_time_unix_nano: unix_nanos(times.start),
        end_time_unix_nano: unix_nanos(times.end),
        attributes: vec![kv(PROBE_ID_ATTRIBUTE, &probe.probe_id.to_string())],
        status: Some(Status {
            code: status::StatusCode::Ok as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The trace: `canary.client` (CLIENT) in the probe's service and its child `canary.server`
/// (SERVER) in the peer service, as two ResourceSpans, which gives Tempo's service graph an
/// edge.
pub fn trace_request(probe: &Probe, spec: &ResourceSpec) -> ExportTraceServiceRequest {
    let rs = |service: &str, server: bool| ResourceSpans {
        resource: Some(resource(spec, service)),
        scope_spans: vec![ScopeSpans {
            scope: Some(scope()),
            spans: vec![probe_span(probe, server)],
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            rs(&spec.service_name.value, false),
            rs(&spec.peer_service_name(), true),
        ],
    }
}

/// The log: INFO, body and attribute carry the probe id, and the trace/span ids of the client
/// span tie it to the trace.
pub fn log_request(probe: &Probe, spec: &ResourceSpec) -> ExportLogsServiceRequest {
    let t = unix_nanos(probe.client_span.end);
    let record = LogRecord {
        time_unix_nano: t,
        observed_time_unix_nano: t,
        severity_number: SeverityNumber::Info as i32,
        severity_text: "INFO".to_string(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(log_body(probe))),
        }),
        attributes: vec![kv(PROBE_ID_ATTRIBUTE, &probe.probe_id.to_string())],
        flags: 1,
        trace_id: probe.trace_id.to_vec(),
        span_id: probe.client_span_id.to_vec(),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(spec, &spec.service_name.value)),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The metric: gauge `otel_canary_probe_marker` whose value is the probe's marker.
pub fn metric_request(
    probe: &Probe,
    spec: &ResourceSpec,
    tag: MetricTag,
) -> ExportMetricsServiceRequest {
    let attributes = match tag {
        MetricTag::Value => Vec::new(),
        MetricTag::Label => vec![kv(PROBE_ID_LABEL, &probe.probe_id.to_string())],
    };
    let point = NumberDataPoint {
        attributes,
        time_unix_nano: unix_nanos(probe.client_span.end),
        value: Some(number_data_point::Value::AsDouble(probe.marker)),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(spec, &spec.service_name.value)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics: vec![Metric {
                    name: MARKER_METRIC.to_string(),
                    description: "otel-canary probe marker: emit time in ms since the epoch"
                        .to_string(),
                    unit: String::new(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![point],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
