//! Failure attribution from pipeline self-metrics: what the collector's (or Tempo's) own
//! counters did between a snapshot before the probe and one after it, turned into one finding
//! per signal that names the receiver or exporter at fault and says what to check.
//!
//! Incidents 5, 6 and 8 (shared/docs/incidents.md) look identical from the backends' query
//! APIs — "acknowledged, never visible" — but not from here: a collector that accepted the log
//! and has no logs exporter, one whose Loki exporter fails, and a Tempo whose distributor
//! cannot reach its ingesters each move different counters.
//!
//! On a busy collector the deltas include everyone's traffic, not only the probe's: the
//! findings quote the counts as seen and rank failures first, since one failing exporter is
//! the news even when others succeed.

use crate::backends::self_metrics::{Metric, SeriesKey, Snapshot};
use crate::signal::Signal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Whose counters a finding reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// An OpenTelemetry Collector or Grafana Alloy (`otelcol_*`).
    Collector,
    /// Tempo (`tempo_*`).
    Tempo,
}

/// What the counters say happened to the signal. Closed and small: it can become a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineVerdict {
    /// The page has none of the source's metrics: the URL is not that component's page.
    NoSelfMetrics,
    /// The collector's receivers did not move: the export went elsewhere.
    NotReceived,
    /// A receiver refused items (the pipeline pushed back) or failed them.
    ReceiverRefused,
    /// Accepted, but the collector has no exporter for this signal at all.
    NoExporter,
    /// An exporter's send attempts failed.
    ExportFailed,
    /// An exporter's sending queue was full.
    EnqueueFailed,
    /// Accepted and still waiting in an exporter's sending queue.
    Queued,
    /// Accepted, exporters exist, none sent or failed anything: lost inside the collector.
    NotForwarded,
    /// An exporter sent it on: the loss is after the collector.
    SentOn,
    /// Tempo's receivers and distributor saw no spans.
    TempoNotReceived,
    /// Tempo's receiver refused the spans.
    TempoRefused,
    /// Tempo's distributor received the spans but no ingester took them.
    IngesterAppendFailed,
    /// Tempo received the spans and handed them to its ingesters.
    TempoReceived,
}

impl PipelineVerdict {
    /// Whether the component whose page was read lost or refused the data (as opposed to
    /// having passed it on, never seen it, or being unreadable).
    pub fn is_failure(self) -> bool {
        use PipelineVerdict::*;
        matches!(
            self,
            ReceiverRefused
                | NoExporter
                | ExportFailed
                | EnqueueFailed
                | NotForwarded
                | TempoRefused
                | IngesterAppendFailed
        )
    }
}

/// One counter that moved between the two snapshots.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// The exposition name (`otelcol_exporter_send_failed_log_records_total`).
    pub metric: &'static str,
    /// The receiver, exporter, Tempo tenant or ingester the series is about.
    pub component: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub transport: String,
    /// The increase (after a counter reset: the value after it).
    pub delta: f64,
}

/// The attribution for one signal, from one component's counters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PipelineFinding {
    /// Whose counters were read.
    pub source: Source,
    /// The signal judged (always `trace` for Tempo).
    pub signal: Signal,
    /// What happened, as a closed set.
    pub verdict: PipelineVerdict,
    /// The receiver the sentence names (several joined with ", ").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// The exporter the sentence names (several joined with ", "); for Tempo, the ingester.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exporter: Option<String>,
    /// The count the sentence quotes (spans, log records or metric points; for an ingester
    /// failure, failed batch appends).
    pub items: u64,
    /// Every counter of this signal that moved, for the JSON report.
    pub changes: Vec<Change>,
    /// Some counter went down: the process restarted between the reads, so counts are since
    /// its start.
    pub restarted: bool,
    /// A page was cut at the size cap: counts may be missing.
    pub truncated: bool,
    /// The finding in plain words, for a person.
    pub sentence: String,
}

/// A finding before the common parts (changes, restart and truncation notes) are added.
struct Found {
    verdict: PipelineVerdict,
    receiver: Option<String>,
    exporter: Option<String>,
    items: f64,
    sentence: String,
}

impl Found {
    fn new(verdict: PipelineVerdict, sentence: impl Into<String>) -> Found {
        Found {
            verdict,
            receiver: None,
            exporter: None,
            items: 0.0,
            sentence: sentence.into(),
        }
    }

    /// Names the receiver(s); an empty list names none.
    fn receiver(mut self, names: String) -> Found {
        self.receiver = (!names.is_empty()).then_some(names);
        self
    }

    fn exporter(mut self, names: String) -> Found {
        self.exporter = (!names.is_empty()).then_some(names);
        self
    }

    fn items(mut self, n: f64) -> Found {
        self.items = n;
        self
    }
}

/// What changed between two snapshots of one `/metrics` page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PipelineDelta {
    /// Counter increases, by series (zero when a series did not move).
    increases: BTreeMap<SeriesKey, f64>,
    /// Exporters listed after the probe, per signal (any exporter series of that signal,
    /// including the queue gauges, which exist from start-up).
    exporters: BTreeMap<Signal, BTreeSet<String>>,
    /// Sending-queue sizes after the probe, per (signal, exporter).
    queue_size: BTreeMap<(Signal, String), f64>,
    collector_seen: bool,
    tempo_seen: bool,
    restarted: bool,
    truncated: bool,
}

impl PipelineDelta {
    /// The change from `before` to `after` (two reads of the same page). A series missing
    /// before counts from zero (collectors create series on first use); one that went down
    /// means a restart, and its value after is taken as the increase.
    pub fn between(before: &Snapshot, after: &Snapshot) -> PipelineDelta {
        let mut d = PipelineDelta {
            collector_seen: after.collector_seen,
            tempo_seen: after.tempo_seen,
            truncated: before.truncated || after.truncated,
            ..Default::default()
        };
        for (key, now) in after.series() {
            if matches!(
                key.metric,
                Metric::ExporterSent
                    | Metric::ExporterSendFailed
                    | Metric::ExporterEnqueueFailed
                    | Metric::ExporterQueueSize
                    | Metric::ExporterQueueCapacity
            ) {
                d.exporters
                    .entry(key.signal)
                    .or_default()
                    .insert(key.component.clone());
            }
            if key.metric == Metric::ExporterQueueSize {
                d.queue_size
                    .insert((key.signal, key.component.clone()), now);
                continue;
            }
            if key.metric.is_gauge() {
                continue;
            }
            let then = before.get(key).unwrap_or(0.0);
            let increase = if now >= then {
                now - then
            } else {
                d.restarted = true;
                now
            };
            d.increases.insert(key.clone(), increase);
        }
        d
    }

    /// How much one series rose (0 when it did not, or is unknown).
    pub fn increase(&self, key: &SeriesKey) -> f64 {
        self.increases.get(key).copied().unwrap_or(0.0)
    }

    /// Series of `metric` for `signal` that rose, largest first (ties by name).
    fn moved(&self, metric: Metric, signal: Signal) -> Vec<(&SeriesKey, f64)> {
        let mut v: Vec<_> = self
            .increases
            .iter()
            .filter(|(k, d)| k.metric == metric && k.signal == signal && **d > 0.0)
            .map(|(k, d)| (k, *d))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }

    fn total(&self, metric: Metric, signal: Signal) -> f64 {
        self.moved(metric, signal).iter().map(|(_, d)| d).sum()
    }

    fn changes(&self, signal: Signal, collector: bool) -> Vec<Change> {
        self.increases
            .iter()
            .filter(|(k, d)| {
                k.signal == signal && k.metric.is_collector() == collector && **d > 0.0
            })
            .map(|(k, d)| Change {
                metric: k.name(),
                component: k.component.clone(),
                transport: k.transport.clone(),
                delta: *d,
            })
            .collect()
    }

    fn finish(&self, source: Source, signal: Signal, found: Found) -> PipelineFinding {
        let Found {
            verdict,
            receiver,
            exporter,
            items,
            mut sentence,
        } = found;
        if self.restarted {
            sentence.push_str(
                " (some counters went down: the process restarted between the two reads)",
            );
        }
        if self.truncated {
            sentence.push_str(" (a metrics page was cut at its size cap: counts may be missing)");
        }
        PipelineFinding {
            source,
            signal,
            verdict,
            receiver,
            exporter,
            items: whole(items),
            changes: self.changes(signal, source == Source::Collector),
            restarted: self.restarted,
            truncated: self.truncated,
            sentence,
        }
    }

    /// The collector's account of `signal`: failures first (an exporter failing or a full
    /// queue, then a receiver refusing), then a missing exporter, then "sent on"; "saw
    /// nothing" only when no counter of the signal moved.
    pub fn collector_finding(&self, signal: Signal) -> PipelineFinding {
        let found = self.collector_found(signal);
        self.finish(Source::Collector, signal, found)
    }

    fn collector_found(&self, signal: Signal) -> Found {
        use PipelineVerdict::*;
        let what = |n: f64| items(signal, n);
        let backend = backend_name(signal);
        if !self.collector_seen {
            return Found::new(
                NoSelfMetrics,
                "the page has no otelcol_* metrics: is the URL a collector's self-metrics page \
                 (OpenTelemetry Collector :8888/metrics, Alloy :12345/metrics)?",
            );
        }
        let send_failed = self.moved(Metric::ExporterSendFailed, signal);
        if let Some((top, _)) = send_failed.first() {
            let n = self.total(Metric::ExporterSendFailed, signal);
            let names = components(&send_failed);
            let sentence = format!(
                "exporter {names} failed to send {} ({} +{}): check its endpoint and the \
                 collector's logs",
                what(n),
                top.name(),
                num(n)
            );
            return Found::new(ExportFailed, sentence).exporter(names).items(n);
        }
        let enqueue_failed = self.moved(Metric::ExporterEnqueueFailed, signal);
        if let Some((top, _)) = enqueue_failed.first() {
            let n = self.total(Metric::ExporterEnqueueFailed, signal);
            let names = components(&enqueue_failed);
            let sentence = format!(
                "exporter {names} could not queue {} ({} +{}): its sending queue is full, \
                 {backend} is slow or unreachable (see otelcol_exporter_queue_size)",
                what(n),
                top.name(),
                num(n)
            );
            return Found::new(EnqueueFailed, sentence).exporter(names).items(n);
        }
        for (metric, how, why) in [
            (
                Metric::ReceiverRefused,
                "refused",
                "the pipeline behind it pushed back (memory limiter?)",
            ),
            (
                Metric::ReceiverFailed,
                "failed to process",
                "an internal error in the receiver; check the collector's logs",
            ),
        ] {
            let moved = self.moved(metric, signal);
            if let Some((top, _)) = moved.first() {
                let n = self.total(metric, signal);
                let names = components(&moved);
                let sentence = format!(
                    "the collector's receiver {names} {how} {} ({} +{}): {why}",
                    what(n),
                    top.name(),
                    num(n)
                );
                return Found::new(ReceiverRefused, sentence)
                    .receiver(names)
                    .items(n);
            }
        }
        let accepted = self.moved(Metric::ReceiverAccepted, signal);
        let sent = self.moved(Metric::ExporterSent, signal);
        if accepted.is_empty() && sent.is_empty() {
            return Found::new(
                NotReceived,
                "the collector's receivers saw nothing: the export did not reach this collector \
                 (another instance or port?)",
            );
        }
        let acc_n = self.total(Metric::ReceiverAccepted, signal);
        let recv = components(&accepted);
        let exporters = self.exporters.get(&signal).cloned().unwrap_or_default();
        if exporters.is_empty() {
            let sentence = format!(
                "the collector's receiver {recv} accepted {} but it has no {kind} exporter: no \
                 {kind} pipeline forwards to {backend}",
                what(acc_n),
                kind = signal.plural(),
            );
            return Found::new(NoExporter, sentence).receiver(recv).items(acc_n);
        }
        if let Some((top, _)) = sent.first() {
            let n = self.total(Metric::ExporterSent, signal);
            let names = components(&sent);
            let sentence = format!(
                "the collector sent it on via {names} ({} +{}): the loss is after the \
                 collector (in {backend})",
                top.name(),
                num(n)
            );
            return Found::new(SentOn, sentence)
                .receiver(recv)
                .exporter(names)
                .items(n);
        }
        let queued: Vec<(&str, f64)> = self
            .queue_size
            .iter()
            .filter(|((s, _), size)| *s == signal && **size > 0.0)
            .map(|((_, e), size)| (e.as_str(), *size))
            .collect();
        if !queued.is_empty() {
            let names = join(queued.iter().map(|(e, _)| *e));
            let batches: f64 = queued.iter().map(|(_, s)| s).sum();
            let sentence = format!(
                "the collector accepted {} and exporter {names} still holds {} in its sending \
                 queue: {backend} is slow or the export is being retried; check the \
                 collector's logs",
                what(acc_n),
                plural(batches, "batch", "batches")
            );
            return Found::new(Queued, sentence)
                .receiver(recv)
                .exporter(names)
                .items(acc_n);
        }
        let names = join(exporters.iter().map(String::as_str));
        let sentence = format!(
            "the collector's receiver {recv} accepted {} but no {} exporter ({names}) sent or \
             failed anything: a processor dropped it (filter, sampling), a batch processor \
             still holds it, or that receiver is not in the exporter's pipeline",
            what(acc_n),
            signal.plural()
        );
        Found::new(NotForwarded, sentence)
            .receiver(recv)
            .exporter(names)
            .items(acc_n)
    }

    /// Tempo's account of the probe's spans: ingester failures first (they also make the
    /// receiver refuse), then refusals, then receipt; "saw nothing" only when nothing moved.
    pub fn tempo_finding(&self) -> PipelineFinding {
        let found = self.tempo_found();
        self.finish(Source::Tempo, Signal::Trace, found)
    }

    fn tempo_found(&self) -> Found {
        use PipelineVerdict::*;
        let t = Signal::Trace;
        if !self.tempo_seen {
            return Found::new(
                NoSelfMetrics,
                "the page has no tempo_* metrics: is the URL Tempo's /metrics (its HTTP port, \
                 3200)?",
            );
        }
        let received = self.moved(Metric::TempoSpansReceived, t);
        let spans = self.total(Metric::TempoSpansReceived, t);
        let failures = self.moved(Metric::TempoIngesterAppendFailures, t);
        if let Some((top, _)) = failures.first() {
            let n = self.total(Metric::TempoIngesterAppendFailures, t);
            let ingesters = components(&failures);
            let got = if spans > 0.0 {
                format!("received {}", items(t, spans))
            } else {
                "received the spans".to_string()
            };
            let sentence = format!(
                "Tempo's distributor {got} but could not hand them to an ingester ({} +{}, \
                 ingester {ingesters}): check the ingesters and the distributor→ingester link \
                 (TLS?)",
                top.name(),
                num(n)
            );
            return Found::new(IngesterAppendFailed, sentence)
                .exporter(ingesters)
                .items(n);
        }
        let refused = self.moved(Metric::TempoReceiverRefused, t);
        if let Some((top, _)) = refused.first() {
            let n = self.total(Metric::TempoReceiverRefused, t);
            let names = components(&refused);
            let sentence = format!(
                "Tempo's receiver {names} refused {} ({} +{}): check Tempo's distributor logs \
                 (rate limit, trace too large, live traces limit)",
                items(t, n),
                top.name(),
                num(n)
            );
            return Found::new(TempoRefused, sentence).receiver(names).items(n);
        }
        let accepted = self.moved(Metric::TempoReceiverAccepted, t);
        if received.is_empty() && accepted.is_empty() {
            return Found::new(
                TempoNotReceived,
                "Tempo's receivers saw no spans: the export did not reach this Tempo (check the \
                 collector's traces exporter endpoint)",
            );
        }
        let (n, counted) = match received.first() {
            Some((top, _)) => (
                spans,
                format!(
                    "{} +{}, tenant {}",
                    top.name(),
                    num(spans),
                    components(&received)
                ),
            ),
            None => {
                let n = self.total(Metric::TempoReceiverAccepted, t);
                (
                    n,
                    format!("{} +{}", Metric::TempoReceiverAccepted.name(t), num(n)),
                )
            }
        };
        let sentence = format!(
            "Tempo's distributor received {} ({counted}) and handed them to its ingesters: \
             the loss is after ingest (the query side, the tenant, or retention)",
            items(t, n)
        );
        Found::new(TempoReceived, sentence)
            .receiver(components(&accepted))
            .items(n)
    }
}

/// The backend a signal's pipeline usually ends in, for sentences.
fn backend_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Trace => "Tempo",
        Signal::Log => "Loki",
        Signal::Metric => "Mimir or Prometheus",
    }
}

/// The components of the moved series, each named once, largest count first (a receiver's
/// transports fold into one name).
fn components(moved: &[(&SeriesKey, f64)]) -> String {
    join(moved.iter().map(|(k, _)| k.component.as_str()))
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if !seen.contains(&n) {
            seen.push(n);
        }
    }
    seen.join(", ")
}

/// A count as an integer (counters of items are whole; rounding guards float noise).
fn whole(n: f64) -> u64 {
    if n.is_finite() && n > 0.0 {
        n.round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// A count for a sentence: whole numbers without decimals.
fn num(n: f64) -> String {
    if (n - n.round()).abs() < 1e-9 && n.abs() < 1e15 {
        format!("{}", n.round() as i64)
    } else {
        format!("{n}")
    }
}

fn plural(n: f64, one: &str, many: &str) -> String {
    format!("{} {}", num(n), if whole(n) == 1 { one } else { many })
}

/// "1 log record", "2 spans", "1 metric point".
fn items(signal: Signal, n: f64) -> String {
    match signal {
        Signal::Trace => plural(n, "span", "spans"),
        Signal::Log => plural(n, "log record", "log records"),
        Signal::Metric => plural(n, "metric point", "metric points"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PipelineVerdict::*;

    const AFTER_ONE: &str =
        include_str!("../../tests/fixtures/collector/self-metrics-full-after-one-probe.txt");
    const AT_END: &str =
        include_str!("../../tests/fixtures/collector/self-metrics-full-at-end.txt");

    fn snap(text: &str) -> Snapshot {
        Snapshot::parse(text)
    }

    /// The after-one-probe page with one exporter's lines removed (no pipeline for it).
    fn without(text: &str, exporter: &str) -> String {
        text.lines()
            .filter(|l| !l.contains(&format!("exporter=\"{exporter}\"")))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// The after-one-probe page with one series' value replaced.
    fn with_value(text: &str, prefix: &str, value: &str) -> String {
        text.lines()
            .map(|l| {
                if l.starts_with(prefix) {
                    let (series, _) = l.rsplit_once(' ').unwrap();
                    format!("{series} {value}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect()
    }

    #[test]
    fn a_first_probe_on_a_fresh_collector_was_sent_on_for_every_signal() {
        // Before the first probe a fresh collector lists no receiver series at all.
        let before = Snapshot::parse("# HELP otelcol_process_uptime_seconds_total x\n");
        let d = PipelineDelta::between(&before, &snap(AFTER_ONE));
        let f = d.collector_finding(Signal::Log);
        assert_eq!(f.verdict, SentOn);
        assert_eq!(f.exporter.as_deref(), Some("otlphttp/loki"));
        assert_eq!(f.receiver.as_deref(), Some("otlp"));
        assert_eq!(f.items, 1);
        assert_eq!(
            f.sentence,
            "the collector sent it on via otlphttp/loki (otelcol_exporter_sent_log_records_total \
             +1): the loss is after the collector (in Loki)"
        );
        let t = d.collector_finding(Signal::Trace);
        assert_eq!(t.verdict, SentOn);
        assert_eq!(t.exporter.as_deref(), Some("otlp/tempo"));
        assert!(t.sentence.contains("(in Tempo)"), "{}", t.sentence);
        assert_eq!(t.items, 2);
        assert_eq!(d.collector_finding(Signal::Metric).verdict, SentOn);
        assert!(!f.restarted && !f.truncated);
        assert!(f.changes.iter().any(|c| c.metric
            == "otelcol_receiver_accepted_log_records_total"
            && c.transport == "http"
            && c.delta == 1.0));
    }

    #[test]
    fn between_the_two_real_captures_the_deltas_add_up() {
        let d = PipelineDelta::between(&snap(AFTER_ONE), &snap(AT_END));
        let f = d.collector_finding(Signal::Trace);
        assert_eq!(f.verdict, SentOn);
        // 2 -> 12 spans sent; 4 more over http and 6 first seen over grpc.
        assert_eq!(f.items, 10);
        let by_transport = |t: &str| {
            f.changes
                .iter()
                .find(|c| c.metric == "otelcol_receiver_accepted_spans_total" && c.transport == t)
                .map(|c| c.delta)
        };
        assert_eq!(
            (by_transport("http"), by_transport("grpc")),
            (Some(4.0), Some(6.0))
        );
    }

    #[test]
    fn an_unchanged_page_means_the_export_went_elsewhere() {
        let d = PipelineDelta::between(&snap(AFTER_ONE), &snap(AFTER_ONE));
        for s in Signal::ALL {
            let f = d.collector_finding(s);
            assert_eq!(f.verdict, NotReceived, "{s}");
            assert_eq!(
                f.sentence,
                "the collector's receivers saw nothing: the export did not reach this collector \
                 (another instance or port?)"
            );
            assert!(f.changes.is_empty());
            assert!(!f.verdict.is_failure());
        }
    }

    #[test]
    fn accepted_without_a_logs_exporter_is_a_missing_pipeline() {
        let before = without(AFTER_ONE, "otlphttp/loki");
        let after = with_value(&before, "otelcol_receiver_accepted_log_records_total{", "2");
        let d = PipelineDelta::between(&snap(&before), &snap(&after));
        let f = d.collector_finding(Signal::Log);
        assert_eq!(f.verdict, NoExporter);
        assert!(f.verdict.is_failure());
        assert_eq!(f.receiver.as_deref(), Some("otlp"));
        assert_eq!(f.exporter, None);
        assert_eq!(
            f.sentence,
            "the collector's receiver otlp accepted 1 log record but it has no logs exporter: \
             no logs pipeline forwards to Loki"
        );
    }

    #[test]
    fn a_failing_exporter_is_named_with_its_counter() {
        let before = snap(AFTER_ONE);
        let after = with_value(
            AFTER_ONE,
            "otelcol_receiver_accepted_log_records_total{",
            "2",
        );
        let after = with_value(
            &after,
            "otelcol_exporter_send_failed_log_records_total{",
            "1",
        );
        let f = PipelineDelta::between(&before, &snap(&after)).collector_finding(Signal::Log);
        assert_eq!(f.verdict, ExportFailed);
        assert_eq!(f.exporter.as_deref(), Some("otlphttp/loki"));
        assert_eq!(f.items, 1);
        assert_eq!(
            f.sentence,
            "exporter otlphttp/loki failed to send 1 log record \
             (otelcol_exporter_send_failed_log_records_total +1): check its endpoint and the \
             collector's logs"
        );
    }

    #[test]
    fn a_full_queue_and_a_refusing_receiver_are_named() {
        let before = snap(AFTER_ONE);
        let page = format!(
            "{AFTER_ONE}otelcol_exporter_enqueue_failed_spans_total{{exporter=\"otlp/tempo\"}} 2\n"
        );
        let f = PipelineDelta::between(&before, &snap(&page)).collector_finding(Signal::Trace);
        assert_eq!(f.verdict, EnqueueFailed);
        assert_eq!(f.exporter.as_deref(), Some("otlp/tempo"));
        assert!(
            f.sentence.contains("sending queue is full"),
            "{}",
            f.sentence
        );
        assert!(
            f.sentence
                .contains("otelcol_exporter_enqueue_failed_spans_total +2"),
            "{}",
            f.sentence
        );

        let page = with_value(
            AFTER_ONE,
            "otelcol_receiver_refused_metric_points_total{",
            "3",
        );
        let f = PipelineDelta::between(&before, &snap(&page)).collector_finding(Signal::Metric);
        assert_eq!(f.verdict, ReceiverRefused);
        assert_eq!(f.receiver.as_deref(), Some("otlp"));
        assert_eq!(
            f.sentence,
            "the collector's receiver otlp refused 3 metric points \
             (otelcol_receiver_refused_metric_points_total +3): the pipeline behind it pushed \
             back (memory limiter?)"
        );
    }

    #[test]
    fn accepted_and_queued_or_swallowed_inside_the_collector() {
        let before = snap(AFTER_ONE);
        let accepted = with_value(AFTER_ONE, "otelcol_receiver_accepted_spans_total{", "4");
        let f = PipelineDelta::between(&before, &snap(&accepted)).collector_finding(Signal::Trace);
        assert_eq!(f.verdict, NotForwarded);
        assert_eq!(f.exporter.as_deref(), Some("otlp/tempo"));
        assert!(
            f.sentence.contains("a processor dropped it"),
            "{}",
            f.sentence
        );

        let queued = with_value(
            &accepted,
            "otelcol_exporter_queue_size{data_type=\"traces\"",
            "1",
        );
        let f = PipelineDelta::between(&before, &snap(&queued)).collector_finding(Signal::Trace);
        assert_eq!(f.verdict, Queued);
        assert!(
            f.sentence
                .contains("exporter otlp/tempo still holds 1 batch in its sending queue"),
            "{}",
            f.sentence
        );
    }

    #[test]
    fn failures_outrank_successes_of_other_exporters() {
        let page = format!(
            "{}otelcol_exporter_send_failed_spans_total{{exporter=\"otlp/backup\"}} 2\n",
            with_value(AFTER_ONE, "otelcol_exporter_sent_spans_total{", "4")
        );
        let f =
            PipelineDelta::between(&snap(AFTER_ONE), &snap(&page)).collector_finding(Signal::Trace);
        assert_eq!(f.verdict, ExportFailed);
        assert_eq!(f.exporter.as_deref(), Some("otlp/backup"));
        assert_eq!(f.changes.len(), 2);
    }

    #[test]
    fn a_restart_and_a_cut_page_are_flagged() {
        let d = PipelineDelta::between(&snap(AT_END), &snap(AFTER_ONE));
        let f = d.collector_finding(Signal::Trace);
        assert!(f.restarted);
        assert!(
            f.sentence.ends_with("restarted between the two reads)"),
            "{}",
            f.sentence
        );
        let cut = Snapshot::parse_bytes(AFTER_ONE.as_bytes(), true);
        let f = PipelineDelta::between(&cut, &snap(AFTER_ONE)).collector_finding(Signal::Log);
        assert!(f.truncated);
    }

    #[test]
    fn pages_of_the_wrong_component_say_so() {
        let tempo = snap("tempo_distributor_spans_received_total{tenant=\"t\"} 1\n");
        let d = PipelineDelta::between(&Snapshot::default(), &tempo);
        assert_eq!(d.collector_finding(Signal::Log).verdict, NoSelfMetrics);
        let d = PipelineDelta::between(&snap(AFTER_ONE), &snap(AT_END));
        let f = d.tempo_finding();
        assert_eq!(f.verdict, NoSelfMetrics);
        assert!(f.sentence.contains("tempo_*"), "{}", f.sentence);
    }

    const TEMPO_BEFORE: &str = concat!(
        "# HELP tempo_build_info x\n",
        "tempo_build_info{version=\"2.8.2\"} 1\n",
        "tempo_distributor_ingester_appends_total{ingester=\"10.0.0.7:9095\"} 5\n",
        "tempo_distributor_spans_received_total{tenant=\"single-tenant\"} 10\n",
        "tempo_receiver_accepted_spans{receiver=\"otlp/otlp_receiver\",transport=\"grpc\"} 10\n",
    );

    #[test]
    fn tempo_ingester_failures_are_named_with_the_ingester() {
        let after = concat!(
            "tempo_distributor_ingester_append_failures_total{ingester=\"10.0.0.7:9095\"} 1\n",
            "tempo_distributor_ingester_appends_total{ingester=\"10.0.0.7:9095\"} 6\n",
            "tempo_distributor_spans_received_total{tenant=\"single-tenant\"} 12\n",
            "tempo_receiver_accepted_spans{receiver=\"otlp/otlp_receiver\",transport=\"grpc\"} 10\n",
            "tempo_receiver_refused_spans{receiver=\"otlp/otlp_receiver\",transport=\"grpc\"} 2\n",
        );
        let f = PipelineDelta::between(&snap(TEMPO_BEFORE), &snap(after)).tempo_finding();
        assert_eq!(f.source, Source::Tempo);
        assert_eq!(f.verdict, IngesterAppendFailed);
        assert_eq!(f.exporter.as_deref(), Some("10.0.0.7:9095"));
        assert_eq!(f.items, 1);
        assert_eq!(
            f.sentence,
            "Tempo's distributor received 2 spans but could not hand them to an ingester \
             (tempo_distributor_ingester_append_failures_total +1, ingester 10.0.0.7:9095): \
             check the ingesters and the distributor→ingester link (TLS?)"
        );
        assert_eq!(f.changes.len(), 4);
    }

    #[test]
    fn tempo_refusals_receipts_and_silence() {
        let refused = format!(
            "{TEMPO_BEFORE}tempo_receiver_refused_spans{{receiver=\"otlp/otlp_receiver\",transport=\"http\"}} 2\n"
        );
        let f = PipelineDelta::between(&snap(TEMPO_BEFORE), &snap(&refused)).tempo_finding();
        assert_eq!(f.verdict, TempoRefused);
        assert_eq!(f.receiver.as_deref(), Some("otlp/otlp_receiver"));
        assert!(
            f.sentence.contains("tempo_receiver_refused_spans +2"),
            "{}",
            f.sentence
        );

        let received = with_value(TEMPO_BEFORE, "tempo_distributor_spans_received_total", "12");
        let f = PipelineDelta::between(&snap(TEMPO_BEFORE), &snap(&received)).tempo_finding();
        assert_eq!(f.verdict, TempoReceived);
        assert!(!f.verdict.is_failure());
        assert_eq!(
            f.sentence,
            "Tempo's distributor received 2 spans (tempo_distributor_spans_received_total +2, \
             tenant single-tenant) and handed them to its ingesters: the loss is after ingest \
             (the query side, the tenant, or retention)"
        );

        let f = PipelineDelta::between(&snap(TEMPO_BEFORE), &snap(TEMPO_BEFORE)).tempo_finding();
        assert_eq!(f.verdict, TempoNotReceived);
    }

    #[test]
    fn findings_serialize_for_the_json_report() {
        let d = PipelineDelta::between(&Snapshot::default(), &snap(AFTER_ONE));
        let v = serde_json::to_value(d.collector_finding(Signal::Log)).unwrap();
        assert_eq!(v["source"], "collector");
        assert_eq!(v["signal"], "log");
        assert_eq!(v["verdict"], "sent_on");
        assert_eq!(v["exporter"], "otlphttp/loki");
        assert_eq!(v["items"], 1);
        assert!(v["changes"].as_array().unwrap().len() >= 2);
        assert!(
            v.get("sentence")
                .unwrap()
                .as_str()
                .unwrap()
                .contains("Loki")
        );
    }

    #[test]
    fn garbage_snapshots_give_a_finding_not_a_panic() {
        for junk in ["", "garbage", "otelcol_", "{{{", "tempo_ 1"] {
            let d = PipelineDelta::between(&snap(junk), &snap(junk));
            for s in Signal::ALL {
                let f = d.collector_finding(s);
                assert!(!f.sentence.is_empty());
            }
            assert!(!d.tempo_finding().sentence.is_empty());
        }
    }
}
