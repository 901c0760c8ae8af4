//! `serve`'s pull paths (incidents 4 and 5): the scrape marker read back through a scraper
//! (the lab's, then a real Prometheus 2.53), and the probe's JSON line read back from Loki
//! through a tailing agent (the lab's tailer), from a file and from stdout. Each succeeds when
//! the path works and fails with the right reason and hint when it does not.

mod common;

use common::real_backends::{PROMETHEUS_SCRAPE_JOB, Prometheus, http_client};
use common::serve_process::{ServeProcess, sample};
use otel_canary::lab::{LabStack, LabStackConfig, LabState, ScrapeTarget};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

async fn lab() -> LabStack {
    LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab starts")
}

/// A scenario file `pulls.toml` in `dir`: traces to the lab (the OTLP part stays small), the
/// metric backend `metrics_read` (a `read` key line), and the given `[pull]` lines.
fn scenario(dir: &Path, lab: &LabStack, metrics_read: &str, pull: &str) -> String {
    let path = dir.join("pulls.toml");
    std::fs::write(
        &path,
        format!(
            "signals = [\"trace\"]\n[export]\nendpoint = \"http://{}\"\n[read]\ntempo = \"{}\"\n\
             loki = \"{}\"\n{metrics_read}\nsearch = false\n[pull]\n{pull}\n",
            lab.receivers.http_addr,
            lab.tempo_url(),
            lab.loki_url(),
        ),
    )
    .unwrap();
    path.display().to_string()
}

async fn last_pulls(serve: &ServeProcess) -> Option<serde_json::Value> {
    let body = http_client()
        .get(serve.url("/api/v1/last?scenario=pulls"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(doc["pulls"].clone())
}

/// Waits until the latest report has both pull paths with `status`; returns them by path.
async fn pulls_until(
    serve: &ServeProcess,
    status: &str,
    within: Duration,
) -> (serde_json::Value, serde_json::Value) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(pulls) = last_pulls(serve).await {
            let by = |p: &str| {
                pulls
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["path"] == p))
                    .cloned()
                    .unwrap_or_default()
            };
            let (scrape, line) = (by("scrape"), by("log_line"));
            let wanted = |v: &serde_json::Value| v["status"] == status || v.is_null();
            if wanted(&scrape) && wanted(&line) && !(scrape.is_null() && line.is_null()) {
                return (scrape, line);
            }
        }
        assert!(
            Instant::now() < deadline,
            "pull paths not {status} within {within:?}: {:?}\n{}",
            last_pulls(serve).await,
            serve.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn hop<'a>(p: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    p["hops"]
        .as_array()
        .and_then(|h| h.iter().find(|x| x["hop"] == name))
        .unwrap_or_else(|| panic!("no {name} hop in {p}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_and_file_paths_pass_through_the_labs_scraper_and_tailer() {
    let mut lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("canary.log");
    let file = scenario(
        dir.path(),
        &lab,
        &format!("mimir = \"{}\"", lab.mimir_url()),
        &format!(
            "scrape = true\nscrape_timeout = \"5s\"\nlog_line = \"{}\"\nlog_line_timeout = \"5s\"",
            log.display()
        ),
    );
    let serve = ServeProcess::start(&[
        "--scenario".into(),
        file,
        "--interval".into(),
        "500ms".into(),
    ]);
    let mut target = ScrapeTarget::new(&serve.url("/metrics")).unwrap();
    target.interval = Duration::from_millis(200);
    lab.start_scraper(target).unwrap();
    lab.start_tailer(&log).unwrap();

    let (scrape, line) = pulls_until(&serve, "ok", Duration::from_secs(30)).await;
    for p in [&scrape, &line] {
        for h in ["expose", "ingest", "query", "total"] {
            assert_eq!(hop(p, h)["status"], "ok", "{h} of {p}");
        }
    }
    let marker_check = &scrape["checks"][0]["detail"];
    assert!(
        marker_check
            .as_str()
            .is_some_and(|d| d.contains("job=\"otel-canary\"")),
        "the marker came through the scrape job: {marker_check}"
    );
    assert_eq!(
        scrape["read"]["query"],
        r#"otel_canary_scrape_marker{scenario="pulls"}"#
    );
    assert!(
        line["read"]["query"]
            .as_str()
            .is_some_and(|q| q.starts_with(r#"{service_name=~".+"} |= "otel-canary probe "#)),
        "{line}"
    );
    // The line on disk is the JSON the query finds.
    let written = std::fs::read_to_string(&log).unwrap();
    let first: serde_json::Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    assert!(
        first["msg"]
            .as_str()
            .unwrap()
            .starts_with("otel-canary probe ")
    );
    assert_eq!(first["canary_path"], "log_line");
    assert_eq!(first["scenario"], "pulls");

    let page = http_client()
        .get(serve.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for signal in ["scrape", "log_line"] {
        let up = format!(r#"otel_canary_signal_up{{scenario="pulls",signal="{signal}"}}"#);
        assert_eq!(sample(&page, &up), Some(1.0), "{signal}\n{page}");
    }
    assert!(
        sample(&page, r#"otel_canary_scrape_marker{scenario="pulls"}"#).is_some_and(|v| v > 1e12),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_paths_fail_with_not_found_and_say_why_when_nothing_scrapes_or_tails() {
    let mut lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("canary.log");
    let file = scenario(
        dir.path(),
        &lab,
        &format!("mimir = \"{}\"", lab.mimir_url()),
        &format!(
            "scrape = true\nscrape_timeout = \"1s\"\nlog_line = \"{}\"\nlog_line_timeout = \"1s\"",
            log.display()
        ),
    );
    let serve = ServeProcess::start(&[
        "--scenario".into(),
        file,
        "--interval".into(),
        "300ms".into(),
    ]);

    // Nobody scrapes or tails.
    let (scrape, line) = pulls_until(&serve, "failed", Duration::from_secs(30)).await;
    assert_eq!(scrape["reason"], "not_found", "{scrape}");
    assert_eq!(hop(&scrape, "expose")["status"], "ok");
    let hint = scrape["hint"].as_str().unwrap_or_default();
    assert!(
        hint.contains("no scraper stores serve's /metrics"),
        "{hint}"
    );
    assert_eq!(line["reason"], "not_found", "{line}");
    let hint = line["hint"].as_str().unwrap_or_default();
    assert!(
        hint.contains(&format!("written to {}", log.display()))
            && hint.contains("never reached Loki"),
        "{hint}"
    );

    // Incident 4: a scraper is configured, but its scrape is refused (here a wrong path: 404),
    // so it stores up 0 and never the marker. The hint names the failing target.
    let mut target = ScrapeTarget::new(&serve.url("/not-metrics")).unwrap();
    target.interval = Duration::from_millis(200);
    lab.start_scraper(target).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let hint = loop {
        let pulls = last_pulls(&serve).await.unwrap_or_default();
        let hint = pulls[0]["hint"].as_str().unwrap_or_default().to_string();
        if hint.contains("up=0") {
            break hint;
        }
        assert!(Instant::now() < deadline, "no up=0 hint: {pulls}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        hint.contains(&format!("instance=\"{}\"", serve.addr))
            && hint.contains("scrape of that target fails"),
        "{hint}"
    );
    let page = http_client()
        .get(serve.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures =
        r#"otel_canary_probe_failures_total{scenario="pulls",signal="scrape",reason="not_found"}"#;
    assert!(sample(&page, failures).is_some_and(|n| n >= 1.0), "{page}");
    assert_eq!(
        sample(
            &page,
            r#"otel_canary_signal_up{scenario="pulls",signal="log_line"}"#
        ),
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stdout_line_arrives_through_an_agent_tailing_the_containers_output() {
    let mut lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    // What a container runtime does with stdout: the agent tails the file it lands in.
    let out = dir.path().join("container-stdout.log");
    let file = scenario(
        dir.path(),
        &lab,
        "",
        "log_line = \"stdout\"\nlog_line_timeout = \"5s\"\nlog_line_selector = '{job=\"otel-canary\"}'",
    );
    let serve = ServeProcess::start_with_stdout(
        &[
            "--scenario".into(),
            file,
            "--interval".into(),
            "500ms".into(),
        ],
        Stdio::from(std::fs::File::create(&out).unwrap()),
    );
    lab.start_tailer(&out).unwrap();
    let (scrape, line) = pulls_until(&serve, "ok", Duration::from_secs(30)).await;
    assert!(scrape.is_null(), "no scrape path configured");
    assert!(
        line["exposed"].as_str().unwrap().ends_with("to stdout"),
        "{line}"
    );
    assert!(
        line["checks"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("filename=\"{}\"", out.display()))),
        "{line}"
    );
    // stdout holds only the probe lines: logs go to stderr.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.lines()
            .all(|l| l.contains("\"canary_path\":\"log_line\"")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_serve_and_the_probe_finds_the_marker_through_it() {
    let lab = lab().await;
    // Serve's port must be known before Prometheus starts (its scrape target).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prometheus = Prometheus::start(&format!("127.0.0.1:{port}"), Duration::from_secs(1)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        &lab,
        &format!("prometheus = \"{}\"", prometheus.base_url),
        "scrape = true\nscrape_timeout = \"15s\"",
    );
    let serve = ServeProcess::start(&[
        "--scenario".into(),
        file,
        "--interval".into(),
        "2s".into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ]);
    let (scrape, _) = pulls_until(&serve, "ok", Duration::from_secs(60)).await;
    let detail = scrape["checks"][0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("job=\"{PROMETHEUS_SCRAPE_JOB}\""))
            && detail.contains(&format!("instance=\"127.0.0.1:{port}\"")),
        "the marker came through Prometheus's scrape: {detail}\n{}",
        prometheus.log_tail()
    );
    assert_eq!(scrape["read"]["backend"], "prometheus");
    assert_eq!(hop(&scrape, "ingest")["status"], "ok");
}
