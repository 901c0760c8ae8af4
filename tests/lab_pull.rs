//! The lab's pull paths, end to end over real sockets: its scraper reads a `/metrics` page
//! (OpenMetrics as `otel-canary serve` writes it, or text 0.0.4) and the Prometheus query API
//! answers for it as Prometheus does (tests/fixtures/prometheus), with `up` 0 and the marker
//! gone when the target refuses (incident 4); its tailer follows a log file across appends,
//! truncation and re-creation, and Loki's `query_range` finds the probe's line with chained
//! line filters (tests/fixtures/loki).

mod common;
mod lab_support;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use lab_support::*;
use otel_canary::lab::{LabStack, ScrapeTarget, scraper};
use serde_json::{Value, json};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const MARKER_QUERY: &str = r#"otel_canary_scrape_marker{scenario="lab"}"#;

/// The page as `otel-canary serve` exposes it (prometheus-client's OpenMetrics text).
fn canary_page(marker: u64) -> String {
    format!(
        "# HELP otel_canary_scrape_marker Milliseconds since the epoch when this marker was exposed.\n\
         # TYPE otel_canary_scrape_marker gauge\n\
         otel_canary_scrape_marker{{scenario=\"lab\"}} {marker}\n\
         # HELP otel_canary_probes Probes run.\n\
         # TYPE otel_canary_probes counter\n\
         otel_canary_probes_total{{scenario=\"lab\",result=\"ok\"}} 3\n\
         # EOF\n"
    )
}

/// Polls `check` every 50 ms until it gives a value, or fails after 10 s.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `/metrics` page whose answer the test changes; remembers the last request's headers.
#[derive(Clone)]
struct Page {
    answer: Arc<Mutex<(u16, &'static str, String)>>,
    seen: Arc<Mutex<Option<HeaderMap>>>,
}

impl Page {
    fn set(&self, status: u16, content_type: &'static str, body: String) {
        *self.answer.lock().unwrap() = (status, content_type, body);
    }

    fn last_request(&self) -> Option<HeaderMap> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve_page(content_type: &'static str, body: String) -> (Page, String) {
    let page = Page {
        answer: Arc::new(Mutex::new((200, content_type, body))),
        seen: Arc::new(Mutex::new(None)),
    };
    let state = page.clone();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: HeaderMap| {
            let state = state.clone();
            async move {
                *state.seen.lock().unwrap() = Some(headers);
                let (status, ct, body) = state.answer.lock().unwrap().clone();
                (
                    StatusCode::from_u16(status).unwrap(),
                    [(header::CONTENT_TYPE, ct)],
                    body,
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(otel_canary::lab::receivers::serve_http1(
        listener, app, None,
    ));
    (page, url)
}

fn fast(url: &str) -> ScrapeTarget {
    let mut t = ScrapeTarget::new(url).expect("valid target");
    t.interval = Duration::from_millis(100);
    t
}

async fn prom(lab: &LabStack, prefix: &str, api: &str, params: &[(&str, &str)]) -> Value {
    let a = get(
        &format!("{}{prefix}/api/v1/{api}", lab.mimir_url()),
        params,
        &[],
    )
    .await;
    assert_eq!(a.status, 200, "{api}: {}", a.text());
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    a.json()
}

/// The instant query's result array.
async fn instant(lab: &LabStack, q: &str) -> Vec<Value> {
    let doc = prom(lab, "/prometheus", "query", &[("query", q)]).await;
    assert_eq!(doc["status"], "success", "{doc}");
    doc["data"]["result"].as_array().unwrap().clone()
}

/// Waits until `q` returns exactly one series whose value is `value`.
async fn until_value(lab: &LabStack, q: &str, value: &str) -> Value {
    eventually(&format!("{q} = {value}"), || async {
        let r = instant(lab, q).await;
        (r.len() == 1 && r[0]["value"][1] == value).then(|| r[0].clone())
    })
    .await
}

#[tokio::test]
async fn the_scraped_marker_reads_back_like_prometheus() {
    let (page, url) = serve_page(OPENMETRICS, canary_page(1763719200123)).await;
    let mut lab = stack().await;
    lab.start_scraper(fast(&url)).unwrap();
    let instance = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();

    let found = until_value(&lab, MARKER_QUERY, "1763719200123").await;
    assert_eq!(
        found["metric"],
        json!({"__name__": "otel_canary_scrape_marker", "instance": instance,
               "job": "otel-canary", "scenario": "lab"})
    );
    // The whole answer has Prometheus' shape, under both prefixes.
    for prefix in ["/prometheus", ""] {
        let doc = prom(&lab, prefix, "query", &[("query", MARKER_QUERY)]).await;
        Shape {
            ignore_keys: &[],
            dynamic: &["metric"],
        }
        .assert(&doc, &fixture_json("prometheus/query-marker-found.json"));
    }
    let headers = page.last_request().expect("the page was scraped");
    assert_eq!(headers["accept"], scraper::ACCEPT);
    assert!(
        headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("Prometheus/")
    );
    assert!(headers.contains_key("x-prometheus-scrape-timeout-seconds"));

    // What a scrape adds beside the page: up, and counters by their exposed names.
    let up = instant(&lab, r#"up{job="otel-canary"}"#).await;
    assert_eq!(up.len(), 1);
    assert_eq!(up[0]["value"][1], "1");
    assert_eq!(up[0]["metric"]["instance"], instance.as_str());
    assert_eq!(
        instant(&lab, "scrape_duration_seconds").await.len(),
        1,
        "scrape_duration_seconds is stored"
    );
    assert!(instant(&lab, "up == 0").await.is_empty());
    let probes = instant(&lab, r#"otel_canary_probes_total{result="ok"}"#).await;
    assert_eq!(probes[0]["value"][1], "3");

    // series, labels, label values and range queries see the scraped series.
    let series = prom(&lab, "", "series", &[("match[]", MARKER_QUERY)]).await;
    assert_eq!(
        series["data"],
        json!([{"__name__": "otel_canary_scrape_marker", "instance": instance,
                "job": "otel-canary", "scenario": "lab"}])
    );
    let labels = prom(&lab, "/prometheus", "labels", &[]).await;
    for l in ["__name__", "instance", "job", "scenario", "result"] {
        assert!(
            labels["data"].as_array().unwrap().contains(&json!(l)),
            "{l}: {labels}"
        );
    }
    let values = prom(&lab, "", "label/scenario/values", &[]).await;
    assert_eq!(values["data"], json!(["lab"]));
    let now = now_secs();
    let (start, end) = ((now - 60).to_string(), (now + 1).to_string());
    let range = prom(
        &lab,
        "/prometheus",
        "query_range",
        &[
            ("query", MARKER_QUERY),
            ("start", &start),
            ("end", &end),
            ("step", "1"),
        ],
    )
    .await;
    assert_eq!(range["data"]["resultType"], "matrix");
    let points = range["data"]["result"][0]["values"].as_array().unwrap();
    assert!(points.iter().any(|p| p[1] == "1763719200123"), "{range}");

    // A new value shows after the next scrape.
    page.set(200, OPENMETRICS, canary_page(1763719260456));
    until_value(&lab, MARKER_QUERY, "1763719260456").await;

    // The app starts refusing plain HTTP (incident 4): up 0, and the marker is gone at once
    // (staleness), not after the 5-minute lookback.
    page.set(
        400,
        "text/plain; charset=utf-8",
        "Client sent an HTTP request to an HTTPS server.\n".into(),
    );
    let down = eventually("up == 0", || async {
        let r = instant(&lab, r#"up{job="otel-canary"} == 0"#).await;
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(down[0]["metric"]["__name__"], "up");
    assert!(instant(&lab, MARKER_QUERY).await.is_empty());
    let health = &lab.state.scraped.health()[&url];
    assert!(!health.up);
    assert!(
        health.last_error.contains("400 Bad Request"),
        "{}",
        health.last_error
    );
}

/// `up` for the target at `url`, once it has one.
async fn up_of(lab: &LabStack, url: &str) -> String {
    let instance = fast(url).instance();
    eventually(&format!("up of {url}"), || async {
        let q = format!("up{{instance=\"{instance}\"}}");
        let r = instant(lab, &q).await;
        r.first()
            .map(|s| s["value"][1].as_str().unwrap().to_string())
    })
    .await
}

#[tokio::test]
async fn refused_unreachable_and_unparsable_targets_are_down_without_a_marker() {
    let https_only = common::replay(common::Canned {
        status: 400,
        content_type: Some("text/plain; charset=utf-8"),
        body: b"Client sent an HTTP request to an HTTPS server.\n".to_vec(),
    })
    .await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let no_eof = common::replay(common::Canned {
        status: 200,
        content_type: Some(OPENMETRICS),
        body: b"otel_canary_scrape_marker{scenario=\"lab\"} 1763719200123\n".to_vec(),
    })
    .await;
    let no_content = common::replay(common::Canned {
        status: 204,
        content_type: Some(OPENMETRICS),
        body: Vec::new(),
    })
    .await;
    let mut lab = stack().await;
    let urls: Vec<String> = [https_only, closed, no_eof, no_content]
        .iter()
        .map(|a| format!("http://{a}/metrics"))
        .collect();
    for url in &urls {
        lab.start_scraper(fast(url)).unwrap();
    }
    for url in &urls {
        assert_eq!(up_of(&lab, url).await, "0", "{url}");
    }
    assert_eq!(instant(&lab, "up == 0").await.len(), urls.len());
    assert!(instant(&lab, MARKER_QUERY).await.is_empty());
    let series = prom(
        &lab,
        "",
        "series",
        &[("match[]", "{__name__=~\"otel_canary.*\"}")],
    )
    .await;
    assert_eq!(series["data"], json!([]), "nothing from any page is stored");
    let health = lab.state.scraped.health();
    assert!(health[&urls[1]].last_error.contains("onnect"), "{health:?}");
    assert!(health[&urls[2]].last_error.contains("# EOF"), "{health:?}");
    assert!(health[&urls[3]].last_error.contains("204"), "{health:?}");
}

#[tokio::test]
async fn a_text_format_page_parses_too() {
    let page = "# HELP otel_canary_scrape_marker The marker.\n\
                # TYPE otel_canary_scrape_marker gauge\n\
                otel_canary_scrape_marker{scenario=\"lab\",path=\"C:\\\\canary\",note=\"say \\\"hi\\\"\"} 1.763719200123e+12\n\
                \n\
                # TYPE http_requests_total counter\n\
                http_requests_total{code=\"200\",job=\"app\"} 1027 1763719200000\n\
                process_open_fds +Inf\n";
    let (_page, url) = serve_page("text/plain; version=0.0.4; charset=utf-8", page.into()).await;
    let mut lab = stack().await;
    lab.start_scraper(fast(&url)).unwrap();
    let found = until_value(&lab, MARKER_QUERY, "1763719200123").await;
    assert_eq!(found["metric"]["path"], "C:\\canary");
    assert_eq!(found["metric"]["note"], "say \"hi\"");
    // The page's own job is kept as exported_job; its timestamp is honoured.
    let last = instant(&lab, "last_over_time(http_requests_total[10y])").await;
    assert_eq!(last[0]["metric"]["exported_job"], "app");
    assert_eq!(last[0]["metric"]["job"], "otel-canary");
    assert_eq!(last[0]["value"][1], "1027");
    assert_eq!(
        instant(&lab, "process_open_fds").await[0]["value"][1],
        "+Inf"
    );
}

// ---- the tailer -------------------------------------------------------------------------

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn probe_line(id: &str) -> String {
    format!(
        r#"{{"ts":"2026-11-21T10:00:00.123Z","msg":"otel-canary probe {id}","canary_path":"file","scenario":"lab","trace_id":"606e7d63595ce2d639aced36ffea5fef"}}"#
    )
}

fn probe_query(id: &str) -> String {
    format!(r#"{{job="otel-canary"}} |= "otel-canary probe {id}" |= "canary_path""#)
}

async fn loki(
    lab: &LabStack,
    api: &str,
    params: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Value {
    let a = get(
        &format!("{}/loki/api/v1/{api}", lab.loki_url()),
        params,
        headers,
    )
    .await;
    assert_eq!(a.status, 200, "{api}: {}", a.text());
    a.json()
}

/// The lines `query_range` returns for `q`, newest first.
async fn lines(lab: &LabStack, q: &str) -> Vec<String> {
    let doc = loki(lab, "query_range", &[("query", q), ("limit", "100")], &[]).await;
    doc["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().clone())
        .map(|v| v[1].as_str().unwrap().to_string())
        .collect()
}

async fn until_line(lab: &LabStack, q: &str, want: &str) {
    eventually(&format!("{want:?} through {q}"), || async {
        lines(lab, q).await.iter().any(|l| l == want).then_some(())
    })
    .await
}

#[tokio::test]
async fn tailed_lines_are_found_by_chained_line_filters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("canary.log");
    let shown = path.to_string_lossy().into_owned();
    append(
        &path,
        &format!("{}\n{}\n", probe_line("X"), probe_line("Y")),
    );
    let mut lab = stack().await;
    lab.start_tailer(&path).unwrap();

    until_line(&lab, &probe_query("X"), &probe_line("X")).await;
    assert_eq!(lines(&lab, &probe_query("X")).await, [probe_line("X")]);
    let doc = loki(
        &lab,
        "query_range",
        &[("query", &probe_query("X")), ("limit", "10")],
        &[],
    )
    .await;
    let stream = &doc["data"]["result"][0]["stream"];
    assert_eq!(
        stream,
        &json!({"filename": shown, "job": "otel-canary", "service_name": "otel-canary"})
    );
    Shape {
        ignore_keys: &[],
        dynamic: &["stream"],
    }
    .assert(
        &doc,
        &fixture_json("loki/query-range-found-line-filter.json"),
    );
    let categorized = loki(
        &lab,
        "query_range",
        &[("query", &probe_query("X")), ("limit", "10")],
        &[("X-Loki-Response-Encoding-Flags", "categorize-labels")],
    )
    .await;
    assert_eq!(categorized["data"]["result"][0]["stream"], *stream);
    assert_eq!(
        categorized["data"]["result"][0]["values"][0][2],
        json!({}),
        "no structured metadata"
    );
    Shape {
        ignore_keys: &["structuredMetadata"],
        dynamic: &["stream"],
    }
    .assert(
        &categorized,
        &fixture_json("loki/query-range-found-categorized.json"),
    );
    assert!(lines(&lab, &probe_query("Z")).await.is_empty());

    // Lines appended later show up; a partial line waits for its newline.
    append(&path, &probe_line("Z"));
    append(&path, "\n");
    until_line(&lab, &probe_query("Z"), &probe_line("Z")).await;
    assert_eq!(
        lines(&lab, r#"{job="otel-canary"}"#).await,
        [probe_line("Z"), probe_line("Y"), probe_line("X")],
        "newest first, one entry per line"
    );

    let labels = loki(&lab, "labels", &[], &[]).await;
    assert_eq!(labels["data"], json!(["filename", "job", "service_name"]));
    let values = loki(&lab, "label/filename/values", &[], &[]).await;
    assert_eq!(values["data"], json!([shown]));
    let series = loki(
        &lab,
        "series",
        &[("match[]", r#"{service_name="otel-canary"}"#)],
        &[],
    )
    .await;
    assert_eq!(series["data"], json!([stream]));
}

#[tokio::test]
async fn truncation_and_recreation_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("canary.log");
    let mut lab = stack().await;
    lab.start_tailer(&path).unwrap();
    append(&path, &format!("{}\n", probe_line("before-truncation")));
    until_line(
        &lab,
        &probe_query("before-truncation"),
        &probe_line("before-truncation"),
    )
    .await;

    // Shorter than what was read: a truncation the tailer can see (as Promtail can).
    std::fs::write(&path, format!("{}\n", probe_line("cut"))).unwrap();
    until_line(&lab, &probe_query("cut"), &probe_line("cut")).await;

    std::fs::rename(&path, dir.path().join("canary.log.1")).unwrap();
    append(&path, &format!("{}\n", probe_line("recreated")));
    until_line(&lab, &probe_query("recreated"), &probe_line("recreated")).await;
    assert_eq!(
        lines(&lab, r#"{job="otel-canary"} |= "otel-canary probe""#)
            .await
            .len(),
        3,
        "each line once, none read twice"
    );
}

#[tokio::test]
async fn a_file_that_never_exists_gives_no_entries_and_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("never.log");
    let present = dir.path().join("present.log");
    let mut lab = stack().await;
    lab.start_tailer(&missing).unwrap();
    append(&present, &format!("{}\n", probe_line("present")));
    lab.start_tailer(&present).unwrap();
    // Once the second tailer has read its file, the first has polled too.
    until_line(&lab, &probe_query("present"), &probe_line("present")).await;
    let filenames = loki(&lab, "label/filename/values", &[], &[]).await;
    assert_eq!(
        filenames["data"],
        json!([present.to_string_lossy()]),
        "nothing from the missing file"
    );
    assert!(
        lab.start_tailer(dir.path()).is_err(),
        "a directory is refused"
    );
}
