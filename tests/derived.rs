//! Derived-signal hops end to end (incident 9): `run --derived` against the built-in stack
//! passes with each hop measured, and fails under each generator fault with its reason and a
//! hint that names what to check; bad settings exit 2 naming them; serve and JUnit carry the
//! hops.

mod common;

use common::{json_out, run_bin_async, signal, stdout};
use otel_canary::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::signal::Signal;
use serde_json::Value;
use std::time::Duration;

async fn stack(delay_ms: u64) -> LabStack {
    let state = LabState::new();
    generator(&state, delay_ms, false);
    LabStack::start(LabStackConfig::ephemeral(), state)
        .await
        .expect("lab stack starts")
}

fn generator(state: &LabState, delay_ms: u64, disabled: bool) {
    state.faults.set(
        Signal::Trace,
        SignalFault {
            generator_delay: Some(Duration::from_millis(delay_ms)),
            generator_disabled: disabled,
            ..Default::default()
        },
    );
}

fn args(lab: &LabStack, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "run",
        "--endpoint",
        &lab.receivers.http_base(false),
        "--tempo",
        &lab.tempo_url(),
        "--mimir",
        &lab.mimir_url(),
        "--signals",
        "trace",
        "--no-search",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

async fn run_json(lab: &LabStack, extra: &[&str]) -> (Option<i32>, Value) {
    let mut a = args(lab, extra);
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
        .unwrap_or_else(|| panic!("no hop {name} in {sig:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_derived_hop_passes_and_is_measured() {
    let lab = stack(400).await;
    let (code, doc) = run_json(&lab, &["--derived", "all", "--derived-timeout", "10s"]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    let trace = signal(&doc, "trace");
    let names: Vec<&str> = trace["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hop"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "export",
            "ingest",
            "query",
            "search",
            "span_metrics",
            "service_graph",
            "traceql_metrics",
            "total"
        ]
    );
    for name in ["span_metrics", "service_graph", "traceql_metrics"] {
        let h = hop(trace, name);
        assert_eq!(h["status"], "ok", "{name}: {h:#}");
        let (after, by) = (
            h["visible_after"].as_f64().unwrap(),
            h["visible_by"].as_f64().unwrap(),
        );
        // The generator's delay runs from the trace's visibility, which follows the ack.
        assert!(by >= 0.4 && after <= by, "{name}: {h:#}");
        assert!(
            h["queries"].as_u64().unwrap() >= 2,
            "{name}: polled until it appeared"
        );
    }
    let detail = hop(trace, "span_metrics")["detail"].as_str().unwrap();
    assert!(
        detail.contains(r#"service="otel-canary", span_name="canary.client""#)
            && detail.ends_with("no series -> 1"),
        "{detail}"
    );

    // A second probe: the counters are compared with their value before it (no series per
    // probe), and the service and span names follow --service-name.
    let (code, doc) = run_json(&lab, &["--derived", "span-metrics,service-graph"]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    let detail = hop(signal(&doc, "trace"), "service_graph")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.ends_with("1 -> 2"), "{detail}");
    let (code, doc) = run_json(
        &lab,
        &["--derived", "span-metrics", "--service-name", "checkout"],
    )
    .await;
    assert_eq!(code, Some(0), "{doc:#}");
    let detail = hop(signal(&doc, "trace"), "span_metrics")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains(r#"service="checkout""#) && detail.ends_with("no series -> 1"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generator_off_for_the_tenant_is_named() {
    let lab = stack(0).await;
    generator(&lab.state, 0, true);
    let (code, doc) = run_json(&lab, &["--derived", "all", "--derived-timeout", "2s"]).await;
    assert_eq!(code, Some(1), "{doc:#}");
    let trace = signal(&doc, "trace");
    assert_eq!(trace["reason"], "derived_missing");
    assert_eq!(
        hop(trace, "ingest")["status"],
        "ok",
        "the trace itself arrived"
    );
    for name in ["span_metrics", "service_graph"] {
        let h = hop(trace, name);
        assert_eq!(h["reason"], "derived_missing", "{h:#}");
        let hint = h["hint"].as_str().unwrap();
        assert!(
            hint.contains("has no series at all")
                && hint.contains("metrics-generator is running")
                && hint.contains("overrides.defaults.metrics_generator.processors"),
            "{hint}"
        );
    }
    assert!(
        hop(trace, "span_metrics")["hint"]
            .as_str()
            .unwrap()
            .contains("lists span-metrics")
    );
    let graph = hop(trace, "service_graph")["hint"].as_str().unwrap();
    assert!(
        graph.contains("service-graphs") && graph.contains("`wait`"),
        "{graph}"
    );
    let tql = hop(trace, "traceql_metrics");
    assert_eq!(tql["reason"], "query_failed");
    assert_eq!(
        tql["queries"], 1,
        "a configuration error fails at once: {tql:#}"
    );
    let hint = tql["hint"].as_str().unwrap();
    assert!(
        hint.contains("localblocks processor not found") && hint.contains("add local-blocks"),
        "{hint}"
    );
    assert_eq!(
        trace["hint"],
        hop(trace, "span_metrics")["hint"],
        "the signal's hint is its first failing hop's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_metrics_of_other_services_only_are_told_apart() {
    let lab = stack(0).await;
    // Another service's spans are derived; then the generator stops for the probe's.
    let (code, doc) = run_json(&lab, &["--service-name", "checkout"]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    generator(&lab.state, 0, true);
    let (code, doc) = run_json(
        &lab,
        &["--derived", "span-metrics", "--derived-timeout", "1s"],
    )
    .await;
    assert_eq!(code, Some(1), "{doc:#}");
    let hint = signal(&doc, "trace")["hint"].as_str().unwrap().to_string();
    assert!(
        hint.starts_with(
            "span metrics flow, but not for otel-canary (seen for: checkout, checkout-peer)"
        ),
        "{hint}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceql_metrics_errors_quote_tempo() {
    let lab = stack(0).await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            generator_delay: Some(Duration::ZERO),
            traceql_metrics_error: Some("empty ring\n".into()),
            ..Default::default()
        },
    );
    let (code, doc) = run_json(&lab, &["--derived", "traceql-metrics"]).await;
    assert_eq!(code, Some(1), "{doc:#}");
    let h = hop(signal(&doc, "trace"), "traceql_metrics");
    assert_eq!(h["reason"], "query_failed");
    assert!(
        h["detail"]
            .as_str()
            .unwrap()
            .contains("HTTP 500: empty ring"),
        "{h:#}"
    );
    assert!(
        h["hint"]
            .as_str()
            .unwrap()
            .contains("\"empty ring\" means none"),
        "{h:#}"
    );

    // A 500 that is not a known configuration error is retried until the deadline.
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            generator_delay: Some(Duration::ZERO),
            traceql_metrics_error: Some("querier restarting\n".into()),
            ..Default::default()
        },
    );
    let (code, doc) = run_json(
        &lab,
        &["--derived", "traceql-metrics", "--derived-timeout", "1s"],
    )
    .await;
    assert_eq!(code, Some(1));
    let h = hop(signal(&doc, "trace"), "traceql_metrics");
    assert!(h["queries"].as_u64().unwrap() > 1, "{h:#}");
    assert_eq!(h["reason"], "query_failed");
    assert!(
        h["detail"]
            .as_str()
            .unwrap()
            .contains("the last read failed: HTTP 500: querier restarting"),
        "{h:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_hops_reach_the_table_junit_and_serve() {
    let lab = stack(100).await;
    let out = run_bin_async(args(&lab, &["--derived", "all"]), Vec::new()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    for name in ["span_metrics", "service_graph", "traceql_metrics"] {
        let row = text
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            row.contains(" ok ") && row.contains('~'),
            "an estimate with its interval: {row}"
        );
    }
    let a = args(&lab, &["--derived", "all", "--output", "junit"]);
    let out = run_bin_async(a, Vec::new()).await;
    let xml = stdout(&out);
    assert!(xml.contains(r#"name="trace.span_metrics""#), "{xml}");
    assert!(xml.contains(r#"name="trace.traceql_metrics""#), "{xml}");

    let mut serve_args = args(&lab, &["--derived", "all", "--interval", "200ms"]);
    serve_args.remove(0);
    let serve = common::serve_process::ServeProcess::start(&serve_args);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = common::real_backends::http_client()
            .get(serve.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains(r#"hop="traceql_metrics""#) || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for name in ["span_metrics", "service_graph", "traceql_metrics"] {
        assert!(
            page.contains(&format!(
                r#"otel_canary_hop_duration_seconds_count{{scenario="default",signal="trace",hop="{name}"}}"#
            )),
            "{name}: {page}"
        );
    }
    serve.terminate(Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_derived_settings_exit_2_naming_them() {
    let lab = stack(0).await;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--derived", "spanmetrics"], "flag --derived"),
        (
            vec!["--derived", "all", "--derived-timeout", "0s"],
            "flag --derived-timeout",
        ),
        (
            vec!["--derived", "all", "--derived-timeout", "soon"],
            "--derived-timeout",
        ),
    ];
    for (extra, names) in cases {
        let out = run_bin_async(args(&lab, &extra), Vec::new()).await;
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(names), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Derived series come from the trace: a run without it has nothing to derive from.
    let mut a = args(&lab, &["--derived", "all"]);
    let at = a.iter().position(|x| x == "trace").unwrap();
    a[at] = "log".into();
    let out = run_bin_async(a, Vec::new()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("add trace to --signals"));

    // Span metrics live in Mimir/Prometheus: without one there is nothing to read.
    let a: Vec<String> = [
        "run",
        "--endpoint",
        &lab.receivers.http_base(false),
        "--tempo",
        &lab.tempo_url(),
        "--signals",
        "trace",
        "--derived",
        "span-metrics",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run_bin_async(a, Vec::new()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("--mimir URL or --prometheus URL"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("d.toml");
    std::fs::write(
        &file,
        "[derived]\nchecks = [\"span-metrics\", \"graphs\"]\n",
    )
    .unwrap();
    let mut a = args(&lab, &[]);
    a.extend(["--scenario".into(), file.display().to_string()]);
    let out = run_bin_async(a, Vec::new()).await;
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("d.toml:2: key 'derived.checks'"), "{err}");
}
