//! `otel-canary healthcheck` (the container image's HEALTHCHECK): exit 0 for a real `serve`'s
//! `/-/healthy`, 1 for its `/-/ready` before the first probe finished (quoting the 503 body),
//! for a closed port and for a server that never answers (within the timeout), 2 for a bad URL.

mod common;

use common::serve_process::ServeProcess;
use common::{run_bin_async, stderr, stdout};
use otel_canary::lab::{LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::signal::Signal;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

async fn healthcheck(args: &[&str]) -> (Option<i32>, String, String, Duration) {
    let started = Instant::now();
    let mut a = vec!["healthcheck".to_string()];
    a.extend(args.iter().map(|s| s.to_string()));
    let out = run_bin_async(a, Vec::new()).await;
    (
        out.status.code(),
        stdout(&out),
        stderr(&out),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_serve_is_healthy_and_ready_only_after_its_first_probe() {
    let lab = LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab starts");
    // Every trace read misses for 3 s, so the first probe cannot finish before then.
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            ingest_delay: Duration::from_secs(3),
            ..Default::default()
        },
    );
    let serve = ServeProcess::start(&[
        "--endpoint".into(),
        format!("http://{}", lab.receivers.http_addr),
        "--tempo".into(),
        lab.tempo_url(),
        "--loki".into(),
        lab.loki_url(),
        "--mimir".into(),
        lab.mimir_url(),
        "--no-search".into(),
        "--interval".into(),
        "1s".into(),
    ]);

    let (code, out, err, _) = healthcheck(&["--url", &serve.url("/-/healthy")]).await;
    assert_eq!(code, Some(0), "stdout {out} stderr {err}");
    assert!(out.starts_with("healthy: "), "{out}");
    assert!(out.contains("answered 200"), "{out}");

    let ready = serve.url("/-/ready");
    let (code, out, err, _) = healthcheck(&["--url", &ready]).await;
    assert_eq!(code, Some(1), "not ready yet: stdout {out} stderr {err}");
    assert!(err.starts_with("unhealthy: "), "{err}");
    assert!(err.contains("answered 503"), "{err}");
    assert!(
        err.contains("default"),
        "the body names the scenario: {err}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, out, err, _) = healthcheck(&["--url", &ready]).await;
        if code == Some(0) {
            assert!(out.contains("answered 200"), "{out}");
            break;
        }
        assert_eq!(code, Some(1), "{err}");
        assert!(
            Instant::now() < deadline,
            "still not ready after the first probe: {err}\n{}",
            serve.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_unhealthy_at_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/-/healthy");
    let (code, out, err, took) = healthcheck(&["--url", &url]).await;
    assert_eq!(code, Some(1), "stdout {out} stderr {err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("refused"), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_cut_off_at_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold every connection without a byte in reply.
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = listener.accept().await {
            conns.push(c);
        }
    });
    let url = format!("http://{addr}/-/healthy");
    let (code, _, err, took) = healthcheck(&["--url", &url, "--timeout", "500ms"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no answer within 500ms"), "{err}");
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_http_answer_is_unhealthy() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let _ = c.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
        }
    });
    let url = format!("http://{addr}/-/healthy");
    let (code, out, err, took) = healthcheck(&["--url", &url]).await;
    assert_eq!(code, Some(1), "stdout {out} stderr {err}");
    assert!(err.starts_with("unhealthy: "), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_or_timeout_is_a_usage_error() {
    for args in [
        vec!["--url", "https://127.0.0.1:9464/-/healthy"],
        vec!["--url", "127.0.0.1:9464"],
        vec!["--timeout", "0s"],
        vec!["--timeout", "soon"],
    ] {
        let (code, out, err, _) = healthcheck(&args).await;
        assert_eq!(code, Some(2), "{args:?}: stdout {out} stderr {err}");
        assert!(
            err.contains("--url") || err.contains("--timeout"),
            "{args:?}: {err}"
        );
    }
}
