//! What `serve` keeps while it runs: the metrics registry, the scenarios, the latest report
//! of each, and the status page's fixed ring of recent verdicts. One report per scenario,
//! replaced by the next, and [`STRIP_LEN`] verdicts per lane: the state does not grow with
//! the number of probes.

use super::ScenarioProbe;
#[cfg(doc)]
use super::history::STRIP_LEN;
use super::history::ScenarioHistory;
use super::metrics::CanaryMetrics;
use crate::commands::run::run_once_until;
use crate::report::RunReport;
use crate::roundtrip::NoProgress;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Shared by the schedulers and the HTTP handlers.
pub struct ServeState {
    pub metrics: Arc<CanaryMetrics>,
    scenarios: Vec<Arc<ScenarioProbe>>,
    last: Mutex<BTreeMap<String, Arc<RunReport>>>,
    history: Mutex<BTreeMap<String, ScenarioHistory>>,
    /// Time between probes of a scenario (the status page refreshes about as often).
    pub interval: Duration,
    /// When `serve` started: the status page says how long it has been running.
    pub started: SystemTime,
}

impl ServeState {
    pub fn new(
        metrics: Arc<CanaryMetrics>,
        scenarios: Vec<ScenarioProbe>,
        interval: Duration,
    ) -> ServeState {
        ServeState {
            metrics,
            scenarios: scenarios.into_iter().map(Arc::new).collect(),
            last: Mutex::new(BTreeMap::new()),
            history: Mutex::new(BTreeMap::new()),
            interval,
            started: SystemTime::now(),
        }
    }

    /// Every scenario's recent verdicts (empty for one that has not finished a probe).
    pub fn history(&self) -> BTreeMap<String, ScenarioHistory> {
        self.history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn scenarios(&self) -> &[Arc<ScenarioProbe>] {
        &self.scenarios
    }

    pub fn names(&self) -> Vec<&str> {
        self.scenarios.iter().map(|s| s.name.as_str()).collect()
    }

    pub fn scenario(&self, name: &str) -> Option<&Arc<ScenarioProbe>> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// The latest report of every scenario that has finished a probe.
    pub fn last(&self) -> BTreeMap<String, Arc<RunReport>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Scenarios still waiting for their first probe to finish.
    pub fn waiting(&self) -> Vec<&str> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        self.names()
            .into_iter()
            .filter(|n| !last.contains_key(*n))
            .collect()
    }

    /// Runs one scheduled probe of `scenario`, then counts it, logs it and keeps it as the
    /// scenario's latest report.
    pub async fn probe_and_record(&self, scenario: &ScenarioProbe) {
        let report = probe(scenario, None).await;
        let finished = SystemTime::now();
        self.metrics
            .record(&scenario.name, &report.signals, finished);
        self.metrics
            .record_pulls(&scenario.name, &report.pulls, finished);
        self.metrics
            .record_assertions(&scenario.name, &report.assertions);
        log_outcome(&scenario.name, &report);
        self.history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(scenario.name.clone())
            .or_default()
            .record(&report, finished);
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scenario.name.clone(), Arc::new(report));
    }
}

/// One probe of `scenario`, every read cut at `cap` if given.
pub async fn probe(scenario: &ScenarioProbe, cap: Option<Instant>) -> RunReport {
    run_once_until(&scenario.prepared, &NoProgress, cap).await.0
}

/// One log line per probe: info when it passed, warn with each failure's reason and hint.
fn log_outcome(scenario: &str, r: &RunReport) {
    let failures: Vec<String> = r
        .lanes()
        .iter()
        .filter(|l| l.status == crate::roundtrip::outcome::Status::Failed)
        .map(|l| {
            format!(
                "{} {}: {}",
                l.name,
                l.reason.map(|r| r.as_str()).unwrap_or("failed"),
                l.hint.unwrap_or("no hint")
            )
        })
        .chain(
            r.assertions
                .iter()
                .filter(|a| a.status == crate::roundtrip::outcome::Status::Failed)
                .map(|a| {
                    format!(
                        "assert {:?} {}: {}",
                        a.name,
                        a.reason.map(|r| r.as_str()).unwrap_or("failed"),
                        a.hint.as_deref().unwrap_or("no hint")
                    )
                }),
        )
        .collect();
    if failures.is_empty() {
        tracing::info!(
            scenario,
            probe_id = %r.probe.probe_id,
            seconds = r.seconds,
            "probe ok"
        );
    } else {
        tracing::warn!(
            scenario,
            probe_id = %r.probe.probe_id,
            seconds = r.seconds,
            failed = %failures.join(" | "),
            "probe failed"
        );
    }
}
