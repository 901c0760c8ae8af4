//! The field incidents of shared/docs/incidents.md, each reproduced against the built-in
//! stack with the switch that recreates it, and `otel-canary run` asked to name the broken hop:
//! the verdict, the reason and the words of the hint. (Incident 4, the scrape pull path, and
//! 9-10, derived signals and Grafana, belong to their own checks.)

mod common;

use common::{json_out, run_bin_async, signal, stdout};
use otel_canary::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::signal::Signal;
use serde_json::Value;
use std::time::Duration;

async fn stack_with(state: std::sync::Arc<LabState>) -> LabStack {
    LabStack::start(LabStackConfig::ephemeral(), state)
        .await
        .expect("lab stack starts")
}

async fn stack() -> LabStack {
    stack_with(LabState::new()).await
}

/// The read side pointed at the lab, with short deadlines so failures come quickly.
fn read_args(lab: &LabStack) -> Vec<String> {
    [
        "--tempo",
        &lab.tempo_url(),
        "--loki",
        &lab.loki_url(),
        "--mimir",
        &lab.mimir_url(),
        "--timeout",
        "1500ms",
        "--no-search",
        "--output",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

async fn run(args: Vec<String>, env: Vec<(&str, String)>) -> (Option<i32>, Value) {
    let mut a = vec!["run".to_string()];
    a.extend(args);
    let env = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let out = run_bin_async(a, env).await;
    (out.status.code(), json_out(&out))
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn hint(s: &Value) -> &str {
    s["hint"].as_str().unwrap_or_default()
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn clue<'a>(s: &'a Value, source: &str) -> &'a str {
    s["clues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == source)
        .and_then(|c| c["finding"].as_str())
        .unwrap_or_else(|| panic!("no {source} clue in {s:#}"))
}

/// Incident 1: a stale env var sends logs and metrics to a port nothing listens on, while a
/// flag sends traces to the live receiver. Each signal says where it went and which setting
/// chose it; the shadowed variable is named where a flag wins over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_1_a_stale_env_var_sends_signals_to_a_dead_port() {
    let lab = stack().await;
    let dead = closed_port();
    let mut args = strings(&[
        "--traces-endpoint",
        &format!("{}/v1/traces", lab.receivers.http_base(false)),
    ]);
    args.extend(read_args(&lab));
    let env = vec![(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        format!("http://127.0.0.1:{dead}"),
    )];
    let (code, doc) = run(args, env).await;
    assert_eq!(code, Some(1));
    assert_eq!(signal(&doc, "trace")["status"], "ok", "{doc:#}");
    for name in ["log", "metric"] {
        let s = signal(&doc, name);
        assert_eq!(s["reason"], "connect_refused", "{s:#}");
        assert_eq!(
            s["export"]["url"]["source"],
            serde_json::json!({"kind": "env", "name": "OTEL_EXPORTER_OTLP_ENDPOINT"})
        );
        let h = hint(s);
        assert!(
            h.contains(&format!(
                "nothing listens on 127.0.0.1:{dead} (chosen by env OTEL_EXPORTER_OTLP_ENDPOINT)"
            )) && h.contains("otel-canary doctor 127.0.0.1"),
            "{h}"
        );
    }
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("traces: OTEL_EXPORTER_OTLP_ENDPOINT=")
            && warnings.contains("flag --traces-endpoint chose"),
        "{warnings}"
    );
}

/// Incident 2: OTLP/HTTP sent to the gRPC port, and gRPC to the HTTP port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_2_the_receiver_port_speaks_the_other_protocol() {
    let lab = stack().await;
    for (protocol, base, words) in [
        (
            "http/protobuf",
            lab.receivers.grpc_base(false),
            "speaks gRPC (HTTP/2 without TLS), not http/protobuf: use --protocol grpc",
        ),
        (
            "grpc",
            lab.receivers.http_base(false),
            "speaks OTLP/HTTP (HTTP/1.1), not gRPC: use --protocol http/protobuf",
        ),
    ] {
        let mut args = strings(&["--endpoint", &base, "--protocol", protocol]);
        args.extend(read_args(&lab));
        let (code, doc) = run(args, vec![]).await;
        assert_eq!(code, Some(1));
        for name in ["trace", "log", "metric"] {
            let s = signal(&doc, name);
            assert_eq!(s["reason"], "protocol_mismatch", "{protocol}: {s:#}");
            assert!(hint(s).contains(words), "{protocol}: {}", hint(s));
            assert!(hint(s).ends_with("was not polled"), "{}", hint(s));
        }
    }
}

/// Incident 3: plain text to TLS-only receivers, and TLS to plain ones, named as a TLS
/// mismatch with the side that expected TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_3_tls_on_one_side_only() {
    let mut config = LabStackConfig::ephemeral();
    config.receivers.tls = Some(common::self_signed_tls());
    let tls_lab = LabStack::start(config, LabState::new()).await.unwrap();
    let plain_lab = stack().await;
    let cases = [
        (
            &tls_lab,
            false,
            "expects TLS but the canary spoke plain text: use https://",
        ),
        (&plain_lab, true, "but the canary started TLS: use http://"),
    ];
    for (lab, tls, words) in cases {
        for protocol in ["http/protobuf", "grpc"] {
            let base = match protocol {
                "grpc" => lab.receivers.grpc_base(tls),
                _ => lab.receivers.http_base(tls),
            };
            let mut args = strings(&["--endpoint", &base, "--protocol", protocol]);
            args.extend(read_args(lab));
            let (code, doc) = run(args, vec![]).await;
            assert_eq!(code, Some(1));
            for name in ["trace", "log", "metric"] {
                let s = signal(&doc, name);
                assert_eq!(s["reason"], "tls_mismatch", "{protocol} tls={tls}: {s:#}");
                assert!(hint(s).contains(words), "{protocol}: {}", hint(s));
            }
        }
    }
}

/// Incident 5: the collector accepts the log and forwards nothing. The canary says the
/// receiver acknowledged it and that a search of all of Loki found nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_5_logs_accepted_but_never_forwarded() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    let mut args = strings(&["--endpoint", &lab.receivers.http_base(false)]);
    args.extend(read_args(&lab));
    let (code, doc) = run(args, vec![]).await;
    assert_eq!(code, Some(1));
    let log = signal(&doc, "log");
    assert_eq!(log["reason"], "not_found", "{log:#}");
    let h = hint(log);
    let at = lab.receivers.http_addr.to_string();
    assert!(
        h.contains(&format!(
            "the collector at {at} acknowledged the log (HTTP 200 OK in"
        )) && h.contains("but it never reached Loki within 1.5s")
            && h.contains("no logs pipeline exporting to Loki"),
        "{h}"
    );
    assert!(
        clue(log, "loki_search").contains("found nothing: the log never reached Loki"),
        "{log:#}"
    );
    assert_eq!(signal(&doc, "trace")["status"], "ok");
    assert_eq!(signal(&doc, "metric")["status"], "ok");
}

/// Incident 6: traces acknowledged, Tempo empty. Tempo itself answers /ready, so the loss is
/// before or inside it, and the report says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_6_traces_accepted_but_tempo_has_none() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    let mut args = strings(&[
        "--endpoint",
        &lab.receivers.grpc_base(false),
        "--protocol",
        "grpc",
    ]);
    args.extend(read_args(&lab));
    let (code, doc) = run(args, vec![]).await;
    assert_eq!(code, Some(1));
    let trace = signal(&doc, "trace");
    assert_eq!(trace["reason"], "not_found", "{trace:#}");
    assert!(
        hint(trace).contains("acknowledged the trace (gRPC OK in")
            && hint(trace).contains("never reached Tempo"),
        "{}",
        hint(trace)
    );
    assert!(
        clue(trace, "tempo_ready").starts_with("Tempo answers /ready (ready)"),
        "{trace:#}"
    );
}

/// Incident 7: a receiver that takes the connection but never acknowledges. The export is
/// reported as unacknowledged and the run fails; nothing is silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_7_an_unacknowledged_export_fails_the_run() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            delay: Duration::from_secs(5),
            ..Default::default()
        },
    );
    for protocol in ["http/protobuf", "grpc"] {
        let base = match protocol {
            "grpc" => lab.receivers.grpc_base(false),
            _ => lab.receivers.http_base(false),
        };
        let mut args = strings(&[
            "--endpoint",
            &base,
            "--protocol",
            protocol,
            "--export-timeout",
            "300ms",
        ]);
        args.extend(read_args(&lab));
        let (code, doc) = run(args, vec![]).await;
        assert_eq!(code, Some(1), "{protocol}");
        let trace = signal(&doc, "trace");
        assert_eq!(trace["status"], "failed");
        assert_eq!(trace["reason"], "timeout", "{protocol}: {trace:#}");
        assert!(
            hint(trace).contains("never acknowledged the export")
                && hint(trace).contains("counts as failed"),
            "{}",
            hint(trace)
        );
        assert!(trace["export"]["attempts"][0]["response"].is_null());
    }
}

/// Incident 8: spans refused after they were received (Tempo's distributor failing to hand
/// them to an ingester), surfaced as OTLP partial success with the backend's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_8_spans_refused_after_receipt() {
    let lab = stack().await;
    let message =
        "failed to push spans to ingester: tls: first record does not look like a TLS handshake";
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            partial: Some((2, message.to_string())),
            ..Default::default()
        },
    );
    for protocol in ["http/protobuf", "grpc"] {
        let base = match protocol {
            "grpc" => lab.receivers.grpc_base(false),
            _ => lab.receivers.http_base(false),
        };
        let mut args = strings(&["--endpoint", &base, "--protocol", protocol]);
        args.extend(read_args(&lab));
        let (code, doc) = run(args, vec![]).await;
        assert_eq!(code, Some(1));
        let trace = signal(&doc, "trace");
        assert_eq!(trace["reason"], "partial_success", "{protocol}: {trace:#}");
        let attempt = &trace["export"]["attempts"][0];
        assert_eq!(attempt["partial_success"]["rejected"], 2);
        assert_eq!(attempt["partial_success"]["message"], message);
        assert!(
            hint(trace).contains("rejected 2 spans")
                && hint(trace).contains("could not hand spans to an ingester"),
            "{}",
            hint(trace)
        );
    }
}

/// A multi-tenant stack read without a tenant: Loki's, Tempo's and Mimir's own "no org id".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_tenant_is_named_with_the_flag_that_fixes_it() {
    let state = LabState::new();
    state.set_require_tenant(true);
    let lab = stack_with(state).await;
    let mut args = strings(&["--endpoint", &lab.receivers.http_base(false)]);
    args.extend(read_args(&lab));
    let (code, doc) = run(args.clone(), vec![]).await;
    assert_eq!(code, Some(1));
    for name in ["trace", "log", "metric"] {
        let s = signal(&doc, name);
        assert_eq!(s["reason"], "query_failed", "{s:#}");
        assert!(hint(s).contains("pass --tenant ORG_ID"), "{}", hint(s));
    }
    args.extend(strings(&["--tenant", "team-a"]));
    let (code, doc) = run(args, vec![]).await;
    assert_eq!(code, Some(0), "{doc:#}");
}

/// The label mapping of a Loki exporter (Alloy's otelcol.exporter.loki): the log is in Loki,
/// but under job/instance/exporter labels with the probe id inside a JSON line. The canary
/// finds it there, says so, and the suggested flags then succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loki_exporter_label_mapping_is_found_and_the_fix_works() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            loki_exporter: true,
            ..Default::default()
        },
    );
    let mut args = strings(&[
        "--endpoint",
        &lab.receivers.http_base(false),
        "--signals",
        "log",
    ]);
    args.extend(read_args(&lab));
    let (code, doc) = run(args.clone(), vec![]).await;
    assert_eq!(code, Some(1));
    let log = signal(&doc, "log");
    assert_eq!(log["reason"], "not_found", "{log:#}");
    let h = hint(log);
    assert!(
        h.contains(r#"exporter="OTLP""#) && h.contains("Loki exporter"),
        "{h}"
    );
    let fix = r#"--log-selector '{job="otel-canary"}' --log-match line"#;
    assert!(h.contains(fix), "{h}");
    args.extend(strings(&[
        "--log-selector",
        r#"{job="otel-canary"}"#,
        "--log-match",
        "line",
    ]));
    let (code, doc) = run(args, vec![]).await;
    assert_eq!(code, Some(0), "{doc:#}");
    let log = signal(&doc, "log");
    let correlation = log["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "correlation")
        .unwrap();
    assert_eq!(
        correlation["status"], "ok",
        "traceid read from the JSON line"
    );
}

/// The marker read under labels the pipeline did not write: the canary finds the series that
/// holds this probe's value and names the selector that would find it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relabelled_marker_is_found_under_its_real_labels() {
    let lab = stack().await;
    let mut args = strings(&[
        "--endpoint",
        &lab.receivers.http_base(false),
        "--signals",
        "metric",
        "--metric-selector",
        r#"otel_canary_probe_marker{job="somewhere-else"}"#,
    ]);
    args.extend(read_args(&lab));
    let (code, doc) = run(args, vec![]).await;
    assert_eq!(code, Some(1));
    let m = signal(&doc, "metric");
    assert_eq!(m["reason"], "not_found", "{m:#}");
    assert!(
        hint(m).contains("the marker is there under")
            && hint(m).contains(r#"--metric-selector 'otel_canary_probe_marker{job="otel-canary""#),
        "{}",
        hint(m)
    );
}

/// Incident 11: which config is live? A scenario file describes the topology; a stale
/// environment variable underneath it loses, and the report prints both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_11_the_report_prints_the_resolved_topology() {
    let lab = stack().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.toml");
    std::fs::write(
        &file,
        format!(
            "description = \"the server's live topology\"\n[export]\nendpoint = \"{}\"\n\
             [read]\ntempo = \"{}\"\nloki = \"{}\"\nmimir = \"{}\"\n",
            lab.receivers.http_base(false),
            lab.tempo_url(),
            lab.loki_url(),
            lab.mimir_url()
        ),
    )
    .unwrap();
    let stale = "http://laptop.invalid:4318";
    let env = vec![("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), stale.to_string())];
    let args = strings(&["run", "--scenario", file.to_str().unwrap(), "--no-search"]);
    let out = run_bin_async(args.clone(), env.clone()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("topology:"), "{text}");
    for s in ["trace", "log", "metric"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{s} ")) && l.contains("sent to"))
            .unwrap_or_else(|| panic!("no topology line for {s}: {text}"));
        assert!(
            line.contains("chosen by scenario") && line.contains("(export.endpoint)"),
            "{line}"
        );
    }
    assert!(
        text.contains(
            "OTEL_EXPORTER_OTLP_ENDPOINT=http://laptop.invalid:4318/v1/traces is set but scenario"
        ),
        "{text}"
    );
    let mut json_args = args;
    json_args.extend(strings(&["--output", "json"]));
    let out = run_bin_async(json_args, env).await;
    let doc = json_out(&out);
    assert_eq!(
        signal(&doc, "log")["export"]["url"]["source"]["kind"],
        "scenario"
    );
}

/// A backend refusing the query is quoted, with the hint that fits its words: Tempo's
/// "empty ring" (nothing joined the ring), a LogQL or PromQL parse error (the selector flag).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_queries_are_quoted_with_the_hint_that_fits() {
    let lab = stack().await;
    let text = |p: &str| String::from_utf8(common::fixture_bytes(p)).unwrap();
    let faults = [
        (
            Signal::Trace,
            500,
            "error querying ingesters in Querier.FindTraceByID: empty ring".to_string(),
            "no ingester",
        ),
        (
            Signal::Log,
            400,
            text("loki/query-bad-logql.txt"),
            "could not parse the query: parse error at line 1, col 29",
        ),
        (
            Signal::Metric,
            400,
            text("mimir/query-bad-promql.json"),
            "check --metric-selector",
        ),
    ];
    for (s, status, body, _) in &faults {
        lab.state.faults.set(
            *s,
            SignalFault {
                query_error: Some((*status, body.clone())),
                ..Default::default()
            },
        );
    }
    let mut args = strings(&["--endpoint", &lab.receivers.http_base(false)]);
    args.extend(read_args(&lab));
    let (code, doc) = run(args, vec![]).await;
    assert_eq!(code, Some(1));
    for (s, _, _, words) in faults {
        let sig = signal(&doc, &s.to_string());
        assert_eq!(sig["reason"], "query_failed", "{sig:#}");
        assert!(hint(sig).contains(words), "{s}: {}", hint(sig));
    }
}

/// Incident 5 with the collector's own counters read before and after: the two flavours of
/// "accepted, never forwarded" are told apart and the failing hop is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_5_the_collectors_counters_name_the_missing_pipeline_or_failing_exporter() {
    let mut lab = stack().await;
    let page = lab
        .start_collector_metrics("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{page}/metrics");
    for (fault, words) in [
        (
            SignalFault {
                drop: true,
                ..Default::default()
            },
            "accepted 1 log record but it has no logs exporter",
        ),
        (
            SignalFault {
                export_fail: true,
                ..Default::default()
            },
            "exporter otlphttp/loki failed to send 1 log record",
        ),
    ] {
        lab.state.faults.set(Signal::Log, fault);
        let mut args = strings(&[
            "--endpoint",
            &lab.receivers.http_base(false),
            "--signals",
            "log",
            "--collector-metrics",
            &url,
        ]);
        args.extend(read_args(&lab));
        let (code, doc) = run(args, vec![]).await;
        assert_eq!(code, Some(1));
        let log = signal(&doc, "log");
        assert_eq!(log["reason"], "not_found", "{log:#}");
        assert!(hint(log).contains(words), "{}", hint(log));
        assert!(
            clue(log, "loki_search").contains("found nothing"),
            "{log:#}"
        );
    }
}

/// Incident 8 inside Tempo: the collector forwards the spans, Tempo's distributor receives
/// them, no ingester takes them. Tempo's own counters say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_8_tempos_counters_name_the_ingester_append_failure() {
    let mut lab = stack().await;
    let page = lab
        .start_collector_metrics("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            ingester_fail: true,
            ..Default::default()
        },
    );
    let mut args = strings(&[
        "--endpoint",
        &lab.receivers.grpc_base(false),
        "--protocol",
        "grpc",
        "--signals",
        "trace",
        "--collector-metrics",
        &format!("http://{page}/metrics"),
        "--tempo-metrics",
        &format!("{}/metrics", lab.tempo_url()),
    ]);
    args.extend(read_args(&lab));
    let (code, doc) = run(args, vec![]).await;
    assert_eq!(code, Some(1));
    let trace = signal(&doc, "trace");
    assert_eq!(trace["reason"], "not_found", "{trace:#}");
    let tempo = clue(trace, "backend_metrics");
    assert!(
        tempo.contains("tempo_distributor_ingester_append_failures_total"),
        "{tempo}"
    );
    assert!(
        clue(trace, "collector_metrics").contains("otlp/tempo"),
        "{trace:#}"
    );
}

/// A metrics page that cannot be read is said once, and does not hide the real verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_collector_page_is_reported_not_fatal() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    let mut args = strings(&[
        "--endpoint",
        &lab.receivers.http_base(false),
        "--signals",
        "log",
        "--collector-metrics",
        &format!("127.0.0.1:{}", closed_port()),
    ]);
    args.extend(read_args(&lab));
    let (code, doc) = run(args, vec![]).await;
    assert_eq!(code, Some(1));
    let log = signal(&doc, "log");
    assert_eq!(log["reason"], "not_found");
    assert!(
        clue(log, "collector_metrics").contains("could not be read before the probe"),
        "{log:#}"
    );
}
