//! Tempo: is the probe's trace readable by id (both spans, tagged with the probe id), and,
//! as a separate and slower hop, does TraceQL search find it?
//!
//! Wire facts (shared/fixtures/tempo): by-id answers carry **base64** ids and enum names;
//! v2 "not found" is `200 {"trace":{},"metrics":{}}`, v1 "not found" a `404` with an empty
//! body; search answers carry **hex** ids with leading zeros trimmed.

use super::client::{Answer, QueryError, ReadClient, join};
use crate::emit::payload::PROBE_ID_ATTRIBUTE;
use crate::poll::Read;
use crate::probe::{Probe, hex};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use url::Url;

/// One span as a by-id answer showed it.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanSeen {
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    pub name: String,
    pub service: Option<String>,
    pub probe_id: Option<String>,
}

/// What a successful by-id read proved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceSeen {
    pub spans: usize,
    pub services: Vec<String>,
    /// `v2` or `v1`: the API that answered.
    pub api: &'static str,
    /// Set when the spans arrived but differ from what was sent (e.g. the probe id
    /// attribute was stripped): visible, yet a failed check.
    pub problem: Option<String>,
}

/// Decodes an id that Tempo writes as base64 (by-id answers) or hex (search, older builds).
pub fn decode_id(s: &str) -> Option<Vec<u8>> {
    let is_hex =
        !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex && (s.len() == 32 || s.len() == 16) {
        return (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
            .collect();
    }
    STANDARD.decode(s).ok()
}

fn string_attr(attrs: Option<&Value>, key: &str) -> Option<String> {
    attrs?.as_array()?.iter().find_map(|kv| {
        (kv.get("key")?.as_str()? == key)
            .then(|| {
                kv.get("value")?
                    .get("stringValue")?
                    .as_str()
                    .map(String::from)
            })
            .flatten()
    })
}

/// Parses a by-id answer body (v2 `{"trace":{"resourceSpans":…}}` or v1 `{"batches":…}`)
/// into its spans. An empty trace parses to no spans.
pub fn parse_trace(body: &[u8]) -> Result<Vec<SpanSeen>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    // v2: {"trace":{"resourceSpans":[…]}}, and {"trace":{},"metrics":{}} when not found;
    // v1: {"batches":[…]}. Anything else is not Tempo's answer.
    let resource_spans = match (
        obj.get("trace"),
        obj.get("batches"),
        obj.get("resourceSpans"),
    ) {
        (Some(t), _, _) => {
            let t = t.as_object().ok_or("\"trace\" is not an object")?;
            match t.get("resourceSpans") {
                None => return Ok(Vec::new()),
                Some(r) => r,
            }
        }
        (None, Some(b), _) => b,
        (None, None, Some(r)) => r,
        (None, None, None) => {
            return Err("no \"trace\" or \"batches\" member: not a trace by id".into());
        }
    };
    if !resource_spans.is_array() {
        return Err("the spans are not an array".into());
    }
    let mut out = Vec::new();
    for rs in resource_spans.as_array().into_iter().flatten() {
        let service = string_attr(
            rs.get("resource").and_then(|r| r.get("attributes")),
            "service.name",
        );
        let scopes = rs
            .get("scopeSpans")
            .or_else(|| rs.get("instrumentationLibrarySpans"));
        for ss in scopes.and_then(Value::as_array).into_iter().flatten() {
            for span in ss
                .get("spans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = |k: &str| {
                    span.get(k)
                        .and_then(Value::as_str)
                        .and_then(decode_id)
                        .unwrap_or_default()
                };
                out.push(SpanSeen {
                    trace_id: id("traceId"),
                    span_id: id("spanId"),
                    name: span
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    service: service.clone(),
                    probe_id: string_attr(span.get("attributes"), PROBE_ID_ATTRIBUTE),
                });
            }
        }
    }
    Ok(out)
}

/// How the spans read back compare with the probe.
#[derive(Debug, PartialEq)]
pub enum TraceJudgement {
    Complete(TraceSeen),
    /// Nothing of the trace yet.
    Absent,
    /// Some spans are there, others not yet: keep polling.
    Partial(String),
    /// The spans are there but wrong (e.g. a processor stripped the probe id attribute).
    Mismatch(String),
}

/// Checks both spans arrived with the probe id attribute.
pub fn judge_trace(spans: &[SpanSeen], probe: &Probe, api: &'static str) -> TraceJudgement {
    let want = probe.probe_id.to_string();
    let find = |id: &[u8]| spans.iter().find(|s| s.span_id == id);
    let (client, server) = (find(&probe.client_span_id), find(&probe.server_span_id));
    for span in [client, server].into_iter().flatten() {
        match &span.probe_id {
            Some(p) if *p == want => {}
            Some(p) => {
                return TraceJudgement::Mismatch(format!(
                    "span {} carries {PROBE_ID_ATTRIBUTE}=\"{p}\", expected \"{want}\"",
                    span.name
                ));
            }
            None => {
                return TraceJudgement::Mismatch(format!(
                    "span {} arrived without its {PROBE_ID_ATTRIBUTE} attribute: a processor \
                     in the pipeline drops span attributes",
                    span.name
                ));
            }
        }
    }
    match (client, server) {
        (Some(_), Some(_)) => {
            let mut services: Vec<String> =
                spans.iter().filter_map(|s| s.service.clone()).collect();
            services.sort();
            services.dedup();
            TraceJudgement::Complete(TraceSeen {
                spans: spans.len(),
                services,
                api,
                problem: None,
            })
        }
        (Some(_), None) => {
            TraceJudgement::Partial("the client span arrived, the server span not yet".into())
        }
        (None, Some(_)) => {
            TraceJudgement::Partial("the server span arrived, the client span not yet".into())
        }
        (None, None) if spans.is_empty() => TraceJudgement::Absent,
        (None, None) => TraceJudgement::Mismatch(format!(
            "trace {} holds {} span(s), none of them the probe's",
            hex(&probe.trace_id),
            spans.len()
        )),
    }
}

/// Trace ids in a search answer, left-padded back to 32 hex digits (Tempo trims zeros).
pub fn parse_search(body: &[u8]) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let traces = v
        .get("traces")
        .and_then(Value::as_array)
        .ok_or("no \"traces\" array in the answer")?;
    Ok(traces
        .iter()
        .filter_map(|t| t.get("traceID").and_then(Value::as_str))
        .map(|id| format!("{:0>32}", id.to_ascii_lowercase()))
        .collect())
}

/// The TraceQL query that finds the probe.
pub fn search_query(probe: &Probe) -> String {
    format!("{{ span.{PROBE_ID_ATTRIBUTE} = \"{}\" }}", probe.probe_id)
}

/// Reads traces from one Tempo.
#[derive(Debug)]
pub struct TempoReader {
    client: ReadClient,
    base: Url,
    /// Set once v2 turned out to be missing (Tempo before 2.5): use v1 from then on.
    v1_only: AtomicBool,
}

impl TempoReader {
    pub fn new(client: ReadClient, base: Url) -> Self {
        TempoReader {
            client,
            base,
            v1_only: AtomicBool::new(false),
        }
    }

    /// The same reader on another client and base: reading through Grafana's datasource
    /// proxy (`backends::grafana`) with the same queries and judging.
    pub fn through(&self, client: ReadClient, base: Url) -> TempoReader {
        TempoReader::new(client, base)
    }

    /// One by-id read.
    pub async fn read_trace(&self, probe: &Probe) -> Read<TraceSeen, QueryError> {
        let id = hex(&probe.trace_id);
        if !self.v1_only.load(Ordering::Relaxed) {
            let url = join(&self.base, &format!("api/v2/traces/{id}"));
            match self.client.get(&url, &[], &[]).await {
                Err(e) => return ReadClient::transport_failure(e),
                Ok(a) if a.status == 404 && a.body.is_empty() => {
                    return Read::NotYet("trace not found (404)".into());
                }
                Ok(a) if a.status == 404 => {
                    // A 404 with text means the route itself is missing: an older Tempo.
                    self.v1_only.store(true, Ordering::Relaxed);
                }
                Ok(a) => return self.judge(a, &url, probe, "v2"),
            }
        }
        let url = join(&self.base, &format!("api/traces/{id}"));
        match self.client.get(&url, &[], &[]).await {
            Err(e) => ReadClient::transport_failure(e),
            Ok(a) if a.status == 404 && a.body.is_empty() => {
                Read::NotYet("trace not found (404)".into())
            }
            // Tempo's not-found is an empty 404; text is another server's "no such path".
            Ok(a) if a.status == 404 => Read::Refused(self.client.error(
                crate::diagnose::error_class::ErrorClass::HttpStatus,
                Some(404),
                &format!(
                    "{} to GET /api/traces/<id>, which is not Tempo's not-found (a 404 with \
                     an empty body): this URL is not Tempo's HTTP API",
                    a.quoted_start()
                ),
                &url,
            )),
            Ok(a) => self.judge(a, &url, probe, "v1"),
        }
    }

    fn judge(
        &self,
        answer: Answer,
        url: &Url,
        probe: &Probe,
        api: &'static str,
    ) -> Read<TraceSeen, QueryError> {
        if !answer.is_success() {
            return self.client.failed_answer(&answer, url);
        }
        match parse_trace(&answer.body) {
            Err(e) => Read::Refused(self.client.unusable(&answer, url, "Tempo", &e)),
            Ok(spans) => match judge_trace(&spans, probe, api) {
                TraceJudgement::Complete(seen) => Read::Visible(seen),
                TraceJudgement::Absent => Read::NotYet("trace not found".into()),
                TraceJudgement::Partial(why) => Read::Partial(why),
                TraceJudgement::Mismatch(why) => Read::Visible(TraceSeen {
                    spans: spans.len(),
                    services: Vec::new(),
                    api,
                    problem: Some(why),
                }),
            },
        }
    }

    /// One TraceQL search for the probe.
    pub async fn search(&self, probe: &Probe) -> Read<usize, QueryError> {
        let url = join(&self.base, "api/search");
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let start = secs(probe.started_at).saturating_sub(300);
        let end = secs(SystemTime::now()) + 60;
        let query = [
            ("q", search_query(probe)),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("limit", "20".to_string()),
        ];
        let answer = match self.client.fetch(&url, &query, &[]).await {
            Ok(a) => a,
            Err(read) => return read,
        };
        match parse_search(&answer.body) {
            Err(e) => Read::Refused(self.client.unusable(&answer, &url, "Tempo", &e)),
            Ok(ids) => {
                let want = hex(&probe.trace_id);
                if ids.contains(&want) {
                    Read::Visible(ids.len())
                } else {
                    Read::NotYet(format!("search returned {} other trace(s)", ids.len()))
                }
            }
        }
    }
}

impl TempoReader {
    /// Tempo's `/ready` on the API port: `Ok` with the body when it answers 200, `Err` with
    /// Tempo's own words otherwise ("Ingester not ready: …").
    pub async fn ready(&self) -> Result<String, QueryError> {
        let url = join(&self.base, "ready");
        Ok(self.client.get_ok(&url, &[], &[]).await?.text())
    }
}

/// One series of a TraceQL metrics (`/api/metrics/query_range`) answer.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSeries {
    /// `promLabels` when Tempo sends it (2.8), else the labels rendered alike.
    pub labels: String,
    /// `(unix ms, value)`; Tempo omits a zero `value`, which reads as 0.
    pub samples: Vec<(i64, f64)>,
}

fn label_value(v: &Value) -> String {
    let Some(obj) = v.as_object() else {
        return String::new();
    };
    obj.values()
        .next()
        .map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

/// Parses a TraceQL metrics answer (Tempo's `QueryRangeResponse` as jsonpb writes it: int64
/// as strings, zero values omitted). No `series` member means no series.
pub fn parse_query_range(body: &[u8]) -> Result<Vec<MetricsSeries>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("not a JSON object (expected {\"series\":[…]})")?;
    let Some(series) = obj.get("series") else {
        return Ok(Vec::new());
    };
    let series = series.as_array().ok_or("\"series\" is not an array")?;
    let mut out = Vec::new();
    for s in series {
        let labels = match s.get("promLabels").and_then(Value::as_str) {
            Some(p) => p.to_string(),
            None => {
                let pairs: Vec<String> = s
                    .get("labels")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|kv| {
                        let key = kv.get("key").and_then(Value::as_str).unwrap_or("");
                        let value = kv.get("value").map(label_value).unwrap_or_default();
                        format!("{key}=\"{value}\"")
                    })
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }
        };
        let mut samples = Vec::new();
        for p in s
            .get("samples")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ts = match p.get("timestampMs") {
                Some(Value::String(t)) => t.parse::<i64>().ok(),
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            }
            .ok_or("a sample without a timestampMs")?;
            let value = match p.get("value") {
                None => 0.0,
                Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
                Some(Value::String(t)) => t.parse::<f64>().map_err(|_| "a bad sample value")?,
                Some(_) => return Err("a bad sample value".into()),
            };
            samples.push((ts, value));
        }
        out.push(MetricsSeries { labels, samples });
    }
    Ok(out)
}

/// What a TraceQL metrics read that saw the probe's service proved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricsSeen {
    pub series: usize,
    /// The largest sample value.
    pub max: f64,
}

/// Tempo answers these with a 5xx, but they are configuration, which no retry cures: no
/// metrics-generator in the ring, or one without the local-blocks processor.
pub fn is_generator_config_error(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("localblocks processor not found")
        || t.contains("local-blocks")
        || t.contains("empty ring")
}

/// The window TraceQL metrics are asked about: from 5 minutes before the probe to a minute
/// ahead (Tempo clamps a future end), in 15 s steps, in unix seconds.
pub fn metrics_window(probe: &Probe) -> (u64, u64, u64) {
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let start = secs(probe.started_at).saturating_sub(300);
    let end = secs(SystemTime::now()) + 60;
    (start, end, 15)
}

impl TempoReader {
    /// One TraceQL metrics query over `window` (start, end, step; unix seconds): visible once
    /// a series has a non-zero sample.
    pub async fn traceql_metrics(
        &self,
        query: &str,
        (start, end, step): (u64, u64, u64),
    ) -> Read<MetricsSeen, QueryError> {
        let url = join(&self.base, "api/metrics/query_range");
        let params = [
            ("q", query.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", format!("{step}s")),
        ];
        let answer = match self.client.get(&url, &params, &[]).await {
            Ok(a) => a,
            Err(e) => return ReadClient::transport_failure(e),
        };
        if !answer.is_success() {
            let text = super::client::error_text(&answer);
            if answer.status == 404 || is_generator_config_error(&text) {
                return Read::Refused(self.client.error(
                    crate::diagnose::error_class::ErrorClass::HttpStatus,
                    Some(answer.status),
                    &text,
                    &url,
                ));
            }
            return self.client.failed_answer(&answer, &url);
        }
        match parse_query_range(&answer.body) {
            Err(e) => Read::Refused(self.client.unusable(&answer, &url, "Tempo", &e)),
            Ok(series) => {
                let max = series
                    .iter()
                    .flat_map(|s| s.samples.iter().map(|(_, v)| *v))
                    .fold(0.0_f64, f64::max);
                if max > 0.0 {
                    Read::Visible(MetricsSeen {
                        series: series.len(),
                        max,
                    })
                } else if series.is_empty() {
                    Read::NotYet("no series yet".into())
                } else {
                    Read::NotYet(format!("{} series, every sample 0 so far", series.len()))
                }
            }
        }
    }
}

/// Parses a tag-values answer: v2 `{"tagValues":[{"type":"string","value":"x"}]}` or v1
/// `{"tagValues":["x"]}`; no `tagValues` means none.
pub fn parse_tag_values(body: &[u8]) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let Some(values) = obj.get("tagValues") else {
        return Ok(Vec::new());
    };
    values
        .as_array()
        .ok_or("\"tagValues\" is not an array")?
        .iter()
        .map(|t| match t {
            Value::String(s) => Ok(s.clone()),
            Value::Object(o) => match o.get("value") {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Ok(other.to_string()),
                None => Err("a tag value without \"value\"".to_string()),
            },
            _ => Err("a tag value is neither a string nor an object".to_string()),
        })
        .collect()
}

impl TempoReader {
    /// The values Tempo knows for a tag (`/api/v2/search/tag/<tag>/values`).
    pub async fn tag_values<T>(&self, tag: &str) -> Result<Vec<String>, Read<T, QueryError>> {
        let path = format!(
            "api/v2/search/tag/{}/values",
            percent_encoding::utf8_percent_encode(tag, super::client::PATH_SEGMENT)
        );
        let url = join(&self.base, &path);
        let answer = self.client.fetch(&url, &[], &[]).await?;
        parse_tag_values(&answer.body)
            .map_err(|e| Read::Refused(self.client.unusable(&answer, &url, "Tempo", &e)))
    }
}
