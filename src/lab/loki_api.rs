//! The lab's Loki (Loki 3.6's port 3100): OTLP push at `/otlp/v1/logs`, `query_range` with the
//! LogQL subset in `logql`, instant `count_over_time`, labels, label values, series,
//! readiness and build info, each answering with Loki's exact status, Content-Type and body
//! shape (shared/fixtures/loki). Lines the lab's tailer read from files (`lab::tailer`) are
//! queried alongside the pushed ones.

use super::LabState;
use super::backend_otlp::{self, Backend};
use super::http_util::{
    Incoming, Reply, TEXT_UTF8, empty, fault_answer, go_error, incoming, json, not_found, respond,
};
use super::logql::{self, Expr, LogQuery};
use super::loki_exporter_mapping;
use super::loki_json::{self, Encoding, QueryStats};
use super::loki_mapping::LokiEntry;
use super::otlp_http::MAX_BODY;
use super::params::{nanos_of, parse_loki_time, parse_prom_duration};
use super::tenancy::{self, TenantError, TenantScope, Visibility};
use crate::emit::encoding::Payload;
use crate::signal::Signal;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Loki's JSON Content-Type (note the upper-case charset).
pub const LOKI_JSON: &str = "application/json; charset=UTF-8";
/// The version the lab reports: Loki's, marked as the lab.
pub const BUILDINFO: &str = "{\"version\":\"3.6.7-otel-canary-lab\",\"revision\":\"otel-canary-lab\",\"branch\":\"v3.6.7\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}\n";
/// Loki's answer to a log query on the instant endpoint.
pub const INSTANT_LOG_QUERY: &str = "log queries are not supported as an instant query type, please change your query to a range query type";

const HOUR_NS: i128 = 3_600 * 1_000_000_000;

/// The router for the Loki port.
pub fn router(state: Arc<LabState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<Arc<LabState>>, req: Request) -> Response {
    let inc = match incoming(req, MAX_BODY).await {
        Ok(inc) => inc,
        Err(resp) => return *resp,
    };
    match inc.path.as_str() {
        "/ready" => respond(StatusCode::OK, Some(TEXT_UTF8), "ready\n"),
        "/loki/api/v1/status/buildinfo" => {
            respond(StatusCode::OK, Some("application/json"), BUILDINFO)
        }
        "/otlp/v1/logs" => backend_otlp::ingest(&state, Backend::Loki, inc).await,
        "/loki/api/v1/query_range"
        | "/loki/api/v1/query"
        | "/loki/api/v1/labels"
        | "/loki/api/v1/series" => query(&state, &inc),
        p if label_values_name(p).is_some() => query(&state, &inc),
        _ => not_found(),
    }
}

fn label_values_name(path: &str) -> Option<&str> {
    path.strip_prefix("/loki/api/v1/label/")?
        .strip_suffix("/values")
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

fn bad_request(msg: impl Into<String>) -> Box<Response> {
    Box::new(go_error(StatusCode::BAD_REQUEST, msg.into()))
}

fn query(state: &LabState, inc: &Incoming) -> Response {
    if !matches!(inc.method, Method::GET | Method::POST) {
        return empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    let scope = match tenancy::scope(state, &inc.headers, false) {
        Ok(s) => s,
        Err(TenantError::Missing) => return tenancy::no_org_id(),
        Err(TenantError::Multiple(_)) => {
            return go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "multiple org IDs present",
            );
        }
    };
    let path = inc.path.as_str();
    if matches!(path, "/loki/api/v1/query_range" | "/loki/api/v1/query")
        && let Some((status, body)) = state.faults.get(Signal::Log).query_error
    {
        return fault_answer(status, &body);
    }
    let result = match path {
        "/loki/api/v1/query_range" => query_range(state, inc, &scope),
        "/loki/api/v1/query" => instant(state, inc, &scope),
        "/loki/api/v1/labels" => labels(state, inc, &scope, None),
        "/loki/api/v1/series" => series(state, inc, &scope),
        p => labels(state, inc, &scope, label_values_name(p)),
    };
    result.unwrap_or_else(|r| *r)
}

/// Every stored entry this scope may read now: what OTLP pushes wrote plus, in the
/// single-tenant view only, what the tailer read from files (`lab::tail_store` on tenancy).
/// Log faults other than `query-error` belong to the OTLP pipeline and leave tailed lines be.
fn entries(state: &LabState, scope: &TenantScope) -> Vec<LokiEntry> {
    let exporter_mapping = state.faults.get(Signal::Log).loki_exporter;
    let mut all: Vec<LokiEntry> = tenancy::readable(
        state,
        Signal::Log,
        scope,
        SystemTime::now(),
        Visibility::Query,
    )
    .iter()
    .flat_map(|r| match &r.payload {
        Payload::Log(req) if exporter_mapping => {
            loki_exporter_mapping::entries(req, nanos_of(r.at))
        }
        _ => r.loki_entries().to_vec(),
    })
    .collect();
    if *scope == TenantScope::All {
        all.extend(state.tailed.entries());
    }
    all
}

fn time_param(inc: &Incoming, name: &str, default: i128) -> Reply<i128> {
    match inc.params.non_empty(name) {
        None => Ok(default),
        Some(v) => parse_loki_time(v).map_err(|e| bad_request(format!("invalid {name}: {e}"))),
    }
}

/// `start`/`end` with Loki's defaults (`since` or the given default range before `end`).
fn range(inc: &Incoming, default_range: i128) -> Reply<(i128, i128)> {
    let now = nanos_of(SystemTime::now());
    let end = time_param(inc, "end", now)?;
    let since = match inc.params.non_empty("since") {
        Some(s) => parse_prom_duration(s)
            .map(|ms| ms as i128 * 1_000_000)
            .map_err(|e| bad_request(format!("invalid since: {e}")))?,
        None => default_range,
    };
    let start = time_param(inc, "start", end.saturating_sub(since))?;
    Ok((start, end))
}

fn parse_log_query(inc: &Incoming) -> Reply<Expr> {
    logql::parse(inc.params.get("query").unwrap_or("")).map_err(|e| bad_request(e.to_string()))
}

fn query_range(state: &LabState, inc: &Incoming, scope: &TenantScope) -> Reply<Response> {
    let started = Instant::now();
    let q = match parse_log_query(inc)? {
        Expr::Log(q) => q,
        Expr::Metric(..) => {
            return Err(bad_request(
                "otel-canary lab: metric queries are only supported on /loki/api/v1/query",
            ));
        }
    };
    let (start, end) = range(inc, HOUR_NS)?;
    if end <= start {
        return Err(bad_request(
            "end timestamp must not be before or equal to start time",
        ));
    }
    let limit = match inc.params.non_empty("limit") {
        None => 100,
        Some(l) => match l.parse::<usize>() {
            Ok(0) | Err(_) => return Err(bad_request("limit must be a positive value")),
            Ok(n) => n,
        },
    };
    let forward = match inc
        .params
        .non_empty("direction")
        .map(str::to_ascii_lowercase)
    {
        None => false,
        Some(d) if d == "backward" => false,
        Some(d) if d == "forward" => true,
        Some(d) => return Err(bad_request(format!("invalid direction '{d}'"))),
    };
    let all = entries(state, scope);
    let (selected, mut stats) = select(&all, &q, |ts| ts >= start && ts < end);
    let mut kept: Vec<&LokiEntry> = selected.into_iter().filter(|e| q.keeps(e)).collect();
    stats.lines_matched = kept.len();
    kept.sort_by_key(|e| e.ts_ns);
    if !forward {
        kept.reverse();
    }
    kept.truncate(limit);
    stats.entries_returned = kept.len();
    stats.exec_secs = started.elapsed().as_secs_f64();
    let encoding = match inc
        .headers
        .get("x-loki-response-encoding-flags")
        .and_then(|v| v.to_str().ok())
    {
        Some(f) if f.split(',').any(|f| f.trim() == "categorize-labels") => Encoding::Categorized,
        _ => Encoding::Merged,
    };
    Ok(json(
        StatusCode::OK,
        LOKI_JSON,
        loki_json::streams_json(&kept, encoding, &stats),
    ))
}

/// Entries of the selected streams inside the time window, and the stats so far.
fn select<'a>(
    all: &'a [LokiEntry],
    q: &LogQuery,
    in_range: impl Fn(i128) -> bool,
) -> (Vec<&'a LokiEntry>, QueryStats) {
    let selected: Vec<&LokiEntry> = all
        .iter()
        .filter(|e| in_range(e.ts_ns) && q.selects(e))
        .collect();
    let streams: BTreeSet<&BTreeMap<String, String>> = selected.iter().map(|e| &e.labels).collect();
    let mut stats = QueryStats {
        lines_scanned: selected.len(),
        streams_matched: streams.len(),
        referenced_metadata: q.uses_labels_stage(),
        ..Default::default()
    };
    for e in &selected {
        let (line, sm) = e.size();
        stats.bytes_scanned += line;
        stats.metadata_bytes_scanned += sm;
    }
    (selected, stats)
}

fn instant(state: &LabState, inc: &Incoming, scope: &TenantScope) -> Reply<Response> {
    let started = Instant::now();
    let metric = match parse_log_query(inc)? {
        Expr::Log(_) => return Err(bad_request(INSTANT_LOG_QUERY)),
        Expr::Metric(m) => m,
    };
    let (q, range_ms) = (&metric.query, metric.range_ms);
    let t = time_param(inc, "time", nanos_of(SystemTime::now()))?;
    let from = t.saturating_sub(range_ms as i128 * 1_000_000);
    let all = entries(state, scope);
    let (selected, mut stats) = select(&all, q, |ts| ts > from && ts <= t);
    let mut counts: BTreeMap<BTreeMap<String, String>, f64> = BTreeMap::new();
    for e in selected.into_iter().filter(|e| q.keeps(e)) {
        stats.lines_matched += 1;
        *counts.entry(e.merged()).or_default() += 1.0;
    }
    stats.entries_returned = counts.len();
    stats.exec_secs = started.elapsed().as_secs_f64();
    let series = metric.finish(counts.into_iter().collect());
    let ts_ms = t.div_euclid(1_000_000) as i64;
    Ok(json(
        StatusCode::OK,
        LOKI_JSON,
        loki_json::vector_json(&series, ts_ms, &stats),
    ))
}

fn labels(
    state: &LabState,
    inc: &Incoming,
    scope: &TenantScope,
    values_of: Option<&str>,
) -> Reply<Response> {
    let (start, end) = range(inc, 6 * HOUR_NS)?;
    let mut out = BTreeSet::new();
    for e in entries(state, scope)
        .iter()
        .filter(|e| e.ts_ns >= start && e.ts_ns <= end)
    {
        match values_of {
            None => out.extend(e.labels.keys().cloned()),
            Some(name) => out.extend(e.labels.get(name).cloned()),
        }
    }
    let data: Vec<String> = out.into_iter().collect();
    Ok(json(StatusCode::OK, LOKI_JSON, loki_json::data_json(&data)))
}

fn series(state: &LabState, inc: &Incoming, scope: &TenantScope) -> Reply<Response> {
    let (start, end) = range(inc, 6 * HOUR_NS)?;
    let mut selectors = Vec::new();
    for m in inc
        .params
        .all("match[]")
        .into_iter()
        .chain(inc.params.all("match"))
    {
        match logql::parse(m).map_err(|e| bad_request(e.to_string()))? {
            Expr::Log(q) if q.stages.is_empty() => selectors.push(q),
            _ => return Err(bad_request(format!("invalid match[] selector: {m}"))),
        }
    }
    let sets: BTreeSet<BTreeMap<String, String>> = entries(state, scope)
        .iter()
        .filter(|e| e.ts_ns >= start && e.ts_ns <= end)
        .filter(|e| selectors.is_empty() || selectors.iter().any(|q| q.selects(e)))
        .map(|e| e.labels.clone())
        .collect();
    let data: Vec<BTreeMap<String, String>> = sets.into_iter().collect();
    Ok(json(StatusCode::OK, LOKI_JSON, loki_json::data_json(&data)))
}
