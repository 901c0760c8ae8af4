//! `serve` across a real outage: the lab runs as its own process on fixed ports, is killed
//! (every receiver and backend gone at once, as when a node dies), stays down for about 20
//! probe intervals, and is started again on the same ports. Serve must keep probing
//! throughout, report the failure (signals down, failure counters with the reason, a log
//! line naming it) and then the recovery (signals up, last success moving on). The issue
//! speaks of minutes of outage; the test keeps it to ~10 s, enough for many failed probes,
//! since nothing in serve depends on how long the backends are gone.

mod common;

use common::real_backends::http_client;
use common::serve_process::{ServeProcess, sample};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Ports {
    http: u16,
    grpc: u16,
    tempo: u16,
    loki: u16,
    mimir: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The lab process, killed when dropped (a failing assertion must not leave it running).
struct Lab(Child);

impl Lab {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `otel-canary lab` on `ports`, once its Mimir port answers.
fn start_lab(p: &Ports) -> Lab {
    let port = |n: u16| n.to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_otel-canary"))
        .args([
            "lab",
            "--http-port",
            &port(p.http),
            "--grpc-port",
            &port(p.grpc),
        ])
        .args(["--tempo-port", &port(p.tempo), "--loki-port", &port(p.loki)])
        .args(["--mimir-port", &port(p.mimir)])
        .args(["--collector-metrics-port", "0", "--grafana-port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("otel-canary lab starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", p.mimir)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the lab did not listen within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Lab(child)
}

async fn page(serve: &ServeProcess) -> String {
    match http_client().get(serve.url("/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn until(
    serve: &ServeProcess,
    within: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        let p = page(serve).await;
        if pred(&p) {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}\n{p}\nlogs:\n{}",
            serve.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const SIGNALS: [&str; 3] = ["trace", "log", "metric"];
const PROBES: &str = r#"otel_canary_probes_total{scenario="default"}"#;

fn up(p: &str, signal: &str) -> Option<f64> {
    sample(
        p,
        &format!(r#"otel_canary_signal_up{{scenario="default",signal="{signal}"}}"#),
    )
}

fn failures(p: &str, signal: &str, reason: &str) -> f64 {
    sample(
        p,
        &format!(
            r#"otel_canary_probe_failures_total{{scenario="default",signal="{signal}",reason="{reason}"}}"#
        ),
    )
    .unwrap_or(0.0)
}

fn last_success(p: &str, signal: &str) -> f64 {
    sample(
        p,
        &format!(
            r#"otel_canary_last_success_timestamp_seconds{{scenario="default",signal="{signal}"}}"#
        ),
    )
    .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_probing_through_a_backend_outage_and_reports_the_recovery() {
    let ports = Ports {
        http: free_port(),
        grpc: free_port(),
        tempo: free_port(),
        loki: free_port(),
        mimir: free_port(),
    };
    let mut lab = start_lab(&ports);
    let url = |p: u16| format!("http://127.0.0.1:{p}");
    let serve = ServeProcess::start(&[
        "--endpoint".into(),
        url(ports.http),
        "--tempo".into(),
        url(ports.tempo),
        "--loki".into(),
        url(ports.loki),
        "--mimir".into(),
        url(ports.mimir),
        "--interval".into(),
        "500ms".into(),
        "--timeout".into(),
        "2s".into(),
        "--no-search".into(),
    ]);
    let all_up = |p: &str| SIGNALS.iter().all(|s| up(p, s) == Some(1.0));
    let before = until(&serve, Duration::from_secs(30), "every signal up", all_up).await;
    let ok_at: Vec<f64> = SIGNALS.iter().map(|s| last_success(&before, s)).collect();

    // The outage: the whole stack is gone.
    lab.kill();
    let down_since = Instant::now();
    let probes_at_kill = sample(&page(&serve).await, PROBES).unwrap_or(0.0);
    let down = until(&serve, Duration::from_secs(20), "every signal down", |p| {
        SIGNALS.iter().all(|s| up(p, s) == Some(0.0))
    })
    .await;
    for s in SIGNALS {
        assert!(
            failures(&down, s, "connect_refused") >= 1.0,
            "{s}: no connect_refused failure counted\n{down}"
        );
    }
    // Down for ~20 probe intervals; serve keeps probing all along.
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(down_since.elapsed())).await;
    let late = page(&serve).await;
    let probes_in_outage = sample(&late, PROBES).unwrap_or(0.0) - probes_at_kill;
    assert!(
        probes_in_outage >= 8.0,
        "only {probes_in_outage} probes in a 10 s outage at a 500 ms interval\n{late}"
    );
    assert!(
        SIGNALS.iter().all(|s| failures(&late, s, "connect_refused")
            >= failures(&down, s, "connect_refused") + 5.0),
        "failures did not keep being counted:\n{late}"
    );
    let warned = serve.logs().into_iter().find(|l| {
        l["level"] == "WARN"
            && l["fields"]["message"] == "probe failed"
            && l["fields"]["failed"]
                .as_str()
                .is_some_and(|f| f.contains("connect_refused"))
    });
    let warned =
        warned.unwrap_or_else(|| panic!("no 'probe failed' line:\n{}", serve.stderr_text()));
    let failed = warned["fields"]["failed"].as_str().unwrap_or_default();
    assert!(
        failed.contains("nothing listens on"),
        "the log line carries the hint: {warned}"
    );

    // Recovery on the same ports.
    let _lab = start_lab(&ports);
    let restarted = Instant::now();
    let after = until(
        &serve,
        Duration::from_secs(30),
        "every signal up again",
        all_up,
    )
    .await;
    let recovered_in = restarted.elapsed();
    for (s, was) in SIGNALS.iter().zip(&ok_at) {
        let now = last_success(&after, s);
        assert!(
            now > *was + 9.0,
            "{s}: last success {now} should be after the outage (was {was})"
        );
        // Counters stay: the outage remains on record.
        assert!(failures(&after, s, "connect_refused") >= failures(&late, s, "connect_refused"));
    }
    let n = sample(&after, PROBES).unwrap_or(0.0);
    let more = until(&serve, Duration::from_secs(10), "probes continuing", |p| {
        sample(p, PROBES).unwrap_or(0.0) >= n + 3.0 && all_up(p)
    })
    .await;
    let logs = serve.logs();
    let failed_at = logs
        .iter()
        .position(|l| l["fields"]["message"] == "probe failed")
        .expect("a failed probe logged");
    assert!(
        logs[failed_at..]
            .iter()
            .any(|l| l["fields"]["message"] == "probe ok"),
        "no 'probe ok' after the outage:\n{}",
        serve.stderr_text()
    );
    eprintln!(
        "outage: {probes_in_outage} probes failed in ~10 s; recovered {recovered_in:?} after the \
         restart; probes total {}",
        sample(&more, PROBES).unwrap_or(0.0)
    );
}
