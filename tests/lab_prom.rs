//! The lab's Prometheus/Mimir answers like Mimir 2.16 and Prometheus 2.53
//! (tests/fixtures/mimir, prometheus): OTLP push rules, name/label translation, the marker's
//! value formatted as Prometheus formats floats, the 5-minute lookback, `last_over_time`,
//! PromQL errors, series, labels, build info and readiness.

mod lab_support;

use lab_support::*;
use otel_canary::emit::encoding::Encoding;
use otel_canary::lab::LabStack;
use otel_canary::probe::Probe;
use serde_json::json;

const MARKER: &str = "otel_canary_probe_marker";

fn selector() -> String {
    format!("{MARKER}{{job=\"otel-canary\",instance=\"canary-host-1\"}}")
}

/// The sample's timestamp in ms (what Mimir keeps of the point's time).
fn sample_ms(p: &Probe) -> i64 {
    (otel_canary::probe::unix_nanos(p.client_span.end) / 1_000_000) as i64
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

async fn instant(lab: &LabStack, prefix: &str, q: &str, time: Option<&str>) -> Answer {
    let mut params = vec![("query", q)];
    if let Some(t) = time {
        params.push(("time", t));
    }
    get(
        &format!("{}{prefix}/api/v1/query", lab.mimir_url()),
        &params,
        &[],
    )
    .await
}

async fn push_marker(lab: &LabStack, p: &Probe, path: &str, enc: Encoding) {
    send(&format!("{}{path}", lab.mimir_url()), &metric(p), enc, &[])
        .await
        .assert_exact(200, None, b"");
}

#[tokio::test]
async fn otlp_push_answers_like_mimir() {
    let lab = stack().await;
    let p = probe();
    push_marker(&lab, &p, "/otlp/v1/metrics", Encoding::Json).await;
    push_marker(&lab, &p, "/otlp/v1/metrics", Encoding::Protobuf).await;
    push_marker(&lab, &p, "/api/v1/otlp/v1/metrics", Encoding::Protobuf).await;
    let url = format!("{}/otlp/v1/metrics", lab.mimir_url());
    post(
        &url,
        "application/json; charset=utf-8",
        metric(&p).encode(Encoding::Json),
        &[],
    )
    .await
    .assert_exact(
        415,
        Some("application/octet-stream"),
        &fixture_bytes("mimir/otlp-metrics-json-charset.bin"),
    );
    post(&url, "text/plain", metric(&p).encode(Encoding::Json), &[])
        .await
        .assert_exact(
            415,
            Some("application/octet-stream"),
            &fixture_bytes("mimir/otlp-metrics-wrong-content-type.bin"),
        );
    let bad = post(
        &url,
        "application/json",
        b"{\"resourceMetrics\":1}".to_vec(),
        &[],
    )
    .await;
    assert_eq!(bad.status, 400);
    let status = <tonic_types::Status as prost::Message>::decode(&bad.body[..]).unwrap();
    assert_eq!(status.code, 400, "Mimir puts the HTTP status in the code");
    post(
        &format!("{}/v1/metrics", lab.mimir_url()),
        "application/json",
        metric(&p).encode(Encoding::Json),
        &[],
    )
    .await
    .assert_exact(
        404,
        Some("text/plain; charset=utf-8"),
        &fixture_bytes("mimir/wrong-path-v1-metrics.txt"),
    );
}

#[tokio::test]
async fn the_marker_reads_back_with_prometheus_float_formatting() {
    let lab = stack().await;
    let p = probe();
    push_marker(&lab, &p, "/otlp/v1/metrics", Encoding::Protobuf).await;
    let marker = format!("{}", p.marker as u64);
    for (prefix, fx) in [
        ("/prometheus", "mimir/query-marker-found.json"),
        ("", "prometheus/query-marker-found.json"),
    ] {
        let a = instant(&lab, prefix, &selector(), None).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.content_type.as_deref(), Some("application/json"));
        let doc = a.json();
        Shape::STRICT.assert(&doc, &fixture_json(fx));
        let r = &doc["data"]["result"][0];
        assert_eq!(
            r["metric"],
            json!({"__name__": MARKER, "instance": "canary-host-1", "job": "otel-canary"})
        );
        assert_eq!(
            r["value"][1],
            marker.as_str(),
            "integral ms, no exponent, no point"
        );
    }
    // With an explicit time, the answer is byte for byte what Mimir writes.
    let t = sample_ms(&p) + 44;
    let a = instant(&lab, "/prometheus", &selector(), Some(&secs(t))).await;
    let want = format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"vector\",\"result\":[{{\"metric\":{{\"__name__\":\"{MARKER}\",\"instance\":\"canary-host-1\",\"job\":\"otel-canary\"}},\"value\":[{},\"{marker}\"]}}]}}}}",
        secs(t).trim_end_matches('0').trim_end_matches('.')
    );
    a.assert_exact(200, Some("application/json"), want.as_bytes());
    // RFC 3339 time works too.
    let rfc = humantime::format_rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(t as u64),
    )
    .to_string();
    let doc = instant(&lab, "/prometheus", &selector(), Some(&rfc))
        .await
        .json();
    assert_eq!(doc["data"]["result"][0]["value"][1], marker.as_str());
}

#[tokio::test]
async fn lookback_is_five_minutes_left_open_and_the_past_is_empty() {
    let lab = stack().await;
    let p = probe();
    push_marker(&lab, &p, "/otlp/v1/metrics", Encoding::Protobuf).await;
    let ts = sample_ms(&p);
    let found = |t: i64| {
        let lab = &lab;
        async move {
            let doc = instant(lab, "/prometheus", &selector(), Some(&secs(t)))
                .await
                .json();
            doc["data"]["result"].as_array().unwrap().len()
        }
    };
    assert_eq!(found(ts - 1000).await, 0, "before the sample");
    assert_eq!(found(ts).await, 1, "at the sample");
    assert_eq!(found(ts + 299_999).await, 1, "just inside the lookback");
    assert_eq!(
        found(ts + 300_000).await,
        0,
        "(t - 5m, t] is open on the left"
    );
    let empty = instant(&lab, "/prometheus", &selector(), Some(&secs(ts - 1000))).await;
    empty.assert_exact(
        200,
        Some("application/json"),
        &fixture_bytes("mimir/query-marker-empty.json"),
    );

    // last_over_time reaches further back, and keeps __name__ as Mimir 2.16 does.
    let q = format!("last_over_time({}[10m])", selector());
    let doc = instant(&lab, "/prometheus", &q, Some(&secs(ts + 540_000)))
        .await
        .json();
    Shape::STRICT.assert(
        &doc,
        &fixture_json("mimir/query-marker-last-over-time.json"),
    );
    assert_eq!(doc["data"]["result"][0]["metric"]["__name__"], MARKER);
    // Unknown series: empty, as in the fixture.
    let a = instant(
        &lab,
        "/prometheus",
        &format!("{MARKER}{{job=\"no-such-job\"}}"),
        None,
    )
    .await;
    a.assert_exact(
        200,
        Some("application/json"),
        &fixture_bytes("mimir/query-marker-empty.json"),
    );
}

#[tokio::test]
async fn bad_promql_answers_the_error_envelope() {
    let lab = stack().await;
    for (prefix, fx) in [
        ("/prometheus", "mimir/query-bad-promql.json"),
        ("", "prometheus/query-bad-promql.json"),
    ] {
        instant(&lab, prefix, "otel_canary_probe_marker{job=", None)
            .await
            .assert_exact(400, Some("application/json"), &fixture_bytes(fx));
    }
    for q in ["{job=~\".*\"}", "rate(up[5m])", "up)", "", "up{a=b}"] {
        let a = instant(&lab, "/prometheus", q, None).await;
        assert_eq!(a.status, 400, "{q}");
        let doc = a.json();
        Shape::STRICT.assert(&doc, &fixture_json("mimir/query-bad-promql.json"));
        assert!(
            doc["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid parameter \"query\": 1:"),
            "{doc}"
        );
    }
    let a = instant(&lab, "/prometheus", "up", Some("yesterday")).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["errorType"], "bad_data");
    // latency_offset (a VictoriaMetrics parameter) is accepted and ignored.
    let a = get(
        &format!("{}/api/v1/query", lab.mimir_url()),
        &[("query", "up"), ("latency_offset", "1ms")],
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn post_form_queries_work() {
    let lab = stack().await;
    let p = probe();
    push_marker(&lab, &p, "/otlp/v1/metrics", Encoding::Protobuf).await;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("query", &selector())
        .finish();
    let a = post(
        &format!("{}/prometheus/api/v1/query", lab.mimir_url()),
        "application/x-www-form-urlencoded",
        body.into_bytes(),
        &[],
    )
    .await;
    assert_eq!(a.json()["data"]["result"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn series_labels_values_and_name_translation() {
    let lab = stack().await;
    let p = probe();
    push_marker(&lab, &p, "/otlp/v1/metrics", Encoding::Protobuf).await;
    let m = lab.mimir_url();
    let series = get(
        &format!("{m}/prometheus/api/v1/series"),
        &[(
            "match[]",
            "{job=\"otel-canary\",__name__=\"otel_canary_probe_marker\"}",
        )],
        &[],
    )
    .await;
    series.assert_exact(
        200,
        Some("application/json"),
        &fixture_bytes("mimir/series.json"),
    );
    get(&format!("{m}/prometheus/api/v1/label/job/values"), &[], &[])
        .await
        .assert_exact(
            200,
            Some("application/json"),
            &fixture_bytes("mimir/label-job-values.json"),
        );
    let labels = get(&format!("{m}/prometheus/api/v1/labels"), &[], &[])
        .await
        .json();
    Shape::STRICT.assert(&labels, &fixture_json("mimir/labels.json"));
    let names = labels["data"].as_array().unwrap();
    assert!(names.contains(&json!("__name__")) && names.contains(&json!("job")));
    let missing = get(&format!("{m}/prometheus/api/v1/series"), &[], &[]).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["errorType"], "bad_data");

    // The captured sum/gauge/dotted-name request translates as Mimir did (suffixes off).
    let lab = stack().await;
    let mut body: serde_json::Value = fixture_json("mimir/req/probe-sum-and-extras.json");
    let now_ns = otel_canary::probe::unix_nanos(std::time::SystemTime::now()).to_string();
    for m in body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array_mut()
        .unwrap()
    {
        let data = m
            .as_object_mut()
            .unwrap()
            .iter_mut()
            .find(|(k, _)| *k == "sum" || *k == "gauge")
            .unwrap()
            .1;
        data["dataPoints"][0]["timeUnixNano"] = json!(now_ns);
    }
    post(
        &format!("{}/otlp/v1/metrics", lab.mimir_url()),
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        &[],
    )
    .await
    .assert_exact(200, None, b"");
    let got = get(
        &format!("{}/prometheus/api/v1/series", lab.mimir_url()),
        &[("match[]", "{job=\"otel-canary\"}")],
        &[],
    )
    .await
    .json();
    let fx = fixture_json("mimir/name-translation-series-with-extras.json");
    let without_marker: Vec<_> = fx["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["__name__"] != MARKER)
        .cloned()
        .collect();
    assert_eq!(got["data"], json!(without_marker));
}

#[tokio::test]
async fn target_info_carries_the_other_resource_attributes() {
    let lab = stack().await;
    let p = probe();
    push_marker(&lab, &p, "/otlp/v1/metrics", Encoding::Protobuf).await;
    let doc = instant(
        &lab,
        "/prometheus",
        "target_info{job=\"otel-canary\"}",
        None,
    )
    .await
    .json();
    assert_eq!(
        doc["data"]["result"][0]["metric"],
        json!({
            "__name__": "target_info",
            "instance": "canary-host-1",
            "job": "otel-canary",
            "service_version": env!("CARGO_PKG_VERSION"),
        })
    );
    assert_eq!(doc["data"]["result"][0]["value"][1], "1");
}

#[tokio::test]
async fn range_query_ready_and_buildinfo() {
    let lab = stack().await;
    let p = probe();
    send_to_receiver(&lab, &metric(&p), Encoding::Json).await;
    let ts = sample_ms(&p);
    let a = get(
        &format!("{}/prometheus/api/v1/query_range", lab.mimir_url()),
        &[
            ("query", &selector()),
            ("start", &secs(ts - 120_000)),
            ("end", &secs(ts + 30_000)),
            ("step", "15"),
        ],
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    let doc = a.json();
    Shape::STRICT.assert(&doc, &fixture_json("mimir/query-range-marker.json"));
    // Steps at ts, ts+15 s and ts+30 s see the sample; the earlier ones do not.
    assert_eq!(
        doc["data"]["result"][0]["values"].as_array().unwrap().len(),
        3
    );

    let m = lab.mimir_url();
    get(&format!("{m}/ready"), &[], &[]).await.assert_exact(
        200,
        Some("text/plain"),
        &fixture_bytes("mimir/ready.txt"),
    );
    get(&format!("{m}/-/ready"), &[], &[]).await.assert_exact(
        200,
        Some("text/plain; charset=utf-8"),
        &fixture_bytes("prometheus/ready.txt"),
    );
    for path in [
        "/prometheus/api/v1/status/buildinfo",
        "/api/v1/status/buildinfo",
    ] {
        let b = get(&format!("{m}{path}"), &[], &[]).await;
        assert_eq!(b.content_type.as_deref(), Some("application/json"));
        let doc = b.json();
        Shape::STRICT.assert(&doc, &fixture_json("mimir/buildinfo.json"));
        assert!(
            doc["data"]["version"]
                .as_str()
                .unwrap()
                .contains("otel-canary-lab")
        );
    }
}
