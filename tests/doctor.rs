//! `otel-canary doctor` on real sockets: the built-in stack identified port by port, a silent
//! TCP server, a TLS server with a generated certificate, closed ports, Grafana / collector /
//! Prometheus look-alikes answering with captured bodies, and each configured-target
//! mismatch in plain words with the setting that chose it. Every run passes `--ports` and an
//! explicit endpoint, so nothing outside the test's own listeners is scanned.

mod common;

use common::{fixture_bytes, json_out, run_bin_async, stderr, stdout};
use otel_canary::lab::otlp_grpc::LabGrpc;
use otel_canary::lab::receivers::serve_http1;
use otel_canary::lab::{LabReceivers, LabStack, LabStackConfig, LabState, ReceiverConfig};
use serde_json::Value;
use tokio::net::TcpListener;

async fn stack() -> LabStack {
    LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab stack starts")
}

/// Runs `doctor --output json <args>` and returns the exit code and the document.
async fn doctor(args: &[String], env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let mut all: Vec<String> = vec!["doctor".into(), "--output".into(), "json".into()];
    all.extend(args.iter().cloned());
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = run_bin_async(all, env).await;
    (out.status.code(), json_out(&out))
}

/// `--ports a,b,c`.
fn ports(list: &[u16]) -> [String; 2] {
    let l: Vec<String> = list.iter().map(u16::to_string).collect();
    ["--ports".into(), l.join(",")]
}

fn args(parts: &[&str], list: &[u16]) -> Vec<String> {
    let mut a: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
    a.extend(ports(list));
    a
}

/// The `ports[]` entry for a port.
fn port(doc: &Value, p: u16) -> &Value {
    doc["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["port"] == p)
        .unwrap_or_else(|| panic!("port {p} not in {doc:#}"))
}

/// The `targets[]` entry for a signal or backend.
fn target<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == name)
        .unwrap_or_else(|| panic!("target {name} not in {doc:#}"))
}

/// The `speaks[]` entry of a kind on a port.
fn speaks<'a>(doc: &'a Value, p: u16, kind: &str) -> &'a Value {
    port(doc, p)["speaks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == kind)
        .unwrap_or_else(|| panic!("port {p} does not speak {kind}: {:#}", port(doc, p)))
}

fn path_answer(doc: &Value, p: u16, path: &str) -> String {
    port(doc, p)["otlp_paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == path)
        .map(|x| x["answer"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("{path} not asked on {p}"))
}

/// A port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// A TCP server that accepts connections, keeps them open and never says a word.
async fn silent_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    p
}

async fn tls_lab() -> LabReceivers {
    let mut cfg = ReceiverConfig::ephemeral();
    cfg.tls = Some(common::self_signed_tls());
    LabReceivers::start(cfg, LabState::new()).await.unwrap()
}

/// Serves fixed bodies at fixed paths (404 elsewhere), as the real server captured did.
async fn serve(routes: Vec<(&'static str, &'static str, Vec<u8>)>) -> u16 {
    use axum::http::header;
    let mut app = axum::Router::new();
    for (path, content_type, body) in routes {
        app = app.route(
            path,
            axum::routing::get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, content_type)], body) }
            }),
        );
    }
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = l.local_addr().unwrap().port();
    tokio::spawn(serve_http1(l, app, None));
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_stack_identified_port_by_port() {
    let lab = stack().await;
    let (h, g) = (
        lab.receivers.http_addr.port(),
        lab.receivers.grpc_addr.port(),
    );
    let (t, l, m) = (
        lab.tempo_addr.port(),
        lab.loki_addr.port(),
        lab.mimir_addr.port(),
    );
    let (code, doc) = doctor(
        &args(
            &[
                "127.0.0.1",
                "--endpoint",
                &lab.receivers.http_base(false),
                "--tempo",
                &lab.tempo_url(),
                "--loki",
                &lab.loki_url(),
                "--mimir",
                &lab.mimir_url(),
            ],
            &[g, h, t, l, m],
        ),
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["ok"], true);

    // gRPC receiver: h2c, every OTLP service answers the empty Export with OK.
    assert_eq!(port(&doc, g)["transport"], "h2c");
    let grpc = speaks(&doc, g, "otlp_grpc");
    assert_eq!(grpc["tls"], false);
    assert_eq!(
        grpc["signals"],
        serde_json::json!(["trace", "log", "metric"])
    );

    // HTTP receiver: the collector's three paths, not the backends' prefixed ones.
    assert_eq!(port(&doc, h)["transport"], "http1");
    assert_eq!(
        speaks(&doc, h, "otlp_http")["paths"],
        serde_json::json!(["/v1/traces", "/v1/logs", "/v1/metrics"])
    );
    assert_eq!(path_answer(&doc, h, "/otlp/v1/logs"), "not_found");

    // The query APIs, by their build info, with their versions and readiness.
    let tempo = speaks(&doc, t, "tempo");
    assert_eq!(tempo["version"], "2.8.2-otel-canary-lab");
    assert_eq!(tempo["ready"], true);
    assert_eq!(path_answer(&doc, t, "/v1/traces"), "not_found");
    assert_eq!(speaks(&doc, l, "loki")["version"], "3.6.7-otel-canary-lab");
    assert_eq!(
        speaks(&doc, l, "otlp_http")["paths"],
        serde_json::json!(["/otlp/v1/logs"])
    );
    assert_eq!(path_answer(&doc, l, "/v1/logs"), "not_found");
    assert_eq!(
        speaks(&doc, m, "mimir")["version"],
        "2.16.1-otel-canary-lab"
    );
    assert_eq!(
        speaks(&doc, m, "otlp_http")["paths"],
        serde_json::json!(["/otlp/v1/metrics", "/api/v1/otlp/v1/metrics"])
    );

    // Every configured target fits, and the verdicts say why.
    for s in ["trace", "log", "metric"] {
        let v = target(&doc, s);
        assert_eq!(v["ok"], true, "{v:#}");
        assert_eq!(v["check"], "HTTP 200 OK");
    }
    assert!(
        target(&doc, "tempo")["message"]
            .as_str()
            .unwrap()
            .contains("Tempo 2.8.2-otel-canary-lab answers there")
    );
    assert_eq!(target(&doc, "mimir")["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_and_closed_ports() {
    let silent = silent_port().await;
    let closed = closed_port().await;
    let tls = tls_lab().await;
    let (th, tg) = (tls.http_addr.port(), tls.grpc_addr.port());
    let (code, doc) = doctor(
        &args(
            &[
                "127.0.0.1",
                "--endpoint",
                &tls.http_base(true),
                "--insecure-skip-verify",
            ],
            &[silent, closed, th, tg],
        ),
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{doc:#}");

    let s = port(&doc, silent);
    assert_eq!(s["state"], "open");
    assert_eq!(s["speaks"], serde_json::json!([]));
    assert!(
        s["note"].as_str().unwrap().contains("says nothing"),
        "{s:#}"
    );
    assert_eq!(port(&doc, closed)["state"], "closed");

    // TLS found by the handshake; ALPN tells the HTTP receiver from the gRPC one.
    let h = port(&doc, th);
    assert_eq!(h["transport"], "tls");
    assert_eq!(h["tls"]["alpn"], "http/1.1");
    assert_eq!(speaks(&doc, th, "otlp_http")["tls"], true);
    let g = port(&doc, tg);
    assert_eq!(g["transport"], "tls");
    assert_eq!(g["tls"]["alpn"], "h2");
    assert_eq!(speaks(&doc, tg, "otlp_grpc")["tls"], true);
    assert_eq!(g["speaks"].as_array().unwrap().len(), 1, "{g:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_ports_and_a_silent_one_each_get_a_verdict() {
    let silent = silent_port().await;
    let mut list = Vec::new();
    for _ in 0..6 {
        list.push(closed_port().await);
    }
    list.push(silent);
    let endpoint = format!("http://127.0.0.1:{silent}");
    let (code, doc) = doctor(&args(&["127.0.0.1", "--endpoint", &endpoint], &list), &[]).await;
    assert_eq!(code, Some(1), "{doc:#}");
    for p in &list[..6] {
        assert_eq!(port(&doc, *p)["state"], "closed", "{p}");
    }
    // The silent port used its sniff and TLS budgets, not the overall deadline.
    let s = port(&doc, silent);
    assert_eq!(s["state"], "open");
    assert!(
        s["note"].as_str().unwrap().contains("no TLS handshake"),
        "{s:#}"
    );
    assert!(
        s["seconds"].as_f64().unwrap() < doc["deadline_seconds"].as_f64().unwrap(),
        "{s:#}"
    );
    let v = target(&doc, "trace");
    assert_eq!(v["reason"], "not_otlp", "{v:#}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("does not speak OTLP")
    );
}

/// The mismatch sentences, each from its own doctor run against the lab.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatches_in_plain_words() {
    let lab = stack().await;
    let (h, g) = (
        lab.receivers.http_addr.port(),
        lab.receivers.grpc_addr.port(),
    );
    let (t, l, m) = (
        lab.tempo_addr.port(),
        lab.loki_addr.port(),
        lab.mimir_addr.port(),
    );
    let closed = closed_port().await;
    let all = [g, h, t, l, m, closed];
    let http = lab.receivers.http_base(false);
    let grpc = lab.receivers.grpc_base(false);
    let loki_v1 = format!("{}/v1/logs", lab.loki_url());
    let closed_url = format!("http://127.0.0.1:{closed}");
    let loki = lab.loki_url();
    let tempo = lab.tempo_url();

    /// (arguments, environment, target, reason, words the message must contain)
    type Case<'a> = (
        Vec<&'a str>,
        Vec<(&'a str, &'a str)>,
        &'a str,
        &'a str,
        String,
    );
    let cases: Vec<Case> = vec![
        (
            vec![
                "--endpoint",
                &http,
                "--protocol",
                "grpc",
                "--signals",
                "trace",
            ],
            vec![],
            "trace",
            "protocol_mismatch",
            format!(
                "your traces go to {http} over gRPC (chosen by flag --protocol), but :{h} speaks \
                 OTLP/HTTP: use --protocol http/protobuf or port {g}"
            ),
        ),
        (
            vec!["--endpoint", &grpc, "--signals", "log"],
            vec![],
            "log",
            "protocol_mismatch",
            format!(
                "over OTLP/HTTP (http/protobuf, chosen by default), but :{g} speaks gRPC: use \
                 --protocol grpc or port {h}"
            ),
        ),
        (
            vec![
                "--endpoint",
                &http,
                "--logs-endpoint",
                &loki_v1,
                "--signals",
                "log",
            ],
            vec![],
            "log",
            "wrong_path",
            format!(
                "your logs go to {loki_v1} (chosen by flag --logs-endpoint) over OTLP/HTTP \
                 (http/protobuf), but Loki answers OTLP logs at /otlp/v1/logs: use \
                 --logs-endpoint {loki}/otlp/v1/logs"
            ),
        ),
        (
            vec!["--signals", "metric"],
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", &closed_url)],
            "metric",
            "closed",
            format!(
                "(chosen by env OTEL_EXPORTER_OTLP_ENDPOINT) over OTLP/HTTP (http/protobuf), \
                 but nothing listens on 127.0.0.1:{closed}; OTLP/HTTP for metrics answers on \
                 :{h} (/v1/metrics), :{m} (/otlp/v1/metrics)"
            ),
        ),
        (
            vec!["--endpoint", &http, "--signals", "trace", "--tempo", &loki],
            vec![],
            "tempo",
            "wrong_backend",
            format!(
                "--tempo points at {loki}/ (chosen by flag --tempo), which is Loki \
                 3.6.7-otel-canary-lab; Tempo answers on :{t}"
            ),
        ),
        (
            vec![
                "--endpoint",
                &http,
                "--signals",
                "metric",
                "--mimir",
                &tempo,
            ],
            vec![],
            "mimir",
            "wrong_backend",
            format!("which is Tempo 2.8.2-otel-canary-lab; Mimir answers on :{m}"),
        ),
    ];
    for (extra, env, name, reason, words) in cases {
        let mut a: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        a.extend(ports(&all));
        let (code, doc) = doctor(&a, &env).await;
        assert_eq!(code, Some(1), "{extra:?}: {doc:#}");
        assert_eq!(doc["ok"], false);
        let v = target(&doc, name);
        assert_eq!(v["ok"], false, "{v:#}");
        assert_eq!(v["reason"], reason, "{extra:?}: {v:#}");
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.contains(&words),
            "{extra:?}\n got: {msg}\nwant: {words}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_to_tls_and_tls_to_plain_are_named() {
    let tls = tls_lab().await;
    let plain = common::lab().await;
    let (th, ph) = (tls.http_addr.port(), plain.http_addr.port());
    let wrong_plain = tls.http_base(true).replace("https://", "http://");
    let (code, doc) = doctor(
        &args(&["--endpoint", &wrong_plain, "--signals", "trace"], &[th]),
        &[],
    )
    .await;
    assert_eq!(code, Some(1));
    let v = target(&doc, "trace");
    assert_eq!(v["reason"], "tls_mismatch", "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains(&format!(
            ":{th} expects TLS: use https://127.0.0.1:{th}/v1/traces"
        )),
        "{v:#}"
    );

    let wrong_tls = plain.http_base(true);
    let (code, doc) = doctor(
        &args(&["--endpoint", &wrong_tls, "--signals", "trace"], &[ph]),
        &[],
    )
    .await;
    assert_eq!(code, Some(1));
    let v = target(&doc, "trace");
    assert_eq!(v["reason"], "tls_mismatch", "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains(&format!(
            ":{ph} is plain text, without TLS: use http://127.0.0.1:{ph}/v1/traces"
        )),
        "{v:#}"
    );

    // Right scheme, but a certificate the canary does not trust: said as such.
    let (code, doc) = doctor(
        &args(
            &["--endpoint", &tls.http_base(true), "--signals", "trace"],
            &[th],
        ),
        &[],
    )
    .await;
    assert_eq!(code, Some(1));
    let v = target(&doc, "trace");
    assert_eq!(v["reason"], "tls_handshake", "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains("--ca-cert"),
        "{v:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_server_without_the_signals_service() {
    // Like Tempo's 4317: OTLP gRPC for traces only.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = l.local_addr().unwrap().port();
    let svc = LabGrpc::new(LabState::new());
    let router = tonic::transport::Server::builder().add_service(svc.trace_server());
    tokio::spawn(router.serve_with_incoming(tokio_stream_of(l)));
    let endpoint = format!("http://127.0.0.1:{p}");
    let (code, doc) = doctor(
        &args(
            &[
                "--endpoint",
                &endpoint,
                "--protocol",
                "grpc",
                "--signals",
                "trace,log",
            ],
            &[p],
        ),
        &[],
    )
    .await;
    assert_eq!(code, Some(1), "{doc:#}");
    assert_eq!(
        speaks(&doc, p, "otlp_grpc")["signals"],
        serde_json::json!(["trace"])
    );
    assert_eq!(target(&doc, "trace")["ok"], true);
    let v = target(&doc, "log");
    assert_eq!(v["reason"], "unimplemented", "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains(&format!(
            ":{p} speaks gRPC but has no OTLP logs service (it takes traces only)"
        )),
        "{v:#}"
    );
}

/// Accepted connections as the stream tonic's `serve_with_incoming` wants.
fn tokio_stream_of(
    l: TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(l, |l| async move {
        let c = l.accept().await.map(|(s, _)| s);
        Some((c, l))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_collector_prometheus_and_victoriametrics_recognised() {
    let grafana = serve(vec![(
        "/api/health",
        "application/json",
        br#"{"commit":"0e5f2c5","database":"ok","version":"11.6.0"}"#.to_vec(),
    )])
    .await;
    let collector = serve(vec![(
        "/metrics",
        "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
        fixture_bytes("collector/self-metrics-full-at-end.txt"),
    )])
    .await;
    let prometheus = serve(vec![
        (
            "/api/v1/status/buildinfo",
            "application/json",
            fixture_bytes("prometheus/buildinfo.json"),
        ),
        (
            "/-/ready",
            "text/plain; charset=utf-8",
            fixture_bytes("prometheus/ready.txt"),
        ),
    ])
    .await;
    let vm = serve(vec![(
        "/api/v1/status/buildinfo",
        "application/json",
        fixture_bytes("victoriametrics/buildinfo.json"),
    )])
    .await;
    let lab = common::lab().await;
    let prom_url = format!("http://127.0.0.1:{prometheus}");
    let (code, doc) = doctor(
        &args(
            &["--endpoint", &lab.http_base(false), "--mimir", &prom_url],
            &[grafana, collector, prometheus, vm],
        ),
        &[],
    )
    .await;
    assert_eq!(code, Some(1), "{doc:#}");
    assert_eq!(speaks(&doc, grafana, "grafana")["version"], "11.6.0");
    assert_eq!(
        speaks(&doc, collector, "collector")["version"],
        "0.124.0-lab"
    );
    let p = speaks(&doc, prometheus, "prometheus");
    assert_eq!(p["version"], "2.53.3+ds1");
    assert_eq!(p["ready"], true);
    speaks(&doc, vm, "victoriametrics");
    let v = target(&doc, "mimir");
    assert_eq!(v["reason"], "wrong_backend", "{v:#}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("which is Prometheus 2.53.3+ds1: use --prometheus"),
        "{v:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_required_then_given() {
    let lab = stack().await;
    lab.state.set_require_tenant(true);
    let l = lab.loki_addr.port();
    let url = format!("{}/otlp/v1/logs", lab.loki_url());
    let (code, doc) = doctor(
        &args(&["--logs-endpoint", &url, "--signals", "log"], &[l]),
        &[],
    )
    .await;
    assert_eq!(code, Some(1));
    assert_eq!(path_answer(&doc, l, "/otlp/v1/logs"), "needs_auth");
    let v = target(&doc, "log");
    assert_eq!(v["reason"], "needs_auth", "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains("give --tenant"),
        "{v:#}"
    );
    // The configured request carries the tenant; the scan's own requests never do.
    let (code, doc) = doctor(
        &args(
            &[
                "--logs-endpoint",
                &url,
                "--signals",
                "log",
                "--tenant",
                "team-a",
            ],
            &[l],
        ),
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{doc:#}");
    // Loki answers an empty push 422, which says the path takes OTLP logs.
    assert_eq!(
        target(&doc, "log")["check"],
        "HTTP 422 Unprocessable Entity: error at least one valid stream is required for ingestion"
    );
    assert!(
        target(&doc, "log")["message"]
            .as_str()
            .unwrap()
            .contains("Loki takes OTLP logs here"),
        "{doc:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_report_and_json_shape() {
    let lab = common::lab().await;
    let h = lab.http_addr.port();
    let secret = "Bearer doctor-secret-5e1";
    let base = vec![
        "doctor".to_string(),
        "127.0.0.1".into(),
        "--endpoint".into(),
        lab.http_base(false),
        "-H".into(),
        format!("authorization={secret}"),
        "--ports".into(),
        h.to_string(),
    ];
    let out = run_bin_async(base.clone(), vec![]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for words in [
        "doctor: scanning 127.0.0.1 (given)",
        "PORT",
        "OTLP/HTTP (plain): /v1/traces, /v1/logs, /v1/metrics",
        "configured targets:",
        "an empty export was accepted there (HTTP 200 OK)",
        "1 port scanned (1 open) in ",
        "deadline 2.5 s",
        "Only empty OTLP exports were sent",
    ] {
        assert!(text.contains(words), "missing {words:?} in\n{text}");
    }
    assert!(!format!("{text}{}", stderr(&out)).contains("doctor-secret-5e1"));

    let mut json = base;
    json.extend(["--output".into(), "json".into()]);
    let out = run_bin_async(json, vec![]).await;
    let doc = json_out(&out);
    assert!(!stdout(&out).contains("doctor-secret-5e1"));
    assert_eq!(doc["schema"], "otel-canary/doctor/v1");
    for key in [
        "host",
        "scenario",
        "ok",
        "seconds",
        "deadline_seconds",
        "connect_timeout_seconds",
        "ports",
        "targets",
        "warnings",
    ] {
        assert!(doc.get(key).is_some(), "no {key}: {doc:#}");
    }
    assert_eq!(doc["host"]["source"]["kind"], "flag");
    let f = port(&doc, h);
    for key in [
        "names",
        "address",
        "port",
        "why",
        "state",
        "transport",
        "tls",
        "speaks",
        "otlp_paths",
        "grpc_services",
        "first_answer",
        "note",
        "seconds",
    ] {
        assert!(f.get(key).is_some(), "port has no {key}: {f:#}");
    }
    assert_eq!(
        f["why"],
        serde_json::json!(["--ports", "trace export", "log export", "metric export"])
    );
    assert_eq!(f["otlp_paths"].as_array().unwrap().len(), 7);
    let v = target(&doc, "trace");
    for key in [
        "kind", "target", "url", "protocol", "ok", "reason", "message", "check",
    ] {
        assert!(v.get(key).is_some(), "target has no {key}: {v:#}");
    }
    assert_eq!(v["kind"], "export");
    assert_eq!(v["url"]["source"]["name"], "--endpoint");
    assert_eq!(v["protocol"]["value"], "http/protobuf");
}

#[test]
fn bad_input_exits_2_and_help_teaches() {
    let cases: &[(&[&str], &str)] = &[
        (&["doctor", "http://collector:4318"], "HOST"),
        (&["doctor", "collector:4318"], "--ports 4318"),
        (&["doctor", "bad host"], "HOST"),
        (&["doctor", "--ports", "0"], "--ports"),
        (&["doctor", "--ports", "4318,http"], "--ports"),
        (&["doctor", "--protocol", "udp"], "udp"),
        (
            &["doctor", "--scenario", "no-such-scenario"],
            "no-such-scenario",
        ),
        (
            &["doctor", "no-such-host.invalid", "--ports", "4318"],
            "does not resolve",
        ),
    ];
    for (args, words) in cases {
        let out = common::run_bin(args, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let help = stdout(&common::run_bin(&["doctor", "--help"], &[]));
    for words in [
        "HOST",
        "--ports",
        "EMPTY OTLP export",
        "4317",
        "under 3 s",
        "Exit codes",
    ] {
        assert!(help.contains(words), "--help lacks {words:?}:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_on_a_read_url_and_mtls_on_an_export_target() {
    // Tempo's API behind a self-signed certificate (incident list: "sometimes HTTPS with a
    // self-signed certificate").
    let tls = common::self_signed_tls();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let t = l.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config(&[b"http/1.1"]).unwrap());
    let api = otel_canary::lab::tempo_api::router(LabState::new());
    tokio::spawn(serve_http1(l, api, Some(acceptor)));
    let lab = common::lab().await;
    let http = lab.http_base(false);
    let https_tempo = format!("https://127.0.0.1:{t}");
    let run = |extra: Vec<String>| {
        let mut a: Vec<String> = vec![
            "--endpoint".into(),
            http.clone(),
            "--signals".into(),
            "trace".into(),
        ];
        a.extend(extra);
        a.extend(ports(&[t]));
        a
    };
    let (code, doc) = doctor(&run(vec!["--tempo".into(), https_tempo.clone()]), &[]).await;
    assert_eq!(code, Some(1));
    assert_eq!(speaks(&doc, t, "tempo")["version"], "2.8.2-otel-canary-lab");
    let v = target(&doc, "tempo");
    assert_eq!(v["reason"], "tls_handshake", "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains("--read-ca-cert"),
        "{v:#}"
    );
    let (code, doc) = doctor(
        &run(vec![
            "--tempo".into(),
            https_tempo.clone(),
            "--read-insecure-skip-verify".into(),
        ]),
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{doc:#}");
    let (_, doc) = doctor(
        &run(vec!["--tempo".into(), https_tempo.replace("https", "http")]),
        &[],
    )
    .await;
    assert_eq!(target(&doc, "tempo")["reason"], "tls_mismatch");

    // A receiver that demands a client certificate: TLS is found, HTTP never answers, and
    // the configured export (no client certificate) is told why.
    let mut mtls = common::self_signed_tls();
    mtls.client_ca_pem = Some(mtls.cert_pem.clone());
    let mut cfg = ReceiverConfig::ephemeral();
    cfg.tls = Some(mtls);
    let strict = LabReceivers::start(cfg, LabState::new()).await.unwrap();
    let p = strict.http_addr.port();
    let (code, doc) = doctor(
        &args(
            &[
                "--endpoint",
                &strict.http_base(true),
                "--insecure-skip-verify",
                "--signals",
                "log",
            ],
            &[p],
        ),
        &[],
    )
    .await;
    assert_eq!(code, Some(1));
    let f = port(&doc, p);
    assert_eq!(f["transport"], "tls", "{f:#}");
    assert!(
        f["note"]
            .as_str()
            .unwrap()
            .contains("no HTTP request was answered"),
        "{f:#}"
    );
    let v = target(&doc, "log");
    assert_eq!(v["reason"], "tls_handshake", "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains("--client-cert"),
        "{v:#}"
    );
}

/// VictoriaMetrics as captured: OTLP at /opentelemetry/v1/metrics (200, empty), 400
/// "unsupported path requested" elsewhere, its fake-Prometheus build info.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoriametrics_gets_its_own_otlp_path_suggested() {
    use axum::http::{StatusCode, Uri, header};
    let app = axum::Router::new()
        .route(
            "/api/v1/status/buildinfo",
            axum::routing::get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    fixture_bytes("victoriametrics/buildinfo.json"),
                )
            }),
        )
        .route(
            "/opentelemetry/v1/metrics",
            axum::routing::post(|| async { StatusCode::OK }),
        )
        .fallback(|uri: Uri| async move {
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("unsupported path requested: {:?}\n", uri.path()),
            )
        });
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = l.local_addr().unwrap().port();
    tokio::spawn(serve_http1(l, app, None));
    let url = format!("http://127.0.0.1:{p}/v1/metrics");
    let (code, doc) = doctor(
        &args(&["--metrics-endpoint", &url, "--signals", "metric"], &[p]),
        &[],
    )
    .await;
    assert_eq!(code, Some(1), "{doc:#}");
    assert_eq!(path_answer(&doc, p, "/v1/metrics"), "rejected");
    assert_eq!(path_answer(&doc, p, "/opentelemetry/v1/metrics"), "accepts");
    speaks(&doc, p, "victoriametrics");
    let v = target(&doc, "metric");
    assert_eq!(v["reason"], "wrong_path", "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains(&format!(
            "VictoriaMetrics answers OTLP metrics at /opentelemetry/v1/metrics: use \
             --metrics-endpoint http://127.0.0.1:{p}/opentelemetry/v1/metrics"
        )),
        "{v:#}"
    );
}
