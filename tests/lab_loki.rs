//! The lab's Loki answers like Loki 3.6 (tests/fixtures/loki): OTLP push rules, the OTLP to
//! label/structured-metadata mapping of the canary's log, `query_range` in both encodings,
//! LogQL errors, the instant-query refusal, labels, series and readiness.

mod lab_support;

use lab_support::*;
use otel_canary::emit::encoding::Encoding;
use otel_canary::probe::Probe;
use serde_json::{Value, json};

/// Stats numbers, ids and times differ; the stream label map holds data.
const LOKI: Shape<'static> = Shape {
    ignore_keys: &[],
    dynamic: &["stream", "structuredMetadata", "metric"],
};

fn query(p: &Probe) -> String {
    format!(
        "{{service_name=\"otel-canary\"}} | canary_probe_id=\"{}\"",
        p.probe_id
    )
}

fn window(p: &Probe) -> (String, String) {
    let start = otel_canary::probe::unix_nanos(p.started_at) - 300_000_000_000;
    let end = otel_canary::probe::unix_nanos(std::time::SystemTime::now()) + 60_000_000_000;
    (start.to_string(), end.to_string())
}

async fn query_range(
    lab: &otel_canary::lab::LabStack,
    q: &str,
    p: &Probe,
    headers: &[(&str, &str)],
) -> Answer {
    let (start, end) = window(p);
    get(
        &format!("{}/loki/api/v1/query_range", lab.loki_url()),
        &[
            ("query", q),
            ("start", &start),
            ("end", &end),
            ("limit", "10"),
        ],
        headers,
    )
    .await
}

/// What Loki makes of the canary's log record, label for label.
fn expected_structured_metadata(p: &Probe) -> Value {
    let version = env!("CARGO_PKG_VERSION");
    json!({
        "canary_probe_id": p.probe_id.to_string(),
        "detected_level": "INFO",
        "flags": "1",
        "observed_timestamp": otel_canary::probe::unix_nanos(p.client_span.end).to_string(),
        "scope_name": "otel-canary",
        "scope_version": version,
        "service_version": version,
        "severity_number": "9",
        "severity_text": "INFO",
        "span_id": p.client_span_id_hex(),
        "trace_id": p.trace_id_hex(),
    })
}

fn expected_stream(p: &Probe) -> Value {
    let mut all = expected_structured_metadata(p);
    all["service_name"] = json!("otel-canary");
    all["service_instance_id"] = json!("canary-host-1");
    all
}

#[tokio::test]
async fn otlp_push_answers_like_loki() {
    let lab = stack().await;
    let p = probe();
    let url = format!("{}/otlp/v1/logs", lab.loki_url());
    for enc in [Encoding::Json, Encoding::Protobuf] {
        send(&url, &log(&p), enc, &[])
            .await
            .assert_exact(204, None, b"");
    }
    post(
        &url,
        "application/json; charset=utf-8",
        log(&p).encode(Encoding::Json),
        &[],
    )
    .await
    .assert_exact(
        400,
        Some("application/octet-stream"),
        &fixture_bytes("loki/otlp-logs-json-charset.bin"),
    );
    post(&url, "text/plain", log(&p).encode(Encoding::Json), &[])
        .await
        .assert_exact(
            400,
            Some("application/octet-stream"),
            &fixture_bytes("loki/otlp-logs-wrong-content-type.bin"),
        );
    let bad = post(
        &url,
        "application/json",
        b"{\"resourceLogs\":7}".to_vec(),
        &[],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.content_type.as_deref(),
        Some("application/octet-stream")
    );
    let status = <tonic_types::Status as prost::Message>::decode(&bad.body[..]).unwrap();
    assert_eq!(status.code, 0, "Loki's Status carries no code");
    assert!(!status.message.is_empty());
    post(
        &format!("{}/v1/logs", lab.loki_url()),
        "application/json",
        log(&p).encode(Encoding::Json),
        &[],
    )
    .await
    .assert_exact(
        404,
        Some("text/plain; charset=utf-8"),
        &fixture_bytes("loki/wrong-path-v1-logs.txt"),
    );
}

#[tokio::test]
async fn query_range_maps_the_canary_log_exactly_like_loki() {
    let lab = stack().await;
    let p = probe();
    send(
        &format!("{}/otlp/v1/logs", lab.loki_url()),
        &log(&p),
        Encoding::Protobuf,
        &[],
    )
    .await;
    let a = query_range(&lab, &query(&p), &p, &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.content_type.as_deref(),
        Some("application/json; charset=UTF-8")
    );
    assert!(
        a.body.ends_with(b"}\n"),
        "Loki ends its JSON with a newline"
    );
    let doc = a.json();
    LOKI.assert(&doc, &fixture_json("loki/query-range-found.json"));
    let stream = &doc["data"]["result"][0];
    assert_eq!(stream["stream"], expected_stream(&p));
    let ts = otel_canary::probe::unix_nanos(p.client_span.end).to_string();
    assert_eq!(
        stream["values"],
        json!([[ts, format!("otel-canary probe {}", p.probe_id)]])
    );

    let c = query_range(
        &lab,
        &query(&p),
        &p,
        &[("X-Loki-Response-Encoding-Flags", "categorize-labels")],
    )
    .await;
    assert_eq!(c.status, 200);
    let doc = c.json();
    LOKI.assert(
        &doc,
        &fixture_json("loki/query-range-found-categorized.json"),
    );
    assert_eq!(doc["data"]["encodingFlags"], json!(["categorize-labels"]));
    let stream = &doc["data"]["result"][0];
    assert_eq!(
        stream["stream"],
        json!({"service_instance_id": "canary-host-1", "service_name": "otel-canary"})
    );
    assert_eq!(
        stream["values"][0][2],
        json!({ "structuredMetadata": expected_structured_metadata(&p) })
    );
}

#[tokio::test]
async fn the_fixture_log_reads_back_as_in_the_capture() {
    let lab = stack().await;
    let a = post(
        &format!("{}/otlp/v1/logs", lab.loki_url()),
        "application/json",
        fixture_bytes("loki/req-probe-log.json"),
        &[],
    )
    .await;
    assert_eq!(a.status, 204);
    let fx = fixture_json("loki/query-range-found.json");
    let id = fx["data"]["result"][0]["stream"]["canary_probe_id"]
        .as_str()
        .unwrap()
        .to_string();
    let q = format!("{{service_name=\"otel-canary\"}} | canary_probe_id=\"{id}\"");
    let got = get(
        &format!("{}/loki/api/v1/query_range", lab.loki_url()),
        &[
            ("query", q.as_str()),
            ("start", "1795239944499455290"),
            ("end", "1795240304543622709"),
            ("limit", "10"),
        ],
        &[],
    )
    .await
    .json();
    assert_eq!(got["data"]["result"], fx["data"]["result"]);
    let cat = get(
        &format!("{}/loki/api/v1/query_range", lab.loki_url()),
        &[
            ("query", q.as_str()),
            ("start", "1795239944499455290"),
            ("end", "1795240304556023782"),
            ("limit", "10"),
        ],
        &[("X-Loki-Response-Encoding-Flags", "categorize-labels")],
    )
    .await
    .json();
    assert_eq!(
        cat["data"]["result"],
        fixture_json("loki/query-range-found-categorized.json")["data"]["result"]
    );
}

#[tokio::test]
async fn line_filters_label_filters_and_misses() {
    let lab = stack().await;
    let p = probe();
    send_to_receiver(&lab, &log(&p), Encoding::Json).await;
    let hit = |q: String| {
        let lab = &lab;
        let p = &p;
        async move {
            let doc = query_range(lab, &q, p, &[]).await.json();
            doc["data"]["result"].as_array().unwrap().len()
        }
    };
    let id = p.probe_id.to_string();
    assert_eq!(
        hit(format!("{{service_name=\"otel-canary\"}} |= \"{id}\"")).await,
        1
    );
    assert_eq!(hit(format!("{{service_name=~\"otel-.+\"}} |~ \"probe [0-9a-f-]+\" != \"nope\" | canary_probe_id=\"{id}\"")).await, 1);
    assert_eq!(hit(format!("{{service_name=\"otel-canary\", service_instance_id!=\"x\"}} | trace_id=\"{}\", severity_text=\"INFO\"", p.trace_id_hex())).await, 1);
    assert_eq!(
        hit(format!("{{service_name=\"otel-canary\"}} !~ \"{id}\"")).await,
        0
    );
    assert_eq!(
        hit("{service_name=\"otel-canary\"} | canary_probe_id=~\"0+\"".to_string()).await,
        0
    );

    let miss = query_range(&lab, &query(&probe()), &p, &[]).await;
    assert_eq!(miss.status, 200);
    let doc = miss.json();
    LOKI.assert(&doc, &fixture_json("loki/query-range-empty.json"));
    assert_eq!(doc["data"]["result"], json!([]));
    let none = query_range(&lab, "{service_name=\"no-such-service\"}", &p, &[])
        .await
        .json();
    assert_eq!(none["data"]["result"], json!([]));
    // start is inclusive, end exclusive.
    let ts = otel_canary::probe::unix_nanos(p.client_span.end);
    for (start, end, found) in [(ts, ts + 1, 1), (ts - 10, ts, 0), (ts + 1, ts + 10, 0)] {
        let doc = get(
            &format!("{}/loki/api/v1/query_range", lab.loki_url()),
            &[
                ("query", &query(&p)),
                ("start", &start.to_string()),
                ("end", &end.to_string()),
            ],
            &[],
        )
        .await
        .json();
        assert_eq!(
            doc["data"]["result"].as_array().unwrap().len(),
            found,
            "[{start}, {end})"
        );
    }
}

#[tokio::test]
async fn bad_logql_and_instant_log_queries_answer_like_loki() {
    let lab = stack().await;
    let p = probe();
    let text = Some("text/plain; charset=utf-8");
    query_range(
        &lab,
        "{service_name=\"otel-canary\" | canary_probe_id=",
        &p,
        &[],
    )
    .await
    .assert_exact(400, text, &fixture_bytes("loki/query-bad-logql.txt"));
    query_range(&lab, "{service_name=\"\"}", &p, &[])
        .await
        .assert_exact(
            400,
            text,
            &fixture_bytes("loki/query-bad-logql-empty-matcher.txt"),
        );
    let other = query_range(&lab, "{service_name=\"x\"} |= ", &p, &[]).await;
    assert_eq!(other.status, 400);
    assert!(
        other.text().starts_with("parse error at line 1, col "),
        "{}",
        other.text()
    );
    get(
        &format!("{}/loki/api/v1/query", lab.loki_url()),
        &[("query", &query(&p)), ("limit", "10")],
        &[],
    )
    .await
    .assert_exact(
        400,
        text,
        &fixture_bytes("loki/query-instant-log-query.txt"),
    );
}

#[tokio::test]
async fn count_over_time_instant_query_has_lokis_vector_shape() {
    let lab = stack().await;
    let p = probe();
    send_to_receiver(&lab, &log(&p), Encoding::Protobuf).await;
    let q = format!("count_over_time({} [5m])", query(&p));
    let a = get(
        &format!("{}/loki/api/v1/query", lab.loki_url()),
        &[("query", &q)],
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.content_type.as_deref(),
        Some("application/json; charset=UTF-8")
    );
    let doc = a.json();
    LOKI.assert(&doc, &fixture_json("loki/query-instant-metric.json"));
    assert_eq!(doc["data"]["result"][0]["value"][1], "1");
    assert_eq!(doc["data"]["result"][0]["metric"], expected_stream(&p));
}

#[tokio::test]
async fn labels_values_series_ready_and_buildinfo() {
    let lab = stack().await;
    let p = probe();
    send_to_receiver(&lab, &log(&p), Encoding::Protobuf).await;
    let l = lab.loki_url();
    let json_ct = Some("application/json; charset=UTF-8");
    get(&format!("{l}/loki/api/v1/labels"), &[], &[])
        .await
        .assert_exact(200, json_ct, &fixture_bytes("loki/labels.json"));
    get(
        &format!("{l}/loki/api/v1/label/service_name/values"),
        &[],
        &[],
    )
    .await
    .assert_exact(
        200,
        json_ct,
        &fixture_bytes("loki/label-service_name-values.json"),
    );
    get(
        &format!("{l}/loki/api/v1/series"),
        &[("match[]", "{service_name=\"otel-canary\"}")],
        &[],
    )
    .await
    .assert_exact(200, json_ct, &fixture_bytes("loki/series.json"));
    get(&format!("{l}/ready"), &[], &[]).await.assert_exact(
        200,
        Some("text/plain; charset=utf-8"),
        &fixture_bytes("loki/ready.txt"),
    );
    let b = get(&format!("{l}/loki/api/v1/status/buildinfo"), &[], &[]).await;
    assert_eq!(b.content_type.as_deref(), Some("application/json"));
    let doc = b.json();
    Shape::STRICT.assert(&doc, &fixture_json("loki/buildinfo.json"));
    assert!(doc["version"].as_str().unwrap().contains("otel-canary-lab"));
}
