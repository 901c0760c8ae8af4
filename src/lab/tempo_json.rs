//! Tempo's JSON for traces: the OTLP shape written by gogo `jsonpb`, which is *not* OTLP/JSON:
//! `traceId`/`spanId` are base64, `kind`/`code` are enum names, 64-bit integers are strings,
//! zero values are left out but an empty `status` message stays `{}`. Field order follows the
//! proto declaration, as jsonpb writes it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use serde::Serialize;
use serde_json::{Value, json};

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// A uint64 as jsonpb writes it: a string, left out when zero.
fn nonzero(v: u64) -> Option<String> {
    (v != 0).then(|| v.to_string())
}

/// An attribute as jsonpb writes it.
#[derive(Serialize)]
pub struct JsonKeyValue {
    pub key: String,
    pub value: Value,
}

/// An `AnyValue` as jsonpb writes it (`{"stringValue":"…"}`, `{"intValue":"5"}`, …).
pub fn any_value(v: Option<&AnyValue>) -> Value {
    let Some(value) = v.and_then(|v| v.value.as_ref()) else {
        return json!({});
    };
    match value {
        any_value::Value::StringValue(s) => json!({ "stringValue": s }),
        any_value::Value::BoolValue(b) => json!({ "boolValue": b }),
        any_value::Value::IntValue(i) => json!({ "intValue": i.to_string() }),
        any_value::Value::DoubleValue(d) => {
            let n = if d.fract() == 0.0 && d.abs() < 1e15 {
                json!(*d as i64)
            } else {
                serde_json::Number::from_f64(*d).map_or(json!(d.to_string()), Value::Number)
            };
            json!({ "doubleValue": n })
        }
        any_value::Value::ArrayValue(a) => {
            let values: Vec<Value> = a.values.iter().map(|v| any_value(Some(v))).collect();
            if values.is_empty() {
                json!({ "arrayValue": {} })
            } else {
                json!({ "arrayValue": { "values": values } })
            }
        }
        any_value::Value::KvlistValue(kv) => {
            if kv.values.is_empty() {
                json!({ "kvlistValue": {} })
            } else {
                json!({ "kvlistValue": { "values": attributes(&kv.values) } })
            }
        }
        any_value::Value::BytesValue(b) => json!({ "bytesValue": b64(b) }),
        // A profiles dictionary index: Tempo's proto predates it, so it shows nothing.
        any_value::Value::StringValueStrindex(_) => json!({}),
    }
}

/// Attributes as jsonpb writes them.
pub fn attributes(kvs: &[KeyValue]) -> Vec<JsonKeyValue> {
    kvs.iter()
        .map(|kv| JsonKeyValue {
            key: kv.key.clone(),
            value: any_value(kv.value.as_ref()),
        })
        .collect()
}

/// A batch as Tempo writes it (public so callers can embed batches in their own answers).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonResourceSpans {
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<JsonResource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scope_spans: Vec<JsonScopeSpans>,
    #[serde(skip_serializing_if = "String::is_empty")]
    schema_url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonResource {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<JsonKeyValue>,
    #[serde(skip_serializing_if = "is_zero_u32")]
    dropped_attributes_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonScopeSpans {
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<JsonScope>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    spans: Vec<JsonSpan>,
    #[serde(skip_serializing_if = "String::is_empty")]
    schema_url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonScope {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<JsonKeyValue>,
    #[serde(skip_serializing_if = "is_zero_u32")]
    dropped_attributes_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    #[serde(skip_serializing_if = "String::is_empty")]
    trace_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    span_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    trace_state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    parent_span_id: String,
    #[serde(skip_serializing_if = "is_zero_u32")]
    flags: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time_unix_nano: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time_unix_nano: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<JsonKeyValue>,
    #[serde(skip_serializing_if = "is_zero_u32")]
    dropped_attributes_count: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<JsonEvent>,
    #[serde(skip_serializing_if = "is_zero_u32")]
    dropped_events_count: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<JsonLink>,
    #[serde(skip_serializing_if = "is_zero_u32")]
    dropped_links_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<JsonStatus>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    time_unix_nano: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<JsonKeyValue>,
    #[serde(skip_serializing_if = "is_zero_u32")]
    dropped_attributes_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonLink {
    #[serde(skip_serializing_if = "String::is_empty")]
    trace_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    span_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    trace_state: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<JsonKeyValue>,
    #[serde(skip_serializing_if = "is_zero_u32")]
    dropped_attributes_count: u32,
    #[serde(skip_serializing_if = "is_zero_u32")]
    flags: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonStatus {
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<Value>,
}

/// The enum name jsonpb writes for a span kind (unknown numbers stay numbers).
pub fn kind_name(kind: i32) -> Option<Value> {
    let name = match span::SpanKind::try_from(kind) {
        Ok(span::SpanKind::Unspecified) => return None,
        Ok(k) => k.as_str_name(),
        Err(_) => return Some(json!(kind)),
    };
    Some(json!(name))
}

fn status_json(s: &Status) -> JsonStatus {
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    let code = match StatusCode::try_from(s.code) {
        Ok(StatusCode::Unset) => None,
        Ok(c) => Some(json!(c.as_str_name())),
        Err(_) => Some(json!(s.code)),
    };
    JsonStatus {
        message: s.message.clone(),
        code,
    }
}

fn span_json(s: &Span) -> JsonSpan {
    JsonSpan {
        trace_id: b64(&s.trace_id),
        span_id: b64(&s.span_id),
        trace_state: s.trace_state.clone(),
        parent_span_id: b64(&s.parent_span_id),
        flags: s.flags,
        name: s.name.clone(),
        kind: kind_name(s.kind),
        start_time_unix_nano: nonzero(s.start_time_unix_nano),
        end_time_unix_nano: nonzero(s.end_time_unix_nano),
        attributes: attributes(&s.attributes),
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .iter()
            .map(|e| JsonEvent {
                time_unix_nano: nonzero(e.time_unix_nano),
                name: e.name.clone(),
                attributes: attributes(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: s.dropped_events_count,
        links: s
            .links
            .iter()
            .map(|l| JsonLink {
                trace_id: b64(&l.trace_id),
                span_id: b64(&l.span_id),
                trace_state: l.trace_state.clone(),
                attributes: attributes(&l.attributes),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
            .collect(),
        dropped_links_count: s.dropped_links_count,
        // Tempo keeps an empty status as `{}`; a span without one has none.
        status: s.status.as_ref().map(status_json),
    }
}

fn scope_json(s: &InstrumentationScope) -> JsonScope {
    JsonScope {
        name: s.name.clone(),
        version: s.version.clone(),
        attributes: attributes(&s.attributes),
        dropped_attributes_count: s.dropped_attributes_count,
    }
}

fn resource_json(r: &Resource) -> JsonResource {
    JsonResource {
        attributes: attributes(&r.attributes),
        dropped_attributes_count: r.dropped_attributes_count,
    }
}

fn scope_spans_json(ss: &ScopeSpans) -> JsonScopeSpans {
    JsonScopeSpans {
        scope: ss.scope.as_ref().map(scope_json),
        spans: ss.spans.iter().map(span_json).collect(),
        schema_url: ss.schema_url.clone(),
    }
}

/// One batch (`ResourceSpans`) as Tempo writes it.
pub fn resource_spans(rs: &ResourceSpans) -> JsonResourceSpans {
    JsonResourceSpans {
        resource: rs.resource.as_ref().map(resource_json),
        scope_spans: rs.scope_spans.iter().map(scope_spans_json).collect(),
        schema_url: rs.schema_url.clone(),
    }
}

/// `GET /api/traces/<id>`: `{"batches":[…]}`.
pub fn v1_trace(batches: &[ResourceSpans]) -> String {
    #[derive(Serialize)]
    struct V1 {
        batches: Vec<JsonResourceSpans>,
    }
    serde_json::to_string(&V1 {
        batches: batches.iter().map(resource_spans).collect(),
    })
    .expect("trace JSON")
}

/// `GET /api/v2/traces/<id>`: `{"trace":{"resourceSpans":[…]},"metrics":{…}}`.
pub fn v2_trace(batches: &[ResourceSpans], inspected_bytes: u64) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Trace {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        resource_spans: Vec<JsonResourceSpans>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Metrics {
        #[serde(skip_serializing_if = "Option::is_none")]
        inspected_bytes: Option<String>,
    }
    #[derive(Serialize)]
    struct V2 {
        trace: Trace,
        metrics: Metrics,
    }
    serde_json::to_string(&V2 {
        trace: Trace {
            resource_spans: batches.iter().map(resource_spans).collect(),
        },
        metrics: Metrics {
            inspected_bytes: nonzero(inspected_bytes),
        },
    })
    .expect("trace JSON")
}

/// Protobuf `tempopb.Trace` (field 1 = repeated ResourceSpans: the OTLP `TracesData` layout).
pub fn v1_trace_proto(batches: &[ResourceSpans]) -> Vec<u8> {
    use prost::Message;
    opentelemetry_proto::tonic::trace::v1::TracesData {
        resource_spans: batches.to_vec(),
    }
    .encode_to_vec()
}

/// Protobuf `tempopb.TraceByIDResponse` {1: Trace, 2: TraceByIDMetrics{1: inspectedBytes}}.
pub fn v2_trace_proto(batches: &[ResourceSpans], inspected_bytes: u64) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint};
    let trace = v1_trace_proto(batches);
    let mut metrics = Vec::new();
    if inspected_bytes != 0 {
        encode_key(1, WireType::Varint, &mut metrics);
        encode_varint(inspected_bytes, &mut metrics);
    }
    let mut out = Vec::new();
    encode_key(1, WireType::LengthDelimited, &mut out);
    encode_varint(trace.len() as u64, &mut out);
    out.extend_from_slice(&trace);
    encode_key(2, WireType::LengthDelimited, &mut out);
    encode_varint(metrics.len() as u64, &mut out);
    out.extend_from_slice(&metrics);
    out
}
