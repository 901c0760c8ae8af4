//! Mimir, Prometheus and VictoriaMetrics share the PromQL HTTP API: is the marker gauge's
//! latest sample this probe's marker value?
//!
//! Wire facts (shared/fixtures): Mimir and Prometheus label an OTLP metric with
//! `job`/`instance` (from service.namespace/service.name and service.instance.id);
//! VictoriaMetrics keeps the dotted resource attributes (`service.name`) unless started with
//! `-opentelemetry.usePrometheusNaming`. The default query therefore selects the marker by
//! name only and picks this canary's series out of the answer under either mapping. VM hides
//! samples younger than 30 s unless the query sends `latency_offset`, which the others ignore.

use super::client::{QueryError, ReadClient, join};
use crate::config::resource::ResourceSpec;
use crate::emit::payload::{MARKER_METRIC, PROBE_ID_LABEL};
use crate::poll::Read;
use crate::probe::Probe;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};
use url::Url;

/// One series of an instant-query answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    /// Evaluation timestamp, unix seconds.
    pub at: f64,
    pub value: f64,
}

/// Parses an instant-query (`vector`) answer; VictoriaMetrics' extra `stats` is ignored.
pub fn parse_vector(body: &[u8]) -> Result<Vec<Sample>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        let err = v.get("error").and_then(Value::as_str).unwrap_or("");
        return Err(format!("status is not success {err}"));
    }
    let data = v.get("data").ok_or("no \"data\" member")?;
    match data.get("resultType").and_then(Value::as_str) {
        Some("vector") => {}
        other => return Err(format!("resultType {other:?}, expected \"vector\"")),
    }
    let mut out = Vec::new();
    for r in data
        .get("result")
        .and_then(Value::as_array)
        .ok_or("no \"result\" array")?
    {
        let labels = r
            .get("metric")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let pair = r
            .get("value")
            .and_then(Value::as_array)
            .ok_or("a result has no \"value\" pair")?;
        let at = pair
            .first()
            .and_then(Value::as_f64)
            .ok_or("bad timestamp")?;
        let value = pair
            .get(1)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or("bad sample value")?;
        out.push(Sample { labels, at, value });
    }
    Ok(out)
}

/// Which series belong to this canary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesIdentity {
    /// `job` as Prometheus/Mimir derive it: `service.namespace/service.name` or the name.
    pub job: String,
    pub instance: String,
    pub service_name: String,
    /// Set in `label` metric-tag mode: the series must carry this probe id too.
    pub probe_id: Option<String>,
}

impl SeriesIdentity {
    pub fn of(resource: &ResourceSpec, probe_id: Option<String>) -> Self {
        let name = resource.service_name.value.clone();
        let job = match resource
            .extra
            .iter()
            .find(|(k, _)| k == "service.namespace")
        {
            Some((_, ns)) if !ns.is_empty() => format!("{ns}/{name}"),
            _ => name.clone(),
        };
        SeriesIdentity {
            job,
            instance: resource.service_instance_id.value.clone(),
            service_name: name,
            probe_id,
        }
    }

    /// True for this canary's series under the Prometheus or the VictoriaMetrics mapping.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &str| labels.get(k).map(String::as_str);
        let prometheus = get("job") == Some(&self.job) && get("instance") == Some(&self.instance);
        let dotted = get("service.name") == Some(&self.service_name)
            && get("service.instance.id") == Some(&self.instance);
        let probe_ok = self
            .probe_id
            .as_deref()
            .is_none_or(|id| carries_probe_id(labels, id));
        (prometheus || dotted) && probe_ok
    }
}

/// True when a series carries the probe id label (`label` metric-tag mode), as Prometheus and
/// Mimir name it or as VictoriaMetrics keeps it.
pub fn carries_probe_id(labels: &BTreeMap<String, String>, id: &str) -> bool {
    [PROBE_ID_LABEL, "canary.probe_id"]
        .iter()
        .any(|k| labels.get(*k).map(String::as_str) == Some(id))
}

/// What a successful read proved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricSeen {
    pub value: f64,
    pub labels: BTreeMap<String, String>,
}

/// Judges an answer: visible when one of our series holds exactly the probe's marker.
pub fn judge_samples(
    samples: &[Sample],
    identity: Option<&SeriesIdentity>,
    marker: f64,
) -> Result<MetricSeen, String> {
    let ours: Vec<&Sample> = samples
        .iter()
        .filter(|s| identity.is_none_or(|id| id.matches(&s.labels)))
        .collect();
    if let Some(hit) = ours.iter().find(|s| s.value == marker) {
        return Ok(MetricSeen {
            value: hit.value,
            labels: hit.labels.clone(),
        });
    }
    Err(match (ours.first(), samples.len()) {
        (Some(s), _) => format!(
            "the marker series holds {} (an earlier probe), not {marker}",
            fmt_value(s.value)
        ),
        (None, 0) => "no marker series yet".to_string(),
        (None, n) => format!("{n} marker series, none with this canary's job/instance"),
    })
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

/// The instant query's `time`: the canary's now plus a second, so a canary clock running
/// ahead of the server cannot hide the sample behind the evaluation time.
fn query_time() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    format!("{:.3}", now + 1.0)
}

/// Reads the marker from one PromQL API.
#[derive(Debug)]
pub struct PrometheusReader {
    client: ReadClient,
    /// Where `api/v1/query` lives: Mimir's base already carries `/prometheus`.
    api_base: Url,
    /// An explicit selector from the user; `None` = the marker by name, filtered by identity.
    selector: Option<String>,
    identity: SeriesIdentity,
    /// `label` metric-tag mode: the series must also carry the probe's id.
    probe_id_label: bool,
    /// Probes overlap (`serve`): a later probe's marker on our series counts too.
    later_markers: bool,
}

impl PrometheusReader {
    pub fn new(
        client: ReadClient,
        api_base: Url,
        selector: Option<String>,
        identity: SeriesIdentity,
    ) -> Self {
        PrometheusReader {
            client,
            api_base,
            selector,
            identity,
            probe_id_label: false,
            later_markers: false,
        }
    }

    /// When probes of one canary overlap, the next probe's sample can replace this one's on
    /// the stable marker series before a read sees it; a later marker on our own series then
    /// proves the same path (markers only grow). `run` probes one at a time and keeps the
    /// exact match.
    pub fn with_later_markers(mut self, on: bool) -> Self {
        self.later_markers = on;
        self
    }

    /// The same reader on another client and API base: reading through Grafana's datasource
    /// proxy (`backends::grafana`) with the same query and judging.
    pub fn through(&self, client: ReadClient, api_base: Url) -> PrometheusReader {
        PrometheusReader {
            client,
            api_base,
            selector: self.selector.clone(),
            identity: self.identity.clone(),
            probe_id_label: self.probe_id_label,
            later_markers: self.later_markers,
        }
    }

    /// In `label` metric-tag mode, only a series carrying the probe's id counts.
    pub fn with_probe_id_label(mut self, on: bool) -> Self {
        self.probe_id_label = on;
        self
    }

    /// The PromQL this reader sends.
    pub fn query(&self) -> String {
        self.selector
            .clone()
            .unwrap_or_else(|| MARKER_METRIC.to_string())
    }

    /// One instant query of `query` at the canary's now plus a second: the samples, or the
    /// read that ends this attempt (retry, refused). Derived checks and assertions ask their
    /// own PromQL through it.
    pub async fn instant<T>(&self, query: String) -> Result<Vec<Sample>, Read<T, QueryError>> {
        let url = join(&self.api_base, "api/v1/query");
        let query = [
            ("query", query),
            ("time", query_time()),
            ("latency_offset", "1ms".to_string()),
        ];
        let answer = self.client.fetch(&url, &query, &[]).await?;
        parse_vector(&answer.body).map_err(|e| {
            Read::Refused(
                self.client
                    .unusable(&answer, &url, "the metrics backend", &e),
            )
        })
    }

    /// One instant query. `time` is the canary's now plus a second, so a canary clock running
    /// ahead of the server cannot hide the sample behind the query's evaluation time.
    pub async fn read_marker(&self, probe: &Probe) -> Read<MetricSeen, QueryError> {
        let samples = match self.instant(self.query()).await {
            Ok(s) => s,
            Err(read) => return read,
        };
        let probe_id = self.probe_id_label.then(|| probe.probe_id.to_string());
        let samples: Vec<Sample> = match &probe_id {
            Some(id) => samples
                .into_iter()
                .filter(|s| carries_probe_id(&s.labels, id))
                .collect(),
            None => samples,
        };
        let identity = self.selector.is_none().then_some(&self.identity);
        match judge_samples(&samples, identity, probe.marker) {
            Ok(seen) => Read::Visible(seen),
            Err(_) if self.later_markers && identity.is_some() => {
                let ours = samples.iter().filter(|s| self.identity.matches(&s.labels));
                match judge_scrape_marker(&ours.cloned().collect::<Vec<_>>(), probe.marker) {
                    Ok(seen) => Read::Visible(seen),
                    Err(why) => Read::NotYet(why),
                }
            }
            Err(why) => Read::NotYet(why),
        }
    }

    /// One instant query of the scrape marker (`serve`'s pull path): see
    /// [`judge_scrape_marker`].
    pub async fn read_scrape_marker(&self, marker: f64) -> Read<MetricSeen, QueryError> {
        match self.instant(self.query()).await {
            Ok(samples) => match judge_scrape_marker(&samples, marker) {
                Ok(seen) => Read::Visible(seen),
                Err(why) => Read::NotYet(why),
            },
            Err(read) => read,
        }
    }

    /// After a scrape marker never arrived: the scrape targets whose `up` is 0 (a scraper
    /// stores `up` for every target, 0 when the scrape fails), at most five.
    pub async fn failing_scrapes(&self) -> Result<Vec<BTreeMap<String, String>>, QueryError> {
        let url = join(&self.api_base, "api/v1/query");
        let query = [("query", "up".to_string()), ("time", query_time())];
        let answer = self.client.get_ok(&url, &query, &[]).await?;
        let samples = parse_vector(&answer.body).map_err(|e| {
            self.client
                .unusable(&answer, &url, "the metrics backend", &e)
        })?;
        Ok(samples
            .into_iter()
            .filter(|s| s.value == 0.0)
            .map(|s| s.labels)
            .take(5)
            .collect())
    }
}

/// The scrape marker's series is the scenario's gauge on `serve`'s own page, so any value at
/// or after this probe's marker proves the path: markers only grow, and a probe started since
/// may have overwritten the gauge before the scraper came by. Another process exposing the
/// same scenario would also match; give each its own scenario name or `pull.scrape_selector`.
pub fn judge_scrape_marker(samples: &[Sample], marker: f64) -> Result<MetricSeen, String> {
    if let Some(hit) = samples.iter().find(|s| s.value >= marker) {
        return Ok(MetricSeen {
            value: hit.value,
            labels: hit.labels.clone(),
        });
    }
    Err(match samples.iter().map(|s| s.value).reduce(f64::max) {
        Some(newest) => format!(
            "the newest scraped marker is {} ({:.1} s older than this probe's {})",
            fmt_value(newest),
            (marker - newest) / 1000.0,
            fmt_value(marker)
        ),
        None => "no scrape marker series yet".to_string(),
    })
}

/// A series that looks like the canary's marker but was not found by the configured query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricElsewhere {
    /// The metric name it arrived under.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Whether its value is this probe's marker.
    pub holds_marker: bool,
}

/// Any series whose name starts like the canary's: `_` or `.` between words (UTF-8 names in
/// Prometheus 3 and Mimir keep the dots), with or without a unit or type suffix.
pub const ELSEWHERE_QUERY: &str = r#"{__name__=~"otel.canary.*"}"#;

impl PrometheusReader {
    /// After the deadline: does the marker exist under another name or other labels? One
    /// instant query for every series named like the canary's; the ones holding this probe's
    /// marker value come first.
    pub async fn look_elsewhere(&self, probe: &Probe) -> Result<Vec<MetricElsewhere>, QueryError> {
        let url = join(&self.api_base, "api/v1/query");
        let query = [
            ("query", ELSEWHERE_QUERY.to_string()),
            ("time", query_time()),
        ];
        let answer = self.client.get_ok(&url, &query, &[]).await?;
        let samples = parse_vector(&answer.body).map_err(|e| {
            self.client
                .unusable(&answer, &url, "the metrics backend", &e)
        })?;
        let mut found: Vec<MetricElsewhere> = samples
            .into_iter()
            .map(|s| {
                let mut labels = s.labels;
                let name = labels.remove("__name__").unwrap_or_default();
                MetricElsewhere {
                    name,
                    labels,
                    holds_marker: s.value == probe.marker,
                }
            })
            .collect();
        found.sort_by_key(|m| !m.holds_marker);
        found.truncate(5);
        Ok(found)
    }
}
