//! The log lines the lab's tailer read from files, held as the Loki entries an agent
//! (Promtail, Alloy's `loki.source.file`) pushing them would have created, so the lab's Loki
//! API can answer for the file path next to the OTLP path.
//!
//! Bounded: at most `MAX_LINES_PER_FILE` lines per file, the oldest dropped first, so a
//! chatty file tailed for hours does not grow the lab without limit.
//!
//! Tenancy: the lab's agent pushes without `X-Scope-OrgID`, so tailed lines belong to the
//! single-tenant view only; with `--require-tenant` no tenant sees them (a real multi-tenant
//! Loki would have refused the push with 401 `no org id`).

use super::loki_mapping::{LokiEntry, discover_service_name};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// Lines kept per tailed file.
pub const MAX_LINES_PER_FILE: usize = 10_000;

/// The `job` label the lab's agent gives tailed files (in a real agent, the scrape config's).
pub const TAIL_JOB: &str = "otel-canary";

/// The stream a tailed file's lines land in: the agent's `job` and `filename` labels, plus the
/// `service_name` Loki 3's distributor derives from `job` (`discover_service_name`, whose
/// default list is service, app, application, name, app_kubernetes_io_name, container,
/// container_name, k8s_container_name, component, workload, job, k8s_job_name).
pub fn stream_labels(path: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("job".to_string(), TAIL_JOB.to_string()),
        ("filename".to_string(), path.to_string()),
    ]);
    discover_service_name(&mut labels);
    labels
}

/// Tailed lines per file path (as given).
#[derive(Debug, Default)]
pub struct TailStore {
    files: Mutex<BTreeMap<String, VecDeque<LokiEntry>>>,
}

impl TailStore {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, VecDeque<LokiEntry>>> {
        // Plain data: still consistent if a holder panicked.
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores one line read from `path` at `ts_ns`. No structured metadata: a file agent sends
    /// none, and Loki's level detection adds `detected_level` only for lines that name a level
    /// (a `level` field, or words like "error"), which the canary's probe lines do not.
    pub fn push(&self, path: &str, ts_ns: i128, line: String) {
        let mut files = self.lock();
        let lines = files.entry(path.to_string()).or_default();
        if lines.len() >= MAX_LINES_PER_FILE {
            lines.pop_front();
        }
        lines.push_back(LokiEntry {
            ts_ns,
            line,
            labels: stream_labels(path),
            metadata: BTreeMap::new(),
        });
    }

    /// Every stored line, for the query API.
    pub fn entries(&self) -> Vec<LokiEntry> {
        self.lock().values().flatten().cloned().collect()
    }

    /// How many lines are stored in all.
    pub fn len(&self) -> usize {
        self.lock().values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_agents_plus_the_discovered_service_name() {
        let l = stream_labels("/var/log/canary.log");
        assert_eq!(l["job"], "otel-canary");
        assert_eq!(l["filename"], "/var/log/canary.log");
        assert_eq!(l["service_name"], "otel-canary");
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn keeps_a_bounded_number_of_lines_per_file() {
        let store = TailStore::default();
        for i in 0..MAX_LINES_PER_FILE + 3 {
            store.push("a.log", i as i128, format!("line {i}"));
        }
        store.push("b.log", 0, "other".into());
        assert_eq!(store.len(), MAX_LINES_PER_FILE + 1);
        let entries = store.entries();
        assert!(
            !entries.iter().any(|e| e.line == "line 2"),
            "oldest dropped"
        );
        assert!(entries.iter().any(|e| e.line == "line 3"));
        assert!(entries.iter().any(|e| e.line == "other"));
    }
}
