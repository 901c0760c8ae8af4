//! `otel-canary run` end to end against the built-in stack: success over every encoding,
//! honest ingest timing under injected delays, and every failure path with its reason.

mod common;

use common::{json_out, run_bin_async, signal, stderr, stdout};
use otel_canary::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::signal::Signal;
use serde_json::Value;
use std::time::Duration;

async fn stack() -> LabStack {
    LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab stack starts")
}

/// `run` args pointing every signal and read at the lab.
fn args(lab: &LabStack, protocol: &str, extra: &[&str]) -> Vec<String> {
    let endpoint = match protocol {
        "grpc" => lab.receivers.grpc_base(false),
        _ => lab.receivers.http_base(false),
    };
    let mut a: Vec<String> = vec![
        "run".into(),
        "--endpoint".into(),
        endpoint,
        "--protocol".into(),
        protocol.into(),
        "--tempo".into(),
        lab.tempo_url(),
        "--loki".into(),
        lab.loki_url(),
        "--mimir".into(),
        lab.mimir_url(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

async fn run_json(lab: &LabStack, protocol: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut a = args(lab, protocol, extra);
    a.extend(["--output".into(), "json".into()]);
    let out = run_bin_async(a, Vec::new()).await;
    (out.status.code(), json_out(&out))
}

fn hop<'a>(sig: &'a Value, name: &str) -> &'a Value {
    sig["hops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hop"] == name)
        .unwrap_or_else(|| panic!("no hop {name} in {sig}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_round_trips_over_every_encoding() {
    let lab = stack().await;
    for protocol in ["http/protobuf", "http/json", "grpc"] {
        let (code, doc) = run_json(&lab, protocol, &[]).await;
        assert_eq!(code, Some(0), "{protocol}: {doc:#}");
        assert_eq!(doc["schema"], "otel-canary/run/v1");
        assert_eq!(doc["ok"], true);
        for name in ["trace", "log", "metric"] {
            let s = signal(&doc, name);
            assert_eq!(s["status"], "ok", "{protocol} {name}: {s:#}");
            for h in ["export", "ingest", "query", "total"] {
                assert_eq!(hop(s, h)["status"], "ok", "{protocol} {name} {h}");
                assert!(hop(s, h)["seconds"].as_f64().unwrap() >= 0.0);
            }
            let ingest = hop(s, "ingest");
            assert!(
                ingest["visible_after"].as_f64().unwrap() <= ingest["visible_by"].as_f64().unwrap()
            );
            assert!(ingest["queries"].as_u64().unwrap() >= 1);
            assert!(
                s["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["status"] == "ok"),
                "{s:#}"
            );
        }
        assert_eq!(hop(signal(&doc, "trace"), "search")["status"], "ok");
        let log = signal(&doc, "log");
        assert_eq!(log["read"]["backend"], "loki");
        assert_eq!(log["read"]["url"]["source"]["name"], "--loki");
    }
}

/// The true delay lies in the reported interval and the estimate is within
/// max(10 %, 25 ms) of it, plus slack for scheduling on a busy 2-core CI machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_ingest_delays_are_measured_honestly() {
    let lab = stack().await;
    for delay_ms in [0u64, 300, 2000] {
        let d = Duration::from_millis(delay_ms);
        for s in Signal::ALL {
            lab.state.faults.set(
                s,
                SignalFault {
                    ingest_delay: d,
                    ..Default::default()
                },
            );
        }
        let (code, doc) = run_json(&lab, "http/protobuf", &["--no-search"]).await;
        assert_eq!(code, Some(0), "{doc:#}");
        let true_d = d.as_secs_f64();
        let slack = 0.05;
        for name in ["trace", "log", "metric"] {
            let ingest = hop(signal(&doc, name), "ingest");
            let (after, by, est) = (
                ingest["visible_after"].as_f64().unwrap(),
                ingest["visible_by"].as_f64().unwrap(),
                ingest["seconds"].as_f64().unwrap(),
            );
            assert!(
                after <= true_d + slack && true_d - slack <= by,
                "D={true_d} {name}: [{after}, {by}]"
            );
            let budget = (0.1 * true_d).max(0.025) + slack;
            assert!(
                (est - true_d).abs() <= budget,
                "D={true_d} {name}: estimate {est}, budget {budget}"
            );
            let q = ingest["queries"].as_u64().unwrap();
            assert!(q <= 30, "{name}: {q} queries");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_signal_fails_not_found_after_its_deadline() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    let started = std::time::Instant::now();
    let (code, doc) = run_json(
        &lab,
        "http/protobuf",
        &["--log-timeout", "1500ms", "--no-search"],
    )
    .await;
    assert_eq!(code, Some(1), "{doc:#}");
    let log = signal(&doc, "log");
    assert_eq!(log["status"], "failed");
    assert_eq!(log["reason"], "not_found");
    assert_eq!(hop(log, "export")["status"], "ok");
    let hint = log["hint"].as_str().unwrap();
    assert!(
        hint.contains("acknowledged the log") && hint.contains("never reached Loki"),
        "{hint}"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(signal(&doc, "trace")["status"], "ok");
    assert_eq!(signal(&doc, "metric")["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_query_fails_fast_with_the_backends_text() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Metric,
        SignalFault {
            query_error: Some((400, "bad_data: the lab refuses this query".into())),
            ..Default::default()
        },
    );
    let (code, doc) = run_json(&lab, "http/protobuf", &["--timeout", "20s", "--no-search"]).await;
    assert_eq!(code, Some(1));
    let m = signal(&doc, "metric");
    assert_eq!(m["reason"], "query_failed");
    let ingest = hop(m, "ingest");
    assert_eq!(ingest["queries"], 1, "refusals are not retried");
    assert!(
        ingest["detail"]
            .as_str()
            .unwrap()
            .contains("the lab refuses this query"),
        "{m:#}"
    );
    assert!(doc["seconds"].as_f64().unwrap() < 5.0, "failed fast");

    // A 5xx is retried until the deadline instead.
    lab.state.faults.set(
        Signal::Metric,
        SignalFault {
            query_error: Some((503, "overloaded".into())),
            ..Default::default()
        },
    );
    let (code, doc) = run_json(
        &lab,
        "http/protobuf",
        &["--metric-timeout", "1s", "--no-search"],
    )
    .await;
    assert_eq!(code, Some(1));
    let m = signal(&doc, "metric");
    assert_eq!(m["reason"], "query_failed");
    assert!(hop(m, "ingest")["queries"].as_u64().unwrap() > 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_tenant_stack_needs_the_tenant_on_reads() {
    let lab = stack().await;
    lab.state.set_require_tenant(true);
    // Writes through the collector carry no tenant check; reads without one get 401.
    let (code, doc) = run_json(&lab, "http/protobuf", &["--no-search", "--timeout", "3s"]).await;
    assert_eq!(code, Some(1));
    let log = signal(&doc, "log");
    assert_eq!(log["reason"], "query_failed", "{log:#}");
    assert!(
        hop(log, "ingest")["detail"]
            .as_str()
            .unwrap()
            .contains("no org id")
    );
    assert!(
        log["hint"].as_str().unwrap().contains("--tenant"),
        "{log:#}"
    );

    let (code, doc) = run_json(
        &lab,
        "http/protobuf",
        &["--no-search", "--tenant", "team-a"],
    )
    .await;
    assert_eq!(code, Some(0), "{doc:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_its_own_slower_hop() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            search_delay: Duration::from_millis(800),
            ..Default::default()
        },
    );
    let (code, doc) = run_json(&lab, "http/protobuf", &[]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    let t = signal(&doc, "trace");
    let search = hop(t, "search")["seconds"].as_f64().unwrap();
    let ingest = hop(t, "ingest")["seconds"].as_f64().unwrap();
    assert!(search > ingest + 0.5, "search {search} vs by-id {ingest}");

    let (code, doc) = run_json(&lab, "http/protobuf", &["--search-timeout", "300ms"]).await;
    assert_eq!(code, Some(1));
    let t = signal(&doc, "trace");
    assert_eq!(hop(t, "ingest")["status"], "ok");
    assert_eq!(hop(t, "search")["status"], "failed");
    assert!(t["hint"].as_str().unwrap().contains("search"), "{t:#}");

    let (_, doc) = run_json(&lab, "http/protobuf", &["--no-search"]).await;
    assert_eq!(hop(signal(&doc, "trace"), "search")["status"], "skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_export_is_not_polled() {
    let lab = stack().await;
    let mut a = args(
        &lab,
        "http/protobuf",
        &[
            "--traces-endpoint",
            "http://127.0.0.1:9/v1/traces",
            "--output",
            "json",
        ],
    );
    a.push("--no-search".into());
    let out = run_bin_async(a, Vec::new()).await;
    assert_eq!(out.status.code(), Some(1));
    let doc = json_out(&out);
    let t = signal(&doc, "trace");
    assert_eq!(t["reason"], "connect_refused");
    assert_eq!(
        t["hops"].as_array().unwrap().len(),
        1,
        "only the export hop: {t:#}"
    );
    assert!(
        t["hint"]
            .as_str()
            .unwrap()
            .contains("flag --traces-endpoint"),
        "{t:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_and_junit_reports() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Metric,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    let out = run_bin_async(
        args(&lab, "http/protobuf", &["--metric-timeout", "500ms"]),
        Vec::new(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for want in [
        "SIGNAL",
        "ingest",
        "FAILED metric: not_found",
        "hint:",
        "topology:",
        "chosen by flag --mimir",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        !stderr(&out).contains('\u{1b}'),
        "no progress drawing when stderr is not a terminal"
    );

    let mut a = args(
        &lab,
        "http/protobuf",
        &["--metric-timeout", "500ms", "--output", "junit"],
    );
    a.push("--no-search".into());
    let out = run_bin_async(a, Vec::new()).await;
    let xml = stdout(&out);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains(r#"<testcase name="metric.ingest""#), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="trace.search""#) && xml.contains("<skipped"),
        "{xml}"
    );
    assert_eq!(
        xml.matches("<failure").count(),
        3,
        "metric, metric.ingest, metric.total: {xml}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_credentials_never_appear_in_output() {
    let lab = stack().await;
    let mut a = args(
        &lab,
        "http/protobuf",
        &[
            "--read-user",
            "grafana",
            "--read-header",
            "X-Api-Key=abcd-secret-1234",
            "--no-search",
        ],
    );
    a.extend(["--output".into(), "json".into()]);
    let out = run_bin_async(
        a,
        vec![(
            "OTEL_CANARY_READ_PASSWORD".into(),
            "hunter2-password".into(),
        )],
    )
    .await;
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{all}");
    for secret in [
        "hunter2-password",
        "abcd-secret-1234",
        "Z3JhZmFuYTpodW50ZXIyLXBhc3N3b3Jk",
    ] {
        assert!(!all.contains(secret), "{secret} leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_mode_needs_the_probe_id_on_the_series() {
    let lab = stack().await;
    let (code, doc) = run_json(
        &lab,
        "http/protobuf",
        &["--signals", "metric", "--metric-tag", "label"],
    )
    .await;
    assert_eq!(code, Some(0), "{doc:#}");
    let m = signal(&doc, "metric");
    let detail = m["checks"][0]["detail"].as_str().unwrap();
    let id = doc["probe"]["probe_id"].as_str().unwrap();
    assert!(
        detail.contains(&format!("canary_probe_id=\"{id}\"")),
        "{detail}"
    );
}
