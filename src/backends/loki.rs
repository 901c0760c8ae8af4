//! Loki: is the probe's log line queryable, and does it still carry the probe's trace id
//! (trace <-> log correlation)?
//!
//! Wire facts (shared/fixtures/loki): `query_range` answers `streams`; structured metadata is
//! merged into `stream` by default, or, with `X-Loki-Response-Encoding-Flags:
//! categorize-labels`, sent as a third element of each value. Both shapes are read.

use super::client::{QueryError, ReadClient, join};
use crate::emit::payload::PROBE_ID_LABEL;
use crate::poll::Read;
use crate::probe::{Probe, hex, unix_nanos};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};
use url::Url;

/// The default stream selector: stable labels only, so a canary never creates streams.
pub const DEFAULT_SELECTOR: &str = r#"{service_name="otel-canary"}"#;

/// How the query singles out the probe's line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogMatch {
    /// `| canary_probe_id="<id>"`: Loki's native OTLP ingest keeps attributes as structured
    /// metadata.
    StructuredMetadata,
    /// `|= "<id>"`: for pipelines whose labels differ (an Alloy `loki` exporter writes a JSON
    /// line); the probe id is in the line text either way.
    Line,
}

impl FromStr for LogMatch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "structured-metadata" | "metadata" => Ok(LogMatch::StructuredMetadata),
            "line" => Ok(LogMatch::Line),
            other => Err(format!(
                "'{other}' is not a log match mode (structured-metadata or line)"
            )),
        }
    }
}

impl fmt::Display for LogMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogMatch::StructuredMetadata => "structured-metadata",
            LogMatch::Line => "line",
        })
    }
}

/// The LogQL query for the probe.
pub fn log_query(selector: &str, mode: LogMatch, probe: &Probe) -> String {
    match mode {
        LogMatch::StructuredMetadata => {
            format!("{selector} | {PROBE_ID_LABEL}=\"{}\"", probe.probe_id)
        }
        LogMatch::Line => format!("{selector} |= \"{}\"", probe.probe_id),
    }
}

/// One log entry as Loki returned it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogEntry {
    pub timestamp_ns: String,
    pub line: String,
    /// Stream labels (with structured metadata merged in, unless categorized).
    pub labels: BTreeMap<String, String>,
    /// Structured metadata and parsed labels, when Loki sent them apart.
    pub metadata: BTreeMap<String, String>,
}

impl LogEntry {
    /// A label or structured-metadata value, wherever Loki put it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.metadata
            .get(key)
            .or_else(|| self.labels.get(key))
            .map(String::as_str)
    }

    /// The trace id the entry carries: structured metadata `trace_id` (Loki's OTLP ingest), or
    /// a `traceid`/`trace_id` member of a JSON line (Alloy's `loki` exporter).
    pub fn trace_id(&self) -> Option<String> {
        if let Some(t) = self.get("trace_id").or_else(|| self.get("traceid")) {
            return Some(t.to_ascii_lowercase());
        }
        let v: Value = serde_json::from_str(&self.line).ok()?;
        ["traceid", "trace_id", "traceId"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
    }
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a `query_range` answer into entries. A non-`streams` result is an error: the query
/// we send is always a log query.
pub fn parse_query_range(body: &[u8]) -> Result<Vec<LogEntry>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        return Err(format!(
            "status is {}",
            v.get("status").unwrap_or(&Value::Null)
        ));
    }
    let data = v.get("data").ok_or("no \"data\" member")?;
    match data.get("resultType").and_then(Value::as_str) {
        Some("streams") => {}
        other => return Err(format!("resultType {other:?}, expected \"streams\"")),
    }
    let mut out = Vec::new();
    for stream in data
        .get("result")
        .and_then(Value::as_array)
        .ok_or("no \"result\" array")?
    {
        let labels = string_map(stream.get("stream"));
        for value in stream
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(parts) = value.as_array() else {
                continue;
            };
            let text = |i: usize| {
                parts
                    .get(i)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let mut metadata = string_map(parts.get(2).and_then(|m| m.get("structuredMetadata")));
            metadata.extend(string_map(parts.get(2).and_then(|m| m.get("parsed"))));
            out.push(LogEntry {
                timestamp_ns: text(0),
                line: text(1),
                labels: labels.clone(),
                metadata,
            });
        }
    }
    Ok(out)
}

/// What a successful read proved, including the correlation check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogSeen {
    pub line: String,
    /// The trace id on the entry, if any.
    pub trace_id: Option<String>,
    /// True when it equals the probe's trace id.
    pub correlated: bool,
    pub labels: BTreeMap<String, String>,
}

/// Picks the probe's entry out of the answer.
pub fn find_probe_entry(entries: &[LogEntry], probe: &Probe) -> Option<LogSeen> {
    let id = probe.probe_id.to_string();
    let entry = entries
        .iter()
        .find(|e| e.get(PROBE_ID_LABEL) == Some(id.as_str()) || e.line.contains(&id))?;
    let trace_id = entry.trace_id();
    let mut labels = entry.labels.clone();
    labels.extend(entry.metadata.clone());
    Some(LogSeen {
        line: entry.line.clone(),
        correlated: trace_id.as_deref() == Some(hex(&probe.trace_id).as_str()),
        trace_id,
        labels,
    })
}

/// A read's `start` and `end` (unix ns): from 5 minutes before the probe, so a canary clock
/// behind Loki's still covers the line, to a minute past now, for one ahead of it.
fn query_window(probe: &Probe) -> [String; 2] {
    let start = unix_nanos(probe.started_at).saturating_sub(300_000_000_000);
    let end = unix_nanos(SystemTime::now() + Duration::from_secs(60));
    [start.to_string(), end.to_string()]
}

/// Reads logs from one Loki.
#[derive(Debug)]
pub struct LokiReader {
    client: ReadClient,
    base: Url,
    selector: String,
    mode: LogMatch,
}

impl LokiReader {
    pub fn new(client: ReadClient, base: Url, selector: String, mode: LogMatch) -> Self {
        LokiReader {
            client,
            base,
            selector,
            mode,
        }
    }

    /// The same reader on another client and base: reading through Grafana's datasource
    /// proxy (`backends::grafana`) with the same query and judging.
    pub fn through(&self, client: ReadClient, base: Url) -> LokiReader {
        LokiReader::new(client, base, self.selector.clone(), self.mode)
    }

    /// The query this reader sends for a probe (for the report).
    pub fn query_for(&self, probe: &Probe) -> String {
        log_query(&self.selector, self.mode, probe)
    }

    /// One `query_range` read of `query` over [probe start - 5 min, now + 1 min]: the
    /// entries, or the read that ends this attempt.
    async fn entries<T>(
        &self,
        query: String,
        probe: &Probe,
    ) -> Result<Vec<LogEntry>, Read<T, QueryError>> {
        let url = join(&self.base, "loki/api/v1/query_range");
        let [start, end] = query_window(probe);
        let query = [
            ("query", query),
            ("start", start),
            ("end", end),
            ("limit", "10".to_string()),
            ("direction", "backward".to_string()),
        ];
        let answer = self
            .client
            .fetch(
                &url,
                &query,
                &[("X-Loki-Response-Encoding-Flags", "categorize-labels")],
            )
            .await?;
        parse_query_range(&answer.body)
            .map_err(|e| Read::Refused(self.client.unusable(&answer, &url, "Loki", &e)))
    }

    /// One read of the probe's OTLP log.
    pub async fn read_log(&self, probe: &Probe) -> Read<LogSeen, QueryError> {
        match self.entries(self.query_for(probe), probe).await {
            Err(read) => read,
            Ok(entries) => match find_probe_entry(&entries, probe) {
                Some(seen) => Read::Visible(seen),
                None if entries.is_empty() => Read::NotYet("no matching log line".into()),
                None => Read::NotYet(format!(
                    "{} line(s) matched the query, none of them the probe's",
                    entries.len()
                )),
            },
        }
    }

    /// The query for the probe's pulled line (`serve`'s stdout/file path) under this reader's
    /// selector.
    pub fn pulled_line_query(&self, probe: &Probe) -> String {
        pulled_line_query(&self.selector, probe)
    }

    /// One read of the probe's pulled line: any entry holding its text counts.
    pub async fn read_pulled_line(&self, probe: &Probe) -> Read<LogSeen, QueryError> {
        let needle = pulled_line_text(probe);
        match self.entries(self.pulled_line_query(probe), probe).await {
            Err(read) => read,
            Ok(entries) => match entries.iter().find(|e| e.line.contains(&needle)) {
                Some(e) => {
                    let trace_id = e.trace_id();
                    Read::Visible(LogSeen {
                        line: e.line.clone(),
                        correlated: trace_id.as_deref() == Some(hex(&probe.trace_id).as_str()),
                        trace_id,
                        labels: e.labels.clone(),
                    })
                }
                None => Read::NotYet("no matching log line".into()),
            },
        }
    }
}

/// The field that marks a pulled line, so the query cannot mistake the probe's OTLP log
/// (same text in its body) for it.
pub const PULLED_LINE_FIELD: &str = "canary_path";

/// The message of the probe's pulled line, also what the query searches for.
pub fn pulled_line_text(probe: &Probe) -> String {
    format!("otel-canary probe {}", probe.probe_id)
}

/// `<selector> |= "otel-canary probe <id>" |= "canary_path"`.
pub fn pulled_line_query(selector: &str, probe: &Probe) -> String {
    format!(
        "{selector} |= \"{}\" |= \"{PULLED_LINE_FIELD}\"",
        pulled_line_text(probe)
    )
}

/// Where the probe's line turned up when the configured query could not find it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogElsewhere {
    /// The stream's index labels.
    pub stream: BTreeMap<String, String>,
    /// Whether the probe id is in structured metadata (`canary_probe_id`), as Loki's OTLP
    /// endpoint stores it, or only in the line (a Loki exporter's JSON line).
    pub probe_id_in_metadata: bool,
}

/// How many label names a look elsewhere tries, one query each.
const ELSEWHERE_MAX_QUERIES: usize = 6;

impl LokiReader {
    /// After the deadline: is the probe's line in Loki under other labels? Asks for the label
    /// names, then searches `{<name>=~".+"} |= "<probe id>"` one name at a time (the likely
    /// ones first, a few queries at most). `Ok(None)` when it is nowhere to be seen.
    pub async fn look_elsewhere(&self, probe: &Probe) -> Result<Option<LogElsewhere>, QueryError> {
        let [start, end] = query_window(probe);
        let range = [("start", start), ("end", end)];
        let url = join(&self.base, "loki/api/v1/labels");
        let answer = self.client.get_ok(&url, &range, &[]).await?;
        let mut names: Vec<String> = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|v| v.get("data").cloned())
            .and_then(|d| serde_json::from_value(d).ok())
            .unwrap_or_default();
        let rank = |n: &str| match n {
            "service_name" => 0,
            "job" => 1,
            "exporter" => 2,
            _ => 3,
        };
        names.sort_by_key(|n| rank(n));
        let url = join(&self.base, "loki/api/v1/query_range");
        for name in names.iter().take(ELSEWHERE_MAX_QUERIES) {
            let query = format!(r#"{{{name}=~".+"}} |= "{}""#, probe.probe_id);
            let mut params = vec![("query", query), ("limit", "10".to_string())];
            params.extend(range.iter().cloned());
            let answer = self
                .client
                .get(
                    &url,
                    &params,
                    &[("X-Loki-Response-Encoding-Flags", "categorize-labels")],
                )
                .await?;
            if !answer.is_success() {
                continue;
            }
            let Ok(entries) = parse_query_range(&answer.body) else {
                continue;
            };
            let id = probe.probe_id.to_string();
            if let Some(e) = entries.iter().find(|e| e.line.contains(&id)) {
                return Ok(Some(LogElsewhere {
                    stream: e.labels.clone(),
                    probe_id_in_metadata: e.metadata.get(PROBE_ID_LABEL) == Some(&id),
                }));
            }
        }
        Ok(None)
    }
}

/// Parses `{"status":"success","data":["a","b"]}` (labels, label values). Loki leaves out
/// `data` when there are none.
pub fn parse_string_list(body: &[u8]) -> Result<Vec<String>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("status").and_then(serde_json::Value::as_str) != Some("success") {
        return Err("status is not success".into());
    }
    match v.get("data") {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "a value is not a string".to_string())
            })
            .collect(),
        Some(_) => Err("\"data\" is not an array".into()),
    }
}

impl LokiReader {
    /// One instant metric query (`/loki/api/v1/query`): the vector's samples.
    pub async fn instant_metric<T>(
        &self,
        query: &str,
    ) -> Result<Vec<super::prometheus::Sample>, Read<T, QueryError>> {
        let url = join(&self.base, "loki/api/v1/query");
        let time = unix_nanos(SystemTime::now()).to_string();
        let answer = self
            .client
            .fetch(&url, &[("query", query.to_string()), ("time", time)], &[])
            .await?;
        super::prometheus::parse_vector(&answer.body)
            .map_err(|e| Read::Refused(self.client.unusable(&answer, &url, "Loki", &e)))
    }

    /// The values Loki knows for a label over its default window (the last 6 hours).
    pub async fn label_values<T>(&self, label: &str) -> Result<Vec<String>, Read<T, QueryError>> {
        let path = format!(
            "loki/api/v1/label/{}/values",
            percent_encoding::utf8_percent_encode(label, super::client::PATH_SEGMENT)
        );
        let url = join(&self.base, &path);
        let answer = self.client.fetch(&url, &[], &[]).await?;
        parse_string_list(&answer.body)
            .map_err(|e| Read::Refused(self.client.unusable(&answer, &url, "Loki", &e)))
    }
}
