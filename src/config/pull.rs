//! The pull paths of a scenario (incidents 4 and 5): not every pipeline is an OTLP push. A
//! scraper may read the app's `/metrics`, an agent may tail its stdout; `serve` proves those
//! paths with a marker on its own page and a line on stdout or in a file, read back from the
//! scenario's metrics backend and Loki.

use super::scenario::Scenario;
use super::{ConfigError, Sourced};
use crate::config::read::ReadTarget;
use std::path::PathBuf;
use std::time::Duration;

/// The scrape marker's metric family on `serve`'s `/metrics`.
pub const SCRAPE_MARKER_METRIC: &str = "otel_canary_scrape_marker";
/// Loki 3 derives `service_name` for every stream (from `service_name`, `job`, `container`
/// and similar labels, else `unknown_service`), so this selector finds a tailed line whatever
/// labels the agent gave it.
pub const DEFAULT_LINE_SELECTOR: &str = r#"{service_name=~".+"}"#;
const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(90);
const DEFAULT_LINE_TIMEOUT: Duration = Duration::from_secs(60);

/// The scrape path: where the marker is read back.
#[derive(Clone, Debug)]
pub struct ScrapeCheck {
    pub selector: Sourced<String>,
    pub timeout: Sourced<Duration>,
}

/// Where the probe's line goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineDestination {
    Stdout,
    File(PathBuf),
}

impl LineDestination {
    /// `stdout`, or the path.
    pub fn describe(&self) -> String {
        match self {
            LineDestination::Stdout => "stdout".into(),
            LineDestination::File(p) => p.display().to_string(),
        }
    }
}

/// The log-line path: where the line is written and how Loki is asked for it.
#[derive(Clone, Debug)]
pub struct LogLineCheck {
    pub destination: Sourced<LineDestination>,
    pub selector: Sourced<String>,
    pub timeout: Sourced<Duration>,
}

/// The pull paths a scenario turns on.
#[derive(Clone, Debug, Default)]
pub struct PullTarget {
    pub scrape: Option<ScrapeCheck>,
    pub log_line: Option<LogLineCheck>,
}

impl PullTarget {
    pub fn is_empty(&self) -> bool {
        self.scrape.is_none() && self.log_line.is_none()
    }
}

/// The default marker query for a scenario.
pub fn scrape_marker_query(scenario: &str) -> String {
    format!(
        "{SCRAPE_MARKER_METRIC}{{scenario=\"{}\"}}",
        escape_label(scenario)
    )
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Resolves `[pull]` of a scenario named `name`. A path whose backend is not configured is
/// an error: it could only ever fail.
pub fn resolve_pull_target(
    sc: Option<&Scenario>,
    name: &str,
    read: &ReadTarget,
) -> Result<PullTarget, ConfigError> {
    let Some(sc) = sc else {
        return Ok(PullTarget::default());
    };
    let p = &sc.data.pull;
    let duration = |v: &Option<super::scenario::Val<String>>, key: &str, default: Duration| {
        v.as_ref()
            .map(|v| sc.duration(v, key))
            .unwrap_or_else(|| Ok(Sourced::default_value(default)))
    };
    let mut out = PullTarget::default();
    if let Some(on) = p.scrape.as_ref().filter(|v| *v.get_ref()) {
        if read.metrics.is_none() {
            return Err(sc.error(
                on,
                "pull.scrape",
                "the scrape path is read back from Mimir or Prometheus: set read.mimir or \
                 read.prometheus (or --mimir/--prometheus)",
            ));
        }
        out.scrape = Some(ScrapeCheck {
            selector: p
                .scrape_selector
                .as_ref()
                .map(|v| sc.sourced(v, "pull.scrape_selector"))
                .unwrap_or_else(|| Sourced::default_value(scrape_marker_query(name))),
            timeout: duration(
                &p.scrape_timeout,
                "pull.scrape_timeout",
                DEFAULT_SCRAPE_TIMEOUT,
            )?,
        });
    }
    if let Some(v) = &p.log_line {
        let destination = match v.get_ref().trim() {
            "" => return Err(sc.error(v, "pull.log_line", "give `stdout` or a file path")),
            "stdout" | "-" => LineDestination::Stdout,
            path => LineDestination::File(PathBuf::from(path)),
        };
        if read.loki.is_none() {
            return Err(sc.error(
                v,
                "pull.log_line",
                "the log-line path is read back from Loki: set read.loki (or --loki)",
            ));
        }
        out.log_line = Some(LogLineCheck {
            destination: Sourced::new(destination, sc.source("pull.log_line")),
            selector: p
                .log_line_selector
                .as_ref()
                .map(|v| sc.sourced(v, "pull.log_line_selector"))
                .unwrap_or_else(|| Sourced::default_value(DEFAULT_LINE_SELECTOR.to_string())),
            timeout: duration(
                &p.log_line_timeout,
                "pull.log_line_timeout",
                DEFAULT_LINE_TIMEOUT,
            )?,
        });
    }
    Ok(out)
}
