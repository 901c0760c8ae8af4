//! The shipped alert rules (docker/prometheus/otel-canary-alerts.yaml) and Grafana dashboard
//! (docker/grafana/otel-canary-dashboard.json), checked against a real Prometheus 2.53 that
//! scrapes a metrics page built by the real `serve` registry (`CanaryMetrics`).

mod common;

use axum::http::header;
use common::real_backends::{Prometheus, instant_query};
use otel_canary::config::Sourced;
use otel_canary::config::emitter::Emitter;
use otel_canary::config::otlp::{Compression, Protocol};
use otel_canary::diagnose::error_class::ErrorClass;
use otel_canary::emit::outcome::ExportOutcome;
use otel_canary::roundtrip::outcome::{Hop, HopName, Reason, SignalOutcome, Status};
use otel_canary::serve::metrics::CanaryMetrics;
use otel_canary::signal::Signal;
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

const RULES: &str = "docker/prometheus/otel-canary-alerts.yaml";
const DASHBOARD: &str = "docker/grafana/otel-canary-dashboard.json";
const RUNBOOK: &str = "https://github.com/otel-canary/otel-canary#alerting";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Scrape and rule evaluation interval of the test Prometheus.
const TICK: Duration = Duration::from_secs(1);
/// How long anything that should happen within a few ticks may take on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(45);

/// Every alert the rule file defines, by group.
const ALERTS: [(&str, &str); 6] = [
    ("otel-canary", "OtelCanarySignalDown"),
    ("otel-canary", "OtelCanaryNoRecentSuccess"),
    ("otel-canary", "OtelCanaryHopLatencyHigh"),
    ("otel-canary", "OtelCanaryProbesSkipped"),
    ("otel-canary-self", "OtelCanaryDown"),
    ("otel-canary-self", "OtelCanaryAbsent"),
];

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---- outcomes, as a probe produces them -----------------------------------------------------

fn export(signal: Signal) -> ExportOutcome {
    ExportOutcome {
        signal,
        emitter: Emitter::Wire,
        url: Sourced::default_value(
            url::Url::parse("http://127.0.0.1:4318/")
                .unwrap()
                .join(signal.otlp_http_path())
                .unwrap(),
        ),
        protocol: Sourced::default_value(Protocol::HttpProtobuf),
        compression: Compression::None,
        headers: Vec::new(),
        payload_bytes: 300,
        bytes_sent: Some(300),
        attempts: Vec::new(),
        sdk: None,
    }
}

/// Status and reason come from the hops through `settle()`, as in a real probe.
fn outcome(signal: Signal, hops: Vec<Hop>) -> SignalOutcome {
    let mut o = SignalOutcome {
        signal,
        emitter: Emitter::Wire,
        sent_at: 0.0,
        status: Status::Skipped,
        reason: None,
        hint: None,
        export: export(signal),
        read: None,
        hops,
        checks: Vec::new(),
        clues: Vec::new(),
    };
    o.settle();
    o
}

/// A signal that passed, `total` seconds from emit to visible.
fn passed(signal: Signal, total: f64) -> SignalOutcome {
    let mut hops = vec![
        Hop::ok(HopName::Export, 0.004),
        Hop::ok(HopName::Ingest, total * 0.6),
        Hop::ok(HopName::Query, 0.01),
    ];
    if signal == Signal::Trace {
        hops.push(Hop::ok(HopName::Search, total * 0.9));
    }
    hops.push(Hop::ok(HopName::Total, total));
    let o = outcome(signal, hops);
    assert_eq!(o.status, Status::Ok);
    o
}

/// A signal accepted on export but not visible before its deadline.
fn not_found(signal: Signal) -> SignalOutcome {
    let o = outcome(
        signal,
        vec![
            Hop::ok(HopName::Export, 0.004),
            Hop::failed(HopName::Ingest, Reason::NotFound, "not visible"),
            Hop::new(HopName::Query, Status::Skipped),
            Hop::new(HopName::Total, Status::Failed),
        ],
    );
    assert_eq!(o.reason, Some(Reason::NotFound));
    o
}

/// A signal whose export was refused.
fn refused(signal: Signal) -> SignalOutcome {
    let o = outcome(
        signal,
        vec![
            Hop::failed(
                HopName::Export,
                Reason::Export(ErrorClass::ConnectRefused),
                "connection refused",
            ),
            Hop::new(HopName::Ingest, Status::Skipped),
            Hop::new(HopName::Total, Status::Failed),
        ],
    );
    assert_eq!(o.status, Status::Failed);
    o
}

// ---- the metrics page --------------------------------------------------------------------------

/// Serves `metrics.encode()` at /metrics, as `serve` will, on a free loopback port.
async fn serve_metrics(metrics: Arc<CanaryMetrics>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move { ([(header::CONTENT_TYPE, OPENMETRICS)], m.encode()) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sample names on the page: what Prometheus stores (`_total`, `_bucket`/`_sum`/`_count`,
/// `_info` included).
fn exposed_names(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

// ---- polling -----------------------------------------------------------------------------------

/// Calls `f` until it returns Some, every 200 ms, for at most `deadline`; panics with `what`
/// and the last state `f` described otherwise.
async fn poll<T>(
    what: &str,
    deadline: Duration,
    mut f: impl AsyncFnMut(&mut String) -> Option<T>,
) -> T {
    let end = Instant::now() + deadline;
    let mut last = String::new();
    loop {
        if let Some(v) = f(&mut last).await {
            return v;
        }
        if Instant::now() >= end {
            panic!("{what}: not within {deadline:?}; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of a one-series instant query, or None while it has no result.
async fn scalar(prom: &Prometheus, promql: &str) -> Option<f64> {
    let doc = instant_query(&prom.base_url, promql, &[]).await;
    assert_eq!(doc["status"], "success", "{promql}: {doc}");
    let result = doc["data"]["result"].as_array()?;
    let v = result.first()?["value"][1].as_str()?;
    Some(v.parse().unwrap())
}

/// Waits until Prometheus has scraped `promql == want`.
async fn wait_scraped(prom: &Prometheus, promql: &str, want: f64) {
    poll(&format!("{promql} == {want}"), DEADLINE, async |last| {
        let v = scalar(prom, promql).await;
        *last = format!("{v:?}");
        (v == Some(want)).then_some(())
    })
    .await
}

/// Waits until every rule group has been evaluated twice more, so at least one whole
/// evaluation started after everything scraped before this call.
async fn wait_evaluations(prom: &Prometheus) {
    let first = last_evaluations(prom).await;
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    poll("two more rule evaluations", DEADLINE, async |last| {
        for (group, at) in last_evaluations(prom).await {
            if first.get(&group) != Some(&at) {
                seen.entry(group).or_default().insert(at);
            }
        }
        *last = format!("{seen:?}");
        (seen.len() == first.len() && seen.values().all(|s| s.len() >= 2)).then_some(())
    })
    .await
}

async fn last_evaluations(prom: &Prometheus) -> BTreeMap<String, String> {
    prom.rule_groups()
        .await
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["lastEvaluation"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

// ---- alerts ------------------------------------------------------------------------------------

fn label<'a>(alert: &'a Value, name: &str) -> &'a str {
    alert["labels"][name].as_str().unwrap_or("")
}

/// Active alerts named `name` whose labels include `labels`.
fn matching<'a>(alerts: &'a [Value], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| label(a, "alertname") == name && labels.iter().all(|(k, v)| label(a, k) == *v))
        .collect()
}

fn brief(alerts: &[Value]) -> String {
    let items: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} {} = {}",
                label(a, "alertname"),
                a["labels"],
                a["state"],
                a["value"]
            )
        })
        .collect();
    format!("[{}]", items.join("; "))
}

/// Waits until an alert `name` with `labels` is firing, and returns it.
async fn wait_firing(prom: &Prometheus, name: &str, labels: &[(&str, &str)]) -> Value {
    poll(
        &format!("{name} {labels:?} firing"),
        DEADLINE,
        async |last| {
            let alerts = prom.active_alerts().await;
            *last = brief(&alerts);
            matching(&alerts, name, labels)
                .into_iter()
                .find(|a| a["state"] == "firing")
                .cloned()
        },
    )
    .await
}

/// Waits until an alert `name` with `labels` goes from pending to firing: it must be seen
/// pending first (the rule has a `for:`), then firing.
async fn wait_pending_then_firing(prom: &Prometheus, name: &str, labels: &[(&str, &str)]) -> Value {
    let mut seen_pending = false;
    poll(
        &format!("{name} {labels:?} pending, then firing"),
        DEADLINE,
        async |last| {
            let alerts = prom.active_alerts().await;
            *last = brief(&alerts);
            let found = matching(&alerts, name, labels);
            if found.iter().any(|a| a["state"] == "pending") {
                seen_pending = true;
            }
            let firing = found.into_iter().find(|a| a["state"] == "firing")?;
            assert!(
                seen_pending,
                "{name} {labels:?} fired without being seen pending first: its `for:` is \
                 missing or the test polled too slowly: {}",
                brief(&alerts)
            );
            Some(firing.clone())
        },
    )
    .await
}

/// Annotations rendered without template errors, naming what they should.
fn assert_annotations(alert: &Value, mentions: &[&str]) {
    let ann = &alert["annotations"];
    for key in ["summary", "description"] {
        let text = ann[key].as_str().unwrap_or("");
        assert!(
            !text.is_empty() && !text.contains("<error") && !text.contains("<no value>"),
            "{key} of {alert}"
        );
    }
    assert_eq!(ann["runbook_url"], RUNBOOK, "{alert}");
    let all = format!("{} {}", ann["summary"], ann["description"]);
    for m in mentions {
        assert!(all.contains(m), "annotations should mention {m:?}: {alert}");
    }
}

/// The rule file with one alert's durations and thresholds rewritten for a test that runs
/// seconds, not minutes. An alert's text is its `- alert:` line and the more-indented lines
/// after it. Each `from` must occur there: a changed rule file fails the test instead of being
/// tested with the shipped (minutes-long) values.
fn tune(rules: &str, alert: &str, edits: &[(&str, &str)]) -> String {
    let head = format!("- alert: {alert}\n");
    let start = rules
        .find(&head)
        .unwrap_or_else(|| panic!("{RULES} has no `- alert: {alert}`"));
    let indent = start - rules[..start].rfind('\n').map_or(0, |i| i + 1);
    let body_start = start + head.len();
    let mut end = body_start;
    for line in rules[body_start..].split_inclusive('\n') {
        let blank = line.trim().is_empty();
        let depth = line.len() - line.trim_start().len();
        if !blank && depth <= indent {
            break;
        }
        end += line.len();
    }
    let mut body = rules[start..end].to_string();
    for (from, to) in edits {
        assert!(
            body.contains(from),
            "{alert} in {RULES} no longer contains {from:?}; update the test's tuning:\n{body}"
        );
        body = body.replace(from, to);
    }
    format!("{}{body}{}", &rules[..start], &rules[end..])
}

/// The shipped rule file, made fast: the same expressions with windows of seconds.
fn fast_rules() -> String {
    let mut r = read(RULES);
    r = tune(
        &r,
        "OtelCanarySignalDown",
        &[
            ("[5m]", "[30s]"),
            ("offset 5m", "offset 30s"),
            (">= 3", ">= 3"),
        ],
    );
    r = tune(
        &r,
        "OtelCanaryNoRecentSuccess",
        &[
            ("[15m]", "[15s]"),
            ("offset 15m", "offset 15s"),
            ("> 900", "> 15"),
        ],
    );
    r = tune(
        &r,
        "OtelCanaryHopLatencyHigh",
        &[("[15m]", "[20s]"), ("for: 5m", "for: 3s"), ("> 10", "> 10")],
    );
    r = tune(
        &r,
        "OtelCanaryProbesSkipped",
        &[("[15m]", "[20s]"), ("offset 15m", "offset 20s")],
    );
    r = tune(&r, "OtelCanaryDown", &[("for: 2m", "for: 3s")]);
    r = tune(&r, "OtelCanaryAbsent", &[("for: 10m", "for: 3s")]);
    r
}

fn write_rules(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("otel-canary-alerts.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits until every rule was evaluated at least once, then checks each is healthy and
/// carries severity, summary, description and the runbook URL. Returns the rules' queries.
async fn assert_rules_loaded(prom: &Prometheus) -> Vec<String> {
    let groups = poll("every rule evaluated once", DEADLINE, async |last| {
        let groups = prom.rule_groups().await;
        *last = serde_json::to_string(&groups).unwrap();
        let all_done = groups.iter().all(|g| {
            g["rules"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["health"] != "unknown")
        });
        (!groups.is_empty() && all_done).then_some(groups)
    })
    .await;
    let mut loaded = Vec::new();
    let mut queries = Vec::new();
    for g in &groups {
        let group = g["name"].as_str().unwrap();
        for r in g["rules"].as_array().unwrap() {
            let name = r["name"].as_str().unwrap();
            assert_eq!(r["type"], "alerting", "{group}/{name}: {r}");
            assert_eq!(r["health"], "ok", "{group}/{name}: {r}");
            assert_eq!(
                r["lastError"].as_str().unwrap_or(""),
                "",
                "{group}/{name}: {r}"
            );
            let severity = r["labels"]["severity"].as_str().unwrap_or("");
            assert!(
                ["critical", "warning"].contains(&severity),
                "{group}/{name} severity {severity:?}"
            );
            for key in ["summary", "description"] {
                assert!(
                    !r["annotations"][key].as_str().unwrap_or("").is_empty(),
                    "{group}/{name} has no {key}"
                );
            }
            assert_eq!(r["annotations"]["runbook_url"], RUNBOOK, "{group}/{name}");
            loaded.push((group.to_string(), name.to_string()));
            queries.push(r["query"].as_str().unwrap().to_string());
        }
    }
    let want: Vec<(String, String)> = ALERTS
        .iter()
        .map(|(g, n)| (g.to_string(), n.to_string()))
        .collect();
    assert_eq!(loaded, want, "the rule groups Prometheus loaded");
    queries
}

// ---- PromQL metric names -----------------------------------------------------------------------

/// The metric names an expression selects: identifiers outside strings, label matchers,
/// ranges and label lists that are neither functions, aggregations nor keywords.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let strings = Regex::new(r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"#).unwrap();
    let braces = Regex::new(r"\{[^}]*\}").unwrap();
    let brackets = Regex::new(r"\[[^\]]*\]").unwrap();
    let label_lists =
        Regex::new(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)").unwrap();
    let ident = Regex::new(r"[A-Za-z_:][A-Za-z0-9_:]*").unwrap();
    const KEYWORDS: [&str; 13] = [
        "and",
        "or",
        "unless",
        "offset",
        "bool",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    ];
    let s = strings.replace_all(expr, "\"\"");
    let s = braces.replace_all(&s, " ");
    let s = brackets.replace_all(&s, " ");
    let s = label_lists.replace_all(&s, " ");
    let mut names = BTreeSet::new();
    for m in ident.find_iter(&s) {
        let before = s[..m.start()].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
            continue; // the tail of a number or duration: 1e3, 5m
        }
        let after = s[m.end()..].trim_start();
        if after.starts_with('(') || KEYWORDS.contains(&m.as_str().to_ascii_lowercase().as_str()) {
            continue;
        }
        names.insert(m.as_str().to_string());
    }
    names
}

#[test]
fn metric_names_finds_selectors_only() {
    let got = metric_names(
        r#"histogram_quantile(0.95, sum by (le, scenario) (rate(a_bucket{x="y{z}", le!="1"}[5m])))
           > 1e3 and on (job) b_total offset 5m unless ignoring (reason) c
           or time() - max_over_time(d[1m:10s]) > bool 0.5"#,
    );
    let want: BTreeSet<String> = ["a_bucket", "b_total", "c", "d"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(got, want);
}

// ---- the tests ---------------------------------------------------------------------------------

/// The rule file loads into a real Prometheus with every rule healthy, and each alert fires
/// when, and only when, the real registry's page says it should.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_rules_fire_on_the_real_registrys_metrics() {
    let metrics = Arc::new(CanaryMetrics::new());
    let now = SystemTime::now;

    // "stuck": its trace passed once, two hours ago, and no probe completed since.
    metrics.record(
        "stuck",
        &[passed(Signal::Trace, 0.5)],
        now() - Duration::from_secs(7200),
    );
    // "healthy" and "slow" are probed every 500 ms in the background: all passing, "slow"
    // at 30 s end to end (over the 10 s budget) once `slow_on` is set, so the test sees its
    // latency alert go through pending.
    let slow_on = Arc::new(AtomicBool::new(false));
    let background = {
        let m = metrics.clone();
        let slow_on = slow_on.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                let healthy = [
                    passed(Signal::Trace, 0.4),
                    passed(Signal::Log, 0.8),
                    passed(Signal::Metric, 0.3),
                ];
                m.record("healthy", &healthy, SystemTime::now());
                if slow_on.load(Ordering::Relaxed) {
                    m.record("slow", &[passed(Signal::Trace, 30.0)], SystemTime::now());
                }
            }
        })
    };
    // "lab" is probed step by step below: trace always passes, log always fails (not_found),
    // metric flaps: refused on odd probes, passes on even ones.
    let lab = |n: u32| {
        let metric = if n % 2 == 1 {
            refused(Signal::Metric)
        } else {
            passed(Signal::Metric, 0.3)
        };
        [passed(Signal::Trace, 0.5), not_found(Signal::Log), metric]
    };

    let addr = serve_metrics(metrics.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path(), &fast_rules());
    let prom = Prometheus::start_with_rules(&addr.to_string(), TICK, &rules).await;

    let queries = assert_rules_loaded(&prom).await;
    // The rules name only metrics the registry exposes (or Prometheus' own `up`).
    metrics.skipped("lab");
    for n in 1..=2 {
        metrics.record("lab", &lab(n), now());
    }
    let mut known = exposed_names(&metrics.encode());
    known.insert("up".into());
    for q in &queries {
        let unknown: Vec<String> = metric_names(q).difference(&known).cloned().collect();
        assert!(unknown.is_empty(), "{q} uses {unknown:?}, not in {known:?}");
    }
    // Prometheus takes the page as OpenMetrics.
    wait_scraped(&prom, r#"otel_canary_probes_total{scenario="lab"}"#, 2.0).await;
    assert_eq!(
        scalar(&prom, r#"up{job="otel-canary-scrape"}"#).await,
        Some(1.0)
    );

    // A single skip, on a counter that did not exist before it, is enough.
    let skipped = wait_firing(&prom, "OtelCanaryProbesSkipped", &[("scenario", "lab")]).await;
    assert_eq!(skipped["labels"]["severity"], "warning");
    assert_annotations(&skipped, &["lab"]);

    // Two failed log probes: below N = 3, nothing fires for lab/log.
    wait_evaluations(&prom).await;
    let alerts = prom.active_alerts().await;
    assert!(
        matching(&alerts, "OtelCanarySignalDown", &[("scenario", "lab")]).is_empty(),
        "2 failures of 3 must not fire: {}",
        brief(&alerts)
    );

    // The third in a row does. The first failure created the series (value 1), so this also
    // proves the count includes it (increase() would say 2).
    metrics.record("lab", &lab(3), now());
    wait_scraped(&prom, r#"otel_canary_probes_total{scenario="lab"}"#, 3.0).await;
    let down = wait_firing(
        &prom,
        "OtelCanarySignalDown",
        &[("scenario", "lab"), ("signal", "log")],
    )
    .await;
    assert_eq!(down["labels"]["reason"], "not_found", "{down}");
    assert_eq!(down["labels"]["severity"], "critical", "{down}");
    assert_eq!(down["labels"]["job"], "otel-canary-scrape", "{down}");
    assert_eq!(
        down["value"].as_str().map(|v| v.parse::<f64>().unwrap()),
        Some(3.0),
        "{down}"
    );
    assert_annotations(&down, &["lab", "log", "not_found"]);

    // Two more probes: metric has now failed 3 times in the window (1, 3, 5) but passed in
    // between (2, 4), trace never failed: neither is down.
    for n in 4..=5 {
        metrics.record("lab", &lab(n), now());
        wait_scraped(
            &prom,
            r#"otel_canary_probes_total{scenario="lab"}"#,
            n.into(),
        )
        .await;
    }
    assert_eq!(
        scalar(
            &prom,
            r#"sum(otel_canary_probe_failures_total{scenario="lab",signal="metric"})"#
        )
        .await,
        Some(3.0)
    );
    wait_evaluations(&prom).await;
    let alerts = prom.active_alerts().await;
    for signal in ["metric", "trace"] {
        assert!(
            matching(
                &alerts,
                "OtelCanarySignalDown",
                &[("scenario", "lab"), ("signal", signal)]
            )
            .is_empty(),
            "lab/{signal} is not down: {}",
            brief(&alerts)
        );
    }
    assert!(
        !matching(&alerts, "OtelCanarySignalDown", &[("signal", "log")]).is_empty(),
        "lab/log is still down: {}",
        brief(&alerts)
    );

    // Latency: "slow" is over budget and the rule has a `for:`.
    slow_on.store(true, Ordering::Relaxed);
    let slow = wait_pending_then_firing(
        &prom,
        "OtelCanaryHopLatencyHigh",
        &[("scenario", "slow"), ("signal", "trace"), ("hop", "total")],
    )
    .await;
    let p95: f64 = slow["value"].as_str().unwrap().parse().unwrap();
    assert!((20.0..=30.0).contains(&p95), "p95 of 30 s probes: {slow}");
    assert_annotations(&slow, &["slow", "trace"]);

    // No recent success: "stuck" passed 2 h ago; lab/log has never passed (after T).
    let stuck = wait_firing(
        &prom,
        "OtelCanaryNoRecentSuccess",
        &[("scenario", "stuck"), ("signal", "trace")],
    )
    .await;
    assert_annotations(&stuck, &["stuck", "trace", " ago"]);
    let never = wait_firing(
        &prom,
        "OtelCanaryNoRecentSuccess",
        &[("scenario", "lab"), ("signal", "log")],
    )
    .await;
    assert_annotations(&never, &["lab", "log", "has passed in the last"]);

    // All along, the healthy scenario raised nothing and the canary counted as up.
    wait_evaluations(&prom).await;
    let alerts = prom.active_alerts().await;
    assert!(
        alerts.iter().all(|a| label(a, "scenario") != "healthy"),
        "healthy raised alerts: {}",
        brief(&alerts)
    );
    for name in ["OtelCanaryDown", "OtelCanaryAbsent"] {
        assert!(
            matching(&alerts, name, &[]).is_empty(),
            "{name} while the canary is scraped: {}",
            brief(&alerts)
        );
    }
    background.abort();
}

/// With no canary to scrape, the self-monitoring alerts go pending, then fire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_down_and_absent_fire_when_nothing_answers() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path(), &fast_rules());
    let prom = Prometheus::start_with_rules(&format!("127.0.0.1:{port}"), TICK, &rules).await;
    assert_rules_loaded(&prom).await;
    let down =
        wait_pending_then_firing(&prom, "OtelCanaryDown", &[("job", "otel-canary-scrape")]).await;
    assert_eq!(down["labels"]["severity"], "critical");
    assert_annotations(&down, &[&format!("127.0.0.1:{port}")]);
    let absent = wait_firing(&prom, "OtelCanaryAbsent", &[]).await;
    assert_annotations(&absent, &["otel_canary_build_info"]);
}

/// A rule file Prometheus cannot load stops the test loudly, with Prometheus' own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_rule_file_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = read(RULES);
    let broken = shipped.replacen(
        "max_over_time(otel_canary_signal_up[5m]) == 0",
        "max_over_time(otel_canary_signal_up[5m] == 0",
        1,
    );
    assert_ne!(
        broken, shipped,
        "the rule file changed: break it another way"
    );
    let rules = write_rules(dir.path(), &broken);
    let started = tokio::spawn(async move {
        Prometheus::start_with_rules("127.0.0.1:9", TICK, &rules).await;
    })
    .await;
    let panic = started.expect_err("Prometheus must refuse a rule file that does not parse");
    assert!(panic.is_panic(), "{panic}");
    let payload = panic.into_panic();
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        message.contains("exited with") && message.contains("otel-canary-alerts.yaml"),
        "the panic should say Prometheus exited and name the rule file: {message}"
    );
    assert!(
        message.contains("parse error") || message.contains("unclosed"),
        "the panic should quote the parse error: {message}"
    );
}

// ---- dashboard ---------------------------------------------------------------------------------

/// Every panel, rows' nested panels included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested.iter());
        }
    }
    out
}

/// Replaces `$name` and `${name}` by `values[name]`; an unknown variable is a panic.
fn substitute(expr: &str, values: &BTreeMap<&str, &str>) -> String {
    let var = Regex::new(r"\$(?:\{(\w+)\}|(\w+))").unwrap();
    var.replace_all(expr, |c: &regex::Captures| {
        let name = c.get(1).or(c.get(2)).unwrap().as_str();
        values
            .get(name)
            .unwrap_or_else(|| panic!("{expr} uses ${name}, which is neither a dashboard variable nor substituted by the test"))
            .to_string()
    })
    .into_owned()
}

/// The dashboard's structure, then every query against a real Prometheus scraping the real
/// registry: each parses, returns data, and names only metrics the registry exposes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_queries_run_on_the_real_registrys_metrics() {
    let text = read(DASHBOARD);
    let dash: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert!(
        dash["schemaVersion"].as_u64().unwrap() >= 39,
        "schemaVersion"
    );
    assert!(!dash["uid"].as_str().unwrap_or("").is_empty(), "uid");
    assert!(!dash["title"].as_str().unwrap_or("").is_empty(), "title");

    // Variables: a Prometheus datasource picker, then scenario (multi, from a real metric).
    let vars = dash["templating"]["list"].as_array().expect("templating");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    let ds = var("datasource");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    let scenario = var("scenario");
    assert_eq!(scenario["type"], "query");
    assert_eq!(scenario["multi"], true);
    assert_eq!(scenario["includeAll"], true);
    assert_eq!(scenario["datasource"]["uid"], "${datasource}");
    let label_values = Regex::new(r"^label_values\((\w+)\s*,\s*(\w+)\)$").unwrap();
    let definition = scenario["definition"].as_str().unwrap();
    assert_eq!(scenario["query"]["query"], definition);
    let caps = label_values
        .captures(definition)
        .unwrap_or_else(|| panic!("scenario variable query {definition}"));
    let (var_metric, var_label) = (caps[1].to_string(), caps[2].to_string());
    assert_eq!(var_label, "scenario");

    // Panels: unique ids, on the grid without overlaps, each on the datasource variable.
    let panels = all_panels(&dash);
    let mut ids = BTreeSet::new();
    let mut cells: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut exprs: Vec<(u64, String)> = Vec::new();
    for p in &panels {
        let id = p["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("panel without id: {p}"));
        assert!(ids.insert(id), "panel id {id} is used twice");
        let g = &p["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_u64().unwrap(),
            g["y"].as_u64().unwrap(),
            g["w"].as_u64().unwrap(),
            g["h"].as_u64().unwrap(),
        );
        assert!(w > 0 && h > 0 && x + w <= 24, "panel {id} gridPos {g}");
        for cx in x..x + w {
            for cy in y..y + h {
                if let Some(other) = cells.insert((cx, cy), id) {
                    panic!("panels {other} and {id} overlap at ({cx}, {cy})");
                }
            }
        }
        if p["type"] == "row" {
            continue;
        }
        assert!(
            !p["title"].as_str().unwrap_or("").is_empty(),
            "panel {id} title"
        );
        assert_eq!(p["datasource"]["uid"], "${datasource}", "panel {id}");
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("panel {id} targets"));
        assert!(!targets.is_empty(), "panel {id} has no query");
        let mut refs = BTreeSet::new();
        for t in targets {
            assert!(
                refs.insert(t["refId"].as_str().unwrap()),
                "panel {id} refIds"
            );
            assert_eq!(t["datasource"]["uid"], "${datasource}", "panel {id}");
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {id}: {t}"));
            exprs.push((id, expr.to_string()));
        }
    }
    assert!(exprs.len() >= 8, "{exprs:?}");

    // A registry with every family populated, probed every 500 ms: lab passes trace, fails
    // log, flaps metric and skips now and then; edge only passes.
    let metrics = Arc::new(CanaryMetrics::new());
    let probe = |m: &CanaryMetrics, n: u64| {
        let metric = if n.is_multiple_of(2) {
            refused(Signal::Metric)
        } else {
            passed(Signal::Metric, 0.3)
        };
        m.record(
            "lab",
            &[passed(Signal::Trace, 1.5), not_found(Signal::Log), metric],
            SystemTime::now(),
        );
        m.record("edge", &[passed(Signal::Trace, 0.2)], SystemTime::now());
        if n.is_multiple_of(3) {
            m.skipped("lab");
        }
    };
    probe(&metrics, 0);
    let known = {
        let mut k = exposed_names(&metrics.encode());
        for family in [
            "otel_canary_probes_total",
            "otel_canary_probe_failures_total",
            "otel_canary_hop_duration_seconds_bucket",
            "otel_canary_hop_duration_seconds_sum",
            "otel_canary_hop_duration_seconds_count",
            "otel_canary_signal_up",
            "otel_canary_last_success_timestamp_seconds",
            "otel_canary_probes_skipped_total",
            "otel_canary_build_info",
        ] {
            assert!(k.contains(family), "{family} not on the page: {k:?}");
        }
        k.insert("up".to_string());
        k
    };
    assert!(
        known.contains(&var_metric),
        "${{scenario}} reads {var_metric}, not exposed"
    );
    for (id, expr) in &exprs {
        let unknown: Vec<String> = metric_names(expr).difference(&known).cloned().collect();
        assert!(
            unknown.is_empty(),
            "panel {id}: {expr} uses {unknown:?}, not in {known:?}"
        );
    }
    let background = {
        let m = metrics.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            for n in 1.. {
                tick.tick().await;
                probe(&m, n);
            }
        })
    };

    let addr = serve_metrics(metrics.clone()).await;
    let prom = Prometheus::start(&addr.to_string(), TICK).await;
    wait_scraped(
        &prom,
        r#"count(otel_canary_signal_up{scenario="lab"})"#,
        3.0,
    )
    .await;

    // What the scenario variable would offer.
    let values = prom
        .api_get(&format!(
            "/api/v1/label/{var_label}/values?match[]={var_metric}"
        ))
        .await;
    let offered: Vec<&str> = values["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(offered, ["edge", "lab"], "{values}");

    // Grafana's values: "All" (.*), a multi-value selection (a|b), a single value.
    let builtins = [
        ("__rate_interval", "1m"),
        ("__range", "1h"),
        ("__interval", "15s"),
    ];
    let selections: [[(&str, &str); 2]; 3] = [
        [("scenario", ".*"), ("hop", ".*")],
        [("scenario", "(edge|lab)"), ("hop", "(total|export)")],
        [("scenario", "lab"), ("hop", "total")],
    ];
    for selection in &selections {
        let values: BTreeMap<&str, &str> = builtins.iter().chain(selection).copied().collect();
        for (id, expr) in &exprs {
            let q = substitute(expr, &values);
            let doc = instant_query(&prom.base_url, &q, &[]).await;
            assert_eq!(doc["status"], "success", "panel {id}: {q}: {doc}");
        }
    }
    // With data flowing, every query returns series (a typo in a label name would not).
    let all: BTreeMap<&str, &str> = builtins.iter().chain(&selections[0]).copied().collect();
    poll(
        "every dashboard query returns data",
        DEADLINE,
        async |last| {
            let mut empty = Vec::new();
            for (id, expr) in &exprs {
                let q = substitute(expr, &all);
                let doc = instant_query(&prom.base_url, &q, &[]).await;
                if doc["data"]["result"]
                    .as_array()
                    .is_none_or(|r| r.is_empty())
                {
                    empty.push(format!("panel {id}: {q}"));
                }
            }
            *last = format!("{empty:#?}");
            empty.is_empty().then_some(())
        },
    )
    .await;
    background.abort();
}
