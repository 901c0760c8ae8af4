//! The lab's TraceQL metrics (`GET /api/metrics/query_range` on Tempo's API port): a spanset
//! filter piped into `rate()` or `count_over_time()`, evaluated over the spans the
//! metrics-generator holds (recent data comes from the generators' local-blocks processor in
//! real Tempo), answered in Tempo 2.8's shape.
//!
//! Wire facts (grafana/tempo v2.8.2: pkg/tempopb/tempo.proto `QueryRangeResponse`,
//! pkg/traceql/engine_metrics.go, pkg/api/http.go; the frontend marshals with
//! `jsonpb.Marshaler{}`, so names are lowerCamelCase, int64 are strings and zero values are
//! omitted): `{"series":[{"labels":[{"key":"__name__","value":{"stringValue":"rate"}}],
//! "samples":[{"timestampMs":"1796157000000","value":0.0333}],
//! "promLabels":"{__name__=\"rate\"}"}],"metrics":{…}}`. An ungrouped aggregate always has its
//! one series, with a sample per step interval (start aligned down, end up, to the step); a
//! zero sample carries no `value`. `start`/`end` are unix seconds (≤ 10 digits), nanoseconds,
//! or float seconds; `step` is seconds or a Go duration, by default (end − start) / 240
//! rounded down to 5 s (1 s under 5 s).
//!
//! Without the local-blocks processor Tempo answers 500 with
//! [`NO_LOCAL_BLOCKS`] (shared/fixtures/tempo/traceql-metrics-no-local-blocks.*): the lab does
//! so for traces stored with `trace:generator-disabled` switched on now.

use super::http_util::{Incoming, TEXT_UTF8, respond, vary};
use super::store::Received;
use super::traceql::{self, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Tempo 2.8.2's answer when the generator runs without the local-blocks processor.
pub const NO_LOCAL_BLOCKS: &str = "error querying generators in Querier.queryRangeRecent: failed to get response from generators: failed to execute f() for 127.0.0.1:9096: rpc error: code = Unknown desc = localblocks processor not found\n";

const SECOND_NS: u64 = 1_000_000_000;

/// The aggregate after the pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MetricsFn {
    Rate,
    CountOverTime,
}

impl MetricsFn {
    fn name(self) -> &'static str {
        match self {
            MetricsFn::Rate => "rate",
            MetricsFn::CountOverTime => "count_over_time",
        }
    }
}

fn bad_request(msg: impl Into<String>) -> Response {
    vary(respond(
        StatusCode::BAD_REQUEST,
        Some(TEXT_UTF8),
        msg.into(),
    ))
}

/// Splits `{ … } | rate()` into the filter and the function.
fn parse_metrics_query(q: &str) -> Result<(Query, MetricsFn), String> {
    let (filter, func) = q.rsplit_once('|').ok_or_else(|| {
        format!("invalid TraceQL query: {q:?} is not a metrics query (expected `{{ … }} | rate()`)")
    })?;
    let func = match func.split_whitespace().collect::<String>().as_str() {
        "rate()" => MetricsFn::Rate,
        "count_over_time()" => MetricsFn::CountOverTime,
        other => {
            return Err(format!(
                "invalid TraceQL query: otel-canary lab: metrics function {other:?} is not supported (rate(), count_over_time())"
            ));
        }
    };
    let filter = traceql::parse(filter.trim()).map_err(|e| e.to_string())?;
    Ok((filter, func))
}

/// Tempo's `parseTimestamp`: float seconds, ≤ 10 digits = seconds, else nanoseconds.
fn timestamp_ns(v: &str) -> Result<u64, String> {
    if v.contains('.') {
        let f: f64 = v.parse().map_err(|e| format!("{e}"))?;
        return Ok((f * SECOND_NS as f64) as u64);
    }
    let n: u64 = v.parse().map_err(|e| format!("{e}"))?;
    Ok(if v.len() <= 10 { n * SECOND_NS } else { n })
}

/// Tempo's `parseSecondsOrDuration`.
fn step_ns(v: &str) -> Result<u64, String> {
    if let Ok(secs) = v.parse::<f64>() {
        return Ok((secs * SECOND_NS as f64) as u64);
    }
    humantime::parse_duration(v)
        .map(|d| d.as_nanos() as u64)
        .map_err(|_| format!("cannot parse {v:?} to a valid duration"))
}

/// Tempo's `DefaultQueryRangeStep`.
fn default_step(start: u64, end: u64) -> u64 {
    let baseline = end.saturating_sub(start) / 240;
    let mut interval = baseline / (5 * SECOND_NS) * (5 * SECOND_NS);
    if interval < 5 * SECOND_NS {
        interval = baseline / SECOND_NS * SECOND_NS;
    }
    interval.max(SECOND_NS)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64
}

/// Answers `/api/metrics/query_range` over `items` (the trace requests the scope may read
/// now; only those the generator has counted are used).
pub fn query_range(items: &[Arc<Received>], inc: &Incoming) -> Response {
    let (filter, func) = match parse_metrics_query(inc.params.get("q").unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    let now = now_ns();
    let end = match inc.params.non_empty("end").map(timestamp_ns) {
        None => now,
        Some(Ok(t)) => t,
        Some(Err(e)) => return bad_request(format!("could not parse 'end' parameter: {e}")),
    };
    let start = match inc.params.non_empty("start").map(timestamp_ns) {
        None => end.min(now).saturating_sub(3600 * SECOND_NS),
        Some(Ok(t)) => t,
        Some(Err(e)) => return bad_request(format!("could not parse 'start' parameter: {e}")),
    };
    if end <= start {
        return bad_request("end must be greater than start");
    }
    let step = match inc.params.non_empty("step").map(step_ns) {
        None => default_step(start, end),
        Some(Ok(s)) if s > 0 => s,
        Some(Ok(_)) => return bad_request("step must be greater than 0"),
        Some(Err(e)) => return bad_request(e),
    };
    let aligned_start = start - start % step;
    let aligned_end = end.div_ceil(step) * step;
    let intervals = ((aligned_end - aligned_start) / step + 1) as usize;
    if intervals > 11_000 {
        return bad_request("otel-canary lab: too many intervals; raise step");
    }
    let mut counts = vec![0u64; intervals];
    let now_time = SystemTime::now();
    let mut inspected = 0u64;
    for r in items
        .iter()
        .filter(|r| r.generated_at.is_some_and(|g| g <= now_time))
    {
        let super::Received {
            payload: crate::emit::encoding::Payload::Trace(req),
            ..
        } = r.as_ref()
        else {
            continue;
        };
        for rs in &req.resource_spans {
            for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                inspected += 1;
                let ts = span.start_time_unix_nano;
                if ts < aligned_start || ts > aligned_end {
                    continue;
                }
                let matches = filter
                    .conditions
                    .iter()
                    .all(|c| c.matches(span, rs.resource.as_ref()).0);
                if matches {
                    counts[((ts - aligned_start) / step) as usize] += 1;
                }
            }
        }
    }
    let step_secs = step as f64 / SECOND_NS as f64;
    let samples: Vec<Value> = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let ts_ms = (aligned_start + i as u64 * step) / 1_000_000;
            let value = match func {
                MetricsFn::Rate => n as f64 / step_secs,
                MetricsFn::CountOverTime => n as f64,
            };
            let mut sample = json!({ "timestampMs": ts_ms.to_string() });
            if value != 0.0 {
                sample["value"] = json!(value);
            }
            sample
        })
        .collect();
    let name = func.name();
    let mut metrics = json!({ "totalJobs": 1, "completedJobs": 1 });
    if inspected > 0 {
        metrics["inspectedSpans"] = json!(inspected.to_string());
    }
    let body = json!({
        "series": [{
            "labels": [{ "key": "__name__", "value": { "stringValue": name } }],
            "samples": samples,
            "promLabels": format!("{{__name__=\"{name}\"}}"),
        }],
        "metrics": metrics,
    });
    vary(respond(
        StatusCode::OK,
        Some("application/json"),
        body.to_string(),
    ))
}

/// The 500 a Tempo without the local-blocks processor answers.
pub fn no_local_blocks() -> Response {
    vary(respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        Some(TEXT_UTF8),
        NO_LOCAL_BLOCKS,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metrics_queries() {
        let (q, f) =
            parse_metrics_query(r#"{ resource.service.name = "otel-canary" } | rate()"#).unwrap();
        assert_eq!(q.conditions.len(), 1);
        assert_eq!(f, MetricsFn::Rate);
        assert_eq!(
            parse_metrics_query("{ } | count_over_time( )").unwrap().1,
            MetricsFn::CountOverTime
        );
        assert!(parse_metrics_query(r#"{ resource.service.name = "x" }"#).is_err());
        assert!(parse_metrics_query("{ } | quantile_over_time(duration, .9)").is_err());
        assert!(parse_metrics_query("{ span.a = } | rate()").is_err());
    }

    #[test]
    fn time_parameters_parse_as_tempo_does() {
        assert_eq!(
            timestamp_ns("1796156419").unwrap(),
            1_796_156_419 * SECOND_NS
        );
        assert_eq!(
            timestamp_ns("1796156419000000000").unwrap(),
            1_796_156_419_000_000_000
        );
        assert_eq!(timestamp_ns("1.5").unwrap(), 1_500_000_000);
        assert!(timestamp_ns("soon").is_err());
        assert_eq!(step_ns("60s").unwrap(), 60 * SECOND_NS);
        assert_eq!(step_ns("15").unwrap(), 15 * SECOND_NS);
        assert_eq!(default_step(0, 3600 * SECOND_NS), 15 * SECOND_NS);
        assert_eq!(default_step(0, 600 * SECOND_NS), 2 * SECOND_NS);
        assert_eq!(default_step(0, 10 * SECOND_NS), SECOND_NS);
    }

    #[test]
    fn the_no_local_blocks_answer_is_tempos() {
        let fixture = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tempo/traceql-metrics-no-local-blocks.txt"
        ))
        .unwrap();
        assert_eq!(NO_LOCAL_BLOCKS, fixture);
    }
}
