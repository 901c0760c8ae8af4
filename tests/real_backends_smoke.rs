//! The real-backend harness works: VictoriaMetrics 1.112 and Prometheus 2.53 (installed by
//! `.ci/install-backends`) start, answer PromQL, and VictoriaMetrics ingests OTLP while
//! Prometheus scrapes a page served by the test. A missing binary fails, it is never skipped.

mod common;

use common::real_backends::{
    PROMETHEUS_SCRAPE_JOB, Prometheus, VictoriaMetrics, http_client, instant_query,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::Value;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MARKER: &str = "otel_canary_probe_marker";
const WAIT: Duration = Duration::from_secs(30);

/// Polls `check` every 250ms until it returns `Ok`, or panics after WAIT with the last `Err`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: not true within {WAIT:?}; last observation: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The single series of an instant-query answer, or why not.
fn single_series(doc: &Value) -> Result<Value, String> {
    if doc["status"] != "success" {
        return Err(format!("query failed: {doc}"));
    }
    match doc["data"]["result"].as_array().map(Vec::as_slice) {
        Some([one]) => Ok(one.clone()),
        _ => Err(format!("want exactly one series: {doc}")),
    }
}

async fn assert_answers_vector_1(base_url: &str, extra: &[(&str, &str)], log: impl Fn() -> String) {
    let doc = instant_query(base_url, "vector(1)", extra).await;
    assert_eq!(
        doc["status"],
        "success",
        "vector(1) at {base_url}: {doc}\n{}",
        log()
    );
    let series = single_series(&doc).unwrap_or_else(|e| panic!("{e}\n{}", log()));
    assert_eq!(series["value"][1], "1", "{doc}");
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// One OTLP gauge `otel_canary_probe_marker` with one double point, now.
fn marker_request(service: &str, instance: &str, value: f64) -> ExportMetricsServiceRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", service),
                    kv("service.instance.id", instance),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: MARKER.into(),
                    description: "real-backend smoke test".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            time_unix_nano: now,
                            start_time_unix_nano: now,
                            value: Some(number_data_point::Value::AsDouble(value)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// POSTs one OTLP/protobuf marker gauge to VictoriaMetrics; panics unless it answers 2xx.
async fn push_marker(vm: &VictoriaMetrics, service: &str, instance: &str, value: f64) {
    let url = format!("{}/opentelemetry/v1/metrics", vm.base_url);
    let resp = http_client()
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(marker_request(service, instance, value).encode_to_vec())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}\n{}", vm.log_tail()));
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "POST {url}: HTTP {status}: {body}\n{}",
        vm.log_tail()
    );
}

/// The marker series whose `service.instance.id` is `instance`, or why not.
async fn marker_series(vm: &VictoriaMetrics, instance: &str) -> Result<Value, String> {
    let doc = instant_query(&vm.base_url, MARKER, &[("latency_offset", "1ms")]).await;
    if doc["status"] != "success" {
        return Err(format!("query failed: {doc}"));
    }
    doc["data"]["result"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|s| s["metric"]["service.instance.id"] == instance)
        })
        .cloned()
        .ok_or_else(|| format!("no series with service.instance.id={instance}: {doc}"))
}

#[tokio::test]
async fn victoriametrics_answers_promql_and_ingests_otlp() {
    let vm = VictoriaMetrics::start().await;
    assert_answers_vector_1(&vm.base_url, &[], || vm.log_tail()).await;

    // As a reader would see it: push, then poll until the point is searchable.
    let service = "otel-canary-smoke";
    let instance = uuid::Uuid::new_v4().to_string();
    push_marker(&vm, service, &instance, 42.5).await;
    let series = eventually("the OTLP gauge is queryable in VictoriaMetrics", || {
        marker_series(&vm, &instance)
    })
    .await;
    let labels = &series["metric"];
    assert_eq!(labels["__name__"], MARKER, "{series}");
    assert_eq!(
        labels["service.name"], service,
        "dotted label kept: {series}"
    );
    assert_eq!(
        labels["service.instance.id"],
        instance.as_str(),
        "dotted label kept: {series}"
    );
    assert_eq!(series["value"][1], "42.5", "{series}");

    // The harness's shortcut for tests that control the timing: force_flush.
    let second = uuid::Uuid::new_v4().to_string();
    push_marker(&vm, service, &second, 7.0).await;
    vm.force_flush().await;
    let series = eventually("the flushed OTLP gauge is queryable", || {
        marker_series(&vm, &second)
    })
    .await;
    assert_eq!(series["value"][1], "7", "{series}");
}

#[tokio::test]
async fn prometheus_answers_promql_and_scrapes_a_target() {
    // The scrape target: a tiny /metrics page served by the test.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let page = format!("# TYPE {MARKER} gauge\n{MARKER}{{job_label_unused=\"x\"}} 123\n");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let page = page.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    page,
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let prom = Prometheus::start(&target, Duration::from_millis(500)).await;
    assert_answers_vector_1(&prom.base_url, &[], || prom.log_tail()).await;

    let series = eventually("Prometheus has scraped the test's /metrics", || async {
        let doc = instant_query(&prom.base_url, MARKER, &[]).await;
        single_series(&doc)
    })
    .await;
    let labels = &series["metric"];
    assert_eq!(labels["__name__"], MARKER, "{series}");
    assert_eq!(labels["job"], PROMETHEUS_SCRAPE_JOB, "{series}");
    assert_eq!(labels["instance"], target.as_str(), "{series}");
    assert_eq!(labels["job_label_unused"], "x", "{series}");
    assert_eq!(series["value"][1], "123", "{series}\n{}", prom.log_tail());
}
