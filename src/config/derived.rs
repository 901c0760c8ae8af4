//! Derived-signal checks (incident 9): which series computed from the probe's trace must
//! appear (Tempo's span metrics and service graph in Mimir/Prometheus, a TraceQL metrics
//! query), and how long to wait for them. Opt-in: `--derived LIST` or a scenario's
//! `[derived]`, since they need Tempo's metrics-generator and take a collection interval.

use super::scenario::Scenario;
use super::{ConfigError, Provenance, Sourced};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The generator collects every 15 s by default and remote-writes after that; a minute and a
/// half leaves room for a slow remote write and a second collection.
pub const DEFAULT_DERIVED_TIMEOUT: Duration = Duration::from_secs(90);

/// One derived check; its name is also its hop's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DerivedCheck {
    /// `traces_spanmetrics_calls_total` for the probe's client span rises.
    SpanMetrics,
    /// `traces_service_graph_request_total` for the probe's client -> peer edge rises.
    ServiceGraph,
    /// Tempo's `/api/metrics/query_range` counts the probe's client span.
    TraceqlMetrics,
}

impl DerivedCheck {
    pub const ALL: [DerivedCheck; 3] = [
        DerivedCheck::SpanMetrics,
        DerivedCheck::ServiceGraph,
        DerivedCheck::TraceqlMetrics,
    ];

    /// The name as written in flags and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            DerivedCheck::SpanMetrics => "span-metrics",
            DerivedCheck::ServiceGraph => "service-graph",
            DerivedCheck::TraceqlMetrics => "traceql-metrics",
        }
    }

    /// Whether the check reads the metrics backend (else Tempo).
    pub fn reads_metrics(self) -> bool {
        !matches!(self, DerivedCheck::TraceqlMetrics)
    }
}

impl fmt::Display for DerivedCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DerivedCheck {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        DerivedCheck::ALL
            .into_iter()
            .find(|c| c.as_str() == norm)
            .ok_or_else(|| {
                format!("'{s}' is not a derived check (span-metrics, service-graph, traceql-metrics, or all)")
            })
    }
}

/// Parses `span-metrics,service-graph` or `all` into checks, sorted and de-duplicated.
pub fn parse_checks<S: AsRef<str>>(items: &[S]) -> Result<Vec<DerivedCheck>, String> {
    let mut out = Vec::new();
    for item in items {
        for part in item.as_ref().split(',').filter(|p| !p.trim().is_empty()) {
            if part.trim().eq_ignore_ascii_case("all") {
                out.extend(DerivedCheck::ALL);
            } else {
                out.push(part.parse()?);
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The resolved derived checks.
#[derive(Clone, Debug, PartialEq)]
pub struct DerivedTarget {
    /// Never empty.
    pub checks: Sourced<Vec<DerivedCheck>>,
    /// Counted from the export ack, as every read deadline is.
    pub timeout: Sourced<Duration>,
}

/// Resolves `--derived`/`--derived-timeout` over the scenario's `[derived]`. `None` when no
/// check is asked for.
pub fn resolve_derived(
    checks: &[String],
    timeout: Option<Duration>,
    scenario: Option<&Scenario>,
) -> Result<Option<DerivedTarget>, ConfigError> {
    let section = scenario.map(|s| (s, &s.data.derived));
    let checks = if !checks.is_empty() {
        let parsed = parse_checks(checks).map_err(|e| ConfigError::new("flag --derived", e))?;
        Sourced::new(parsed, Provenance::flag("--derived"))
    } else if let Some((sc, Some(v))) = section.map(|(s, d)| (s, d.checks.as_ref())) {
        let parsed = parse_checks(v.get_ref()).map_err(|e| sc.error(v, "derived.checks", e))?;
        Sourced::new(parsed, sc.source("derived.checks"))
    } else {
        Sourced::default_value(Vec::new())
    };
    let timeout = match (
        timeout,
        section.and_then(|(s, d)| d.timeout.as_ref().map(|v| (s, v))),
    ) {
        (Some(t), _) => Sourced::new(t, Provenance::flag("--derived-timeout")),
        (None, Some((sc, v))) => sc.duration(v, "derived.timeout")?,
        (None, None) => Sourced::default_value(DEFAULT_DERIVED_TIMEOUT),
    };
    if timeout.value.is_zero() {
        return Err(ConfigError::at(
            &timeout.source,
            "a deadline must be longer than zero",
        ));
    }
    if checks.value.is_empty() {
        return Ok(None);
    }
    Ok(Some(DerivedTarget { checks, timeout }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_parse_from_lists_and_all() {
        assert_eq!(
            parse_checks(&["service-graph,span_metrics"]).unwrap(),
            vec![DerivedCheck::SpanMetrics, DerivedCheck::ServiceGraph]
        );
        assert_eq!(parse_checks(&["all"]).unwrap(), DerivedCheck::ALL.to_vec());
        assert_eq!(
            parse_checks(&["traceql-metrics", "TRACEQL-METRICS"]).unwrap(),
            vec![DerivedCheck::TraceqlMetrics]
        );
        let err = parse_checks(&["span-metric"]).unwrap_err();
        assert!(err.contains("span-metrics, service-graph"), "{err}");
    }

    #[test]
    fn flags_beat_the_scenario_and_mistakes_name_the_key() {
        let sc = Scenario::parse(
            "s.toml",
            "[derived]\nchecks = [\"span-metrics\"]\ntimeout = \"45s\"\n".into(),
        )
        .unwrap();
        let t = resolve_derived(&[], None, Some(&sc)).unwrap().unwrap();
        assert_eq!(t.checks.value, vec![DerivedCheck::SpanMetrics]);
        assert_eq!(t.checks.source, sc.source("derived.checks"));
        assert_eq!(t.timeout.value, Duration::from_secs(45));
        let t = resolve_derived(&["all".into()], Some(Duration::from_secs(5)), Some(&sc))
            .unwrap()
            .unwrap();
        assert_eq!(t.checks.value.len(), 3);
        assert_eq!(t.timeout.source, Provenance::flag("--derived-timeout"));
        assert!(resolve_derived(&[], None, None).unwrap().is_none());

        let bad =
            Scenario::parse("s.toml", "[derived]\nchecks = [\"spanmetrics\"]\n".into()).unwrap();
        let err = resolve_derived(&[], None, Some(&bad)).unwrap_err();
        assert_eq!(err.input, "s.toml:2: key 'derived.checks'");
        let bad = Scenario::parse("s.toml", "[derived]\ntimeout = \"later\"\n".into()).unwrap();
        assert!(resolve_derived(&[], None, Some(&bad)).is_err());
        let err =
            resolve_derived(&["span-metrics".into()], Some(Duration::ZERO), None).unwrap_err();
        assert_eq!(err.input, "flag --derived-timeout");
        assert!(Scenario::parse("s.toml", "[derived]\nchecks = \"all\"\n".into()).is_err());
        assert!(Scenario::parse("s.toml", "[derived]\nspan = true\n".into()).is_err());
    }
}
