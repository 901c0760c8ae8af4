//! The continuous canary's Prometheus metrics: what every probe of every scenario did, in
//! bounded label sets (scenario, signal, hop, and a reason from the closed `Reason` set), so a
//! canary running for weeks neither grows its series nor keeps per-probe state. The registry is
//! owned here and passed around explicitly (no globals), so tests and `/probe` can build their
//! own.

use crate::config::emitter::Emitter;
use crate::roundtrip::outcome::{
    AssertionOutcome, Hop, PullOutcome, Reason, SignalOutcome, Status,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

/// Hop duration buckets: 5 ms to 120 s, roughly doubling (an export to a local collector takes
/// milliseconds; a Tempo search can take a minute).
pub const HOP_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScenarioLabels {
    scenario: String,
}

/// `emitter="sdk"` on the series of signals the SDK emitter sent, and no label at all for the
/// wire emitter's, so a wire-only canary exposes exactly the series it always did.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct EmitterLabel(Option<&'static str>);

impl EmitterLabel {
    pub fn of(e: Option<Emitter>) -> EmitterLabel {
        EmitterLabel(match e {
            Some(Emitter::Sdk) => Some("sdk"),
            _ => None,
        })
    }
}

impl prometheus_client::encoding::EncodeLabelSet for EmitterLabel {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeLabel;
        match self.0 {
            Some(v) => ("emitter", v).encode(encoder.encode_label()),
            None => Ok(()),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignalLabels {
    scenario: String,
    signal: &'static str,
    #[prometheus(flatten)]
    emitter: EmitterLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    scenario: String,
    signal: &'static str,
    reason: &'static str,
    #[prometheus(flatten)]
    emitter: EmitterLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HopLabels {
    scenario: String,
    signal: &'static str,
    hop: &'static str,
    #[prometheus(flatten)]
    emitter: EmitterLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AssertionLabels {
    scenario: String,
    assertion: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AssertionFailureLabels {
    scenario: String,
    assertion: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

fn new_histogram() -> Histogram {
    Histogram::new(HOP_BUCKETS)
}

/// Per-bucket counts of one hop histogram (the last is +Inf), kept beside it because the
/// client library does not read its buckets back; the status page's quantiles come from them.
type BucketCounts = [u64; HOP_BUCKETS.len() + 1];

/// The histogram's key without the scenario: (signal, emitter, hop).
type HopKey = (&'static str, EmitterLabel, &'static str);

const LANE_ORDER: [&str; 5] = ["trace", "log", "metric", "scrape", "log_line"];
const HOP_ORDER: [&str; 10] = [
    "export",
    "expose",
    "ingest",
    "query",
    "search",
    "span_metrics",
    "service_graph",
    "traceql_metrics",
    "grafana",
    "total",
];

/// Sorts quantiles into report order (unknown names last, alphabetically).
fn report_order(v: &mut [HopQuantiles]) {
    let at = |list: &[&str], v: &str| list.iter().position(|x| *x == v).unwrap_or(list.len());
    let key = |q: &HopQuantiles| {
        (
            at(&LANE_ORDER, q.signal),
            q.signal,
            q.emitter,
            at(&HOP_ORDER, q.hop),
            q.hop,
        )
    };
    v.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// One hop's duration quantiles over every probe `serve` has counted, for the status page.
#[derive(Clone, Debug, PartialEq)]
pub struct HopQuantiles {
    /// `trace`, `log`, `scrape`...
    pub signal: &'static str,
    /// `Some("sdk")` for the SDK emitter's signals.
    pub emitter: Option<&'static str>,
    pub hop: &'static str,
    /// Observations (hops that completed).
    pub count: u64,
    /// Estimated from the bucket counts, as `histogram_quantile` would.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// Every metric family `serve` exposes, in one registry.
pub struct CanaryMetrics {
    registry: Registry,
    probes: Family<ScenarioLabels, Counter>,
    skipped: Family<ScenarioLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    hop_seconds: Family<HopLabels, Histogram, fn() -> Histogram>,
    signal_up: Family<SignalLabels, Gauge>,
    last_success: Family<SignalLabels, Gauge<f64, AtomicU64>>,
    scrape_marker: Family<ScenarioLabels, Gauge>,
    assertion_up: Family<AssertionLabels, Gauge>,
    assertion_failures: Family<AssertionFailureLabels, Counter>,
    self_trace_dropped: Counter,
    /// The hop histograms' bucket counts, per scenario: the same label sets, so as bounded.
    hop_buckets: Mutex<BTreeMap<String, BTreeMap<HopKey, BucketCounts>>>,
}

impl Default for CanaryMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl CanaryMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let probes = Family::<ScenarioLabels, Counter>::default();
        registry.register(
            "otel_canary_probes",
            "Probes completed, per scenario",
            probes.clone(),
        );
        let failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "otel_canary_probe_failures",
            "Signals that failed a probe, by the reason of their first failing hop",
            failures.clone(),
        );
        let hop_seconds =
            Family::<HopLabels, Histogram, fn() -> Histogram>::new_with_constructor(new_histogram);
        registry.register(
            "otel_canary_hop_duration_seconds",
            "Duration of each hop that completed (export, ingest, query, search, total)",
            hop_seconds.clone(),
        );
        let signal_up = Family::<SignalLabels, Gauge>::default();
        registry.register(
            "otel_canary_signal_up",
            "1 when the signal passed the scenario's last probe, 0 when it failed",
            signal_up.clone(),
        );
        let last_success = Family::<SignalLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "otel_canary_last_success_timestamp_seconds",
            "Unix time of the last probe the signal passed",
            last_success.clone(),
        );
        let skipped = Family::<ScenarioLabels, Counter>::default();
        registry.register(
            "otel_canary_probes_skipped",
            "Probes not started because --max-in-flight probes were still running",
            skipped.clone(),
        );
        let scrape_marker = Family::<ScenarioLabels, Gauge>::default();
        registry.register(
            "otel_canary_scrape_marker",
            "The scrape path's marker: the latest probe's marker (ms since the epoch), to be carried to Mimir/Prometheus by the scraper",
            scrape_marker.clone(),
        );
        let assertion_up = Family::<AssertionLabels, Gauge>::default();
        registry.register(
            "otel_canary_assertion_up",
            "1 when the scenario's [[assert]] held after its last probe, 0 when it failed",
            assertion_up.clone(),
        );
        let assertion_failures = Family::<AssertionFailureLabels, Counter>::default();
        registry.register(
            "otel_canary_assertion_failures",
            "Assertions that failed after a probe, by reason (assertion_failed, query_failed)",
            assertion_failures.clone(),
        );
        let self_trace_dropped = Counter::default();
        registry.register(
            "otel_canary_self_trace_spans_dropped",
            "Spans of the canary's own probe traces (--self-trace) not exported: the queue was full or the export failed",
            self_trace_dropped.clone(),
        );
        registry.register(
            "otel_canary_build",
            "The running otel-canary's version",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        CanaryMetrics {
            registry,
            probes,
            skipped,
            failures,
            hop_seconds,
            signal_up,
            last_success,
            scrape_marker,
            assertion_up,
            assertion_failures,
            self_trace_dropped,
            hop_buckets: Mutex::new(BTreeMap::new()),
        }
    }

    /// p50 and p95 of every hop of `scenario` that has completed at least once, in the
    /// reports' order (signals, then pull paths; each lane's hops as they happen).
    pub fn hop_quantiles(&self, scenario: &str) -> Vec<HopQuantiles> {
        let all = self.hop_buckets.lock().unwrap_or_else(|e| e.into_inner());
        let Some(hops) = all.get(scenario) else {
            return Vec::new();
        };
        let mut out: Vec<HopQuantiles> = hops
            .iter()
            .map(|(&(signal, emitter, hop), counts)| HopQuantiles {
                signal,
                emitter: emitter.0,
                hop,
                count: counts.iter().sum(),
                p50: super::quantile::bucket_quantile(0.5, &HOP_BUCKETS, counts),
                p95: super::quantile::bucket_quantile(0.95, &HOP_BUCKETS, counts),
            })
            .collect();
        report_order(&mut out);
        out
    }

    fn count_in_bucket(&self, scenario: &str, key: HopKey, secs: f64) {
        // The bucket `observe` puts it in: the first whose bound is >= the value (+Inf last;
        // NaN, which no bound holds, in +Inf as well).
        let i = HOP_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(HOP_BUCKETS.len());
        let mut all = self.hop_buckets.lock().unwrap_or_else(|e| e.into_inner());
        let counts = all
            .entry(scenario.to_string())
            .or_default()
            .entry(key)
            .or_insert([0; HOP_BUCKETS.len() + 1]);
        counts[i] += 1;
    }

    /// Counts the assertions of a probe `record` already counted. Names come from the
    /// scenario file, so the `assertion` label stays bounded.
    pub fn record_assertions(&self, scenario: &str, assertions: &[AssertionOutcome]) {
        for a in assertions {
            let labels = AssertionLabels {
                scenario: scenario.to_string(),
                assertion: a.name.clone(),
            };
            match a.status {
                Status::Ok => {
                    self.assertion_up.get_or_create(&labels).set(1);
                }
                Status::Failed => {
                    self.assertion_up.get_or_create(&labels).set(0);
                    self.assertion_failures
                        .get_or_create(&AssertionFailureLabels {
                            scenario: scenario.to_string(),
                            assertion: a.name.clone(),
                            reason: a.reason.map_or("unknown", |r| r.as_str()),
                        })
                        .inc();
                }
                Status::Skipped => {}
            }
        }
    }

    /// The counter `--self-trace` adds its dropped spans to.
    pub fn self_trace_dropped(&self) -> Counter {
        self.self_trace_dropped.clone()
    }

    /// Puts a probe's marker on the page for the scraper (the scrape pull path).
    pub fn set_scrape_marker(&self, scenario: &str, marker: f64) {
        self.scrape_marker
            .get_or_create(&ScenarioLabels {
                scenario: scenario.to_string(),
            })
            .set(marker as i64);
    }

    /// Counts one finished probe of `scenario`: its hops, its failures, and each signal's
    /// up/down state. Skipped signals (no backend to read from) leave `signal_up` alone.
    pub fn record(&self, scenario: &str, signals: &[SignalOutcome], finished: SystemTime) {
        self.probes
            .get_or_create(&ScenarioLabels {
                scenario: scenario.to_string(),
            })
            .inc();
        for s in signals {
            let lane = (s.signal.as_str(), s.status, s.reason);
            self.record_lane(
                scenario,
                lane,
                EmitterLabel::of(Some(s.emitter)),
                &s.hops,
                finished,
            );
        }
    }

    /// Counts the pull paths of a probe `record` already counted; the path is the `signal`
    /// label (`scrape`, `log_line`), so dashboards and alerts treat them alike.
    pub fn record_pulls(&self, scenario: &str, pulls: &[PullOutcome], finished: SystemTime) {
        for p in pulls {
            let lane = (p.path.as_str(), p.status, p.reason);
            self.record_lane(scenario, lane, EmitterLabel::default(), &p.hops, finished);
        }
    }

    fn record_lane(
        &self,
        scenario: &str,
        (signal, status, reason): (&'static str, Status, Option<Reason>),
        emitter: EmitterLabel,
        hops: &[Hop],
        finished: SystemTime,
    ) {
        let scenario = scenario.to_string();
        let now = finished
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        for h in hops.iter().filter(|h| h.status == Status::Ok) {
            if let Some(secs) = h.seconds {
                self.count_in_bucket(&scenario, (signal, emitter, h.hop.as_str()), secs);
                self.hop_seconds
                    .get_or_create(&HopLabels {
                        scenario: scenario.clone(),
                        signal,
                        hop: h.hop.as_str(),
                        emitter,
                    })
                    .observe(secs);
            }
        }
        let labels = SignalLabels {
            scenario: scenario.clone(),
            signal,
            emitter,
        };
        match status {
            Status::Failed => {
                self.failures
                    .get_or_create(&FailureLabels {
                        scenario,
                        signal,
                        reason: reason.map_or("unknown", |r| r.as_str()),
                        emitter,
                    })
                    .inc();
                self.signal_up.get_or_create(&labels).set(0);
            }
            Status::Ok => {
                self.signal_up.get_or_create(&labels).set(1);
                self.last_success.get_or_create(&labels).set(now);
            }
            Status::Skipped => {}
        }
    }

    /// Counts a probe that was not started because too many were still in flight.
    pub fn skipped(&self, scenario: &str) {
        self.skipped
            .get_or_create(&ScenarioLabels {
                scenario: scenario.to_string(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition of everything.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::error_class::ErrorClass;
    use crate::roundtrip::outcome::{Hop, HopName, Reason};
    use crate::signal::Signal;

    fn outcome(signal: Signal, status: Status, reason: Option<Reason>) -> SignalOutcome {
        let export = crate::emit::outcome::ExportOutcome {
            signal,
            emitter: Emitter::Wire,
            url: crate::config::Sourced::default_value(
                url::Url::parse("http://localhost:4318/v1/traces").unwrap(),
            ),
            protocol: crate::config::Sourced::default_value(
                crate::config::otlp::Protocol::HttpProtobuf,
            ),
            compression: crate::config::otlp::Compression::None,
            headers: Vec::new(),
            payload_bytes: 1,
            bytes_sent: Some(1),
            attempts: Vec::new(),
            sdk: None,
        };
        SignalOutcome {
            signal,
            emitter: Emitter::Wire,
            sent_at: 0.0,
            status,
            reason,
            hint: None,
            export,
            read: None,
            hops: vec![
                Hop::ok(HopName::Export, 0.003),
                Hop::ok(HopName::Ingest, 1.2),
            ],
            checks: Vec::new(),
            clues: Vec::new(),
        }
    }

    fn line<'a>(text: &'a str, starts: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(starts))
    }

    #[test]
    fn a_probe_moves_counters_gauges_and_histograms() {
        let m = CanaryMetrics::new();
        let at = UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        m.record(
            "lgtm",
            &[
                outcome(Signal::Trace, Status::Ok, None),
                outcome(Signal::Log, Status::Failed, Some(Reason::NotFound)),
                outcome(
                    Signal::Metric,
                    Status::Failed,
                    Some(Reason::Export(ErrorClass::ConnectRefused)),
                ),
            ],
            at,
        );
        m.skipped("lgtm");
        let text = m.encode();
        assert!(
            line(&text, r#"otel_canary_probes_total{scenario="lgtm"} 1"#).is_some(),
            "{text}"
        );
        assert!(
            line(&text, r#"otel_canary_probe_failures_total{scenario="lgtm",signal="log",reason="not_found"} 1"#).is_some(),
            "{text}"
        );
        assert!(
            line(&text, r#"otel_canary_probe_failures_total{scenario="lgtm",signal="metric",reason="connect_refused"} 1"#).is_some(),
            "{text}"
        );
        assert!(
            line(
                &text,
                r#"otel_canary_signal_up{scenario="lgtm",signal="trace"} 1"#
            )
            .is_some()
        );
        assert!(
            line(
                &text,
                r#"otel_canary_signal_up{scenario="lgtm",signal="log"} 0"#
            )
            .is_some()
        );
        assert!(
            line(&text, r#"otel_canary_last_success_timestamp_seconds{scenario="lgtm",signal="trace"} 1800000000"#).is_some(),
            "{text}"
        );
        assert!(
            line(
                &text,
                r#"otel_canary_last_success_timestamp_seconds{scenario="lgtm",signal="log"}"#
            )
            .is_none(),
            "a signal that never passed has no last success"
        );
        // 3 ms of export falls in the first bucket; 1.2 s of ingest not before 2.5 s.
        assert!(
            line(&text, r#"otel_canary_hop_duration_seconds_bucket{le="0.005",scenario="lgtm",signal="trace",hop="export"} 1"#).is_some(),
            "{text}"
        );
        assert!(
            line(&text, r#"otel_canary_hop_duration_seconds_bucket{le="1.0",scenario="lgtm",signal="trace",hop="ingest"} 0"#).is_some(),
            "{text}"
        );
        assert!(
            line(&text, r#"otel_canary_hop_duration_seconds_bucket{le="2.5",scenario="lgtm",signal="trace",hop="ingest"} 1"#).is_some(),
            "{text}"
        );
        assert!(
            line(
                &text,
                r#"otel_canary_probes_skipped_total{scenario="lgtm"} 1"#
            )
            .is_some()
        );
        assert!(
            line(
                &text,
                &format!(
                    r#"otel_canary_build_info{{version="{}"}} 1"#,
                    env!("CARGO_PKG_VERSION")
                )
            )
            .is_some(),
            "{text}"
        );
    }

    #[test]
    fn quantiles_come_from_the_buckets_the_histogram_exposes() {
        let m = CanaryMetrics::new();
        for secs in [0.003, 0.2, 0.3, 0.4, 1.2, 7.0] {
            let mut o = outcome(Signal::Trace, Status::Ok, None);
            o.hops[1].seconds = Some(secs);
            m.record("lgtm", &[o], UNIX_EPOCH);
        }
        let text = m.encode();
        // The kept counts, summed up, are the exposition's cumulative buckets.
        let mut cumulative = 0;
        let kept = m.hop_buckets.lock().unwrap()["lgtm"][&("trace", EmitterLabel(None), "ingest")];
        for (i, le) in HOP_BUCKETS.iter().enumerate() {
            cumulative += kept[i];
            let series = format!(
                r#"otel_canary_hop_duration_seconds_bucket{{le="{le:?}",scenario="lgtm",signal="trace",hop="ingest"}} {cumulative}"#
            );
            assert!(line(&text, &series).is_some(), "{series}\n{text}");
        }
        let q = m.hop_quantiles("lgtm");
        assert_eq!(
            q.iter().map(|q| q.hop).collect::<Vec<_>>(),
            ["export", "ingest"],
            "report order"
        );
        let ingest = &q[1];
        assert_eq!(
            (ingest.signal, ingest.emitter, ingest.count),
            ("trace", None, 6)
        );
        // Rank 3 of 6 falls half-way into (0.25, 0.5], which holds 0.3 and 0.4.
        assert!((ingest.p50.unwrap() - 0.375).abs() < 1e-9, "{ingest:?}");
        // Rank 5.7 falls into (5, 10], which holds 7.0 only.
        assert!((ingest.p95.unwrap() - 8.5).abs() < 1e-9, "{ingest:?}");
        assert!(m.hop_quantiles("other").is_empty());
    }

    #[test]
    fn series_stay_bounded_however_many_probes_run() {
        let m = CanaryMetrics::new();
        for i in 0..5_000u64 {
            let status = if i % 2 == 0 {
                Status::Ok
            } else {
                Status::Failed
            };
            let reason = (status == Status::Failed).then_some(Reason::NotFound);
            m.record(
                "lgtm",
                &[outcome(Signal::Log, status, reason)],
                UNIX_EPOCH + std::time::Duration::from_secs(i),
            );
        }
        let text = m.encode();
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        let once = {
            let m = CanaryMetrics::new();
            m.record(
                "lgtm",
                &[outcome(Signal::Log, Status::Ok, None)],
                UNIX_EPOCH,
            );
            m.record(
                "lgtm",
                &[outcome(Signal::Log, Status::Failed, Some(Reason::NotFound))],
                UNIX_EPOCH,
            );
            m.encode().lines().filter(|l| !l.starts_with('#')).count()
        };
        assert_eq!(series, once, "5,000 probes expose the same series as two");
        assert!(line(&text, r#"otel_canary_probes_total{scenario="lgtm"} 5000"#).is_some());
    }
}
