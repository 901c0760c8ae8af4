//! The lab playing Prometheus 2.53's scraper for one target, so a pull path (a `/metrics` page
//! that must reach the query API through the user's scraper, incident 4) can be proven
//! against the lab as against a real stack.
//!
//! Every `interval` (the first right away, where Prometheus would wait a hashed offset) it
//! GETs the page with Prometheus' headers, reads it with `lab::exposition` and stores what a
//! scrape job with default settings stores: every sample under its exposed name and labels
//! (no name translation, no `target_info`) plus `job` and `instance` (the URL's host:port,
//! default port added as 2.x does; a page label of the same name is kept as `exported_job`
//! or `exported_instance`, labels with empty values dropped), at the scrape's start time or
//! the sample's own timestamp (`honor_timestamps`). Then the five series Prometheus adds per
//! scrape: `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling` and `scrape_series_added`.
//!
//! A scrape fails (`up` 0, nothing from the page) when nothing answers within the timeout
//! (min(interval, 10 s)), the status is not 200 (Prometheus accepts no other, not even 204),
//! the body exceeds `MAX_BODY_BYTES`, or the page does not parse. Staleness works as in
//! Prometheus: a series the previous scrape had and this one lacks (every series, when this
//! one failed) gets a staleness marker, so instant queries stop returning it at once rather
//! than after the 5-minute lookback. Series the page gave its own timestamps are not marked
//! (Prometheus' `track_timestamps_staleness` default).

use super::LabState;
use super::exposition::{self, ExposedSample, Format};
use super::params::millis_of;
use super::prom_mapping::Labels;
use super::promql::stale_marker;
use super::scrape_store::TargetHealth;
use crate::config::otlp::TlsSettings;
use crate::diagnose::error_class::chain_text;
use crate::emit::tls;
use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinHandle;
use url::Url;

/// The Accept header Prometheus 2.53 sends with its default `scrape_protocols`.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// The User-Agent of the Prometheus the lab plays.
pub const USER_AGENT: &str = "Prometheus/2.53.3";

/// Prometheus' default `scrape_timeout`; a shorter interval shortens it.
pub const MAX_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest page (after gzip) the lab reads; Prometheus' `body_size_limit` is unlimited by
/// default, the lab keeps its memory bounded and fails the scrape beyond this.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// The default scrape interval of `otel-canary lab --scrape`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// The default `job` label.
pub const DEFAULT_JOB: &str = "otel-canary";

/// A page to scrape, as one `static_configs` target of one scrape job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// The page (`http` or `https`; https is verified against the system's roots, as a
    /// Prometheus without `tls_config` does).
    pub url: Url,
    /// `scrape_interval`; the timeout is min(interval, 10 s).
    pub interval: Duration,
    /// `job_name`, the `job` label of every stored series.
    pub job: String,
}

/// Why a target cannot be scraped at all (as opposed to a scrape failing, which is `up` 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidTarget(pub String);

impl fmt::Display for InvalidTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidTarget {}

impl ScrapeTarget {
    /// A target with the default interval (1 s) and job (`otel-canary`).
    pub fn new(url: &str) -> Result<ScrapeTarget, InvalidTarget> {
        let url = Url::parse(url).map_err(|e| InvalidTarget(format!("{url:?}: {e}")))?;
        let target = ScrapeTarget {
            url,
            interval: DEFAULT_INTERVAL,
            job: DEFAULT_JOB.to_string(),
        };
        target.check()?;
        Ok(target)
    }

    /// Refuses what Prometheus' config loading refuses: a scheme other than http(s), no host,
    /// a zero interval, an empty job.
    pub fn check(&self) -> Result<(), InvalidTarget> {
        if !matches!(self.url.scheme(), "http" | "https") {
            return Err(InvalidTarget(format!(
                "{}: only http:// and https:// pages can be scraped",
                self.url
            )));
        }
        if self.url.host_str().is_none_or(str::is_empty) {
            return Err(InvalidTarget(format!("{}: no host", self.url)));
        }
        if self.interval.is_zero() {
            return Err(InvalidTarget(
                "the scrape interval must be above zero".into(),
            ));
        }
        if self.job.trim().is_empty() {
            return Err(InvalidTarget("the job name must not be empty".into()));
        }
        Ok(())
    }

    /// The `instance` label: the URL's host:port, the scheme's port when none is written.
    pub fn instance(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// min(interval, 10 s), as Prometheus requires `scrape_timeout` ≤ `scrape_interval`.
    pub fn timeout(&self) -> Duration {
        self.interval.min(MAX_SCRAPE_TIMEOUT)
    }
}

/// Starts scraping `target` into `state` until the handle is aborted.
pub(crate) fn spawn(
    state: Arc<LabState>,
    target: ScrapeTarget,
) -> Result<JoinHandle<()>, InvalidTarget> {
    target.check()?;
    let tls_config = if target.url.scheme() == "https" {
        (*tls::client_config(&TlsSettings::default(), &[b"h2", b"http/1.1"])
            .map_err(|e| InvalidTarget(e.to_string()))?)
        .clone()
    } else {
        // Also installs ring as the process' rustls provider, as the rest of the crate does.
        tls::plain_only_config()
    };
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .use_preconfigured_tls(tls_config)
        // Prometheus ignores proxy variables unless told otherwise.
        .no_proxy()
        .build()
        .map_err(|e| InvalidTarget(chain_text(&e)))?;
    Ok(tokio::spawn(run(state, target, client)))
}

async fn run(state: Arc<LabState>, target: ScrapeTarget, client: reqwest::Client) {
    let mut tick = tokio::time::interval(target.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let target_labels = [("instance", target.instance()), ("job", target.job.clone())];
    let mut previous: HashSet<Labels> = HashSet::new();
    loop {
        tick.tick().await;
        let started = SystemTime::now();
        let clock = Instant::now();
        let outcome = fetch(&client, &target).await;
        let duration = clock.elapsed();
        let ts = millis_of(started);
        let page = outcome.as_deref().unwrap_or_default();
        let mut current = HashSet::new();
        let mut batch = Vec::with_capacity(page.len() + previous.len() + 5);
        for s in page {
            let labels = series_labels(s, &target_labels);
            if s.timestamp_ms.is_none() {
                current.insert(labels.clone());
            }
            batch.push((labels, s.timestamp_ms.unwrap_or(ts), s.value));
        }
        let added = current.difference(&previous).count();
        batch.extend(
            previous
                .difference(&current)
                .map(|l| (l.clone(), ts, stale_marker())),
        );
        for (name, value) in [
            ("up", if outcome.is_ok() { 1.0 } else { 0.0 }),
            ("scrape_duration_seconds", duration.as_secs_f64()),
            ("scrape_samples_scraped", page.len() as f64),
            ("scrape_samples_post_metric_relabeling", page.len() as f64),
            ("scrape_series_added", added as f64),
        ] {
            let mut labels: Labels = target_labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            labels.insert("__name__".into(), name.into());
            batch.push((labels, ts, value));
        }
        state.scraped.append(batch);
        state.scraped.set_health(
            target.url.as_str(),
            TargetHealth {
                up: outcome.is_ok(),
                last_error: outcome.as_ref().err().cloned().unwrap_or_default(),
                last_scrape: started,
                samples: page.len(),
            },
        );
        previous = current;
    }
}

/// A sample's stored labels: the page's (empty values dropped), the target's `job` and
/// `instance` over them (a clashing page label renamed `exported_<name>`), and the name.
fn series_labels(s: &ExposedSample, target_labels: &[(&str, String)]) -> Labels {
    let mut labels: Labels = s
        .labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .cloned()
        .collect();
    for (name, value) in target_labels {
        if let Some(exposed) = labels.remove(*name) {
            let mut renamed = format!("exported_{name}");
            while labels.contains_key(&renamed) {
                renamed = format!("exported_{renamed}");
            }
            labels.insert(renamed, exposed);
        }
        labels.insert(name.to_string(), value.clone());
    }
    labels.insert("__name__".into(), s.name.clone());
    labels
}

/// One scrape: the page's samples, or why the scrape failed (Prometheus' `lastError` text).
async fn fetch(
    client: &reqwest::Client,
    target: &ScrapeTarget,
) -> Result<Vec<ExposedSample>, String> {
    let timeout = target.timeout();
    let request = client
        .get(target.url.clone())
        .header(reqwest::header::ACCEPT, ACCEPT)
        .header(reqwest::header::ACCEPT_ENCODING, "gzip")
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{:.6}", timeout.as_secs_f64()),
        );
    let scrape = async {
        let mut resp = request.send().await.map_err(|e| chain_text(&e))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(format!("server returned HTTP status {}", resp.status()));
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let gzip = header(reqwest::header::CONTENT_ENCODING).as_deref() == Some("gzip");
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| chain_text(&e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err("body size limit exceeded".into());
            }
            body.extend_from_slice(&chunk);
        }
        if gzip {
            body = gunzip(&body)?;
        }
        exposition::parse(&body, Format::from_content_type(content_type.as_deref()))
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(timeout, scrape).await {
        Ok(result) => result,
        Err(_) => Err("context deadline exceeded".into()),
    }
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e}"))?;
    if out.len() > MAX_BODY_BYTES {
        return Err("body size limit exceeded".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_like_prometheus_config() {
        let t = ScrapeTarget::new("http://127.0.0.1:9464/metrics").unwrap();
        assert_eq!(t.instance(), "127.0.0.1:9464");
        assert_eq!(t.job, "otel-canary");
        assert_eq!(t.timeout(), Duration::from_secs(1));
        assert_eq!(
            ScrapeTarget::new("https://app.example/metrics")
                .unwrap()
                .instance(),
            "app.example:443"
        );
        assert_eq!(
            ScrapeTarget::new("http://[::1]:9464/m").unwrap().instance(),
            "[::1]:9464"
        );
        for bad in [
            "ftp://h/metrics",
            "127.0.0.1:9464",
            "not a url",
            "file:///x",
        ] {
            assert!(ScrapeTarget::new(bad).is_err(), "{bad}");
        }
        let mut t = ScrapeTarget::new("http://h:1/m").unwrap();
        t.interval = Duration::from_secs(60);
        assert_eq!(t.timeout(), MAX_SCRAPE_TIMEOUT);
        t.interval = Duration::ZERO;
        assert!(t.check().is_err());
        t.interval = Duration::from_secs(1);
        t.job = " ".into();
        assert!(t.check().is_err());
    }

    #[test]
    fn target_labels_win_and_clashing_page_labels_are_renamed() {
        let s = ExposedSample {
            name: "m".into(),
            labels: vec![
                ("job".into(), "app".into()),
                ("exported_job".into(), "older".into()),
                ("empty".into(), String::new()),
                ("scenario".into(), "lab".into()),
            ],
            value: 1.0,
            timestamp_ms: None,
        };
        let target = [("instance", "h:1".to_string()), ("job", "j".to_string())];
        let l = series_labels(&s, &target);
        assert_eq!(l["job"], "j");
        assert_eq!(l["instance"], "h:1");
        assert_eq!(l["exported_exported_job"], "app");
        assert_eq!(l["exported_job"], "older");
        assert_eq!(l["scenario"], "lab");
        assert_eq!(l["__name__"], "m");
        assert!(!l.contains_key("empty"));
    }

    #[test]
    fn gzip_bodies_are_unpacked_and_bounded() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"a 1\n").unwrap();
        assert_eq!(gunzip(&enc.finish().unwrap()).unwrap(), b"a 1\n");
        assert!(gunzip(b"not gzip").is_err());
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&vec![b'a'; MAX_BODY_BYTES + 1]).unwrap();
        assert!(
            gunzip(&enc.finish().unwrap())
                .unwrap_err()
                .contains("limit")
        );
    }
}
