//! Scenario `[[assert]]` checks end to end: every kind passes and fails against the built-in
//! stack (a failure quotes the query, what came back and what was expected, and sets the exit
//! code), PromQL assertions against a real Prometheus 2.53, bad entries exit 2 naming file,
//! line and key, and serve counts them by assertion name.

mod common;

use common::real_backends::{PROMETHEUS_SCRAPE_JOB, Prometheus};
use common::{json_out, run_bin_async, stderr};
use otel_canary::lab::{LabStack, LabStackConfig, LabState};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

async fn stack() -> LabStack {
    LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab stack starts")
}

/// A scenario pointing at the lab (metrics from `metrics`, `mimir = …` or `prometheus = …`)
/// with the given `[[assert]]` entries.
fn scenario(dir: &tempfile::TempDir, lab: &LabStack, metrics: &str, asserts: &str) -> PathBuf {
    let text = format!(
        "signals = [\"trace\", \"log\", \"metric\"]\n\
         [export]\nendpoint = \"{}\"\n\
         [read]\ntempo = \"{}\"\nloki = \"{}\"\n{metrics}\nsearch = false\n{asserts}",
        lab.receivers.http_base(false),
        lab.tempo_url(),
        lab.loki_url(),
    );
    let file = dir.path().join("s.toml");
    std::fs::write(&file, text).unwrap();
    file
}

async fn run(file: &std::path::Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut a: Vec<String> = vec![
        "run".into(),
        "--scenario".into(),
        file.display().to_string(),
        "--output".into(),
        "json".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    let out = run_bin_async(a, Vec::new()).await;
    (out.status.code(), json_out(&out))
}

fn assertion<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["assertions"]
        .as_array()
        .unwrap_or_else(|| panic!("no assertions in {doc:#}"))
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no assertion {name} in {doc:#}"))
}

const PASSING: &str = r#"
[[assert]]
name = "marker series exists"
promql = 'count(otel_canary_probe_marker) > 0'
[[assert]]
name = "nothing named nope"
promql = 'nope_total'
expect = "empty"
[[assert]]
name = "canary logs arrive"
logql = 'sum(count_over_time({service_name="otel-canary"}[5m])) > 0'
[[assert]]
name = "loki knows the canary"
loki_label = "service_name"
contains = "otel-canary"
[[assert]]
name = "tempo knows the peer"
tempo_tag = "resource.service.name"
contains = "otel-canary-peer"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_passes_against_the_lab() {
    let lab = stack().await;
    let dir = tempfile::tempdir().unwrap();
    let mimir = format!("mimir = \"{}\"", lab.mimir_url());
    let file = scenario(&dir, &lab, &mimir, PASSING);
    let (code, doc) = run(&file, &[]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["assertions"].as_array().unwrap().len(), 5);
    for a in doc["assertions"].as_array().unwrap() {
        assert_eq!(a["status"], "ok", "{a:#}");
        assert!(a["queries"].as_u64().unwrap() >= 1);
        assert!(a["hint"].is_null());
    }
    let logs = assertion(&doc, "canary logs arrive");
    assert_eq!(logs["kind"], "logql");
    assert_eq!(logs["backend"], "loki");
    assert!(
        logs["got"].as_str().unwrap().starts_with("1 series: {} "),
        "{logs:#}"
    );
    let tag = assertion(&doc, "tempo knows the peer");
    assert_eq!(
        tag["query"],
        "GET /api/v2/search/tag/resource.service.name/values"
    );
    assert!(tag["got"].as_str().unwrap().contains("otel-canary-peer"));
    assert_eq!(assertion(&doc, "marker series exists")["backend"], "mimir");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_fails_quoting_query_answer_and_expectation() {
    let lab = stack().await;
    let dir = tempfile::tempdir().unwrap();
    let mimir = format!("mimir = \"{}\"", lab.mimir_url());
    let failing = r#"
[[assert]]
name = "app metrics"
promql = 'count(app_requests_total) > 0'
timeout = "500ms"
[[assert]]
name = "no marker allowed"
promql = 'otel_canary_probe_marker'
expect = "empty"
timeout = "500ms"
[[assert]]
name = "app logs"
logql = 'sum(count_over_time({service_name="app"}[5m])) > 0'
timeout = "500ms"
[[assert]]
name = "loki knows app"
loki_label = "service_name"
contains = "app"
timeout = "500ms"
[[assert]]
name = "tempo knows app"
tempo_tag = "resource.service.name"
contains = "app"
timeout = "500ms"
[[assert]]
name = "bad promql"
promql = 'sum(up'
"#;
    let file = scenario(&dir, &lab, &mimir, failing);
    let (code, doc) = run(&file, &[]).await;
    assert_eq!(code, Some(1), "a failed assertion fails the run: {doc:#}");
    assert_eq!(doc["ok"], false);
    for s in doc["signals"].as_array().unwrap() {
        assert_eq!(s["status"], "ok", "the signals themselves passed");
    }
    let a = assertion(&doc, "app metrics");
    assert_eq!(a["reason"], "assertion_failed");
    assert_eq!(a["got"], "no series");
    let hint = a["hint"].as_str().unwrap();
    assert!(
        hint.contains("count(app_requests_total) > 0")
            && hint.contains("with no series")
            && hint.contains("expected at least one series"),
        "{hint}"
    );
    let a = assertion(&doc, "no marker allowed");
    assert_eq!(a["reason"], "assertion_failed");
    assert!(
        a["got"]
            .as_str()
            .unwrap()
            .starts_with("1 series: {__name__=\"otel_canary_probe_marker\""),
        "{a:#}"
    );
    assert!(a["hint"].as_str().unwrap().contains("expected no series"));
    assert_eq!(assertion(&doc, "app logs")["reason"], "assertion_failed");
    let a = assertion(&doc, "loki knows app");
    assert_eq!(a["got"], "values otel-canary");
    assert!(
        a["hint"]
            .as_str()
            .unwrap()
            .contains("expected the values include \"app\"")
    );
    let a = assertion(&doc, "tempo knows app");
    assert_eq!(a["got"], "values otel-canary, otel-canary-peer");
    let a = assertion(&doc, "bad promql");
    assert_eq!(a["reason"], "query_failed");
    assert_eq!(a["queries"], 1, "a refused query fails at once");
    assert!(a["hint"].as_str().unwrap().contains("parse error"), "{a:#}");

    // The human report and JUnit say the same.
    let out = run_bin_async(
        vec![
            "run".into(),
            "--scenario".into(),
            file.display().to_string(),
        ],
        Vec::new(),
    )
    .await;
    let text = common::stdout(&out);
    assert!(
        text.contains("FAILED assert \"app metrics\": assertion_failed"),
        "{text}"
    );
    assert!(
        text.contains("signals ok, some assertions failed"),
        "{text}"
    );
    let out = run_bin_async(
        vec![
            "run".into(),
            "--scenario".into(),
            file.display().to_string(),
            "--output".into(),
            "junit".into(),
        ],
        Vec::new(),
    )
    .await;
    let xml = common::stdout(&out);
    assert!(xml.contains(r#"name="assert.app metrics""#), "{xml}");
    assert!(xml.contains("assertion_failed"), "{xml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_assertions_against_a_real_prometheus() {
    let lab = stack().await;
    // Prometheus scrapes the lab's Tempo /metrics page, so its `up` series exist.
    let target = lab.tempo_addr.to_string();
    let prom = Prometheus::start(&target, Duration::from_millis(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let asserts = format!(
        r#"
[[assert]]
name = "target up"
promql = 'up{{job="{PROMETHEUS_SCRAPE_JOB}"}} == 1'
timeout = "15s"
[[assert]]
name = "scrapes per job"
promql = 'sum by (job) (up) > 0'
timeout = "15s"
[[assert]]
name = "no target down"
promql = 'up == 0'
expect = "empty"
[[assert]]
name = "missing job"
promql = 'count(up{{job="nope"}}) > 0'
timeout = "1s"
[[assert]]
name = "parse error"
promql = 'up{{job='
"#
    );
    let file = scenario(
        &dir,
        &lab,
        &format!("prometheus = \"{}\"", prom.base_url),
        &asserts,
    );
    let (code, doc) = run(&file, &["--signals", "trace"]).await;
    assert_eq!(code, Some(1), "{doc:#}\n{}", prom.log_tail());
    for name in ["target up", "scrapes per job", "no target down"] {
        let a = assertion(&doc, name);
        assert_eq!(a["status"], "ok", "{a:#}\n{}", prom.log_tail());
        assert_eq!(a["backend"], "prometheus");
    }
    assert!(
        assertion(&doc, "scrapes per job")["got"]
            .as_str()
            .unwrap()
            .contains(&format!("{{job=\"{PROMETHEUS_SCRAPE_JOB}\"}} 1"))
    );
    let a = assertion(&doc, "missing job");
    assert_eq!(
        (a["reason"].as_str(), a["got"].as_str()),
        (Some("assertion_failed"), Some("no series"))
    );
    let a = assertion(&doc, "parse error");
    assert_eq!(a["reason"], "query_failed");
    let hint = a["hint"].as_str().unwrap();
    assert!(
        hint.contains("Prometheus refused up{job=") && hint.contains("parse error"),
        "Prometheus's own words: {hint}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_assert_entries_exit_2_naming_file_line_and_key() {
    let lab = stack().await;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[[assert]]\nname = \"a\"\n", "s.toml:10: key 'assert[0]'"),
        (
            "[[assert]]\nname = \"a\"\npromql = 'up'\nlogql = 'x'\n",
            "s.toml:12: key 'assert[0].logql'",
        ),
        (
            "[[assert]]\nname = \"a\"\nloki_label = 'job'\n",
            "s.toml:11: key 'assert[0].loki_label'",
        ),
        (
            "[[assert]]\nname = \"a\"\npromql = 'up'\nexpected = 'x'\n",
            "key 'expected'",
        ),
        (
            "[[assert]]\nname = \"a\"\npromql = 'up'\ntimeout = 'soon'\n",
            "s.toml:12: key 'assert[0].timeout'",
        ),
    ];
    let mimir = format!("mimir = \"{}\"", lab.mimir_url());
    for (asserts, names) in cases {
        // Line numbers count the 8 lines scenario() writes first.
        let file = scenario(&dir, &lab, &mimir, asserts);
        let out = run_bin_async(
            vec![
                "run".into(),
                "--scenario".into(),
                file.display().to_string(),
            ],
            Vec::new(),
        )
        .await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{asserts}: {err}");
        assert!(err.contains(names), "{asserts}: {err}");
        assert!(!err.contains("panicked"));
    }
    let file = scenario(&dir, &lab, "", "[[assert]]\nname = \"a\"\npromql = 'up'\n");
    let out = run_bin_async(
        vec![
            "run".into(),
            "--scenario".into(),
            file.display().to_string(),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no backend to ask: set read.mimir or read.prometheus"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_counts_assertions_by_name() {
    let lab = stack().await;
    let dir = tempfile::tempdir().unwrap();
    let mimir = format!("mimir = \"{}\"", lab.mimir_url());
    let asserts = r#"
[[assert]]
name = "marker series exists"
promql = 'count(otel_canary_probe_marker) > 0'
[[assert]]
name = "app metrics"
promql = 'app_requests_total'
timeout = "200ms"
"#;
    let file = scenario(&dir, &lab, &mimir, asserts);
    let serve = common::serve_process::ServeProcess::start(&[
        "--scenario".into(),
        file.display().to_string(),
        "--interval".into(),
        "300ms".into(),
    ]);
    let client = common::real_backends::http_client();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = client
            .get(serve.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("otel_canary_assertion_failures_total")
            || std::time::Instant::now() > deadline
        {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        page.contains(
            r#"otel_canary_assertion_up{scenario="s",assertion="marker series exists"} 1"#
        ),
        "{page}"
    );
    assert!(
        page.contains(r#"otel_canary_assertion_up{scenario="s",assertion="app metrics"} 0"#),
        "{page}"
    );
    assert!(
        page.contains(r#"otel_canary_assertion_failures_total{scenario="s",assertion="app metrics",reason="assertion_failed"}"#),
        "{page}"
    );
    let probe = client
        .get(serve.url("/probe?scenario=s"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(probe.contains("probe_success 0"), "{probe}");
    assert!(
        probe.contains(r#"otel_canary_probe_assertion_up{assertion="app metrics"} 0"#),
        "{probe}"
    );
    let logs = serve.stderr_text();
    assert!(
        logs.contains("assert \\\"app metrics\\\" assertion_failed"),
        "{logs}"
    );
    serve.terminate(Duration::from_secs(10));
}
