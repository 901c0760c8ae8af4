//! `otel-canary serve` against the lab: metrics that follow success, a fault and recovery;
//! `/probe` blackbox-style; skipped probes; `/api/v1/last` and health; a clean SIGTERM; and a
//! memory bound by probe count.

mod common;

use common::real_backends::http_client;
use common::serve_process::{ServeProcess, sample};
use otel_canary::lab::{LabStack, SignalFault};
use otel_canary::signal::Signal;
use std::time::{Duration, Instant};

async fn lab() -> LabStack {
    common::lab_stack().await
}

/// `serve` flags pointing every signal at the lab.
fn lab_args(lab: &LabStack, extra: &[&str]) -> Vec<String> {
    common::lab_stack_args(lab, extra)
}

async fn get(url: &str) -> (u16, String) {
    let r = http_client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// Polls `/metrics` until `pred` holds on the page, or panics after `within`.
async fn metrics_until(
    serve: &ServeProcess,
    within: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        let (_, page) = get(&serve.url("/metrics")).await;
        if pred(&page) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {within:?}\n/metrics:\n{page}\nlogs:\n{}",
            serve.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const LOG_UP: &str = r#"otel_canary_signal_up{scenario="default",signal="log"}"#;
const PROBES: &str = r#"otel_canary_probes_total{scenario="default"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_success_then_a_fault_then_recovery() {
    let lab = lab().await;
    let serve = ServeProcess::start(&lab_args(
        &lab,
        &["--interval", "200ms", "--timeout", "1s", "--no-search"],
    ));

    let page = metrics_until(&serve, Duration::from_secs(20), "a passing probe", |p| {
        sample(p, LOG_UP) == Some(1.0)
    })
    .await;
    for signal in ["trace", "metric"] {
        let up = format!(r#"otel_canary_signal_up{{scenario="default",signal="{signal}"}}"#);
        assert_eq!(sample(&page, &up), Some(1.0), "{signal} up\n{page}");
    }
    assert!(
        sample(
            &page,
            r#"otel_canary_hop_duration_seconds_count{scenario="default",signal="log",hop="ingest"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{page}"
    );
    let ok_at = sample(
        &page,
        r#"otel_canary_last_success_timestamp_seconds{scenario="default",signal="log"}"#,
    )
    .expect("a last success time");

    // Logs acknowledged and lost: the log goes down with not_found, the others stay up.
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    let page = metrics_until(&serve, Duration::from_secs(20), "the log failing", |p| {
        sample(p, LOG_UP) == Some(0.0)
    })
    .await;
    let failures =
        r#"otel_canary_probe_failures_total{scenario="default",signal="log",reason="not_found"}"#;
    assert!(sample(&page, failures).is_some_and(|n| n >= 1.0), "{page}");
    assert_eq!(
        sample(
            &page,
            r#"otel_canary_signal_up{scenario="default",signal="trace"}"#
        ),
        Some(1.0)
    );
    // The metrics move before the probe's log line is written and read back: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let warned = loop {
        let found = serve
            .logs()
            .into_iter()
            .find(|l| l["level"] == "WARN" && l["fields"]["message"] == "probe failed");
        match found {
            Some(l) => break l,
            None if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            None => panic!("no 'probe failed' line:\n{}", serve.stderr_text()),
        }
    };
    let failed = warned["fields"]["failed"].as_str().unwrap_or_default();
    assert!(
        failed.contains("log not_found") && failed.contains("never reached Loki"),
        "the log line names the signal, reason and hint: {warned}"
    );

    // Recovery: the log comes back up and its last success moves on.
    lab.state.faults.clear();
    let page = metrics_until(&serve, Duration::from_secs(20), "the log recovering", |p| {
        sample(p, LOG_UP) == Some(1.0)
    })
    .await;
    let later = sample(
        &page,
        r#"otel_canary_last_success_timestamp_seconds{scenario="default",signal="log"}"#,
    )
    .unwrap();
    assert!(later > ok_at, "last success moved from {ok_at} to {later}");
    assert!(
        sample(&page, failures).is_some(),
        "failures are counters: they stay"
    );
    assert!(page.contains("otel_canary_build_info{version="), "{page}");
    assert!(
        page.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_endpoint_answers_blackbox_style_within_the_scrape_timeout() {
    let lab = lab().await;
    let serve = ServeProcess::start(&lab_args(
        &lab,
        &["--interval", "1h", "--timeout", "20s", "--no-search"],
    ));
    let client = http_client();
    let probe = |timeout: Option<&'static str>| {
        let mut req = client.get(serve.url("/probe?scenario=default"));
        if let Some(t) = timeout {
            req = req.header("X-Prometheus-Scrape-Timeout-Seconds", t);
        }
        req.send()
    };

    let r = probe(None).await.expect("/probe answers");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    let page = r.text().await.unwrap();
    assert_eq!(sample(&page, "probe_success"), Some(1.0), "{page}");
    assert!(sample(&page, "probe_duration_seconds").is_some_and(|s| s > 0.0));
    assert_eq!(
        sample(&page, r#"otel_canary_probe_signal_up{signal="metric"}"#),
        Some(1.0)
    );
    assert!(
        sample(
            &page,
            r#"otel_canary_probe_hop_duration_seconds{signal="trace",hop="export"}"#
        )
        .is_some(),
        "{page}"
    );

    // Metrics visible only after 30 s, but the scraper gives 2 s: the answer comes in time
    // and says the metric failed; the deadline (20 s) gave way to the scrape timeout.
    lab.state.faults.set(
        Signal::Metric,
        SignalFault {
            ingest_delay: Duration::from_secs(30),
            ..Default::default()
        },
    );
    let asked = Instant::now();
    let page = probe(Some("2")).await.unwrap().text().await.unwrap();
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "answered in {took:?}\n{page}"
    );
    assert_eq!(sample(&page, "probe_success"), Some(0.0), "{page}");
    assert_eq!(
        sample(&page, r#"otel_canary_probe_signal_up{signal="metric"}"#),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            r#"otel_canary_probe_failed{signal="metric",reason="not_found"}"#
        ),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, r#"otel_canary_probe_signal_up{signal="log"}"#),
        Some(1.0)
    );

    // Bad requests are named.
    let (status, body) = get(&serve.url("/probe?scenario=nope")).await;
    assert_eq!(status, 404);
    assert!(
        body.contains("unknown scenario 'nope' (known: default)"),
        "{body}"
    );
    let r = client
        .get(serve.url("/probe"))
        .header("X-Prometheus-Scrape-Timeout-Seconds", "soon")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // /probe is the scraper's own probe: it does not move the scheduled counters.
    let (_, metrics) = get(&serve.url("/metrics")).await;
    assert!(sample(&metrics, PROBES).unwrap_or(0.0) <= 1.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_are_skipped_and_counted_when_the_backend_is_slower_than_the_interval() {
    let lab = lab().await;
    // Logs show up 2 s after the ack; probes start every 100 ms; one may run at a time.
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            ingest_delay: Duration::from_secs(2),
            ..Default::default()
        },
    );
    let serve = ServeProcess::start(&lab_args(
        &lab,
        &[
            "--interval",
            "100ms",
            "--max-in-flight",
            "1",
            "--timeout",
            "5s",
            "--no-search",
        ],
    ));
    let skipped = r#"otel_canary_probes_skipped_total{scenario="default"}"#;
    let page = metrics_until(&serve, Duration::from_secs(20), "a finished probe", |p| {
        sample(p, PROBES).is_some_and(|n| n >= 1.0)
    })
    .await;
    let probes = sample(&page, PROBES).unwrap();
    let skips = sample(&page, skipped).unwrap_or(0.0);
    // About 2 s per probe at 10 ticks a second: most ticks find the one slot busy.
    assert!(skips >= 5.0, "skipped {skips} with {probes} probes\n{page}");
    assert_eq!(
        sample(&page, LOG_UP),
        Some(1.0),
        "slow is not failed: the log arrived within its deadline"
    );
    assert!(
        serve.logs().iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("probe skipped"))),
        "{}",
        serve.stderr_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_report_health_and_readiness() {
    let lab = lab().await;
    let serve = ServeProcess::start(&lab_args(&lab, &["--interval", "300ms", "--no-search"]));
    let (status, body) = get(&serve.url("/-/healthy")).await;
    assert_eq!((status, body.as_str()), (200, "otel-canary is healthy.\n"));
    metrics_until(&serve, Duration::from_secs(20), "a probe", |p| {
        sample(p, PROBES).is_some()
    })
    .await;
    let (status, body) = get(&serve.url("/-/ready")).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = get(&serve.url("/api/v1/last")).await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(doc["schema"], "otel-canary/serve-last/v1");
    let last = &doc["scenarios"]["default"];
    assert_eq!(last["schema"], "otel-canary/run/v1", "{body}");
    assert_eq!(last["ok"], true);
    assert_eq!(last["signals"].as_array().map(Vec::len), Some(3));
    assert!(last.get("pulls").is_none(), "no pull paths configured");

    let (status, body) = get(&serve.url("/api/v1/last?scenario=default")).await;
    assert_eq!(status, 200);
    let one: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(one["schema"], "otel-canary/run/v1");
    let (status, _) = get(&serve.url("/api/v1/last?scenario=other")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_probes_finish_then_exits_zero() {
    let lab = lab().await;
    // Every probe takes about a second (the log's ingest delay).
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            ingest_delay: Duration::from_millis(1200),
            ..Default::default()
        },
    );
    let serve = ServeProcess::start(&lab_args(
        &lab,
        &[
            "--interval",
            "200ms",
            "--timeout",
            "10s",
            "--no-search",
            "--shutdown-grace",
            "5s",
        ],
    ));
    // Wait until a probe is certainly running: one finished, and ticks continue.
    metrics_until(&serve, Duration::from_secs(20), "a probe", |p| {
        sample(p, PROBES).is_some()
    })
    .await;
    let (status, took, logs) = serve.terminate(Duration::from_secs(8));
    assert_eq!(status.code(), Some(0), "exit status {status}\n{logs}");
    assert!(logs.contains("SIGTERM received: stopping"), "{logs}");
    assert!(logs.contains("waiting for running probes"), "{logs}");
    assert!(logs.contains("\"stopped\""), "{logs}");
    assert!(
        !logs.contains("were dropped"),
        "they finished within the grace\n{logs}"
    );
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drops_probes_that_outlive_the_grace() {
    let lab = lab().await;
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            ingest_delay: Duration::from_secs(60),
            ..Default::default()
        },
    );
    let serve = ServeProcess::start(&lab_args(
        &lab,
        &[
            "--interval",
            "100ms",
            "--timeout",
            "60s",
            "--no-search",
            "--shutdown-grace",
            "300ms",
        ],
    ));
    // Give the first tick (at most 10 ms in) time to start a probe.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, took, logs) = serve.terminate(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{logs}");
    assert!(logs.contains("were dropped"), "{logs}");
    assert!(took < Duration::from_secs(3), "stopped in {took:?}");
}

/// Memory is bounded by what `serve` keeps, not by how many probes it ran: after 5,000 probes
/// the page has exactly the series it had after 100, `/api/v1/last` still holds one report,
/// and the resident set has not grown beyond allocator noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_state_does_not_grow_with_the_number_of_probes() {
    let lab = lab().await;
    let serve = ServeProcess::start(&lab_args(
        &lab,
        // Trace-only probes are the fastest the lab answers (its Loki and Prometheus re-read
        // the whole store per query); what serve keeps per probe does not depend on signals.
        &[
            "--interval",
            "1ms",
            "--max-in-flight",
            "4",
            "--signals",
            "trace",
            "--no-search",
            "--log-level",
            "warn,otel_canary::serve=info,otel_canary::serve::state=warn",
        ],
    ));
    let series = |page: &str| -> Vec<String> {
        page.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s.to_string()))
            .collect()
    };
    let at = |n: f64| move |p: &str| sample(p, PROBES).is_some_and(|v| v >= n);
    let early = metrics_until(&serve, Duration::from_secs(60), "100 probes", at(100.0)).await;
    let rss_early = serve.rss_kib();
    let late = metrics_until(&serve, Duration::from_secs(600), "5,000 probes", at(5000.0)).await;
    let rss_late = serve.rss_kib();
    assert_eq!(
        series(&early),
        series(&late),
        "the same series after 100 and 5,000 probes"
    );
    assert_eq!(
        late.lines()
            .find(|l| l.starts_with("otel_canary_probe_failures_total")),
        None,
        "every probe passed"
    );
    let (_, last) = get(&serve.url("/api/v1/last")).await;
    let doc: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(doc["scenarios"].as_object().map(|m| m.len()), Some(1));
    // Per-probe state left behind would be tens of KiB a probe (a report is ~5 KiB of JSON,
    // far more in memory): 4,900 of them would add well over 20 MiB.
    assert!(
        rss_late < rss_early + 8 * 1024,
        "RSS grew from {rss_early} KiB after 100 probes to {rss_late} KiB after 5,000"
    );
    eprintln!("RSS after 100 probes: {rss_early} KiB; after 5,000: {rss_late} KiB");
}

/// The learned schedule end to end: once a few probes of a log that takes 300 ms to become
/// visible are known, serve's reports say the reads were learned, spend at most 8 of them, and
/// bracket the truth far tighter than `run`'s rule can at 300 ms (its gap there is about
/// 58 ms); `--schedule one-shot` keeps the rule. Under a loaded machine a single probe can be
/// late, so the tight bracket is asked of one of ten consecutive reports, the budget of all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_learns_where_the_data_becomes_visible() {
    let lab = lab().await;
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            ingest_delay: Duration::from_millis(300),
            ..Default::default()
        },
    );
    let serve = ServeProcess::start(&lab_args(&lab, &["--interval", "200ms", "--no-search"]));
    metrics_until(&serve, Duration::from_secs(60), "6 probes", |p| {
        sample(p, PROBES).is_some_and(|n| n >= 6.0)
    })
    .await;
    let reports = last_log_ingests(&serve, 10).await;
    let mut tight = 0;
    for ingest in &reports {
        assert_eq!(ingest["status"], "ok", "{ingest}");
        assert_eq!(ingest["schedule"]["kind"], "learned", "{ingest}");
        let queries = ingest["queries"].as_u64().unwrap();
        assert!(queries <= 8, "{queries} reads: {ingest}");
        let width = ingest["resolution"].as_f64().unwrap();
        let seconds = ingest["seconds"].as_f64().unwrap();
        if width <= 0.04 && (seconds - 0.3).abs() <= 0.03 {
            tight += 1;
        }
    }
    assert!(
        tight >= 1,
        "no report bracketed 300 ms within 40 ms: {reports:#?}"
    );
    drop(serve);

    let serve = ServeProcess::start(&lab_args(
        &lab,
        &[
            "--interval",
            "200ms",
            "--no-search",
            "--schedule",
            "one-shot",
        ],
    ));
    metrics_until(&serve, Duration::from_secs(60), "4 probes", |p| {
        sample(p, PROBES).is_some_and(|n| n >= 4.0)
    })
    .await;
    for ingest in last_log_ingests(&serve, 2).await {
        assert_eq!(ingest["schedule"]["kind"], "one_shot", "{ingest}");
    }
}

/// The log's ingest hop from `n` consecutive probes' reports on `/api/v1/last`.
async fn last_log_ingests(serve: &ServeProcess, n: usize) -> Vec<serde_json::Value> {
    let mut seen: Vec<serde_json::Value> = Vec::new();
    let mut probe_ids: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < n {
        assert!(Instant::now() < deadline, "{n} reports not seen in 60 s");
        let (_, body) = get(&serve.url("/api/v1/last?scenario=default")).await;
        let last: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let id = last["probe"]["probe_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !id.is_empty() && !probe_ids.contains(&id) {
            probe_ids.push(id);
            let ingest = last["signals"]
                .as_array()
                .and_then(|s| s.iter().find(|s| s["signal"] == "log"))
                .and_then(|log| log["hops"].as_array())
                .and_then(|h| h.iter().find(|h| h["hop"] == "ingest"))
                .cloned()
                .unwrap_or_default();
            seen.push(ingest);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}
