//! What a round trip found, per signal and hop: the data renderers and (in `serve`) the
//! metrics registry read. Nothing here does I/O.

use crate::diagnose::error_class::ErrorClass;
use crate::emit::outcome::ExportOutcome;
use crate::signal::Signal;
use serde::{Serialize, Serializer};
use std::fmt;

/// A hop's or a signal's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed,
    /// Not checked: no backend configured, turned off, or an earlier hop failed.
    Skipped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Failed => "FAILED",
            Status::Skipped => "skipped",
        })
    }
}

/// Why something failed: a bounded vocabulary, stable in JSON and usable as a metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The export itself failed; the class says how.
    Export(ErrorClass),
    /// Accepted, but not visible in the backend before the deadline.
    NotFound,
    /// Part of it arrived (one span of two) before the deadline.
    Incomplete,
    /// It arrived but different from what was sent (attribute stripped, wrong trace id).
    Mismatch,
    /// The backend refused the query (4xx, unparsable answer, auth, unreachable).
    QueryFailed,
    /// The backend did not answer the reads before the deadline (timeouts, resets, a read
    /// cut off by the deadline): whether the signal arrived is unknown.
    Timeout,
    /// A pull path could not put its marker out (the log-line file is not writable).
    ExposeFailed,
    /// The trace arrived, but a series derived from it (span metrics, service graph) never
    /// did: the metrics-generator, its overrides or its remote write.
    DerivedMissing,
    /// A scenario assertion's query answered, but not what it expects.
    AssertionFailed,
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Export(c) => c.as_str(),
            Reason::NotFound => "not_found",
            Reason::Incomplete => "incomplete",
            Reason::Mismatch => "mismatch",
            Reason::QueryFailed => "query_failed",
            Reason::Timeout => "timeout",
            Reason::ExposeFailed => "expose_failed",
            Reason::DerivedMissing => "derived_missing",
            Reason::AssertionFailed => "assertion_failed",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The measured segments of a signal's path (see docs/json-output.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HopName {
    Export,
    /// A pull path's first step: the marker set on `/metrics`, or the line written.
    Expose,
    Ingest,
    Query,
    Search,
    /// Tempo's span metrics for the probe's client span, in Mimir/Prometheus.
    SpanMetrics,
    /// Tempo's service-graph edge for the probe's client -> peer pair.
    ServiceGraph,
    /// Tempo's TraceQL metrics (`/api/metrics/query_range`) for the probe's service.
    TraceqlMetrics,
    /// The signal read again through Grafana's datasource proxy, once visible directly.
    Grafana,
    Total,
}

impl HopName {
    pub fn as_str(self) -> &'static str {
        match self {
            HopName::Export => "export",
            HopName::Expose => "expose",
            HopName::Ingest => "ingest",
            HopName::Query => "query",
            HopName::Search => "search",
            HopName::SpanMetrics => "span_metrics",
            HopName::ServiceGraph => "service_graph",
            HopName::TraceqlMetrics => "traceql_metrics",
            HopName::Grafana => "grafana",
            HopName::Total => "total",
        }
    }
}

impl fmt::Display for HopName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One hop's measurement and verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hop {
    pub hop: HopName,
    pub status: Status,
    /// The hop's duration. For `ingest` and `search` this is an estimate: the middle of
    /// [`visible_after`, `visible_by`].
    pub seconds: Option<f64>,
    /// Visibility lies after this offset from the ack (start of the last read that missed).
    pub visible_after: Option<f64>,
    /// ... and by this one (end of the first read that saw it).
    pub visible_by: Option<f64>,
    /// `visible_by - visible_after`: the estimate is within half of it.
    pub resolution: Option<f64>,
    /// Reads issued for this hop.
    pub queries: Option<u32>,
    pub reason: Option<Reason>,
    pub detail: Option<String>,
    /// What to check when this hop failed, when the hop knows better than its signal's
    /// generic hint (derived hops); the signal's `hint` repeats the first failing hop's.
    pub hint: Option<String>,
    /// When each of the hop's reads started, seconds after the export ack (the axis of
    /// `visible_after`/`visible_by`): how the poll found it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<f64>,
    /// Which schedule placed the reads (`ingest` and `search`): the one-shot rule, or one
    /// `serve` learned from earlier probes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<crate::poll::learned::ScheduleUsed>,
}

impl Hop {
    pub fn new(hop: HopName, status: Status) -> Hop {
        Hop {
            hop,
            status,
            seconds: None,
            visible_after: None,
            visible_by: None,
            resolution: None,
            queries: None,
            reason: None,
            detail: None,
            hint: None,
            reads: Vec::new(),
            schedule: None,
        }
    }

    pub fn ok(hop: HopName, seconds: f64) -> Hop {
        Hop {
            seconds: Some(seconds),
            ..Hop::new(hop, Status::Ok)
        }
    }

    pub fn failed(hop: HopName, reason: Reason, detail: impl Into<String>) -> Hop {
        Hop {
            reason: Some(reason),
            detail: Some(detail.into()),
            ..Hop::new(hop, Status::Failed)
        }
    }
}

/// A content check on what was read back (both spans, the trace <-> log link, the value).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

/// Something a look beyond the failed query found (`post_mortem`), or a pipeline's own
/// counters said: evidence for which hop lost the signal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Clue {
    /// Where it comes from: `loki_labels`, `loki_search`, `metric_names`, `tempo_ready`,
    /// `collector_metrics`, `backend_metrics`, `post_mortem`, `grafana`, `grafana_datasource`,
    /// `grafana_health`.
    pub source: &'static str,
    pub finding: String,
    /// The finding explains the failure well enough to be the hint.
    pub explains: bool,
    /// The look could not be made (its source did not answer usably): the finding says why,
    /// and nothing may be read into it. Not in the JSON: the finding says it.
    #[serde(skip)]
    pub unread: bool,
}

impl Clue {
    pub fn new(source: &'static str, finding: impl Into<String>) -> Clue {
        Clue {
            source,
            finding: finding.into(),
            explains: false,
            unread: false,
        }
    }

    /// A look that could not be made: `finding` says why.
    pub fn unread(source: &'static str, finding: impl Into<String>) -> Clue {
        Clue {
            unread: true,
            ..Clue::new(source, finding)
        }
    }

    /// Marks the clue as the explanation.
    pub fn explaining(mut self) -> Clue {
        self.explains = true;
        self
    }
}

/// Where a signal was read back from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReadView {
    /// `tempo`, `loki`, `mimir` or `prometheus`.
    pub backend: &'static str,
    pub url: crate::config::Sourced<String>,
    /// The query sent (TraceQL, LogQL, PromQL or the by-id path).
    pub query: String,
    pub deadline_seconds: f64,
}

/// Everything about one signal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignalOutcome {
    pub signal: Signal,
    /// Which emitter sent it (`wire` or `sdk`).
    pub emitter: crate::config::emitter::Emitter,
    /// Seconds after the probe began that this signal's export was sent: where its lane
    /// starts on a waterfall shared by all signals.
    pub sent_at: f64,
    pub status: Status,
    /// The first failing hop's reason.
    pub reason: Option<Reason>,
    /// What to check, in words a person can act on.
    pub hint: Option<String>,
    pub export: ExportOutcome,
    pub read: Option<ReadView>,
    pub hops: Vec<Hop>,
    pub checks: Vec<Check>,
    /// What a look beyond the query, or the pipeline's own counters, found after a failure.
    pub clues: Vec<Clue>,
}

impl SignalOutcome {
    pub fn hop(&self, name: HopName) -> Option<&Hop> {
        self.hops.iter().find(|h| h.hop == name)
    }

    /// Sets status and reason from the hops and checks: the first failure decides.
    pub fn settle(&mut self) {
        (self.status, self.reason) = verdict(&self.hops, &self.checks);
    }
}

/// A verdict from hops and checks: the first failing hop's reason, else `mismatch` for a
/// failed check, else ok.
fn verdict(hops: &[Hop], checks: &[Check]) -> (Status, Option<Reason>) {
    match hops.iter().find(|h| h.status == Status::Failed) {
        Some(h) => (Status::Failed, h.reason),
        None if checks.iter().any(|c| c.status == Status::Failed) => {
            (Status::Failed, Some(Reason::Mismatch))
        }
        None => (Status::Ok, None),
    }
}

/// A pull path: a way into the backends that is not an OTLP push (incidents 4 and 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullPath {
    /// `otel_canary_scrape_marker` on `serve`'s own `/metrics`, read back through the user's
    /// scraper and Mimir/Prometheus.
    Scrape,
    /// A JSON line on stdout or in a file, read back through the agent that tails it into Loki.
    LogLine,
}

impl PullPath {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPath::Scrape => "scrape",
            PullPath::LogLine => "log_line",
        }
    }
}

impl fmt::Display for PullPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything about one pull path in one probe: hops `expose`, `ingest`, `query`, `total`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PullOutcome {
    pub path: PullPath,
    pub status: Status,
    pub reason: Option<Reason>,
    pub hint: Option<String>,
    /// What the probe put out and where: the marker series and value, or the line's file.
    pub exposed: String,
    /// Seconds after the probe began that the value was exposed (as `SignalOutcome::sent_at`).
    pub sent_at: f64,
    pub read: Option<ReadView>,
    pub hops: Vec<Hop>,
    pub checks: Vec<Check>,
    pub clues: Vec<Clue>,
}

impl PullOutcome {
    pub fn hop(&self, name: HopName) -> Option<&Hop> {
        self.hops.iter().find(|h| h.hop == name)
    }

    /// Sets status and reason from the hops, as for a signal.
    pub fn settle(&mut self) {
        (self.status, self.reason) = verdict(&self.hops, &self.checks);
    }
}

/// A scenario assertion after one probe (`[[assert]]`, see `config::assertions`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AssertionOutcome {
    /// As the scenario names it (a bounded label: it comes from the file).
    pub name: String,
    pub status: Status,
    /// `assertion_failed` (the answer was not what was expected) or `query_failed`.
    pub reason: Option<Reason>,
    /// `promql`, `logql`, `loki_label`, `tempo_tag`.
    pub kind: &'static str,
    /// `mimir`, `prometheus`, `loki` or `tempo`.
    pub backend: &'static str,
    /// The query as sent (PromQL, LogQL, or the label/tag values path).
    pub query: String,
    /// What must hold, in words ("at least one series", "the values include \"app\"").
    pub expect: String,
    /// What the last answer held, in words; `None` when no query was answered.
    pub got: Option<String>,
    pub hint: Option<String>,
    /// From the first query to the verdict.
    pub seconds: f64,
    pub queries: u32,
}
