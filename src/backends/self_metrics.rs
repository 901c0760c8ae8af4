//! Pipeline self-metrics: the counters a collector (OpenTelemetry Collector `:8888/metrics`,
//! Grafana Alloy `:12345/metrics`) and Tempo (`:3200/metrics`) keep about what their receivers
//! accepted and their exporters sent. Read before and after a probe, their deltas say which
//! component lost the probe (see `diagnose::pipeline_delta`), which the backends' query APIs
//! alone cannot: "not in Loki" looks the same whether the collector never got the log, had no
//! logs pipeline, or its Loki exporter failed.
//!
//! Wire facts (shared/fixtures/collector/self-metrics-*.txt, Tempo's source):
//! - collector: `otelcol_receiver_{accepted,refused,failed}_{spans,log_records,metric_points}_total`
//!   labelled `receiver`, `transport`; `otelcol_exporter_{sent,send_failed,enqueue_failed}_*_total`
//!   labelled `exporter` (the signal is in the name, there is no `data_type`); the queue gauges
//!   `otelcol_exporter_queue_{size,capacity}` labelled `exporter`, `data_type`. Every series
//!   also carries `otel_scope_name`/`otel_scope_version`, which say nothing about the pipeline.
//!   Collectors before the OTel Go SDK migration wrote the same names without `_total`.
//! - Tempo: `tempo_distributor_spans_received_total{tenant}`,
//!   `tempo_receiver_{accepted,refused}_spans{receiver,transport}` (no `_total`),
//!   `tempo_distributor_ingester_append{s,_failures}_total{ingester}` (one per batch, not span).
//!
//! Only those families are kept, keyed by the labels that name a pipeline component; series
//! that differ in other labels (scope, Alloy's `component_path`, a newer collector's error
//! type) are summed. So a snapshot stays small whatever else the page carries.

use super::client::{QueryError, ReadClient};
use crate::diagnose::error_class::ErrorClass;
use crate::signal::Signal;
use serde::Serialize;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use url::Url;

/// Largest `/metrics` page read. A collector's page is ~10 KiB and Alloy's, with every
/// component's metrics, a few MiB; past this the snapshot is marked truncated.
pub const MAX_PAGE_BYTES: usize = crate::backends::client::MAX_BODY_BYTES;

/// Most series a snapshot keeps. Real pipelines have a handful of receivers and exporters;
/// the cap only stops a hostile or broken page from growing memory.
pub const MAX_SERIES: usize = 4096;

/// Asks for the classic text format: with OpenMetrics or protobuf offered, some servers
/// would answer in those.
const ACCEPT: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

/// A pipeline counter (or queue gauge) the diagnosis uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Collector receiver: items pushed into the pipeline.
    ReceiverAccepted,
    /// Collector receiver: items the pipeline refused (memory limiter, an exporter without a
    /// queue failing).
    ReceiverRefused,
    /// Collector receiver: items lost to the receiver's own internal error (newer collectors).
    ReceiverFailed,
    /// Collector exporter: items the destination acknowledged.
    ExporterSent,
    /// Collector exporter: items in failed send attempts.
    ExporterSendFailed,
    /// Collector exporter: items that did not fit into the sending queue.
    ExporterEnqueueFailed,
    /// Collector exporter: batches waiting in the sending queue (gauge).
    ExporterQueueSize,
    /// Collector exporter: the sending queue's capacity (gauge). Present from start-up, so it
    /// lists the exporters of each data type before any data flowed.
    ExporterQueueCapacity,
    /// Tempo distributor: spans received, per tenant.
    TempoSpansReceived,
    /// Tempo's embedded receivers: spans pushed to the distributor.
    TempoReceiverAccepted,
    /// Tempo's embedded receivers: spans the distributor refused.
    TempoReceiverRefused,
    /// Tempo distributor: batches sent to an ingester.
    TempoIngesterAppends,
    /// Tempo distributor: batches an ingester did not take.
    TempoIngesterAppendFailures,
}

impl Metric {
    /// Gauges are read as they are; everything else is a counter whose increase matters.
    pub fn is_gauge(self) -> bool {
        matches!(
            self,
            Metric::ExporterQueueSize | Metric::ExporterQueueCapacity
        )
    }

    /// Whether it belongs to a collector (else to Tempo).
    pub fn is_collector(self) -> bool {
        !matches!(
            self,
            Metric::TempoSpansReceived
                | Metric::TempoReceiverAccepted
                | Metric::TempoReceiverRefused
                | Metric::TempoIngesterAppends
                | Metric::TempoIngesterAppendFailures
        )
    }

    /// The exposition name (current spelling, with `_total` where the servers write it), as
    /// quoted in findings so a person can look the series up.
    pub fn name(self, signal: Signal) -> &'static str {
        use Metric::*;
        use Signal::{Log, Trace};
        match (self, signal) {
            (ReceiverAccepted, Trace) => "otelcol_receiver_accepted_spans_total",
            (ReceiverAccepted, Log) => "otelcol_receiver_accepted_log_records_total",
            (ReceiverAccepted, Signal::Metric) => "otelcol_receiver_accepted_metric_points_total",
            (ReceiverRefused, Trace) => "otelcol_receiver_refused_spans_total",
            (ReceiverRefused, Log) => "otelcol_receiver_refused_log_records_total",
            (ReceiverRefused, Signal::Metric) => "otelcol_receiver_refused_metric_points_total",
            (ReceiverFailed, Trace) => "otelcol_receiver_failed_spans_total",
            (ReceiverFailed, Log) => "otelcol_receiver_failed_log_records_total",
            (ReceiverFailed, Signal::Metric) => "otelcol_receiver_failed_metric_points_total",
            (ExporterSent, Trace) => "otelcol_exporter_sent_spans_total",
            (ExporterSent, Log) => "otelcol_exporter_sent_log_records_total",
            (ExporterSent, Signal::Metric) => "otelcol_exporter_sent_metric_points_total",
            (ExporterSendFailed, Trace) => "otelcol_exporter_send_failed_spans_total",
            (ExporterSendFailed, Log) => "otelcol_exporter_send_failed_log_records_total",
            (ExporterSendFailed, Signal::Metric) => {
                "otelcol_exporter_send_failed_metric_points_total"
            }
            (ExporterEnqueueFailed, Trace) => "otelcol_exporter_enqueue_failed_spans_total",
            (ExporterEnqueueFailed, Log) => "otelcol_exporter_enqueue_failed_log_records_total",
            (ExporterEnqueueFailed, Signal::Metric) => {
                "otelcol_exporter_enqueue_failed_metric_points_total"
            }
            (ExporterQueueSize, _) => "otelcol_exporter_queue_size",
            (ExporterQueueCapacity, _) => "otelcol_exporter_queue_capacity",
            (TempoSpansReceived, _) => "tempo_distributor_spans_received_total",
            (TempoReceiverAccepted, _) => "tempo_receiver_accepted_spans",
            (TempoReceiverRefused, _) => "tempo_receiver_refused_spans",
            (TempoIngesterAppends, _) => "tempo_distributor_ingester_appends_total",
            (TempoIngesterAppendFailures, _) => "tempo_distributor_ingester_append_failures_total",
        }
    }

    /// The label that names the component a series is about.
    fn component_label(self) -> &'static str {
        use Metric::*;
        match self {
            ReceiverAccepted | ReceiverRefused | ReceiverFailed => "receiver",
            TempoReceiverAccepted | TempoReceiverRefused => "receiver",
            ExporterSent | ExporterSendFailed | ExporterEnqueueFailed => "exporter",
            ExporterQueueSize | ExporterQueueCapacity => "exporter",
            TempoSpansReceived => "tenant",
            TempoIngesterAppends | TempoIngesterAppendFailures => "ingester",
        }
    }

    fn has_transport(self) -> bool {
        matches!(
            self,
            Metric::ReceiverAccepted
                | Metric::ReceiverRefused
                | Metric::ReceiverFailed
                | Metric::TempoReceiverAccepted
                | Metric::TempoReceiverRefused
        )
    }
}

/// Which family an exposition name belongs to, and for which signal. `None` for names the
/// diagnosis does not use. The signal of the queue gauges comes from their `data_type` label.
fn classify(name: &str) -> Option<(Metric, Option<Signal>)> {
    let base = name.strip_suffix("_total").unwrap_or(name);
    if let Some(rest) = base.strip_prefix("otelcol_") {
        let signal_of = |s: &str| match s {
            "spans" => Some(Signal::Trace),
            "log_records" => Some(Signal::Log),
            "metric_points" => Some(Signal::Metric),
            _ => None,
        };
        let kinds: [(&str, Metric); 6] = [
            ("receiver_accepted_", Metric::ReceiverAccepted),
            ("receiver_refused_", Metric::ReceiverRefused),
            ("receiver_failed_", Metric::ReceiverFailed),
            ("exporter_sent_", Metric::ExporterSent),
            ("exporter_send_failed_", Metric::ExporterSendFailed),
            ("exporter_enqueue_failed_", Metric::ExporterEnqueueFailed),
        ];
        for (prefix, metric) in kinds {
            if let Some(items) = rest.strip_prefix(prefix) {
                return signal_of(items).map(|s| (metric, Some(s)));
            }
        }
        return match rest {
            "exporter_queue_size" => Some((Metric::ExporterQueueSize, None)),
            "exporter_queue_capacity" => Some((Metric::ExporterQueueCapacity, None)),
            _ => None,
        };
    }
    let trace = Some(Signal::Trace);
    match base {
        "tempo_distributor_spans_received" => Some((Metric::TempoSpansReceived, trace)),
        "tempo_receiver_accepted_spans" => Some((Metric::TempoReceiverAccepted, trace)),
        "tempo_receiver_refused_spans" => Some((Metric::TempoReceiverRefused, trace)),
        "tempo_distributor_ingester_appends" => Some((Metric::TempoIngesterAppends, trace)),
        "tempo_distributor_ingester_append_failures" => {
            Some((Metric::TempoIngesterAppendFailures, trace))
        }
        _ => None,
    }
}

/// One kept series: the family, its signal, and the labels that name the component.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SeriesKey {
    /// The family (its exposition name also depends on `signal`).
    pub metric: Metric,
    /// The signal the counter counts (Tempo's are all `trace`).
    pub signal: Signal,
    /// The receiver or exporter (`otlp`, `otlphttp/loki`), Tempo tenant or ingester address.
    /// Alloy's `component_id` (the block name in its config) wins when present.
    pub component: String,
    /// The receiver's transport (`http`, `grpc`); empty for other families.
    pub transport: String,
}

impl SeriesKey {
    /// The exposition name of the series' family.
    pub fn name(&self) -> &'static str {
        self.metric.name(self.signal)
    }
}

/// The pipeline counters of one `/metrics` page at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    series: BTreeMap<SeriesKey, f64>,
    /// The page carried `otelcol_*` metrics: it is a collector's (or Alloy's) page.
    pub collector_seen: bool,
    /// The page carried `tempo_*` metrics: it is Tempo's page.
    pub tempo_seen: bool,
    /// The body reached `MAX_PAGE_BYTES` and was cut: series past the cut are missing.
    pub truncated: bool,
    /// Sample lines of any family (kept or not): zero means the body is no exposition.
    pub sample_lines: usize,
    /// Lines of a kept family that could not be read (bad labels, value, or a missing label).
    pub skipped_lines: usize,
    /// Series beyond `MAX_SERIES`, not kept.
    pub dropped_series: usize,
}

impl Snapshot {
    /// Reads a Prometheus text exposition (0.0.4; OpenMetrics text reads the same for these
    /// families). Never fails: unreadable lines are counted in `skipped_lines`.
    pub fn parse(text: &str) -> Snapshot {
        let mut snap = Snapshot::default();
        for line in text.lines() {
            snap.read_line(line);
        }
        snap
    }

    /// Reads a body as received. When it was `truncated` at the cap, the last line is
    /// probably cut too and is left out.
    pub fn parse_bytes(body: &[u8], truncated: bool) -> Snapshot {
        let text = String::from_utf8_lossy(body);
        let text = if truncated {
            text.rfind('\n').map_or("", |i| &text[..i])
        } else {
            &text
        };
        let mut snap = Snapshot::parse(text);
        snap.truncated = truncated;
        snap
    }

    /// The value of one series, if the page had it.
    pub fn get(&self, key: &SeriesKey) -> Option<f64> {
        self.series.get(key).copied()
    }

    /// Every kept series, in key order.
    pub fn series(&self) -> impl Iterator<Item = (&SeriesKey, f64)> {
        self.series.iter().map(|(k, v)| (k, *v))
    }

    /// How many series were kept (bounded by `MAX_SERIES`).
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// No pipeline series at all: a fresh collector, or not a pipeline component's page.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    fn read_line(&mut self, raw: &str) {
        let line = raw.trim();
        if line.is_empty() {
            return;
        }
        if let Some(comment) = line.strip_prefix('#') {
            // `# HELP name …` / `# TYPE name …` name a family even when it has no series yet.
            let mut words = comment.split_whitespace();
            if matches!(words.next(), Some("HELP" | "TYPE"))
                && let Some(name) = words.next()
            {
                self.note_family(name);
            }
            return;
        }
        let Some((name, rest)) = split_name(line) else {
            return;
        };
        self.sample_lines += 1;
        self.note_family(name);
        let Some((metric, signal)) = classify(name) else {
            return;
        };
        match read_sample(metric, signal, rest) {
            Some((key, value)) => self.add(key, value),
            None => self.skipped_lines += 1,
        }
    }

    fn note_family(&mut self, name: &str) {
        if name.starts_with("otelcol_") {
            self.collector_seen = true;
        } else if name.starts_with("tempo_") {
            self.tempo_seen = true;
        }
    }

    fn add(&mut self, key: SeriesKey, value: f64) {
        let full = self.series.len() >= MAX_SERIES;
        match self.series.entry(key) {
            Entry::Occupied(mut e) => *e.get_mut() += value,
            Entry::Vacant(_) if full => self.dropped_series += 1,
            Entry::Vacant(e) => {
                e.insert(value);
            }
        }
    }
}

// Why by hand: the crates that parse this format did not fit. `prometheus-parse` (0.2.5,
// last release 2023) splits labels on `,` and `=` without regard to quotes, so a value with a
// comma, `=` or an escaped quote is dropped or cut (its fix, PR #10, has been open since
// 2024) — and component names are exactly what a finding quotes; collector component names
// may contain commas. `prom_text_format_parser` (one 0.1.0 release) returns nothing at all
// when any line fails, so a page cut at the size cap would yield no counters.
// `openmetrics-parser` is LGPL-3.0. We need a dozen families and four labels, read line by
// line, tolerating what we do not understand: the grammar below is the text format's
// (https://prometheus.io/docs/instrumenting/exposition_formats/) for one sample line.

/// `name{labels} value [timestamp]` → the name and what follows it. `None` when the line does
/// not start with a metric name (Prometheus 3's quoted `{"name"}` form is not used by these
/// servers, which escape names to underscores).
fn split_name(line: &str) -> Option<(&str, &str)> {
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..end];
    let first = name.chars().next()?;
    if first.is_ascii_digit() {
        return None;
    }
    Some((name, &line[end..]))
}

/// The key and value of a sample line of a kept family; `None` when it cannot be read or
/// lacks the label that names its component.
fn read_sample(metric: Metric, signal: Option<Signal>, rest: &str) -> Option<(SeriesKey, f64)> {
    let rest = rest.trim_start();
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(inner) => parse_labels(inner)?,
        None => (Vec::new(), rest),
    };
    let value = parse_value(rest.split_whitespace().next()?)?;
    let label = |name: &str| {
        labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let signal = match signal {
        Some(s) => s,
        None => label("data_type")?.parse().ok()?,
    };
    let component = label("component_id")
        .filter(|v| !v.is_empty())
        .or_else(|| label(metric.component_label()))?
        .to_string();
    let transport = if metric.has_transport() {
        label("transport").unwrap_or_default().to_string()
    } else {
        String::new()
    };
    // Counters only go up from zero and queue gauges count batches: NaN, an infinity or a
    // negative value is a broken page.
    if !(value.is_finite() && value >= 0.0) {
        return None;
    }
    let key = SeriesKey {
        metric,
        signal,
        component,
        transport,
    };
    Some((key, value))
}

/// Most labels read from one series; more means a broken line.
const MAX_LABELS: usize = 64;

/// Reads `name="value",…}` (the opening brace already consumed) → the pairs and what
/// follows the closing brace. Label values unescape `\\`, `\"` and `\n`; label names may be
/// quoted (Prometheus 3). A trailing comma is allowed.
fn parse_labels(s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        if labels.len() >= MAX_LABELS {
            return None;
        }
        let (name, after) = if let Some(quoted) = rest.strip_prefix('"') {
            read_quoted(quoted)?
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            (rest[..end].to_string(), &rest[end..])
        };
        let after = after.trim_start().strip_prefix('=')?.trim_start();
        let (value, after) = read_quoted(after.strip_prefix('"')?)?;
        labels.push((name, value));
        rest = after.trim_start();
        if let Some(next) = rest.strip_prefix(',') {
            rest = next;
        } else if !rest.starts_with('}') {
            return None;
        }
    }
}

/// Reads a quoted string's body up to its closing quote (already past the opening one).
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// A sample value as Go writes it (`1`, `3.5e+07`, `+Inf`, `NaN`).
fn parse_value(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// Reads one `/metrics` page.
#[derive(Clone, Debug)]
pub struct SelfMetricsReader {
    client: ReadClient,
    url: Url,
}

impl SelfMetricsReader {
    /// `url` is the page itself (`http://collector:8888/metrics`), not a base to join onto.
    pub fn new(client: ReadClient, url: Url) -> Self {
        SelfMetricsReader { client, url }
    }

    /// The page read, for the report (print it through `redact::redact_url`).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// One read of the page. An answer that is not a text exposition (an HTML page, a JSON
    /// error, protobuf) is an error of class `body`, so a wrong URL is named as such instead
    /// of looking like a collector that saw nothing.
    pub async fn snapshot(&self) -> Result<Snapshot, QueryError> {
        let answer = self
            .client
            .get_ok(&self.url, &[], &[("accept", ACCEPT)])
            .await?;
        let content_type = answer.content_type.as_deref().unwrap_or("");
        if content_type.starts_with("application/vnd.google.protobuf") {
            return Err(self.client.error(
                ErrorClass::Body,
                Some(answer.status),
                &format!("the page is protobuf ({content_type}), not the text format"),
                &self.url,
            ));
        }
        let truncated = answer.body.len() >= MAX_PAGE_BYTES;
        let snap = Snapshot::parse_bytes(&answer.body, truncated);
        let blank = answer.body.iter().all(u8::is_ascii_whitespace);
        if snap.sample_lines == 0 && !snap.collector_seen && !snap.tempo_seen && !blank {
            let shown = if content_type.is_empty() {
                "no Content-Type"
            } else {
                content_type
            };
            return Err(self.client.unusable(
                &answer,
                &self.url,
                "a metrics page",
                &format!(
                    "{} bytes, {shown}: not a Prometheus metrics page",
                    answer.body.len()
                ),
            ));
        }
        Ok(snap)
    }
}

/// The URL of a self-metrics page from what a person types: `:8888/metrics` (this host),
/// `collector:8888`, `http://alloy:12345/metrics`. Without a path, `/metrics` is meant.
pub fn metrics_url(text: &str) -> Result<Url, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the self-metrics URL is empty".into());
    }
    let full = if t.contains("://") {
        t.to_string()
    } else if t.starts_with(':') {
        format!("http://localhost{t}")
    } else {
        format!("http://{t}")
    };
    // Errors quote the input with its password and secret query values masked.
    let shown = crate::redact::redact_urls_in_text(t);
    crate::config::otlp::check_one_reading(
        &full,
        &shown,
        &crate::config::Provenance::flag("self-metrics URL"),
    )
    .map_err(|e| e.problem)?;
    let mut url = Url::parse(&full).map_err(|e| format!("'{shown}' is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "'{shown}': the self-metrics page is served over http or https"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{shown}' names no host"));
    }
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/metrics");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER_ONE: &str =
        include_str!("../../tests/fixtures/collector/self-metrics-full-after-one-probe.txt");
    const AT_END: &str =
        include_str!("../../tests/fixtures/collector/self-metrics-full-at-end.txt");
    const FILTERED_AFTER_ONE: &str = include_str!(
        "../../tests/fixtures/collector/self-metrics-receiver-exporter-after-one-probe.txt"
    );
    const FILTERED_AT_END: &str =
        include_str!("../../tests/fixtures/collector/self-metrics-receiver-exporter-at-end.txt");

    fn key(metric: Metric, signal: Signal, component: &str, transport: &str) -> SeriesKey {
        SeriesKey {
            metric,
            signal,
            component: component.into(),
            transport: transport.into(),
        }
    }

    #[test]
    fn the_real_collector_page_after_one_probe_reads_as_captured() {
        let s = Snapshot::parse(AFTER_ONE);
        assert!(s.collector_seen && !s.tempo_seen && !s.truncated);
        assert_eq!(s.skipped_lines, 0);
        let get = |m, sig, c: &str, t: &str| s.get(&key(m, sig, c, t));
        use Metric::*;
        assert_eq!(
            get(ReceiverAccepted, Signal::Trace, "otlp", "http"),
            Some(2.0)
        );
        assert_eq!(
            get(ReceiverAccepted, Signal::Log, "otlp", "http"),
            Some(1.0)
        );
        assert_eq!(
            get(ReceiverAccepted, Signal::Metric, "otlp", "http"),
            Some(1.0)
        );
        assert_eq!(get(ReceiverRefused, Signal::Log, "otlp", "http"), Some(0.0));
        assert_eq!(
            get(ExporterSent, Signal::Trace, "otlp/tempo", ""),
            Some(2.0)
        );
        assert_eq!(
            get(ExporterSent, Signal::Log, "otlphttp/loki", ""),
            Some(1.0)
        );
        assert_eq!(
            get(ExporterSent, Signal::Metric, "otlphttp/mimir", ""),
            Some(1.0)
        );
        assert_eq!(
            get(ExporterSendFailed, Signal::Log, "otlphttp/loki", ""),
            Some(0.0)
        );
        assert_eq!(
            get(ExporterQueueCapacity, Signal::Log, "otlphttp/loki", ""),
            Some(1000.0)
        );
        assert_eq!(
            get(ExporterQueueSize, Signal::Trace, "otlp/tempo", ""),
            Some(0.0)
        );
        // 3 receiver families x 2 kinds + 3 exporters x 2 kinds + 2 gauges x 3 exporters.
        assert_eq!(s.len(), 18);
        // The process, scope and target_info lines are samples too, only not kept.
        assert_eq!(s.sample_lines, 30);
        // The filtered copy carries the same pipeline series.
        let f = Snapshot::parse(FILTERED_AFTER_ONE);
        assert_eq!(f.series, s.series);
    }

    #[test]
    fn grpc_series_appear_separately_from_http_ones() {
        let s = Snapshot::parse(AT_END);
        assert_eq!(s.series, Snapshot::parse(FILTERED_AT_END).series);
        let acc = |t: &str| s.get(&key(Metric::ReceiverAccepted, Signal::Trace, "otlp", t));
        assert_eq!((acc("http"), acc("grpc")), (Some(6.0), Some(6.0)));
        assert_eq!(
            s.get(&key(Metric::ExporterSent, Signal::Trace, "otlp/tempo", "")),
            Some(12.0)
        );
    }

    #[test]
    fn label_values_with_quotes_commas_and_braces_are_read_whole() {
        let page = concat!(
            "otelcol_exporter_sent_spans_total{exporter=\"otlp/eu,west\",x=\"a=b\"} 3\n",
            "otelcol_exporter_sent_spans_total{exporter=\"otlp/q\\\"uote}\",} 4 1700000000000\n",
            "otelcol_exporter_sent_spans_total{ exporter = \"otlp/sp\" , \"quoted.name\"=\"v\" } 5\n",
        );
        let s = Snapshot::parse(page);
        assert_eq!(s.skipped_lines, 0);
        let sent = |c: &str| s.get(&key(Metric::ExporterSent, Signal::Trace, c, ""));
        assert_eq!(sent("otlp/eu,west"), Some(3.0));
        assert_eq!(sent("otlp/q\"uote}"), Some(4.0));
        assert_eq!(sent("otlp/sp"), Some(5.0));
    }

    #[test]
    fn legacy_names_without_total_and_extra_labels_sum_per_component() {
        let page = concat!(
            "otelcol_receiver_accepted_spans{receiver=\"otlp\",service_instance_id=\"a\",transport=\"grpc\"} 5\n",
            "otelcol_exporter_send_failed_spans_total{error_type=\"Unavailable\",exporter=\"otlp\"} 2\n",
            "otelcol_exporter_send_failed_spans_total{error_type=\"DeadlineExceeded\",exporter=\"otlp\"} 3\n",
        );
        let s = Snapshot::parse(page);
        assert_eq!(
            s.get(&key(
                Metric::ReceiverAccepted,
                Signal::Trace,
                "otlp",
                "grpc"
            )),
            Some(5.0)
        );
        assert_eq!(
            s.get(&key(Metric::ExporterSendFailed, Signal::Trace, "otlp", "")),
            Some(5.0)
        );
    }

    #[test]
    fn alloy_component_ids_name_the_component() {
        let page = "otelcol_exporter_sent_log_records_total{component_id=\"otelcol.exporter.otlphttp.loki\",component_path=\"/\",exporter=\"otlphttp\"} 7\n";
        let s = Snapshot::parse(page);
        assert_eq!(
            s.get(&key(
                Metric::ExporterSent,
                Signal::Log,
                "otelcol.exporter.otlphttp.loki",
                ""
            )),
            Some(7.0)
        );
    }

    #[test]
    fn tempo_families_are_read_with_their_labels() {
        let page = concat!(
            "# HELP tempo_distributor_spans_received_total The total number of spans received per tenant\n",
            "# TYPE tempo_distributor_spans_received_total counter\n",
            "tempo_distributor_spans_received_total{tenant=\"single-tenant\"} 16\n",
            "tempo_receiver_refused_spans{receiver=\"otlp/otlp_receiver\",transport=\"grpc\"} 16\n",
            "tempo_receiver_accepted_spans{receiver=\"otlp/otlp_receiver\",transport=\"grpc\"} 0\n",
            "tempo_distributor_ingester_append_failures_total{ingester=\"127.0.0.1:9095\"} 15\n",
            "tempo_distributor_ingester_appends_total{ingester=\"127.0.0.1:9095\"} 15\n",
        );
        let s = Snapshot::parse(page);
        assert!(s.tempo_seen && !s.collector_seen);
        let t = Signal::Trace;
        assert_eq!(
            s.get(&key(Metric::TempoSpansReceived, t, "single-tenant", "")),
            Some(16.0)
        );
        assert_eq!(
            s.get(&key(
                Metric::TempoReceiverRefused,
                t,
                "otlp/otlp_receiver",
                "grpc"
            )),
            Some(16.0)
        );
        assert_eq!(
            s.get(&key(
                Metric::TempoIngesterAppendFailures,
                t,
                "127.0.0.1:9095",
                ""
            )),
            Some(15.0)
        );
    }

    #[test]
    fn garbage_and_cut_pages_never_panic_and_keep_what_is_readable() {
        // Every prefix of the real page, including cuts inside labels and UTF-8-free noise.
        for end in 0..=AFTER_ONE.len() {
            if AFTER_ONE.is_char_boundary(end) {
                let s = Snapshot::parse(&AFTER_ONE[..end]);
                assert!(s.len() <= 18);
            }
        }
        let bytes = AFTER_ONE.as_bytes();
        for end in (0..bytes.len()).step_by(97) {
            let s = Snapshot::parse_bytes(&bytes[..end], true);
            assert!(s.truncated);
            // A cut page never reports a partial line's value: every kept value is one the
            // full page has.
            let full = Snapshot::parse(AFTER_ONE);
            for (k, v) in s.series() {
                assert_eq!(full.get(k), Some(v), "{k:?} at cut {end}");
            }
        }
        for junk in [
            "",
            "\n\n",
            "{",
            "}",
            "#",
            "# HELP",
            "# TYPE otelcol_x",
            "otelcol_receiver_accepted_spans_total",
            "otelcol_receiver_accepted_spans_total{",
            "otelcol_receiver_accepted_spans_total{receiver",
            "otelcol_receiver_accepted_spans_total{receiver=",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\\",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\"",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\"}",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\"} ",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\"} x",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\"} NaN",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\"} -1",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\"} +Inf",
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\" transport=\"x\"} 1",
            "otelcol_receiver_accepted_spans_total{=\"otlp\"} 1",
            "otelcol_receiver_accepted_spans_total 1",
            "otelcol_exporter_queue_size{exporter=\"e\"} 1",
            "otelcol_exporter_queue_size{exporter=\"e\",data_type=\"profiles\"} 1",
            "otelcol_receiver_accepted_widgets_total{receiver=\"otlp\"} 1",
            "9otelcol 1",
            "\u{0}\u{1}\u{2}",
            "ünïcödé{ä=\"ö\"} 1",
            "<html><body>404</body></html>",
            "{\"status\":\"error\"}",
        ] {
            let s = Snapshot::parse(junk);
            assert!(s.is_empty(), "{junk:?} kept {:?}", s.series);
        }
        let many = "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",a=\"1\"".to_string()
            + &",b=\"2\"".repeat(100)
            + "} 1";
        assert!(Snapshot::parse(&many).is_empty());
        let s = Snapshot::parse_bytes(&[0xff, 0xfe, b'\n', 0x80], false);
        assert!(s.is_empty());
    }

    #[test]
    fn series_beyond_the_cap_are_counted_not_kept() {
        let mut page = String::new();
        for i in 0..MAX_SERIES + 10 {
            page.push_str(&format!(
                "otelcol_exporter_sent_spans_total{{exporter=\"e{i}\"}} 1\n"
            ));
        }
        let s = Snapshot::parse(&page);
        assert_eq!(s.len(), MAX_SERIES);
        assert_eq!(s.dropped_series, 10);
    }

    #[test]
    fn typed_urls_become_page_urls() {
        let ok = |t: &str| metrics_url(t).unwrap().to_string();
        assert_eq!(ok(":8888/metrics"), "http://localhost:8888/metrics");
        assert_eq!(ok(":8888"), "http://localhost:8888/metrics");
        assert_eq!(ok("alloy:12345"), "http://alloy:12345/metrics");
        assert_eq!(
            ok("https://tempo:3200/prefix/metrics"),
            "https://tempo:3200/prefix/metrics"
        );
        for bad in ["", "  ", "ftp://x/metrics", "http://", "http:// bad"] {
            assert!(metrics_url(bad).is_err(), "{bad}");
        }
    }
}
