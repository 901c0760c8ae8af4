//! Hints for derived-signal hops (incident 9): the trace reached Tempo, but what dashboards
//! read from it (span metrics, the service graph, TraceQL metrics) did not appear. Each names
//! the Tempo settings that decide it, in the order they usually break.

use crate::backends::QueryError;
use crate::config::derived::DerivedCheck;

/// What a derived hint may draw on.
#[derive(Debug)]
pub struct DerivedContext<'a> {
    pub check: DerivedCheck,
    /// The counter query, or the TraceQL metrics query.
    pub query: &'a str,
    /// The metric the counter query reads (`traces_spanmetrics_calls_total`); empty for
    /// TraceQL metrics.
    pub metric: &'a str,
    /// `Mimir`, `Prometheus` (the metrics backend), or `Tempo`.
    pub backend: &'a str,
    pub backend_url: &'a str,
    pub deadline_seconds: f64,
    /// The tenant reads and writes use, if any.
    pub tenant: Option<&'a str>,
    /// The probe's client service (span metrics) or `client -> server` edge (service graph).
    pub subject: &'a str,
}

fn secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}

fn overrides(tenant: Option<&str>) -> String {
    match tenant {
        Some(t) => format!(
            "overrides.defaults.metrics_generator.processors (or tenant {t}'s per-tenant override)"
        ),
        None => "overrides.defaults.metrics_generator.processors".to_string(),
    }
}

fn processor(check: DerivedCheck) -> &'static str {
    match check {
        DerivedCheck::SpanMetrics => "span-metrics",
        DerivedCheck::ServiceGraph => "service-graphs",
        DerivedCheck::TraceqlMetrics => "local-blocks",
    }
}

/// What a look at the backend after the deadline found about the derived series.
#[derive(Clone, Debug, PartialEq)]
pub enum SeriesSeen {
    /// The metric has no series at all.
    None,
    /// Series exist, none for the probe's subject: the subjects seen (at most a few).
    OthersOnly(Vec<String>),
    /// The probe's own series exists but did not rise.
    OursStill(f64),
    /// The look itself failed or was not made.
    Unknown,
}

/// The hint for a derived counter that never rose before the deadline.
pub fn missing_hint(c: &DerivedContext<'_>, seen: &SeriesSeen) -> String {
    let within = secs(c.deadline_seconds);
    let pipeline = format!(
        "check that Tempo's metrics-generator is running, that {} lists {}, that \
         metrics_generator.storage.remote_write points at this {} ({}, its /api/v1/push){}",
        overrides(c.tenant),
        processor(c.check),
        c.backend,
        c.backend_url,
        match c.tenant {
            Some(t) => format!(
                ", and that the generator writes tenant {t} (remote_write_add_org_id_header)"
            ),
            None => String::new(),
        }
    );
    let graph_note = if c.check == DerivedCheck::ServiceGraph {
        "; an edge needs the client span and its server child to reach the generator within \
         the service-graphs processor's `wait` (10s by default)"
    } else {
        ""
    };
    match (c.check, seen) {
        (DerivedCheck::TraceqlMetrics, _) => format!(
            "the trace reached Tempo but TraceQL metrics ({}) counted no span of {} within \
             {within}: {} (the local-blocks processor serves recent data; check its \
             flush_to_storage and that the generator receives this tenant's spans)",
            c.query, c.subject, pipeline
        ),
        (_, SeriesSeen::None) => format!(
            "the trace reached Tempo but {} has no series at all in {} after {within}: nothing \
             derived from any trace arrives; {pipeline}{graph_note}",
            c.metric, c.backend
        ),
        (DerivedCheck::SpanMetrics, SeriesSeen::OthersOnly(others)) => format!(
            "span metrics flow, but not for {} (seen for: {}): a filter or the generator's \
             dimensions drop it (span-metrics filter_policies, intrinsic_dimensions), or the \
             probe's spans go to a tenant whose generator is off",
            c.subject,
            others.join(", ")
        ),
        (DerivedCheck::ServiceGraph, SeriesSeen::OthersOnly(others)) => format!(
            "service graph edges flow, but not {} (seen: {}): the generator did not pair the \
             probe's client span with its server child{graph_note}; or a filter drops one of them",
            c.subject,
            others.join(", ")
        ),
        (_, SeriesSeen::OursStill(v)) => format!(
            "{} exists (value {v}) but did not rise within {within}: the generator skipped this \
             probe's spans (spans that ended more than metrics_ingestion_time_range_slack, 30s, \
             before it saw them are ignored: check clock skew), or the remote write is slower \
             than the deadline (collection_interval is 15s): raise --derived-timeout{graph_note}",
            c.query
        ),
        (_, _) => format!(
            "the trace reached Tempo but {} did not rise within {within}: {pipeline}{graph_note}",
            c.query
        ),
    }
}

/// The hint for a derived read the backend refused.
pub fn refused_hint(c: &DerivedContext<'_>, e: &QueryError) -> String {
    if c.check == DerivedCheck::TraceqlMetrics {
        if crate::backends::tempo::is_generator_config_error(&e.message) {
            return format!(
                "Tempo answered \"{}\": TraceQL metrics on recent data need Tempo's \
                 metrics-generator with the local-blocks processor: add local-blocks to {} and \
                 check that the generator runs and has joined the ring (\"empty ring\" means none \
                 has)",
                e.message,
                overrides(c.tenant)
            );
        }
        if e.status == Some(404) {
            return format!(
                "{} has no /api/metrics/query_range: TraceQL metrics need Tempo 2.4 or later \
                 (or the query-frontend's metrics API is not routed here)",
                c.backend_url
            );
        }
        return format!("Tempo refused the TraceQL metrics query {}: {e}", c.query);
    }
    match e.status {
        Some(401) if e.message.contains("no org id") => format!(
            "{} is multi-tenant and the read had no tenant: pass --tenant ORG_ID",
            c.backend
        ),
        Some(400 | 422) => format!("{} could not run {}: {}", c.backend, c.query, e.message),
        _ => format!("{} could not be asked for {}: {e}", c.backend, c.query),
    }
}

/// The hint when the backend stopped answering: whether the series exist is unknown, so
/// nothing about the generator is claimed.
pub fn silent_hint(
    c: &DerivedContext<'_>,
    unanswered: u32,
    queries: u32,
    last: Option<&QueryError>,
) -> String {
    let last = last
        .map(|e| format!(" (last error: {e})"))
        .unwrap_or_default();
    format!(
        "{} at {} did not answer {} before the deadline: {unanswered} of {queries} reads went \
         unanswered{last}, so whether the derived series exist is unknown; check {}'s load and \
         the network path to it",
        c.backend, c.backend_url, c.query, c.backend
    )
}

/// The hint when the counter could not be read before the probe, so no rise can be judged.
pub fn baseline_hint(c: &DerivedContext<'_>, e: &QueryError) -> String {
    format!(
        "{} could not be read before the probe ({e}), so a rise cannot be told; {}",
        c.query,
        refused_hint(c, e)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::error_class::ErrorClass;

    fn ctx(check: DerivedCheck) -> DerivedContext<'static> {
        DerivedContext {
            check,
            query: "sum(traces_spanmetrics_calls_total{service=\"otel-canary\"})",
            metric: "traces_spanmetrics_calls_total",
            backend: "Mimir",
            backend_url: "http://mimir:9009/",
            deadline_seconds: 90.0,
            tenant: Some("team-a"),
            subject: "otel-canary",
        }
    }

    #[test]
    fn missing_hints_name_what_to_check() {
        let h = missing_hint(&ctx(DerivedCheck::SpanMetrics), &SeriesSeen::None);
        for want in [
            "metrics-generator is running",
            "overrides.defaults.metrics_generator.processors",
            "team-a",
            "span-metrics",
            "remote_write points at this Mimir (http://mimir:9009/",
        ] {
            assert!(h.contains(want), "{want}: {h}");
        }
        let h = missing_hint(
            &ctx(DerivedCheck::SpanMetrics),
            &SeriesSeen::OthersOnly(vec!["checkout".into(), "cart".into()]),
        );
        assert!(
            h.starts_with("span metrics flow, but not for otel-canary (seen for: checkout, cart)"),
            "{h}"
        );
        let h = missing_hint(&ctx(DerivedCheck::ServiceGraph), &SeriesSeen::None);
        assert!(h.contains("service-graphs") && h.contains("`wait`"), "{h}");
        let h = missing_hint(&ctx(DerivedCheck::SpanMetrics), &SeriesSeen::OursStill(9.0));
        assert!(
            h.contains("value 9") && h.contains("--derived-timeout"),
            "{h}"
        );
    }

    #[test]
    fn refused_traceql_metrics_quote_tempo() {
        let e = QueryError {
            class: ErrorClass::HttpStatus,
            status: Some(500),
            message: "error querying generators … localblocks processor not found".into(),
        };
        let h = refused_hint(&ctx(DerivedCheck::TraceqlMetrics), &e);
        assert!(
            h.contains("localblocks processor not found") && h.contains("add local-blocks"),
            "{h}"
        );
        let e = QueryError {
            message: "404 page not found".into(),
            status: Some(404),
            ..e
        };
        assert!(refused_hint(&ctx(DerivedCheck::TraceqlMetrics), &e).contains("Tempo 2.4"));
    }
}
