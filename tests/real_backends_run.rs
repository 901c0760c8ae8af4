//! The metric reader against real PromQL engines (installed by `.ci/install-backends`; a
//! missing binary fails the test, it is never skipped):
//! - VictoriaMetrics 1.112: `otel-canary run` pushes the marker over OTLP protobuf and reads it
//!   back, under VM's own label mapping (dotted `service.name`, no job/instance);
//! - Prometheus 2.53 (Debian's build has no OTLP receiver): the marker is served on a local
//!   `/metrics` page, Prometheus scrapes it, and the reader finds it through the query API.

mod common;

use axum::routing::get;
use common::real_backends::{PROMETHEUS_SCRAPE_JOB, Prometheus, VictoriaMetrics};
use common::{json_out, run_bin_async, stderr};
use otel_canary::backends::ReadClient;
use otel_canary::backends::prometheus::{PrometheusReader, SeriesIdentity};
use otel_canary::config::Sourced;
use otel_canary::config::otlp::TlsSettings;
use otel_canary::config::resource::ResourceSpec;
use otel_canary::poll::{PollEnd, PollPolicy, poll};
use otel_canary::probe::Probe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reads_the_marker_back_from_victoriametrics() {
    let vm = VictoriaMetrics::start().await;
    let out = run_bin_async(
        vec![
            "run".into(),
            "--signals".into(),
            "metric".into(),
            "--metrics-endpoint".into(),
            format!("{}/opentelemetry/v1/metrics", vm.base_url),
            "--prometheus".into(),
            vm.base_url.clone(),
            "--service-instance-id".into(),
            "vm-test-host".into(),
            "--metric-timeout".into(),
            "40s".into(),
            "--output".into(),
            "json".into(),
        ],
        Vec::new(),
    )
    .await;
    let doc = json_out(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{doc:#}\n{}\nVictoriaMetrics log:\n{}",
        stderr(&out),
        vm.log_tail()
    );
    let m = &doc["signals"][0];
    assert_eq!(m["signal"], "metric");
    assert_eq!(m["read"]["backend"], "prometheus");
    let check = &m["checks"][0];
    assert_eq!(check["name"], "marker_value");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("service.instance.id=\"vm-test-host\"")
            && detail.contains("service.name=\"otel-canary\""),
        "VM keeps dotted resource attributes: {detail}"
    );
    let ingest = m["hops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hop"] == "ingest")
        .unwrap();
    assert!(ingest["queries"].as_u64().unwrap() <= 40, "{ingest}");

    // JSON is refused by VM (protobuf only): a clear export failure, not a silent pass.
    let out = run_bin_async(
        vec![
            "run".into(),
            "--signals".into(),
            "metric".into(),
            "--protocol".into(),
            "http/json".into(),
            "--metrics-endpoint".into(),
            format!("{}/opentelemetry/v1/metrics", vm.base_url),
            "--prometheus".into(),
            vm.base_url.clone(),
            "--output".into(),
            "json".into(),
        ],
        Vec::new(),
    )
    .await;
    let doc = json_out(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["signals"][0]["reason"], "http_status");
    assert!(
        doc["signals"][0]["export"]["attempts"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("json encoding isn't supported"),
        "{doc:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_finds_a_scraped_marker_through_prometheus() {
    let probe = Probe::start();
    let page = Arc::new(Mutex::new(String::from("# no marker yet\n")));
    let served = page.clone();
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let body = served.lock().unwrap().clone();
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap().to_string();
    tokio::spawn(otel_canary::lab::receivers::serve_http1(
        listener, app, None,
    ));
    let prom = Prometheus::start(&target, Duration::from_millis(500)).await;

    let base = Url::parse(&prom.base_url).unwrap();
    let client = ReadClient::new(
        &base,
        Vec::new(),
        &TlsSettings::default(),
        Duration::from_secs(5),
    )
    .unwrap();
    let resource = ResourceSpec {
        service_name: Sourced::default_value(PROMETHEUS_SCRAPE_JOB.into()),
        service_instance_id: Sourced::default_value(target.clone()),
        service_version: "test".into(),
        extra: Vec::new(),
    };
    // The default query: the marker by name, this canary's series picked by job/instance.
    let reader = PrometheusReader::new(client, base, None, SeriesIdentity::of(&resource, None));

    // Before the page carries this probe's value, the reader must keep saying "not yet".
    *page.lock().unwrap() = format!("otel_canary_probe_marker {}\n", probe.marker - 1.0);
    let since = tokio::time::Instant::now();
    let early = poll(
        since,
        since + Duration::from_secs(3),
        PollPolicy::default(),
        || reader.read_marker(&probe),
    )
    .await;
    assert!(
        matches!(early.end, PollEnd::Deadline { .. }),
        "an earlier probe's value is not this one's: {:?}",
        early.end
    );

    *page.lock().unwrap() = format!("otel_canary_probe_marker {}\n", probe.marker);
    let since = tokio::time::Instant::now();
    let polled = poll(
        since,
        since + Duration::from_secs(30),
        PollPolicy::default(),
        || reader.read_marker(&probe),
    )
    .await;
    match polled.end {
        PollEnd::Found(seen, vis) => {
            assert_eq!(seen.value, probe.marker);
            assert_eq!(seen.labels["job"], PROMETHEUS_SCRAPE_JOB);
            assert!(vis.after <= vis.by);
        }
        other => panic!(
            "not found through Prometheus: {other:?}\nPrometheus log:\n{}",
            prom.log_tail()
        ),
    }
}
