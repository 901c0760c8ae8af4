//! The lab's Prometheus / Mimir (Mimir 2.16's port 9009): OTLP push at `/otlp/v1/metrics`
//! (and Prometheus' `/api/v1/otlp/v1/metrics`), the HTTP API under both `/prometheus/api/v1/…`
//! (Mimir) and `/api/v1/…` (Prometheus): instant and range queries with the PromQL subset in
//! `promql`, series, labels, label values, build info and readiness, answering with the
//! servers' exact status, Content-Type and body shape (shared/fixtures/mimir, prometheus).
//! Series the lab's scraper stored (`lab::scraper`) are queried alongside the pushed ones.

use super::LabState;
use super::backend_otlp::{self, Backend};
use super::generator;
use super::http_util::{
    Incoming, Reply, TEXT_UTF8, empty, fault_answer, incoming, json, not_found, respond, vary,
};
use super::logql::MatchOp;
use super::otlp_http::MAX_BODY;
use super::params::{
    format_prom_ts, format_prom_value, millis_of, parse_prom_duration_param, parse_prom_time,
};
use super::prom_mapping::Labels;
use super::promql::{self, Expr};
use super::tenancy::{self, TenantError, TenantScope, Visibility};
use crate::signal::Signal;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

/// Mimir's build info, marked as the lab.
pub const BUILDINFO: &str = "{\"status\":\"success\",\"data\":{\"application\":\"Grafana Mimir\",\"version\":\"2.16.1-otel-canary-lab\",\"revision\":\"otel-canary-lab\",\"branch\":\"mimir-2.16.1\",\"goVersion\":\"go1.24.4\",\"features\":{\"ruler_config_api\":\"true\",\"alertmanager_config_api\":\"true\",\"query_sharding\":\"false\",\"federated_rules\":\"false\"}}}";
/// Prometheus' default lookback.
const LOOKBACK_MS: i64 = 5 * 60 * 1000;
/// Prometheus' limit on points per series in a range query.
const MAX_POINTS: i64 = 11_000;

/// The router for the Mimir port.
pub fn router(state: Arc<LabState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<Arc<LabState>>, req: Request) -> Response {
    let inc = match incoming(req, MAX_BODY).await {
        Ok(inc) => inc,
        Err(resp) => return *resp,
    };
    let path = inc.path.clone();
    match path.as_str() {
        "/ready" => return respond(StatusCode::OK, Some("text/plain"), "ready"),
        "/-/ready" => {
            return respond(
                StatusCode::OK,
                Some(TEXT_UTF8),
                "Prometheus Server is Ready.\n",
            );
        }
        "/-/healthy" => {
            return respond(
                StatusCode::OK,
                Some(TEXT_UTF8),
                "Prometheus Server is Healthy.\n",
            );
        }
        "/otlp/v1/metrics" | "/api/v1/otlp/v1/metrics" => {
            return backend_otlp::ingest(&state, Backend::Mimir, inc).await;
        }
        _ => {}
    }
    let api = path.strip_prefix("/prometheus").unwrap_or(&path);
    let Some(api) = api.strip_prefix("/api/v1/") else {
        return not_found();
    };
    if api == "status/buildinfo" {
        return vary(json(StatusCode::OK, "application/json", BUILDINFO));
    }
    let known = matches!(api, "query" | "query_range" | "series" | "labels")
        || label_values_name(api).is_some();
    if !known {
        return not_found();
    }
    if !matches!(inc.method, Method::GET | Method::POST) {
        return empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    let scope = match tenancy::scope(&state, &inc.headers, false) {
        Ok(s) => s,
        Err(TenantError::Missing) => return vary(tenancy::no_org_id()),
        Err(TenantError::Multiple(n)) => return vary(tenancy::mimir_too_many(n)),
    };
    if matches!(api, "query" | "query_range" | "series")
        && let Some((status, body)) = state.faults.get(Signal::Metric).query_error
    {
        return fault_answer(status, &body);
    }
    let result = match api {
        "query" => query(&state, &inc, &scope),
        "query_range" => query_range(&state, &inc, &scope),
        "series" => series(&state, &inc, &scope),
        "labels" => labels(&state, &inc, &scope, None),
        other => labels(&state, &inc, &scope, label_values_name(other)),
    };
    vary(result.unwrap_or_else(|r| *r))
}

fn label_values_name(api: &str) -> Option<&str> {
    api.strip_prefix("label/")?
        .strip_suffix("/values")
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

/// A JSON string as Go's `encoding/json` writes it (HTML characters escaped).
fn go_string(s: &str) -> String {
    serde_json::to_string(s)
        .expect("string JSON")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn labels_json(labels: &Labels) -> String {
    let fields: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}:{}", go_string(k), go_string(v)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// Prometheus' error envelope.
fn api_error(status: StatusCode, kind: &str, message: &str) -> Response {
    json(
        status,
        "application/json",
        format!(
            "{{\"status\":\"error\",\"errorType\":{},\"error\":{}}}",
            go_string(kind),
            go_string(message)
        ),
    )
}

fn bad_data(message: String) -> Box<Response> {
    Box::new(api_error(StatusCode::BAD_REQUEST, "bad_data", &message))
}

fn success(data: String) -> Response {
    json(
        StatusCode::OK,
        "application/json",
        format!("{{\"status\":\"success\",\"data\":{data}}}"),
    )
}

/// Every stored series this scope may read now: what OTLP pushes wrote, what Tempo's
/// metrics-generator derived from the scope's traces (only when `generated` says the query
/// may read them: computing them walks every stored trace), plus, in the single-tenant view
/// only, what the scraper stored (`lab::scrape_store` on tenancy).
fn all_series(
    state: &LabState,
    scope: &TenantScope,
    generated: bool,
) -> BTreeMap<Labels, Vec<(i64, f64)>> {
    let mut all = pushed_series(state, scope);
    if generated {
        let now = SystemTime::now();
        let traces = tenancy::readable(state, Signal::Trace, scope, now, Visibility::Query);
        promql::merge_series(&mut all, generator::series(&traces, now));
    }
    if *scope == TenantScope::All {
        promql::merge_series(&mut all, state.scraped.series());
    }
    all
}

/// Whether an expression may read a series Tempo's generator writes.
fn reads_generated(expr: &Expr) -> bool {
    expr.selectors().iter().any(|matchers| {
        matchers
            .iter()
            .filter(|m| m.name == "__name__" && m.op == MatchOp::Eq)
            .all(|m| generator::may_be_generated(&m.value))
    })
}

fn pushed_series(state: &LabState, scope: &TenantScope) -> BTreeMap<Labels, Vec<(i64, f64)>> {
    let samples = tenancy::readable(
        state,
        Signal::Metric,
        scope,
        SystemTime::now(),
        Visibility::Query,
    )
    .iter()
    .flat_map(|r| r.prom_samples().to_vec())
    .collect();
    promql::series(samples)
}

fn time_param(inc: &Incoming, name: &str, default: i64) -> Reply<i64> {
    match inc.params.non_empty(name) {
        None => Ok(default),
        Some(v) => {
            parse_prom_time(v).map_err(|e| bad_data(format!("invalid parameter {name:?}: {e}")))
        }
    }
}

fn parse_query(inc: &Incoming) -> Reply<Expr> {
    promql::parse(inc.params.get("query").unwrap_or(""))
        .map_err(|e| bad_data(format!("invalid parameter \"query\": {e}")))
}

fn lookback(inc: &Incoming) -> Reply<i64> {
    match inc.params.non_empty("lookback_delta") {
        None => Ok(LOOKBACK_MS),
        Some(v) => parse_prom_duration_param(v)
            .map_err(|e| bad_data(format!("error parsing lookback delta duration: {e}"))),
    }
}

fn query(state: &LabState, inc: &Incoming, scope: &TenantScope) -> Reply<Response> {
    // `latency_offset` (VictoriaMetrics) and `timeout`/`stats`/`limit` are accepted and ignored.
    let t = time_param(inc, "time", millis_of(SystemTime::now()))?;
    let expr = parse_query(inc)?;
    let lookback = lookback(inc)?;
    let all = all_series(state, scope, reads_generated(&expr));
    let result = promql::eval_instant(&expr, &all, t, lookback);
    let items: Vec<String> = result
        .iter()
        .map(|(labels, v)| {
            format!(
                "{{\"metric\":{},\"value\":[{},\"{}\"]}}",
                labels_json(labels),
                format_prom_ts(t),
                format_prom_value(*v)
            )
        })
        .collect();
    Ok(success(format!(
        "{{\"resultType\":\"vector\",\"result\":[{}]}}",
        items.join(",")
    )))
}

fn query_range(state: &LabState, inc: &Incoming, scope: &TenantScope) -> Reply<Response> {
    let start = match inc.params.non_empty("start") {
        Some(v) => {
            parse_prom_time(v).map_err(|e| bad_data(format!("invalid parameter \"start\": {e}")))?
        }
        None => {
            return Err(bad_data(
                "invalid parameter \"start\": cannot parse \"\" to a valid timestamp".into(),
            ));
        }
    };
    let end = match inc.params.non_empty("end") {
        Some(v) => {
            parse_prom_time(v).map_err(|e| bad_data(format!("invalid parameter \"end\": {e}")))?
        }
        None => {
            return Err(bad_data(
                "invalid parameter \"end\": cannot parse \"\" to a valid timestamp".into(),
            ));
        }
    };
    if end < start {
        return Err(bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    let step = match inc.params.non_empty("step") {
        Some(v) => parse_prom_duration_param(v)
            .map_err(|e| bad_data(format!("invalid parameter \"step\": {e}")))?,
        None => {
            return Err(bad_data(
                "invalid parameter \"step\": cannot parse \"\" to a valid duration".into(),
            ));
        }
    };
    if step <= 0 {
        return Err(bad_data("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer".into()));
    }
    if end.saturating_sub(start) / step > MAX_POINTS {
        return Err(bad_data("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into()));
    }
    let expr = parse_query(inc)?;
    let lookback = lookback(inc)?;
    let all = all_series(state, scope, reads_generated(&expr));
    let mut matrix: BTreeMap<Labels, Vec<String>> = BTreeMap::new();
    let mut t = start;
    while t <= end {
        for (labels, v) in promql::eval_instant(&expr, &all, t, lookback) {
            matrix.entry(labels).or_default().push(format!(
                "[{},\"{}\"]",
                format_prom_ts(t),
                format_prom_value(v)
            ));
        }
        match t.checked_add(step) {
            Some(next) => t = next,
            None => break,
        }
    }
    let items: Vec<String> = matrix
        .iter()
        .map(|(labels, values)| {
            format!(
                "{{\"metric\":{},\"values\":[{}]}}",
                labels_json(labels),
                values.join(",")
            )
        })
        .collect();
    Ok(success(format!(
        "{{\"resultType\":\"matrix\",\"result\":[{}]}}",
        items.join(",")
    )))
}

/// Series (label sets) with a sample in `[start, end]` matching any of `match[]`.
fn matching_sets(
    state: &LabState,
    inc: &Incoming,
    scope: &TenantScope,
    required: bool,
) -> Reply<BTreeSet<Labels>> {
    let selectors = inc.params.all("match[]");
    if required && selectors.is_empty() {
        return Err(bad_data("no match[] parameter provided".into()));
    }
    let mut parsed = Vec::new();
    for s in selectors {
        match promql::parse(s) {
            Ok(Expr::Selector(m)) => parsed.push(m),
            Ok(Expr::LastOverTime(..) | Expr::Aggregate(..)) => {
                return Err(bad_data(format!(
                    "invalid parameter \"match[]\": 1:1: parse error: expected vector selector, got call in {s:?}"
                )));
            }
            Ok(Expr::Compare(..)) => {
                return Err(bad_data(format!(
                    "invalid parameter \"match[]\": 1:1: parse error: expected vector selector, got binary expression in {s:?}"
                )));
            }
            Err(e) => return Err(bad_data(format!("invalid parameter \"match[]\": {e}"))),
        }
    }
    let start = time_param(inc, "start", i64::MIN)?;
    let end = time_param(inc, "end", i64::MAX)?;
    Ok(all_series(state, scope, true)
        .into_iter()
        .filter(|(labels, points)| {
            (parsed.is_empty() || parsed.iter().any(|m| promql::selects(m, labels)))
                && points.iter().any(|(t, _)| *t >= start && *t <= end)
        })
        .map(|(labels, _)| labels)
        .collect())
}

fn series(state: &LabState, inc: &Incoming, scope: &TenantScope) -> Reply<Response> {
    let sets = matching_sets(state, inc, scope, true)?;
    let items: Vec<String> = sets.iter().map(labels_json).collect();
    Ok(success(format!("[{}]", items.join(","))))
}

fn labels(
    state: &LabState,
    inc: &Incoming,
    scope: &TenantScope,
    values_of: Option<&str>,
) -> Reply<Response> {
    let sets = matching_sets(state, inc, scope, false)?;
    let out: BTreeSet<&str> = sets
        .iter()
        .flat_map(|l| match values_of {
            None => l.keys().map(String::as_str).collect::<Vec<_>>(),
            Some(name) => l.get(name).map(String::as_str).into_iter().collect(),
        })
        .collect();
    let items: Vec<String> = out.iter().map(|s| go_string(s)).collect();
    Ok(success(format!("[{}]", items.join(","))))
}
