//! What the lab's scraper has stored: series as Prometheus' TSDB head holds them (label set →
//! samples in time order), plus each target's last scrape outcome. Kept apart from
//! `lab::store` because scraped samples are not OTLP requests: they are already Prometheus
//! samples, and a scraper running for hours must not pile up requests.
//!
//! Bounded twice, so memory stays flat however long the lab runs: at most
//! `MAX_SAMPLES_PER_SERIES` samples per series (the oldest go first; at one scrape a second
//! that is the last ~16 minutes, more than the 5-minute lookback needs) and at most
//! `MAX_SERIES` series (a page whose label values change every scrape evicts the series
//! that went longest without a sample).
//!
//! Tenancy: a Prometheus scrape has no tenant, so scraped series belong to the single-tenant
//! view only. With `--require-tenant` every query names a tenant and none of them sees
//! scraped data, as a tenant-less remote write into a multi-tenant Mimir would be refused.

use super::prom_mapping::Labels;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

/// Samples kept per series.
pub const MAX_SAMPLES_PER_SERIES: usize = 1_000;

/// Series kept in all.
pub const MAX_SERIES: usize = 10_000;

/// A target's last scrape, for `otel-canary lab` to report (Prometheus' `/targets` page).
#[derive(Clone, Debug, PartialEq)]
pub struct TargetHealth {
    pub up: bool,
    /// Why the last scrape failed (Prometheus' `lastError`), empty when it did not.
    pub last_error: String,
    pub last_scrape: SystemTime,
    /// Samples the last scrape took from the page.
    pub samples: usize,
}

#[derive(Debug, Default)]
struct Inner {
    series: HashMap<Labels, VecDeque<(i64, f64)>>,
    health: BTreeMap<String, TargetHealth>,
}

/// The scraped series and target health.
#[derive(Debug, Default)]
pub struct ScrapeStore {
    inner: Mutex<Inner>,
}

impl ScrapeStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain data: still consistent if a holder panicked.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one scrape's samples. Like the TSDB head, a sample not newer than its series'
    /// newest is dropped (out of order or a duplicate timestamp).
    pub fn append(&self, samples: impl IntoIterator<Item = (Labels, i64, f64)>) {
        let mut inner = self.lock();
        for (labels, ts, value) in samples {
            if !inner.series.contains_key(&labels) && inner.series.len() >= MAX_SERIES {
                evict_stalest(&mut inner.series);
            }
            let points = inner.series.entry(labels).or_default();
            if points.back().is_some_and(|(t, _)| *t >= ts) {
                continue;
            }
            if points.len() >= MAX_SAMPLES_PER_SERIES {
                points.pop_front();
            }
            points.push_back((ts, value));
        }
    }

    /// Every series with its samples, oldest first, for the query API.
    pub fn series(&self) -> BTreeMap<Labels, Vec<(i64, f64)>> {
        self.lock()
            .series
            .iter()
            .map(|(l, p)| (l.clone(), p.iter().copied().collect()))
            .collect()
    }

    /// How many series are stored.
    pub fn series_count(&self) -> usize {
        self.lock().series.len()
    }

    /// Records a target's latest scrape.
    pub fn set_health(&self, url: &str, health: TargetHealth) {
        self.lock().health.insert(url.to_string(), health);
    }

    /// Each target's latest scrape, by URL.
    pub fn health(&self) -> BTreeMap<String, TargetHealth> {
        self.lock().health.clone()
    }
}

fn evict_stalest(series: &mut HashMap<Labels, VecDeque<(i64, f64)>>) {
    let stalest = series
        .iter()
        .min_by_key(|(_, p)| p.back().map_or(i64::MIN, |(t, _)| *t))
        .map(|(l, _)| l.clone());
    if let Some(l) = stalest {
        series.remove(&l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> Labels {
        Labels::from([("__name__".to_string(), name.to_string())])
    }

    #[test]
    fn keeps_a_bounded_number_of_samples_per_series() {
        let store = ScrapeStore::default();
        let n = MAX_SAMPLES_PER_SERIES as i64 + 5;
        store.append((0..n).map(|t| (labels("a"), t, t as f64)));
        let all = store.series();
        let points = &all[&labels("a")];
        assert_eq!(points.len(), MAX_SAMPLES_PER_SERIES);
        assert_eq!(points.first(), Some(&(5, 5.0)), "the oldest went first");
        assert_eq!(points.last(), Some(&(n - 1, (n - 1) as f64)));
    }

    #[test]
    fn drops_out_of_order_and_duplicate_samples() {
        let store = ScrapeStore::default();
        store.append([
            (labels("a"), 10, 1.0),
            (labels("a"), 10, 2.0),
            (labels("a"), 5, 3.0),
            (labels("a"), 11, 4.0),
        ]);
        assert_eq!(store.series()[&labels("a")], vec![(10, 1.0), (11, 4.0)]);
    }

    #[test]
    fn keeps_a_bounded_number_of_series() {
        let store = ScrapeStore::default();
        store.append([(labels("old"), 1, 1.0)]);
        store.append((0..MAX_SERIES).map(|i| (labels(&format!("s{i}")), 100, 1.0)));
        assert_eq!(store.series_count(), MAX_SERIES);
        assert!(!store.series().contains_key(&labels("old")));
        assert!(store.series().contains_key(&labels("s0")));
    }
}
