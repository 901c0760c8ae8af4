//! Derived-signal hops on the trace (incident 9): after the probe's trace is visible by id,
//! are the series dashboards read from it there too? Span metrics and the service graph are
//! counters the metrics-generator remote-writes: each is read before the probe and must rise
//! after it (no series is created per probe). TraceQL metrics must count the probe's own
//! client span (filtered by service and probe id: a query, not a series). Each hop has its own deadline, counted from the export ack like
//! every read, and is measured on that same axis (`seconds` = ack -> derived visible).

use super::outcome::{Hop, HopName, Reason, Status};
use super::{Window, deadline_verdict};
use crate::backends::QueryError;
use crate::backends::prometheus::{PrometheusReader, Sample};
use crate::backends::tempo::{MetricsSeen, TempoReader, metrics_window};
use crate::config::derived::{DerivedCheck, DerivedTarget};
use crate::diagnose::derived_hint::{
    DerivedContext, SeriesSeen, baseline_hint, missing_hint, refused_hint, silent_hint,
};
use crate::emit::payload::{CLIENT_SPAN_NAME, PROBE_ID_ATTRIBUTE};
use crate::poll::{PollEnd, PollPolicy, Read, poll};
use crate::probe::Probe;
use std::sync::Mutex;
use std::time::Duration;

/// The span-metrics call counter.
pub const SPAN_METRICS: &str = "traces_spanmetrics_calls_total";
/// The service-graph request counter.
pub const SERVICE_GRAPH: &str = "traces_service_graph_request_total";

/// A PromQL string literal.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The metrics backend the counters are read from.
pub(super) struct CounterSource {
    pub reader: PrometheusReader,
    /// `Mimir` or `Prometheus`.
    pub title: &'static str,
    /// As shown in hints (redacted).
    pub url: String,
}

/// The derived checks of one round trip.
pub(super) struct DerivedChecks {
    pub target: DerivedTarget,
    pub counters: Option<CounterSource>,
    /// The Tempo URL, for hints.
    pub tempo_url: String,
    pub tenant: Option<String>,
    /// The probe's client service and its peer (the server span's service).
    pub service: String,
    pub peer: String,
}

/// A counter's value before the probe: `Ok(None)` when it has no series yet.
pub(super) type Baseline = Result<Option<f64>, QueryError>;

/// What was read before the probe, per counter check.
#[derive(Default)]
pub(super) struct Baselines {
    span_metrics: Option<Baseline>,
    service_graph: Option<Baseline>,
}

/// The one value of a `sum(...)` answer; `None` when nothing matched.
fn total(samples: &[Sample]) -> Option<f64> {
    (!samples.is_empty()).then(|| samples.iter().map(|s| s.value).sum())
}

impl DerivedChecks {
    fn counter_query(&self, check: DerivedCheck) -> String {
        match check {
            DerivedCheck::SpanMetrics => format!(
                "sum({SPAN_METRICS}{{service={}, span_name={}}})",
                quoted(&self.service),
                quoted(CLIENT_SPAN_NAME)
            ),
            DerivedCheck::ServiceGraph => format!(
                "sum({SERVICE_GRAPH}{{client={}, server={}}})",
                quoted(&self.service),
                quoted(&self.peer)
            ),
            DerivedCheck::TraceqlMetrics => String::new(),
        }
    }

    /// The probe's own client span, counted: an earlier probe's spans of the same service
    /// cannot answer for this one (a bare `{ resource.service.name = … } | rate()` would).
    fn traceql_query(&self, probe: &Probe) -> String {
        format!(
            "{{ resource.service.name = {} && span.{PROBE_ID_ATTRIBUTE} = {} }} | count_over_time()",
            quoted(&self.service),
            quoted(&probe.probe_id.to_string())
        )
    }

    fn subject(&self, check: DerivedCheck) -> String {
        match check {
            DerivedCheck::ServiceGraph => format!("{} -> {}", self.service, self.peer),
            _ => self.service.clone(),
        }
    }

    fn context<'a>(
        &'a self,
        check: DerivedCheck,
        query: &'a str,
        subject: &'a str,
    ) -> DerivedContext<'a> {
        let (backend, backend_url) = match (check.reads_metrics(), &self.counters) {
            (true, Some(c)) => (c.title, c.url.as_str()),
            _ => ("Tempo", self.tempo_url.as_str()),
        };
        DerivedContext {
            check,
            query,
            metric: match check {
                DerivedCheck::SpanMetrics => SPAN_METRICS,
                DerivedCheck::ServiceGraph => SERVICE_GRAPH,
                DerivedCheck::TraceqlMetrics => "",
            },
            backend,
            backend_url,
            deadline_seconds: self.target.timeout.value.as_secs_f64(),
            tenant: self.tenant.as_deref(),
            subject,
        }
    }

    fn has(&self, check: DerivedCheck) -> bool {
        self.target.checks.value.contains(&check)
    }

    async fn read_total(&self, query: String) -> Result<Option<f64>, QueryError> {
        let Some(c) = &self.counters else {
            return Ok(None);
        };
        match c.reader.instant::<()>(query).await {
            Ok(samples) => Ok(total(&samples)),
            Err(Read::Retry(e) | Read::Refused(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// Reads the counters before the probe is sent, bounded by `limit`.
    pub async fn baselines(&self, limit: Duration) -> Baselines {
        let read = |check| async move {
            if !self.has(check) {
                return None;
            }
            let q = self.counter_query(check);
            Some(
                tokio::time::timeout(limit, self.read_total(q))
                    .await
                    .unwrap_or_else(|_| {
                        Err(QueryError {
                            class: crate::diagnose::error_class::ErrorClass::Timeout,
                            status: None,
                            message: format!("no answer within {limit:?}"),
                        })
                    }),
            )
        };
        let (span_metrics, service_graph) = tokio::join!(
            read(DerivedCheck::SpanMetrics),
            read(DerivedCheck::ServiceGraph)
        );
        Baselines {
            span_metrics,
            service_graph,
        }
    }

    /// The derived hops, skipped because the trace never became visible by id.
    pub fn skipped(&self) -> Vec<Hop> {
        self.target
            .checks
            .value
            .iter()
            .map(|c| Hop {
                detail: Some("skipped: the trace was not visible by id".into()),
                ..Hop::new(hop_name(*c), Status::Skipped)
            })
            .collect()
    }

    /// Polls every derived check (concurrently) once the trace is visible by id.
    pub async fn verify(
        &self,
        probe: &Probe,
        window: Window,
        policy: PollPolicy,
        tempo: Option<&TempoReader>,
        baselines: &Baselines,
    ) -> Vec<Hop> {
        let deadline = window.limit(window.ack + self.target.timeout.value);
        let counter = |check: DerivedCheck| async move {
            let base = match check {
                DerivedCheck::SpanMetrics => baselines.span_metrics.as_ref(),
                _ => baselines.service_graph.as_ref(),
            };
            match base {
                None => None,
                Some(b) => Some(
                    self.verify_counter(check, b, window, deadline, policy)
                        .await,
                ),
            }
        };
        let traceql = async {
            if !self.has(DerivedCheck::TraceqlMetrics) {
                return None;
            }
            Some(match tempo {
                Some(t) => {
                    self.verify_traceql(t, probe, window, deadline, policy)
                        .await
                }
                None => Hop::failed(
                    HopName::TraceqlMetrics,
                    Reason::QueryFailed,
                    "no Tempo URL to ask",
                ),
            })
        };
        let (span, graph, tql) = tokio::join!(
            counter(DerivedCheck::SpanMetrics),
            counter(DerivedCheck::ServiceGraph),
            traceql
        );
        [span, graph, tql].into_iter().flatten().collect()
    }

    async fn verify_counter(
        &self,
        check: DerivedCheck,
        baseline: &Baseline,
        window: Window,
        deadline: std::time::Instant,
        policy: PollPolicy,
    ) -> Hop {
        let name = hop_name(check);
        let query = self.counter_query(check);
        let subject = self.subject(check);
        let ctx = self.context(check, &query, &subject);
        let before = match baseline {
            Ok(b) => *b,
            Err(e) => {
                return Hop {
                    hint: Some(baseline_hint(&ctx, e)),
                    ..Hop::failed(name, Reason::QueryFailed, format!("{query}: {e}"))
                };
            }
        };
        let Some(counters) = &self.counters else {
            return Hop::failed(name, Reason::QueryFailed, "no metrics backend to ask");
        };
        // A counter that went down was reset (a generator restart): judge the rise from there.
        let floor = Mutex::new(before);
        let polled = poll(window.ack.into(), deadline.into(), policy, || async {
            match counters.reader.instant::<f64>(query.clone()).await {
                Err(read) => read,
                Ok(samples) => match (total(&samples), *floor.lock().expect("floor")) {
                    (None, _) => Read::NotYet("no series yet".into()),
                    (Some(v), Some(b)) if v < b => {
                        *floor.lock().expect("floor") = Some(v);
                        Read::NotYet(format!("reset to {v} (was {b} before the probe)"))
                    }
                    (Some(v), Some(b)) if v <= b => {
                        Read::NotYet(format!("still {v}, as before the probe"))
                    }
                    (Some(v), _) => Read::Visible(v),
                },
            }
        })
        .await;
        let queries = Some(polled.queries);
        let reads = polled.reads.clone();
        let from = before.map_or("no series".to_string(), |b| b.to_string());
        let hop = match polled.end {
            PollEnd::Found(v, vis) => Hop {
                seconds: Some(vis.estimate()),
                visible_after: Some(vis.after),
                visible_by: Some(vis.by),
                resolution: Some(vis.resolution()),
                queries,
                detail: Some(format!("{query}: {from} -> {v}")),
                ..Hop::new(name, Status::Ok)
            },
            PollEnd::Refused { error, .. } => Hop {
                queries,
                hint: Some(refused_hint(&ctx, &error)),
                ..Hop::failed(name, Reason::QueryFailed, format!("{query}: {error}"))
            },
            PollEnd::Deadline {
                last_seen,
                partial,
                last_error,
                unanswered,
                last,
            } => {
                let (reason, detail) = deadline_verdict(
                    last_seen.as_deref(),
                    partial,
                    last_error.as_ref(),
                    unanswered,
                    last,
                    polled.queries,
                );
                let (reason, detail, hint) = match reason {
                    Reason::NotFound | Reason::Incomplete => {
                        let seen = self.look_around(counters, check).await;
                        (
                            Reason::DerivedMissing,
                            format!(
                                "{query} did not rise before the deadline (before the probe: \
                                 {from}); last read: {}",
                                last_seen.as_deref().unwrap_or("none completed")
                            ),
                            missing_hint(&ctx, &seen),
                        )
                    }
                    Reason::Timeout => (
                        reason,
                        format!("{query}: {detail}"),
                        silent_hint(&ctx, unanswered, polled.queries, last_error.as_ref()),
                    ),
                    _ => (
                        reason,
                        format!("{query}: {detail}"),
                        match &last_error {
                            Some(e) => refused_hint(&ctx, e),
                            None => format!("{} could not be asked for {query}", ctx.backend),
                        },
                    ),
                };
                Hop {
                    queries,
                    hint: Some(hint),
                    ..Hop::failed(name, reason, detail)
                }
            }
        };
        Hop { reads, ..hop }
    }

    /// After a counter never rose: does the metric exist at all, and for whom?
    async fn look_around(&self, counters: &CounterSource, check: DerivedCheck) -> SeriesSeen {
        let (metric, by) = match check {
            DerivedCheck::SpanMetrics => (SPAN_METRICS, "service"),
            DerivedCheck::ServiceGraph => (SERVICE_GRAPH, "client, server"),
            DerivedCheck::TraceqlMetrics => return SeriesSeen::Unknown,
        };
        let query = format!("count by ({by}) ({metric})");
        let answer = tokio::time::timeout(
            super::post_mortem::BUDGET,
            counters.reader.instant::<()>(query),
        )
        .await;
        let Ok(Ok(samples)) = answer else {
            return SeriesSeen::Unknown;
        };
        let subject = |s: &Sample| match check {
            DerivedCheck::ServiceGraph => format!(
                "{} -> {}",
                s.labels.get("client").map_or("?", String::as_str),
                s.labels.get("server").map_or("?", String::as_str)
            ),
            _ => s.labels.get("service").cloned().unwrap_or_default(),
        };
        let mine = self.subject(check);
        let subjects: Vec<String> = samples.iter().map(subject).collect();
        if subjects.is_empty() {
            return SeriesSeen::None;
        }
        if subjects.contains(&mine) {
            let current = self.read_total(self.counter_query(check)).await;
            return match current {
                Ok(Some(v)) => SeriesSeen::OursStill(v),
                _ => SeriesSeen::Unknown,
            };
        }
        let mut others = subjects;
        others.sort();
        others.truncate(5);
        SeriesSeen::OthersOnly(others)
    }

    async fn verify_traceql(
        &self,
        tempo: &TempoReader,
        probe: &Probe,
        window: Window,
        deadline: std::time::Instant,
        policy: PollPolicy,
    ) -> Hop {
        let name = HopName::TraceqlMetrics;
        let query = self.traceql_query(probe);
        let subject = self.subject(DerivedCheck::TraceqlMetrics);
        let ctx = self.context(DerivedCheck::TraceqlMetrics, &query, &subject);
        let polled = poll(window.ack.into(), deadline.into(), policy, || {
            tempo.traceql_metrics(&query, metrics_window(probe))
        })
        .await;
        let queries = Some(polled.queries);
        let reads = polled.reads.clone();
        let hop = match polled.end {
            PollEnd::Found(MetricsSeen { series, max }, vis) => Hop {
                seconds: Some(vis.estimate()),
                visible_after: Some(vis.after),
                visible_by: Some(vis.by),
                resolution: Some(vis.resolution()),
                queries,
                detail: Some(format!("{query}: {series} series, {max} span(s)")),
                ..Hop::new(name, Status::Ok)
            },
            PollEnd::Refused { error, .. } => Hop {
                queries,
                hint: Some(refused_hint(&ctx, &error)),
                ..Hop::failed(name, Reason::QueryFailed, format!("{query}: {error}"))
            },
            PollEnd::Deadline {
                last_seen,
                partial,
                last_error,
                unanswered,
                last,
            } => {
                let (reason, detail) = deadline_verdict(
                    last_seen.as_deref(),
                    partial,
                    last_error.as_ref(),
                    unanswered,
                    last,
                    polled.queries,
                );
                let (reason, detail, hint) = match reason {
                    Reason::NotFound | Reason::Incomplete => (
                        Reason::DerivedMissing,
                        format!(
                            "{query}: no span counted before the deadline; last read: {}",
                            last_seen.as_deref().unwrap_or("none completed")
                        ),
                        missing_hint(&ctx, &SeriesSeen::Unknown),
                    ),
                    Reason::Timeout => (
                        reason,
                        format!("{query}: {detail}"),
                        silent_hint(&ctx, unanswered, polled.queries, last_error.as_ref()),
                    ),
                    _ => (
                        reason,
                        format!("{query}: {detail}"),
                        match &last_error {
                            Some(e) => refused_hint(&ctx, e),
                            None => format!("Tempo could not be asked for {query}"),
                        },
                    ),
                };
                Hop {
                    queries,
                    hint: Some(hint),
                    ..Hop::failed(name, reason, detail)
                }
            }
        };
        Hop { reads, ..hop }
    }
}

/// The hop a check reports as.
pub fn hop_name(check: DerivedCheck) -> HopName {
    match check {
        DerivedCheck::SpanMetrics => HopName::SpanMetrics,
        DerivedCheck::ServiceGraph => HopName::ServiceGraph,
        DerivedCheck::TraceqlMetrics => HopName::TraceqlMetrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_strings_are_quoted() {
        assert_eq!(quoted("otel-canary"), "\"otel-canary\"");
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
