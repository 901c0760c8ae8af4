//! The lab's Tempo metrics-generator and TraceQL metrics: the derived series appear in the
//! lab's Mimir after the generator delay in the shapes real Tempo 2.8 remote-writes
//! (tests/fixtures/mimir/spanmetrics-calls.json, service-graph-request.json,
//! victoriametrics/tempo-generator-*.json), and `/api/metrics/query_range` answers as Tempo
//! does, including its 500 without the local-blocks processor.

mod lab_support;

use lab_support::{
    fixture_json, fixture_text, get, now_secs, probe, send_to_receiver, stack, trace,
};
use otel_canary::emit::encoding::Encoding;
use otel_canary::lab::SignalFault;
use otel_canary::signal::Signal;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

fn label_names(v: &Value) -> BTreeSet<String> {
    v["metric"].as_object().unwrap().keys().cloned().collect()
}

async fn query(lab: &otel_canary::lab::LabStack, q: &str) -> Value {
    get(
        &format!("{}/prometheus/api/v1/query", lab.mimir_url()),
        &[("query", q)],
        &[],
    )
    .await
    .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_metrics_and_service_graph_follow_the_trace_in_tempos_shape() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            generator_delay: Some(Duration::from_millis(300)),
            ..Default::default()
        },
    );
    let p = probe();
    send_to_receiver(&lab, &trace(&p), Encoding::Protobuf).await;
    let calls = r#"traces_spanmetrics_calls_total{service="otel-canary"}"#;
    let before = query(&lab, calls).await;
    assert_eq!(
        before["data"]["result"],
        serde_json::json!([]),
        "not before the delay"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;

    let found = query(&lab, calls).await;
    let result = found["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{found}");
    let fixture = fixture_json("mimir/spanmetrics-calls.json");
    let want = &fixture["data"]["result"][0];
    let mut names = label_names(want);
    names.remove("source"); // an external label of the captured Tempo's config
    assert_eq!(label_names(&result[0]), names);
    let m = &result[0]["metric"];
    assert_eq!(m["span_name"], "canary.client");
    assert_eq!(m["span_kind"], "SPAN_KIND_CLIENT");
    assert_eq!(m["status_code"], "STATUS_CODE_OK");
    assert_eq!(result[0]["value"][1], "1");

    let all = query(&lab, "traces_spanmetrics_calls_total").await;
    let services: BTreeSet<&str> = all["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"]["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        services,
        BTreeSet::from(["otel-canary", "otel-canary-peer"])
    );

    let graph = query(&lab, "traces_service_graph_request_total").await;
    let edges = graph["data"]["result"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "{graph}");
    let want = &fixture_json(
        "victoriametrics/tempo-generator-traces_service_graph_request_total.json",
    )["data"]["result"][0];
    let mut names = label_names(want);
    names.remove("source");
    assert_eq!(label_names(&edges[0]), names);
    assert_eq!(edges[0]["metric"]["client"], "otel-canary");
    assert_eq!(edges[0]["metric"]["server"], "otel-canary-peer");

    // A second trace raises the counter; sums and counts work over it.
    send_to_receiver(&lab, &trace(&probe()), Encoding::Json).await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    let sum = query(
        &lab,
        r#"sum(traces_spanmetrics_calls_total{service="otel-canary", span_name="canary.client"})"#,
    )
    .await;
    assert_eq!(sum["data"]["result"][0]["value"][1], "2", "{sum}");
    assert_eq!(sum["data"]["result"][0]["metric"], serde_json::json!({}));
    let by = query(
        &lab,
        "count by (service) (traces_spanmetrics_calls_total) > 0",
    )
    .await;
    assert_eq!(by["data"]["result"].as_array().unwrap().len(), 2, "{by}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_generator_derives_nothing() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            generator_disabled: true,
            generator_delay: Some(Duration::ZERO),
            ..Default::default()
        },
    );
    send_to_receiver(&lab, &trace(&probe()), Encoding::Protobuf).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = query(&lab, "traces_spanmetrics_calls_total").await;
    assert_eq!(r["data"]["result"], serde_json::json!([]));
    // ... and Tempo's TraceQL metrics fail exactly as without local-blocks.
    let now = now_secs().to_string();
    let start = (now_secs() - 600).to_string();
    let a = get(
        &format!("{}/api/metrics/query_range", lab.tempo_url()),
        &[
            ("q", r#"{ resource.service.name = "otel-canary" } | rate()"#),
            ("start", &start),
            ("end", &now),
            ("step", "60s"),
        ],
        &[],
    )
    .await;
    a.assert_exact(
        500,
        Some("text/plain; charset=utf-8"),
        fixture_text("tempo/traceql-metrics-no-local-blocks.txt").as_bytes(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceql_metrics_answer_in_tempos_shape() {
    let lab = stack().await;
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            generator_delay: Some(Duration::ZERO),
            ..Default::default()
        },
    );
    send_to_receiver(&lab, &trace(&probe()), Encoding::Protobuf).await;
    let end = (now_secs() + 60).to_string();
    let start = (now_secs() - 300).to_string();
    let url = format!("{}/api/metrics/query_range", lab.tempo_url());
    let ask = |q: &'static str| {
        let (url, start, end) = (url.clone(), start.clone(), end.clone());
        async move {
            get(
                &url,
                &[("q", q), ("start", &start), ("end", &end), ("step", "15s")],
                &[],
            )
            .await
        }
    };
    let a = ask(r#"{ resource.service.name = "otel-canary" } | rate()"#).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["promLabels"], r#"{__name__="rate"}"#);
    assert_eq!(series[0]["labels"][0]["key"], "__name__");
    assert_eq!(series[0]["labels"][0]["value"]["stringValue"], "rate");
    let samples = series[0]["samples"].as_array().unwrap();
    assert!(
        samples.iter().all(|s| s["timestampMs"].is_string()),
        "jsonpb int64"
    );
    let nonzero: Vec<f64> = samples.iter().filter_map(|s| s["value"].as_f64()).collect();
    assert_eq!(
        nonzero.len(),
        1,
        "one step holds the probe's client span: {v}"
    );
    assert!((nonzero[0] - 1.0 / 15.0).abs() < 1e-9, "{nonzero:?}");
    assert!(
        samples.iter().any(|s| s.get("value").is_none()),
        "zero samples omit value"
    );

    let other = ask(r#"{ resource.service.name = "nobody" } | count_over_time()"#)
        .await
        .json();
    assert!(
        other["series"][0]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.get("value").is_none())
    );
    let bad = ask(r#"{ resource.service.name = "x" }"#).await;
    assert_eq!(bad.status, 400);
    lab.state.faults.set(
        Signal::Trace,
        SignalFault {
            traceql_metrics_error: Some("empty ring\n".into()),
            ..Default::default()
        },
    );
    let ring = ask(r#"{ } | rate()"#).await;
    assert_eq!((ring.status, ring.text().trim()), (500, "empty ring"));
}
