//! `serve`'s status page in a real browser, against the lab: after more probes than the strip
//! holds and then a fault, `/` shows each lane's last 50 verdicts (ok and failed, titled with
//! time and reason), p50/p95 per hop, the last success, the links, and the last probe's
//! waterfall with the failure's hint; `/report` is that probe's HTML report; before the first
//! probe ends both say so; curl still gets the plain index.

mod common;

use common::browser::{Chromium, assert_shows_a_page};
use common::real_backends::http_client;
use common::serve_process::{ServeProcess, sample};
use otel_canary::lab::{LabStack, SignalFault};
use otel_canary::signal::Signal;
use std::time::{Duration, Instant};

async fn lab() -> LabStack {
    common::lab_stack().await
}

fn lab_args(lab: &LabStack, extra: &[&str]) -> Vec<String> {
    common::lab_stack_args(lab, extra)
}

/// GET with an Accept header; (status, content type, body).
async fn get(url: &str, accept: &str) -> (u16, String, String) {
    let r = http_client()
        .get(url)
        .header("accept", accept)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (r.status().as_u16(), ct, r.text().await.expect("body"))
}

async fn until(serve: &ServeProcess, within: Duration, what: &str, pred: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + within;
    loop {
        let (_, _, page) = get(&serve.url("/metrics"), "*/*").await;
        if pred(&page) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {within:?}\n{page}\n{}",
            serve.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The opening tags of `tag` in `dom` carrying every one of `attrs`.
fn elements<'a>(dom: &'a str, tag: &str, attrs: &[&str]) -> Vec<&'a str> {
    dom.match_indices(&format!("<{tag} "))
        .filter_map(|(i, _)| {
            let end = dom[i..].find('>')? + i;
            let el = &dom[i..=end];
            attrs.iter().all(|a| el.contains(a)).then_some(el)
        })
        .collect()
}

fn between<'a>(dom: &'a str, open: &str, close: &str) -> &'a str {
    let start = dom.find(open).unwrap_or_else(|| panic!("no {open}"));
    let end = dom[start..].find(close).map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

const PROBES: &str = r#"otel_canary_probes_total{scenario="default"}"#;
const LOG_FAILED: &str =
    r#"otel_canary_probe_failures_total{scenario="default",signal="log",reason="not_found"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_strips_quantiles_and_the_last_waterfall() {
    let chromium = Chromium::from_env();
    let lab = lab().await;
    let serve = ServeProcess::start(&lab_args(
        &lab,
        &["--interval", "100ms", "--no-search", "--log-timeout", "1s"],
    ));
    // More passing probes than the strip holds...
    until(&serve, Duration::from_secs(60), "55 probes", |p| {
        sample(p, PROBES).is_some_and(|n| n >= 55.0)
    })
    .await;
    // ...then the log goes missing.
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    until(&serve, Duration::from_secs(30), "a failed log", |p| {
        sample(p, LOG_FAILED).is_some()
    })
    .await;
    let dom = chromium.dump_dom(&serve.url("/"));
    assert!(dom.contains("otel-canary serve"), "{dom}");
    assert!(
        dom.contains("<meta http-equiv=\"refresh\" content=\"5\">"),
        "reloads itself"
    );
    let scenario = between(&dom, "data-scenario=\"default\"", "<h3>Last probe");
    // The strips: a fixed ring of 50 per lane, oldest first; the log's newest failed.
    let strips = between(scenario, "<table class=\"facts strips\"", "</table>");
    for lane in ["trace", "log", "metric"] {
        let row = between(strips, &format!("<tr data-lane=\"{lane}\""), "</tr>");
        assert_eq!(
            elements(row, "span", &["class=\"cell "]).len(),
            50,
            "{lane}: the strip is a ring of 50"
        );
    }
    let log = between(strips, "<tr data-lane=\"log\"", "</tr>");
    assert!(
        !elements(log, "span", &["class=\"cell ok\""]).is_empty(),
        "{log}"
    );
    let failed = elements(log, "span", &["class=\"cell failed\""]);
    assert!(!failed.is_empty(), "{log}");
    assert!(
        failed[0].contains("FAILED not_found (probe "),
        "title text: {}",
        failed[0]
    );
    assert!(
        failed[0].contains("title=\"20"),
        "the title starts with the probe's time: {}",
        failed[0]
    );
    // Quantiles per hop, from the histogram buckets, said to be estimates.
    let q = between(scenario, "<table class=\"facts quantiles\"", "</table>");
    for (lane, hop) in [("trace", "export"), ("trace", "ingest"), ("log", "export")] {
        let row = between(
            q,
            &format!("<tr data-lane=\"{lane}\" data-hop=\"{hop}\""),
            "</tr>",
        );
        assert_eq!(row.matches("≈ ").count(), 2, "p50 and p95: {row}");
    }
    assert!(scenario.contains("estimates from the bucket counts"));
    assert!(scenario.contains("last success:"));
    assert!(
        scenario.contains(" ago"),
        "time since the last success: {scenario}"
    );
    for link in [
        "href=\"/report?scenario=default\"",
        "href=\"/api/v1/last?scenario=default\"",
        "href=\"/metrics\"",
    ] {
        assert!(scenario.contains(link), "{link}");
    }
    // The last probe's waterfall, with the failure and its hint.
    let last = between(&dom, "<h3>Last probe", "</body>");
    assert_eq!(
        elements(
            last,
            "section",
            &["data-lane=\"log\"", "data-status=\"failed\""]
        )
        .len(),
        1,
        "{last}"
    );
    assert!(last.contains("never reached Loki"), "the hint");
    assert!(!dom.contains("<script"));
    let png = chromium.screenshot(&serve.url("/"), 1280, 1400);
    assert_shows_a_page(&png, 1280, 1400, true);

    // The last probe's report as its own page.
    let report = chromium.dump_dom(&serve.url("/report?scenario=default"));
    assert!(report.contains("<h1>otel-canary run</h1>"), "{report}");
    assert_eq!(
        elements(
            &report,
            "section",
            &["data-lane=\"log\"", "data-status=\"failed\""]
        )
        .len(),
        1
    );
    assert!(report.contains("class=\"facts topology\""));
    let (status, ct, body) = get(&serve.url("/report?scenario=nope"), "text/html").await;
    assert_eq!(status, 404);
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert!(
        body.contains("unknown scenario 'nope' (known: default)"),
        "{body}"
    );
    // curl (no text/html in Accept) still gets the plain index.
    let (status, ct, body) = get(&serve.url("/"), "*/*").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert!(body.contains("/report?scenario=NAME"), "{body}");
    serve.terminate(Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_first_probe_ends_the_pages_say_so() {
    let chromium = Chromium::from_env();
    let lab = lab().await;
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    // The first probe waits 20 s for the log: long enough to look at the pages before.
    let serve = ServeProcess::start(&lab_args(
        &lab,
        &["--interval", "60s", "--no-search", "--log-timeout", "20s"],
    ));
    let (status, ct, body) = get(&serve.url("/report"), "text/html").await;
    assert_eq!(status, 503, "{body}");
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(body.contains("has not finished a probe yet"), "{body}");
    assert!(body.contains("http-equiv=\"refresh\""));
    let dom = chromium.dump_dom(&serve.url("/"));
    let scenario = between(&dom, "data-scenario=\"default\"", "</section>");
    assert!(scenario.contains("data-status=\"waiting\""), "{scenario}");
    assert!(scenario.contains("no probe has finished yet"), "{scenario}");
    assert!(
        scenario.contains("href=\"/report?scenario=default\""),
        "{scenario}"
    );
}
