//! Tempo's view of the stored traces: spans grouped by trace id across export requests (and
//! de-duplicated, as Tempo's combiner does), trace ids parsed the way Tempo parses them, and
//! what search and the tag endpoints compute from them.

use super::store::Received;
use super::tempo_json::{self, JsonKeyValue};
use super::traceql::Query;
use crate::emit::encoding::Payload;
use crate::probe::hex;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// Tempo's `HexStringToTraceID`: hex only (1-based position of the first bad character),
/// at most 128 bits, shorter ids left-padded with zeros.
pub fn parse_trace_id(id: &str) -> Result<[u8; 16], String> {
    for (pos, c) in id.chars().enumerate() {
        if !c.is_ascii_hexdigit() {
            return Err(format!(
                "trace IDs can only contain hex characters: invalid character '{c}' at position {}",
                pos + 1
            ));
        }
    }
    let padded = if id.len() % 2 == 1 {
        format!("0{id}")
    } else {
        id.to_string()
    };
    let bytes: Vec<u8> = (0..padded.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&padded[i..i + 2], 16).unwrap_or(0))
        .collect();
    if bytes.len() > 16 {
        return Err("trace IDs can't be larger than 128 bits".into());
    }
    let mut out = [0u8; 16];
    out[16 - bytes.len()..].copy_from_slice(&bytes);
    Ok(out)
}

/// Tempo's `TraceIDToHexString`: lowercase hex with the leading zeros trimmed.
pub fn trace_id_search_hex(id: &[u8]) -> String {
    hex(id).trim_start_matches('0').to_string()
}

fn requests(items: &[Arc<Received>]) -> impl Iterator<Item = &ResourceSpans> {
    items.iter().flat_map(|r| match &r.payload {
        Payload::Trace(t) => t.resource_spans.as_slice(),
        _ => &[],
    })
}

/// Bytes "inspected" to answer: the encoded size of what was scanned (Tempo reports the
/// bytes it read; only the order of magnitude matters to anyone).
pub fn inspected_bytes(items: &[Arc<Received>]) -> u64 {
    items
        .iter()
        .map(|r| match &r.payload {
            Payload::Trace(t) => t.encoded_len() as u64,
            _ => 0,
        })
        .sum()
}

/// Every batch holding spans of trace `id`, spans already seen (same id and kind) dropped.
pub fn trace_by_id(items: &[Arc<Received>], id: &[u8; 16]) -> Vec<ResourceSpans> {
    let mut seen = HashSet::new();
    let mut batches = Vec::new();
    for rs in requests(items) {
        let scope_spans: Vec<ScopeSpans> = rs
            .scope_spans
            .iter()
            .filter_map(|ss| {
                let spans: Vec<Span> = ss
                    .spans
                    .iter()
                    .filter(|s| s.trace_id == id && seen.insert((s.span_id.clone(), s.kind)))
                    .cloned()
                    .collect();
                (!spans.is_empty()).then(|| ScopeSpans {
                    scope: ss.scope.clone(),
                    spans,
                    schema_url: ss.schema_url.clone(),
                })
            })
            .collect();
        if !scope_spans.is_empty() {
            batches.push(ResourceSpans {
                resource: rs.resource.clone(),
                scope_spans,
                schema_url: rs.schema_url.clone(),
            });
        }
    }
    batches
}

/// One span with the resource it was sent under.
struct SpanRef<'a> {
    span: &'a Span,
    resource: Option<&'a Resource>,
}

pub(crate) fn service_name(resource: Option<&Resource>) -> Option<&str> {
    resource?
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

/// Spans grouped by trace id, in first-seen order.
fn traces(items: &[Arc<Received>]) -> Vec<(Vec<u8>, Vec<SpanRef<'_>>)> {
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    let mut out: Vec<(Vec<u8>, Vec<SpanRef<'_>>)> = Vec::new();
    let mut seen = HashSet::new();
    for rs in requests(items) {
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                if !seen.insert((span.trace_id.as_slice(), span.span_id.as_slice(), span.kind)) {
                    continue;
                }
                let i = *index.entry(span.trace_id.as_slice()).or_insert_with(|| {
                    out.push((span.trace_id.clone(), Vec::new()));
                    out.len() - 1
                });
                out[i].1.push(SpanRef {
                    span,
                    resource: rs.resource.as_ref(),
                });
            }
        }
    }
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchSpan {
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time_unix_nano: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_nanos: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<JsonKeyValue>,
}

#[derive(Serialize)]
struct SpanSet {
    spans: Vec<SearchSpan>,
    matched: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceStats {
    span_count: u32,
    #[serde(skip_serializing_if = "is_zero")]
    error_count: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchTrace {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    root_service_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    root_trace_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time_unix_nano: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    duration_ms: u32,
    span_set: SpanSet,
    span_sets: Vec<SpanSet>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    service_stats: BTreeMap<String, ServiceStats>,
}

/// The `metrics` object of search answers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspected_bytes: Option<String>,
    pub completed_jobs: u32,
    pub total_jobs: u32,
}

/// What a search needs besides the query.
pub struct SearchParams {
    /// `start`/`end` in unix seconds, when both were given.
    pub range: Option<(u64, u64)>,
    pub limit: usize,
    /// Spans per spanset.
    pub spss: usize,
}

/// Runs a search and renders Tempo's answer.
pub fn search(items: &[Arc<Received>], query: &Query, params: &SearchParams) -> String {
    let mut hits: Vec<(u64, SearchTrace)> = Vec::new();
    for (trace_id, spans) in traces(items) {
        let start = spans
            .iter()
            .map(|s| s.span.start_time_unix_nano)
            .min()
            .unwrap_or(0);
        let end = spans
            .iter()
            .map(|s| s.span.end_time_unix_nano)
            .max()
            .unwrap_or(0);
        if let Some((from, to)) = params.range {
            let (from, to) = (
                from.saturating_mul(1_000_000_000),
                to.saturating_add(1).saturating_mul(1_000_000_000),
            );
            if end < from || start > to {
                continue;
            }
        }
        let mut matched = Vec::new();
        for s in &spans {
            let mut found: Vec<KeyValueRef<'_>> = Vec::new();
            let ok = query.conditions.iter().all(|c| {
                let (ok, attr) = c.matches(s.span, s.resource);
                if let Some(a) = attr {
                    found.push(a);
                }
                ok
            });
            if ok {
                matched.push((s, found));
            }
        }
        if matched.is_empty() {
            continue;
        }
        let span_set = || SpanSet {
            spans: matched
                .iter()
                .take(params.spss)
                .map(|(s, found)| SearchSpan {
                    span_id: hex(&s.span.span_id),
                    start_time_unix_nano: nonzero(s.span.start_time_unix_nano),
                    duration_nanos: nonzero(
                        s.span
                            .end_time_unix_nano
                            .saturating_sub(s.span.start_time_unix_nano),
                    ),
                    attributes: dedup_attrs(found),
                })
                .collect(),
            matched: matched.len(),
        };
        let root = spans.iter().find(|s| s.span.parent_span_id.is_empty());
        let mut stats: BTreeMap<String, ServiceStats> = BTreeMap::new();
        for s in &spans {
            if let Some(name) = service_name(s.resource) {
                let e = stats.entry(name.to_string()).or_insert(ServiceStats {
                    span_count: 0,
                    error_count: 0,
                });
                e.span_count += 1;
                if s.span.status.as_ref().is_some_and(|st| st.code == 2) {
                    e.error_count += 1;
                }
            }
        }
        hits.push((
            start,
            SearchTrace {
                trace_id: trace_id_search_hex(&trace_id),
                root_service_name: match root {
                    Some(r) => service_name(r.resource).unwrap_or("").to_string(),
                    None => "<root span not yet received>".to_string(),
                },
                root_trace_name: root.map(|r| r.span.name.clone()).unwrap_or_default(),
                start_time_unix_nano: nonzero(start),
                duration_ms: (end.saturating_sub(start) / 1_000_000).min(u32::MAX as u64) as u32,
                span_set: span_set(),
                span_sets: vec![span_set()],
                service_stats: stats,
            },
        ));
    }
    hits.sort_by_key(|h| std::cmp::Reverse(h.0));
    hits.truncate(params.limit);
    #[derive(Serialize)]
    struct Answer {
        traces: Vec<SearchTrace>,
        metrics: SearchMetrics,
    }
    let jobs = if params.range.is_some() { 3 } else { 1 };
    serde_json::to_string(&Answer {
        traces: hits.into_iter().map(|(_, t)| t).collect(),
        metrics: SearchMetrics {
            inspected_bytes: nonzero(inspected_bytes(items)),
            completed_jobs: jobs,
            total_jobs: jobs,
        },
    })
    .expect("search JSON")
}

type KeyValueRef<'a> = (&'a str, &'a AnyValue);

fn dedup_attrs(found: &[KeyValueRef<'_>]) -> Vec<JsonKeyValue> {
    let mut seen = HashSet::new();
    found
        .iter()
        .filter(|(k, _)| seen.insert(*k))
        .map(|(k, v)| JsonKeyValue {
            key: k.to_string(),
            value: tempo_json::any_value(Some(v)),
        })
        .collect()
}

fn nonzero(v: u64) -> Option<String> {
    (v != 0).then(|| v.to_string())
}

/// Attribute names by scope (`span`, `resource`), sorted.
pub fn tag_names(items: &[Arc<Received>]) -> (Vec<String>, Vec<String>) {
    let (mut span, mut resource) = (BTreeSet::new(), BTreeSet::new());
    for rs in requests(items) {
        if let Some(r) = &rs.resource {
            resource.extend(r.attributes.iter().map(|kv| kv.key.clone()));
        }
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                span.extend(s.attributes.iter().map(|kv| kv.key.clone()));
            }
        }
    }
    (span.into_iter().collect(), resource.into_iter().collect())
}

/// The intrinsic tag names Tempo 2.8 lists in the v2 tags answer.
pub const INTRINSIC_TAGS: &[&str] = &[
    "duration",
    "event:name",
    "event:timeSinceStart",
    "instrumentation:name",
    "instrumentation:version",
    "kind",
    "name",
    "rootName",
    "rootServiceName",
    "span:duration",
    "span:kind",
    "span:name",
    "span:status",
    "span:statusMessage",
    "status",
    "statusMessage",
    "trace:duration",
    "trace:rootName",
    "trace:rootService",
    "traceDuration",
];

/// Which values a tag-values request asks for.
pub enum TagRef<'a> {
    /// v1: an unscoped attribute name, span and resource alike.
    Unscoped(&'a str),
    Span(&'a str),
    Resource(&'a str),
    /// The `name` intrinsic.
    SpanName,
}

/// Distinct values of a tag, in first-seen order.
pub fn tag_values(items: &[Arc<Received>], tag: &TagRef<'_>) -> Vec<AnyValue> {
    let mut out: Vec<AnyValue> = Vec::new();
    let mut push = |v: &AnyValue| {
        if !out.contains(v) {
            out.push(v.clone());
        }
    };
    let pick = |kvs: &[KeyValue], name: &str, push: &mut dyn FnMut(&AnyValue)| {
        for kv in kvs.iter().filter(|kv| kv.key == name) {
            if let Some(v) = &kv.value {
                push(v);
            }
        }
    };
    for rs in requests(items) {
        let res_attrs = rs
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        match tag {
            TagRef::Unscoped(n) | TagRef::Resource(n) => pick(res_attrs, n, &mut push),
            _ => {}
        }
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                match tag {
                    TagRef::Unscoped(n) | TagRef::Span(n) => pick(&s.attributes, n, &mut push),
                    TagRef::SpanName => push(&AnyValue {
                        value: Some(any_value::Value::StringValue(s.name.clone())),
                    }),
                    TagRef::Resource(_) => {}
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_parse_like_tempo() {
        assert_eq!(
            parse_trace_id("not-a-trace-id").unwrap_err(),
            "trace IDs can only contain hex characters: invalid character 'n' at position 1"
        );
        let short = parse_trace_id("7ef81df9069f62b2fd19ee7b9dcb").unwrap();
        assert_eq!(hex(&short), "00007ef81df9069f62b2fd19ee7b9dcb");
        assert_eq!(parse_trace_id("abc").unwrap()[14..], [0x0a, 0xbc]);
        assert!(parse_trace_id(&"a".repeat(33)).is_err());
        assert_eq!(trace_id_search_hex(&short), "7ef81df9069f62b2fd19ee7b9dcb");
    }
}
