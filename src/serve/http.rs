//! `serve`'s HTTP endpoints: `/metrics`, `/probe`, `/api/v1/last`, `/-/healthy`, `/-/ready`,
//! and for people the status page at `/` (HTML for a browser, a plain index for curl) with
//! each scenario's last HTML report at `/report`.

use super::probe_metrics::encode_probe;
use super::state::{ServeState, probe};
use super::status_page;
use crate::report::{run_html, run_json};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What Prometheus accepts for OpenMetrics text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Subtracted from the scraper's timeout so the answer is on the wire before it gives up
/// (blackbox_exporter's `timeout_offset`).
const TIMEOUT_OFFSET: Duration = Duration::from_millis(500);
/// The post-mortem after a missing signal may take this long; a capped probe leaves room.
const POST_MORTEM_ROOM: Duration = Duration::from_secs(3);
/// A `/probe` without the scraper's timeout header gets this long (blackbox_exporter's
/// default when Prometheus sends none).
const DEFAULT_PROBE_BUDGET: Duration = Duration::from_secs(120);

pub fn router(state: Arc<ServeState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/probe", get(probe_now))
        .route("/api/v1/last", get(last))
        .route("/report", get(report))
        .route("/-/healthy", get(|| async { "otel-canary is healthy.\n" }))
        .route("/-/ready", get(ready))
        .with_state(state)
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A browser (which asks for text/html) gets the status page; curl and scripts the index.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

async fn index(State(state): State<Arc<ServeState>>, headers: HeaderMap) -> Response {
    if wants_html(&headers) {
        return html(
            StatusCode::OK,
            status_page::render_state(&state, SystemTime::now()),
        );
    }
    let names = state.names().join(", ");
    text(
        StatusCode::OK,
        format!(
            "otel-canary serve {}\nscenarios: {names}\n\n/metrics                  Prometheus metrics\n/probe?scenario=NAME      one probe now, blackbox-style\n/api/v1/last              the latest report per scenario (JSON)\n/report?scenario=NAME     the latest report as an HTML page\n/ in a browser            the status page\n/-/healthy, /-/ready      health\n",
            env!("CARGO_PKG_VERSION")
        ),
    )
}

async fn metrics(State(state): State<Arc<ServeState>>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS))],
        state.metrics.encode(),
    )
        .into_response()
}

async fn ready(State(state): State<Arc<ServeState>>) -> Response {
    let waiting = state.waiting();
    if waiting.is_empty() {
        text(StatusCode::OK, "otel-canary is ready.\n".into())
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("waiting for the first probe of: {}\n", waiting.join(", ")),
        )
    }
}

/// A request refused: the status and the text that says why.
type Refusal = (StatusCode, String);

/// The scenario a request names, or the only one; else a 400 that lists them.
fn pick<'a>(
    state: &'a ServeState,
    params: &HashMap<String, String>,
) -> Result<&'a Arc<super::ScenarioProbe>, Refusal> {
    let known = || state.names().join(", ");
    match params.get("scenario") {
        Some(name) => state.scenario(name).ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!("unknown scenario '{name}' (known: {})\n", known()),
            )
        }),
        None if state.scenarios().len() == 1 => Ok(&state.scenarios()[0]),
        None => Err((
            StatusCode::BAD_REQUEST,
            format!("say which scenario: ?scenario=NAME (known: {})\n", known()),
        )),
    }
}

/// The scraper's timeout, from `X-Prometheus-Scrape-Timeout-Seconds`.
fn scrape_timeout(headers: &HeaderMap) -> Result<Option<Duration>, Refusal> {
    let Some(v) = headers.get("x-prometheus-scrape-timeout-seconds") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Some(Duration::from_secs_f64(s)))
        .ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                format!(
                    "X-Prometheus-Scrape-Timeout-Seconds {:?} is not a positive number of seconds\n",
                    v
                ),
            )
        })
}

async fn probe_now(
    State(state): State<Arc<ServeState>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let scenario = match pick(&state, &params) {
        Ok(s) => s.clone(),
        Err((status, why)) => return text(status, why),
    };
    let budget = match scrape_timeout(&headers) {
        Ok(t) => t.map_or(DEFAULT_PROBE_BUDGET, |t| {
            t.saturating_sub(TIMEOUT_OFFSET)
                .max(Duration::from_millis(100))
        }),
        Err((status, why)) => return text(status, why),
    };
    let start = Instant::now();
    // Reads stop early enough for the post-mortem to fit; the hard bound is the budget.
    let room = POST_MORTEM_ROOM.min(budget / 3);
    let cap = start + budget.saturating_sub(room);
    let answer = tokio::time::timeout(budget, probe(&scenario, Some(cap))).await;
    let body = match answer {
        Ok(report) => encode_probe(&report, false),
        Err(_) => {
            tracing::warn!(
                scenario = %scenario.name,
                "/probe cut short by the scrape timeout ({:.1}s)",
                budget.as_secs_f64()
            );
            format!(
                "# the probe did not finish within {:.1}s (the scrape timeout minus {} ms)\n{}",
                budget.as_secs_f64(),
                TIMEOUT_OFFSET.as_millis(),
                timed_out_page(start.elapsed())
            )
        }
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS))],
        body,
    )
        .into_response()
}

/// A probe the budget cut short: failed, with how long it ran.
fn timed_out_page(elapsed: Duration) -> String {
    format!(
        "# TYPE probe_success gauge\nprobe_success 0\n# TYPE probe_duration_seconds gauge\nprobe_duration_seconds {}\n# TYPE otel_canary_probe_timed_out gauge\notel_canary_probe_timed_out 1\n# EOF\n",
        elapsed.as_secs_f64()
    )
}

/// The scenario's last report as the HTML page `run --output html` writes.
async fn report(
    State(state): State<Arc<ServeState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let scenario = match pick(&state, &params) {
        Ok(s) => s,
        Err((status, why)) => return text(status, why),
    };
    match state.last().get(&scenario.name) {
        Some(r) => html(StatusCode::OK, run_html::render(r)),
        None => html(
            StatusCode::SERVICE_UNAVAILABLE,
            status_page::waiting_page(&scenario.name, state.interval),
        ),
    }
}

async fn last(
    State(state): State<Arc<ServeState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let json = |status: StatusCode, body: String| {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let reports = state.last();
    if params.contains_key("scenario") {
        let scenario = match pick(&state, &params) {
            Ok(s) => s,
            Err((status, why)) => return text(status, why),
        };
        return match reports.get(&scenario.name) {
            Some(r) => json(StatusCode::OK, run_json::render(r)),
            None => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "scenario '{}' has not finished a probe yet\n",
                    scenario.name
                ),
            ),
        };
    }
    // Each scenario's document is exactly what `run --output json` prints (field order
    // included), so it is spliced in as text rather than rebuilt as a map.
    let mut body =
        String::from("{\n  \"schema\": \"otel-canary/serve-last/v1\",\n  \"scenarios\": {");
    for (i, name) in state.names().into_iter().enumerate() {
        let doc = reports
            .get(name)
            .map(|r| run_json::render(r).trim_end().to_string())
            .unwrap_or_else(|| "null".into());
        let key = serde_json::Value::from(name).to_string();
        body.push_str(if i == 0 { "\n" } else { ",\n" });
        body.push_str(&format!("{key}: {doc}"));
    }
    body.push_str("\n  }\n}\n");
    json(StatusCode::OK, body)
}
