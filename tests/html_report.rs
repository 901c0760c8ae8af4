//! `run --output html` and `demo --output html` in a real browser: the built-in lab, passing
//! and with faults, each report opened in headless Chromium. Its DOM must hold every lane and
//! hop, the poll ticks, the failure's reason and hint beside the failed hop and the topology;
//! its screenshot must be a PNG of the window's size that shows the bars; and a backend's
//! hostile words must stay text.

mod common;

use common::browser::{Chromium, assert_shows_a_page, file_url};
use common::{run_bin_async, stderr};
use otel_canary::lab::{LabGrafanaConfig, LabStack, LabStackConfig, LabState, SignalFault};
use otel_canary::signal::Signal;
use std::path::PathBuf;
use std::time::Duration;

async fn stack() -> LabStack {
    LabStack::start(LabStackConfig::ephemeral(), LabState::new())
        .await
        .expect("lab stack starts")
}

/// Runs `run --output html` against the lab and saves the page; returns the exit code.
async fn html_report(lab: &LabStack, extra: &[&str], dir: &tempfile::TempDir) -> (i32, PathBuf) {
    html_report_env(lab, extra, Vec::new(), dir).await
}

async fn html_report_env(
    lab: &LabStack,
    extra: &[&str],
    env: Vec<(String, String)>,
    dir: &tempfile::TempDir,
) -> (i32, PathBuf) {
    let mut a: Vec<String> = [
        "run",
        "--endpoint",
        &lab.receivers.http_base(false),
        "--tempo",
        &lab.tempo_url(),
        "--loki",
        &lab.loki_url(),
        "--mimir",
        &lab.mimir_url(),
        "--output",
        "html",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    let out = run_bin_async(a, env).await;
    let page = String::from_utf8(out.stdout).expect("UTF-8 page");
    assert!(
        page.starts_with("<!DOCTYPE html>"),
        "not a page: {page}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().join("report.html");
    std::fs::write(&path, &page).unwrap();
    (out.status.code().expect("exit code"), path)
}

/// The opening tags in `dom` that carry all of `attrs` (`name="value"`), as written.
fn elements<'a>(dom: &'a str, tag: &str, attrs: &[&str]) -> Vec<&'a str> {
    dom.match_indices(&format!("<{tag} "))
        .filter_map(|(i, _)| {
            let end = dom[i..].find('>')? + i;
            let el = &dom[i..=end];
            attrs.iter().all(|a| el.contains(a)).then_some(el)
        })
        .collect()
}

/// The text of the element starting at `open` up to `close`.
fn section<'a>(dom: &'a str, open: &str, close: &str) -> &'a str {
    let start = dom
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in the DOM"));
    let end = dom[start..].find(close).map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

/// Every `data-reads="N"` of the hop rows, summed: the ticks the page must draw.
fn reads_declared(dom: &str) -> usize {
    elements(dom, "tr", &["data-reads="])
        .iter()
        .filter_map(|el| {
            let v = el.split("data-reads=\"").nth(1)?;
            v[..v.find('"')?].parse::<usize>().ok()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_report_shows_every_lane_hop_and_tick_and_the_topology() {
    let chromium = Chromium::from_env();
    let mut lab = stack().await;
    lab.start_grafana("127.0.0.1:0".parse().unwrap(), LabGrafanaConfig::default())
        .await
        .expect("lab Grafana starts");
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            generator_delay: Some(Duration::from_millis(300)),
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let grafana = lab.grafana_url().expect("the lab's Grafana");
    let (code, path) = html_report_env(
        &lab,
        &[
            "--derived",
            "all",
            "--derived-timeout",
            "10s",
            "--grafana",
            &grafana,
            "--grafana-user",
            "admin",
        ],
        vec![("OTEL_CANARY_GRAFANA_PASSWORD".into(), "admin".into())],
        &dir,
    )
    .await;
    assert_eq!(code, 0);
    let dom = chromium.dump_dom(&file_url(&path));
    for lane in ["trace", "log", "metric"] {
        let s = elements(
            &dom,
            "section",
            &[&format!("data-lane=\"{lane}\""), "data-status=\"ok\""],
        );
        assert_eq!(s.len(), 1, "{lane} lane: {s:?}");
    }
    let trace = section(&dom, "data-lane=\"trace\" data-status", "</section>");
    for hop in [
        "export",
        "ingest",
        "query",
        "search",
        "span_metrics",
        "service_graph",
        "traceql_metrics",
        "grafana",
        "total",
    ] {
        assert_eq!(
            elements(
                trace,
                "tr",
                &[&format!("data-hop=\"{hop}\""), "data-status=\"ok\""]
            )
            .len(),
            1,
            "trace hop {hop}"
        );
    }
    for lane in ["log", "metric"] {
        let l = section(
            &dom,
            &format!("data-lane=\"{lane}\" data-status"),
            "</section>",
        );
        assert_eq!(
            elements(l, "tr", &["data-hop=\"grafana\"", "data-status=\"ok\""]).len(),
            1,
            "{lane} read again through Grafana"
        );
    }
    // One tick per read of every polled hop (plus the legend's sample tick), estimates marked.
    let ticks = elements(&dom, "line", &["class=\"tick\""]).len();
    let reads = reads_declared(&dom);
    assert!(
        reads >= 3 + 1 + 3,
        "every signal's ingest and the derived hops read: {reads}"
    );
    assert_eq!(ticks, reads + 1, "ticks drawn for the reads declared");
    assert!(elements(&dom, "polygon", &["class=\"estimate\""]).len() >= 3 + 1 + 3);
    assert!(
        elements(&dom, "tr", &["class=\"why\""]).is_empty(),
        "nothing failed"
    );
    // The topology with the setting that chose each value, and the probe's facts.
    let topo = section(&dom, "<table class=\"facts topology\"", "</table>");
    assert!(topo.contains(&format!("{}/v1/traces", lab.receivers.http_base(false))));
    assert!(topo.contains("chosen by flag --endpoint"), "{topo}");
    assert!(topo.contains("chosen by flag --tempo"), "{topo}");
    assert!(
        topo.contains(lab.loki_url().trim_end_matches('/')),
        "{topo}"
    );
    let facts = section(&dom, "<table class=\"facts probe\"", "</table>");
    assert!(facts.contains("class=\"probe-id\""), "{facts}");
    assert!(facts.contains(concat!("otel-canary ", env!("CARGO_PKG_VERSION"))));
    assert!(facts.contains("exit status"), "{facts}");
    assert!(!dom.contains("<script"), "the page has no script");

    let png = chromium.screenshot(&file_url(&path), 1280, 1800);
    assert_shows_a_page(&png, 1280, 1800, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_report_puts_reason_hint_and_detail_beside_the_failed_hop() {
    let chromium = Chromium::from_env();
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Log,
        SignalFault {
            drop: true,
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (code, path) = html_report(&lab, &["--log-timeout", "1500ms", "--no-search"], &dir).await;
    assert_eq!(code, 1, "a failed signal exits 1");
    let dom = chromium.dump_dom(&file_url(&path));
    assert_eq!(
        elements(
            &dom,
            "section",
            &["data-lane=\"log\"", "data-status=\"failed\""]
        )
        .len(),
        1
    );
    let log = section(&dom, "data-lane=\"log\" data-status", "</section>");
    assert_eq!(
        elements(
            log,
            "tr",
            &["data-hop=\"ingest\"", "data-status=\"failed\""]
        )
        .len(),
        1,
        "{log}"
    );
    // Not colour alone: a word and a glyph, a hatch and a cross.
    assert!(log.contains("✕ FAILED"), "{log}");
    assert!(!elements(log, "rect", &["class=\"polled failed\""]).is_empty());
    assert!(!elements(log, "path", &["class=\"cross\""]).is_empty());
    let why = section(log, "<tr class=\"why\" data-hop=\"ingest\"", "</tr>");
    assert!(why.contains("not_found"), "{why}");
    assert!(
        why.contains("acknowledged the log") && why.contains("never reached Loki"),
        "the hint beside the hop: {why}"
    );
    assert!(
        why.contains("not visible before the deadline"),
        "the detail beside the hop: {why}"
    );
    // The failed poll's reads are ticks on its lane.
    let ingest_row = elements(log, "tr", &["data-hop=\"ingest\""])[0];
    let declared: usize = ingest_row
        .split("data-reads=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        declared > 3,
        "1.5 s of polling reads more than 3 times: {declared}"
    );
    let row = section(log, "data-hop=\"ingest\" data-status=\"failed\"", "</tr>");
    assert_eq!(elements(row, "line", &["class=\"tick\""]).len(), declared);
    for ok in ["trace", "metric"] {
        assert_eq!(
            elements(
                &dom,
                "section",
                &[&format!("data-lane=\"{ok}\""), "data-status=\"ok\""]
            )
            .len(),
            1
        );
    }
    assert!(dom.contains("some signals failed"));

    let png = chromium.screenshot(&file_url(&path), 1280, 1600);
    assert_shows_a_page(&png, 1280, 1600, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_backend_answer_renders_as_text() {
    let chromium = Chromium::from_env();
    let lab = stack().await;
    let evil = r#"<script>document.title="pwned"</script><img src=x onerror="alert(1)"> it's "quoted" & </td></table>"#;
    lab.state.faults.set(
        Signal::Metric,
        SignalFault {
            query_error: Some((400, evil.into())),
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (code, path) = html_report(&lab, &["--no-search"], &dir).await;
    assert_eq!(code, 1);
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(
        !raw.to_lowercase().contains("<script"),
        "escaped in the file"
    );
    let dom = chromium.dump_dom(&file_url(&path));
    assert!(!dom.to_lowercase().contains("<script"), "no script element");
    assert!(
        elements(&dom, "img", &[]).is_empty(),
        "no img element from the answer"
    );
    assert!(!dom.contains("pwned</title>"), "the title is the canary's");
    let metric = section(
        &dom,
        "data-lane=\"metric\" data-status=\"failed\"",
        "</section>",
    );
    // The backend's words are there, as text, beside the failed hop.
    assert!(
        metric.contains("&lt;script&gt;document.title=\"pwned\"&lt;/script&gt;&lt;img src=x"),
        "{metric}"
    );
    assert!(metric.contains("query_failed"));
    // The page's structure survived the answer's `</td></table>`: the topology still follows.
    assert!(dom.contains("<table class=\"facts topology\""));
    let png = chromium.screenshot(&file_url(&path), 1024, 1200);
    assert_shows_a_page(&png, 1024, 1200, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_writes_one_page_with_a_waterfall_per_protocol() {
    let chromium = Chromium::from_env();
    let out = run_bin_async(
        ["demo", "--protocol", "http/json,grpc", "--output", "html"]
            .map(String::from)
            .to_vec(),
        Vec::new(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.html");
    std::fs::write(&path, &out.stdout).unwrap();
    let dom = chromium.dump_dom(&file_url(&path));
    let (first, second) = dom
        .split_once("id=\"run-1\"")
        .expect("a section per protocol");
    for (i, (protocol, part)) in [("http/json", first), ("grpc", second)]
        .into_iter()
        .enumerate()
    {
        let run = section(
            part,
            &format!("<h2>{protocol}</h2>"),
            "class=\"facts topology\"",
        );
        assert_eq!(i == 0, part.contains("id=\"run-0\""));
        assert!(
            run.contains("the built-in stack received: trace identical"),
            "{run}"
        );
        assert_eq!(
            elements(
                run,
                "section",
                &["data-lane=\"metric\"", "data-status=\"ok\""]
            )
            .len(),
            1
        );
    }
    assert_eq!(
        elements(
            &dom,
            "section",
            &["data-lane=\"trace\"", "data-status=\"ok\""]
        )
        .len(),
        2
    );
    assert!(dom.contains("demo passed"));
}
