//! The pull paths of a probe (incidents 4 and 5): the scrape marker set on `serve`'s
//! `/metrics` and read back through the user's scraper and Mimir/Prometheus, and a JSON line
//! written to stdout or a file and read back through whatever agent tails it into Loki. Each
//! reports hops (`expose`, `ingest`, `query`, `total`) and a reason like an OTLP signal does.

use super::outcome::{Check, Clue, Hop, HopName, PullOutcome, PullPath, Reason, Status};
use super::{RoundTrip, Window, backend_title, client_for, hops_from_poll, labels_text};
use crate::backends::QueryError;
use crate::backends::loki::{LokiReader, PULLED_LINE_FIELD, pulled_line_text};
use crate::backends::prometheus::{PrometheusReader, SeriesIdentity};
use crate::config::ConfigError;
use crate::config::pull::{LineDestination, LogLineCheck, PullTarget, ScrapeCheck};
use crate::poll::poll;
use crate::probe::{Probe, hex};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// Sets the scenario's scrape marker on `serve`'s `/metrics` (the round trip only knows it
/// must be set; the registry belongs to `serve`).
pub type MarkerSetter = Arc<dyn Fn(f64) + Send + Sync>;

/// The pull paths of a round trip, readers built once.
pub struct PullChecks {
    scenario: String,
    scrape: Option<(ScrapeCheck, PrometheusReader, MarkerSetter)>,
    log_line: Option<(LogLineCheck, LokiReader)>,
}

impl RoundTrip {
    /// Adds the pull paths of scenario `scenario`; `marker` sets its scrape marker.
    pub fn with_pulls(
        mut self,
        target: &PullTarget,
        scenario: &str,
        marker: MarkerSetter,
    ) -> Result<RoundTrip, ConfigError> {
        let scrape = match (&target.scrape, &self.read.metrics) {
            (Some(check), Some((_, b))) => Some((
                check.clone(),
                PrometheusReader::new(
                    client_for(&self.read, b)?,
                    b.api_base.clone(),
                    Some(check.selector.value.clone()),
                    SeriesIdentity::of(&self.resource, None),
                ),
                marker,
            )),
            _ => None,
        };
        let log_line = match (&target.log_line, &self.read.loki) {
            (Some(check), Some(b)) => Some((
                check.clone(),
                LokiReader::new(
                    client_for(&self.read, b)?,
                    b.api_base.clone(),
                    check.selector.value.clone(),
                    crate::backends::loki::LogMatch::Line,
                ),
            )),
            _ => None,
        };
        self.pulls = Some(PullChecks {
            scenario: scenario.to_string(),
            scrape,
            log_line,
        });
        Ok(self)
    }

    /// Every pull path of this probe, concurrently.
    pub(super) async fn pulls(&self, probe: &Probe, cap: Option<Instant>) -> Vec<PullOutcome> {
        let Some(p) = &self.pulls else {
            return Vec::new();
        };
        let scrape = async {
            match &p.scrape {
                Some((check, reader, set)) => {
                    Some(self.scrape(check, reader, set, probe, cap).await)
                }
                None => None,
            }
        };
        let line = async {
            match &p.log_line {
                Some((check, reader)) => {
                    Some(self.log_line(&p.scenario, check, reader, probe, cap).await)
                }
                None => None,
            }
        };
        let (a, b) = tokio::join!(scrape, line);
        a.into_iter().chain(b).collect()
    }

    async fn scrape(
        &self,
        check: &ScrapeCheck,
        reader: &PrometheusReader,
        set: &MarkerSetter,
        probe: &Probe,
        cap: Option<Instant>,
    ) -> PullOutcome {
        let sent_at = probe.seconds_since_start();
        let started = Instant::now();
        set(probe.marker);
        let expose = started.elapsed().as_secs_f64();
        let mut out = new_outcome(
            PullPath::Scrape,
            format!("{} = {}", check.selector.value, probe.marker),
            Hop::ok(HopName::Expose, expose),
            sent_at,
        );
        let (backend, b) = match &self.read.metrics {
            Some((api, b)) => (api.as_str(), b),
            None => return out,
        };
        out.read = Some(self.read_view(backend, b, reader.query(), check.timeout.value));
        let window = Window::new(started, Instant::now(), check.timeout.value, cap);
        let polled = poll(
            window.ack.into(),
            window.deadline.into(),
            self.policy,
            || reader.read_scrape_marker(probe.marker),
        )
        .await;
        let (hops, seen, failure) = hops_from_poll(polled, expose, window.started);
        out.hops.extend(hops);
        if let Some(seen) = seen {
            out.checks.push(Check {
                name: "marker_value",
                status: Status::Ok,
                detail: format!(
                    "value {} (this probe's {}) on {}",
                    seen.value,
                    probe.marker,
                    labels_text(&seen.labels)
                ),
            });
        }
        out.settle();
        if out.reason == Some(Reason::NotFound) {
            out.clues = scrape_clues(reader).await;
        }
        let last_seen = failure.as_ref().and_then(|f| f.last_seen.clone());
        let error = failure.and_then(|f| f.error);
        out.hint = scrape_hint(&out, check, backend_title(backend), last_seen, error);
        out
    }

    async fn log_line(
        &self,
        scenario: &str,
        check: &LogLineCheck,
        reader: &LokiReader,
        probe: &Probe,
        cap: Option<Instant>,
    ) -> PullOutcome {
        let sent_at = probe.seconds_since_start();
        let started = Instant::now();
        let destination = check.destination.value.describe();
        let written = write_line(&check.destination.value, &line_json(scenario, probe));
        let expose = started.elapsed().as_secs_f64();
        let exposed = format!("{} to {destination}", pulled_line_text(probe));
        if let Err(e) = written {
            let mut out = new_outcome(
                PullPath::LogLine,
                exposed,
                Hop::failed(
                    HopName::Expose,
                    Reason::ExposeFailed,
                    format!("cannot write to {destination}: {e}"),
                ),
                sent_at,
            );
            out.settle();
            out.hint = Some(format!(
                "the probe's line could not be written to {destination} ({}): {e}; make it \
                 writable, or set pull.log_line = \"stdout\"",
                check.destination.source
            ));
            return out;
        }
        let mut out = new_outcome(
            PullPath::LogLine,
            exposed,
            Hop::ok(HopName::Expose, expose),
            sent_at,
        );
        let Some(b) = &self.read.loki else {
            return out;
        };
        out.read = Some(self.read_view(
            "loki",
            b,
            reader.pulled_line_query(probe),
            check.timeout.value,
        ));
        let window = Window::new(started, Instant::now(), check.timeout.value, cap);
        let polled = poll(
            window.ack.into(),
            window.deadline.into(),
            self.policy,
            || reader.read_pulled_line(probe),
        )
        .await;
        let (hops, seen, failure) = hops_from_poll(polled, expose, started);
        out.hops.extend(hops);
        if let Some(seen) = seen {
            out.checks.push(Check {
                name: "line",
                status: Status::Ok,
                detail: format!("found in {}", labels_text(&seen.labels)),
            });
        }
        out.settle();
        let error = failure.and_then(|f| f.error);
        out.hint = line_hint(&out, check, &destination, error);
        out
    }
}

fn new_outcome(path: PullPath, exposed: String, expose: Hop, sent_at: f64) -> PullOutcome {
    PullOutcome {
        path,
        sent_at,
        status: Status::Ok,
        reason: None,
        hint: None,
        exposed,
        read: None,
        hops: vec![expose],
        checks: Vec::new(),
        clues: Vec::new(),
    }
}

/// The probe's JSON line: the text the query searches for, the field that tells it from the
/// OTLP log, and the ids to correlate by hand.
pub fn line_json(scenario: &str, probe: &Probe) -> String {
    serde_json::json!({
        "ts": humantime::format_rfc3339_millis(probe.started_at).to_string(),
        "level": "info",
        "msg": pulled_line_text(probe),
        PULLED_LINE_FIELD: "log_line",
        "scenario": scenario,
        "probe_id": probe.probe_id.to_string(),
        "trace_id": hex(&probe.trace_id),
    })
    .to_string()
}

/// Writes one line. A file is opened for each line (append, created if missing), so a log
/// rotated by rename is followed without a signal.
fn write_line(dest: &LineDestination, line: &str) -> std::io::Result<()> {
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    match dest {
        LineDestination::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()
        }
        LineDestination::File(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .write_all(text.as_bytes()),
    }
}

/// After the marker never arrived: scrape targets the scraper marks down.
async fn scrape_clues(reader: &PrometheusReader) -> Vec<Clue> {
    match tokio::time::timeout(super::post_mortem::BUDGET, reader.failing_scrapes()).await {
        Ok(Ok(down)) => down
            .iter()
            .map(|labels| {
                Clue::new(
                    "scrape_up",
                    format!(
                        "the scraper reports up=0 for {}: its scrape of that target fails \
                         (an app that insists on HTTPS refuses a plain-HTTP scrape, say); its \
                         targets page names the error",
                        labels_text(labels)
                    ),
                )
                .explaining()
            })
            .collect(),
        Ok(Err(e)) => vec![Clue::new(
            "scrape_up",
            format!("could not ask for failing scrapes (up == 0): {e}"),
        )],
        Err(_) => vec![Clue::new(
            "scrape_up",
            "the query for failing scrapes (up == 0) did not answer within 3 s",
        )],
    }
}

fn scrape_hint(
    out: &PullOutcome,
    check: &ScrapeCheck,
    backend: &str,
    last_seen: Option<String>,
    error: Option<QueryError>,
) -> Option<String> {
    let reason = out.reason?;
    let secs = check.timeout.value.as_secs_f64();
    let selector = &check.selector.value;
    Some(match reason {
        Reason::QueryFailed => format!(
            "{backend} refused the scrape marker query {selector}: {}",
            error.map(|e| e.to_string()).unwrap_or_default()
        ),
        Reason::Timeout => format!(
            "{backend} did not answer the scrape marker query {selector} within {secs:.0}s ({}): \
             whether the scraper stored the marker is unknown; check {backend}'s load and the \
             network path to it",
            error
                .map(|e| e.to_string())
                .unwrap_or_else(|| "the last read was cut off by the deadline".into())
        ),
        _ => {
            let down: Vec<&str> = out
                .clues
                .iter()
                .filter(|c| c.explains)
                .map(|c| c.finding.as_str())
                .collect();
            let seen = last_seen.unwrap_or_default();
            if seen.starts_with("the newest scraped marker") {
                format!(
                    "{seen}: the scraper reads serve's /metrics, but not within \
                     pull.scrape_timeout ({secs:.0}s); raise it above the scrape interval plus \
                     the remote-write delay, or check that the scrape still succeeds{}",
                    down.first().map(|d| format!("; {d}")).unwrap_or_default()
                )
            } else if let Some(d) = down.first() {
                format!("{selector} never reached {backend} within {secs:.0}s: {d}")
            } else {
                format!(
                    "{selector} never reached {backend} within {secs:.0}s: no scraper stores \
                     serve's /metrics; add it (the --listen address, path /metrics) to a \
                     Prometheus scrape_config or an Alloy prometheus.scrape that writes to \
                     {backend}"
                )
            }
        }
    })
}

fn line_hint(
    out: &PullOutcome,
    check: &LogLineCheck,
    destination: &str,
    error: Option<QueryError>,
) -> Option<String> {
    let reason = out.reason?;
    let secs = check.timeout.value.as_secs_f64();
    Some(match reason {
        Reason::QueryFailed => format!(
            "Loki refused the log-line query: {}",
            error.map(|e| e.to_string()).unwrap_or_default()
        ),
        Reason::Timeout => format!(
            "Loki did not answer the log-line query within {secs:.0}s ({}): whether the agent \
             shipped the line is unknown; check Loki's load and the network path to it",
            error
                .map(|e| e.to_string())
                .unwrap_or_else(|| "the last read was cut off by the deadline".into())
        ),
        _ => format!(
            "the probe's line was written to {destination} but never reached Loki within \
             {secs:.0}s under {} ({}): no agent (Alloy loki.source.file or \
             loki.source.docker, Promtail, the collector's filelog receiver) tails it into \
             Loki, or it labels the stream so the selector misses it (set \
             pull.log_line_selector)",
            check.selector.value, check.selector.source
        ),
    })
}
