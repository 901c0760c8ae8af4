//! After a signal was not found by its deadline: one short, bounded look beyond the configured
//! query, so the report can say where the data went instead of only that it is missing. Is
//! the log in Loki under other labels? Did the marker arrive under another name? Does Tempo
//! itself answer? Each answer becomes a `Clue`; a clue that explains the failure becomes the
//! hint.

use super::RoundTrip;
use super::outcome::Clue;
use crate::backends::QueryError;
use crate::backends::loki::{LogElsewhere, LogMatch};
use crate::backends::prometheus::MetricElsewhere;
use crate::backends::self_metrics::{SelfMetricsReader, Snapshot};
use crate::diagnose::pipeline_delta::{PipelineDelta, PipelineFinding, PipelineVerdict};
use crate::emit::payload::MARKER_METRIC;
use crate::probe::Probe;
use crate::signal::Signal;
use std::collections::BTreeMap;
use std::time::Duration;

/// The whole look may take this long after the deadline, at most; with the identity look's
/// 0.5 s and the reads before the probe it stays within `super::OVERRUN` (1.5 s).
pub(super) const BUDGET: Duration = Duration::from_secs(1);

/// The pipeline's own metrics pages as they were before the probe was sent.
#[derive(Default)]
pub(super) struct PagesBefore {
    collector: Option<Result<Snapshot, QueryError>>,
    tempo: Option<Result<Snapshot, QueryError>>,
}

/// Reads before the probe (the pipeline's pages, derived counters' baselines) may take this
/// long: they delay every probe, and a hung page must not hold it.
pub(super) const PRE_PROBE_BUDGET: Duration = Duration::from_millis(500);

async fn snapshot(reader: Option<&SelfMetricsReader>) -> Option<Result<Snapshot, QueryError>> {
    let reader = reader?;
    Some(
        tokio::time::timeout(PRE_PROBE_BUDGET, reader.snapshot())
            .await
            .unwrap_or_else(|_| {
                Err(QueryError {
                    class: crate::diagnose::error_class::ErrorClass::Timeout,
                    status: None,
                    message: format!("no answer within {PRE_PROBE_BUDGET:?}"),
                })
            }),
    )
}

/// One component's finding from its page before and after, or why there is none.
async fn page_clue(
    source: &'static str,
    reader: Option<&SelfMetricsReader>,
    before: Option<&Result<Snapshot, QueryError>>,
    finding: impl Fn(&PipelineDelta) -> PipelineFinding,
) -> Option<Clue> {
    let reader = reader?;
    let url = crate::redact::redact_url(reader.url());
    let before = match before? {
        Ok(b) => b,
        Err(e) => {
            return Some(Clue::unread(
                source,
                format!("the metrics page {url} could not be read before the probe: {e}"),
            ));
        }
    };
    let after = match reader.snapshot().await {
        Ok(a) => a,
        Err(e) => {
            return Some(Clue::unread(
                source,
                format!("the metrics page {url} could not be read after the deadline: {e}"),
            ));
        }
    };
    let f = finding(&PipelineDelta::between(before, &after));
    let explains = f.verdict.is_failure()
        || matches!(
            f.verdict,
            PipelineVerdict::NotReceived | PipelineVerdict::TempoNotReceived
        );
    let clue = Clue::new(source, f.sentence);
    Some(if explains { clue.explaining() } else { clue })
}

impl RoundTrip {
    /// Reads the pipeline's metrics pages (when configured) before a probe is sent.
    pub(super) async fn pages_before(&self) -> PagesBefore {
        let (collector, tempo) = tokio::join!(
            snapshot(self.collector_metrics.as_ref()),
            snapshot(self.tempo_metrics.as_ref())
        );
        PagesBefore { collector, tempo }
    }

    /// What a look beyond the configured query found for a signal that was not found.
    pub(super) async fn post_mortem(
        &self,
        signal: Signal,
        probe: &Probe,
        before: &PagesBefore,
        within: Duration,
    ) -> Vec<Clue> {
        let look = async {
            let pages = async {
                let collector = page_clue(
                    "collector_metrics",
                    self.collector_metrics.as_ref(),
                    before.collector.as_ref(),
                    |d| d.collector_finding(signal),
                );
                let tempo = async {
                    if signal != Signal::Trace {
                        return None;
                    }
                    page_clue(
                        "backend_metrics",
                        self.tempo_metrics.as_ref(),
                        before.tempo.as_ref(),
                        PipelineDelta::tempo_finding,
                    )
                    .await
                };
                let (c, t) = tokio::join!(collector, tempo);
                c.into_iter().chain(t).collect::<Vec<_>>()
            };
            let backend = async {
                match signal {
                    Signal::Trace => self.trace_clues().await,
                    Signal::Log => self.log_clues(probe).await,
                    Signal::Metric => self.metric_clues(probe).await,
                }
            };
            let (mut pages, backend) = tokio::join!(pages, backend);
            // The pipeline's own counters name the failing hop most precisely: first.
            pages.extend(backend);
            pages
        };
        match tokio::time::timeout(within, look).await {
            Ok(clues) => clues,
            Err(_) => vec![Clue::new(
                "post_mortem",
                format!(
                    "the look beyond the query took longer than {:.1}s and was abandoned",
                    within.as_secs_f64()
                ),
            )],
        }
    }

    async fn trace_clues(&self) -> Vec<Clue> {
        let Some(tempo) = &self.tempo else {
            return Vec::new();
        };
        vec![match tempo.ready().await {
            Ok(text) => Clue::new(
                "tempo_ready",
                format!(
                    "Tempo answers /ready ({}): Tempo is up, so the spans were lost before it \
                     (the collector's traces pipeline) or refused inside it (its distributor \
                     and ingester metrics)",
                    text.lines().next().unwrap_or("ready")
                ),
            ),
            Err(e) => Clue::new(
                "tempo_ready",
                format!("Tempo is not ready ({e}): it cannot ingest or serve traces until it is"),
            )
            .explaining(),
        }]
    }

    async fn log_clues(&self, probe: &Probe) -> Vec<Clue> {
        let Some(loki) = &self.loki else {
            return Vec::new();
        };
        vec![match loki.look_elsewhere(probe).await {
            Ok(Some(found)) => log_found_elsewhere(&found, &self.read.log_selector.value),
            Ok(None) => Clue::new(
                "loki_search",
                "a search of Loki's streams for the probe id found nothing: the log never \
                 reached Loki",
            ),
            Err(e) => Clue::new(
                "loki_search",
                format!("the search for the probe id under other labels failed: {e}"),
            ),
        }]
    }

    async fn metric_clues(&self, probe: &Probe) -> Vec<Clue> {
        let Some(m) = &self.metrics else {
            return Vec::new();
        };
        vec![match m.reader.look_elsewhere(probe).await {
            Ok(found) => metric_found_elsewhere(&found, probe.marker),
            Err(e) => Clue::new(
                "metric_names",
                format!("the search for the marker under other names failed: {e}"),
            ),
        }]
    }
}

/// `{a="1", b="2"}`.
fn selector_of(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The one label a user would select the canary's stream by.
fn suggested_selector(stream: &BTreeMap<String, String>) -> String {
    let pick = ["job", "service_name"]
        .iter()
        .find_map(|k| stream.get_key_value(*k))
        .or_else(|| stream.iter().next());
    match pick {
        Some((k, v)) => format!("{{{k}=\"{v}\"}}"),
        None => "{…}".into(),
    }
}

fn log_found_elsewhere(found: &LogElsewhere, selector: &str) -> Clue {
    let labels = selector_of(&found.stream);
    let suggest = suggested_selector(&found.stream);
    let finding = if found.stream.get("exporter").map(String::as_str) == Some("OTLP")
        && !found.probe_id_in_metadata
    {
        format!(
            "the probe's log is in Loki under {labels}, with the probe id only inside a JSON \
             line: the pipeline writes logs through a Loki exporter (Alloy's \
             otelcol.exporter.loki or the collector's lokiexporter), not Loki's OTLP endpoint; \
             set --log-selector '{suggest}' --log-match {}, or send logs to Loki's /otlp \
             endpoint with an otlphttp exporter",
            LogMatch::Line
        )
    } else if !found.probe_id_in_metadata {
        format!(
            "the probe's log is in Loki under {labels}, with the probe id only in the line (no \
             canary_probe_id structured metadata): set --log-selector '{suggest}' --log-match {}",
            LogMatch::Line
        )
    } else if selects(selector, &found.stream) {
        format!(
            "the probe's log is in Loki under {labels} as expected, but became queryable only \
             after the deadline: raise --log-timeout"
        )
    } else {
        format!(
            "the probe's log is in Loki under {labels}, which the selector {selector} does not \
             match: set --log-selector '{suggest}'"
        )
    };
    Clue::new("loki_labels", finding).explaining()
}

/// Whether a selector of plain `name="value"` matchers selects a stream; a selector with any
/// other matcher counts as not selecting it (the hint then suggests a plain one).
fn selects(selector: &str, stream: &BTreeMap<String, String>) -> bool {
    let inner = selector
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}');
    inner.split(',').all(|m| match m.split_once('=') {
        Some((k, v)) if !k.ends_with('!') && !v.starts_with('~') => {
            stream.get(k.trim()).map(String::as_str) == Some(v.trim().trim_matches('"'))
        }
        _ => false,
    })
}

/// A PromQL selector for a series: `name{job="x"}`, or `{"dotted.name", job="x"}` for a
/// name only UTF-8-aware PromQL accepts.
fn promql_selector(name: &str, labels: &BTreeMap<String, String>) -> String {
    let pick: Vec<String> = ["job", "instance"]
        .iter()
        .filter_map(|k| labels.get(*k).map(|v| format!("{k}=\"{v}\"")))
        .collect();
    let legacy = name.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    });
    match (legacy, pick.is_empty()) {
        (true, true) => name.to_string(),
        (true, false) => format!("{name}{{{}}}", pick.join(", ")),
        (false, _) => {
            let mut parts = vec![format!("\"{name}\"")];
            parts.extend(pick);
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn metric_found_elsewhere(found: &[MetricElsewhere], marker: f64) -> Clue {
    let Some(first) = found.first() else {
        return Clue::new(
            "metric_names",
            "no series named like otel_canary* exists at all: no canary metric ever reached \
             this backend",
        );
    };
    let labels = selector_of(&first.labels);
    let suggest = promql_selector(&first.name, &first.labels);
    if first.holds_marker && first.name != MARKER_METRIC {
        Clue::new(
            "metric_names",
            format!(
                "the marker arrived as {}{labels} (the pipeline renames it: a unit or type \
                 suffix, or UTF-8 names kept as sent); set --metric-selector '{suggest}'",
                first.name
            ),
        )
        .explaining()
    } else if first.holds_marker {
        Clue::new(
            "metric_names",
            format!(
                "the marker is there under {labels}, which the canary did not pick out as its \
                 own (the pipeline relabels job/instance); set --metric-selector '{suggest}'"
            ),
        )
        .explaining()
    } else {
        let names: Vec<String> = found
            .iter()
            .map(|m| format!("{}{}", m.name, selector_of(&m.labels)))
            .collect();
        Clue::new(
            "metric_names",
            format!(
                "series named like the marker exist ({}), but none holds this probe's value {}: \
                 earlier probes arrived, this one did not (yet)",
                names.join("; "),
                marker
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn promql_selectors_quote_utf8_names() {
        let l = labels(&[("job", "otel-canary"), ("instance", "h1"), ("x", "y")]);
        assert_eq!(
            promql_selector("otel_canary_probe_marker_ratio", &l),
            r#"otel_canary_probe_marker_ratio{job="otel-canary", instance="h1"}"#
        );
        assert_eq!(
            promql_selector("otel.canary.probe.marker", &l),
            r#"{"otel.canary.probe.marker", job="otel-canary", instance="h1"}"#
        );
    }

    #[test]
    fn plain_selectors_are_matched() {
        let stream = labels(&[("service_name", "otel-canary"), ("job", "x")]);
        assert!(selects(r#"{service_name="otel-canary"}"#, &stream));
        assert!(selects(
            r#"{ service_name = "otel-canary", job="x" }"#,
            &stream
        ));
        assert!(!selects(r#"{service_name="other"}"#, &stream));
        assert!(!selects(r#"{service_name=~"otel.*"}"#, &stream));
        assert!(!selects(r#"{job!="y"}"#, &stream));
    }

    #[test]
    fn a_loki_exporter_stream_is_named_as_such() {
        let found = LogElsewhere {
            stream: labels(&[
                ("exporter", "OTLP"),
                ("job", "otel-canary"),
                ("level", "INFO"),
            ]),
            probe_id_in_metadata: false,
        };
        let clue = log_found_elsewhere(&found, r#"{service_name="otel-canary"}"#);
        assert!(clue.explains);
        assert!(clue.finding.contains("Loki exporter"), "{}", clue.finding);
        assert!(
            clue.finding
                .contains(r#"--log-selector '{job="otel-canary"}' --log-match line"#),
            "{}",
            clue.finding
        );
    }
}
