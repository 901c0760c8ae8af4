//! Every failure produces the right class, the server's own words, and exit code 1; the real
//! backends' success shapes (Loki 204, Mimir empty 200) count as success.

mod common;

use common::{Canned, fixture_bytes, replay, signal};
use otel_canary::lab::SignalFault;
use otel_canary::signal::Signal;
use std::time::Duration;

async fn emit_json(extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    common::emit_json(extra, vec![]).await
}

fn hint(signal: &serde_json::Value) -> &str {
    signal["hint"].as_str().unwrap_or_default()
}

/// Each refusal a receiver can answer has its class and a hint with the fix in it.
#[tokio::test]
async fn refusals_are_classed_with_the_fix_in_the_hint() {
    let cases = [
        (
            Canned {
                status: 401,
                content_type: Some("text/plain; charset=utf-8"),
                body: fixture_bytes("loki/auth-enabled/otlp-logs-no-orgid.txt"),
            },
            "auth",
            "pass --tenant ORG_ID",
        ),
        (
            Canned {
                status: 403,
                content_type: Some("text/plain"),
                body: b"forbidden".to_vec(),
            },
            "auth",
            "refused the credentials (HTTP 403)",
        ),
        (
            Canned {
                status: 413,
                content_type: Some("text/plain"),
                body: b"request body too large".to_vec(),
            },
            "too_large",
            "max_request_body_size",
        ),
        (
            Canned {
                status: 429,
                content_type: Some("text/plain"),
                body: b"ingestion rate limit exceeded".to_vec(),
            },
            "rate_limited",
            "ingestion limits",
        ),
        // What Go's net/http answers plain HTTP on a TLS listener.
        (
            Canned {
                status: 400,
                content_type: None,
                body: b"Client sent an HTTP request to an HTTPS server.\n".to_vec(),
            },
            "tls_mismatch",
            "expects TLS but the canary spoke plain text: use https://",
        ),
    ];
    for (canned, reason, words) in cases {
        let addr = replay(canned).await;
        let (code, doc) =
            emit_json(&["--endpoint", &format!("http://{addr}"), "--signals", "log"]).await;
        assert_eq!(code, Some(1));
        let log = signal(&doc, "log");
        assert_eq!(log["reason"], reason, "{log}");
        assert!(hint(log).contains(words), "{reason}: {log}");
    }
}

#[tokio::test]
async fn partial_success_is_a_failure_with_the_servers_message() {
    for protocol in ["http/protobuf", "http/json", "grpc"] {
        let lab = common::lab().await;
        lab.state.faults.set(
            Signal::Trace,
            SignalFault {
                partial: Some((1, "span too old".into())),
                ..Default::default()
            },
        );
        lab.state.faults.set(
            Signal::Log,
            SignalFault {
                partial: Some((0, "just a warning".into())),
                ..Default::default()
            },
        );
        let ep = lab.base_for(protocol.parse().unwrap(), false);
        let (code, doc) = emit_json(&["--endpoint", &ep, "--protocol", protocol]).await;
        assert_eq!(code, Some(1), "{protocol}");
        let trace = signal(&doc, "trace");
        assert_eq!(trace["reason"], "partial_success", "{protocol}: {trace}");
        assert_eq!(trace["partial_success"]["rejected"], 1);
        assert_eq!(trace["partial_success"]["message"], "span too old");
        let log = signal(&doc, "log");
        assert_eq!(log["ok"], true, "zero rejected is a warning only");
        assert_eq!(log["warning"], "just a warning");
        assert_eq!(signal(&doc, "metric")["ok"], true);
    }
}

#[tokio::test]
async fn http_4xx_and_5xx_are_classed_with_retries_reported() {
    let lab = common::lab().await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            status: Some(400),
            ..Default::default()
        },
    );
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            status: Some(503),
            retry_after: Some(0),
            ..Default::default()
        },
    );
    let (code, doc) = emit_json(&["--endpoint", &lab.http_base(false), "--retries", "2"]).await;
    assert_eq!(code, Some(1));
    let trace = signal(&doc, "trace");
    assert_eq!(trace["reason"], "http_status");
    assert_eq!(trace["response"]["status"], 400);
    assert!(
        trace["message"]
            .as_str()
            .unwrap()
            .contains("lab fault: answering 400"),
        "{trace}"
    );
    assert_eq!(
        trace["attempts"].as_array().unwrap().len(),
        1,
        "400 is not retryable"
    );
    let log = signal(&doc, "log");
    assert_eq!(log["reason"], "unavailable");
    assert_eq!(log["response"]["status"], 503);
    assert!(
        hint(log).contains("is unavailable (HTTP 503)") && hint(log).contains("3 attempts"),
        "{log}"
    );
    let attempts = log["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "503 retried twice: {log}");
    assert!(
        attempts
            .iter()
            .all(|a| a["retryable"] == true && a["retry_after_seconds"] == 0.0)
    );
    assert_eq!(signal(&doc, "metric")["ok"], true);
}

#[tokio::test]
async fn grpc_status_from_the_server() {
    let lab = common::lab().await;
    lab.state.faults.set(
        Signal::Metric,
        SignalFault {
            status: Some(401),
            ..Default::default()
        },
    );
    let (code, doc) = emit_json(&["--endpoint", &lab.grpc_base(false), "--protocol", "grpc"]).await;
    assert_eq!(code, Some(1));
    let m = signal(&doc, "metric");
    assert_eq!(m["reason"], "auth");
    assert!(hint(m).contains("refused the credentials"), "{m}");
    assert_eq!(m["response"]["code"], 16);
    assert_eq!(m["response"]["name"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn connection_refused_on_both_transports() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for protocol in ["http/protobuf", "grpc"] {
        let (code, doc) = emit_json(&[
            "--endpoint",
            &format!("http://127.0.0.1:{port}"),
            "--protocol",
            protocol,
        ])
        .await;
        assert_eq!(code, Some(1));
        for s in ["trace", "log", "metric"] {
            assert_eq!(
                signal(&doc, s)["reason"],
                "connect_refused",
                "{protocol} {s}"
            );
            assert!(signal(&doc, s)["response"].is_null());
            let h = hint(signal(&doc, s));
            assert!(
                h.contains(&format!("nothing listens on 127.0.0.1:{port}"))
                    && h.contains("flag --endpoint")
                    && h.contains("otel-canary doctor 127.0.0.1"),
                "{h}"
            );
        }
    }
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_within_the_deadline() {
    for protocol in ["http/json", "grpc"] {
        let lab = common::lab().await;
        lab.state.faults.set(
            Signal::Log,
            SignalFault {
                delay: Duration::from_secs(3),
                ..Default::default()
            },
        );
        let ep = lab.base_for(protocol.parse().unwrap(), false);
        let started = std::time::Instant::now();
        let (code, doc) = emit_json(&[
            "--endpoint",
            &ep,
            "--protocol",
            protocol,
            "--export-timeout",
            "300ms",
            "--signals",
            "log",
        ])
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "must not wait for the slow server"
        );
        assert_eq!(code, Some(1));
        let log = signal(&doc, "log");
        assert_eq!(log["reason"], "timeout", "{protocol}: {log}");
        let secs = log["seconds"].as_f64().unwrap();
        assert!((0.29..1.5).contains(&secs), "{secs}");
    }
}

#[tokio::test]
async fn protocol_mismatch_both_ways() {
    let lab = common::lab().await;
    // HTTP/1.1 to the gRPC port.
    let (code, doc) = emit_json(&["--endpoint", &lab.grpc_base(false), "--signals", "trace"]).await;
    assert_eq!(code, Some(1));
    let trace = signal(&doc, "trace");
    assert_eq!(trace["reason"], "protocol_mismatch", "{doc}");
    assert_eq!(trace["port_speaks"], "grpc", "{doc}");
    assert!(
        hint(trace).contains("speaks gRPC (HTTP/2 without TLS)")
            && hint(trace).contains("--protocol grpc"),
        "{trace}"
    );
    // gRPC to the HTTP port.
    let (code, doc) = emit_json(&[
        "--endpoint",
        &lab.http_base(false),
        "--protocol",
        "grpc",
        "--signals",
        "trace",
    ])
    .await;
    assert_eq!(code, Some(1));
    let trace = signal(&doc, "trace");
    assert_eq!(trace["reason"], "protocol_mismatch", "{doc}");
    assert_eq!(trace["port_speaks"], "http1", "{doc}");
    assert!(
        hint(trace).contains("speaks OTLP/HTTP (HTTP/1.1), not gRPC")
            && hint(trace).contains("--protocol http/protobuf"),
        "{trace}"
    );
}

#[tokio::test]
async fn wrong_path_is_the_collectors_404() {
    let lab = common::lab().await;
    let url = format!("{}/otlp/v1/logs", lab.http_base(false));
    let (code, doc) = emit_json(&["--logs-endpoint", &url, "--signals", "log"]).await;
    assert_eq!(code, Some(1));
    let log = signal(&doc, "log");
    assert_eq!(log["reason"], "wrong_path");
    assert!(
        hint(log).contains("not an OTLP path") && hint(log).contains("a collector at /v1/logs"),
        "{log}"
    );
    assert_eq!(log["response"]["status"], 404);
    assert!(
        log["message"]
            .as_str()
            .unwrap()
            .ends_with("404 page not found"),
        "{log}"
    );
}

/// Loki answers 204 with no body; Mimir 200 with an empty body and no Content-Type; Tempo and
/// the collector 200 with `0a 00` or `{"partialSuccess":{}}`. All are success.
#[tokio::test]
async fn every_real_success_shape_is_success() {
    let shapes = [
        (
            "loki 204",
            Canned {
                status: 204,
                content_type: None,
                body: vec![],
            },
        ),
        (
            "mimir empty 200",
            Canned {
                status: 200,
                content_type: None,
                body: vec![],
            },
        ),
        (
            "tempo json",
            Canned {
                status: 200,
                content_type: Some("application/json"),
                body: fixture_bytes("tempo/otlp-http-json-response.json"),
            },
        ),
        (
            "tempo proto",
            Canned {
                status: 200,
                content_type: Some("application/x-protobuf"),
                body: fixture_bytes("tempo/otlp-http-proto-response.bin"),
            },
        ),
        (
            "collector json",
            Canned {
                status: 200,
                content_type: Some("application/json"),
                body: fixture_bytes("collector/otlp-http-json-traces-response.json"),
            },
        ),
    ];
    for (name, canned) in shapes {
        let addr = replay(canned).await;
        let (code, doc) = emit_json(&["--endpoint", &format!("http://{addr}")]).await;
        assert_eq!(code, Some(0), "{name}: {doc}");
    }
}

/// Real error bodies: the server's own words reach the report.
#[tokio::test]
async fn real_error_bodies_are_quoted() {
    let cases = [
        (
            Canned {
                status: 400,
                content_type: Some("application/octet-stream"),
                body: fixture_bytes("mimir/otlp-metrics-out-of-order.bin"),
            },
            "err-mimir-sample-out-of-order",
            "http_status",
        ),
        (
            Canned {
                status: 400,
                content_type: Some("application/octet-stream"),
                body: fixture_bytes("loki/otlp-logs-malformed-json.bin"),
            },
            "",
            "http_status",
        ),
        (
            Canned {
                status: 400,
                content_type: Some("application/json"),
                body: fixture_bytes("tempo/otlp-http-json-malformed.json"),
            },
            "readSpan.traceId",
            "http_status",
        ),
        (
            Canned {
                status: 415,
                content_type: Some("text/plain"),
                body: fixture_bytes("collector/wrong-content-type-text-plain.txt"),
            },
            "415 unsupported media type",
            "protocol_mismatch",
        ),
    ];
    for (canned, words, reason) in cases {
        let body_text = String::from_utf8_lossy(&canned.body).to_string();
        let addr = replay(canned).await;
        let (code, doc) = emit_json(&[
            "--endpoint",
            &format!("http://{addr}"),
            "--signals",
            "metric",
        ])
        .await;
        assert_eq!(code, Some(1));
        let m = signal(&doc, "metric");
        assert_eq!(m["reason"], reason);
        let msg = m["message"].as_str().unwrap();
        assert!(msg.contains(words), "{msg}");
        assert!(
            msg.len() > 16 && !msg.contains('\u{0}'),
            "{msg} (from {body_text})"
        );
    }
}

/// A 2xx page that is not an OTLP answer (a proxy, a web server) is class `body`.
#[tokio::test]
async fn a_non_otlp_2xx_is_a_body_error() {
    let addr = replay(Canned {
        status: 200,
        content_type: Some("text/html"),
        body: b"<html>welcome</html>".to_vec(),
    })
    .await;
    let (code, doc) = emit_json(&[
        "--endpoint",
        &format!("http://{addr}"),
        "--signals",
        "trace",
    ])
    .await;
    assert_eq!(code, Some(1));
    assert_eq!(signal(&doc, "trace")["reason"], "body");
}

#[tokio::test]
async fn unresolvable_host_is_dns() {
    let (code, doc) = emit_json(&[
        "--endpoint",
        "http://no-such-host.invalid:4318",
        "--signals",
        "trace",
    ])
    .await;
    assert_eq!(code, Some(1));
    assert_eq!(signal(&doc, "trace")["reason"], "dns");
    let (code, doc) = emit_json(&[
        "--endpoint",
        "http://no-such-host.invalid:4317",
        "--protocol",
        "grpc",
        "--signals",
        "trace",
    ])
    .await;
    assert_eq!(code, Some(1));
    assert_eq!(signal(&doc, "trace")["reason"], "dns");
}
