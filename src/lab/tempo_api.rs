//! The lab's Tempo query API (Tempo 2.8's port 3200): trace by id (v1 and v2, JSON or
//! protobuf), TraceQL search, TraceQL metrics (`lab::tempo_metrics`), tag names and values,
//! readiness and build info, each answering
//! with Tempo's exact status, Content-Type and body shape (shared/fixtures/tempo); and
//! `/metrics` with the distributor and receiver counters (`lab::pipeline`).

use super::LabState;
use super::http_util::{
    Incoming, Reply, TEXT_UTF8, empty, fault_answer, incoming, json, not_found, respond, vary,
};
use super::pipeline::METRICS_CONTENT_TYPE;
use super::tempo_data::{self, SearchParams, TagRef};
use super::tempo_json;
use super::tempo_metrics;
use super::tenancy::{self, TenantScope, Visibility};
use super::traceql;
use crate::signal::Signal;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;

/// The version the lab reports: Tempo's, marked as the lab.
pub const BUILDINFO: &str = "{\"version\":\"2.8.2-otel-canary-lab\",\"revision\":\"otel-canary-lab\",\"branch\":\"v2.8.2\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"go1.24.4\"}\n";

/// The router for the Tempo API port.
pub fn router(state: Arc<LabState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<Arc<LabState>>, req: Request) -> Response {
    match incoming(req, 0).await {
        Ok(inc) => route(&state, &inc),
        Err(resp) => *resp,
    }
}

fn route(state: &LabState, inc: &Incoming) -> Response {
    let path = inc.path.as_str();
    match path {
        "/ready" => return respond(StatusCode::OK, Some(TEXT_UTF8), "ready\n"),
        "/api/echo" => return respond(StatusCode::OK, Some(TEXT_UTF8), "echo\n"),
        "/api/status/buildinfo" => {
            return respond(StatusCode::OK, Some("application/json"), BUILDINFO);
        }
        "/metrics" => {
            return respond(
                StatusCode::OK,
                Some(METRICS_CONTENT_TYPE),
                state.pipeline.render_tempo(),
            );
        }
        _ => {}
    }
    enum Route<'a> {
        Trace(&'a str, bool),
        Search,
        TagsV1,
        TagsV2,
        Values(&'a str, bool),
        MetricsRange,
    }
    let r = if let Some(id) = path.strip_prefix("/api/traces/") {
        Route::Trace(id, false)
    } else if let Some(id) = path.strip_prefix("/api/v2/traces/") {
        Route::Trace(id, true)
    } else if path == "/api/search" {
        Route::Search
    } else if path == "/api/metrics/query_range" {
        Route::MetricsRange
    } else if path == "/api/search/tags" {
        Route::TagsV1
    } else if path == "/api/v2/search/tags" {
        Route::TagsV2
    } else if let Some(name) = tag_values_name(path, "/api/search/tag/") {
        Route::Values(name, false)
    } else if let Some(name) = tag_values_name(path, "/api/v2/search/tag/") {
        Route::Values(name, true)
    } else {
        return not_found();
    };
    if let Route::Trace(id, _) = r
        && (id.is_empty() || id.contains('/'))
    {
        return not_found();
    }
    if !matches!(inc.method, Method::GET | Method::HEAD) {
        return empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    let scope = match tenancy::scope(state, &inc.headers, true) {
        Ok(s) => s,
        Err(_) => return tenancy::no_org_id(),
    };
    let trace_fault = state.faults.get(Signal::Trace);
    let fault = trace_fault.query_error.clone();
    match r {
        Route::MetricsRange => {
            if let Some(text) = &trace_fault.traceql_metrics_error {
                return fault_answer(500, text);
            }
            if trace_fault.generator_disabled {
                return tempo_metrics::no_local_blocks();
            }
            tempo_metrics::query_range(&readable(state, &scope, Visibility::Query), inc)
        }
        Route::Trace(id, v2) => {
            if let Some((status, body)) = &fault {
                return fault_answer(*status, body);
            }
            trace_by_id(state, inc, &scope, id, v2)
        }
        Route::Search => {
            if let Some((status, body)) = &fault {
                return fault_answer(*status, body);
            }
            search(state, inc, &scope)
        }
        Route::TagsV1 => tags_v1(state, inc, &scope),
        Route::TagsV2 => tags_v2(state, &scope),
        Route::Values(name, v2) => tag_values(state, &scope, name, v2),
    }
}

fn tag_values_name<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)?
        .strip_suffix("/values")
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

fn bad_request(msg: String) -> Response {
    vary(respond(StatusCode::BAD_REQUEST, Some(TEXT_UTF8), msg))
}

fn readable(state: &LabState, scope: &TenantScope, v: Visibility) -> Vec<Arc<super::Received>> {
    tenancy::readable(state, Signal::Trace, scope, SystemTime::now(), v)
}

fn trace_by_id(
    state: &LabState,
    inc: &Incoming,
    scope: &TenantScope,
    id: &str,
    v2: bool,
) -> Response {
    let id = match tempo_data::parse_trace_id(id) {
        Ok(id) => id,
        Err(msg) => return bad_request(msg),
    };
    let items = readable(state, scope, Visibility::Query);
    let batches = tempo_data::trace_by_id(&items, &id);
    let protobuf = inc
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/protobuf"));
    let inspected = if batches.is_empty() {
        0
    } else {
        tempo_json::v1_trace_proto(&batches).len() as u64 + 8
    };
    let resp = match (v2, batches.is_empty(), protobuf) {
        (false, true, _) => empty(StatusCode::NOT_FOUND),
        (false, false, false) => json(
            StatusCode::OK,
            "application/json",
            tempo_json::v1_trace(&batches),
        ),
        (false, false, true) => respond(
            StatusCode::OK,
            Some("application/protobuf"),
            tempo_json::v1_trace_proto(&batches),
        ),
        (true, _, false) => json(
            StatusCode::OK,
            "application/json",
            tempo_json::v2_trace(&batches, inspected),
        ),
        (true, _, true) => respond(
            StatusCode::OK,
            Some("application/protobuf"),
            tempo_json::v2_trace_proto(&batches, inspected),
        ),
    };
    vary(resp)
}

fn int_param(inc: &Incoming, name: &str) -> Reply<Option<u64>> {
    match inc.params.non_empty(name) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            Box::new(bad_request(format!(
                "invalid {name}: strconv.ParseInt: parsing {v:?}: invalid syntax"
            )))
        }),
    }
}

fn search(state: &LabState, inc: &Incoming, scope: &TenantScope) -> Response {
    let query = match traceql::parse(inc.params.get("q").unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return bad_request(e.to_string()),
    };
    let (start, end) = match (int_param(inc, "start"), int_param(inc, "end")) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    let range = match (start, end) {
        (Some(s), Some(e)) if s > e => {
            return bad_request(format!(
                "http parameter start must be before end. received start={s} end={e}"
            ));
        }
        (Some(s), Some(e)) => Some((s, e)),
        (None, None) => None,
        (Some(s), None) => Some((s, u64::MAX / 2_000_000_000)),
        (None, Some(e)) => Some((0, e)),
    };
    let limit = match int_param(inc, "limit") {
        Ok(Some(0)) => return bad_request("invalid limit: must be a positive number".into()),
        Ok(l) => l.unwrap_or(20) as usize,
        Err(r) => return *r,
    };
    let spss = match int_param(inc, "spss") {
        Ok(s) => s.filter(|s| *s > 0).unwrap_or(3) as usize,
        Err(r) => return *r,
    };
    let items = readable(state, scope, Visibility::Search);
    let body = tempo_data::search(&items, &query, &SearchParams { range, limit, spss });
    vary(json(StatusCode::OK, "application/json", body))
}

fn inspected(items: &[Arc<super::Received>]) -> serde_json::Value {
    match tempo_data::inspected_bytes(items) {
        0 => json!({}),
        n => json!({ "inspectedBytes": n.to_string() }),
    }
}

fn tags_v1(state: &LabState, inc: &Incoming, scope: &TenantScope) -> Response {
    let items = readable(state, scope, Visibility::Search);
    let (span, resource) = tempo_data::tag_names(&items);
    let mut names: Vec<String> = match inc.params.non_empty("scope") {
        Some("span") => span,
        Some("resource") => resource,
        Some("intrinsic") => tempo_data::INTRINSIC_TAGS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        _ => span.into_iter().chain(resource).collect(),
    };
    names.sort();
    names.dedup();
    let body = format!(
        "{{\"tagNames\":{},\"metrics\":{}}}",
        serde_json::to_string(&names).expect("json"),
        inspected(&items)
    );
    vary(json(StatusCode::OK, "application/json", body))
}

fn tags_v2(state: &LabState, scope: &TenantScope) -> Response {
    let items = readable(state, scope, Visibility::Search);
    let (span, resource) = tempo_data::tag_names(&items);
    let mut scopes = vec![json!({"name": "intrinsic", "tags": tempo_data::INTRINSIC_TAGS})];
    if !span.is_empty() {
        scopes.push(json!({"name": "span", "tags": span}));
    }
    if !resource.is_empty() {
        scopes.push(json!({"name": "resource", "tags": resource}));
    }
    let body = format!(
        "{{\"scopes\":{},\"metrics\":{}}}",
        serde_json::to_string(&scopes).expect("json"),
        inspected(&items)
    );
    vary(json(StatusCode::OK, "application/json", body))
}

fn tag_values(state: &LabState, scope: &TenantScope, name: &str, v2: bool) -> Response {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    let items = readable(state, scope, Visibility::Search);
    let tag = if !v2 {
        TagRef::Unscoped(name)
    } else if let Some(n) = name.strip_prefix("span.") {
        TagRef::Span(n)
    } else if let Some(n) = name.strip_prefix("resource.") {
        TagRef::Resource(n)
    } else if let Some(n) = name.strip_prefix('.') {
        TagRef::Unscoped(n)
    } else if name == "name" || name == "span:name" {
        TagRef::SpanName
    } else {
        TagRef::Unscoped(name)
    };
    let values = tempo_data::tag_values(&items, &tag);
    let rendered: Vec<serde_json::Value> = values
        .iter()
        .filter_map(|v| {
            let (ty, s) = match v.value.as_ref()? {
                V::StringValue(s) => ("string", s.clone()),
                V::IntValue(i) => ("int", i.to_string()),
                V::DoubleValue(d) => ("float", super::params::format_prom_value(*d)),
                V::BoolValue(b) => ("bool", b.to_string()),
                _ => return None,
            };
            Some(if v2 {
                json!({"type": ty, "value": s})
            } else {
                json!(s)
            })
        })
        .collect();
    let body = format!(
        "{{\"tagValues\":{},\"metrics\":{}}}",
        serde_json::to_string(&rendered).expect("json"),
        inspected(&items)
    );
    vary(json(StatusCode::OK, "application/json", body))
}
