//! Scenario assertions after the probe: each asks its backend (with the scenario's tenant,
//! headers and credentials, through the readers the signals use) until its expectation holds
//! or its deadline passes, and is reported like a signal: `ok`, or `assertion_failed` quoting
//! the query, what came back and what was expected, or `query_failed` with the backend's words.

use super::outcome::{AssertionOutcome, Reason, Status};
use crate::backends::QueryError;
use crate::backends::loki::LokiReader;
use crate::backends::prometheus::{PrometheusReader, Sample};
use crate::backends::tempo::TempoReader;
use crate::config::assertions::{AssertKind, AssertionSpec, Expect};
use crate::poll::{PollEnd, PollPolicy, Read, poll};
use std::time::Instant;

/// The readers assertions ask, borrowed from the round trip.
pub(super) struct Askers<'a> {
    pub metrics: Option<(&'static str, &'a PrometheusReader)>,
    pub loki: Option<&'a LokiReader>,
    pub tempo: Option<&'a TempoReader>,
}

/// At most this many series or values are quoted in `got`.
const QUOTED: usize = 3;

fn labels_text(s: &Sample) -> String {
    let inner: Vec<String> = s
        .labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// A vector answer in words: `no series`, or `2 series: {job="a"} 1, {job="b"} 0`.
fn vector_text(samples: &[Sample]) -> String {
    if samples.is_empty() {
        return "no series".into();
    }
    let shown: Vec<String> = samples
        .iter()
        .take(QUOTED)
        .map(|s| format!("{} {}", labels_text(s), s.value))
        .collect();
    let more = samples.len().saturating_sub(QUOTED);
    format!(
        "{} series: {}{}",
        samples.len(),
        shown.join(", "),
        if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        }
    )
}

fn values_text(values: &[String]) -> String {
    if values.is_empty() {
        return "no values".into();
    }
    let shown: Vec<&str> = values.iter().take(10).map(String::as_str).collect();
    let more = values.len().saturating_sub(10);
    format!(
        "values {}{}",
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

fn judge_vector(samples: Vec<Sample>, expect: Expect) -> Read<String, QueryError> {
    let text = vector_text(&samples);
    let holds = match expect {
        Expect::NonEmpty => !samples.is_empty(),
        Expect::Empty => samples.is_empty(),
    };
    if holds {
        Read::Visible(text)
    } else {
        Read::NotYet(text)
    }
}

fn judge_values(values: Vec<String>, contains: &str) -> Read<String, QueryError> {
    let text = values_text(&values);
    if values.iter().any(|v| v == contains) {
        Read::Visible(text)
    } else {
        Read::NotYet(text)
    }
}

impl Askers<'_> {
    fn backend(&self, kind: &AssertKind) -> &'static str {
        match kind {
            AssertKind::Promql { .. } => self.metrics.map_or("metrics", |(name, _)| name),
            AssertKind::Logql { .. } | AssertKind::LokiLabel { .. } => "loki",
            AssertKind::TempoTag { .. } => "tempo",
        }
    }

    /// One question to the backend.
    async fn ask(&self, kind: &AssertKind) -> Read<String, QueryError> {
        let missing = || {
            Read::Refused(QueryError {
                class: crate::diagnose::error_class::ErrorClass::HttpStatus,
                status: None,
                message: "no backend configured for this assertion".into(),
            })
        };
        match kind {
            AssertKind::Promql { query, expect } => match self.metrics {
                None => missing(),
                Some((_, r)) => match r.instant(query.clone()).await {
                    Ok(samples) => judge_vector(samples, *expect),
                    Err(read) => read,
                },
            },
            AssertKind::Logql { query, expect } => match self.loki {
                None => missing(),
                Some(r) => match r.instant_metric(query).await {
                    Ok(samples) => judge_vector(samples, *expect),
                    Err(read) => read,
                },
            },
            AssertKind::LokiLabel { label, contains } => match self.loki {
                None => missing(),
                Some(r) => match r.label_values(label).await {
                    Ok(values) => judge_values(values, contains),
                    Err(read) => read,
                },
            },
            AssertKind::TempoTag { tag, contains } => match self.tempo {
                None => missing(),
                Some(r) => match r.tag_values(tag).await {
                    Ok(values) => judge_values(values, contains),
                    Err(read) => read,
                },
            },
        }
    }

    /// Checks one assertion until it holds, is refused, or its deadline (cut at `cap`).
    pub async fn check(
        &self,
        spec: &AssertionSpec,
        policy: PollPolicy,
        cap: Option<Instant>,
    ) -> AssertionOutcome {
        let started = Instant::now();
        let deadline = cap.map_or(started + spec.timeout, |c| c.min(started + spec.timeout));
        let polled = poll(started.into(), deadline.into(), policy, || {
            self.ask(&spec.kind)
        })
        .await;
        let backend = self.backend(&spec.kind);
        let query = spec.kind.query_text();
        let expect = spec.kind.expectation();
        let title = match backend {
            "mimir" => "Mimir",
            "prometheus" => "Prometheus",
            "loki" => "Loki",
            "tempo" => "Tempo",
            other => other,
        };
        let (status, reason, got, hint) = match polled.end {
            PollEnd::Found(got, _) => (Status::Ok, None, Some(got), None),
            PollEnd::Refused { error, .. } => (
                Status::Failed,
                Some(Reason::QueryFailed),
                None,
                Some(format!("{title} refused {query}: {error}")),
            ),
            PollEnd::Deadline {
                last_seen,
                partial,
                last_error,
                unanswered,
                last,
            } => {
                let (reason, detail) = super::deadline_verdict(
                    last_seen.as_deref(),
                    partial,
                    last_error.as_ref(),
                    unanswered,
                    last,
                    polled.queries,
                );
                match (reason, last_seen) {
                    (Reason::NotFound | Reason::Incomplete, Some(got)) => {
                        let hint = format!(
                            "assertion '{}' does not hold: {title} answered {query} with {got}; \
                             expected {expect} (checked for {:.1} s)",
                            spec.name,
                            started.elapsed().as_secs_f64()
                        );
                        (
                            Status::Failed,
                            Some(Reason::AssertionFailed),
                            Some(got),
                            Some(hint),
                        )
                    }
                    (reason, got) => (
                        Status::Failed,
                        Some(reason),
                        got,
                        Some(format!(
                            "{title} did not answer {query} before the deadline: {detail}"
                        )),
                    ),
                }
            }
        };
        AssertionOutcome {
            name: spec.name.clone(),
            status,
            reason,
            kind: match spec.kind {
                AssertKind::Promql { .. } => "promql",
                AssertKind::Logql { .. } => "logql",
                AssertKind::LokiLabel { .. } => "loki_label",
                AssertKind::TempoTag { .. } => "tempo_tag",
            },
            backend,
            query,
            expect,
            got,
            hint,
            seconds: started.elapsed().as_secs_f64(),
            queries: polled.queries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sample(job: &str, v: f64) -> Sample {
        Sample {
            labels: BTreeMap::from([("job".to_string(), job.to_string())]),
            at: 0.0,
            value: v,
        }
    }

    #[test]
    fn answers_are_quoted_in_words() {
        assert_eq!(vector_text(&[]), "no series");
        let many: Vec<Sample> = (0..5).map(|i| sample(&format!("j{i}"), 1.0)).collect();
        let t = vector_text(&many);
        assert!(
            t.starts_with("5 series: {job=\"j0\"} 1") && t.ends_with("and 2 more"),
            "{t}"
        );
        assert!(matches!(
            judge_vector(vec![], Expect::Empty),
            Read::Visible(_)
        ));
        assert!(matches!(
            judge_vector(vec![], Expect::NonEmpty),
            Read::NotYet(_)
        ));
        assert!(matches!(
            judge_values(vec!["a".into(), "app".into()], "app"),
            Read::Visible(_)
        ));
        assert!(
            matches!(judge_values(vec!["apps".into()], "app"), Read::NotYet(t) if t == "values apps")
        );
    }
}
